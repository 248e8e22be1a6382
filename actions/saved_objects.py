"""Rules as Kibana `alert` saved objects, for NDJSON export and import (the saved-objects area calls
these). Export applies Kibana's rewrite (disabled, no API key, execution status `pending`); import
creates rules disabled, as Kibana does, and says how many must be enabled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actions import rule_types
from actions.models import Rule
from actions.rules import iso

MIGRATION_VERSION = "8.0.0"


def rule_to_saved_object(rule: Rule, exported_at: datetime, type_of=None) -> dict:
    """One export line for `rule`. `type_of(connector_id)` gives a connector's type id, if known."""
    from actions.rules import connector_type_of

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
    return {
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


def rule_from_saved_object(space, saved_object: dict, *, overwrite: bool = False) -> Rule:
    """Create (or overwrite) a rule from an exported `alert` object. The rule arrives disabled.

    Raises `rule_types.RuleTypeNotRegistered` for types this service does not have. Actions keep
    their connector ids from `references` (the caller remaps ids of connectors imported as new)."""
    attributes = saved_object["attributes"]
    rule_types.get(attributes["alertTypeId"])
    refs = {
        ref["name"]: ref["id"] for ref in saved_object.get("references", []) if ref.get("type") == "action"
    }
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
        actions.append(item)
    fields = {
        "space": space,
        "name": attributes["name"],
        "rule_type_id": attributes["alertTypeId"],
        "consumer": attributes.get("consumer", "alerts"),
        "schedule_interval": (attributes.get("schedule") or {}).get("interval", "1m"),
        "params": attributes.get("params") or {},
        "actions": actions,
        "tags": attributes.get("tags") or [],
        "enabled": False,
        "notify_when": attributes.get("notifyWhen"),
        "throttle": attributes.get("throttle"),
        "mute_all": attributes.get("muteAll", False),
        "muted_alert_ids": attributes.get("mutedInstanceIds") or [],
        "created_by": attributes.get("createdBy"),
        "updated_by": attributes.get("updatedBy"),
        "api_key_owner": None,
        "execution_status": {"status": "pending", "last_execution_date": attributes.get("updatedAt")},
        "next_run_at": None,
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
