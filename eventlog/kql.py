"""The part of KQL (Kibana Query Language) that Kibana's connector log UI sends, turned into a Django
`Q` over `Event`:

    field: value          field: "a phrase"      field: (a or b)      field: *      field >= 10
    a and b   a or b   not a   (grouping)        a bare value searches message and error.message

Keyword fields match exactly (`*` is a wildcard, matched by the database's `GLOB`/`LIKE`, never a
backtracking regex, and at most `MAX_WILDCARDS` of them in one query); text fields (`message`, `error.message`) match a
phrase anywhere, case-insensitively. Fields we keep as columns use them (indexed); any other dotted
field is looked up in the stored document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Lookup, Q
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT


class KqlError(ValueError):
    pass


class KqlTooComplex(KqlError):
    """A query the parser understands but refuses to run (its message says why, for a 400)."""


# `*` wildcards allowed in one query. Each is a LIKE/GLOB `%`/`*`, which the databases match without
# exponential backtracking; the cap keeps the worst case (many wildcards against long values) small.
MAX_WILDCARDS = 10

# Levels of parentheses and `not` one query may nest. The parser recurses once per level, so past
# Python's recursion limit a deep query would be a 500; a 400 long before that. (Elasticsearch, behind
# Kibana, refuses bool queries nested past `indices.query.bool.max_nested_depth` too.)
MAX_NESTING = 100
NESTING_MESSAGE = f"The filter nests more than {MAX_NESTING} levels of parentheses and `not`."


# dotted field -> (column or document lookup, kind)
COLUMNS: dict[str, tuple[str, str]] = {
    "event.outcome": ("outcome", "keyword"),
    "event.action": ("action", "keyword"),
    "event.provider": ("provider", "keyword"),
    "kibana.action.id": ("connector_id", "keyword"),
    "kibana.action.type_id": ("connector_type_id", "keyword"),
    "kibana.action.execution.uuid": ("execution_uuid", "keyword"),
    "kibana.action.execution.source": ("source", "keyword"),
    "kibana.space_ids": ("space_id", "keyword"),
    "message": ("message", "text"),
    "error.message": ("error_message", "text"),
    "event.duration": ("duration_ns", "number"),
    "kibana.task.schedule_delay": ("schedule_delay_ns", "number"),
    "kibana.action.execution.attempt": ("attempt", "number"),
    "@timestamp": ("timestamp", "date"),
}
# Fields the actions provider never writes (rule-execution fields Kibana's UI also asks about): they
# match nothing, without reading every stored document to find that out.
NEVER_SET = {"kibana.alerting.outcome", "kibana.alerting.status"}
FIELD_RE = re.compile(r"^[A-Za-z0-9_@.\-]+\Z")
TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        (?P<op><=|>=|<|>|:) |
        "(?P<quoted>(?:[^"\\]|\\.)*)" |
        (?P<word>(?:[^\s()":<>\\]|\\.)+)
    )""",
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str  # lparen rparen op quoted word
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN_RE.match(text, position)
        if not match or match.end() == position:
            raise KqlError(f"unexpected character at {position}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind in ("quoted", "word"):
            value = re.sub(r"\\(.)", r"\1", value)
        tokens.append(Token(kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def nest(self) -> None:
        """Called on each `(` and `not`; `unnest` when its operand is parsed."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise KqlTooComplex(NESTING_MESSAGE)

    def unnest(self) -> None:
        self.depth -= 1

    def peek(self, offset: int = 0) -> Token | None:
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise KqlError("unexpected end of query")
        self.i += 1
        return token

    def keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "word" and token.text.lower() == word

    def parse(self) -> Q:
        if not self.tokens:
            return Q()
        result = self.or_expr()
        if self.peek() is not None:
            raise KqlError(f"unexpected {self.peek().text!r}")
        return result

    def or_expr(self) -> Q:
        result = self.and_expr()
        while self.keyword("or"):
            self.take()
            result = result | self.and_expr()
        return result

    def and_expr(self) -> Q:
        result = self.not_expr()
        while self.keyword("and"):
            self.take()
            result = result & self.not_expr()
        return result

    def not_expr(self) -> Q:
        if self.keyword("not"):
            self.take()
            self.nest()
            result = ~self.not_expr()
            self.unnest()
            return result
        return self.primary()

    def primary(self) -> Q:
        token = self.take()
        if token.kind == "lparen":
            self.nest()
            inner = self.or_expr()
            if self.take().kind != "rparen":
                raise KqlError("expected )")
            self.unnest()
            return inner
        if token.kind == "word" and self.peek() is not None and self.peek().kind == "op":
            field = token.text
            operator = self.take().text
            if operator == ":":
                return self.value_list(field)
            value = self.take()
            if value.kind not in ("word", "quoted"):
                raise KqlError("expected a value")
            return range_q(field, operator, value.text)
        if token.kind in ("word", "quoted"):
            return free_text_q(token.text)
        raise KqlError(f"unexpected {token.text!r}")

    def value_list(self, field: str) -> Q:
        token = self.take()
        if token.kind in ("word", "quoted"):
            return match_q(field, token.text, quoted=token.kind == "quoted")
        if token.kind != "lparen":
            raise KqlError("expected a value")
        self.nest()
        result = self.value_or(field)
        if self.take().kind != "rparen":
            raise KqlError("expected )")
        self.unnest()
        return result

    def value_or(self, field: str) -> Q:
        result = self.value_and(field)
        while self.keyword("or"):
            self.take()
            result = result | self.value_and(field)
        return result

    def value_and(self, field: str) -> Q:
        result = self.value_term(field)
        while self.keyword("and"):
            self.take()
            result = result & self.value_term(field)
        return result

    def value_term(self, field: str) -> Q:
        if self.keyword("not"):
            self.take()
            self.nest()
            result = ~self.value_term(field)
            self.unnest()
            return result
        token = self.take()
        if token.kind == "lparen":
            self.nest()
            inner = self.value_or(field)
            if self.take().kind != "rparen":
                raise KqlError("expected )")
            self.unnest()
            return inner
        if token.kind in ("word", "quoted"):
            return match_q(field, token.text, quoted=token.kind == "quoted")
        raise KqlError("expected a value")


def _lookup(field: str) -> tuple[str, str]:
    if field in COLUMNS:
        return COLUMNS[field]
    if not FIELD_RE.match(field) or field.startswith(".") or ".." in field:
        raise KqlError(f"bad field {field!r}")
    return "document__" + "__".join(field.replace("@", "").split(".")), "keyword"


def match_q(field: str, value: str, *, quoted: bool = False) -> Q:
    if field in NEVER_SET:
        return Q(pk__in=[])
    lookup, kind = _lookup(field)
    if value == "*" and not quoted:
        if lookup.startswith("document__"):
            return Q(**{f"{lookup}__isnull": False})
        return ~Q(**{lookup: ""}) & Q(**{f"{lookup}__isnull": False})
    if kind == "text":
        return text_contains_q(lookup, value)
    if kind == "number":
        try:
            return Q(**{lookup: int(float(value))})
        except ValueError:
            raise KqlError(f"{field} expects a number") from None
    if kind == "date":
        return range_q(field, ">=", value) & range_q(field, "<=", value)
    if "*" in value and not quoted:
        column = KT(lookup) if lookup.startswith("document__") else F(lookup)
        return Q(Wildcard(column, value))
    return Q(**{lookup: value})


class Wildcard(Lookup):
    """`lhs` matches a KQL keyword pattern (`*` any run of characters, everything else literal).

    SQLite: `GLOB` (case-sensitive, as keyword fields are); elsewhere `LIKE` with `\\` escapes. Both
    engines match `*`/`%` without the exponential backtracking of a regex (issue 16)."""

    lookup_name = "kql_wildcard"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        parts = re.split(r"\*+", self.rhs)
        if connection.vendor == "sqlite":
            pattern = "*".join(re.sub(r"([*?\[])", r"[\1]", part) for part in parts)
            return f"{lhs} GLOB %s", [*params, pattern]
        escaped = (re.sub(r"([\\%_])", r"\\\1", part) for part in parts)
        return f"{lhs} LIKE %s", [*params, "%".join(escaped)]


def range_q(field: str, operator: str, value: str) -> Q:
    lookup, kind = _lookup(field)
    suffix = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[operator]
    if kind == "date":
        from eventlog.queries import parse_date

        parsed = parse_date(value)
        if parsed is None:
            raise KqlError(f"bad date {value!r}")
        return Q(**{f"{lookup}__{suffix}": parsed})
    try:
        number = int(float(value))
    except ValueError:
        raise KqlError(f"{field} expects a number") from None
    return Q(**{f"{lookup}__{suffix}": number})


def free_text_q(value: str) -> Q:
    return text_contains_q("message", value) | text_contains_q("error_message", value)


# Trigrams: shorter text has none, so the index cannot find it (FTS5 then matches nothing).
MIN_INDEXED_LENGTH = 3


def text_contains_q(column: str, value: str) -> Q:
    """`column` contains `value`, case-insensitively, through the message-search index.

    SQLite: the FTS5 trigram table `eventlog_event_text` (migration 0003), as a phrase limited to the
    column; PostgreSQL: `icontains`, which its pg_trgm indexes on `upper(column)` serve."""
    if connection.vendor == "sqlite" and len(value) >= MIN_INDEXED_LENGTH:
        phrase = '"' + value.replace('"', '""') + '"'
        return Q(
            pk__in=RawSQL(
                "SELECT rowid FROM eventlog_event_text WHERE eventlog_event_text MATCH %s",
                (f"{{{column}}} : {phrase}",),
            )
        )
    return Q(**{f"{column}__icontains": value})


def to_q(text: str | None) -> Q:
    """Parse `text`; raises KqlError on anything outside the subset, KqlTooComplex beyond the caps."""
    if not text or not text.strip():
        return Q()
    tokens = tokenize(text)
    wildcards = sum(token.text.count("*") for token in tokens if token.kind == "word")
    if wildcards > MAX_WILDCARDS:
        raise KqlTooComplex(
            f"The filter has {wildcards} wildcards (*); at most {MAX_WILDCARDS} are allowed in one query."
        )
    return _Parser(tokens).parse()
