"""Rule life cycle shared by the API and the admin: validation with Kibana's messages, create,
update, enable/disable, and the API representation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule
from django.db import IntegrityError, transaction
from django.utils import timezone

from actions import rule_types
from actions.models import Alert, Rule
from connectors import registry
from connectors.conf import get_config

DURATION_RE = re.compile(r"^[1-9][0-9]*[smhd]$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
NOTIFY_WHEN = ("onActiveAlert", "onThrottleInterval", "onActionGroupChange")
UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE
)
# Flapping (§5.6): the defaults when a rule has no `flapping` override; both numbers range 2-20.
FLAPPING_DEFAULTS = {"look_back_window": 20, "status_change_threshold": 4}
FLAPPING_RANGE = (2, 20)
HOURS_RE = re.compile(r"^([0-9]|0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$")
# Consumers (Kibana feature ids) that may own rules here; the rule type's producer is always allowed.
CONSUMERS = {"alerts", "stackAlerts", "actions"}
# Longest predefined rule id we store (Kibana sets no limit on create; our columns hold 64).
MAX_RULE_ID_LENGTH = 64


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
    if len(errors) == 1:
        raise RuleError(f"Failed to validate actions due to the following error: {errors[0]}")
    if errors:
        raise RuleError(
            f"Failed to validate actions due to the following {len(errors)} errors:\n- " + "\n- ".join(errors)
        )
    cleaned = []
    for action in actions:
        item = dict(action)
        item.setdefault("params", {})
        item.pop("connector_type_id", None)
        cleaned.append(item)
    return cleaned


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


def create_rule(space, body: dict, *, rule_id: str | None = None, user: str | None = None) -> Rule:
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


def update_rule(rule: Rule, body: dict, *, user: str | None = None) -> Rule:
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
        if interval_changed:
            rule.next_run_at = timezone.now()
    rule.save()
    return rule


def enable_rule(rule: Rule, user: str | None = None) -> None:
    if rule.enabled:
        return
    now = timezone.now()
    rule.enabled = True
    rule.api_key_owner = user
    rule.updated_by = user
    rule.next_run_at = now
    rule.execution_status = {"status": "pending", "last_execution_date": iso(now)}
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
        # Kibana clears the rule's alert state on disable: enabling again starts fresh.
        Alert.objects.filter(rule=rule).delete()


# ---- snooze schedules (public since 8.19) ---------------------------------------------------------

ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SNOOZE_DURATION_RE = re.compile(r"(\d+)(s|m|h|d)")  # unanchored, as Kibana's
EVERY_RE = re.compile(r"^[1-9][0-9]*[yMwdhms]$")
FREQUENCY_RE = re.compile(r"(\d+)(d|w|M|y)")
WEEKDAY_RE = re.compile(r"^(((\+|-)[1-4])?(MO|TU|WE|TH|FR|SA|SU))$")
FREQUENCIES = {"y": rrule.YEARLY, "M": rrule.MONTHLY, "w": rrule.WEEKLY, "d": rrule.DAILY}
EVERY_OF = {value: key for key, value in FREQUENCIES.items()}
# moment.duration(n, unit).asDays(), which rounds months to whole days
DAYS_PER = {"s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7, "M": 30.436875, "y": 365.2425}
MAX_SNOOZE_SCHEDULES = 5


def _parse_date(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def start_date_problem(value: str) -> str | None:
    if _parse_date(value) is None:
        return f"Invalid snooze start date: {value}"
    if not ISO_DATE_RE.match(value):
        return f"Invalid start date format: {value}. Use ISO 8601 YYYY-MM-DDTHH:mm:ss.sssZ"
    return None


def end_date_problem(value: str) -> str | None:
    parsed = _parse_date(value)
    if parsed is None:
        return f"Invalid snooze end date: {value}"
    if parsed <= timezone.now():
        return f"Invalid snooze schedule end date as it is in the past: {value}"
    if not ISO_DATE_RE.match(value):
        return f"Invalid end date format: {value}. Use ISO 8601 YYYY-MM-DDTHH:mm:ss.sssZ"
    return None


def snooze_duration_problem(value: str) -> str | None:
    return None if SNOOZE_DURATION_RE.search(value) else f"Invalid schedule duration format: {value}"


def timezone_problem(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"Invalid schedule timezone: {value}"
    return None


def every_problem(value: str) -> str | None:
    return None if EVERY_RE.match(value) else f"string is not a valid every of recurring schedule: {value}"


def weekdays_problem(days: list[str]) -> str | None:
    if not days:
        return "OnWeekDay cannot be empty"
    invalid = [day for day in days if not WEEKDAY_RE.match(day)]
    return f"Invalid onWeekDay values in recurring schedule: {','.join(invalid)}" if invalid else None


def integer_problem(field: str):
    return lambda value: (
        None if float(value).is_integer() else f"schedule {field} must be a positive integer."
    )


def _days(count: str, unit: str) -> float:
    days = int(count) * DAYS_PER[unit]
    return round(days) if unit in "My" else days


def custom_schedule_problem(custom: dict) -> str | None:
    recurring = custom.get("recurring") or {}
    every, duration = recurring.get("every"), custom["duration"]
    if every:
        interval = FREQUENCY_RE.search(every)
        length = SNOOZE_DURATION_RE.search(duration)
        if interval and length and _days(*length.groups()) >= _days(*interval.groups()):
            return f"Recurrence every {every} must be longer than the duration {duration}."
    if recurring.get("end") and recurring.get("occurrences"):
        return "Only one of 'end' or 'occurrences' can be set for recurring schedules."
    return None


def _duration_ms(duration: str) -> int:
    count, unit = SNOOZE_DURATION_RE.search(duration).groups()
    return int(int(count) * DAYS_PER[unit] * 86_400_000)


def custom_to_snooze(custom: dict, schedule_id: str) -> dict:
    """The API's custom schedule as Kibana stores it: a duration in ms and an RRULE."""
    recurring = custom.get("recurring") or {}
    match = FREQUENCY_RE.search(recurring.get("every") or "")
    interval, frequency = match.groups() if match else (None, None)
    r_rule = {
        "dtstart": custom["start"],
        "tzid": custom.get("timezone") or "UTC",
        "freq": FREQUENCIES.get(frequency),
        "interval": int(interval) if interval else None,
        "byweekday": recurring.get("onWeekDay"),
        "bymonthday": recurring.get("onMonthDay"),
        "bymonth": recurring.get("onMonth"),
        "until": recurring.get("end"),
        "count": recurring.get("occurrences"),
    }
    return {"id": schedule_id, "duration": _duration_ms(custom["duration"]), "rRule": r_rule}


def snooze_to_custom(snooze: dict, duration: str) -> dict:
    """Kibana's transformRRuleToCustomSchedule, with the request's own duration text."""
    r_rule = snooze["rRule"]
    recurring = {
        "end": iso(_parse_date(r_rule["until"])) if r_rule.get("until") else None,
        "every": f"{r_rule['interval']}{EVERY_OF.get(r_rule['freq'], '')}"
        if r_rule.get("interval")
        else None,
        "onWeekDay": r_rule.get("byweekday"),
        "onMonthDay": r_rule.get("bymonthday"),
        "onMonth": r_rule.get("bymonth"),
        "occurrences": r_rule.get("count"),
    }
    recurring = {key: value for key, value in recurring.items() if value is not None}
    custom = {"duration": duration, "start": iso(_parse_date(r_rule["dtstart"])), "timezone": r_rule["tzid"]}
    if recurring:
        custom["recurring"] = recurring
    return custom


def _weekday(text: str):
    day = getattr(rrule, text[-2:])
    return day(int(text[:-2])) if len(text) > 2 else day


def _active_until(snooze: dict, now: datetime) -> datetime | None:
    """When the occurrence of `snooze` that covers `now` ends, or None (Kibana's getActiveSnoozeIfExist)."""
    r_rule = snooze["rRule"]
    duration = timedelta(milliseconds=snooze["duration"])
    start = _parse_date(r_rule["dtstart"])
    if start <= now < start + duration:
        return start + duration
    if r_rule.get("freq") is None:
        return None
    # Occurrences keep their wall-clock time in the schedule's timezone (across DST changes).
    # dateutil drops sub-second parts of dtstart, so they are taken off and added back.
    fraction = timedelta(microseconds=start.microsecond)
    recurrence = rrule.rrule(
        r_rule["freq"],
        dtstart=(start - fraction).astimezone(ZoneInfo(r_rule["tzid"])),
        interval=r_rule.get("interval") or 1,
        byweekday=[_weekday(d) for d in r_rule["byweekday"]] if r_rule.get("byweekday") else None,
        bymonthday=r_rule.get("bymonthday"),
        bymonth=r_rule.get("bymonth"),
        count=r_rule.get("count"),
        until=_parse_date(r_rule["until"]) if r_rule.get("until") else None,
    )
    last = recurrence.before(now - fraction, inc=True)
    if last is not None and now < last + fraction + duration:
        return (last + fraction + duration).astimezone(UTC)
    return None


def snoozed_until(rule: Rule, now: datetime | None = None) -> datetime | None:
    """The latest end of the rule's active snoozes (Kibana's `isSnoozedUntil`), or None."""
    now = now or timezone.now()
    ends = [end for end in (_active_until(s, now) for s in rule.snooze_schedule or []) if end]
    return max(ends) if ends else None


def snooze_rule(rule: Rule, custom: dict, user: str | None = None) -> dict:
    """Add a snooze schedule; answers the route's `{"schedule": {id, custom}}`."""
    schedule_id = str(uuid.uuid4())
    snooze = custom_to_snooze(custom, schedule_id)
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        schedules = [*(rule.snooze_schedule or []), snooze]
        if len([s for s in schedules if s.get("id")]) > MAX_SNOOZE_SCHEDULES:
            raise RuleError(f"Rule cannot have more than {MAX_SNOOZE_SCHEDULES} snooze schedules")
        Rule.objects.filter(pk=rule.pk).update(
            snooze_schedule=schedules, updated_by=user, updated_at=timezone.now()
        )
    return {"schedule": {"id": schedule_id, "custom": snooze_to_custom(snooze, custom["duration"])}}


def unsnooze_rule(rule: Rule, schedule_id: str, user: str | None = None) -> None:
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        schedules = rule.snooze_schedule or []
        if not schedules:
            raise RuleError("Rule has no snooze schedules.")
        if not any(s.get("id") == schedule_id for s in schedules):
            raise RuleError(f"Rule has no snooze schedule with id {schedule_id}.")
        Rule.objects.filter(pk=rule.pk).update(
            snooze_schedule=[s for s in schedules if s.get("id") != schedule_id],
            updated_by=user,
            updated_at=timezone.now(),
        )


# ---- representation ---------------------------------------------------------------------------------


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


def rule_to_api(rule: Rule, type_cache: dict | None = None, *, snooze_data: bool = False) -> dict:
    """Kibana's rule object. `snooze_data` (get and find) adds `is_snoozed_until`; the schedules
    themselves are never shown on the public routes."""
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
        "api_key_created_by_user": False if rule.api_key_owner else None,
        "throttle": rule.throttle,
        "notify_when": rule.notify_when,
        "mute_all": rule.mute_all,
        "muted_alert_ids": rule.muted_alert_ids,
        **({"is_snoozed_until": iso(snoozed_until(rule))} if snooze_data else {}),
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
    body["next_run"] = iso(rule.next_run_at) if rule.enabled else None
    return body


def rule_type_to_api(rule_type: rule_types.RuleType) -> dict:
    producer = rule_type.producer
    consumers = sorted(CONSUMERS | {producer})
    return {
        "id": rule_type.type_id,
        "name": rule_type.name,
        "action_groups": rule_type.all_action_groups(),
        "recovery_action_group": dict(rule_types.RECOVERED),
        "default_action_group_id": rule_type.default_action_group_id,
        "action_variables": rule_type.action_variables,
        "minimum_license_required": rule_type.minimum_license,
        "enabled_in_license": True,
        "producer": producer,
        "authorized_consumers": {c: {"read": True, "all": True} for c in consumers},
        "rule_task_timeout": "5m",
        "does_set_recovery_context": rule_type.does_set_recovery_context,
        "is_exportable": rule_type.is_exportable,
        "category": rule_type.category,
        "has_alerts_mappings": rule_type.has_alerts,
        "has_fields_for_a_a_d": False,
    }


def type_enabled_for_rules(type_id: str) -> bool:
    return registry.is_enabled_in_config(type_id, get_config())
