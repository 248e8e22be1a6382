"""Reads of the event log: Kibana's execution log and KPI (spec §11), and the NDJSON export.

One row of the execution log is one `execute` event (one attempt of one run); Kibana groups by
`kibana.action.execution.uuid`, which is the same thing when every attempt has its own uuid. The
row shape and the `message` rule (`<message> - <error.message>` on failure) are Kibana's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, QuerySet

from eventlog import kql
from eventlog.models import Event

SORT_FIELDS = {
    "timestamp": "timestamp",
    "execution_duration": "duration_ns",
    "schedule_delay": "schedule_delay_ns",
}
DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w|y)?\s*$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_date(text: str, now: datetime | None = None) -> datetime | None:
    """An ISO date, epoch milliseconds, or a relative duration (`15m`, `90d`: that long before now),
    as Kibana's `parseIsoOrRelativeDate`. None when it is neither."""
    now = now or datetime.now(UTC)
    text = (text or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    match = DURATION_RE.match(text)
    if match and match.group(2):
        return now - timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])
    if match:  # plain digits: epoch milliseconds, as Date.parse would not but ES ranges do
        try:
            return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


@dataclass
class LogQuery:
    """What to read. `space_ids` is already authorised (None: every space, for callers that checked
    access themselves); `connector_id` narrows to one connector."""

    space_ids: list[str] | None
    date_start: datetime
    date_end: datetime
    filter: str | None = None
    connector_id: str | None = None
    page: int = 1
    per_page: int = 10
    sort: list[tuple[str, str]] = field(default_factory=lambda: [("timestamp", "desc")])
    space_agnostic_ids: list[str] = field(default_factory=list)

    def base(self) -> QuerySet:
        # Connector runs only: rule runs (the `alerting` provider's `execute`) belong in the rule
        # execution log (actions/rule_execution_log.py), not here.
        qs = Event.objects.filter(
            provider="actions", timestamp__gte=self.date_start, timestamp__lte=self.date_end
        )
        if self.space_ids is not None:
            in_spaces = Q(space_id__in=self.space_ids)
            if self.space_agnostic_ids:  # preconfigured connectors' runs show in every space, as in Kibana
                in_spaces |= Q(connector_id__in=self.space_agnostic_ids)
            qs = qs.filter(in_spaces)
        if self.connector_id is not None:
            qs = qs.filter(connector_id=self.connector_id)
        return qs.filter(kql.to_q(self.filter)) if self.filter else qs


def _order_by(sort: list[tuple[str, str]]) -> list[str]:
    order = [("-" if direction == "desc" else "") + SORT_FIELDS[name] for name, direction in sort]
    last = sort[0][1] if sort else "desc"
    return [*order, "-id" if last == "desc" else "id"]


def _row(event: dict, timed_out: bool) -> dict:
    # Only these fields, never `user.name` or the rule's saved object: rows of preconfigured
    # connectors come from every space, including ones the caller cannot read (issue 16).
    doc = event["document"]
    kibana = doc.get("kibana") or {}
    action = kibana.get("action") or {}
    status = (kibana.get("alerting") or {}).get("outcome") or (doc.get("event") or {}).get("outcome") or ""
    message = doc.get("message") or ""
    if status == "failure":
        message = f"{message} - {(doc.get('error') or {}).get('message') or ''}"
    return {
        "id": (action.get("execution") or {}).get("uuid") or "",
        "timestamp": (doc.get("event") or {}).get("start") or doc.get("@timestamp") or "",
        "duration_ms": (event["duration_ns"] or 0) / 1_000_000,
        "status": status,
        "message": message,
        "version": kibana.get("version") or "",
        "schedule_delay_ms": (event["schedule_delay_ns"] or 0) / 1_000_000,
        "space_ids": kibana.get("space_ids") or [],
        "connector_name": action.get("name") or "",
        "connector_id": action.get("id") or "",
        "timed_out": timed_out,
        "source": (action.get("execution") or {}).get("source") or "",
    }


def execution_log(query: LogQuery) -> dict:
    """`{total, data: [...]}` in Kibana's shape, newest first unless sorted otherwise."""
    executes = query.base().filter(action="execute")
    total = executes.count()
    offset = (query.page - 1) * query.per_page
    # Two steps: order and page on the covering index alone, then read just this page's documents.
    ids = list(
        executes.order_by(*_order_by(query.sort)).values_list("id", flat=True)[
            offset : offset + query.per_page
        ]
    )
    by_id = {
        row["id"]: row
        for row in Event.objects.filter(id__in=ids).values(
            "id", "document", "duration_ns", "schedule_delay_ns"
        )
    }
    page = [by_id[i] for i in ids if i in by_id]
    uuids = [
        ((e["document"].get("kibana") or {}).get("action") or {}).get("execution", {}).get("uuid")
        for e in page
    ]
    uuids = [u for u in uuids if u]
    timed_out = set(
        Event.objects.filter(action="execute-timeout", execution_uuid__in=uuids).values_list(
            "execution_uuid", flat=True
        )
    )
    data = []
    for event in page:
        uuid = ((event["document"].get("kibana") or {}).get("action") or {}).get("execution", {}).get("uuid")
        data.append(_row(event, uuid in timed_out))
    return {"total": total, "data": data}


def execution_kpi(query: LogQuery) -> dict:
    """`{success, unknown, failure, warning}`: counts of `execute` events by outcome."""
    counts = {"success": 0, "unknown": 0, "failure": 0, "warning": 0}
    rows = query.base().filter(action="execute").values("outcome").annotate(n=Count("id")).order_by()
    for row in rows:
        key = row["outcome"] if row["outcome"] in ("success", "failure", "warning") else "unknown"
        counts[key] += row["n"]
    return counts


def export_lines(
    query: LogQuery, *, actions: Iterable[str] | None = None, bulk_index: str | None = None
) -> Iterator[str]:
    """NDJSON of whole event documents, oldest first, streamed in chunks. With `bulk_index`, each
    document is preceded by an Elasticsearch `_bulk` `create` line, ready for `POST _bulk`."""
    qs = query.base()
    if actions:
        qs = qs.filter(action__in=list(actions))
    header = json.dumps({"create": {"_index": bulk_index}}) + "\n" if bulk_index else ""
    for document in (
        qs.order_by("timestamp", "id").values_list("document", flat=True).iterator(chunk_size=2000)
    ):
        yield header + json.dumps(document, separators=(",", ":")) + "\n"
