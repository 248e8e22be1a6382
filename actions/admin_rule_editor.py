"""The rule editor: Kibana's rule flyout on the Django admin, with no JSON to write.

A rule type's `params_schema` and a connector type's `params_schema` become inputs through the
connectors admin's schema forms (`connectors.admin.forms`). Saving goes through the rules API's
own path (the route schema, then `actions.rules.create_rule` / `update_rule`), and its Kibana-worded
errors are put back on the fields they name. The space and the privilege in it decide as for
connectors: `read` sees the rule page, `all` may create, edit, snooze and mute.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.utils import ErrorDict
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from actions import rule_types
from actions.models import Alert, Rule
from actions.rule_snooze import snooze_rule, snoozed_until, unsnooze_rule
from actions.rules import (
    RuleError,
    check_consumer,
    check_groups,
    create_rule,
    disable_rule,
    enable_rule,
    get_rule_type,
    interval_seconds,
    iso,
    update_rule,
)
from connectors import privileges, registry, schemas
from connectors.access import AccessDenied, connector_for
from connectors.admin import forms as schema_forms
from connectors.admin.icons import icon_url
from connectors.admin.spaces import space_access
from connectors.admin.views import article
from connectors.conf import get_config
from connectors.models import Connector
from connectors.preconfigured import preconfigured_connectors
from connectors.services import ConnectorNotFound

CONSUMER = "alerts"  # Stack Management's rules (Kibana's `alerts` consumer)
UNITS = [("s", "seconds"), ("m", "minutes"), ("h", "hours"), ("d", "days")]
NOTIFY_CHOICES = [
    ("onActionGroupChange", "On status changes"),
    ("onActiveAlert", "On check intervals"),
    ("onThrottleInterval", "On custom action intervals"),
]
SUMMARY_CHOICES = [("false", "For each alert"), ("true", "Summary of alerts")]
SNOOZE_CHOICES = [("1h", "1 hour"), ("8h", "8 hours"), ("24h", "24 hours"), ("7d", "7 days")]
DURATION_RE = re.compile(r"^([1-9][0-9]*)([smhd])\Z")
LOG_DAYS = 30


# ---- forms --------------------------------------------------------------------------------------


class RuleDetailsForm(forms.Form):
    """Name, tags and schedule: what every rule has."""

    name = forms.CharField(
        label="Name",
        max_length=1024,
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        help_text="Separate tags with commas.",
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off", "data-tag-input": ""}),
    )
    schedule_value = forms.IntegerField(
        label="Check every", min_value=1, initial=1, widget=forms.NumberInput(attrs={"class": "rx-short"})
    )
    schedule_unit = forms.ChoiceField(label="Unit", choices=UNITS, initial="m")

    def tag_list(self) -> list[str]:
        text = self.cleaned_data.get("tags") or ""
        tags = []
        for tag in (part.strip() for part in text.split(",")):
            if tag and tag not in tags:
                tags.append(tag)
        return tags

    def interval(self) -> str:
        return f"{self.cleaned_data['schedule_value']}{self.cleaned_data['schedule_unit']}"


class ActionForm(forms.Form):
    """One action's connector, group and frequency; its params are a schema form beside it."""

    connector = forms.CharField(widget=forms.HiddenInput)
    uuid = forms.CharField(required=False, widget=forms.HiddenInput)
    # The params the inputs do not show, as JSON (`schema_forms.unshown`), put back on save.
    kept = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    group = forms.ChoiceField(label="Run when")
    summary = forms.ChoiceField(label="Action frequency", choices=SUMMARY_CHOICES, initial="false")
    notify_when = forms.ChoiceField(label="Notify", choices=NOTIFY_CHOICES, initial="onActionGroupChange")
    throttle_value = forms.IntegerField(
        label="Every", required=False, min_value=1, widget=forms.NumberInput(attrs={"class": "rx-short"})
    )
    throttle_unit = forms.ChoiceField(label="Throttle unit", choices=UNITS, initial="h")

    def __init__(self, *args, groups: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [(g["id"], g["name"]) for g in groups]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("notify_when") == "onThrottleInterval" and not cleaned.get("throttle_value"):
            self.add_error("throttle_value", "Enter how often the action may run.")
        return cleaned

    def frequency(self) -> dict:
        data = self.cleaned_data
        throttled = data["notify_when"] == "onThrottleInterval"
        return {
            "summary": data["summary"] == "true",
            "notify_when": data["notify_when"],
            "throttle": f"{data['throttle_value']}{data['throttle_unit']}" if throttled else None,
        }


def _quiet(*forms_: forms.Form) -> None:
    """Re-show posted values without judging them (adding or removing an action is not a save)."""
    for form in forms_:
        if form is not None:
            form._errors = ErrorDict()
            form.cleaned_data = {}


# ---- what the page is made of -------------------------------------------------------------------


@dataclass
class ConnectorChoice:
    id: str
    name: str
    type_id: str
    type_name: str
    icon: str
    preconfigured: bool
    problem: str = ""


@dataclass
class ActionEntry:
    index: int
    form: ActionForm
    connector: ConnectorChoice | None
    params_form: schema_forms.SchemaForm | None
    preview: str = ""
    structured: bool = False  # the type's `rule_params_schema` inputs, with `kept` beside them
    errors: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"action-{self.index}"

    @property
    def param_rows(self):
        return self.params_form.bound_rows("params") if self.params_form else []


def _connector_choice(connector: Connector) -> ConnectorChoice:
    type_id = connector.connector_type_id
    registered = registry.is_registered(type_id)
    connector_type = registry.get(type_id) if registered else None
    problem = ""
    if not registered:
        problem = "Unknown connector type."
    elif connector.is_missing_secrets and not connector.is_preconfigured:
        problem = "Missing secrets: use Fix on the connector first."
    elif not connector.is_preconfigured and not registry.is_enabled_in_config(type_id, get_config()):
        problem = "This connector type is disabled."
    return ConnectorChoice(
        id=connector.id,
        name=connector.name,
        type_id=type_id,
        type_name=connector_type.name if connector_type else type_id,
        icon=icon_url(type_id, connector_type.icon if connector_type else ""),
        preconfigured=connector.is_preconfigured,
        problem=problem,
    )


def space_connectors(space_id: str) -> list[ConnectorChoice]:
    """The connectors an action may use: the space's own and the preconfigured ones, by name.
    System connectors are left out (they cannot be picked in Kibana's rule form either)."""
    found = list(Connector.objects.filter(space_id=space_id)) + list(preconfigured_connectors().values())
    choices = []
    for connector in found:
        type_id = connector.connector_type_id
        if registry.is_registered(type_id) and registry.get(type_id).is_system_action_type:
            continue
        choices.append(_connector_choice(connector))
    return sorted(choices, key=lambda c: (c.name.lower(), c.id))


def _connector_or_none(
    privilege: str, space_id: str, connector_id: str
) -> tuple[ConnectorChoice | None, Any]:
    """The action's connector as the editor shows it, through the one lookup that checks the
    user's privilege (connectors.access): a user who may not read the space's connectors is told
    no more than about an id that does not exist."""
    try:
        connector = connector_for(privilege, connector_id, space_id=space_id, need=privileges.READ)
    except (AccessDenied, ConnectorNotFound):
        return None, None
    type_id = connector.connector_type_id
    return _connector_choice(connector), registry.get(type_id) if registry.is_registered(type_id) else None


def _params_specs(schema, sub_actions=None) -> list[schema_forms.FieldSpec]:
    """Inputs for a params schema; a connector type's sub-actions make `subAction` a select (as on
    the connector's Test tab)."""
    known = {"subAction": sorted(sub_actions)} if sub_actions else None
    return schema_forms.specs_for(schema if schema is not None else schemas.Any_(), "params", known)


def _action_params_specs(connector_type, prefix: str, params: dict, data) -> tuple[list, bool]:
    """An action's parameter inputs, and whether they are the type's `rule_params_schema` ones.
    A type declares that schema when Kibana's action form asks for less, or otherwise, than its
    params schema: Jira, ServiceNow, Swimlane … push an incident (one input per key of
    `subActionParams`), Email asks for to, cc, bcc, subject and message. What those inputs do not
    show (`schema_forms.unshown`: the email footer link, a key the form lacks) is carried beside
    them and kept. Stored params they cannot give back unchanged (another sub-action, a null) are
    shown as the params schema's inputs when those can, and so is a form posted from them: one that
    sends an input only the params schema's form has."""
    structured = getattr(connector_type, "rule_params_schema", None)
    full = _params_specs(connector_type.params_schema, getattr(connector_type, "sub_actions", None))
    if structured is None:
        return full, False
    specs = schema_forms.specs_for(structured, "params", nested=True)
    if data is not None:
        if not _posted_from(full, specs, prefix, data):
            return specs, True
    elif not params or schema_forms.round_trips(specs, params) or not schema_forms.round_trips(full, params):
        return specs, True  # (the params schema's inputs only when they do better)
    return full, False


def _posted_from(full: list, specs: list, prefix: str, data) -> bool:
    """Whether `data` was posted from the params schema's inputs rather than from `specs`: it holds
    an input only the former has (a checkbox, absent when unticked, says nothing)."""
    names = {spec.name for spec in specs}
    for spec in full:
        if spec.name in names or spec.input == "checkbox":
            continue
        widget = schema_forms.django_field(spec).widget
        if not widget.value_omitted_from_data(data, {}, f"{prefix}-{spec.name}"):
            return True
    return False


def default_action_params(rule_type: rule_types.RuleType, connector_type) -> dict:
    """Kibana pre-fills an action's message with the rule type's; ours is the alert's own message."""
    if connector_type is None:
        return {}
    names = {v["name"] for v in rule_type.action_variables.get("context", [])}
    text = "{{context.message}}" if names & {"message", "*"} else "Rule {{rule.name}}: alert {{alert.id}}"
    fields = getattr(connector_type.params_schema, "fields", {})
    for key in ("message", "body", "comments", "subject"):
        if isinstance(fields.get(key), schemas.String):
            return {key: text}
    return {}


def _action_entry(
    privilege: str, rule_type, space_id: str, index: int, data=None, *, initial: dict | None = None
) -> ActionEntry:
    prefix = f"action-{index}"
    initial = initial or {}
    connector_id = (data or {}).get(f"{prefix}-connector") if data is not None else initial.get("connector")
    choice, connector_type = _connector_or_none(privilege, space_id, connector_id or "")
    params_form = None
    structured = False
    if connector_type is not None:
        params = initial.get("params") or {}
        specs, structured = _action_params_specs(connector_type, prefix, params, data)
        if structured and data is None:
            initial = {**initial, "kept": json.dumps(schema_forms.unshown(specs, params)) if params else ""}
        params_form = schema_forms.SchemaForm(
            data,
            prefix=prefix,
            specs=specs,
            initial_values={"params": params},
        )
    form = ActionForm(data, prefix=prefix, initial=initial, groups=rule_type.all_action_groups())
    entry = ActionEntry(index, form, choice, params_form, structured=structured)
    if choice is None:
        entry.errors.append(f"The connector {connector_id} does not exist in this space.")
    elif connector_type is None:
        entry.errors.append("This connector's type is not available, so its parameters cannot be edited.")
    return entry


def _initial_action(rule: Rule, action: dict) -> dict:
    frequency = action.get("frequency") or {
        "summary": False,
        "notify_when": rule.notify_when or "onActiveAlert",
        "throttle": rule.throttle,
    }
    throttle = DURATION_RE.match(frequency.get("throttle") or "")
    return {
        "connector": action["id"],
        "uuid": action.get("uuid") or "",
        "group": action.get("group"),
        "summary": "true" if frequency.get("summary") else "false",
        "notify_when": frequency.get("notify_when") or "onActiveAlert",
        "throttle_value": int(throttle.group(1)) if throttle else None,
        "throttle_unit": throttle.group(2) if throttle else "h",
        "params": action.get("params") or {},
    }


# ---- variables and the preview ------------------------------------------------------------------

COMMON_VARIABLES = [
    ("rule.name", "The name of the rule.", ""),
    ("rule.id", "The ID of the rule.", ""),
    ("rule.type", "The type of rule.", ""),
    ("rule.spaceId", "The space ID of the rule.", ""),
    ("rule.tags", "The tags of the rule.", ""),
    ("rule.url", "The URL to the rule that generated the alert.", ""),
    ("date", "The date the rule scheduled the action.", ""),
    ("kibanaBaseUrl", "The configured server.publicBaseUrl value or empty string if not configured.", ""),
    ("alert.id", "The ID of the alert that scheduled actions for the rule.", "alert"),
    ("alert.uuid", "The UUID of the alert that scheduled actions for the rule.", "alert"),
    (
        "alert.actionGroup",
        "The ID of the action group of the alert that scheduled actions for the rule.",
        "alert",
    ),
    ("alert.actionGroupName", "The human readable name of the action group of the alert.", "alert"),
    (
        "alert.flapping",
        "A flag on the alert that indicates whether the alert status is changing repeatedly.",
        "alert",
    ),
    ("alert.consecutiveMatches", "The number of consecutive runs that meet the rule conditions.", "alert"),
    ("alerts.new.count", "The count of new alerts.", "summary"),
    ("alerts.ongoing.count", "The count of ongoing alerts.", "summary"),
    ("alerts.recovered.count", "The count of recovered alerts.", "summary"),
    ("alerts.all.count", "The count of all alerts.", "summary"),
]


def action_variables(rule_type: rule_types.RuleType) -> list[dict]:
    """The variables menu: the rule type's context and params, then Kibana's common ones.
    `only` is "alert" (per-alert actions), "summary" (summaries) or "" (both)."""
    items = []
    for variable in rule_type.action_variables.get("context", []):
        name = "context.message" if variable["name"] == "*" else f"context.{variable['name']}"
        items.append({"name": name, "description": variable["description"], "only": "alert"})
    for variable in rule_type.action_variables.get("params", []):
        items.append(
            {"name": f"rule.params.{variable['name']}", "description": variable["description"], "only": ""}
        )
    items += [{"name": n, "description": d, "only": only} for n, d, only in COMMON_VARIABLES]
    return items


SAMPLE_CONTEXT = {
    "message": "alert '{name}' is active for group 'host-1':\n\n- Value: 42\n- Conditions Met: count is greater "
    "than 10 over 5m\n- Timestamp: {date}",
    "title": "alert {name} group host-1 met threshold",
    "group": "host-1",
    "value": 42,
    "conditions": "count is greater than 10",
    "connectorId": "3f2a…",
    "connectorName": "Ops webhook",
    "failures": 3,
    "lastError": "an error occurred while running the action",
}


def sample_variables(
    rule_type, *, space_id: str, name: str, tags: list[str], params: dict, group: str, summary: bool
) -> dict:
    """What a run would give the templates, with sample values (the run's own `build_variables`)."""
    from actions.rule_variables import alert_doc, build_variables

    now = timezone.now()
    rule = Rule(id="sample-rule-id", space_id=space_id, name=name or "My rule", tags=tags, params=params)
    rule.rule_type_id = rule_type.type_id
    context = {}
    for variable in rule_type.action_variables.get("context", []):
        key = "message" if variable["name"] == "*" else variable["name"]
        sample = SAMPLE_CONTEXT.get(key, f"<{key}>")
        if key == "date":
            sample = iso(now)
        if isinstance(sample, str):
            sample = sample.format(name=rule.name, date=iso(now))
        context[key] = sample
    alert = Alert(alert_id="host-1", uuid="sample-alert-uuid", action_group=group, context=context)
    alert.consecutive_matches = 1
    if summary:
        doc = alert_doc(rule, alert, "active", now)
        alerts = {
            "new": {"count": 1, "data": [doc]},
            "ongoing": {"count": 0, "data": []},
            "recovered": {"count": 0, "data": []},
            "all": {"count": 1, "data": [doc]},
        }
        return build_variables(rule, rule_type, None, None, {}, now, alerts)
    return build_variables(rule, rule_type, alert, group, context, now)


def render_preview(connector_type, params: dict, variables: dict) -> str:
    from actions import mustache

    rendered = mustache.render_object(params, variables, connector_type.escape)
    if len(rendered) == 1 and isinstance(next(iter(rendered.values())), str):
        return next(iter(rendered.values()))  # one text param (a message, a body): show it as text
    return json.dumps(rendered, indent=2, ensure_ascii=False)


# ---- one editor for create and edit ---------------------------------------------------------------


class Editor:
    """The forms of one page: details, the rule type's params, and the actions."""

    def __init__(self, request, rule_type, space, rule: Rule | None = None):
        self.request = request
        self.rule_type = rule_type
        self.space = space
        self.rule = rule
        self.privilege = privileges.privilege_for(request.user, space.id)
        self.posted = request.method == "POST"
        data = request.POST if self.posted else None
        self.details = RuleDetailsForm(data, initial=self._initial_details())
        self.params_specs = _params_specs(rule_type.params_schema)
        self.params_form = schema_forms.SchemaForm(
            data,
            prefix="rule",
            specs=self.params_specs,
            initial_values={"params": rule.params if rule else {}},
            send_hidden=True,  # a param its `shown_when` hides keeps its value, as in Kibana's rule form
        )
        if self.posted:
            indices = []
            for text in request.POST.getlist("actions"):
                if text.isdigit() and int(text) not in indices:
                    indices.append(int(text))
            self.actions = [
                _action_entry(self.privilege, rule_type, space.id, i, request.POST) for i in indices
            ]
        else:
            stored = rule.actions if rule else []
            self.actions = [
                _action_entry(self.privilege, rule_type, space.id, i, initial=_initial_action(rule, a))
                for i, a in enumerate(stored)
            ]
        self.errors: list[str] = []
        self.action_errors: list[str] = []

    def _initial_details(self) -> dict:
        if self.rule is None:
            return {"schedule_value": 1, "schedule_unit": "m"}
        match = DURATION_RE.match(self.rule.schedule_interval or "")
        return {
            "name": self.rule.name,
            "tags": ", ".join(self.rule.tags or []),
            "schedule_value": int(match.group(1)) if match else 1,
            "schedule_unit": match.group(2) if match else "m",
        }

    def next_index(self) -> int:
        return max((entry.index for entry in self.actions), default=-1) + 1

    def add_action(self, connector_id: str) -> None:
        _, connector_type = _connector_or_none(self.privilege, self.space.id, connector_id)
        initial = {
            "connector": connector_id,
            "group": self.rule_type.default_action_group_id,
            "summary": "false",
            "notify_when": "onActionGroupChange",
            "throttle_unit": "h",
            "params": default_action_params(self.rule_type, connector_type),
        }
        self.actions.append(
            _action_entry(self.privilege, self.rule_type, self.space.id, self.next_index(), initial=initial)
        )

    def quiet(self) -> None:
        _quiet(
            self.details,
            self.params_form,
            *[e.form for e in self.actions],
            *[e.params_form for e in self.actions],
        )

    # ---- previews ------------------------------------------------------------------------------

    def _loose_value(self, form, name, default=""):
        if form.is_bound:
            return form.data.get(form.add_prefix(name), default)
        return form.initial.get(name, form.fields[name].initial or default)

    def preview_of(self, entry: ActionEntry) -> str:
        """The action's message rendered with sample values. Reads what was typed without judging
        it, so a half-filled form still previews."""
        if entry.params_form is None or entry.connector is None:
            return ""
        connector_type = registry.get(entry.connector.type_id)
        params = _loose_values(entry.params_form)
        rule_params = _loose_values(self.params_form)
        tags = [t.strip() for t in str(self._loose_value(self.details, "tags")).split(",") if t.strip()]
        variables = sample_variables(
            self.rule_type,
            space_id=self.space.id,
            name=str(self._loose_value(self.details, "name")),
            tags=tags,
            params=rule_params,
            group=str(self._loose_value(entry.form, "group")) or self.rule_type.default_action_group_id,
            summary=str(self._loose_value(entry.form, "summary")) == "true",
        )
        return render_preview(connector_type, params, variables)

    def fill_previews(self) -> None:
        for entry in self.actions:
            entry.preview = self.preview_of(entry)

    # ---- saving ---------------------------------------------------------------------------------

    def body(self) -> dict | None:
        """The API body, or None when a form already has a problem."""
        ok = self.details.is_valid()
        self.params_form.is_valid()
        params = self.params_form.values("params")
        actions = []
        stored = {a.get("uuid"): a for a in (self.rule.actions if self.rule else []) if a.get("uuid")}
        for entry in self.actions:
            ok = entry.form.is_valid() and ok
            if entry.errors or entry.params_form is None:
                ok = False
                continue
            entry.params_form.is_valid()
            action_params = entry.params_form.values("params")
            if entry.structured:
                action_params = schema_forms.with_kept(action_params, _kept(entry))
            if not entry.params_form.errors:
                self._check_action_params(entry, action_params)
            if not entry.form.is_valid():
                ok = False
                continue
            action = {
                "group": entry.form.cleaned_data["group"],
                "id": entry.form.cleaned_data["connector"],
                "params": action_params,
                "frequency": entry.form.frequency(),
            }
            previous = stored.get(entry.form.cleaned_data.get("uuid"))
            if previous is not None:  # keep what the editor does not show (alerts filter …)
                action["uuid"] = previous["uuid"]
                for key in ("alerts_filter", "use_alert_data_for_template"):
                    if key in previous:
                        action[key] = previous[key]
            actions.append(action)
        if (
            not ok
            or self.params_form.errors
            or any(e.params_form and e.params_form.errors for e in self.actions)
        ):
            return None
        body = {
            "name": self.details.cleaned_data["name"],
            "tags": self.details.tag_list(),
            "schedule": {"interval": self.details.interval()},
            "params": params,
            "actions": actions,
        }
        if self.rule is not None:
            for key in ("alert_delay", "flapping"):
                if getattr(self.rule, key) is not None:
                    body[key] = getattr(self.rule, key)
        else:
            body.update({"rule_type_id": self.rule_type.type_id, "consumer": CONSUMER, "enabled": True})
        return body

    def _check_action_params(self, entry: ActionEntry, params: dict) -> None:
        """Kibana's rule form checks action params with the connector type's form validation; here
        the type's params schema does, except values that hold a Mustache template (checked when
        rendered)."""
        connector_type = registry.get(entry.connector.type_id)
        try:
            schemas.validate_object(connector_type.params_schema, params)
        except schemas.SchemaError as exc:
            key, _ = schema_forms.split_error(str(exc))
            if key and "{{" in json.dumps(params.get(key, "")):
                return
            schema_forms.attach_error(entry.params_form, "params", str(exc), entry.params_form.specs)

    def save(self, user: str) -> Rule | None:
        """Validate like the API and save; None (with errors on the forms) when refused."""
        from actions.api.views import CREATE_BODY, UPDATE_BODY, _strip_absent

        body = self.body()
        if body is None:
            return None
        schema = UPDATE_BODY if self.rule is not None else CREATE_BODY
        try:
            cleaned = _strip_absent(schema.validate(body, "request body"), body)
        except schemas.SchemaError as exc:
            self.attach(str(exc))
            return None
        try:
            check_groups(cleaned["actions"])
            if self.rule is None:
                check_consumer(get_rule_type(cleaned["rule_type_id"]), cleaned["consumer"], "create")
                return create_rule(self.space, cleaned, user=user)
            return update_rule(self.rule, cleaned, user=user)
        except RuleError as exc:
            self.attach(exc.message)
            return None

    # ---- errors on their fields -----------------------------------------------------------------

    def attach(self, message: str) -> None:
        schema_match = re.match(r"^\[request body\.([^\]]+)\]: (.*)$", message, re.DOTALL)
        if schema_match:
            self._attach_schema(*schema_match.groups())
            return
        if message.startswith("params invalid: "):
            inner = message[len("params invalid: ") :]
            whole = [spec for spec in self.params_specs if spec.key == schema_forms.WHOLE]
            if whole:  # one JSON input: the message, with the key it names, goes on it
                self.params_form.add_error(whole[0].name, inner)
            else:
                schema_forms.attach_error(self.params_form, "params", inner, self.params_specs)
            return
        loading = re.match(r"^Failed to load action (.+?) \(404\)", message)
        if loading:
            for entry in self.actions:
                if entry.form.cleaned_data.get("connector") == loading.group(1):
                    entry.errors.append(message)
                    return
        if message.startswith("Failed to validate actions due to the following"):
            self._attach_action_problems(message)
            return
        self.errors.append(message)

    def _attach_schema(self, path: str, text: str) -> None:
        parts = path.split(".")
        words = schema_forms.plain_words(text)
        if parts[0] == "name":
            self.details.add_error("name", words)
        elif parts[0] == "tags":
            self.details.add_error("tags", words)
        elif parts[0] == "schedule":
            self.details.add_error("schedule_value", words)
        elif (
            parts[0] == "actions"
            and len(parts) > 1
            and parts[1].isdigit()
            and int(parts[1]) < len(self.actions)
        ):
            form = self.actions[int(parts[1])].form
            target = {"throttle": "throttle_value", "notify_when": "notify_when", "group": "group"}.get(
                parts[-1]
            )
            form.add_error(target if target in form.fields else None, words)
        else:
            self.errors.append(f"[{path}]: {text}")

    def _attach_action_problems(self, message: str) -> None:
        body = message.split(":", 1)[1].strip()
        problems = [line[2:] for line in body.splitlines() if line.startswith("- ")] or [body]
        interval = self.details.interval()
        for problem in problems:
            placed = False
            if problem.startswith("Invalid action groups: "):
                bad = {g.strip() for g in problem.split(": ", 1)[1].split(",")}
                for entry in self.actions:
                    if entry.form.cleaned_data.get("group") in bad:
                        entry.form.add_error("group", "This action group does not exist for the rule type.")
                        placed = True
            elif problem.startswith("Invalid connectors: "):
                names = {n.strip() for n in problem.split(": ", 1)[1].split(",")}
                for entry in self.actions:
                    if entry.connector and entry.connector.name in names:
                        entry.errors.append("This connector has no secrets: use Fix on the connector first.")
                        placed = True
            elif problem.startswith("Action frequency cannot be shorter than the schedule interval"):
                for entry in self.actions:
                    frequency = entry.form.frequency()
                    if frequency["throttle"] and interval_seconds(frequency["throttle"]) < interval_seconds(
                        interval
                    ):
                        entry.form.add_error(
                            "throttle_value",
                            f"Action frequency cannot be shorter than the schedule interval of {interval}.",
                        )
                        placed = True
            if not placed:
                self.action_errors.append(problem)

    @property
    def has_errors(self) -> bool:
        return bool(
            self.errors
            or self.action_errors
            or self.details.errors
            or self.params_form.errors
            or any(
                e.errors or e.form.errors or (e.params_form and e.params_form.errors) for e in self.actions
            )
        )


def _kept(entry: ActionEntry) -> dict:
    """What the action's inputs do not show, as the page carried it (`ActionForm.kept`)."""
    text = entry.form.data.get(entry.form.add_prefix("kept"), "") if entry.form.is_bound else ""
    try:
        kept = json.loads(text) if text else {}
    except ValueError:
        kept = None
    if not isinstance(kept, dict):
        entry.params_form.add_error(
            None, "This action's other parameters could not be read: reload the page."
        )
        return {}
    return kept


def _loose_values(form: schema_forms.SchemaForm) -> dict:
    """A schema form's values as typed, skipping what does not parse (for previews only)."""
    values = {}
    for spec in form.specs:
        if form.is_bound:
            # (the widget reads its own inputs: a `rows` table's `…__0__href`, a checkbox's "on")
            widget = form.fields[spec.name].widget
            raw = widget.value_from_datadict(form.data, form.files, form.add_prefix(spec.name))
        else:
            raw = form[spec.name].value()
        try:
            value = schema_forms.parse_value(spec, raw)
        except schema_forms.InputError:
            continue
        if value is schemas.MISSING:
            continue
        if spec.key == schema_forms.WHOLE:
            return value if isinstance(value, dict) else {}
        *parents, last = spec.key.split(".")  # a nested input's `subActionParams.incident.summary`
        target = values
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return values


# ---- pages -----------------------------------------------------------------------------------------


def _url(name: str, *args, **query) -> str:
    url = reverse(f"admin:actions_rule_{name}", args=args)
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def _context(request, model_admin, title: str, space, privilege: str, **extra) -> dict:
    access = space_access(request)
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": Rule._meta,
        "space": space,
        "access": access,
        "can_write": privilege == privileges.ALL,
        **extra,
    }


def _render(request, template: str, context: dict, status: int = 200) -> TemplateResponse:
    return TemplateResponse(request, f"admin/actions/rule/{template}", context, status=status)


def refusal(request, model_admin, exc: Exception) -> TemplateResponse:
    forbidden = isinstance(exc, PermissionDenied)
    access = space_access(request)
    context = _context(
        request,
        model_admin,
        "You cannot do this here" if forbidden else "Not found",
        access.space,
        access.privilege,
        reason=str(exc) if exc.args else "",
    )
    return _render(request, "refusal.html", context, status=403 if forbidden else 404)


def _writable_space(request):
    access = space_access(request)
    if not access.can_read:
        raise PermissionDenied("You have no access to rules in any space.")
    if not access.can_write:
        raise PermissionDenied(f"You may only read rules in the space “{access.space.name}”.")
    return access


def _rule_type_or_404(type_id: str):
    try:
        return rule_types.get(type_id)
    except rule_types.RuleTypeNotRegistered as exc:
        raise Http404(str(exc)) from None


def _space_options(request, access) -> list[dict]:
    return [
        {
            "space": space,
            "writable": privileges.privilege_for(request.user, space.id) == privileges.ALL,
            "selected": space.id == access.space.id,
        }
        for space in access.readable
    ]


def rule_add(request, model_admin):
    """`add/`: the rule types, then (`?rule_type=`) the editor in the header's space."""
    access = _writable_space(request)
    type_id = request.GET.get("rule_type", "")
    if not type_id:
        types = [
            {
                "type": t,
                "url": _url(
                    "add", rule_type=t.type_id, space=access.space.id, connector=request.GET.get("connector")
                ),
            }
            for t in rule_types.all_types()
        ]
        context = _context(request, model_admin, "Create rule", access.space, access.privilege, types=types)
        return _render(request, "type_grid.html", context)
    rule_type = _rule_type_or_404(type_id)
    editor = Editor(request, rule_type, access.space)
    status = 200
    if request.method == "GET" and request.GET.get("connector"):
        editor.add_action(request.GET["connector"])  # "Create rule" from a connector's Rules tab
    if request.method == "POST" and not _rearranged(editor, request):
        rule = editor.save(request.user.get_username())
        if rule is not None:
            model_admin.log_addition(request, rule, [{"added": {}}])
            messages.success(request, f"Created rule “{rule.name}”.")
            return HttpResponseRedirect(_url("change", rule.id))
        status = 400
    return _editor_page(request, model_admin, editor, access.space, access.privilege, status=status)


def _rearranged(editor: Editor, request) -> bool:
    """Add or remove an action, or refresh the previews, without saving (the page without
    JavaScript does these with submit buttons). True when the post was one of these."""
    adding = request.POST.get("_add_action")
    removing = request.POST.get("_remove_action")
    if not (adding or removing or request.POST.get("_refresh")):
        return False
    editor.quiet()
    if removing:
        editor.actions = [e for e in editor.actions if str(e.index) != removing]
    if adding:
        editor.add_action(adding)
    return True


def _editor_page(request, model_admin, editor: Editor, space, privilege, *, status=200, **extra):
    editor.fill_previews()
    rule = editor.rule
    context = _context(
        request,
        model_admin,
        f"Edit {rule.name}"
        if rule
        else f"Create {article(editor.rule_type.name)} {editor.rule_type.name} rule",
        space,
        privilege,
        editor=editor,
        rule_type=editor.rule_type,
        param_rows=editor.params_form.bound_rows("params"),
        connectors=space_connectors(space.id),
        variables=action_variables(editor.rule_type),
        spaces=_space_options(request, space_access(request)) if rule is None else [],
        form_action=(
            _url("add", rule_type=editor.rule_type.type_id, space=space.id)
            if rule is None
            else _url("change", rule.id)
        ),
        preview_url=_url("preview"),
        **extra,
    )
    if rule is not None:
        context.update(_rule_page_context(request, rule, "edit"))
    return _render(request, "editor.html", context, status=status)


def _load_rule(request, rule_id: str) -> tuple[Rule, str]:
    """The rule and the user's privilege in its space; 404 when the user cannot read that space."""
    rule = Rule.objects.select_related("space").filter(pk=rule_id).first()
    privilege = privileges.privilege_for(request.user, rule.space_id) if rule else privileges.NONE
    if rule is None or privilege == privileges.NONE:
        raise Http404(f"No rule {rule_id} in the spaces you can read.")
    return rule, privilege


def _rule_page_context(request, rule: Rule, tab: str) -> dict:
    until = snoozed_until(rule)
    tabs = [("edit", "Details"), ("alerts", "Alerts"), ("log", "Execution log")]
    return {
        "rule": rule,
        "rule_type_name": _type_name(rule.rule_type_id),
        "status": (rule.execution_status or {}).get("status", "pending"),
        "snoozed_until": until,
        "snoozes": [
            {"id": s["id"], "start": s["rRule"]["dtstart"], "duration": _duration_text(s["duration"])}
            for s in rule.snooze_schedule or []
            if s.get("id")
        ],
        "snooze_choices": SNOOZE_CHOICES,
        "tabs": [
            {
                "key": key,
                "label": label,
                "url": _url("change", rule.id) + ("" if key == "edit" else f"?tab={key}"),
                "active": key == tab,
            }
            for key, label in tabs
        ],
        "active_tab": tab,
    }


def _type_name(type_id: str) -> str:
    try:
        return rule_types.get(type_id).name
    except rule_types.RuleTypeNotRegistered:
        return type_id


def _duration_text(ms: int) -> str:
    seconds = ms // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rule_change(request, model_admin, rule_id: str):
    """`<id>/change/`: the rule's page. Details is the editor for `all`, a summary for `read`;
    `?tab=alerts` and `?tab=log` show its alerts and its execution log."""
    rule, privilege = _load_rule(request, rule_id)
    tab = request.GET.get("tab", "edit")
    if tab in ("alerts", "log") and request.method == "GET":
        return _rule_tab(request, model_admin, rule, privilege, tab)
    try:
        rule_type = rule_types.get(rule.rule_type_id)
    except rule_types.RuleTypeNotRegistered:
        rule_type = None
    if privilege != privileges.ALL or rule_type is None:
        if request.method == "POST":
            raise PermissionDenied(f"You may only read rules in the space “{rule.space.name}”.")
        return _rule_tab(request, model_admin, rule, privilege, "edit")
    editor = Editor(request, rule_type, rule.space, rule)
    status = 200
    if request.method == "POST" and not _rearranged(editor, request):
        saved = editor.save(request.user.get_username())
        if saved is not None:
            model_admin.log_change(request, saved, [{"changed": {}}])
            messages.success(request, f"Saved rule “{saved.name}”.")
            return HttpResponseRedirect(_url("change", saved.id))
        status = 400
    return _editor_page(request, model_admin, editor, rule.space, privilege, status=status)


def _rule_tab(request, model_admin, rule: Rule, privilege: str, tab: str):
    context = _context(
        request, model_admin, rule.name, rule.space, privilege, **_rule_page_context(request, rule, tab)
    )
    if tab == "alerts":
        muted = set(rule.muted_alert_ids or [])
        alerts = list(Alert.objects.filter(rule=rule).order_by("status", "alert_id"))
        for alert in alerts:
            alert.muted = alert.alert_id in muted
        context["alerts"] = alerts
    elif tab == "log":
        from actions.rule_execution_log import execution_log

        now = timezone.now()
        try:
            page = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page = 1
        log = execution_log(rule, start=now - timedelta(days=LOG_DAYS), end=now, page=page, per_page=20)
        context.update(log=log["data"], log_total=log["total"], log_days=LOG_DAYS, log_page=page)
        context["log_next"] = (
            _url("change", rule.id) + f"?tab=log&page={page + 1}" if page * 20 < log["total"] else ""
        )
        context["log_previous"] = _url("change", rule.id) + f"?tab=log&page={page - 1}" if page > 1 else ""
    else:
        context["actions"] = [
            {"action": a, "connector": _connector_or_none(privilege, rule.space_id, a["id"])[0]}
            for a in rule.actions
        ]
        context["param_items"] = _param_items(rule)
    return _render(request, "rule_page.html", context)


def _param_items(rule: Rule) -> list[tuple[str, str]]:
    """The params as label and text for the read-only page, with the rule type's words."""
    try:
        rule_type = rule_types.get(rule.rule_type_id)
    except rule_types.RuleTypeNotRegistered:
        rule_type = None
    fields = getattr(getattr(rule_type, "params_schema", None), "fields", {})
    items = []
    for key, value in (rule.params or {}).items():
        node = fields.get(key)
        if isinstance(value, list):
            text = ", ".join(str(item) for item in value)
        elif isinstance(value, str | int | float):
            text = str(getattr(node, "choice_labels", {}).get(value, value))
        else:
            text = json.dumps(value)
        items.append((node.label if node is not None and node.label else key, text))
    return items


def _changes_rule(view):
    """A rule page's POST that changes the rule (snooze, mute, enable): it loads the rule, sends a
    GET back to the rule page, refuses `read` in the rule's space, and gives the view the rule and
    the user's name."""

    @functools.wraps(view)
    def wrapper(request, model_admin, rule_id: str):
        rule, privilege = _load_rule(request, rule_id)
        if request.method != "POST":
            return HttpResponseRedirect(_url("change", rule.id))
        if privilege != privileges.ALL:
            raise PermissionDenied(f"You may only read rules in the space “{rule.space.name}”.")
        return view(request, rule, request.user.get_username())

    return wrapper


@_changes_rule
def rule_snooze(request, rule: Rule, user: str):
    """POST `duration` (snooze from now), or `unsnooze` (a schedule id)."""
    try:
        if request.POST.get("unsnooze"):
            unsnooze_rule(rule, request.POST["unsnooze"], user=user)
            messages.success(request, "Snooze cancelled.")
        else:
            duration = request.POST.get("duration", "")
            if duration not in dict(SNOOZE_CHOICES):
                raise RuleError("Choose how long to snooze.")
            snooze_rule(rule, {"start": iso(timezone.now()), "duration": duration}, user=user)
            messages.success(
                request, f"Snoozed for {dict(SNOOZE_CHOICES)[duration]}: no actions run meanwhile."
            )
    except RuleError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(_url("change", rule.id))


@_changes_rule
def rule_mute(request, rule: Rule, user: str):
    """POST `mute_all` (1/0), or `alert_id` with `mute` (1/0): the API's muteAll and muteAlert."""
    if "mute_all" in request.POST:
        mute = request.POST["mute_all"] == "1"
        Rule.objects.filter(pk=rule.pk).update(
            mute_all=mute,
            muted_alert_ids=[] if mute else rule.muted_alert_ids,
            updated_by=user,
            updated_at=timezone.now(),
        )
        messages.success(request, "All alerts muted." if mute else "Alerts unmuted.")
        return HttpResponseRedirect(_url("change", rule.id))
    alert_id = request.POST.get("alert_id", "")
    if not Alert.objects.filter(rule_id=rule.pk, alert_id=alert_id).exists():
        raise Http404(f'Alert instance with id "{alert_id}" does not exist for rule with id "{rule.id}"')
    mute = request.POST.get("mute") == "1"
    with transaction.atomic():
        locked = Rule.objects.select_for_update().get(pk=rule.pk)
        muted = [a for a in (locked.muted_alert_ids or []) if a != alert_id]
        if mute:
            muted.append(alert_id)
        Rule.objects.filter(pk=rule.pk).update(
            muted_alert_ids=muted, updated_by=user, updated_at=timezone.now()
        )
    messages.success(request, f"Alert “{alert_id}” {'muted' if mute else 'unmuted'}.")
    return HttpResponseRedirect(_url("change", rule.id) + "?tab=alerts")


@_changes_rule
def rule_enable(request, rule: Rule, user: str):
    """POST `enabled` (1/0): the API's `_enable` / `_disable`."""
    if request.POST.get("enabled") == "1":
        enable_rule(rule, user)
        messages.success(request, f"Enabled “{rule.name}”.")
    else:
        disable_rule(rule, user)
        messages.success(request, f"Disabled “{rule.name}”: its alerts are cleared.")
    return HttpResponseRedirect(_url("change", rule.id))


def rule_preview(request, model_admin):
    """POST the editor's form with `preview` (an action's index): its message with sample values,
    as JSON `{"preview": text}` (the editor's live preview)."""
    if request.method != "POST":
        raise Http404("Preview takes a POST.")
    access = space_access(request)
    space_id = request.POST.get("space") or (access.space.id if access.space else "")
    if privileges.privilege_for(request.user, space_id) == privileges.NONE:
        raise PermissionDenied("You have no access to this space.")
    rule_type = _rule_type_or_404(request.POST.get("rule_type", ""))
    space = next((s for s in access.readable if s.id == space_id), None)
    if space is None:
        raise PermissionDenied("You have no access to this space.")
    editor = Editor(request, rule_type, space)
    entry = next((e for e in editor.actions if str(e.index) == request.POST.get("preview")), None)
    if entry is None:
        raise Http404("No such action.")
    return JsonResponse({"preview": editor.preview_of(entry)})


def urls(model_admin) -> list:
    """The editor's routes, put before the admin's own by `RuleAdmin.get_urls` (same names)."""
    from django.http import HttpResponseForbidden

    def page(route, view, name):
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, model_admin, *args, **kwargs)
            except (PermissionDenied, Http404) as exc:
                if name == "preview":
                    return (
                        HttpResponseForbidden(str(exc))
                        if isinstance(exc, PermissionDenied)
                        else JsonResponse({"error": str(exc)}, status=404)
                    )
                return refusal(request, model_admin, exc)

        return path(route, model_admin.admin_site.admin_view(wrapper), name=f"actions_rule_{name}")

    return [
        page("add/", rule_add, "add"),
        page("preview/", rule_preview, "preview"),
        page("<str:rule_id>/change/", rule_change, "change"),
        page("<str:rule_id>/snooze/", rule_snooze, "snooze"),
        page("<str:rule_id>/mute/", rule_mute, "mute"),
        page("<str:rule_id>/enable/", rule_enable, "enable"),
    ]
