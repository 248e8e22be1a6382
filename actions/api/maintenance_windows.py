"""Kibana's public maintenance-window routes (`/api/maintenance_window`, 9.1+; `_find` 9.2+).

Privileges: Kibana's `read-maintenance-window` / `write-maintenance-window` API privileges map to
the per-space privilege every route here uses (`read` reads, `all` writes)."""

from __future__ import annotations

import json

from rest_framework.response import Response

from actions import maintenance_windows as mw
from actions.models import MaintenanceWindow
from actions.rule_snooze import end_date_problem, timezone_problem
from connectors import privileges
from connectors.api.base import (
    KibanaView,
    api_unauthorized,
    refuse_unknown_query_keys,
    request_body,
    validate_body,
)
from connectors.api.errors import BadRequest, KibanaError, NotFound
from connectors.schemas import Array, Boolean, Number, Object, String

RECURRING = Object(
    {
        "end": String(optional=True, validator=end_date_problem),
        "every": String(optional=True, validator=mw.every_problem),
        "onWeekDay": Array(String(), min_size=1, optional=True, validator=mw.weekdays_problem),
        "onMonthDay": Array(
            Number(minimum=1, maximum=31, validator=mw.integer_problem("onMonthDay")),
            min_size=1,
            optional=True,
        ),
        "onMonth": Array(
            Number(minimum=1, maximum=12, validator=mw.integer_problem("onMonth")), min_size=1, optional=True
        ),
        "occurrences": Number(minimum=1, optional=True, validator=mw.integer_problem("occurrences")),
    },
    optional=True,
)


def _custom(**kwargs) -> Object:
    return Object(
        {
            "custom": Object(
                {
                    "start": String(validator=mw.start_problem),
                    "duration": String(validator=mw.duration_problem),
                    "timezone": String(optional=True, validator=timezone_problem),
                    "recurring": RECURRING,
                },
                validator=mw.custom_problem,
            )
        },
        **kwargs,
    )


SCOPE = Object({"alerting": Object({"query": Object({"kql": String()})})}, optional=True)
CREATE_BODY = Object(
    {"title": String(), "enabled": Boolean(optional=True), "schedule": _custom(), "scope": SCOPE}
)
UPDATE_BODY = Object(
    {
        "title": String(optional=True),
        "enabled": Boolean(optional=True),
        "schedule": _custom(optional=True),
        "scope": SCOPE,
    }
)
FIND_KEYS = {"title", "created_by", "status", "page", "per_page"}


# The routes' one code path. The internal routes (maintenance_windows_internal.py) subclass the
# views here and change only their dialect: the bodies, the functions that apply them, and a
# window's wire shape. (No class docstrings: drf-spectacular would publish them in /api/schema/.)
class MaintenanceWindowView(KibanaView):
    create_body = CREATE_BODY
    update_body = UPDATE_BODY
    create_window = staticmethod(mw.create_window)
    update_window = staticmethod(mw.update_window)
    to_api = staticmethod(mw.to_api)

    def authorize(self, write: bool) -> None:
        if not privileges.allows(self.privilege, "update" if write else "get"):
            privilege = "write-maintenance-window" if write else "read-maintenance-window"
            raise api_unauthorized(self.request, privilege)

    def load(self, window_id: str) -> MaintenanceWindow:
        window = MaintenanceWindow.objects.filter(pk=window_id, space_id=self.space_id).first()
        if window is None:
            raise NotFound(f"Saved object [maintenance-window/{window_id}] not found")
        return window

    def user(self) -> str | None:
        return self.username() or None

    def handle_exception(self, exc):
        if isinstance(exc, mw.MaintenanceWindowError):
            exc = KibanaError(exc.message, exc.status)
        return super().handle_exception(exc)


class MaintenanceWindowCreateView(MaintenanceWindowView):
    def post(self, request):
        self.authorize(write=True)
        body = validate_body(self.create_body, request_body(request))
        return Response(self.to_api(self.create_window(self.space, body, user=self.user())))


class MaintenanceWindowDetailView(MaintenanceWindowView):
    def get(self, request, window_id):
        self.authorize(write=False)
        return Response(self.to_api(self.load(window_id)))

    def patch(self, request, window_id):
        self.authorize(write=True)
        body = validate_body(self.update_body, request_body(request))
        return Response(self.to_api(self.update_window(self.load(window_id), body, user=self.user())))

    def delete(self, request, window_id):
        self.authorize(write=True)
        self.load(window_id).delete()
        return Response(status=204)


class MaintenanceWindowArchiveView(MaintenanceWindowView):
    archive = True  # `_archive`, or False for `_unarchive`

    def archiving(self, request) -> bool:
        return self.archive

    def post(self, request, window_id):
        self.authorize(write=True)
        archive = self.archiving(request)
        window = mw.archive_window(self.load(window_id), archive, user=self.user())
        return Response(self.to_api(window))


def _single(query, name: str, kind: str) -> str | None:
    """A config-schema string or number: a key repeated in the query string arrives as an array."""
    values = query.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"[request query.{name}]: expected value of type [{kind}] but got [Array]")
    return values[0] if values else None


def _bounded(query, name: str, default: int, maximum: int = 100) -> int:
    value = _single(query, name, "number")
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(
            f"[request query.{name}]: expected value of type [number] but got [string]"
        ) from None
    if number < 1:
        raise BadRequest(f"[request query.{name}]: Value must be equal to or greater than [1].")
    if number > maximum:
        raise BadRequest(f"[request query.{name}]: Value must be equal to or lower than [{maximum}].")
    return int(number)


def _statuses(query, allowed: tuple[str, ...]) -> list[str] | None:
    values = query.getlist("status")
    if not values:
        return None
    if len(values) == 1 and values[0].startswith("["):
        try:
            values = json.loads(values[0])
        except ValueError:
            raise BadRequest("[request query.status]: could not parse array value from json input") from None
    bad = [v for v in values if v not in allowed]
    if bad:
        listed = ", ".join(f"[{s}]" for s in allowed)
        raise BadRequest(f"[request query.status]: expected one of {listed} but got [{bad[0]}]")
    return values


class MaintenanceWindowFindView(MaintenanceWindowView):
    find_keys = FIND_KEYS
    list_key = "maintenanceWindows"

    def paging(self, query) -> tuple[int, int]:
        return _bounded(query, "page", 1), _bounded(query, "per_page", 10)

    def matching(self, query) -> list[MaintenanceWindow]:
        """The windows the query asks for, after paging is checked."""
        return mw.find_windows(
            self.space_id,
            title=_single(query, "title", "string"),
            created_by=_single(query, "created_by", "string"),
            statuses=_statuses(query, mw.STATUSES),
        )

    def get(self, request):
        self.authorize(write=False)
        query = request.query_params
        refuse_unknown_query_keys(query, self.find_keys)
        page, per_page = self.paging(query)
        if max(page, page * per_page) > mw.MAX_DOCS:
            raise BadRequest(
                f"[request query]: The number of documents is too high. Paginating through more than "
                f"{mw.MAX_DOCS} documents is not possible."
            )
        windows = self.matching(query)
        shown = windows[(page - 1) * per_page : page * per_page]
        return Response(
            {
                "page": page,
                "per_page": per_page,
                "total": len(windows),
                self.list_key: [self.to_api(w) for w in shown],
            }
        )
