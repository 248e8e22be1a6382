"""Kibana's older internal maintenance-window routes (`/internal/alerting/rules/maintenance_window`,
8.8+; what Kibana's UI and older clients call). Their bodies are the stored shape: `r_rule`,
`duration` in ms, `category_ids`, `scoped_query`.

A translation layer only: the public routes' views (actions/api/maintenance_windows.py) with this
dialect (`InternalDialect`: the bodies, the life-cycle functions and the wire shape), so the same
model, life cycle, status, privileges and 403 wording; plus the routes only Kibana's UI has
(`_finish`, `_active`, `_bulk_get`)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.response import Response

from actions import maintenance_windows as mw
from actions.api.maintenance_windows import (
    MaintenanceWindowArchiveView,
    MaintenanceWindowCreateView,
    MaintenanceWindowDetailView,
    MaintenanceWindowFindView,
    MaintenanceWindowView,
    _bounded,
    _statuses,
)
from actions.models import MaintenanceWindow
from actions.rule_snooze import _parse_date, timezone_problem
from connectors.api.base import validate_body
from connectors.api.errors import BadRequest
from connectors.schemas import Any_, Array, Boolean, Enum, Number, Object, Record, String

# Kibana's TITLE_MAX_LENGTH, CATEGORY_IDS_MAX_SIZE and BULK_GET_IDS_MAX_SIZE were not found; these
# are the title column's length, one of each category, and a bound on one request (docs/api.md).
TITLE_MAX_LENGTH = 1024
BULK_GET_IDS_MAX_SIZE = 1000
SEARCH_MAX_LENGTH = 1000
INTERNAL_STATUSES = (mw.RUNNING, mw.FINISHED, mw.UPCOMING, mw.ARCHIVED)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _start_problem(value: str) -> str | None:
    return None if _parse_date(value) else f"Invalid date: {value}"


def _until_problem(value: str) -> str | None:
    parsed = _parse_date(value)
    if parsed is None:
        return f"Invalid date: {value}"
    if parsed <= timezone.now():
        return f"Invalid snooze date as it is in the past: {value}"
    return None


def _integer(field: str):
    return lambda value: (
        None if float(value).is_integer() else f"rRule {field} must be an integer greater than 0"
    )


def _not_empty(field: str):
    return lambda values: f"rRule {field} cannot be empty" if not values else None


R_RULE = Object(
    {
        "dtstart": String(validator=_start_problem),
        "tzid": String(validator=timezone_problem),
        "freq": Enum((0, 1, 2, 3), optional=True),
        "interval": Number(minimum=1, optional=True, validator=_integer("interval")),
        "until": String(optional=True, validator=_until_problem),
        "count": Number(minimum=1, optional=True, validator=_integer("count")),
        "byweekday": Array(Enum(WEEKDAYS), optional=True, validator=_not_empty("byweekday")),
        "bymonthday": Array(Number(minimum=1, maximum=31), optional=True, validator=_not_empty("bymonthday")),
        "bymonth": Array(Number(minimum=1, maximum=12), optional=True, validator=_not_empty("bymonth")),
    }
)
CATEGORY_IDS = Array(Enum(mw.CATEGORY_IDS), max_size=len(mw.CATEGORY_IDS), optional=True, nullable=True)
FILTER = Object(
    {
        "query": Record(Any_(), optional=True),
        "meta": Record(Any_()),
        "$state": Object({"store": Enum(("appState", "globalState"))}, optional=True),
    }
)
SCOPED_QUERY = Object(
    {
        "kql": String(max_length=8192),
        "filters": Array(FILTER, max_size=100),
        "dsl": String(max_length=10000, optional=True),  # Kibana builds it; ignored here
    },
    optional=True,
    nullable=True,
)
CREATE_BODY = Object(
    {
        "title": String(max_length=TITLE_MAX_LENGTH),
        "duration": Number(minimum=1),
        "r_rule": R_RULE,
        "category_ids": CATEGORY_IDS,
        "scoped_query": SCOPED_QUERY,
    }
)
UPDATE_BODY = Object(
    {
        "title": String(max_length=TITLE_MAX_LENGTH, optional=True),
        "enabled": Boolean(optional=True),
        "duration": Number(minimum=1, optional=True),
        "r_rule": Object(R_RULE.fields, optional=True),
        "category_ids": CATEGORY_IDS,
        "scoped_query": SCOPED_QUERY,
    }
)
ARCHIVE_BODY = Object({"archive": Boolean()})
BULK_GET_BODY = Object({"ids": Array(String(), max_size=BULK_GET_IDS_MAX_SIZE)})
FIND_KEYS = {"page", "per_page", "search", "status"}


# What the internal routes change on the public views: the stored-shape bodies and wire shape.
class InternalDialect:
    create_body = CREATE_BODY
    update_body = UPDATE_BODY
    create_window = staticmethod(mw.create_window_internal)
    update_window = staticmethod(mw.update_window_internal)
    to_api = staticmethod(mw.to_internal_api)


class InternalCreateView(InternalDialect, MaintenanceWindowCreateView):
    pass


class InternalDetailView(InternalDialect, MaintenanceWindowDetailView):
    http_method_names = ["get", "post", "delete", "head", "options"]  # no PATCH here

    def post(self, request, window_id):
        """Update (POST, not PATCH, on the internal route)."""
        return self.patch(request, window_id)


class InternalArchiveView(InternalDialect, MaintenanceWindowArchiveView):
    def archiving(self, request) -> bool:
        return validate_body(ARCHIVE_BODY, request.data)["archive"]


class InternalFinishView(InternalDialect, MaintenanceWindowView):
    def post(self, request, window_id):
        self.authorize(write=True)
        window = mw.finish_window(self.load(window_id), user=self.user())
        return Response(self.to_api(window))


class InternalActiveView(InternalDialect, MaintenanceWindowView):
    def get(self, request):
        self.authorize(write=False)
        now = timezone.now()
        return Response([self.to_api(w, now) for w in mw.active_windows(self.space_id, now)])


class InternalBulkGetView(InternalDialect, MaintenanceWindowView):
    def post(self, request):
        self.authorize(write=False)
        ids = validate_body(BULK_GET_BODY, request.data)["ids"]
        found = {w.id: w for w in MaintenanceWindow.objects.filter(space_id=self.space_id, pk__in=ids)}
        return Response(
            {
                "maintenance_windows": [self.to_api(found[i]) for i in ids if i in found],
                "errors": [
                    {
                        "id": i,
                        "error": "Not Found",
                        "message": f"Saved object [maintenance-window/{i}] not found",
                        "status_code": 404,
                    }
                    for i in ids
                    if i not in found
                ],
            }
        )


def _per_page(query) -> int:
    """Kibana's internal default is 1000 although its maximum is 100 (the default is not checked)."""
    if query.get("per_page") is None:
        return 1000
    if query.get("per_page") == "0":
        return 0
    return _bounded(query, "per_page", 1000)


def _search_matches(window: MaintenanceWindow, terms: list[str]) -> bool:
    """Kibana passes `search` to a saved-objects simple_query_string (OR of the terms, over the
    text fields); here any term found in the title or the creator."""
    haystack = f"{window.title} {window.created_by or ''}".lower()
    return any(term in haystack for term in terms)


class InternalFindView(InternalDialect, MaintenanceWindowFindView):
    find_keys = FIND_KEYS
    list_key = "data"

    def paging(self, query) -> tuple[int, int]:
        return _bounded(query, "page", 1, maximum=mw.MAX_DOCS), _per_page(query)

    def matching(self, query) -> list[MaintenanceWindow]:
        search = query.get("search")
        if search is not None and len(search) > SEARCH_MAX_LENGTH:
            raise BadRequest(
                f"[request query.search]: value has length [{len(search)}] but it must have a maximum "
                f"length of [{SEARCH_MAX_LENGTH}]."
            )
        windows = mw.find_windows(self.space_id, statuses=_statuses(query, INTERNAL_STATUSES))
        terms = [t.strip("*").lower() for t in (search or "").split() if t.strip("*")]
        if terms:
            windows = [w for w in windows if _search_matches(w, terms)]
        return windows
