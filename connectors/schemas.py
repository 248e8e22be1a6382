"""Declarative schemas for connector config, secrets and params.

A small re-statement of Kibana's `@kbn/config-schema`, so validation messages match Kibana's word for
word (`[index]: expected value of type [string] but got [undefined]`). The same declarations drive
the API, the admin forms, preconfigured connectors and saved-object import.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


class SchemaError(ValueError):
    """The first validation failure, already worded as Kibana words it."""


class UnstorableError(SchemaError):
    """Text the database cannot store: ours, so never listed under a nullable field's union."""


def type_name(value: Any) -> str:
    """config-schema's name for the type of a value (`typeDetect`)."""
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return type(value).__name__


def _prefix(path: str) -> str:
    return f"[{path}]: " if path else ""


NUL_MESSAGE = "must not contain the NUL character (U+0000)"
SURROGATE_MESSAGE = "must not contain a lone surrogate ({})"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# In UTF-8 JSON both can only arrive as escapes (a raw NUL is not valid JSON, a raw surrogate not
# valid UTF-8): a document whose text holds none of these needs no walk.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE_ESCAPE_BYTES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def may_hold_unstorable(text: str | bytes) -> bool:
    """Whether JSON text holds an escape that could decode to U+0000 or a lone surrogate."""
    pattern = _UNSTORABLE_ESCAPE_BYTES if isinstance(text, bytes) else _UNSTORABLE_ESCAPE
    return pattern.search(text) is not None


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        match = _LONE_SURROGATE.search(text)
        if match:
            return SURROGATE_MESSAGE.format(f"U+{ord(match.group()):04X}")
    return None


def _shown(path: str) -> str:
    """A key's NUL or surrogate as its JSON escape, so the message itself can be stored and sent."""
    path = path.replace("\x00", "\\u0000")
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", path)


def unstorable_problem(value: Any, path: str) -> str | None:
    """`[path.to.field]: must not contain the NUL character (U+0000)` (or `... a lone surrogate
    (U+D800)`) for the first string or key holding one, else None. PostgreSQL's text and jsonb cannot
    store U+0000, and no database can store a lone surrogate (it has no UTF-8 form: SQLite's driver
    and psycopg both raise), so input refuses them on every database alike. A loop, not recursion:
    any depth the JSON decoder accepts is fine here."""
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            problem = _unstorable(node)
            if problem:
                return f"{_prefix(_shown(where))}{problem}"
            continue
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        children = []
        for key, item in items:
            name = str(key)
            child = f"{where}.{name}" if where else name
            problem = _unstorable(name)
            if problem:
                return _prefix(_shown(child)) + problem
            children.append((item, child))
        stack.extend(reversed(children))  # depth first, in document order
    return None


def replace_unstorable(value: Any) -> Any:
    """The value with U+0000 and lone surrogates replaced by U+FFFD, for text a remote service sent."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", "\ufffd"))
    if isinstance(value, dict):
        return {replace_unstorable(k): replace_unstorable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_unstorable(v) for v in value]
    return value


# The strings config-schema's number takes (Joi's number conversion, which the spec's config-schema
# version runs): a decimal, optionally signed, with an optional exponent, spaces around it allowed.
_DECIMAL = re.compile(r"\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*")


def number_from_text(text: str) -> int | float | None:
    """The number config-schema reads from a string, or None when it reads none: `"465"`, `" 4.23 "`,
    `"1e3"` and `".5"` are numbers; `""`, `"4px"`, `"0x10"`, `"1_000"`, `"Infinity"` and `"nan"` are
    not. Whole values come back as int, as JSON's would; `"1e999"` is infinite (the caller refuses it)."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        return None
    number = float(match.group(1))
    if number.is_integer() and abs(number) <= 2**53:
        return int(number)
    return number


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # JSON.parse knows no NaN or Infinity


class Field:
    """Base of every schema node. `validate` returns the cleaned value or raises SchemaError."""

    kind = "any"
    expected = "any"

    def __init__(
        self,
        *,
        default: Any = MISSING,
        nullable: bool = False,
        optional: bool = False,
        label: str = "",
        help: str = "",
        secret: bool = False,
        validator: Callable[[Any], str | None] | None = None,
        widget: str = "",
        shown_when: dict[str, Any] | None = None,
        choice_labels: dict[Any, str] | None = None,
        choices: tuple[Any, ...] = (),
    ):
        self.default = default
        self.nullable = nullable
        # schema.maybe(): an absent key stays absent, even with a `default` (which forms still show)
        self.optional = optional
        self.label = label
        self.help = help
        self.secret = secret
        self.validator = validator
        self.widget = widget
        # For forms only, never for validation: `shown_when={"hasAuth": True, "authType": (A, B)}`
        # shows the input only while every named sibling has one of the values ("!key" for "none
        # of"); `choice_labels` gives an Enum's values (or a String's suggested `choices`) words.
        self.shown_when = shown_when or {}
        self.choice_labels = choice_labels or {}
        self.choices = tuple(choices)

    @property
    def required(self) -> bool:
        return self.default is MISSING and not self.nullable and not self.optional

    def validate(self, value: Any, path: str = "") -> Any:
        if value is MISSING:
            if self.optional:  # schema.maybe(x({defaultValue})): the inner default never applies
                return MISSING
            if self.default is not MISSING:
                return self.default() if callable(self.default) else self.default
            if self.nullable:
                return None
            raise SchemaError(f"{_prefix(path)}expected value of type [{self.expected}] but got [undefined]")
        if value is None and self.nullable:
            return None
        if self.nullable and self.wraps_as_union:
            return self.first_alternative(value, path)
        return self.checked(value, path)

    # A nullable field is config-schema's `oneOf([type, literal(null)])`: whatever fails inside the
    # type is that union's first failure. A type that lists `null` among its own alternatives (Enum)
    # says so itself.
    wraps_as_union = True

    def checked(self, value: Any, path: str) -> Any:
        cleaned = self.check(value, path)
        if self.validator:
            problem = self.validator(cleaned)
            if problem:
                raise SchemaError(f"{_prefix(path)}{problem}")
        return cleaned

    def first_alternative(self, value: Any, path: str) -> Any:
        """The value checked as the union's option 0, its failure listed as config-schema lists it:
        `[x]: types that failed validation:\n- [x.0.to]: ...\n- [x.1]: expected value to equal [null]`."""
        indexed = f"{path}.0" if path else "0"
        try:
            return self.checked(value, indexed)
        except UnstorableError as exc:  # ours, not config-schema's: it names the field's own path
            raise UnstorableError(str(exc).replace(f"[{indexed}", f"[{path}" if path else "[", 1)) from None
        except SchemaError as exc:
            other = f"{path}.1" if path else "1"
            raise SchemaError(
                f"{_prefix(path)}types that failed validation:\n{nested_failure(str(exc), indexed, path)}\n"
                f"- [{other}]: expected value to equal [null]"
            ) from None

    def check(self, value: Any, path: str) -> Any:
        return value

    def type_error(self, value: Any, path: str) -> SchemaError:
        return self.failure(f"expected value of type [{self.expected}] but got [{type_name(value)}]", path)

    def failure(self, problem: str, path: str) -> SchemaError:
        """`[path]: problem` (for a nullable field, `validate` lists it under the union)."""
        return SchemaError(f"{_prefix(path)}{problem}")

    def parse_json_input(self, text: str, kind: str, path: str) -> Any:
        """config-schema's coercion of a string given for an array, object or record: `JSON.parse`,
        or `could not parse <kind> value from json input`. What it parses to is checked like any
        other input and, like a request body, may not hold what the database cannot store."""
        try:
            value = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise self.failure(f"could not parse {kind} value from json input", path) from None
        problem = unstorable_problem(value, path)
        if problem:
            raise UnstorableError(problem)
        return value

    def describe(self) -> dict[str, Any]:
        """A plain description for forms and the API schema."""
        info = {"kind": self.kind, "required": self.required, "label": self.label, "help": self.help}
        if self.secret:
            info["secret"] = True
        if self.default is not MISSING and not callable(self.default):
            info["default"] = self.default
        if self.widget:
            info["widget"] = self.widget
        return info


class Any_(Field):
    kind = "any"


class String(Field):
    kind = "string"
    expected = "string"

    def __init__(self, *, min_length: int | None = None, max_length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.type_error(value, path)
        if self.min_length is not None and len(value) < self.min_length:
            raise SchemaError(
                f"{_prefix(path)}value has length [{len(value)}] but it must have a minimum length of [{self.min_length}]."
            )
        if self.max_length is not None and len(value) > self.max_length:
            raise SchemaError(
                f"{_prefix(path)}value has length [{len(value)}] but it must have a maximum length of [{self.max_length}]."
            )
        return value


class Boolean(Field):
    kind = "boolean"
    expected = "boolean"

    def check(self, value: Any, path: str) -> bool:
        if isinstance(value, str):  # config-schema: "true"/"false" in any case are booleans
            value = {"true": True, "false": False}.get(value.lower(), value)
        if not isinstance(value, bool):
            raise self.type_error(value, path)
        return value


class Number(Field):
    kind = "number"
    expected = "number"

    def __init__(
        self, *, minimum: float | None = None, maximum: float | None = None, integer=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum
        self.integer = integer

    def check(self, value: Any, path: str) -> float:
        if isinstance(value, str):  # config-schema: a decimal string is that number
            number = number_from_text(value)
            if number is None:
                raise self.type_error(value, path)
            if not math.isfinite(number):
                raise self.failure('"value" must be a safe number', path)
            value = number
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.type_error(value, path)
        if self.integer and not float(value).is_integer():
            raise SchemaError(f"{_prefix(path)}expected value of type [integer] but got [{value}]")
        if self.minimum is not None and value < self.minimum:
            raise SchemaError(f"{_prefix(path)}Value must be equal to or greater than [{self.minimum}].")
        if self.maximum is not None and value > self.maximum:
            raise SchemaError(f"{_prefix(path)}Value must be equal to or lower than [{self.maximum}].")
        return value


class Enum(Field):
    """`schema.oneOf([schema.literal(a), schema.literal(b)])`."""

    kind = "enum"
    wraps_as_union = False  # `check` lists `null` beside the literals

    def __init__(self, values: tuple[Any, ...], **kwargs):
        super().__init__(**kwargs)
        self.values = tuple(values)

    def check(self, value: Any, path: str) -> Any:
        if value in self.values and type(value) in {type(v) for v in self.values}:
            return value
        lines = [f"- [{path}.{i}]: expected value to equal [{v}]" for i, v in enumerate(self.values)]
        if self.nullable:
            lines.append(f"- [{path}.{len(self.values)}]: expected value to equal [null]")
        return self._raise(path, lines)

    def _raise(self, path, lines):
        raise SchemaError(f"{_prefix(path)}types that failed validation:\n" + "\n".join(lines))

    def describe(self):
        return {**super().describe(), "choices": list(self.values)}


class Array(Field):
    kind = "array"
    expected = "array"

    def __init__(self, item: Field, *, min_size: int | None = None, max_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.item = item
        self.min_size = min_size
        self.max_size = max_size

    def check(self, value: Any, path: str) -> list:
        if isinstance(value, str):  # config-schema parses a JSON string given for an array
            value = self.parse_json_input(value, "array", path)
        if not isinstance(value, list):
            raise self.type_error(value, path)
        if self.min_size is not None and len(value) < self.min_size:
            raise SchemaError(
                f"{_prefix(path)}array size is [{len(value)}], but cannot be smaller than [{self.min_size}]"
            )
        if self.max_size is not None and len(value) > self.max_size:
            raise SchemaError(
                f"{_prefix(path)}array size is [{len(value)}], but cannot be greater than [{self.max_size}]"
            )
        return [self.item.validate(item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value)]

    def describe(self):
        return {**super().describe(), "item": self.item.describe()}


class Record(Field):
    """`schema.recordOf(schema.string(), <values>)`: any keys, each value checked by `values` (not
    `schema.mapOf`, which reads `expected value of type [Map] or [object] ...`). Unlike an object it
    has no default, so an absent required record fails as `undefined`, and a wrong type reads
    `expected value of type [object] but got [X]`."""

    kind = "record"
    expected = "object"

    def __init__(self, values: Field | None = None, **kwargs):
        super().__init__(**kwargs)
        self.values = values or String()

    def check(self, value: Any, path: str) -> dict:
        if isinstance(value, str):  # config-schema's `record` coerces a JSON string, everywhere
            value = self.parse_json_input(value, "record", path)
        if not isinstance(value, dict):
            raise self.type_error(value, path)
        return {
            key: self.values.validate(item, f"{path}.{key}" if path else key) for key, item in value.items()
        }


class Object(Field):
    """`schema.object({...})`: a map with declared keys. `strict` (Kibana's default) rejects unknown
    keys; `strict=False` is `{unknowns: 'allow'}`. A map of any keys is `schema.recordOf`: declare it
    as a `Record`, which config-schema words differently.

    config-schema's object is `object().default().optional()` in Joi: an absent required object is
    checked as `{}` (so its own keys' defaults apply, and the first missing required key is what
    fails), and a wrong type reads `expected a plain object value, but found [number] instead.`"""

    kind = "object"
    expected = "object"

    def __init__(self, fields: dict[str, Field] | None = None, *, strict: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.fields = fields or {}
        self.strict = strict

    def validate(self, value: Any, path: str = "") -> Any:
        if value is MISSING and self.required:
            value = {}
        return super().validate(value, path)

    def type_error(self, value: Any, path: str) -> SchemaError:
        return self.failure(f"expected a plain object value, but found [{type_name(value)}] instead.", path)

    def object_input(self, value: Any, path: str) -> dict:
        """config-schema's object input: a string is JSON-parsed, and what is then not a plain
        object is refused in its words. For callers that must see the dict before validating it."""
        if isinstance(value, str):
            value = self.parse_json_input(value, "object", path)
        if not isinstance(value, dict):
            raise self.type_error(value, path)
        return value

    def check(self, value: Any, path: str) -> dict:
        value = self.object_input(value, path)
        cleaned = {}
        for name, field in self.fields.items():
            result = field.validate(value.get(name, MISSING), f"{path}.{name}" if path else name)
            if result is not MISSING:
                cleaned[name] = result
        extra = [key for key in value if key not in self.fields]
        if extra:
            if self.strict:
                key = f"{path}.{extra[0]}" if path else extra[0]
                raise SchemaError(f"[{key}]: definition for this key is missing")
            for key in extra:
                cleaned[key] = value[key]
        return cleaned

    def describe(self):
        return {**super().describe(), "fields": {name: f.describe() for name, f in self.fields.items()}}


class OneOf(Field):
    """`schema.oneOf([...])` over non-literal alternatives: the first that validates wins."""

    kind = "oneOf"

    def __init__(self, options: list[Field], **kwargs):
        super().__init__(**kwargs)
        self.options = options

    def check(self, value: Any, path: str) -> Any:
        failures = []
        for index, option in enumerate(self.options):
            indexed = f"{path}.{index}" if path else str(index)
            try:
                return option.validate(value, indexed)
            except SchemaError as exc:
                failures.append(nested_failure(str(exc), indexed, path))
        raise SchemaError(f"{_prefix(path)}types that failed validation:\n" + "\n".join(failures))


def nested_failure(message: str, indexed: str, path: str) -> str:
    """One option's failure as config-schema lists it under its union: `- <message>`; when the option
    failed on a union of its own, that union's lines are indented one more space and their paths keep
    no trace of the outer option index (config-schema splices the index into direct children only)."""
    first, *rest = message.split("\n")
    pattern = re.compile(r"\[" + re.escape(indexed) + r"(?=[.\]])")
    replacement = "[" + path
    if not path:  # top level: `[3.subActionParams...]` -> `[subActionParams...]`
        pattern = re.compile(r"\[" + re.escape(indexed) + r"\.")
        replacement = "["
    return "\n".join([f"- {first}", *(" " + pattern.sub(replacement, line, count=1) for line in rest)])


def validate_object(schema: Object, value: Any) -> dict:
    """Validate a top-level config/secrets/params object; `null` and non-objects fail as Kibana's do."""
    if value is None or value is MISSING:
        value = {}
    return schema.validate(value, "")
