"""What the durable action runs add to Task Manager health's workload (`actions:<type>` task types)."""

from datetime import datetime

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
