"""Forms built from a connector type's declarative schemas, so every type gets a form with no
per-type code. Validation is not done here: the values go to `connectors.services`, the same
code the API uses, and its Kibana-worded errors are mapped back onto fields in plain words."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms

from connectors import schemas
from connectors.schemas import MISSING, nul_problem

BLANK = ""
LINE_ITEM_KINDS = {"string", "number", "enum"}
TEXTAREA_WIDGETS = {"code", "textarea", "markdown", "json"}


@dataclass
class FieldSpec:
    """One schema key as a form input."""

    group: str  # config, secrets or params
    key: str
    node: schemas.Field
    input: str  # text, password, textarea, checkbox, tristate, select, number, lines, json
    choices: tuple = ()  # for a select: the schema's Enum values, or known values of a free string

    @property
    def name(self) -> str:
        return f"{self.group}__{self.key}"

    @property
    def secret(self) -> bool:
        return self.group == "secrets"


def input_kind(node: schemas.Field, group: str) -> str:
    if isinstance(node, schemas.String):
        if node.secret:
            return "password"
        return "textarea" if node.widget in TEXTAREA_WIDGETS else "text"
    if isinstance(node, schemas.Boolean):
        return "checkbox" if isinstance(node.default, bool) else "tristate"
    if isinstance(node, schemas.Number):
        return "number"
    if isinstance(node, schemas.Enum):
        return "select"
    if isinstance(node, schemas.Array) and node.item.kind in LINE_ITEM_KINDS:
        return "lines"
    return "json"  # Record, Object, OneOf, Any, arrays of objects


WHOLE = "__whole__"  # the key of the single JSON input used when a schema is not an Object


def specs_for(schema: schemas.Field, group: str, known_values: dict | None = None) -> list[FieldSpec]:
    """One input per key of an Object schema; any other schema (say a top-level OneOf) is edited
    as one JSON object. `known_values` turns a string key into a select (a sub-action's `subAction`)."""
    if not isinstance(schema, schemas.Object):
        return [FieldSpec(group, WHOLE, schema, "json")]
    specs = []
    for key, node in schema.fields.items():
        if known_values and key in known_values and isinstance(node, schemas.String):
            specs.append(FieldSpec(group, key, node, "select", tuple(known_values[key])))
        else:
            kind = input_kind(node, group)
            choices = tuple(node.values) if kind == "select" else ()
            specs.append(FieldSpec(group, key, node, kind, choices))
    return specs


def _label(spec: FieldSpec) -> str:
    if spec.key == WHOLE:
        return spec.node.label or spec.group.capitalize()
    return spec.node.label or spec.key


def _help(spec: FieldSpec, has_stored_secret: bool) -> str:
    parts = [spec.node.help] if spec.node.help else []
    if spec.input == "json":
        expected = {"array": "a JSON array", "record": "a JSON object", "object": "a JSON object"}
        parts.append(f"Enter {expected.get(spec.node.kind, 'JSON')}.")
    elif spec.input == "lines":
        parts.append("One value per line.")
    if has_stored_secret:
        parts.append("A value is saved; leave blank to keep it.")
    elif spec.secret and not spec.node.required:
        parts.append("Optional.")
    return " ".join(parts)


def _enum_text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _initial_text(spec: FieldSpec, value: Any) -> Any:
    """The stored or default value as the widget shows it."""
    if value is MISSING or value is None:
        return None
    if spec.input == "checkbox":
        return bool(value)
    if spec.input == "tristate":
        return "true" if value else "false"
    if spec.input == "select":
        return _enum_text(value)
    if spec.input == "lines":
        return "\n".join(str(item) for item in value) if isinstance(value, list) else None
    if spec.input == "json":
        return json.dumps(value, indent=2)
    if spec.input == "number":
        return str(value)
    return value if isinstance(value, str) else json.dumps(value)


def django_field(spec: FieldSpec, *, initial: Any = MISSING, has_stored_secret: bool = False) -> forms.Field:
    node = spec.node
    label = _label(spec)
    help_text = _help(spec, has_stored_secret)
    required = node.required and not has_stored_secret
    if initial is MISSING and node.default is not MISSING and not callable(node.default):
        initial = node.default
    initial_text = None if spec.secret else _initial_text(spec, initial)
    attrs = {"data-key": spec.key}
    kind = spec.input
    if kind == "password":
        return forms.CharField(
            label=label,
            help_text=help_text,
            required=required,
            strip=False,
            widget=forms.PasswordInput(render_value=False, attrs={**attrs, "autocomplete": "new-password"}),
        )
    if kind == "checkbox":
        return forms.BooleanField(label=label, help_text=help_text, required=False, initial=initial_text)
    if kind == "tristate":
        choices = [(BLANK, "(not set)"), ("true", "Yes"), ("false", "No")]
        return forms.ChoiceField(
            label=label, help_text=help_text, required=False, choices=choices, initial=initial_text
        )
    if kind == "select":
        choices = [(_enum_text(v), str(v)) for v in spec.choices]
        if not node.required:
            default = node.default if node.default is not MISSING else None
            blank_label = f"(default: {default})" if default is not None else "(none)"
            choices.insert(0, (BLANK, blank_label))
        return forms.ChoiceField(
            label=label, help_text=help_text, required=required, choices=choices, initial=initial_text
        )
    if kind == "number":
        return forms.CharField(
            label=label,
            help_text=help_text,
            required=required,
            initial=initial_text,
            widget=forms.NumberInput(attrs={**attrs, "step": "any"}),
        )
    if kind in ("textarea", "lines", "json"):
        css = "vLargeTextField code" if kind == "json" or node.widget == "code" else "vLargeTextField"
        rows = 6 if kind == "json" else 4
        textarea = NoEchoTextarea if spec.secret else forms.Textarea
        return forms.CharField(
            label=label,
            help_text=help_text,
            required=required,
            strip=False,
            initial=initial_text,
            widget=textarea(
                attrs={**attrs, "rows": rows, "class": css, "spellcheck": "false", "autocomplete": "off"}
            ),
        )
    text_input = NoEchoTextInput if spec.secret else forms.TextInput
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        strip=False,
        initial=initial_text,
        widget=text_input(attrs={**attrs, "class": "vTextField", "autocomplete": "off"}),
    )


class NoEchoTextInput(forms.TextInput):
    """A text input that never renders a value: part of a secrets object, even when not masked."""

    def format_value(self, value):
        return None


class NoEchoTextarea(forms.Textarea):
    def format_value(self, value):
        return None


class InputError(ValueError):
    """A value the widget could not turn into the schema's type; the message is for people."""


def parse_value(spec: FieldSpec, raw: Any) -> Any:
    """Turn what the browser sent into a JSON value, or MISSING when left blank."""
    kind = spec.input
    if kind == "checkbox":
        return bool(raw)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return MISSING
    if kind == "tristate":
        return raw == "true"
    if kind == "select":
        for value in spec.choices:
            if _enum_text(value) == raw:
                return value
        raise InputError("Choose one of the listed values.")
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise InputError("Enter a number.") from None
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "lines":
        items = [line.strip() for line in raw.splitlines() if line.strip()]
        if spec.node.item.kind == "number":
            try:
                return [float(item) if "." in item else int(item) for item in items]
            except ValueError:
                raise InputError("Enter one number per line.") from None
        return items
    if kind == "json":
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise InputError(
                f"This is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
            ) from None
        if nul_problem(value, ""):  # `\u0000`: PostgreSQL cannot store it (a raw NUL Django refuses)
            raise InputError("This must not contain the NUL character (U+0000).")
        return value
    return raw


# ---- where secrets go ----------------------------------------------------------------------------

DESTINATION_KEYS = {"host", "port", "service", "tenantid"}


def is_secret_destination(key: str) -> bool:
    """Config keys that decide where a connector's secrets are sent: every URL (url, apiUrl,
    accessTokenUrl, oauthTokenUrl, configUrl, createIncidentUrl…) and the email server (host,
    port, service, and the Exchange tenant its token URL is built from)."""
    lowered = key.lower()
    return lowered.endswith("url") or lowered in DESTINATION_KEYS


def changed_destinations(saved: dict, edited: dict) -> list[str]:
    """The destination keys whose value differs (absent and null are the same)."""
    keys = {key for key in (*saved, *edited) if is_secret_destination(key)}
    return sorted(key for key in keys if saved.get(key) != edited.get(key))


def reenter_message(changed: list[str]) -> str:
    names = ", ".join(changed)
    verb = "changes" if len(changed) == 1 else "change"
    return (
        f"Enter this again: {names} {verb} where secrets are sent, "
        "and a saved secret is never sent to a new destination."
    )


# ---- Kibana's config-schema messages, in plain words ------------------------------------------

TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "yes or no",
    "array": "a list",
    "Array": "a list",
    "object": "a JSON object",
    "Object": "a JSON object",
}
PREFIX_RE = re.compile(
    r"^error validat(?:ing|ion) (?:action type (?:config|secrets|connector)|action params|[\w ]+? (?:action )?(?:config|secrets|params)): ",
)
PATH_RE = re.compile(r"^\[([^\]]+)\]: (.*)$", re.DOTALL)


def plain_words(message: str) -> str:
    message = message.strip()
    match = re.fullmatch(r"expected value of type \[(\w+)\] but got \[(\w+)\]", message)
    if match:
        expected, got = match.groups()
        if got == "undefined":
            return "This field is required."
        if got == "null":
            return "This field cannot be empty."
        return f"Enter {TYPE_WORDS.get(expected, expected)}, not {TYPE_WORDS.get(got, got)}."
    if message.startswith("types that failed validation:"):
        values = re.findall(r"expected value to equal \[([^\]]*)\]", message)
        values = [v for v in values if v != "null"]
        if values:
            return "Choose one of: " + ", ".join(values) + "."
        first = message.splitlines()[1] if "\n" in message else message
        return "This value does not match any allowed form: " + first.lstrip("- ")
    match = re.fullmatch(
        r"value has length \[(\d+)\] but it must have a (minimum|maximum) length of \[(\d+)\]\.", message
    )
    if match:
        _, bound, limit = match.groups()
        if bound == "minimum":
            return "This field is required." if limit == "1" else f"Enter at least {limit} characters."
        return f"Enter at most {limit} characters."
    match = re.fullmatch(r"Value must be equal to or (greater|lower) than \[([^\]]+)\]\.", message)
    if match:
        bound, limit = match.groups()
        return f"Enter a number {'of at least' if bound == 'greater' else 'no greater than'} {limit}."
    if message == "definition for this key is missing":
        return "This key is not allowed here."
    return message


def split_error(message: str) -> tuple[str | None, str]:
    """`error validating action type config: [url.0]: …` -> ("url", plain words)."""
    inner = PREFIX_RE.sub("", message.strip(), count=1)
    match = PATH_RE.match(inner)
    if not match:
        return None, inner
    path, rest = match.groups()
    key, _, sub = path.partition(".")
    # a nested path inside a types-that-failed list starts with the key too
    text = plain_words(rest)
    if sub and not sub.isdigit():
        text = f"{sub}: {text}"
    elif sub.isdigit():
        text = f"Item {int(sub) + 1}: {text}"
    return key, text


def attach_error(form: forms.Form, group: str, message: str, specs: list[FieldSpec]) -> None:
    """Put a validation error on its field when it names one, else on the whole form."""
    keys = {spec.key: spec for spec in specs if spec.group == group}
    key, text = split_error(message)
    if key in keys:
        form.add_error(keys[key].name, text)
        return
    if key is None:
        # cross-field checks name their field in prose ("authType must be null ..."): when exactly
        # one field of the group is named, show the message there.
        named = [
            spec for name, spec in keys.items() if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text)
        ]
        if len(named) == 1:
            if re.fullmatch(rf"\[{re.escape(named[0].key)}\] is required", text):
                text = "This field is required."  # Kibana's "[password] is required", on its field
            form.add_error(named[0].name, text)
            return
    form.add_error(None, text or message)


class SchemaForm(forms.Form):
    """A form over one or more schema groups (config and secrets, or params)."""

    def __init__(
        self,
        data=None,
        *,
        specs: list[FieldSpec],
        initial_values: dict[str, dict] | None = None,
        stored_secret_keys: set[str] | frozenset = frozenset(),
        with_name: bool = False,
        name_initial: str = "",
    ):
        super().__init__(data)
        self.specs = specs
        self.stored_secret_keys = set(stored_secret_keys)
        if with_name:
            self.fields["name"] = forms.CharField(
                label="Connector name",
                max_length=1024,
                initial=name_initial,
                widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
            )
        initial_values = initial_values or {}
        for spec in specs:
            stored = spec.secret and (
                spec.key in self.stored_secret_keys or (spec.key == WHOLE and bool(self.stored_secret_keys))
            )
            group_initial = initial_values.get(spec.group, {})
            initial = group_initial if spec.key == WHOLE else group_initial.get(spec.key, MISSING)
            self.fields[spec.name] = django_field(spec, initial=initial, has_stored_secret=stored)
            if stored:
                self.fields[f"{spec.name}__clear"] = forms.BooleanField(
                    label=f"Remove the saved {_label(spec).lower()}", required=False
                )

    def group_specs(self, group: str) -> list[FieldSpec]:
        return [spec for spec in self.specs if spec.group == group]

    def bound_rows(self, group: str) -> list[dict]:
        """What the template iterates: the bound field, its spec and its optional clear box."""
        rows = []
        for spec in self.group_specs(group):
            clear = f"{spec.name}__clear"
            rows.append(
                {
                    "field": self[spec.name],
                    "spec": spec,
                    "clear": self[clear] if clear in self.fields else None,
                }
            )
        return rows

    def values(self, group: str, stored: dict | None = None, reenter: str | None = None) -> dict:
        """The group's JSON values; blank secrets keep `stored` values, unless `reenter` (a reason)
        is given: then a blank secret that has a saved value is a field error saying why. Adds field
        errors for inputs that cannot be parsed (bad JSON, not a number)."""
        result: dict = {}
        for spec in self.group_specs(group):
            raw = self.cleaned_data.get(spec.name)
            try:
                value = parse_value(spec, raw)
            except InputError as exc:
                self.add_error(spec.name, str(exc))
                continue
            keep = (
                spec.secret
                and value is MISSING
                and stored
                and not self.cleaned_data.get(f"{spec.name}__clear")
            )
            if keep and reenter:
                saved = stored if spec.key == WHOLE else stored.get(spec.key)
                if saved not in (None, "", {}, []):
                    self.add_error(spec.name, reenter)
                    continue
            if keep and spec.key != WHOLE:
                value = stored.get(spec.key, MISSING)
            if spec.key == WHOLE:
                if value is MISSING:
                    return dict(stored) if keep and not reenter else {}
                if not isinstance(value, dict):
                    self.add_error(spec.name, "Enter a JSON object.")
                    return {}
                return value
            if value is not MISSING:
                result[spec.key] = value
        return result
