"""What the durable action runs add to Task Manager health's workload (`actions:<type>` task types)."""

from datetime import datetime, timedelta

from django.db.models import Count

from actions.models import ActionRun, WorkerHeartbeat

# ActionRun status -> Kibana's task status names in the workload section.
_TASK_STATUS = {ActionRun.QUEUED: "idle", ActionRun.RUNNING: "running"}


def action_run_workload(now: datetime) -> dict:
    """Unfinished runs per connector type, and how many are overdue (due but not yet claimed)."""
    task_types: dict[str, dict] = {}
    rows = (
        ActionRun.objects.filter(status__in=list(_TASK_STATUS))
        .values("connector_type_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        entry = task_types.setdefault(f"actions:{row['connector_type_id']}", {"count": 0, "status": {}})
        entry["count"] += row["n"]
        name = _TASK_STATUS[row["status"]]
        entry["status"][name] = entry["status"].get(name, 0) + row["n"]
    overdue = ActionRun.objects.filter(status=ActionRun.QUEUED, due_at__lt=now).count()
    total = sum(entry["count"] for entry in task_types.values())
    return {"task_types": task_types, "overdue": overdue, "non_recurring": total}


def worker_heartbeats() -> list:
    """Each worker poller's latest heartbeat, for Task Manager health's `runtime.polling`."""
    return list(WorkerHeartbeat.objects.all())


# A worker's journal (actions/journal.py) is stuck when its writes keep failing or its oldest
# unwritten result is this old: finished runs are not being recorded (their leases are still renewed,
# so nothing is re-run, but the runs stay `running` and their events are missing).
STUCK_FAILURES = 3
STUCK_AGE_S = 30.0


def journal_health(now: datetime) -> dict:
    """Per live worker process, its journal's last report (from its heartbeat); `warn` when one is
    stuck. A journal that cannot reach the database cannot report either: then the database outage
    shows elsewhere (this request itself fails)."""
    from actions.models import WorkerHeartbeat
    from actions.worker import lost_after

    live = WorkerHeartbeat.objects.filter(last_poll_at__gte=now - timedelta(seconds=lost_after()))
    journals, stuck = {}, []
    for pk, stats in live.values_list("pk", "stats"):
        report = (stats or {}).get("journal")
        if report is None:
            continue
        journals[pk] = report
        if (
            report.get("consecutive_failures", 0) >= STUCK_FAILURES
            or report.get("oldest_pending_s", 0) >= STUCK_AGE_S
        ):
            stuck.append(pk)
    return {
        "status": "warn" if stuck else "OK",
        "value": {"action_journals": {"stuck": sorted(stuck), "workers": journals}},
    }
