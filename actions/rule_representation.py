"""Kibana's rule and rule-type objects as the API returns them (and the connector types their actions
name, looked up once per listing)."""

from __future__ import annotations

from actions import rule_types
from actions.models import Rule
from actions.rule_snooze import snoozed_until
from actions.rules import CONSUMERS, iso


def connector_type_of(space_id: str, connector_id: str) -> str | None:
    from connectors.services import ConnectorNotFound, find_connector

    try:
        return find_connector(space_id, connector_id).connector_type_id
    except ConnectorNotFound:
        return None


def connector_types_of(space_id: str, connector_ids) -> dict:
    """`{connector id: type id or None}` for many connectors in one query (preconfigured ones from
    the configuration), so listing rules does not read a connector per action."""
    from connectors.models import Connector
    from connectors.services import get_preconfigured

    wanted = set(connector_ids)
    types: dict = {}
    for connector_id in wanted:
        preconfigured = get_preconfigured(connector_id)
        if preconfigured is not None:
            types[connector_id] = preconfigured.connector_type_id
    rest = wanted - set(types)
    if rest:
        types.update(
            Connector.objects.filter(space_id=space_id, pk__in=rest).values_list("id", "connector_type_id")
        )
    return {connector_id: types.get(connector_id) for connector_id in wanted}


def action_to_api(space_id: str, action: dict, type_cache: dict) -> dict:
    if action["id"] not in type_cache:
        type_cache[action["id"]] = connector_type_of(space_id, action["id"])
    body = {"group": action.get("group"), "id": action["id"], "params": action.get("params", {})}
    body["connector_type_id"] = type_cache[action["id"]]
    if action.get("frequency"):
        body["frequency"] = action["frequency"]
    body["uuid"] = action.get("uuid")
    for key in ("alerts_filter", "use_alert_data_for_template"):
        if key in action:
            body[key] = action[key]
    return body


def rule_to_api(rule: Rule, type_cache: dict | None = None) -> dict:
    """Kibana's public rule object. The snooze schedules stay out (`excludeFromPublicApi`: no
    `snooze_schedule` or `active_snoozes`); `is_snoozed_until` (the spec's get/find field) is there
    while the rule is snoozed and absent otherwise, as Kibana's transform leaves out a null one (its
    pinned public bodies of unsnoozed rules have no such key)."""
    type_cache = {} if type_cache is None else type_cache
    body = {
        "id": rule.id,
        "name": rule.name,
        "tags": rule.tags,
        "enabled": rule.enabled,
        "consumer": rule.consumer,
        "rule_type_id": rule.rule_type_id,
        "schedule": {"interval": rule.schedule_interval},
        "params": rule.params,
        "actions": [action_to_api(rule.space_id, a, type_cache) for a in rule.actions],
        "created_by": rule.created_by,
        "updated_by": rule.updated_by,
        "created_at": iso(rule.created_at),
        "updated_at": iso(rule.updated_at),
        "api_key_owner": rule.api_key_owner,
        "api_key_created_by_user": bool(rule.api_key_created_by_user) if rule.api_key_owner else None,
        "throttle": rule.throttle,
        "notify_when": rule.notify_when,
        "mute_all": rule.mute_all,
        "muted_alert_ids": rule.muted_alert_ids,
        **({"is_snoozed_until": iso(until)} if (until := snoozed_until(rule)) is not None else {}),
        "execution_status": rule.execution_status
        or {"status": "pending", "last_execution_date": iso(rule.created_at)},
        "revision": rule.revision,
        "running": rule.running,
    }
    if rule.alert_delay:
        body["alert_delay"] = rule.alert_delay
    if rule.flapping is not None:
        body["flapping"] = rule.flapping
    if rule.enabled:
        body["scheduled_task_id"] = rule.id
    if rule.last_run is not None:
        body["last_run"] = rule.last_run
    # Kibana's nextRun is unset at creation (so `next_run` is absent) until the rule's first run or
    # an `_enable` (both leave `last_duration` in the status); `_disable` sets it to null.
    if rule.last_run is not None or "last_duration" in (rule.execution_status or {}):
        body["next_run"] = iso(rule.next_run_at) if rule.enabled else None
    return body


def rule_type_to_api(rule_type: rule_types.RuleType, *, can_write: bool = True) -> dict:
    """Kibana's rule type entry; `authorized_consumers` say `all` only for a caller who may write."""
    producer = rule_type.producer
    consumers = sorted(CONSUMERS | {producer})
    alerts = rule_type.alerts_config()
    body = {
        "id": rule_type.type_id,
        "name": rule_type.name,
        "action_groups": rule_type.all_action_groups(),
        "recovery_action_group": dict(rule_types.RECOVERED),
        "default_action_group_id": rule_type.default_action_group_id,
        "action_variables": rule_type.action_variables,
        "minimum_license_required": rule_type.minimum_license,
        "enabled_in_license": True,
        "producer": producer,
        "authorized_consumers": {c: {"read": True, "all": can_write} for c in consumers},
        "rule_task_timeout": rule_types.task_timeout(rule_type),
        "does_set_recovery_context": rule_type.does_set_recovery_context,
        "is_exportable": rule_type.is_exportable,
        "category": rule_type.category,
        "has_alerts_mappings": alerts is not None,
        "has_fields_for_a_a_d": False,
    }
    if alerts is not None:
        body["alerts"] = alerts
    return body
