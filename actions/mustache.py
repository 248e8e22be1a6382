"""Kibana's Mustache rendering of rule action params, on top of chevron.

Only the Kibana-specific parts live here: variables are prepared as Kibana prepares them (objects
print as JSON, arrays comma-joined with `.asJSON`, dotted keys expanded), `{{var}}` escapes with the
connector type's mode (`none`, `json`, `markdown`, `slack`, `html`) while `{{{var}}}` never does,
and the lambdas `FormatDate`, `FormatNumber`, `EvalMath` and `ParseHjson`. A template that fails to
render becomes `error rendering mustache template "<tpl>": <msg>`; rendering never raises.

Templates are what users write, so rendering is bounded: partials (`{{> name}}`) render nothing, as
in Kibana (chevron would read `<name>.mustache` from the disk), one `render_object` stops at
`MAX_RENDERED_CHARACTERS` of output and `MAX_SECTION_RENDERS` section and lambda passes (nested
sections over a list multiply), and chevron's token cache of lambda texts is bounded.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import json
import math
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import chevron
import chevron.renderer
import hjson
from babel import numbers as babel_numbers

from actions import tinymath

ESCAPE_MODES = ("none", "json", "markdown", "slack", "html")

# ---- escaping ----------------------------------------------------------------------------------

_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!")
_URL = re.compile(r"^(https?|ftp|mailto):", re.IGNORECASE)


def escape_json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def escape_markdown(value: str) -> str:
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIALS else ch for ch in value)


def escape_slack(value: str) -> str:
    if ("_" in value or "*" in value) and not _URL.match(value.strip()):
        return "`" + value.replace("`", "'") + "`"
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def escape_html(value: str) -> str:
    return html.escape(value, quote=True)


ESCAPERS = {
    "none": str,
    "json": escape_json,
    "markdown": escape_markdown,
    "slack": escape_slack,
    "html": escape_html,
}

# chevron looks its escape function up as a module global on each `{{var}}`: one dispatcher reads
# the mode of the render running in this thread, so concurrent renders never interfere.
_current_escape: contextvars.ContextVar = contextvars.ContextVar("mustache_escape", default=None)
_chevron_html_escape = chevron.renderer._html_escape


def _dispatch_escape(value: str) -> str:
    escaper = _current_escape.get()
    return _chevron_html_escape(value) if escaper is None else escaper(value)


chevron.renderer._html_escape = _dispatch_escape

# ---- bounds ------------------------------------------------------------------------------------

MAX_RENDERED_CHARACTERS = 10_000_000
MAX_SECTION_RENDERS = 100_000
# A rule run renders each action's params for each alert: all of them share one larger budget
# (`shared_budget()`), or a thousand actions of ten million characters each would be ten gigabytes.
MAX_RUN_CHARACTERS = 50_000_000
MAX_RUN_SECTION_RENDERS = 500_000


class TemplateTooLarge(Exception):
    pass


class _Budget:
    """What one `render_object` (and the rule run around it, if any) may still produce: characters
    of output, and section passes."""

    __slots__ = ("character_limit", "characters", "parent", "render_limit", "renders")

    def __init__(self, characters: int, renders: int, parent: _Budget | None = None) -> None:
        self.characters = self.character_limit = characters
        self.renders = self.render_limit = renders
        self.parent = parent

    def spend(self, characters: int) -> None:
        self.characters -= characters
        if self.characters < 0:
            raise TemplateTooLarge(f"the rendered text exceeds {self.character_limit} characters")
        if self.parent is not None:
            self.parent.spend(characters)

    def spend_render(self) -> None:
        self.renders -= 1
        if self.renders < 0:
            raise TemplateTooLarge(f"sections and lambdas rendered more than {self.render_limit} times")
        if self.parent is not None:
            self.parent.spend_render()

    @classmethod
    def for_one_object(cls) -> _Budget:
        return cls(MAX_RENDERED_CHARACTERS, MAX_SECTION_RENDERS, parent=_shared_budget.get())


_current_budget: contextvars.ContextVar = contextvars.ContextVar("mustache_budget", default=None)
_shared_budget: contextvars.ContextVar = contextvars.ContextVar("mustache_shared_budget", default=None)


@contextlib.contextmanager
def shared_budget():
    """Every render inside shares one budget of `MAX_RUN_CHARACTERS` and `MAX_RUN_SECTION_RENDERS`
    (a rule run), besides each params object's own."""
    token = _shared_budget.set(_Budget(MAX_RUN_CHARACTERS, MAX_RUN_SECTION_RENDERS))
    try:
        yield
    finally:
        _shared_budget.reset(token)


# chevron calls its module's `render` again for each item of a list section, each lambda and each
# partial, and its `_get_key` for each tag: both are looked up as module globals, so wrapping them
# meters a render without forking chevron.
_chevron_render = chevron.renderer.render
_chevron_get_key = chevron.renderer._get_key


def _metered_render(template="", *args, **kwargs):
    budget = _current_budget.get()
    if budget is not None:
        budget.spend_render()
        if not isinstance(template, str):  # a section's tokens: its literal text is output each pass
            budget.spend(sum(len(key) for tag, key in template if tag == "literal"))
    return _chevron_render(template, *args, **kwargs)


def _metered_get_key(key, scopes, warn=False):
    value = _chevron_get_key(key, scopes, warn=warn)
    budget = _current_budget.get()
    if budget is not None and isinstance(value, str):
        budget.spend(len(value))  # objects and arrays spend when printed (`__str__`)
    return value


class _TokenCache(dict):
    """chevron keeps the tokens of every lambda section's text it has seen, for the life of the
    process: a leak where users write the templates. A miss only means tokenizing again."""

    def __setitem__(self, key, value) -> None:
        if len(key) > 4096:
            return
        if len(self) >= 256:
            self.clear()
        super().__setitem__(key, value)


chevron.renderer.render = _metered_render
chevron.renderer._get_key = _metered_get_key
chevron.renderer.g_token_cache = _TokenCache()


def _spend_printed(text: str) -> str:
    budget = _current_budget.get()
    if budget is not None:
        budget.spend(len(text))
    return text


# ---- variables ---------------------------------------------------------------------------------


class _JSONDict(dict):
    """A map that prints as JSON, as Kibana's objects do (`{{context}}`)."""

    def __str__(self) -> str:
        text = self.__dict__.get("_text")
        if text is None:
            text = self._text = json.dumps(_plain(self), separators=(",", ":"), ensure_ascii=False)
        return _spend_printed(text)


class _JSONList(list):
    """An array that prints comma-joined, with `.asJSON` for its JSON form."""

    def __str__(self) -> str:
        text = self.__dict__.get("_text")
        if text is None:
            text = self._text = ",".join(_js_string(item) for item in self)
        return _spend_printed(text)

    @property
    def asJSON(self) -> str:
        return json.dumps(_plain(self), separators=(",", ":"), ensure_ascii=False)  # metered as a str


def _js_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, _Scalar):
        value = value.value
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return int(value)
    return value


class _Scalar(str):
    """Booleans and numbers become strings that print as JavaScript would, but keep their value."""

    value: Any
    _CHEVRON_return_scope_when_falsy = True  # 0 and false still print

    def __new__(cls, value):
        obj = super().__new__(cls, _js_string(value))
        obj.value = value
        return obj

    def __bool__(self):
        return bool(self.value)


def _expand_dotted(variables: dict) -> dict:
    """`{"kibana.alert.reason": x}` also becomes `{"kibana": {"alert": {"reason": x}}}`."""
    result: dict = {}
    for key, value in variables.items():
        if isinstance(key, str) and "." in key:
            parts = key.split(".")
            node = result
            for part in parts[:-1]:
                existing = node.get(part)
                if not isinstance(existing, dict):
                    existing = {}
                    node[part] = existing
                node = existing
            node.setdefault(parts[-1], value)
        else:
            result[key] = value
    return result


def prepare(value: Any) -> Any:
    """Kibana's variable preparation: JSON-clone, expand dotted keys, make objects print as JSON."""
    if isinstance(value, dict):
        return _JSONDict({k: prepare(v) for k, v in _expand_dotted(value).items()})
    if isinstance(value, list | tuple):
        return _JSONList(prepare(v) for v in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, bool | int | float):
        return _Scalar(value)
    return value


# ---- lambdas -----------------------------------------------------------------------------------

_MOMENT_TOKENS = re.compile(
    r"\[([^\]]*)\]|YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|dddd|ddd|HH|H|hh|h|mm|m|ss|s|SSS|A|a|ZZ|Z|X|x"
)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def format_moment(moment: datetime, fmt: str) -> str:
    """The common moment.js format tokens."""

    def token(match: re.Match) -> str:
        if match.group(1) is not None:
            return match.group(1)
        t = match.group(0)
        offset = moment.strftime("%z")
        return {
            "YYYY": f"{moment.year:04d}",
            "YY": f"{moment.year % 100:02d}",
            "MMMM": moment.strftime("%B"),
            "MMM": moment.strftime("%b"),
            "MM": f"{moment.month:02d}",
            "M": str(moment.month),
            "Do": _ordinal(moment.day),
            "DD": f"{moment.day:02d}",
            "D": str(moment.day),
            "dddd": moment.strftime("%A"),
            "ddd": moment.strftime("%a"),
            "HH": f"{moment.hour:02d}",
            "H": str(moment.hour),
            "hh": f"{(moment.hour % 12) or 12:02d}",
            "h": str((moment.hour % 12) or 12),
            "mm": f"{moment.minute:02d}",
            "m": str(moment.minute),
            "ss": f"{moment.second:02d}",
            "s": str(moment.second),
            "SSS": f"{moment.microsecond // 1000:03d}",
            "A": "AM" if moment.hour < 12 else "PM",
            "a": "am" if moment.hour < 12 else "pm",
            "ZZ": offset,
            "Z": f"{offset[:3]}:{offset[3:]}" if offset else "",
            "X": str(int(moment.timestamp())),
            "x": str(int(moment.timestamp() * 1000)),
        }[t]

    return _MOMENT_TOKENS.sub(token, fmt)


def _parse_date(text: str) -> datetime:
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text) / 1000, UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_date(text: str) -> str:
    """`<date>; <time zone>; <moment format>`; defaults UTC and `YYYY-MM-DD hh:mma`."""
    parts = [part.strip() for part in text.split(";")]
    date_text = parts[0]
    zone = parts[1] if len(parts) > 1 and parts[1] else "UTC"
    fmt = parts[2] if len(parts) > 2 and parts[2] else "YYYY-MM-DD hh:mma"
    if not date_text:
        return ""
    try:
        moment = _parse_date(date_text)
    except ValueError:
        return f'date "{date_text}" could not be parsed'
    try:
        moment = moment.astimezone(ZoneInfo(zone))
    except Exception:
        return f'timezone "{zone}" is not recognized'
    return format_moment(moment, fmt)


def _parse_intl_options(text: str) -> dict[str, str]:
    options = {}
    for item in text.split(","):
        if ":" in item:
            key, value = item.split(":", 1)
            options[key.strip()] = value.strip().strip("'\"")
    return options


def format_number(text: str) -> str:
    """`<number>; <locales>; <Intl.NumberFormat options as key: value, ...>`."""
    parts = [part.strip() for part in text.split(";")]
    number_text = parts[0]
    if not number_text:
        return ""
    try:
        number = float(number_text)
    except ValueError:
        return f'invalid number: "{number_text}"'
    locale = (parts[1] if len(parts) > 1 and parts[1] else "en-US").split(",")[0].strip().replace("-", "_")
    options = _parse_intl_options(parts[2]) if len(parts) > 2 else {}
    try:
        digits_min = int(options.get("minimumFractionDigits", 0))
        digits_max = int(options.get("maximumFractionDigits", max(3, digits_min)))
        style = options.get("style", "decimal")
        if style == "currency" and options.get("currency"):
            return babel_numbers.format_currency(number, options["currency"], locale=locale)
        if style == "percent":
            return babel_numbers.format_percent(number, locale=locale)
        pattern = "#,##0" if options.get("useGrouping", "true") != "false" else "0"
        if digits_max:
            pattern += "." + "0" * digits_min + "#" * (digits_max - digits_min)
        return babel_numbers.format_decimal(number, format=pattern, locale=locale)
    except Exception as exc:
        return f"error formatting number: {exc}"


def eval_math(expression: str, variables: dict) -> str:
    """A tinymath expression over the template variables, e.g. `round(context.value * 100, 1)`.

    Numbers only, as doubles (see `actions.tinymath`). A failure raises, as Kibana's lambda throws,
    so the whole template renders as `error rendering mustache template ...`.
    """
    expression = expression.strip()
    try:
        return tinymath.to_text(tinymath.evaluate(expression, variables))
    except (tinymath.TinymathError, RecursionError) as exc:
        raise ValueError(f'error evaluating tinymath expression "{expression}": {exc}') from None


def parse_hjson(text: str) -> str:
    try:
        return json.dumps(hjson.loads(text), ensure_ascii=False, separators=(",", ":"))
    except Exception as exc:
        return f"error parsing Hjson: {exc}"


def _lambdas(variables: dict) -> dict:
    def lam(fn):
        return lambda text, render: fn(render(text))

    return {
        "FormatDate": lam(format_date),
        "FormatNumber": lam(format_number),
        "EvalMath": lam(lambda text: eval_math(text, variables)),
        "ParseHjson": lam(parse_hjson),
    }


# ---- rendering ---------------------------------------------------------------------------------


def render_string(template: str, variables: dict, escape: str = "none") -> str:
    prepared = prepare(variables)
    token = _current_budget.set(_Budget.for_one_object())
    try:
        return _render_prepared(template, prepared, variables, escape)
    finally:
        _current_budget.reset(token)


def _render_prepared(template: str, prepared: dict, raw: dict, escape: str) -> str:
    if "{{" not in template:
        return template
    escaper = ESCAPERS.get(escape, str)
    token = _current_escape.set(escaper)
    try:
        view = {**prepared, **_lambdas(raw)}
        # Lambda output is rendered by chevron with escaping; we render lambdas' text ourselves.
        # No partials path: `{{> name}}` renders nothing, as in Kibana, instead of reading a file.
        return chevron.render(template, view, partials_path=None)
    except Exception as exc:
        return f'error rendering mustache template "{template}": {exc}'
    finally:
        _current_escape.reset(token)


def escape_for(escape: str | dict, key_path: str) -> str:
    """A type's escape is a mode, or a map of top-level param key to mode with `*` as the default."""
    if isinstance(escape, dict):
        top = key_path.split(".", 1)[0]
        return escape.get(top, escape.get("*", "none"))
    return escape or "none"


def render_object(params: Any, variables: dict, escape: str | dict = "none") -> Any:
    """Render every string in `params` (keys stay as they are), Kibana's renderMustacheObject."""
    prepared = prepare(variables)

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, str):
            return _render_prepared(value, prepared, variables, escape_for(escape, path))
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path) for v in value]
        return value

    token = _current_budget.set(_Budget.for_one_object())
    try:
        return walk(params, "")
    finally:
        _current_budget.reset(token)
