"""One rule's execution log and KPI (Kibana's `/internal/alerting/rule/{id}/_execution_log` and
`_execution_kpi`): one row per rule run (the `alerting` provider's `execute` event), with the counts
of its alerts and of the connector runs it triggered (the `actions` provider's `execute` events that
carry the run's `kibana.alert.rule.execution.uuid`)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from eventlog import kql
from eventlog.models import Event

# Kibana's executionLogSortableColumns: the first three sort in the database.
DB_SORT = {
    "timestamp": "timestamp",
    "execution_duration": "duration_ns",
    "schedule_delay": "schedule_delay_ns",
}
ROW_SORT = {
    "total_search_duration": "total_search_duration_ms",
    "es_search_duration": "es_search_duration_ms",
    "num_triggered_actions": "num_triggered_actions",
    "num_generated_actions": "num_generated_actions",
    "num_active_alerts": "num_active_alerts",
    "num_recovered_alerts": "num_recovered_alerts",
    "num_new_alerts": "num_new_alerts",
}
SORTABLE = (*DB_SORT, *ROW_SORT)
RUN_UUID = "document__kibana__alert__rule__execution__uuid"


def _runs(rule, start: datetime, end: datetime, filter_text: str | None):
    # By space as well as id, as Kibana's event-log client reads by namespace: a rule id deleted in
    # one space can be taken in another, and the old rule's runs stay in the log.
    runs = Event.objects.filter(
        provider="alerting",
        action="execute",
        space_id=rule.space_id,
        rule_id=rule.id,
        timestamp__gte=start,
        timestamp__lte=end,
    )
    return runs.filter(kql.to_q(filter_text)) if filter_text else runs


def _action_outcomes(rule, start: datetime, run_uuids: list[str]) -> dict[str, dict[str, int]]:
    """`{rule execution uuid: {"success": n, "failure": n}}` of the connector runs, in one query."""
    counts: dict[str, dict[str, int]] = {}
    if not run_uuids:
        return counts
    rows = (
        _events_of_runs(rule, start, run_uuids, "actions", "execute")
        .values_list(RUN_UUID, "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for run_uuid, outcome, n in rows:
        bucket = counts.setdefault(run_uuid, {"success": 0, "failure": 0})
        bucket["failure" if outcome == "failure" else "success"] += n
    return counts


def _timed_out(rule, start: datetime, run_uuids: list[str]) -> set[str]:
    """The runs that were cancelled on timeout (Kibana: an `execute-timeout` event with the run's
    execution uuid; `timed_out` in the execution log)."""
    if not run_uuids:
        return set()
    return set(
        _events_of_runs(rule, start, run_uuids, "alerting", "execute-timeout").values_list(
            RUN_UUID, flat=True
        )
    )


def _events_of_runs(rule, start: datetime, run_uuids: list[str], provider: str, action: str):
    """The rule's events of one kind that belong to the given runs (by space as well as id)."""
    return Event.objects.filter(
        provider=provider,
        action=action,
        space_id=rule.space_id,
        rule_id=rule.id,
        timestamp__gte=start,
        **{f"{RUN_UUID}__in": run_uuids},
    )


def _row(event: dict, rule_name: str, actions: dict[str, int], timed_out: bool = False) -> dict:
    doc = event["document"]
    kibana = doc.get("kibana") or {}
    alert = kibana.get("alert") or {}
    execution = (alert.get("rule") or {}).get("execution") or {}
    metrics = execution.get("metrics") or {}
    counts = metrics.get("alert_counts") or {}
    status = (kibana.get("alerting") or {}).get("outcome") or (doc.get("event") or {}).get("outcome") or ""
    message = doc.get("message") or ""
    if status == "failure":
        message = f"{message} - {(doc.get('error') or {}).get('message') or ''}"
    return {
        "id": execution.get("uuid") or "",
        "timestamp": (doc.get("event") or {}).get("start") or doc.get("@timestamp") or "",
        "duration_ms": (event["duration_ns"] or 0) / 1_000_000,
        "status": status,
        "message": message,
        "version": kibana.get("version") or "",
        "num_active_alerts": counts.get("active", 0),
        "num_new_alerts": counts.get("new", 0),
        "num_recovered_alerts": counts.get("recovered", 0),
        "num_triggered_actions": metrics.get("number_of_triggered_actions", 0),
        "num_generated_actions": metrics.get("number_of_generated_actions", 0),
        "num_succeeded_actions": actions.get("success", 0),
        "num_errored_actions": actions.get("failure", 0),
        "total_search_duration_ms": metrics.get("total_search_duration_ms", 0),
        "es_search_duration_ms": metrics.get("es_search_duration_ms", 0),
        "schedule_delay_ms": (event["schedule_delay_ns"] or 0) / 1_000_000,
        "timed_out": timed_out,
        "rule_id": (doc.get("rule") or {}).get("id") or "",
        "space_ids": kibana.get("space_ids") or [],
        "rule_name": rule_name,
        "maintenance_window_ids": alert.get("maintenance_window_ids") or [],
    }


def execution_log(rule, *, start, end, filter_text=None, page=1, per_page=10, sort=None) -> dict:
    """`{total, data}`: the rule's runs in the window, newest first unless sorted otherwise."""
    sort = sort or [("timestamp", "desc")]
    runs = _runs(rule, start, end, filter_text)
    total = runs.count()
    fields = ("id", "document", "duration_ns", "schedule_delay_ns")
    offset = (page - 1) * per_page
    if all(name in DB_SORT for name, _ in sort):
        order = [("-" if d == "desc" else "") + DB_SORT[name] for name, d in sort]
        events = list(runs.order_by(*order, "-id").values(*fields)[offset : offset + per_page])
        rows = _rows(rule, start, events)
    else:  # counts live in the documents: sort every run of the window
        rows = _rows(rule, start, list(runs.values(*fields)))
        for name, direction in reversed(sort):
            key = ROW_SORT.get(name) or {"timestamp": "timestamp", "execution_duration": "duration_ms"}.get(
                name, "schedule_delay_ms"
            )
            rows.sort(key=lambda row, key=key: row[key], reverse=direction == "desc")
        rows = rows[offset : offset + per_page]
    return {"total": total, "data": rows}


def _rows(rule, start, events: list[dict]) -> list[dict]:
    uuids = [
        (
            (((e["document"].get("kibana") or {}).get("alert") or {}).get("rule") or {}).get("execution")
            or {}
        ).get("uuid")
        for e in events
    ]
    actions = _action_outcomes(rule, start, [u for u in uuids if u])
    timed_out = _timed_out(rule, start, [u for u in uuids if u])
    return [
        _row(e, rule.name, actions.get(u) or {}, u in timed_out) for e, u in zip(events, uuids, strict=True)
    ]


def execution_kpi(rule, *, start, end, filter_text=None) -> dict:
    """Kibana's `{success, unknown, failure, warning, activeAlerts, newAlerts, recoveredAlerts,
    erroredActions, triggeredActions}` over the rule's runs in the window."""
    result = {
        "success": 0,
        "unknown": 0,
        "failure": 0,
        "warning": 0,
        "activeAlerts": 0,
        "newAlerts": 0,
        "recoveredAlerts": 0,
        "erroredActions": 0,
        "triggeredActions": 0,
    }
    rows = _rows(
        rule,
        start,
        list(
            _runs(rule, start, end, filter_text).values("id", "document", "duration_ns", "schedule_delay_ns")
        ),
    )
    for row in rows:
        status = row["status"] if row["status"] in ("success", "failure", "warning") else "unknown"
        result[status] += 1
        result["activeAlerts"] += row["num_active_alerts"]
        result["newAlerts"] += row["num_new_alerts"]
        result["recoveredAlerts"] += row["num_recovered_alerts"]
        result["erroredActions"] += row["num_errored_actions"]
        result["triggeredActions"] += row["num_triggered_actions"]
    return result
