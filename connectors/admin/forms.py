"""Forms built from a connector type's declarative schemas, so every type gets a form with no
per-type code. Validation is not done here: the values go to `connectors.services`, the same
code the API uses, and its Kibana-worded errors are mapped back onto fields in plain words."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from connectors import schemas
from connectors.schemas import MISSING, NUL_MESSAGE, unstorable_problem
from connectors.services import CONNECTOR_NAME_MAX_LENGTH

BLANK = ""
LINE_ITEM_KINDS = {"string", "number", "enum"}
TEXTAREA_WIDGETS = {"code", "textarea", "markdown", "json"}


@dataclass
class FieldSpec:
    """One schema key as a form input."""

    group: str  # config, secrets or params
    key: str
    node: schemas.Field
    input: str  # text, password, textarea, checkbox, tristate, select, number, lines, pairs, rows, json
    choices: tuple = ()  # for a select: the schema's Enum values, or known values of a free string
    # `node.shown_when` resolved to inputs: (input name, negated, the values as the input's text)
    conditions: tuple = ()
    # The form's prefix, when several schema forms share one HTML form (the rule editor's `rule-`).
    prefix: str = ""

    @property
    def conditions_json(self) -> str:
        """What admin.js reads from `data-shown-when` to show or hide the input as choices change."""
        return json.dumps([[self.prefixed(name), negated, texts] for name, negated, texts in self.conditions])

    def choice_label(self, value: Any) -> str:
        labels = self.node.choice_labels
        if value in labels:
            return labels[value]
        return value.upper() if self.key.lower().endswith("method") and isinstance(value, str) else str(value)

    @property
    def name(self) -> str:
        # a nested key (`subActionParams.incident.summary`, see `specs_for(nested=True)`) joins with __
        return f"{self.group}__{self.key.replace('.', '__')}"

    def prefixed(self, name: str) -> str:
        """An input name as the browser posts it (Django's `Form.add_prefix`)."""
        return f"{self.prefix}-{name}" if self.prefix else name

    @property
    def secret(self) -> bool:
        return self.group == "secrets"


def input_kind(node: schemas.Field, group: str) -> str:
    if isinstance(node, schemas.String):
        if node.secret:
            return "password"
        if node.widget == "hidden":
            return "hidden"  # a fixed value the person does not choose (the Test tab's subAction)
        if node.widget == "pairs":
            return "pairs"  # a JSON object kept as text (the webhook's OAuth additionalFields)
        return "textarea" if node.widget in TEXTAREA_WIDGETS else "text"
    if isinstance(node, schemas.Boolean):
        return "checkbox" if isinstance(node.default, bool) else "tristate"
    if isinstance(node, schemas.Number):
        return "number"
    if isinstance(node, schemas.Enum):
        return "select"
    item = getattr(node, "item", None)
    if node.kind == "array" and getattr(item, "kind", None) in LINE_ITEM_KINDS:
        return "lines"  # (Array, and the ITSM types' NullableArray: Jira's labels)
    if node.kind == "array" and row_columns(item):
        return "rows"  # objects of strings: Slack's channels, PagerDuty's links, comments
    if isinstance(node, schemas.Record) and isinstance(node.values, schemas.String):
        return "pairs"  # HTTP headers: one `Name: value` per line, as Kibana's key/value rows
    if mapping_rows(node):
        return "mappings"  # named objects of strings: Swimlane's field mappings, one row each
    if text_or_texts(node):
        return "lines"  # text or a list of texts (ServiceNow SecOps' IPs): one per line
    return "json"  # other Records, Object, OneOf, Any, arrays of objects


def row_columns(item: Any) -> list[tuple[str, schemas.Field]]:
    """The columns of a `rows` input: the declared keys of an Object item when each is a String
    (one text input per row each; `widget="hidden"` ones are kept, not asked for), else none."""
    if not isinstance(item, schemas.Object) or not item.fields:
        return []
    if not all(isinstance(node, schemas.String) and not node.secret for node in item.fields.values()):
        return []
    return list(item.fields.items())


def mapping_rows(node: Any) -> list[tuple[str, schemas.Field]]:
    """The rows of a `mappings` input: an Object whose every key is a nullable Object of Strings
    (Swimlane's `mappings.alertIdConfig` = {id, key, name, fieldType}), one row per key; else none."""
    if not isinstance(node, schemas.Object) or not node.fields:
        return []
    if not all(isinstance(inner, schemas.Object) and row_columns(inner) for inner in node.fields.values()):
        return []
    return list(node.fields.items())


def text_or_texts(node: Any) -> bool:
    """`schema.oneOf([schema.string(), schema.arrayOf(schema.string())])`: one value or several."""
    options = getattr(node, "options", None)
    if not isinstance(node, schemas.OneOf) or not options or len(options) != 2:
        return False
    kinds = sorted(type(option).__name__ for option in options)
    array = next((option for option in options if isinstance(option, schemas.Array)), None)
    return kinds == ["Array", "String"] and isinstance(getattr(array, "item", None), schemas.String)


WHOLE = "__whole__"  # the key of the single JSON input used when a schema is not an Object


def specs_for(
    schema: schemas.Field,
    group: str,
    known_values: dict | None = None,
    *,
    nested: bool = False,
    _path: str = "",
) -> list[FieldSpec]:
    """One input per key of an Object schema; any other schema (say a top-level OneOf) is edited
    as one JSON object. `known_values` turns a string key into a select (a sub-action's `subAction`).
    `nested` gives the keys of an inner Object with declared keys their own inputs too (the Test
    tab's `subActionParams.incident.summary`) instead of one JSON object."""
    if not isinstance(schema, schemas.Object):
        return [FieldSpec(group, WHOLE, schema, "json")]
    specs = []
    for key, node in schema.fields.items():
        if nested and isinstance(node, schemas.Object) and node.fields:
            specs += specs_for(node, group, nested=True, _path=f"{_path}{key}.")
            continue
        key = f"{_path}{key}"
        if known_values and key in known_values and isinstance(node, schemas.String):
            specs.append(FieldSpec(group, key, node, "select", tuple(known_values[key])))
        elif isinstance(node, schemas.String) and node.choices:  # a free string with suggestions
            specs.append(FieldSpec(group, key, node, "select", node.choices))
        else:
            kind = input_kind(node, group)
            choices = tuple(node.values) if kind == "select" else ()
            specs.append(FieldSpec(group, key, node, kind, choices))
    return specs


def link_conditions(specs: list[FieldSpec], saved_config: dict | None = None) -> set[str]:
    """Resolve each `shown_when` key to an input: a sibling of the same group, else a config key
    (the secrets of a webhook depend on its config's `authType`). A key the form has no input for
    is decided by `saved_config` (the Fix form asks only for secrets); returns the names of the
    inputs that this hides for good."""
    by_group = {(spec.group, spec.key): spec for spec in specs}
    hidden = set()
    for spec in specs:
        conditions = []
        for key, wanted in spec.node.shown_when.items():
            negated = key.startswith("!")
            key = key.lstrip("!")
            values = wanted if isinstance(wanted, tuple | list) else (wanted,)
            control = by_group.get((spec.group, key)) or by_group.get(("config", key))
            if control is None:
                if saved_config is not None and (saved_config.get(key) in values) == negated:
                    hidden.add(spec.name)
                continue
            conditions.append((control.name, negated, [_as_text(control, value) for value in values]))
        spec.conditions = tuple(conditions)
    return hidden


def _as_text(spec: FieldSpec, value: Any) -> str:
    """A value as its input submits it: a checkbox's "true"/"false", a select's option value."""
    if spec.input == "checkbox":
        return "true" if value else "false"
    return _enum_text(value)


def submitted_text(spec: FieldSpec, data) -> str:
    posted = spec.prefixed(spec.name)
    if spec.input == "checkbox":
        return "true" if data.get(posted) not in (None, "", "false", "off") else "false"
    raw = data.get(posted, "")
    if raw == "" and spec.node.default not in (MISSING, None) and not callable(spec.node.default):
        return _as_text(spec, spec.node.default)  # blank means the default, as on save
    return raw


def visible_names(specs: list[FieldSpec], data) -> set[str]:
    """The inputs shown for these submitted values, as admin.js decides: an input is shown when
    every condition holds, and a hidden input's value counts as none."""
    shown: dict[str, bool] = {}

    def is_shown(spec: FieldSpec, depth: int = 0) -> bool:
        if spec.name not in shown:
            ok = True
            for name, negated, texts in spec.conditions:
                control = next(s for s in specs if s.name == name)
                text = submitted_text(control, data) if depth < 5 and is_shown(control, depth + 1) else None
                ok = ok and ((text in texts) != negated)
            shown[spec.name] = ok
        return shown[spec.name]

    return {spec.name for spec in specs if is_shown(spec)}


def display_rows(specs: list[FieldSpec], config: dict) -> list[tuple[str, str, str | None]]:
    """The read-only Configuration: (label, key, value in words or None for not set) for the keys
    the form would show for this config, so a no-auth webhook does not list an authentication."""
    link_conditions(specs)
    as_submitted = {}
    for spec in specs:
        value = config.get(spec.key, spec.node.default if not callable(spec.node.default) else MISSING)
        if value not in (MISSING, None):
            as_submitted[spec.prefixed(spec.name)] = (
                _as_text(spec, value) if spec.input in ("checkbox", "select") else "x"
            )
    shown = visible_names(specs, as_submitted)
    rows = []
    for spec in specs:
        if spec.name not in shown or spec.key not in config:
            continue
        value = config[spec.key]
        if value is None:
            text = None
        elif spec.input == "select":
            text = spec.choice_label(value)
        elif isinstance(value, bool):
            text = "Yes" if value else "No"
        elif spec.input in ("lines", "pairs", "rows", "mappings"):
            text = _display_text(spec, value)
        else:
            text = value if isinstance(value, str) else json.dumps(value)
        rows.append((_label(spec), spec.key, text))
    return rows


def _display_text(spec: FieldSpec, value: Any) -> str:
    """A list or pairs as the read-only page says them: "C0123ABCD #general; ops-alerts"."""
    shown = _initial_text(spec, value)
    if spec.input == "mappings" and isinstance(shown, dict):
        named = []
        for row, node in mapping_rows(spec.node):
            cells = shown.get(row) or {}
            if any(cells.values()):
                words = f"{cells.get('name') or cells.get('id')} ({cells['key']})" if cells.get("key") else ""
                named.append(
                    f"{_column_label(row, node)}: {words or ' '.join(v for v in cells.values() if v)}"
                )
        return "; ".join(named) or "None"
    if spec.input == "rows" and isinstance(shown, list):
        keys = [key for key, node in row_columns(spec.node.item) if node.widget != "hidden"]
        return "; ".join(" ".join(row[key] for key in keys if row[key]) for row in shown)
    if isinstance(shown, str) and not shown.lstrip().startswith(("{", "[")):
        return "; ".join(line for line in shown.splitlines() if line.strip())
    return value if isinstance(value, str) else json.dumps(value)


def _label(spec: FieldSpec) -> str:
    if spec.key == WHOLE:
        return spec.node.label or spec.group.capitalize()
    return spec.node.label or spec.key.rpartition(".")[2]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".?!)" else f"{text}."


def _help(spec: FieldSpec, has_stored_secret: bool) -> str:
    parts = [_sentence(spec.node.help)] if spec.node.help else []
    if spec.node.widget == "file":
        parts.append("Choose the file, or paste its content in base64.")
    if spec.input == "json":
        expected = {"array": "a JSON array", "record": "a JSON object", "object": "a JSON object"}
        parts.append(f"Enter {expected.get(spec.node.kind, 'JSON')}.")
    elif spec.input == "lines":
        parts.append("One value per line.")
    elif spec.input == "pairs":
        parts.append("One “Name: value” per line.")
    elif spec.input == "rows":
        parts.append("One per row; a blank row is left out.")
    elif spec.input == "mappings":
        parts.append("One field per row; leave a row blank for none.")
    if has_stored_secret:
        parts.append("A value is saved; leave blank to keep it.")
    elif spec.secret and not spec.node.required and not spec.node.shown_when:
        parts.append("Optional.")  # (one shown for a choice is what that choice needs)
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
        if isinstance(value, str) and text_or_texts(spec.node):
            return value
        return "\n".join(str(item) for item in value) if isinstance(value, list) else None
    if spec.input == "json":
        return json.dumps(value, indent=2)
    if spec.input == "pairs":
        if isinstance(value, str):  # a JSON object kept as text: lines when it reads as them
            try:
                parsed = json.loads(value)
            except ValueError:
                return value
            if not isinstance(parsed, dict) or not parsed:
                return value
            value = parsed
        if not isinstance(value, dict) or not all(_fits_a_line(k, v) for k, v in value.items()):
            # other JSON stays JSON (the input takes it too), so saving unchanged stores the same
            return value if isinstance(value, str) else json.dumps(value, indent=2)
        return "\n".join(f"{key}: {item}" for key, item in value.items())
    if spec.input == "rows":
        columns = row_columns(spec.node.item)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return None
        return [
            {key: "" if item.get(key) is None else str(item.get(key)) for key, _node in columns}
            for item in value
        ]
    if spec.input == "mappings":
        if not isinstance(value, dict):
            return None
        return {
            row: {
                key: "" if not isinstance(value.get(row), dict) else str(value[row].get(key) or "")
                for key, _node in row_columns(node)
            }
            for row, node in mapping_rows(spec.node)
        }
    if spec.input == "number":
        return str(value)
    return value if isinstance(value, str) else json.dumps(value)


def _fits_a_line(key: Any, value: Any) -> bool:
    """A pair that `Name: value` gives back unchanged."""
    return (
        isinstance(value, str)
        and isinstance(key, str)
        and key == key.strip()
        and ":" not in key
        and "\n" not in key
        and value == value.strip()
        and "\n" not in value
        and bool(key)
    )


class RowsWidget(forms.Widget):
    """A list of small objects (Slack's allowed channels, PagerDuty's links, comments) as a table:
    one row per item, one text input per key, named `<name>__<row>__<key>`, plus one blank row to
    add one more. admin.js adds "Add row" and "Remove" buttons; without it, each save adds one."""

    def __init__(self, columns: list[tuple[str, schemas.Field]], attrs=None):
        super().__init__(attrs)
        self.columns = columns

    def shown_columns(self) -> list[tuple[str, schemas.Field]]:
        return [(key, node) for key, node in self.columns if node.widget != "hidden"]

    def value_from_datadict(self, data, files, name):
        pattern = re.compile(rf"^{re.escape(name)}__(\d+)__(\w+)$")
        keys = {key for key, _node in self.columns}
        rows: dict[int, dict] = {}
        for posted in data:
            match = pattern.match(posted)
            if match and match.group(2) in keys:
                rows.setdefault(int(match.group(1)), {})[match.group(2)] = data.get(posted)
        if not rows:
            return None
        return [rows[index] for index in sorted(rows)]

    def value_omitted_from_data(self, data, files, name):
        return not any(key.startswith(f"{name}__") for key in data)

    def id_for_label(self, id_):
        shown = self.shown_columns()
        return f"{id_}__0__{shown[0][0]}" if id_ and shown else id_

    def format_value(self, value):
        return value if isinstance(value, list) else []

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        base_id = attrs.pop("id", f"id_{name}")
        shown = self.shown_columns()
        rows = [row for row in self.format_value(value) if isinstance(row, dict)]
        rows.append({})  # the blank row that adds one more
        head = "".join(
            format_html('<th scope="col">{}</th>', _column_label(key, node)) for key, node in shown
        )
        body = []
        for index, row in enumerate(rows):
            cells = []
            for key, node in self.columns:
                input_name, input_id = f"{name}__{index}__{key}", f"{base_id}__{index}__{key}"
                text = row.get(key) or ""
                if node.widget == "hidden":
                    cells.append(
                        format_html(
                            '<input type="hidden" name="{}" value="{}" data-col="{}">', input_name, text, key
                        )
                    )
                    continue
                label = f"{_column_label(key, node)}, row {index + 1}"
                if node.widget in TEXTAREA_WIDGETS:
                    control = format_html(
                        '<textarea name="{}" id="{}" rows="2" class="vLargeTextField" data-col="{}" '
                        'aria-label="{}" spellcheck="true">\n{}</textarea>',
                        input_name,
                        input_id,
                        key,
                        label,
                        text,
                    )
                else:
                    control = _text_cell_input(input_name, input_id, text, key, label)
                cells.append(format_html("<td>{}</td>", control))
            remove = format_html(
                '<td class="cx-rows-remove"><button type="button" class="button cx-button-small" '
                'data-remove-row hidden aria-label="Remove row {}">Remove</button></td>',
                index + 1,
            )
            body.append(format_html('<tr data-row="{}">{}{}</tr>', index, mark_safe("".join(cells)), remove))
        return format_html(
            '<div class="cx-rows" id="{}" data-rows="{}"{}><table class="cx-rows-table"><thead><tr>{}<th>'
            '<span class="cx-visually-hidden">Remove</span></th></tr></thead><tbody>{}</tbody></table>'
            '<button type="button" class="button cx-button-small" data-add-row hidden>Add row</button></div>',
            base_id,
            name,
            flatatt({k: v for k, v in attrs.items() if k.startswith("data-")}),
            mark_safe(head),
            mark_safe("".join(body)),
        )


class MappingsWidget(RowsWidget):
    """Named objects of strings (Swimlane's field mappings) as a table with one fixed row per name,
    labelled, and one text input per key, named `<name>__<row>__<key>`
    (`config__mappings__alertIdConfig__key`); no rows are added or removed."""

    def __init__(self, rows: list[tuple[str, schemas.Field]], attrs=None, conditions: dict | None = None):
        super().__init__(row_columns(rows[0][1]), attrs)
        self.rows = rows
        # a row's `shown_when` as admin.js reads it: [[input name, negated, values as text], ...]
        self.conditions = conditions or {}

    def shown(self, row: str, data) -> bool:
        """As admin.js decides: a row is shown while every condition holds for the posted values."""
        return all(
            (data.get(control) in texts) != negated
            for control, negated, texts in self.conditions.get(row, [])
            if control in data
        )

    def value_from_datadict(self, data, files, name):
        found: dict[str, dict] = {}
        for row, node in self.rows:
            if not self.shown(row, data):
                found[row] = {}  # a hidden row is no mapping (null), as a hidden field is not sent
                continue
            for key, _column in row_columns(node):
                posted = f"{name}__{row}__{key}"
                if posted in data:
                    found.setdefault(row, {})[key] = data.get(posted)
        return found or None

    def id_for_label(self, id_):
        return f"{id_}__{self.rows[0][0]}__{self.shown_columns()[0][0]}" if id_ else id_

    def format_value(self, value):
        return value if isinstance(value, dict) else {}

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        base_id = attrs.pop("id", f"id_{name}")
        shown = self.shown_columns()
        values = self.format_value(value)
        head = "".join(
            format_html('<th scope="col">{}</th>', _column_label(key, node)) for key, node in shown
        )
        body = []
        for row, node in self.rows:
            cells = []
            row_label = _column_label(row, node)
            for key, column in row_columns(node):
                text = (values.get(row) or {}).get(key) or ""
                control = _text_cell_input(
                    f"{name}__{row}__{key}",
                    f"{base_id}__{row}__{key}",
                    text,
                    key,
                    f"{row_label}, {_column_label(key, column).lower()}",
                )
                cells.append(format_html("<td>{}</td>", control))
            shown_when = self.conditions.get(row)
            body.append(
                format_html(
                    '<tr{}><th scope="row">{}</th>{}</tr>',
                    flatatt({"data-shown-when": json.dumps(shown_when)}) if shown_when else "",
                    row_label,
                    mark_safe("".join(cells)),
                )
            )
        return format_html(
            '<div class="cx-rows cx-mappings" id="{}" data-mappings="{}"{}><table class="cx-rows-table"><thead><tr>'
            '<th><span class="cx-visually-hidden">Mapping</span></th>{}</tr></thead><tbody>{}</tbody>'
            "</table></div>",
            base_id,
            name,
            flatatt({k: v for k, v in attrs.items() if k.startswith("data-")}),
            mark_safe(head),
            mark_safe("".join(body)),
        )


def _column_label(key: str, node: schemas.Field) -> str:
    return node.label or key


def _text_cell_input(input_name: str, input_id: str, text: str, key: str, label: str):
    """One text input of a rows or mappings table (the column's key in `data-col`, for admin.js)."""
    return format_html(
        '<input type="text" name="{}" id="{}" value="{}" class="vTextField" data-col="{}" aria-label="{}" '
        'autocomplete="off">',
        input_name,
        input_id,
        text,
        key,
        label,
    )


class SecretTextarea(forms.Textarea):
    """A textarea for a secret (secret headers) that, like a password input, never renders a value."""

    def format_value(self, value):
        return None


class SecretTextInput(forms.TextInput):
    """An unmasked member of the secrets (a username) that never renders a value either."""

    def format_value(self, value):
        return None


def _row_conditions(spec: FieldSpec) -> dict[str, list]:
    """The `shown_when` of a `mappings` input's rows, on its siblings' inputs (Swimlane's
    `connectorType`)."""
    conditions: dict[str, list] = {}
    for row, node in mapping_rows(spec.node):
        for key, wanted in node.shown_when.items():
            values = wanted if isinstance(wanted, tuple | list) else (wanted,)
            control = spec.prefixed(f"{spec.group}__{key.lstrip('!')}")
            texts = [_enum_text(value) for value in values]
            conditions.setdefault(row, []).append([control, key.startswith("!"), texts])
    return conditions


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
    if spec.secret:
        # A secret is never rendered, stored or just typed: no secret is ever in a page's HTML. After
        # a rejected submit admin.js puts back what was typed (kept in the tab for that one
        # navigation, `data-secret`), so nobody retypes a password because the URL was wrong.
        attrs["data-secret"] = "true"
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
    if kind == "hidden":
        return forms.CharField(label=label, required=False, initial=initial_text, widget=forms.HiddenInput)
    if kind == "tristate":
        choices = [(BLANK, "(not set)"), ("true", "Yes"), ("false", "No")]
        return forms.ChoiceField(
            label=label, help_text=help_text, required=False, choices=choices, initial=initial_text
        )
    if kind == "select":
        choices = [(_enum_text(v), spec.choice_label(v)) for v in spec.choices]
        if initial_text is not None and initial_text not in {value for value, _ in choices}:
            choices.append((initial_text, initial_text))  # a saved value the list does not offer
        # A blank option only when blank means something: not for a free string's suggestions, not
        # when blank is the default anyway, and not for a choice that appears because of another
        # one (Kibana's certificate type under SSL always has a value).
        offer_blank = not node.required and not node.choices and not node.shown_when
        if offer_blank and node.default not in (MISSING, None):
            offer_blank = False
        if initial_text is None and not offer_blank and spec.choices:
            default = node.default
            if default in (MISSING, None) or callable(default):
                default = spec.choices[0]
            initial_text = _enum_text(default)
        if offer_blank:
            default = node.default if node.default is not MISSING else None
            blank_label = f"(default: {default})" if default is not None else "(not set)"
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
    if kind == "rows":
        return forms.Field(
            label=label,
            help_text=help_text,
            required=False,  # a blank list is left out; the schema says when one is needed
            initial=initial_text,
            widget=RowsWidget(row_columns(node.item), attrs=attrs),
        )
    if kind == "mappings":
        return forms.Field(
            label=label,
            help_text=help_text,
            required=False,  # a blank row is no mapping; the type's checks say which it needs
            initial=initial_text,
            widget=MappingsWidget(mapping_rows(node), attrs=attrs, conditions=_row_conditions(spec)),
        )
    if kind in ("textarea", "lines", "json", "pairs"):
        css = "vLargeTextField code" if kind == "json" or node.widget == "code" else "vLargeTextField"
        rows = 6 if kind == "json" else 4
        textarea = SecretTextarea if spec.secret else forms.Textarea
        if (kind == "json" or node.widget == "code") and not spec.secret:
            attrs["placeholder"] = json_example(node)  # (a body or JSON template kept as text too)
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
    text_input = forms.EmailInput if node.widget == "email" else forms.TextInput
    if spec.secret:
        text_input = SecretTextInput
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        strip=False,
        initial=initial_text,
        widget=text_input(attrs={**attrs, "class": "vTextField", "autocomplete": "off"}),
    )


def json_example(node: schemas.Field) -> str:
    """The placeholder of a JSON textarea: the shape it takes, with made-up names."""
    if node.kind == "array":
        item = getattr(node, "item", None)
        inner = json_example(item) if item is not None else '{"field": "value"}'
        return f"[{inner}]"
    if node.kind in ("record", "object"):
        return '{"field": "value", "count": 1}'
    return '{"field": "value"}'


class InputError(ValueError):
    """A value the widget could not turn into the schema's type; the message is for people."""


def parse_value(spec: FieldSpec, raw: Any) -> Any:
    """Turn what the browser sent into a JSON value, or MISSING when left blank."""
    kind = spec.input
    if kind == "checkbox":
        return bool(raw)
    if kind == "mappings" and raw is None:
        raw = {}  # (every row left blank: each mapping is null, as Kibana's empty selects send)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return MISSING
    if kind == "rows":
        return _parse_rows(spec, raw)
    if kind == "mappings":
        return _parse_mappings(spec, raw)
    if kind == "tristate":
        return raw == "true"
    if kind == "select":
        for value in spec.choices:
            if _enum_text(value) == raw:
                return value
        if isinstance(spec.node, schemas.String):
            return raw  # a saved value outside the suggestions; the type's validation decides
        raise InputError("Choose one of the listed values.")
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise InputError("Enter a number.") from None
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "lines":
        items = [line.strip() for line in raw.splitlines() if line.strip()]
        if text_or_texts(spec.node):  # one is sent as text, as Kibana's forms send one IP
            return items[0] if len(items) == 1 else items
        if spec.node.item.kind == "number":
            try:
                return [float(item) if "." in item else int(item) for item in items]
            except ValueError:
                raise InputError("Enter one number per line.") from None
        return items
    if kind == "pairs" and not raw.lstrip().startswith("{"):  # (a JSON object is still accepted)
        pairs = {}
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            key, colon, value = line.partition(":")
            if not colon or not key.strip():
                raise InputError(f"Line {number}: write a name, a colon and the value (X-Team: ops).")
            pairs[key.strip()] = value.strip()
        return pairs
    if spec.node.widget == "email":
        _name, address = parseaddr(raw)
        try:
            validate_email(address)
        except ValidationError:
            raise InputError("Enter an email address such as alerts@example.com.") from None
    if kind in ("json", "pairs"):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise InputError(
                f"This is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
            ) from None
        problem = unstorable_problem(value, "")  # `\u0000`, `\ud800` (a raw NUL Django refuses)
        if problem:
            what = "the NUL character (U+0000)" if problem.endswith(NUL_MESSAGE) else "a lone surrogate"
            raise InputError(f"This must not contain {what}.")
        return value
    return raw


def _parse_rows(spec: FieldSpec, rows: list[dict]) -> Any:
    """A `rows` input's rows as a list of objects: blank rows are left out, a blank optional cell is
    null (when the key may be) or left out, a blank hidden cell numbers its row (a comment's id)."""
    items = []
    for number, row in enumerate(rows, start=1):
        # (browsers send a textarea's line breaks as CRLF)
        texts = {
            key: (row.get(key) or "").replace("\r\n", "\n").strip()
            for key, _node in row_columns(spec.node.item)
        }
        asked = [key for key, node in row_columns(spec.node.item) if node.widget != "hidden"]
        if not any(texts[key] for key in asked):
            continue
        item = {}
        for key, node in row_columns(spec.node.item):
            text = texts[key]
            if text:
                item[key] = text
            elif node.widget == "hidden":
                item[key] = str(len(items) + 1)
            elif node.required:
                raise InputError(f"Row {number}: enter the {_column_label(key, node).lower()}.")
            elif node.nullable:
                item[key] = None
        items.append(item)
    return items or MISSING


def _parse_mappings(spec: FieldSpec, rows: dict) -> dict:
    """A `mappings` input's rows as an object: a blank row is null (no mapping), a full row an object,
    a half-filled one "Alert id field: enter the name." on the field."""
    result: dict = {}
    for row, node in mapping_rows(spec.node):
        cells = rows.get(row) or {}
        texts = {key: (cells.get(key) or "").strip() for key, _column in row_columns(node)}
        if not any(texts.values()):
            if node.nullable:
                result[row] = None
            continue
        for key, column in row_columns(node):
            if not texts[key] and column.required:
                raise InputError(
                    f"{_column_label(row, node)}: enter the {_column_label(key, column).lower()}."
                )
        result[row] = {key: text for key, text in texts.items() if text}
    return result


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
    match = re.fullmatch(r"expected a plain object value, but found \[(\w+)\] instead\.", message)
    if match:  # config-schema's object (a record says `expected value of type [object] ...`)
        got = match.group(1)
        return (
            "This field cannot be empty."
            if got == "null"
            else f"Enter a JSON object, not {TYPE_WORDS.get(got, got)}."
        )
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
    match = re.fullmatch(r"could not parse (object|array|record) value from json input", message)
    if match:  # config-schema reads a string given for an object or array as JSON
        kind = {"record": "object"}.get(match.group(1), match.group(1))
        return f"Enter {TYPE_WORDS[kind]}, not text."
    if message == "definition for this key is missing":
        return "This key is not allowed here."
    return message


def split_error(message: str) -> tuple[str | None, str]:
    """`error validating action type config: [url.0]: …` -> ("url", plain words)."""
    inner = PREFIX_RE.sub("", message.strip(), count=1)
    inner = PREFIX_RE.sub(
        "", inner, count=1
    )  # a type's own prefix inside ("error validation webhook action config: ")
    match = PATH_RE.match(inner)
    if not match:
        return None, inner
    path, rest = match.groups()
    key, _, sub = path.partition(".")
    # a nested path inside a types-that-failed list starts with the key too
    text = plain_words(rest)
    item = re.fullmatch(r"(\d+)(?:\.(.+))?", sub)
    if item:  # `[links.0.href]`: "Item 1, href: …"
        number, inner = item.groups()
        text = f"Item {int(number) + 1}, {inner}: {text}" if inner else f"Item {int(number) + 1}: {text}"
    elif sub:
        text = f"{sub}: {text}"
    return key, text


UNION_LINE_RE = re.compile(r"^- \[\d+\.([^\]]+)\]: (.*)$")
NULLABLE_RE = re.compile(
    r"types that failed validation:\n- \[[^\]]*\.0\]: (.*)\n- \[[^\]]*\.1\]: expected value to equal \[null\]",
    re.DOTALL,
)


def chosen_alternative(message: str) -> str:
    """A sub-action union's failure lists every sub-action (`- [0.subAction]: expected value to
    equal [getFields]` …); those that failed only on `subAction` are not the one sent. When one is
    left, its own error, as `[subActionParams.incident.otherFields]: …` (and a nullable's `null`
    alternative dropped), so it goes on its input in plain words."""
    inner = PREFIX_RE.sub("", message.strip(), count=1)
    if not inner.startswith("types that failed validation:"):
        return message
    alternatives: list[tuple[str, list[str]]] = []
    for line in inner.splitlines()[1:]:
        match = UNION_LINE_RE.match(line)
        if match:
            alternatives.append((match.group(1), [match.group(2)]))
        elif alternatives:
            alternatives[-1][1].append(line[1:] if line.startswith(" ") else line)
    left = [
        (path, lines)
        for path, lines in alternatives
        if path.rpartition(".")[2] != "subAction" or not lines[0].startswith("expected value to equal [")
    ]
    if len(left) != 1:
        return message
    path, lines = left[0]
    text = "\n".join(lines)
    nullable = NULLABLE_RE.fullmatch(text)
    return f"[{path}]: {nullable.group(1) if nullable else text}"


def attach_error(form: forms.Form, group: str, message: str, specs: list[FieldSpec]) -> None:
    """Put a validation error on its field when it names one, else on the whole form."""
    message = chosen_alternative(message)
    keys = {spec.key: spec for spec in specs if spec.group == group}
    key, text = split_error(message)
    inner = PATH_RE.match(PREFIX_RE.sub("", message.strip(), count=1))
    if inner and "." in inner.group(1) and any("." in name for name in keys):
        # a nested input (`specs_for(nested=True)`): the longest key the path starts with
        path = inner.group(1).split(".")
        for end in range(len(path), 1, -1):
            if ".".join(path[:end]) in keys:
                key, rest = ".".join(path[:end]), path[end:]
                text = plain_words(inner.group(2))
                if rest:
                    text = f"{'.'.join(rest)}: {text}"
                break
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
        # "username and password must both be specified": on the named inputs left blank
        blank = [
            spec for spec in named if form.data is not None and not form.data.get(spec.prefixed(spec.name))
        ]
        if len(named) > 1 and blank:
            for spec in blank:
                form.add_error(spec.name, text)
            return
    form.add_error(None, text or message)


def dig(values: Any, key: str) -> Any:
    """The value of a key, or of a nested input's dotted key (`subActionParams.incident.summary`)."""
    for part in key.split("."):
        if not isinstance(values, dict) or part not in values:
            return MISSING
        values = values[part]
    return values


def _shows_as_blank(spec: FieldSpec, value: Any) -> bool:
    """An empty list or text, which the input shows blank and a blank input leaves out."""
    return value in ([], "") and parse_value(spec, _initial_text(spec, value)) is MISSING


def unshown(specs: list[FieldSpec], values: dict) -> dict:
    """The part of `values` these inputs do not give back: keys with no input (at any depth of a
    nested input's Objects) and empty lists or texts an input shows blank. The rule editor carries
    it beside the inputs and puts it back under what they send (`with_kept`), so an action's params
    the form does not ask for are kept as Kibana's form keeps them (the email footer link)."""
    by_key = {spec.key: spec for spec in specs}

    def walk(obj: dict, path: str) -> dict:
        kept = {}
        for key, value in obj.items():
            full = f"{path}{key}"
            spec = by_key.get(full)
            if spec is not None:
                if _shows_as_blank(spec, value):
                    kept[key] = value
                continue
            if isinstance(value, dict) and any(k.startswith(f"{full}.") for k in by_key):
                inner = walk(value, f"{full}.")
                if inner:
                    kept[key] = inner
                continue
            kept[key] = value
        return kept

    return walk(values, "")


def with_kept(values: dict, kept: dict) -> dict:
    """`values` with what `unshown` set aside put back where the inputs sent nothing."""
    merged = dict(values)
    for key, value in kept.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = with_kept(merged[key], value)
    return merged


def round_trips(specs: list[FieldSpec], values: dict) -> bool:
    """Whether these inputs, with what `unshown` keeps beside them, give `values` back when saved
    unchanged: every value an input shows reads back as itself (no null, no number where text is
    asked). The rule editor asks for an action's params with inputs only then, else with the params
    schema's own inputs, so nothing stored is lost."""
    rebuilt: dict = {}
    for spec in specs:
        target = rebuilt
        *parents, last = spec.key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        value = dig(values, spec.key)
        if value is MISSING or _shows_as_blank(spec, value):
            continue
        try:
            if parse_value(spec, _initial_text(spec, value)) != value:
                return False
        except InputError:
            return False
        target[last] = value
    return with_kept(rebuilt, unshown(specs, values)) == values


class SchemaForm(forms.Form):
    """A form over one or more schema groups (config and secrets, or params). `prefix` lets several
    share one HTML form (the rule editor's `rule-params__index`, `action-0-params__body`)."""

    def __init__(
        self,
        data=None,
        *,
        specs: list[FieldSpec],
        initial_values: dict[str, dict] | None = None,
        stored_secret_keys: set[str] | frozenset = frozenset(),
        with_name: bool = False,
        name_initial: str = "",
        saved_config: dict | None = None,
        prefix: str | None = None,
        send_hidden: bool = False,
    ):
        super().__init__(data, prefix=prefix)
        self.specs = specs
        for spec in specs:
            spec.prefix = prefix or ""
        self.stored_secret_keys = set(stored_secret_keys)
        if with_name:
            self.fields["name"] = forms.CharField(
                label="Connector name",
                max_length=CONNECTOR_NAME_MAX_LENGTH,
                initial=name_initial,
                error_messages={
                    "max_length": "Enter at most %(limit_value)d characters (this has %(show_value)d)."
                },
                widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
            )
        initial_values = initial_values or {}
        self.initial_values = initial_values
        for spec in specs:
            stored = spec.secret and (
                spec.key in self.stored_secret_keys or (spec.key == WHOLE and bool(self.stored_secret_keys))
            )
            group_initial = initial_values.get(spec.group, {})
            initial = group_initial if spec.key == WHOLE else dig(group_initial, spec.key)
            self.fields[spec.name] = django_field(spec, initial=initial, has_stored_secret=stored)
            if stored:
                self.fields[f"{spec.name}__clear"] = forms.BooleanField(
                    label=f"Remove the saved {_label(spec).lower()}", required=False
                )
        never_shown = link_conditions(specs, saved_config)
        # Inputs hidden by the submitted choices are not asked for and not sent, unless `send_hidden`
        # (Kibana's rule form keeps a hidden param: aggField stays when aggType goes back to count).
        if data is not None and not send_hidden:
            self.visible = visible_names(specs, data)
        else:
            self.visible = {spec.name for spec in specs}
        self.visible -= never_shown
        self.never_shown = never_shown
        for spec in specs:
            if spec.name not in self.visible:
                self.fields[spec.name].required = False

    def visible_specs(self, group: str) -> list[FieldSpec]:
        return [spec for spec in self.group_specs(group) if spec.name in self.visible]

    def group_specs(self, group: str) -> list[FieldSpec]:
        return [spec for spec in self.specs if spec.group == group]

    def bound_rows(self, group: str) -> list[dict]:
        """What the template iterates: the bound field, its spec and its optional clear box."""
        rows = []
        for spec in self.group_specs(group):
            if spec.name in self.never_shown:
                continue
            clear = f"{spec.name}__clear"
            rows.append(
                {
                    "field": self[spec.name],
                    "spec": spec,
                    "clear": self[clear] if clear in self.fields else None,
                }
            )
        return rows

    def _object_as_text(self, spec: FieldSpec, value: Any) -> Any:
        """A `pairs` input over a String (a JSON object kept as text): the saved text when the
        object is the same, so saving unchanged stores the same config."""
        if not isinstance(value, dict):
            self.add_error(spec.name, "Enter one “Name: value” per line, or a JSON object.")
            return MISSING
        saved = self.initial_values.get(spec.group, {}).get(spec.key)
        if isinstance(saved, str):
            try:
                if json.loads(saved) == value:
                    return saved
            except ValueError:
                pass
        return json.dumps(value)

    def values(self, group: str, stored: dict | None = None, reenter: str | None = None) -> dict:
        """The group's JSON values; blank secrets keep `stored` values, unless `reenter` (a reason)
        is given: then a blank secret that has a saved value is a field error saying why. Adds field
        errors for inputs that cannot be parsed (bad JSON, not a number)."""
        result: dict = {}
        for spec in self.group_specs(group):
            if spec.name not in self.visible:
                # Kibana's flyout sends null for a hidden choice ("authType must be null or
                # undefined if hasAuth is false"); a hidden secret is dropped, saved or not.
                if group == "config" and spec.node.nullable and spec.key != WHOLE:
                    result[spec.key] = None
                continue
            raw = self.cleaned_data.get(spec.name)
            try:
                value = parse_value(spec, raw)
            except InputError as exc:
                self.add_error(spec.name, str(exc))
                continue
            if spec.input == "pairs" and isinstance(spec.node, schemas.String) and value is not MISSING:
                value = self._object_as_text(spec, value)
                if value is MISSING:
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
            if "." in spec.key:  # an inner Object's key: the Object is sent even when left blank
                *parents, last = spec.key.split(".")
                target = result
                for parent in parents:
                    target = target.setdefault(parent, {})
                if value is not MISSING:
                    target[last] = value
                continue
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
