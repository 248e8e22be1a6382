"""Maintenance windows (Kibana 9.1+ `/api/maintenance_window`): the schedule's validation with
Kibana's messages, its occurrences (`events`), the computed `status`, and which windows are active
for a rule run. The API shape is `to_api()`; the effect on alerts is in actions/rule_runner.py."""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil import rrule
from django.db import transaction
from django.utils import timezone

from actions import kql
from actions.models import MaintenanceWindow
from actions.rule_snooze import FREQUENCIES, ISO_DATE_RE, _parse_date, _weekday
from actions.rules import RuleError, iso

RUNNING, UPCOMING, FINISHED, ARCHIVED, DISABLED = "running", "upcoming", "finished", "archived", "disabled"
STATUSES = (RUNNING, UPCOMING, FINISHED, ARCHIVED, DISABLED)
MAX_DOCS = 10000  # the find route's page * per_page limit
# MWP's schedule validators (they differ from the rule snooze ones: `ms` durations, +/-5 weekdays).
DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d)")
EVERY_RE = re.compile(r"^(\d+)(d|w|M|y)$")
WEEKDAY_RE = re.compile(r"^(((\+|-)[1-5])?(MO|TU|WE|TH|FR|SA|SU))$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# moment.duration(n, unit).asDays() for the "every must be longer than the duration" rule
EVERY_DAYS = {"d": 1, "w": 7, "M": 30, "y": 365}
ONE_YEAR = timedelta(days=365)


class MaintenanceWindowError(RuleError):
    """A Kibana-worded maintenance-window error with its HTTP status."""


# ---- schedule validation (route schema, `[request body.schedule.custom...]` prefix) --------------


def start_problem(value: str) -> str | None:
    if _parse_date(value) is None:
        return f"Invalid schedule start date: {value}"
    if not ISO_DATE_RE.match(value):
        return f"Invalid schedule start date format: {value}. Use ISO 8601 YYYY-MM-DDTHH:mm:ss.sssZ"
    return None


def duration_problem(value: str) -> str | None:
    match = DURATION_RE.search(value)
    if not match:
        return f"Invalid schedule duration format: {value}"
    if match.group(0) != value or int(match.group(1)) <= 0:
        return "Invalid schedule duration."
    return None


def every_problem(value: str) -> str | None:
    match = EVERY_RE.match(value)
    if not match:
        return f"'every' string of recurring schedule is not valid : {value}"
    if int(match.group(1)) <= 0:
        return "Invalid 'every' field conversion to date."
    return None


def weekdays_problem(days: list[str]) -> str | None:
    invalid = [day for day in days if not WEEKDAY_RE.match(day)]
    return f"Invalid onWeekDay values in recurring schedule: {','.join(invalid)}" if invalid else None


def integer_problem(field: str):
    return lambda value: (
        None if float(value).is_integer() else f"schedule {field} must be a positive integer."
    )


def custom_problem(custom: dict) -> str | None:
    """The object-level rules of `schedule.custom`."""
    recurring = custom.get("recurring") or {}
    every = recurring.get("every")
    if every:
        interval = EVERY_RE.match(every)
        length = DURATION_RE.search(custom["duration"])
        if interval and length:
            every_ms = int(interval.group(1)) * EVERY_DAYS[interval.group(2)] * UNIT_MS["d"]
            if duration_ms(custom["duration"]) >= every_ms:
                return f"Recurrence every {every} must be longer than the duration {custom['duration']}."
    if recurring.get("end") and recurring.get("occurrences"):
        return "Only one of 'end' or 'occurrences' can be set for recurring schedules."
    return None


def duration_ms(duration: str) -> int:
    count, unit = DURATION_RE.search(duration).groups()
    return int(count) * UNIT_MS[unit]


def kql_problem(text: str, operation: str) -> None:
    try:
        kql.parse(text)
    except kql.KqlError as exc:
        raise MaintenanceWindowError(
            f"Error validating {operation} maintenance window data - {exc}"
        ) from None


# ---- schedule -> rRule -> events -----------------------------------------------------------------


def custom_to_r_rule(custom: dict) -> dict:
    recurring = custom.get("recurring") or {}
    match = EVERY_RE.match(recurring.get("every") or "")
    return {
        "dtstart": custom["start"],
        "tzid": custom.get("timezone") or "UTC",
        "freq": FREQUENCIES[match.group(2)] if match else None,
        "interval": int(match.group(1)) if match else None,
        "byweekday": recurring.get("onWeekDay"),
        "bymonthday": recurring.get("onMonthDay"),
        "bymonth": recurring.get("onMonth"),
        "until": recurring.get("end"),
        "count": recurring.get("occurrences"),
    }


def expiration_for(custom: dict, now: datetime) -> datetime:
    """Kibana's getMaintenanceWindowExpirationDate: a year from now when recurring, else the end.
    (So a recurring window starting more than a year ahead has no events yet: `finished`, as in Kibana.)"""
    if custom.get("recurring"):
        return now + ONE_YEAR
    return _parse_date(custom["start"]) + timedelta(milliseconds=duration_ms(custom["duration"]))


def generate_events(r_rule: dict, length_ms: int, expiration: datetime) -> list[dict]:
    """Occurrences `{gte, lte}` from the start up to the expiration date. Recurrences keep their
    wall-clock time in the schedule's timezone (across DST changes)."""
    from zoneinfo import ZoneInfo

    start = _parse_date(r_rule["dtstart"])
    length = timedelta(milliseconds=length_ms)
    if r_rule.get("freq") is None:
        starts = [start] if start <= expiration else []
    else:
        fraction = timedelta(microseconds=start.microsecond)  # dateutil drops sub-second parts
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
        starts = [
            moment.astimezone(UTC) + fraction
            for moment in recurrence.between(start - fraction, expiration, inc=True)
        ]
    return [{"gte": iso(s), "lte": iso(s + length)} for s in starts]


def merge_events(old: list[dict], new: list[dict]) -> list[dict]:
    """Kibana's mergeEvents: past occurrences are kept, future ones come from the new list."""
    now = iso(timezone.now())
    past = [event for event in old if event["lte"] <= now]
    seen = {event["gte"] for event in past}
    return sorted([*past, *[e for e in new if e["gte"] not in seen]], key=lambda e: e["gte"])


# ---- status ----------------------------------------------------------------------------------------


def date_and_status(window: MaintenanceWindow, now: datetime | None = None) -> tuple[str, dict | None]:
    """Kibana's getMaintenanceWindowDateAndStatus: the status and the running or next event."""
    now = now or timezone.now()
    events = sorted(window.events or [], key=lambda e: e["gte"])
    event = None
    if events:
        now_text = iso(now)
        index = bisect_right([e["gte"] for e in events], now_text) - 1
        if index < 0:
            event = events[0]
        elif now_text < events[index]["lte"] or index == len(events) - 1:
            event = events[index]
        else:
            event = events[index + 1]
    if not window.enabled:
        return DISABLED, event
    if not events:
        return (ARCHIVED if window.expiration_date < now else FINISHED), None
    if window.expiration_date < now:
        return ARCHIVED, event
    if _parse_date(event["gte"]) > now:
        return UPCOMING, event
    if _parse_date(event["lte"]) <= now:
        return FINISHED, event
    return RUNNING, event


def is_running(window: MaintenanceWindow, now: datetime) -> bool:
    return date_and_status(window, now)[0] == RUNNING


def active_windows(space_id: str, now: datetime) -> list[MaintenanceWindow]:
    """The windows running now in a space (one query): those an alert created now is tagged with."""
    candidates = MaintenanceWindow.objects.filter(space_id=space_id, enabled=True, expiration_date__gte=now)
    return [window for window in candidates if is_running(window, now)]


def scope_kql(window: MaintenanceWindow) -> str:
    return (((window.scope or {}).get("alerting") or {}).get("query") or {}).get("kql") or ""


def applies_to(window: MaintenanceWindow, alert_doc: dict) -> bool:
    """Whether a window covers an alert: no scope covers all; a KQL scope must match the alert
    document (Kibana queries its alerts-as-data index; ours is the document the runner builds)."""
    text = scope_kql(window)
    if not text:
        return True
    try:
        return kql.matches(kql.parse(text), alert_doc)
    except kql.KqlError:
        return False


# ---- life cycle ----------------------------------------------------------------------------------


def to_api(window: MaintenanceWindow, now: datetime | None = None) -> dict:
    status, _event = date_and_status(window, now)
    body = {
        "id": window.id,
        "title": window.title,
        "enabled": window.enabled,
        "created_by": window.created_by,
        "updated_by": window.updated_by,
        "created_at": iso(window.created_at),
        "updated_at": iso(window.updated_at),
        "status": status,
        "schedule": window.schedule,
    }
    if window.scope:
        body["scope"] = window.scope
    return body


def _apply_schedule(window: MaintenanceWindow, custom: dict, now: datetime, *, merge: bool) -> None:
    window.schedule = {"custom": custom}
    window.r_rule = custom_to_r_rule(custom)
    window.duration_ms = duration_ms(custom["duration"])
    window.expiration_date = expiration_for(custom, now)
    events = generate_events(window.r_rule, window.duration_ms, window.expiration_date)
    window.events = merge_events(window.events, events) if merge else events


def create_window(space, body: dict, user: str | None = None) -> MaintenanceWindow:
    kql_text = (((body.get("scope") or {}).get("alerting") or {}).get("query") or {}).get("kql")
    if kql_text:
        kql_problem(kql_text, "create")
    window = MaintenanceWindow(
        space=space,
        title=body["title"],
        enabled=body.get("enabled", True),
        created_by=user,
        updated_by=user,
        scope={"alerting": {"query": {"kql": kql_text}}} if kql_text else None,
    )
    _apply_schedule(window, body["schedule"]["custom"], timezone.now(), merge=False)
    window.save(force_insert=True)
    return window


def update_window(window: MaintenanceWindow, body: dict, user: str | None = None) -> MaintenanceWindow:
    """PATCH: omitted fields stay; a scope is applied only with a non-empty KQL (it cannot be removed)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
            if window.expiration_date < now:
                raise MaintenanceWindowError("Cannot edit archived maintenance windows")
            kql_text = (((body.get("scope") or {}).get("alerting") or {}).get("query") or {}).get("kql")
            if kql_text:
                kql_problem(kql_text, "update")
                window.scope = {"alerting": {"query": {"kql": kql_text}}}
            if "title" in body:
                window.title = body["title"]
            if "enabled" in body:
                window.enabled = body["enabled"]
            custom = (body.get("schedule") or {}).get("custom")
            if custom is not None:
                unchanged = custom == (window.schedule or {}).get("custom")
                _apply_schedule(window, custom, now, merge=unchanged)
            window.updated_by = user
            window.save()
    except MaintenanceWindowError as exc:
        raise MaintenanceWindowError(
            f"Failed to update maintenance window by id: {window.id}, Error: {exc.message}", exc.status
        ) from None
    return window


def archive_window(window: MaintenanceWindow, archive: bool, user: str | None = None) -> MaintenanceWindow:
    """Archive: expires now, no events (status `archived`). Unarchive: a year more, events again."""
    now = timezone.now()
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
        if archive:
            window.expiration_date = now
            window.events = []
        else:
            window.expiration_date = now + ONE_YEAR
            events = generate_events(window.r_rule, window.duration_ms, window.expiration_date)
            window.events = merge_events(window.events, events)
        window.updated_by = user
        window.save()
    return window


def find_windows(space_id: str, *, title=None, created_by=None, statuses=None) -> list[MaintenanceWindow]:
    windows = MaintenanceWindow.objects.filter(space_id=space_id).order_by("-created_at", "id")
    if title:
        windows = windows.filter(title__icontains=title)
    if created_by:
        windows = windows.filter(created_by=created_by)
    now = timezone.now()
    result = list(windows)
    if statuses:
        result = [w for w in result if date_and_status(w, now)[0] in statuses]
    return result


def describe_schedule(window: MaintenanceWindow) -> dict[str, Any]:
    """The running or next occurrence, for the admin list."""
    status, event = date_and_status(window)
    return {"status": status, "event": event}
