"""Rule snooze schedules (public since 8.19): checking a custom schedule with Kibana's messages, the
stored `rRule` form and back, when a rule is snoozed until, and snoozing and unsnoozing a rule."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule
from django.db import transaction
from django.utils import timezone

from actions.models import Rule
from actions.rules import MAX_INTERVAL_MS, RuleError, iso, later

ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
SNOOZE_DURATION_RE = re.compile(r"(\d+)(s|m|h|d)")  # unanchored, as Kibana's
EVERY_RE = re.compile(r"^[1-9][0-9]*[yMwdhms]\Z")
FREQUENCY_RE = re.compile(r"(\d+)(d|w|M|y)")
WEEKDAY_RE = re.compile(r"^(((\+|-)[1-4])?(MO|TU|WE|TH|FR|SA|SU))\Z")
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


# A snooze counts at most MAX_INTERVAL_MS (Kibana stores any number of ms): one snoozed "for
# 99999999999999d" used to make the rule, the space's `_find` and the rule's runs fail with
# OverflowError. Applied when read, so snoozes stored before hold too.


def _active_until(snooze: dict, now: datetime) -> datetime | None:
    """When the occurrence of `snooze` that covers `now` ends, or None (Kibana's getActiveSnoozeIfExist)."""
    r_rule = snooze["rRule"]
    duration = timedelta(milliseconds=min(snooze["duration"], MAX_INTERVAL_MS))
    start = _parse_date(r_rule["dtstart"])
    if start <= now < later(start, duration):
        return later(start, duration)
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
    if last is not None and now < later(last + fraction, duration):
        return later(last + fraction, duration).astimezone(UTC)
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
