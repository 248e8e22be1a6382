"""One connector's execution log as a reusable admin fragment (the connector page's Logs tab).

Embed it from the connector admin:

    from eventlog.admin_views import render_connector_log

    # in ConnectorAdmin.change_view / a tab's context:
    extra_context["logs_html"] = render_connector_log(request, connector)
    # in the template:  {{ logs_html }}

or include the template with the context from `connector_log_context(request, connector)`:

    {% include "eventlog/connector_log.html" %}

Filters come from the query string, prefixed so they do not clash with the host page:
`log_outcome` (success | failure | warning), `log_from` and `log_to` (a date `2026-11-28`, an ISO
time, or a relative `24h` / `7d`), `log_page`. Default: the last 30 days, newest first, 20 rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from eventlog import health, queries
from eventlog.models import Event

PER_PAGE = 20
OUTCOMES = ("success", "failure", "warning")
DEFAULT_RANGE = timedelta(days=30)


def _date(text: str, *, end_of_day: bool = False) -> datetime | None:
    text = (text or "").strip()
    if len(text) == 10 and text[4] == "-":  # a bare date from <input type="date">
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            return None
        return day + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else day
    return queries.parse_date(text)


def connector_log_context(request, connector, *, prefix: str = "log_", per_page: int = PER_PAGE) -> dict:
    """Template context for `eventlog/connector_log.html`. The caller has checked the user may see
    this connector. Preconfigured connectors (no space of their own) show runs in every space."""
    params = request.GET
    now = datetime.now(UTC)
    outcome = params.get(f"{prefix}outcome", "")
    outcome = outcome if outcome in OUTCOMES else ""
    date_from = _date(params.get(f"{prefix}from", "")) or now - DEFAULT_RANGE
    date_to = _date(params.get(f"{prefix}to", ""), end_of_day=True) or now
    try:
        page = max(1, min(1000, int(params.get(f"{prefix}page", "1"))))
    except ValueError:
        page = 1
    is_row = not getattr(connector, "is_preconfigured", False) and getattr(connector, "space_id", None)
    query = queries.LogQuery(
        space_ids=[connector.space_id] if is_row else None,
        date_start=date_from,
        date_end=date_to,
        filter=f"event.outcome: {outcome}" if outcome else None,
        connector_id=connector.id,
        page=page,
        per_page=per_page,
    )
    result = queries.execution_log(query)
    pages = max(1, -(-result["total"] // per_page))

    def link(to_page: int) -> str:
        kept = {key: value for key, value in params.items() if key != f"{prefix}page"}
        kept[f"{prefix}page"] = str(to_page)
        return "?" + urlencode(kept)

    return {
        "log_prefix": prefix,
        "log_rows": result["data"],
        "log_total": result["total"],
        "log_outcome": outcome,
        "log_outcomes": OUTCOMES,
        "log_from": params.get(f"{prefix}from", ""),
        "log_to": params.get(f"{prefix}to", ""),
        "log_page": page,
        "log_pages": pages,
        "log_previous": link(page - 1) if page > 1 else "",
        "log_next": link(page + 1) if page < pages else "",
        "log_hidden": [(k, v) for k, v in params.items() if not k.startswith(prefix)],
        "log_connector": connector,
    }


def render_connector_log(request, connector, **options) -> SafeString:
    """The fragment as HTML, ready to drop into a page."""
    return SafeString(
        render_to_string(
            "eventlog/connector_log.html", connector_log_context(request, connector, **options), request
        )
    )


# ---- the admin home ------------------------------------------------------------------------------

RECENT_FAILURES = 8


def admin_home(request, space_ids: list[str]) -> dict:
    """What the admin home shows from the event log and the task queue: the newest failed runs in
    these spaces, the queue's depth and whether the workers are polling."""
    from eventlog.admin import connector_label, connector_url, duration_text, with_names

    now = datetime.now(UTC)
    failures = with_names(
        Event.objects.filter(
            space_id__in=space_ids, outcome="failure", action__in=("execute", "execute-action")
        )
        .defer("document")
        .order_by("-id")
    )[:RECENT_FAILURES]
    recent = [
        {
            "event": event,
            "name": connector_label(event) or event.rule_name or event.rule_id,
            "url": connector_url(event),
            "error": event.error_message or event.message,
            "duration": duration_text(event.duration_ns),
        }
        for event in failures
    ]
    try:
        ready, claimed = health.queue_depth()
    except Exception:  # a broker that cannot be reached: say so rather than fail the home page
        ready, claimed = None, None
    from connectors.conf import get_config

    stale_after = timedelta(seconds=max(60.0, 10 * get_config()["connectors.actions.pollInterval"]))
    beats = health.worker_heartbeats()
    live = [beat for beat in beats if beat.last_poll_at >= now - stale_after]
    last_poll = max((beat.last_poll_at for beat in beats), default=None)
    return {
        "recent_failures": recent,
        "queue_ready": ready,
        "queue_claimed": claimed,
        "workers_live": len(live),
        "workers_known": len(beats),
        "workers_last_poll": last_poll,
        "workers_ok": bool(live),
        "event_log_url": "/admin/eventlog/event/",
    }
