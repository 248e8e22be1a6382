"""Event documents shaped like the ones `actions.services.execute` writes, with chosen times."""

import uuid
from datetime import UTC, datetime, timedelta

from eventlog.services import iso, record


def run_events(
    *,
    connector_id="c1",
    type_id=".server-log",
    name="My log",
    space="default",
    outcome="success",
    at: datetime | None = None,
    duration_ms=5.0,
    error="",
    attempt=1,
    max_attempts=1,
    final=True,
    schedule_delay_ms=None,
    source="http_request",
    execution_uuid=None,
    timed_out=False,
):
    """Record the `execute-start` and `execute` pair of one run; returns the execution uuid."""
    at = at or datetime.now(UTC) - timedelta(milliseconds=duration_ms + 1)  # ended just now
    execution_uuid = execution_uuid or str(uuid.uuid4())
    end = at + timedelta(milliseconds=duration_ms)
    label = f"{type_id}:{connector_id}: {name}"

    def base(action):
        saved = {"rel": "primary", "type": "action", "id": connector_id, "type_id": type_id}
        if space != "default":
            saved["namespace"] = space
        kibana = {
            "saved_objects": [saved],
            "space_ids": [space],
            "action": {
                "name": name,
                "id": connector_id,
                "type_id": type_id,
                "execution": {"uuid": execution_uuid, "source": source},
            },
        }
        if schedule_delay_ms is not None:
            kibana["task"] = {"scheduled": iso(at), "schedule_delay": int(schedule_delay_ms * 1e6)}
        return {"event": {"action": action, "kind": "action", "start": iso(at)}, "kibana": kibana}

    start = base("execute-start")
    start["@timestamp"] = iso(at)
    start["message"] = f"action started: {label}"
    record(start)
    if timed_out:
        cancelled = base("execute-timeout")
        cancelled["@timestamp"] = iso(end)
        cancelled["message"] = (
            f"action: {type_id}:{connector_id}: '{name}' execution cancelled due to timeout - "
            'exceeded default timeout of "5m"'
        )
        record(cancelled)
    done = base("execute")
    done["@timestamp"] = iso(end)
    done["event"].update({"end": iso(end), "duration": str(int(duration_ms * 1e6)), "outcome": outcome})
    done["kibana"]["action"]["execution"].update(
        {"attempt": attempt, "max_attempts": max_attempts, "final": final}
    )
    if outcome == "success":
        done["message"] = f"action executed: {label}"
    else:
        done["message"] = f"action execution failure: {label}"
        done["error"] = {"message": error or "error calling webhook, retry later; retry: true"}
    record(done)
    return execution_uuid
