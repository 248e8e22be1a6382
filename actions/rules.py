"""Rule life cycle shared by the API and the admin: validation with Kibana's messages, create,
update, enable/disable. Snooze schedules are `actions.rule_snooze`; the API's rule object is
`actions.rule_representation`."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from actions import rule_types
from actions.models import Alert, Rule
from connectors import registry
from connectors.conf import get_config
from connectors.schemas import (
    Any_,
    Array,
    Boolean,
    Enum,
    Field,
    Number,
    Object,
    Record,
    SchemaError,
    String,
    _prefix,
)

logger = logging.getLogger("actions")

DURATION_RE = re.compile(r"^[1-9][0-9]*[smhd]\Z")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
NOTIFY_WHEN = ("onActiveAlert", "onThrottleInterval", "onActionGroupChange")
UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE
)
# Flapping (§5.6): the defaults when a rule has no `flapping` override; both numbers range 2-20.
FLAPPING_DEFAULTS = {"look_back_window": 20, "status_change_threshold": 4}
FLAPPING_RANGE = (2, 20)
HOURS_RE = re.compile(r"^([0-9]|0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]\Z")
# Consumers (Kibana feature ids) that may own rules here; the rule type's producer is always allowed.
CONSUMERS = {"alerts", "stackAlerts", "actions"}
# Longest predefined rule id we store (Kibana sets no limit on create; our columns hold 64).
MAX_RULE_ID_LENGTH = 64
# Kibana sets no length on these either; our columns do: the routes and the saved-object import say
# so first, the same on every database (PostgreSQL would refuse the write, SQLite store it).
RULE_NAME_MAX_LENGTH = 1024  # Rule.name
DURATION_MAX_LENGTH = 32  # Rule.schedule_interval, Rule.throttle


class RuleError(Exception):
    """A Kibana-worded rule error with its HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def interval_seconds(value: str) -> int:
    if not value or not DURATION_RE.match(value):
        return 60
    return int(value[:-1]) * UNITS[value[-1]]


# Kibana's duration syntax takes any number of digits, but a datetime stops at the year 9999: as a
# span of time (a schedule, a throttle, a backfill step, a snooze, a maintenance window) a duration
# counts at most a thousand years, so `999999999999999d` means "not again in our lifetime" instead of
# an OverflowError in the poller. Only the arithmetic is capped; what was sent is kept as sent.
MAX_INTERVAL = timedelta(days=365_000)
MAX_INTERVAL_MS = MAX_INTERVAL.days * 86_400_000


def interval_delta(value: str) -> timedelta:
    return timedelta(seconds=min(interval_seconds(value), int(MAX_INTERVAL.total_seconds())))


def later(moment: datetime, length: timedelta) -> datetime:
    """`moment + length`, or the last representable moment when that is after the year 9999."""
    try:
        return moment + length
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration_problem(value: Any) -> str | None:
    if isinstance(value, str) and DURATION_RE.match(value):
        return None
    return f"string is not a valid duration: {value}"


def flapping_problem(value: dict) -> str | None:
    """Kibana's validateFlapping (the route schema's object check)."""
    low, high = FLAPPING_RANGE
    look_back, threshold = value["look_back_window"], value["status_change_threshold"]
    if not low <= look_back <= high:
        return f"look back window must be between {low} and {high}"
    if not low <= threshold <= high:
        return f"status change threshold must be between {low} and {high}"
    if look_back < threshold:
        return f"lookBackWindow ({look_back}) must be equal to or greater than statusChangeThreshold ({threshold})"
    return None


def hours_problem(value: str) -> str | None:
    return None if HOURS_RE.match(value) else f"string is not a valid time in HH:mm format {value}"


def flapping_settings(rule: Rule) -> dict:
    """The look-back window and threshold that apply to a rule (flapping is always enabled here)."""
    override = rule.flapping or {}
    return {key: int(override.get(key) or default) for key, default in FLAPPING_DEFAULTS.items()}


# ---- the route schema's rule fields (the create and update routes, and the saved-object import) ----


def notify_when_problem(value: str) -> str | None:
    return None if value in NOTIFY_WHEN else f"string is not a valid RuleNotifyWhenType: {value}"


class NotifyWhen(String):
    """A nullable string, then the rules client's own check (`validateNotifyWhenType`): that check
    runs after the schema, so its text is never listed under the nullable field's union."""

    def validate(self, value: Any, path: str = "") -> Any:
        cleaned = super().validate(value, path)
        problem = notify_when_problem(cleaned) if isinstance(cleaned, str) else None
        if problem:
            raise SchemaError(f"{_prefix(path)}{problem}")
        return cleaned


def frequency_field(notify_when: str) -> Object:
    """An action's `frequency`; the saved object spells `notify_when` as `notifyWhen`."""
    return Object(
        {
            "summary": Boolean(),
            notify_when: Enum(NOTIFY_WHEN),
            "throttle": String(nullable=True, validator=duration_problem),
        },
        optional=True,  # schema.maybe(actionFrequencySchema): null is refused
    )


ALERTS_FILTER = Object(
    {
        "query": Object(
            {
                "kql": String(),
                "filters": Array(Object({}, strict=False)),
                "dsl": String(optional=True),
            },
            optional=True,
        ),
        "timeframe": Object(
            {
                "days": Array(Enum((1, 2, 3, 4, 5, 6, 7))),
                "hours": Object(
                    {"start": String(validator=hours_problem), "end": String(validator=hours_problem)}
                ),
                "timezone": String(),
            },
            optional=True,
        ),
    },
    optional=True,  # schema.maybe(actionAlertsFilterSchema): null is refused
)


def rule_fields(action: Field) -> dict[str, Field]:
    """The rule fields of the create and update bodies, in Kibana's order, with `action` for each
    element of `actions` (the API's `{id, ...}`, the saved object's `{actionRef, ...}`)."""
    return {
        "name": String(max_length=RULE_NAME_MAX_LENGTH),
        "tags": Array(String(), default=list),
        "schedule": Object({"interval": String(max_length=DURATION_MAX_LENGTH, validator=duration_problem)}),
        "params": Record(Any_(), default=dict),  # ruleParamsSchema: recordOf(string, maybe(any))
        "actions": Array(action, default=list),
        "throttle": String(nullable=True, max_length=DURATION_MAX_LENGTH, validator=duration_problem),
        "notify_when": NotifyWhen(nullable=True),
        "alert_delay": Object({"active": Number(minimum=1)}, optional=True),  # maybe(alertDelaySchema)
        "flapping": Object(
            {
                "look_back_window": Number(minimum=2, maximum=20),
                "status_change_threshold": Number(minimum=2, maximum=20),
            },
            nullable=True,
            validator=flapping_problem,
        ),
    }


# ---- validation after the route schema (Kibana's order, §4.2) -------------------------------------


def check_groups(actions: list[dict]) -> None:
    for action in actions:
        if not action.get("group"):
            raise RuleError(f"Group is not defined in action {action['id']}")


def get_rule_type(type_id: str) -> rule_types.RuleType:
    try:
        return rule_types.get(type_id)
    except rule_types.RuleTypeNotRegistered as exc:
        raise RuleError(str(exc)) from None


def check_consumer(rule_type: rule_types.RuleType, consumer: str, operation: str) -> None:
    if consumer not in CONSUMERS and consumer != rule_type.producer:
        raise RuleError(f'Unauthorized by "{consumer}" to {operation} "{rule_type.type_id}" rule', 403)


def validate_params(rule_type: rule_types.RuleType, params: Any) -> dict:
    try:
        return rule_type.validate_params(params)
    except rule_types.ParamsInvalid as exc:
        raise RuleError(f"params invalid: {exc}") from None


def validate_actions(
    space_id: str,
    rule_type: rule_types.RuleType,
    actions: list[dict],
    *,
    interval: str,
    notify_when: str | None,
    throttle: str | None,
) -> list[dict]:
    """Kibana's validate_actions: connector lookup first (not wrapped), then every other problem
    collected into one `Failed to validate actions ...` message. Returns actions with uuids."""
    from connectors.services import ConnectorNotFound, find_connector

    connectors = {}
    for action in actions:
        try:
            connectors[action["id"]] = find_connector(space_id, action["id"])
        except ConnectorNotFound as exc:
            raise RuleError(f"Failed to load action {action['id']} (404): {exc}") from None
    errors = []
    missing = sorted({c.name for c in connectors.values() if c.is_missing_secrets and not c.is_preconfigured})
    if missing:
        errors.append(f"Invalid connectors: {', '.join(missing)}")
    actions, problems = action_problems(
        rule_type, actions, interval=interval, notify_when=notify_when, throttle=throttle
    )
    raise_action_problems(errors + problems)
    cleaned = []
    for action in actions:
        item = dict(action)
        item.setdefault("params", {})
        item.pop("connector_type_id", None)
        cleaned.append(item)
    return cleaned


def action_problems(
    rule_type: rule_types.RuleType,
    actions: list[dict],
    *,
    interval: str,
    notify_when: str | None,
    throttle: str | None,
) -> tuple[list[dict], list[str]]:
    """The checks of Kibana's validate_actions that need no connector, in its order: action groups,
    rule-level versus per-action frequency, throttles shorter than the interval, alerts filters,
    duplicated uuids. Returns the actions with uuids, and the problems. Also run on a saved-object
    import (actions.saved_objects), where connectors may arrive without secrets or later."""
    errors = []
    known_groups = {g["id"] for g in rule_type.all_action_groups()}
    bad_groups = sorted({a["group"] for a in actions if a.get("group") and a["group"] not in known_groups})
    if bad_groups:
        errors.append(f"Invalid action groups: {', '.join(bad_groups)}")
    rule_level = notify_when is not None or bool(throttle)
    with_frequency = [a for a in actions if a.get("frequency")]
    if rule_level and with_frequency:
        groups = ", ".join(a.get("group", "") for a in with_frequency)
        errors.append(
            "Cannot specify per-action frequency params when notify_when or throttle are defined at the rule level: "
            + groups
        )
    elif not rule_level:
        without = [a for a in actions if not a.get("frequency")]
        if without:
            errors.append(
                f"Actions missing frequency parameters: {', '.join(a.get('group', '') for a in without)}"
            )
    # Kibana gives every action its uuid before validating, so messages can name them.
    actions = [{**a, "uuid": a.get("uuid") or str(uuid.uuid4())} for a in actions]
    too_short = [
        a
        for a in with_frequency
        if a["frequency"].get("notify_when") == "onThrottleInterval"
        and a["frequency"].get("throttle")
        and interval_seconds(a["frequency"]["throttle"]) < interval_seconds(interval)
    ]
    if too_short:
        details = ", ".join(f"{a.get('group', '')} ({a['frequency']['throttle']})" for a in too_short)
        errors.append(
            f"Action frequency cannot be shorter than the schedule interval of {interval}: {details}"
        )
    errors.extend(_alerts_filter_problems(rule_type, actions))
    given = [a["uuid"] for a in actions if a.get("uuid")]
    if len(given) != len(set(given)):
        errors.append("Actions have duplicated UUIDs")
    return actions, errors


def raise_action_problems(errors: list[str]) -> None:
    """Kibana's one `Failed to validate actions ...` message for validate_actions' problems."""
    if len(errors) == 1:
        raise RuleError(f"Failed to validate actions due to the following error: {errors[0]}")
    if errors:
        raise RuleError(
            f"Failed to validate actions due to the following {len(errors)} errors:\n- " + "\n- ".join(errors)
        )


def _alerts_filter_problems(rule_type: rule_types.RuleType, actions: list[dict]) -> list[str]:
    """The alerts_filter checks of Kibana's validate_actions, in its order."""
    with_filter = [a for a in actions if a.get("alerts_filter") is not None]
    empty = [
        a
        for a in with_filter
        if not a["alerts_filter"].get("query") and not a["alerts_filter"].get("timeframe")
    ]
    timeframes = [(a, a["alerts_filter"].get("timeframe")) for a in with_filter]
    timeframes = [(a, t) for a, t in timeframes if t]
    missing = [a for a, t in timeframes if not (t.get("hours") and t.get("days") and t.get("timezone"))]
    bad_days = [a for a, t in timeframes if any(d not in range(1, 8) for d in t.get("days") or [])]
    bad_hours = [
        t["hours"]
        for a, t in timeframes
        if t.get("hours") and (hours_problem(t["hours"]["start"]) or hours_problem(t["hours"]["end"]))
    ]
    problems = []
    if empty:
        uuids = ", ".join(a["uuid"] for a in empty)
        problems.append(f'Action\'s alertsFilter  must have either "query" or "timeframe" : {uuids}')
    if missing:
        uuids = ", ".join(a["uuid"] for a in missing)
        problems.append(
            f"Action's alertsFilter timeframe has missing fields: days, hours or timezone: {uuids}"
        )
    if bad_days:
        values = ", ".join(
            f"({a['uuid']}:[{','.join(str(d) for d in a['alerts_filter']['timeframe']['days'])}]) "
            for a in bad_days
        )
        problems.append(f"Action's alertsFilter days has invalid values: {values}")
    if bad_hours:
        values = ", ".join(f"{h['start']}-{h['end']}" for h in bad_hours)
        problems.append(f"Action's alertsFilter time range has an invalid value: {values}")
    if with_filter and not rule_type.has_alerts:
        uuids = ", ".join(a["uuid"] for a in with_filter)
        problems.append(
            f"This ruleType ({rule_type.name}) can't have an action with Alerts Filter. Actions: [{uuids}]"
        )
    return problems


def check_minimum_interval(interval: str, operation: str) -> None:
    """`xpack.alerting.rules.minimumScheduleInterval`: with `enforce`, a shorter schedule is refused
    (Kibana's create_rule/update_rule, after the action checks); without it, only a warning is logged."""
    config = get_config()
    minimum = config["xpack.alerting.rules.minimumScheduleInterval.value"]
    if interval_seconds(interval) >= interval_seconds(minimum):
        return
    if config["xpack.alerting.rules.minimumScheduleInterval.enforce"]:
        verb = "creating" if operation == "create" else "updating"
        raise RuleError(
            f"Error {verb} rule: the interval is less than the allowed minimum interval of {minimum}"
        )
    logger.warning(
        "Rule schedule interval (%s) is less than the minimum value (%s). Running rules at this interval may "
        'impact alerting performance. Set "xpack.alerting.rules.minimumScheduleInterval.enforce" to true to '
        "prevent creation of these rules.",
        interval,
        minimum,
    )


def prepare(space_id: str, body: dict, *, rule_type_id: str, consumer: str, operation: str) -> dict:
    """Every check after the route schema, in Kibana's order. Returns the fields to store."""
    check_groups(body.get("actions", []))
    rule_type = get_rule_type(rule_type_id)
    check_consumer(rule_type, consumer, operation)
    params = validate_params(rule_type, body.get("params", {}))
    notify_when = body.get("notify_when")
    throttle = body.get("throttle")
    actions = validate_actions(
        space_id,
        rule_type,
        body.get("actions", []),
        interval=body["schedule"]["interval"],
        notify_when=notify_when,
        throttle=throttle,
    )
    check_minimum_interval(body["schedule"]["interval"], operation)
    if notify_when is None and throttle:
        notify_when = "onThrottleInterval"
    return {
        "alert_delay": body.get("alert_delay"),
        "flapping": body.get("flapping"),
        "name": body["name"],
        "tags": body.get("tags", []),
        "schedule_interval": body["schedule"]["interval"],
        "params": params,
        "actions": actions,
        "notify_when": notify_when,
        "throttle": throttle or None,
    }


def create_rule(
    space, body: dict, *, rule_id: str | None = None, user: str | None = None, by_api_key: bool = False
) -> Rule:
    # Any predefined id is accepted (Kibana 8.17+/9.x: the rule type has `enforceRandomId: false`);
    # it must be unused in every space (rules are multiple-isolated saved objects).
    if rule_id is not None and len(rule_id) > MAX_RULE_ID_LENGTH:
        raise RuleError(
            f"[request params.id]: value has length [{len(rule_id)}] but it must have a maximum length of [{MAX_RULE_ID_LENGTH}]."
        )
    fields = prepare(
        space.id, body, rule_type_id=body["rule_type_id"], consumer=body["consumer"], operation="create"
    )
    enabled = body.get("enabled", True)
    now = timezone.now()
    rule = Rule(
        space=space,
        rule_type_id=body["rule_type_id"],
        consumer=body["consumer"],
        enabled=enabled,
        created_by=user,
        updated_by=user,
        api_key_owner=user if enabled else None,
        api_key_created_by_user=by_api_key if enabled else None,
        execution_status={"status": "pending", "last_execution_date": iso(now)},
        next_run_at=now if enabled else None,
        **fields,
    )
    if rule_id:
        rule.id = rule_id.lower() if UUID_RE.match(rule_id) else rule_id
    try:
        with transaction.atomic():
            if Rule.objects.filter(pk=rule.id).exists():
                raise RuleError(f"Saved object [alert/{rule.id}] conflict", 409)
            rule.save(force_insert=True)
    except IntegrityError:
        raise RuleError(f"Saved object [alert/{rule.id}] conflict", 409) from None
    return rule


DEFINITION_FIELDS = (
    "name",
    "tags",
    "schedule_interval",
    "params",
    "actions",
    "notify_when",
    "throttle",
    "alert_delay",
    "flapping",
)


def update_rule(rule: Rule, body: dict, *, user: str | None = None, by_api_key: bool = False) -> Rule:
    fields = prepare(
        rule.space_id, body, rule_type_id=rule.rule_type_id, consumer=rule.consumer, operation="update"
    )
    changed = any(getattr(rule, key) != value for key, value in fields.items())
    interval_changed = fields["schedule_interval"] != rule.schedule_interval
    for key, value in fields.items():
        setattr(rule, key, value)
    if changed:
        rule.revision += 1
    rule.updated_by = user
    if rule.enabled:
        rule.api_key_owner = user
        rule.api_key_created_by_user = by_api_key
        if interval_changed:
            rule.next_run_at = timezone.now()
    rule.save()
    return rule


def enable_rule(rule: Rule, user: str | None = None, *, by_api_key: bool = False) -> None:
    if rule.enabled:
        return
    now = timezone.now()
    rule.enabled = True
    # Kibana keeps a disabled rule's API key and reuses it (`!existingApiKey`); only a rule without
    # one (created disabled, imported) gets a key, and owner, from the enabling caller.
    if rule.api_key_owner is None:
        rule.api_key_owner = user
        rule.api_key_created_by_user = by_api_key
    rule.updated_by = user
    rule.next_run_at = now
    rule.execution_status = {"status": "pending", "last_execution_date": iso(now), "last_duration": 0}
    rule.save()


def disable_rule(rule: Rule, user: str | None = None) -> None:
    if not rule.enabled:
        return
    with transaction.atomic():
        rule.enabled = False
        rule.updated_by = user
        rule.next_run_at = None
        rule.running = False
        rule.save()
        # Kibana clears the rule's alert state on disable (enabling again starts fresh), logging a
        # recovered-instance event for each alert that was active.
        _log_recovered_on_disable(rule)
        Alert.objects.filter(rule=rule).delete()


def _log_recovered_on_disable(rule: Rule) -> None:
    from actions.rule_runner import _alerting_event
    from eventlog.services import record

    for alert_id, group in Alert.objects.filter(rule=rule, status=Alert.ACTIVE).values_list(
        "alert_id", "last_scheduled_group"
    ):
        alerting = {"instance_id": alert_id, **({"action_group_id": group} if group else {})}
        record(
            _alerting_event(
                rule,
                None,
                "recovered-instance",
                f"instance '{alert_id}' has recovered due to the rule was disabled",
                alerting=alerting,
            )
        )


def type_enabled_for_rules(type_id: str) -> bool:
    return registry.is_enabled_in_config(type_id, get_config())
