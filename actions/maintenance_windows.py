"""Maintenance windows (Kibana 9.1+ `/api/maintenance_window`): the schedule's validation with
Kibana's messages, its occurrences (`events`), the computed `status`, and which windows are active
for a rule run. The API shape is `to_api()`; the effect on alerts is in actions/rule_runner.py.

The older internal routes (`/internal/alerting/rules/maintenance_window`, Kibana's UI) send the
stored shape itself (`r_rule`, `duration` in ms, `category_ids`, `scoped_query`); the helpers at the
end translate it to the same model and life cycle (`to_internal_api()` is their answer).

`scope` holds `{"alerting": {"query": {"kql", "filters"?}}, "category_ids"?: [...]}`: the public
API shows and sets only the KQL; filters and categories come from the internal routes."""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil import rrule
from django.db import transaction
from django.utils import timezone

from actions import kql, rule_types
from actions.models import MaintenanceWindow
from actions.rule_snooze import EVERY_OF, FREQUENCIES, ISO_DATE_RE, _parse_date, _weekday
from actions.rules import MAX_INTERVAL_MS, RuleError, iso, later

RUNNING, UPCOMING, FINISHED, ARCHIVED, DISABLED = "running", "upcoming", "finished", "archived", "disabled"
STATUSES = (RUNNING, UPCOMING, FINISHED, ARCHIVED, DISABLED)
MAX_DOCS = 10000  # the find route's page * per_page limit
# MWP's schedule validators (they differ from the rule snooze ones: `ms` durations, +/-5 weekdays).
DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d)")
EVERY_RE = re.compile(r"^(\d+)(d|w|M|y)\Z")
WEEKDAY_RE = re.compile(r"^(((\+|-)[1-5])?(MO|TU|WE|TH|FR|SA|SU))\Z")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# moment.duration(n, unit).asDays() for the "every must be longer than the duration" rule
EVERY_DAYS = {"d": 1, "w": 7, "M": 30, "y": 365}
ONE_YEAR = timedelta(days=365)
# A window's length counts at most MAX_INTERVAL_MS (the column stops at 2**63 ms): `99999999999999d`
# lasts "for ever" instead of failing with OverflowError; the custom schedule keeps its text.


def length_ms_of(value) -> int:
    """The internal API's `duration` (a number of ms), as a window length."""
    return min(int(value), MAX_INTERVAL_MS)


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
            if int(length.group(1)) * UNIT_MS[length.group(2)] >= every_ms:
                return f"Recurrence every {every} must be longer than the duration {custom['duration']}."
    if recurring.get("end") and recurring.get("occurrences"):
        return "Only one of 'end' or 'occurrences' can be set for recurring schedules."
    return None


def duration_ms(duration: str) -> int:
    count, unit = DURATION_RE.search(duration).groups()
    return min(int(count) * UNIT_MS[unit], MAX_INTERVAL_MS)


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
    return later(_parse_date(custom["start"]), timedelta(milliseconds=duration_ms(custom["duration"])))


def expiration_for_r_rule(r_rule: dict, length_ms: int, now: datetime) -> datetime:
    """Kibana's getMaintenanceWindowExpirationDate for a stored rRule (JavaScript truthiness: a
    `freq` of 0, yearly, without an `interval` is a one-off there too)."""
    if r_rule.get("interval") or r_rule.get("freq"):
        return now + ONE_YEAR
    return later(_parse_date(r_rule["dtstart"]), timedelta(milliseconds=length_ms))


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
    return [{"gte": iso(s), "lte": iso(later(s, length))} for s in starts]


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


def _scope_query(window: MaintenanceWindow) -> dict:
    return ((window.scope or {}).get("alerting") or {}).get("query") or {}


def scope_kql(window: MaintenanceWindow) -> str:
    return _scope_query(window).get("kql") or ""


def scope_filters(window: MaintenanceWindow) -> list[dict]:
    return _scope_query(window).get("filters") or []


def category_ids(window: MaintenanceWindow) -> list[str] | None:
    return (window.scope or {}).get("category_ids")


def _rule_category(alert_doc: dict) -> str | None:
    type_id = (((alert_doc.get("kibana") or {}).get("alert") or {}).get("rule") or {}).get("rule_type_id")
    try:
        return rule_types.get(type_id).category if type_id else None
    except rule_types.RuleTypeNotRegistered:
        return None


def applies_to(window: MaintenanceWindow, alert_doc: dict) -> bool:
    """Whether a window covers an alert: no scope covers all; a KQL scope and its filters must match
    the alert document (Kibana queries its alerts-as-data index; ours is the document the runner
    builds); with `category_ids`, only rules of those categories (Kibana's rule-type category)."""
    categories = category_ids(window)
    if categories and _rule_category(alert_doc) not in categories:
        return False
    text = scope_kql(window)
    try:
        if text and not kql.matches(kql.parse(text), alert_doc):
            return False
    except kql.KqlError:
        return False
    return all(kql.matches(filter_node(f), alert_doc) for f in scope_filters(window))


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
    if scope_kql(window):
        body["scope"] = {"alerting": {"query": {"kql": scope_kql(window)}}}
    return body


def _set_schedule(
    window: MaintenanceWindow,
    *,
    custom: dict,
    r_rule: dict,
    length_ms: int,
    expiration: datetime,
    merge: bool,
) -> None:
    """The one place a schedule becomes occurrences (both APIs come through here)."""
    window.schedule = {"custom": custom}
    window.r_rule = r_rule
    window.duration_ms = length_ms
    window.expiration_date = expiration
    events = generate_events(r_rule, length_ms, expiration)
    window.events = merge_events(window.events, events) if merge else events


def _apply_schedule(window: MaintenanceWindow, custom: dict, now: datetime, *, merge: bool) -> None:
    _set_schedule(
        window,
        custom=custom,
        r_rule=custom_to_r_rule(custom),
        length_ms=duration_ms(custom["duration"]),
        expiration=expiration_for(custom, now),
        merge=merge,
    )


def _new_window(
    space, *, title: str, enabled: bool, scope: dict | None, user: str | None
) -> MaintenanceWindow:
    return MaintenanceWindow(
        space=space, title=title, enabled=enabled, created_by=user, updated_by=user, scope=scope or None
    )


def create_window(space, body: dict, user: str | None = None) -> MaintenanceWindow:
    kql_text = (((body.get("scope") or {}).get("alerting") or {}).get("query") or {}).get("kql")
    if kql_text:
        kql_problem(kql_text, "create")
    window = _new_window(
        space,
        title=body["title"],
        enabled=body.get("enabled", True),
        scope={"alerting": {"query": {"kql": kql_text}}} if kql_text else None,
        user=user,
    )
    _apply_schedule(window, body["schedule"]["custom"], timezone.now(), merge=False)
    window.save(force_insert=True)
    return window


def _update(window: MaintenanceWindow, change, user: str | None) -> MaintenanceWindow:
    """Both APIs' update: locked, refused once archived, errors worded as Kibana's update."""
    now = timezone.now()
    try:
        with transaction.atomic():
            window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
            if window.expiration_date < now:
                raise MaintenanceWindowError("Cannot edit archived maintenance windows")
            change(window, now)
            window.updated_by = user
            window.save()
    except MaintenanceWindowError as exc:
        raise MaintenanceWindowError(
            f"Failed to update maintenance window by id: {window.id}, Error: {exc.message}", exc.status
        ) from None
    return window


def update_window(window: MaintenanceWindow, body: dict, user: str | None = None) -> MaintenanceWindow:
    """PATCH: omitted fields stay; a scope is applied only with a non-empty KQL (it cannot be removed)."""

    def change(window: MaintenanceWindow, now: datetime) -> None:
        kql_text = (((body.get("scope") or {}).get("alerting") or {}).get("query") or {}).get("kql")
        if kql_text:
            kql_problem(kql_text, "update")
            scope = dict(window.scope or {})
            scope["alerting"] = {"query": {"kql": kql_text}}  # Kibana's PATCH sets `filters: []`
            window.scope = scope
        if "title" in body:
            window.title = body["title"]
        if "enabled" in body:
            window.enabled = body["enabled"]
        custom = (body.get("schedule") or {}).get("custom")
        if custom is not None:
            unchanged = custom == (window.schedule or {}).get("custom")
            _apply_schedule(window, custom, now, merge=unchanged)

    return _update(window, change, user)


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


# ---- the internal shape (`/internal/alerting/rules/maintenance_window`, Kibana's UI) ------------------
# A translation layer only: the same model, schedule-to-events, status and update/archive code as
# the public routes.

CATEGORY_IDS = ("observability", "securitySolution", "management")
UNIT_ORDER = (("d", UNIT_MS["d"]), ("h", UNIT_MS["h"]), ("m", UNIT_MS["m"]), ("s", UNIT_MS["s"]))


def duration_text(length_ms: int) -> str:
    """A duration in ms as the public `schedule.custom.duration` (the largest whole unit)."""
    for unit, size in UNIT_ORDER:
        if length_ms % size == 0:
            return f"{length_ms // size}{unit}"
    return f"{length_ms}ms"


def r_rule_to_custom(r_rule: dict, length_ms: int) -> dict:
    """Kibana's transformRRuleToCustomSchedule: what the public API shows for a window the internal
    routes created."""
    recurring = {}
    if r_rule.get("freq") is not None:
        recurring["every"] = f"{r_rule.get('interval') or 1}{EVERY_OF[r_rule['freq']]}"
    for source, target in (
        ("until", "end"),
        ("count", "occurrences"),
        ("byweekday", "onWeekDay"),
        ("bymonthday", "onMonthDay"),
        ("bymonth", "onMonth"),
    ):
        if r_rule.get(source) is not None:
            recurring[target] = r_rule[source]
    if "end" in recurring:
        recurring["end"] = iso(_parse_date(recurring["end"]))
    custom = {
        "start": iso(_parse_date(r_rule["dtstart"])),
        "duration": duration_text(length_ms),
        "timezone": r_rule["tzid"],
    }
    if recurring:
        custom["recurring"] = recurring
    return custom


def filter_node(query_filter: dict):
    """A Kibana filter (`{meta, query}`) as a KQL node to match alert documents; None matches all.
    Only the filters the filter bar builds from one field can be evaluated: phrase (`match_phrase`
    or `match`), phrases (`bool.should` of those) and exists. `filter_problem` refuses the rest."""
    meta = query_filter.get("meta") or {}
    if meta.get("disabled"):
        return None
    node = _query_node(query_filter.get("query") or {})
    return ("not", node) if meta.get("negate") else node


def _query_node(query: dict):
    if "match_phrase" in query or "match" in query:
        ((field, value),) = (query.get("match_phrase") or query["match"]).items()
        if isinstance(value, dict):
            value = value.get("query")
        return ("field", field, [(str(value), True)])
    if "exists" in query:
        return ("field", query["exists"]["field"], [("*", False)])
    should = query["bool"]["should"]
    return ("or", [_query_node(clause) for clause in should])


def filter_problem(query_filter: dict) -> str | None:
    try:
        filter_node(query_filter)
    except (KeyError, TypeError, ValueError, AttributeError):
        return (
            "only phrase, phrases and exists filters can be evaluated here "
            f"(unsupported filter on [{(query_filter.get('meta') or {}).get('key') or 'unknown'}])"
        )
    return None


def _internal_scope(current: dict | None, body: dict, operation: str) -> dict | None:
    """The stored scope after an internal body: `scoped_query` null clears the query, omitted keeps
    it; `category_ids` likewise."""
    scope = dict(current or {})
    if "scoped_query" in body:
        query = body["scoped_query"]
        if query:
            if query.get("kql"):
                kql_problem(query["kql"], operation)
            for query_filter in query.get("filters") or []:
                problem = filter_problem(query_filter)
                if problem:
                    raise MaintenanceWindowError(
                        f"Error validating {operation} maintenance window data - {problem}"
                    )
            stored = {"kql": query.get("kql") or ""}
            if query.get("filters"):
                stored["filters"] = query["filters"]
            scope["alerting"] = {"query": stored}
        else:
            scope.pop("alerting", None)
    if "category_ids" in body:
        if body["category_ids"] is None:
            scope.pop("category_ids", None)
        else:
            scope["category_ids"] = body["category_ids"]
    return scope or None


def _without_nulls(r_rule: dict) -> dict:
    return {key: value for key, value in r_rule.items() if value is not None}


def _set_internal_schedule(
    window: MaintenanceWindow, r_rule: dict, length_ms: int, now: datetime, *, merge: bool
):
    r_rule = _without_nulls(r_rule)
    _set_schedule(
        window,
        custom=r_rule_to_custom(r_rule, length_ms),
        r_rule=r_rule,
        length_ms=length_ms,
        expiration=expiration_for_r_rule(r_rule, length_ms, now),
        merge=merge,
    )


def create_window_internal(space, body: dict, user: str | None = None) -> MaintenanceWindow:
    """`POST /internal/alerting/rules/maintenance_window` (Kibana's AL create method)."""
    window = _new_window(
        space, title=body["title"], enabled=True, scope=_internal_scope(None, body, "create"), user=user
    )
    _set_internal_schedule(
        window, body["r_rule"], length_ms_of(body["duration"]), timezone.now(), merge=False
    )
    window.save(force_insert=True)
    return window


def update_window_internal(
    window: MaintenanceWindow, body: dict, user: str | None = None
) -> MaintenanceWindow:
    """`POST /internal/.../{id}`: a partial update; a new `r_rule` or `duration` regenerates the
    events, otherwise the old ones are kept and extended (Kibana's shouldRegenerateEvents)."""

    def change(window: MaintenanceWindow, now: datetime) -> None:
        window.scope = _internal_scope(window.scope, body, "update")
        if body.get("title"):
            window.title = body["title"]
        if "enabled" in body:
            window.enabled = body["enabled"]
        r_rule = _without_nulls(body.get("r_rule") or window.r_rule)
        length_ms = length_ms_of(body["duration"]) if "duration" in body else window.duration_ms
        regenerate = r_rule != _without_nulls(window.r_rule) or length_ms != window.duration_ms
        # An unchanged schedule keeps its public `schedule.custom` as it was written.
        custom = r_rule_to_custom(r_rule, length_ms) if regenerate else (window.schedule or {}).get("custom")
        _set_schedule(
            window,
            custom=custom or r_rule_to_custom(r_rule, length_ms),
            r_rule=r_rule if regenerate else window.r_rule,
            length_ms=length_ms,
            expiration=expiration_for_r_rule(r_rule, length_ms, now),
            merge=not regenerate,
        )

    return _update(window, change, user)


def finish_window(window: MaintenanceWindow, user: str | None = None) -> MaintenanceWindow:
    """`POST /internal/.../{id}/_finish`: the running occurrence ends now (Kibana's finish method)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
            window.expiration_date = now + ONE_YEAR
            events = generate_events(window.r_rule, window.duration_ms, window.expiration_date)
            window.events = merge_events(window.events, events)
            status, event = date_and_status(window, now)
            if status != RUNNING:
                raise MaintenanceWindowError("Cannot finish maintenance window that is not running")
            window.events = [{"gte": e["gte"], "lte": iso(now)} if e == event else e for e in window.events]
            window.updated_by = user
            window.save()
    except MaintenanceWindowError as exc:
        raise MaintenanceWindowError(
            f"Failed to finish maintenance window by id: {window.id}, Error: {exc.message}", exc.status
        ) from None
    return window


def to_internal_api(window: MaintenanceWindow, now: datetime | None = None) -> dict:
    """Kibana's internal transformMaintenanceWindowToResponse."""
    status, event = date_and_status(window, now)
    body = {
        "id": window.id,
        "title": window.title,
        "enabled": window.enabled,
        "duration": window.duration_ms,
        "expiration_date": iso(window.expiration_date),
        "events": window.events,
        "r_rule": _without_nulls(window.r_rule),
        "created_by": window.created_by,
        "updated_by": window.updated_by,
        "created_at": iso(window.created_at),
        "updated_at": iso(window.updated_at),
        "event_start_time": event["gte"] if event else None,
        "event_end_time": event["lte"] if event else None,
        "status": status,
    }
    if category_ids(window) is not None:
        body["category_ids"] = category_ids(window)
    query = _scope_query(window)
    if query:
        body["scoped_query"] = {"kql": query.get("kql") or "", "filters": query.get("filters") or []}
    return body
