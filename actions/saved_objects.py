"""Rules as Kibana `alert` saved objects, for NDJSON export and import (the saved-objects area calls
these). Export applies Kibana's rewrite (disabled, no API key, execution status `pending`); import
creates rules disabled, as Kibana does, and says how many must be enabled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from actions import rule_types
from actions.models import Rule
from actions.rules import (
    ALERTS_FILTER,
    NotifyWhen,
    RuleError,
    action_problems,
    check_groups,
    flapping_problem,
    frequency_field,
    iso,
    raise_action_problems,
    rule_fields,
)
from connectors import registry as connectors_registry
from connectors import saved_objects as engine  # the engine does not import actions
from connectors.base import iso_ms
from connectors.models import Connector
from connectors.preconfigured import is_preconfigured
from connectors.schemas import MISSING, Any_, Array, Boolean, Number, Object, Record, SchemaError, String

MIGRATION_VERSION = "8.0.0"
DEFAULT_INTERVAL = "1m"  # a hand-written file without a schedule


def rule_to_saved_object(rule: Rule, exported_at: datetime, type_of=None) -> dict:
    """One export line for `rule`. `type_of(connector_id)` gives a connector's type id, if known."""
    from actions.rule_representation import connector_type_of

    type_of = type_of or (lambda cid: connector_type_of(rule.space_id, cid))
    actions, references = [], []
    for index, action in enumerate(rule.actions or []):
        ref = f"action_{index}"
        item: dict[str, Any] = {
            "actionRef": ref,
            "actionTypeId": type_of(action["id"]),
            "group": action.get("group"),
            "params": action.get("params", {}),
        }
        if action.get("uuid"):
            item["uuid"] = action["uuid"]
        if action.get("frequency"):
            frequency = action["frequency"]
            item["frequency"] = {
                "summary": frequency.get("summary", False),
                "notifyWhen": frequency.get("notify_when"),
                "throttle": frequency.get("throttle"),
            }
        if action.get("alerts_filter"):
            item["alertsFilter"] = action["alerts_filter"]
        actions.append(item)
        references.append({"id": action["id"], "name": ref, "type": "action"})
    attributes = {
        "actions": actions,
        "alertTypeId": rule.rule_type_id,
        "apiKey": None,
        "apiKeyOwner": None,
        "consumer": rule.consumer,
        "createdAt": iso(rule.created_at),
        "createdBy": rule.created_by,
        "enabled": False,
        "executionStatus": {"error": None, "lastExecutionDate": iso(exported_at), "status": "pending"},
        "legacyId": None,
        "meta": {"versionApiKeyLastmodified": MIGRATION_VERSION},
        "muteAll": rule.mute_all,
        "mutedInstanceIds": rule.muted_alert_ids,
        "name": rule.name,
        "notifyWhen": rule.notify_when,
        "params": rule.params,
        "revision": rule.revision,
        "schedule": {"interval": rule.schedule_interval},
        "scheduledTaskId": None,
        "tags": rule.tags,
        "throttle": rule.throttle,
        "updatedAt": iso(rule.updated_at),
        "updatedBy": rule.updated_by,
    }
    # Later 8.x attributes, exported unchanged when the rule has them (spec §7.2, §7.3).
    if rule.alert_delay:
        attributes["alertDelay"] = rule.alert_delay
    if rule.flapping:
        attributes["flapping"] = {
            "lookBackWindow": rule.flapping["look_back_window"],
            "statusChangeThreshold": rule.flapping["status_change_threshold"],
        }
    if rule.snooze_schedule:
        attributes["snoozeSchedule"] = rule.snooze_schedule  # stored in Kibana's saved-object form
    line = {
        "attributes": attributes,
        "coreMigrationVersion": MIGRATION_VERSION,
        "id": rule.id,
        "managed": False,
        "references": references,
        "type": "alert",
        "typeMigrationVersion": "10.0.0",
        "updated_at": iso(rule.updated_at),
        "version": "WzEsMV0=",
    }
    if rule.origin_id:  # Kibana leaves the key out when there is no origin
        line["originId"] = rule.origin_id
    return line


PRECONFIGURED_ACTION_REF_PREFIX = "preconfigured:"
SYSTEM_ACTION_REF_PREFIX = "system_action:"
SYSTEM_CONNECTOR_PREFIX = "system-connector-"


def action_ref_resolves(action_ref: str, reference_names: set[str]) -> bool:
    """Kibana's `injectReferencesIntoActions`: an `actionRef` names one of the line's references, or
    is `preconfigured:<id>` / `system_action:<id>`. Here the prefixed forms must also name a connector
    that exists as such (a preconfigured one, or a registered system action type's), so a file cannot
    point a rule at a stored connector, of this space or another, without a reference to check."""
    if action_ref.startswith(PRECONFIGURED_ACTION_REF_PREFIX):
        return is_preconfigured(action_ref.removeprefix(PRECONFIGURED_ACTION_REF_PREFIX))
    if action_ref.startswith(SYSTEM_ACTION_REF_PREFIX):
        connector_id = action_ref.removeprefix(SYSTEM_ACTION_REF_PREFIX)
        type_id = connector_id.removeprefix(SYSTEM_CONNECTOR_PREFIX)
        return (
            connector_id.startswith(SYSTEM_CONNECTOR_PREFIX)
            and connectors_registry.is_registered(type_id)
            and connectors_registry.get(type_id).is_system_action_type
        )
    return action_ref in reference_names


def rule_actions(attributes: dict, references: list[dict]) -> list[dict]:
    """A saved object's `actions` in the rule's (and the rule routes') shape: each `actionRef`
    resolved to its connector id through `references` (or `preconfigured:<id>`/`system_action:<id>`)."""
    refs = {ref["name"]: ref["id"] for ref in references if ref.get("type") == "action"}
    actions = []
    for action in attributes.get("actions", []):
        ref = action.get("actionRef", "")
        connector_id = refs.get(ref) or ref.split(":", 1)[-1]
        item: dict[str, Any] = {
            "group": action.get("group"),
            "id": connector_id,
            "params": action.get("params", {}),
        }
        if action.get("uuid"):
            item["uuid"] = action["uuid"]
        if action.get("frequency"):
            frequency = action["frequency"]
            item["frequency"] = {
                "summary": frequency.get("summary", False),
                "notify_when": frequency.get("notifyWhen"),
                "throttle": frequency.get("throttle"),
            }
        if action.get("alertsFilter"):
            item["alerts_filter"] = action["alertsFilter"]
        actions.append(item)
    return actions


def rule_from_saved_object(space, saved_object: dict, *, overwrite: bool = False) -> Rule:
    """Create (or overwrite) a rule from an exported `alert` object. The rule arrives disabled.

    Raises `rule_types.RuleTypeNotRegistered` for types this service does not have. Actions keep
    their connector ids from `references` (the caller remaps ids of connectors imported as new)."""
    attributes = saved_object["attributes"]
    rule_types.get(attributes["alertTypeId"])
    actions = rule_actions(attributes, saved_object.get("references", []))
    flapping = attributes.get("flapping")
    fields = {
        "space": space,
        "name": attributes["name"],
        "rule_type_id": attributes["alertTypeId"],
        "consumer": attributes.get("consumer", "alerts"),
        "schedule_interval": (attributes.get("schedule") or {}).get("interval", DEFAULT_INTERVAL),
        "params": attributes.get("params") or {},
        "actions": actions,
        "tags": attributes.get("tags") or [],
        "enabled": False,
        "notify_when": attributes.get("notifyWhen"),
        "throttle": attributes.get("throttle"),
        "mute_all": attributes.get("muteAll", False),
        "muted_alert_ids": attributes.get("mutedInstanceIds") or [],
        "alert_delay": attributes.get("alertDelay"),
        "flapping": {
            "look_back_window": flapping["lookBackWindow"],
            "status_change_threshold": flapping["statusChangeThreshold"],
        }
        if flapping
        else None,
        "snooze_schedule": attributes.get("snoozeSchedule") or [],
        "created_by": attributes.get("createdBy"),
        "updated_by": attributes.get("updatedBy"),
        "api_key_owner": None,
        "execution_status": {"status": "pending", "last_execution_date": attributes.get("updatedAt")},
        "next_run_at": None,
        # Set on an overwrite too (none: cleared), as a connector's: the origin is the file's.
        "origin_id": saved_object.get("originId") or "",
    }
    rule = Rule.objects.filter(pk=saved_object["id"]).first()
    if rule is not None and not overwrite:
        raise ValueError(f"Saved object [alert/{saved_object['id']}] conflict")
    if rule is None:
        rule = Rule(id=saved_object["id"])
    for key, value in fields.items():
        setattr(rule, key, value)
    rule.save()
    return rule


def import_warning(count: int) -> dict | None:
    """Kibana's import warning for rules, which arrive disabled."""
    if not count:
        return None
    noun = "rule" if count == 1 else "rules"
    return {
        "type": "action_required",
        "message": f"{count} {noun} must be enabled after the import.",
        "actionPath": "/app/management/insightsAndAlerting/triggersActions/rules",
        "buttonLabel": "Go to rules",
    }


# ---- the `alert` saved-object handler (registered from ActionsConfig.ready()) ---------------------


RULE_ID_MAX_LENGTH = Rule._meta.get_field("id").max_length


def _column(name: str) -> int:
    return Rule._meta.get_field(name).max_length


def _flapping_problem(value: dict) -> str | None:
    return flapping_problem(
        {
            "look_back_window": value["lookBackWindow"],
            "status_change_threshold": value["statusChangeThreshold"],
        }
    )


def _attributes_schema() -> Object:
    """A rule's attributes checked as the create route checks its body (`rule_fields`), with the saved
    object's spelling, and the attributes only the saved object has (Kibana's rule attributes schema).
    What `rule_from_saved_object` stores in a column of limited length is checked against that column,
    as the routes check it. Other attributes of an export (execution status, API key, ...) pass."""
    route = rule_fields(
        Object(
            {
                "actionRef": String(),
                "group": String(nullable=True),
                "params": Record(Any_(), default=dict),  # rawRule action params: recordOf
                "frequency": frequency_field("notifyWhen"),
                "uuid": String(nullable=True),
                "alertsFilter": ALERTS_FILTER,
            },
            strict=False,  # `actionTypeId`, and what later versions add
        )
    )
    user = String(nullable=True, max_length=_column("created_by"))
    return Object(
        {
            "name": route["name"],
            "consumer": String(max_length=_column("consumer"), default="alerts"),
            "tags": route["tags"],
            # An export always has a schedule; a hand-written file without one gets the default.
            "schedule": Object(
                {"interval": route["schedule"].fields["interval"]}, strict=False, optional=True
            ),
            "params": route["params"],
            "actions": route["actions"],
            "throttle": route["throttle"],
            "notifyWhen": NotifyWhen(nullable=True, max_length=_column("notify_when")),
            "alertDelay": route["alert_delay"],
            "flapping": Object(
                {
                    "lookBackWindow": Number(minimum=2, maximum=20),
                    "statusChangeThreshold": Number(minimum=2, maximum=20),
                },
                nullable=True,
                validator=_flapping_problem,
            ),
            "enabled": Boolean(optional=True),
            "muteAll": Boolean(optional=True),
            # rawRuleSchema: arrayOf(string) and maybe(arrayOf(...)): neither takes null
            "mutedInstanceIds": Array(String(), optional=True),
            "snoozeSchedule": Array(Object({}, strict=False), optional=True),
            "mapped_params": Object({}, strict=False, optional=True),
            "createdBy": user,
            "updatedBy": user,
        },
        strict=False,
    )


ATTRIBUTES = _attributes_schema()


class RuleHandler(engine.SavedObjectHandler):
    """Rules in NDJSON export/import. Export applies Kibana's rewrite and references the rules'
    connectors (`includeReferencesDeep` pulls them in); import creates rules disabled, with their
    connector references already remapped by the engine, and gives Kibana's enable-after warning.
    A rule whose rule type this service does not have is `unsupported_type`."""

    type = "alert"
    display_name = "rule"

    # -- export --
    def find(self, space):
        return Rule.objects.filter(space=space).order_by("name", "id")

    def get(self, space, object_id):
        return Rule.objects.filter(space=space, pk=object_id).first()

    def to_export_line(self, rule: Rule, ctx) -> dict:
        line = rule_to_saved_object(rule, ctx.exported_at)
        # Kibana's shape for preconfigured connectors: `actionRef: "preconfigured:<id>"`, no reference.
        preconfigured = {ref["name"]: ref["id"] for ref in line["references"] if is_preconfigured(ref["id"])}
        if preconfigured:
            for action in line["attributes"]["actions"]:
                if action["actionRef"] in preconfigured:
                    action["actionRef"] = f"preconfigured:{preconfigured[action['actionRef']]}"
            line["references"] = [ref for ref in line["references"] if ref["name"] not in preconfigured]
        return line

    def export_references(self, rule: Rule) -> list[dict]:
        return [
            {"type": "action", "id": action["id"], "name": f"action_{index}"}
            for index, action in enumerate(rule.actions or [])
            if not is_preconfigured(action["id"])
        ]

    def import_title(self, attributes):
        name = attributes.get("name") if isinstance(attributes, dict) else None
        return f"Rule: [{name}]" if isinstance(name, str) else None

    # -- import --
    def prepare(self, raw: dict, line: int, ctx) -> engine.ImportedObject:
        attributes = engine.attributes_of(raw)
        # rawRuleSchema's alertTypeId and name are schema.string() (a wrong type in its words); an
        # empty one is refused as well, which Kibana's saved-object schema lets through
        type_id = engine.checked("attributes.alertTypeId", attributes.get("alertTypeId", MISSING), String())
        if not type_id:
            raise engine.ObjectError.unknown("[attributes.alertTypeId]: expected a non-empty string")
        try:
            rule_type = rule_types.get(type_id)
        except rule_types.RuleTypeNotRegistered:
            raise engine.ObjectError({"type": "unsupported_type"}) from None
        name = engine.checked("attributes.name", attributes.get("name", MISSING), String())
        if not name.strip():
            raise engine.ObjectError.unknown("[attributes.name]: expected a non-empty string")
        origin_id = raw.get("originId") if isinstance(raw.get("originId"), str) else None
        try:
            attributes = ATTRIBUTES.validate(attributes, "attributes")
        except SchemaError as exc:
            raise engine.ObjectError.unknown(str(exc)) from None
        engine.check_fields([("originId", origin_id, String(nullable=True, max_length=_column("origin_id")))])
        actions = attributes["actions"]
        try:
            params = rule_type.validate_params(attributes["params"])
        except rule_types.ParamsInvalid as exc:
            raise engine.ObjectError.unknown(f"params invalid: {exc}") from None
        raw_references = raw.get("references") or []
        if not isinstance(raw_references, list):
            raise engine.ObjectError.unknown("[references]: expected value of type [array]")
        references = [
            {"type": ref["type"], "id": str(ref.get("id")), "name": ref.get("name")}
            for ref in raw_references
            if isinstance(ref, dict) and ref.get("type") == "action"
        ]
        names = {ref["name"] for ref in references}
        for action in actions:
            if not action_ref_resolves(action["actionRef"], names):
                raise engine.ObjectError.unknown(
                    f'Action reference "{action["actionRef"]}" not found in alert id: {raw["id"]}'
                )
        # The rule routes' cross-field checks on the actions, with their messages. Not the ones on
        # connectors: those travel without secrets, or come in a later file (Kibana checks neither on
        # import; the engine reports a connector that is nowhere as `missing_references`).
        try:
            route_actions = rule_actions(attributes, references)
            check_groups(route_actions)
            _actions, problems = action_problems(
                rule_type,
                route_actions,
                interval=(attributes.get("schedule") or {}).get("interval") or DEFAULT_INTERVAL,
                notify_when=attributes.get("notifyWhen"),
                throttle=attributes.get("throttle"),
            )
            raise_action_problems(problems)
        except RuleError as exc:
            raise engine.ObjectError.unknown(exc.message) from None
        return engine.ImportedObject(
            line=line,
            type=self.type,
            id=str(raw["id"]),
            title=self.import_title(attributes),
            attributes={**attributes, "name": name, "params": params, "actions": actions},
            references=references,
            raw=raw,
            managed=bool(raw.get("managed", False)),
            origin_id=origin_id,
        )

    def check_id(self, object_id: str) -> None:
        if len(object_id) > RULE_ID_MAX_LENGTH:
            raise engine.ObjectError.unknown(
                f"[id]: value has length [{len(object_id)}] but it must have a maximum length of "
                f"[{RULE_ID_MAX_LENGTH}]."
            )

    def find_by_origin(self, space, origin_id):
        return [
            {"id": r.id, "title": r.name, "updatedAt": iso_ms(r.updated_at)}
            for r in Rule.objects.filter(Q(origin_id=origin_id) | Q(pk=origin_id), space=space).order_by("id")
        ]

    def locate(self, space, object_id):
        space_id = Rule.objects.filter(pk=object_id).values_list("space_id", flat=True).first()
        if space_id is None:
            return None
        return "here" if space_id == space.id else "elsewhere"

    def write(self, obj: engine.ImportedObject, ctx) -> None:
        # Connectors are written first; one of this file that failed leaves the rule without it,
        # unless the retry said `ignoreMissingReferences` (Kibana then writes the rule as it is: it
        # arrives disabled, and its runs fail with "not found" until the connector is in the space).
        wanted = {ref["id"] for ref in obj.references}
        present = set(Connector.objects.filter(space=ctx.space, pk__in=wanted).values_list("id", flat=True))
        missing = [ref for ref in obj.references if ref["id"] not in present]
        if missing and not obj.ignore_missing_references:
            raise engine.ObjectError(
                {
                    "type": "missing_references",
                    "references": [{"type": ref["type"], "id": ref["id"]} for ref in missing],
                }
            )
        saved_object = {
            "id": obj.destination_id or obj.id,
            "attributes": obj.attributes,
            "references": obj.references,
            "originId": obj.origin_id,
        }
        rule_from_saved_object(ctx.space, saved_object, overwrite=obj.overwrite)

    def import_warnings(self, written):
        warning = import_warning(len(written))
        return [warning] if warning else []


def register_rule_handler() -> None:
    """Make `alert` importable and exportable (after `action`, so connectors are written first)."""
    engine.register(RuleHandler())
