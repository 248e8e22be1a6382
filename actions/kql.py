"""A small KQL (Kibana Query Language) parser and matcher for documents in the local store.

Supports `field: value`, `field: "a phrase"`, wildcards (`field: ab*`, `field: *`), ranges
(`field > 5`, `>=`, `<`, `<=`), value lists (`field: (a or b)`), `and`, `or`, `not`, parentheses,
nested groups (`actions:{ actionTypeId: x and group: y }`: one object of the array satisfies the whole
inner query, as Elasticsearch's nested query) and free text (matches any field). Enough for
`filterKuery` and the rules `_find` filter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r'\s*(?:([(){}])|(:)|(<=|>=|<|>)|"((?:[^"\\]|\\.)*)"|([^\s(){}:<>"]+))')


class KqlError(ValueError):
    pass


# `*` wildcards allowed in one query (the event log's KQL has the same cap, issue 16).
MAX_WILDCARDS = 10

# As in `eventlog.kql`: levels of parentheses, `not` and nested `{ }` groups one query may nest. The parser recurses once per level, so past
# Python's recursion limit a deep query would be a 500; a 400 long before that. (Elasticsearch, behind
# Kibana, refuses bool queries nested past `indices.query.bool.max_nested_depth` too.)
MAX_NESTING = 100
NESTING_MESSAGE = f"The filter nests more than {MAX_NESTING} levels of parentheses and `not`."


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise KqlError(f"unexpected input at {pos}")
        pos = match.end()
        bracket, colon, op, quoted, word = match.groups()
        if bracket:
            tokens.append((bracket, bracket))
        elif colon:
            tokens.append((":", ":"))
        elif op:
            tokens.append(("op", op))
        elif quoted is not None:
            tokens.append(("quoted", re.sub(r"\\(.)", r"\1", quoted)))
        else:
            lowered = word.lower()
            tokens.append((lowered, word) if lowered in ("and", "or", "not") else ("word", word))
    return tokens


Matcher = Callable[[Callable[[str], list[Any]], Callable[[], list[Any]]], bool]


def lookup(document: Any, path: str) -> list[Any]:
    """Values at a dotted path (literal dotted keys too); a `.keyword` suffix falls back to the field."""
    found = _lookup(document, path.split("."))
    if not found and path.endswith(".keyword"):
        found = _lookup(document, path[: -len(".keyword")].split("."))
    flat: list[Any] = []
    for value in found:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _lookup(node: Any, parts: list[str]) -> list[Any]:
    if not parts:
        return [node]
    if isinstance(node, list):
        return [v for item in node for v in _lookup(item, parts)]
    if not isinstance(node, dict):
        return []
    results = []
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in node:
            results.extend(_lookup(node[key], parts[i:]))
    return results


def all_values(document: Any) -> list[Any]:
    if isinstance(document, dict):
        return [v for value in document.values() for v in all_values(value)]
    if isinstance(document, list):
        return [v for value in document for v in all_values(value)]
    return [document]


def _value_matches(actual: Any, expected: str, quoted: bool) -> bool:
    if actual is None:
        return False
    text = ("true" if actual else "false") if isinstance(actual, bool) else str(actual)
    if not quoted and "*" in expected:
        return wildcard_matches(text.lower(), expected.lower())
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            return float(expected) == float(actual)
        except ValueError:
            return False
    if quoted:
        return expected.lower() in text.lower() if " " in expected else text == expected
    return text == expected or text.lower() == expected.lower()


def wildcard_matches(text: str, pattern: str) -> bool:
    """KQL's `*` (any run of characters; nothing else is special), without backtracking: the literal
    pieces between wildcards are found left to right, each at its first place after the previous one,
    which is enough for `*` (linear in the text for each piece)."""
    pieces = pattern.split("*")
    first, last, middle = pieces[0], pieces[-1], pieces[1:-1]
    if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for piece in middle:
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _compare(actual: Any, op: str, expected: str) -> bool:
    try:
        a, b = float(actual), float(expected)
    except (TypeError, ValueError):
        a, b = str(actual), expected
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


class _Parser:
    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0
        self.depth = 0

    def nest(self):
        """Called on each `(` and `not`; `unnest` when its operand is parsed."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise KqlError(NESTING_MESSAGE)

    def unnest(self):
        self.depth -= 1

    def peek(self, offset=0):
        index = self.pos + offset
        return self.tokens[index][0] if index < len(self.tokens) else None

    def take(self, kind=None):
        if self.pos >= len(self.tokens):
            raise KqlError("unexpected end of query")
        token = self.tokens[self.pos]
        if kind and token[0] != kind:
            raise KqlError(f"expected {kind}, got {token[1]!r}")
        self.pos += 1
        return token

    def parse(self):
        node = self.or_expr()
        if self.pos != len(self.tokens):
            raise KqlError(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def or_expr(self):
        nodes = [self.and_expr()]
        while self.peek() == "or":
            self.take()
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def and_expr(self):
        nodes = [self.not_expr()]
        while self.peek() == "and":
            self.take()
            nodes.append(self.not_expr())
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def not_expr(self):
        if self.peek() == "not":
            self.take()
            self.nest()
            node = ("not", self.not_expr())
            self.unnest()
            return node
        return self.primary()

    def primary(self):
        if self.peek() == "(":
            self.take()
            self.nest()
            node = self.or_expr()
            self.take(")")
            self.unnest()
            return node
        kind, text = self.take()
        if kind not in ("word", "quoted"):
            raise KqlError(f"unexpected {text!r}")
        if kind == "word" and self.peek() == ":" and self.peek(1) == "{":
            self.take()
            self.take()
            self.nest()
            if self.peek() == "}":
                raise KqlError("expected a query inside { }")
            node = ("nested", text, self.or_expr())
            self.take("}")
            self.unnest()
            return node
        if kind == "word" and self.peek() == ":":
            self.take()
            return ("field", text, self.values())
        if kind == "word" and self.peek() == "op":
            _, op = self.take()
            value_kind, value = self.take()
            if value_kind not in ("word", "quoted"):
                raise KqlError("expected a value")
            return ("range", text, op, value)
        return ("free", text, kind == "quoted")

    def values(self):
        if self.peek() == "(":
            self.take()
            options = [self.single_value()]
            while self.peek() in ("or", "and"):
                self.take()
                options.append(self.single_value())
            self.take(")")
            return options
        return [self.single_value()]

    def single_value(self):
        kind, text = self.take()
        if kind not in ("word", "quoted"):
            raise KqlError(f"expected a value, got {text!r}")
        return (text, kind == "quoted")


def parse(query: str):
    """Parse a KQL string; raises KqlError. An empty query matches everything."""
    if not query or not query.strip():
        return None
    tokens = _tokenize(query)
    wildcards = sum(text.count("*") for kind, text in tokens if kind == "word")
    if wildcards > MAX_WILDCARDS:
        raise KqlError(
            f"The filter has {wildcards} wildcards (*); at most {MAX_WILDCARDS} are allowed in one query."
        )
    return _Parser(tokens).parse()


def matches(node, document: Any) -> bool:
    if node is None:
        return True
    kind = node[0]
    if kind == "or":
        return any(matches(child, document) for child in node[1])
    if kind == "and":
        return all(matches(child, document) for child in node[1])
    if kind == "not":
        return not matches(node[1], document)
    if kind == "field":
        values = lookup(document, node[1])
        if node[2] == [("*", False)]:
            return bool(values)
        return any(_value_matches(v, text, quoted) for v in values for text, quoted in node[2])
    if kind == "range":
        return any(_compare(v, node[2], node[3]) for v in lookup(document, node[1]) if v is not None)
    if kind == "nested":
        return any(isinstance(item, dict) and matches(node[2], item) for item in lookup(document, node[1]))
    return any(_value_matches(v, node[1], node[2]) for v in all_values(document))


# Kibana's KueryNode JSON (`@kbn/es-query` node types), which its rules client also takes as the
# `_find` filter (buildKueryNodeFilter JSON-parses the text first). Its wildcard placeholder:
KUERY_WILDCARD = "@kuery-wildcard@"
_RANGE_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def parse_filter(text: str):
    """A filter as Kibana's buildKueryNodeFilter reads it: text that parses as a JSON object is a
    serialized KueryNode, anything else KQL. Raises KqlError."""
    stripped = (text or "").strip()
    if stripped[:1] in ("{", "["):
        try:
            document = json.loads(stripped)
        except RecursionError:
            raise KqlError(NESTING_MESSAGE) from None
        except ValueError:
            document = None
        if isinstance(document, list):
            raise KqlError("a serialized KueryNode must be an object")
        if isinstance(document, dict):
            node = _from_kuery_node(document, 0)
            wildcards = _count_wildcards(node)
            if wildcards > MAX_WILDCARDS:
                raise KqlError(
                    f"The filter has {wildcards} wildcards (*); at most {MAX_WILDCARDS} are allowed in one query."
                )
            return node
    return parse(text)


def _literal(node: Any, what: str) -> tuple[str, bool]:
    """`(text, quoted)` of a literal or wildcard node."""
    if not isinstance(node, dict) or node.get("type") not in ("literal", "wildcard"):
        raise KqlError(f"expected a literal {what}")
    value = node.get("value")
    if isinstance(value, dict | list):
        raise KqlError(f"expected a literal {what}")
    if node["type"] == "wildcard":
        return str(value).replace(KUERY_WILDCARD, "*"), False
    text = (
        "null" if value is None else ("true" if value else "false") if isinstance(value, bool) else str(value)
    )
    return text, bool(node.get("isQuoted"))


def _from_kuery_node(node: Any, depth: int):
    if depth > MAX_NESTING:
        raise KqlError(NESTING_MESSAGE)
    if not isinstance(node, dict) or node.get("type") != "function":
        raise KqlError("expected a KueryNode function")
    function, arguments = node.get("function"), node.get("arguments")
    if not isinstance(arguments, list) or not arguments:
        raise KqlError(f"the KueryNode function {str(function)[:40]!r} has no arguments")
    if function in ("and", "or"):
        return (function, [_from_kuery_node(child, depth + 1) for child in arguments])
    if function == "not":
        return ("not", _from_kuery_node(arguments[0], depth + 1))
    if function == "nested":
        path, _ = _literal(arguments[0], "nested path")
        if len(arguments) < 2:
            raise KqlError("a nested KueryNode needs a query")
        return ("nested", path, _from_kuery_node(arguments[1], depth + 1))
    if function == "exists":
        field, _ = _literal(arguments[0], "field")
        return ("field", field, [("*", False)])
    if function == "is":
        if len(arguments) < 2:
            raise KqlError("an `is` KueryNode needs a field and a value")
        value, quoted = _literal(arguments[1], "value")
        # The older form carries isPhrase as a third argument.
        if len(arguments) > 2 and isinstance(arguments[2], dict) and arguments[2].get("value") is True:
            quoted = True
        field_node = arguments[0]
        if isinstance(field_node, dict) and field_node.get("value") is None:
            return ("free", value, quoted)
        field, _ = _literal(field_node, "field")
        return ("field", field, [(value, quoted)])
    if function == "range":
        field, _ = _literal(arguments[0], "field")
        rest = arguments[1:]
        if rest and isinstance(rest[0], dict) and rest[0].get("type") == "namedArg":
            operator, value_node = rest[0].get("name"), rest[0].get("value")
        elif len(rest) >= 2:
            operator, value_node = _literal(rest[0], "range operator")[0], rest[1]
        else:
            raise KqlError("a range KueryNode needs an operator and a value")
        if operator not in _RANGE_OPERATORS:
            raise KqlError("a range KueryNode needs gt, gte, lt or lte")
        return ("range", field, _RANGE_OPERATORS[operator], _literal(value_node, "value")[0])
    raise KqlError(f"unknown KueryNode function {str(function)[:40]!r}")


def _count_wildcards(node) -> int:
    kind = node[0]
    if kind in ("and", "or"):
        return sum(_count_wildcards(child) for child in node[1])
    if kind == "not":
        return _count_wildcards(node[1])
    if kind == "nested":
        return _count_wildcards(node[2])
    if kind == "field":
        return sum(text.count("*") for text, quoted in node[2] if not quoted)
    if kind == "free":
        return 0 if node[2] else node[1].count("*")
    return 0
