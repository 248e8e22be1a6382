"""Running action runs and rule runs inside django-q2 worker processes.

Each worker process owns a thread pool (`connectors.worker.concurrency` threads, default 64), so one
process keeps many slow HTTP calls in flight; a django-q2 task only claims its row and hands it to
the pool. A poller thread per process finds due work nobody queued: rules whose schedule is due,
retries whose time has come, runs whose task was lost, and runs whose lease expired because their
worker died or hung (logged as `execute-timeout`, then run again: at least once).

Claims are conditional UPDATEs, so any number of processes and nodes can poll the same database.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections
from django.db.models import F, Q
from django.utils import timezone

from actions.dblock import serialized_writes
from actions.models import ActionRun, Rule
from connectors.conf import get_config

logger = logging.getLogger("actions")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_rule_pool: ThreadPoolExecutor | None = None  # rule runs never wait behind slow actions
_slots: threading.BoundedSemaphore | None = None
_poller: threading.Thread | None = None
_pid: int | None = None


def _ensure_pool() -> tuple[ThreadPoolExecutor, threading.BoundedSemaphore]:
    global _pool, _rule_pool, _slots, _pid
    with _lock:
        if _pool is None or _pid != os.getpid():
            size = get_config()["connectors.worker.concurrency"]
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="action")
            _rule_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rule")
            _slots = threading.BoundedSemaphore(size)
            _pid = os.getpid()
        return _pool, _slots


def ensure_started() -> None:
    """Start this process's pool and poller (idempotent; called when a worker process spawns)."""
    global _poller
    _ensure_pool()
    with _lock:
        if _poller is None or not _poller.is_alive():
            _poller = threading.Thread(target=_poll_forever, name="actions-poller", daemon=True)
            _poller.start()


def on_worker_spawn(sender=None, proc_name=None, **kwargs) -> None:
    ensure_started()


# ---- claiming --------------------------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=get_config()["connectors.actions.runTimeout"])


def claim(run_id: int) -> str | None:
    """Take a due queued run: queued -> running with a lease. Returns the claim token, or None."""
    token = str(uuid.uuid4())
    now = timezone.now()
    with serialized_writes():
        claimed = ActionRun.objects.filter(pk=run_id, status=ActionRun.QUEUED, due_at__lte=now).update(
            status=ActionRun.RUNNING, claim=token, lease_until=now + _lease(), attempts=F("attempts") + 1
        )
    return token if claimed else None


def dispatch(run_id: int, *, wait: float = 30.0) -> bool:
    """Claim a run and start it on this process's pool; False if no slot freed up or not claimable."""
    pool, slots = _ensure_pool()
    if not slots.acquire(timeout=wait):
        return False  # still queued: the poller (here or elsewhere) takes it later
    token = claim(run_id)
    if token is None:
        slots.release()
        return False
    pool.submit(_run_in_thread, run_id, token, slots)
    return True


def _run_in_thread(run_id: int, token: str, slots: threading.BoundedSemaphore) -> None:
    try:
        close_old_connections()
        process(run_id, token)
    except Exception:
        logger.exception("action run %s crashed", run_id)
    finally:
        close_old_connections()
        slots.release()


# ---- running one claimed run -------------------------------------------------------------------


def process(run_id: int, token: str) -> ActionRun | None:
    """Execute a claimed run through `actions.services.execute` and record what comes next."""
    from actions import queue
    from actions.services import RuleContext, RunInfo, execute, record_missing_connector
    from connectors.services import ConnectorNotFound, find_connector

    run = ActionRun.objects.filter(pk=run_id, claim=token, status=ActionRun.RUNNING).first()
    if run is None:
        return None
    info = RunInfo(
        source="alert" if run.rule_id else run.source,
        execution_uuid=run.execution_uuid,
        attempt=run.attempts,
        max_attempts=run.max_attempts,
        scheduled_at=run.due_at,
        rule=RuleContext(
            rule_id=run.rule_id,
            rule_type_id=run.rule_type_id,
            consumer=run.rule_consumer or "alerts",
            execution_uuid=run.rule_execution_uuid,
            space_id=run.space_id,
        )
        if run.rule_id
        else None,
    )
    try:
        connector = find_connector(run.space_id, run.connector_id)
    except ConnectorNotFound:
        result = record_missing_connector(info, run.connector_id, run.connector_type_id, run.space_id)
        return _finish(run, token, result, final=True)
    result = execute(connector, run.params, info)
    if result.ok:
        return _finish(run, token, result, final=True)
    will_retry = bool(result.retry) and run.attempts < run.max_attempts
    if will_retry:
        return _finish(run, token, result, final=False, due_at=queue.retry_at(run.attempts, result.retry))
    return _finish(run, token, result, final=True)


def _finish(run: ActionRun, token: str, result, *, final: bool, due_at=None) -> ActionRun:
    now = timezone.now()
    error = (
        ""
        if result.ok
        else (result.message or "") + (f": {result.service_message}" if result.service_message else "")
    )
    if final:
        fields = {
            "status": ActionRun.SUCCEEDED if result.ok else ActionRun.FAILED,
            "finished_at": now,
            "lease_until": None,
            "last_error": error,
        }
    else:
        fields = {
            "status": ActionRun.QUEUED,
            "due_at": due_at,
            "lease_until": None,
            "claim": "",
            "last_error": error,
        }
    with serialized_writes():
        updated = ActionRun.objects.filter(pk=run.pk, claim=token).update(**fields)
    if not updated:
        logger.warning("action run %s was taken over while it ran; its result is not recorded", run.pk)
    for key, value in fields.items():
        setattr(run, key, value)
    return run


# ---- polling ------------------------------------------------------------------------------------


def recover_expired(now=None) -> int:
    """Runs still `running` after their lease: log `execute-timeout`, then queue them again."""
    from actions.services import RunInfo, record_timeout
    from connectors.models import Connector
    from connectors.services import ConnectorNotFound, find_connector

    now = now or timezone.now()
    recovered = 0
    timeout_seconds = get_config()["connectors.actions.runTimeout"]
    timeout_text = _duration_text(timeout_seconds)
    for run in ActionRun.objects.filter(status=ActionRun.RUNNING, lease_until__lt=now)[:100]:
        final = run.attempts >= run.max_attempts
        fields = (
            {
                "status": ActionRun.FAILED,
                "finished_at": now,
                "last_error": "execution cancelled due to timeout",
            }
            if final
            else {"status": ActionRun.QUEUED, "due_at": now, "claim": ""}
        )
        if not ActionRun.objects.filter(pk=run.pk, claim=run.claim, status=ActionRun.RUNNING).update(
            lease_until=None, **fields
        ):
            continue
        recovered += 1
        try:
            connector = find_connector(run.space_id, run.connector_id)
        except ConnectorNotFound:
            connector = Connector(id=run.connector_id, connector_type_id=run.connector_type_id, name="")
        record_timeout(
            connector,
            RunInfo(source="alert" if run.rule_id else run.source, execution_uuid=run.execution_uuid),
            timeout_text,
        )
    return recovered


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def due_runs(limit: int, now=None) -> list[int]:
    """Retries whose time has come and first attempts whose task seems lost."""
    now = now or timezone.now()
    grace = timedelta(seconds=get_config()["connectors.actions.lostTaskGrace"])
    return list(
        ActionRun.objects.filter(status=ActionRun.QUEUED, due_at__lte=now)
        .filter(Q(attempts__gt=0) | Q(due_at__lte=now - grace))
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )


def claim_due_rules(now=None) -> list[str]:
    """Enabled rules whose next run is due; each is claimed by moving its next run one interval on."""
    from actions.rules import interval_seconds

    now = now or timezone.now()
    claimed = []
    for rule_id, next_run_at, interval in Rule.objects.filter(enabled=True, next_run_at__lte=now).values_list(
        "pk", "next_run_at", "schedule_interval"
    )[:100]:
        following = now + timedelta(seconds=interval_seconds(interval))
        if Rule.objects.filter(pk=rule_id, next_run_at=next_run_at, enabled=True).update(
            next_run_at=following
        ):
            claimed.append(rule_id)
    return claimed


def poll_once() -> None:
    from actions.rule_runner import run_rule

    _, slots = _ensure_pool()
    recover_expired()
    for rule_id in claim_due_rules():
        _rule_pool.submit(_rule_in_thread, run_rule, rule_id)
    free = getattr(slots, "_value", 1)
    for run_id in due_runs(max(0, free)):
        dispatch(run_id, wait=0)


def _rule_in_thread(run_rule, rule_id: str) -> None:
    try:
        close_old_connections()
        run_rule(rule_id)
    except Exception:
        logger.exception("rule run %s crashed", rule_id)
    finally:
        close_old_connections()


def _poll_forever() -> None:
    while True:
        interval = 0.5
        try:
            interval = get_config()["connectors.actions.pollInterval"]
            close_old_connections()
            poll_once()
        except Exception:
            logger.exception("action poller failed; trying again")
        finally:
            close_old_connections()
        time.sleep(interval)


# ---- in-process draining (tests, management command) ----------------------------------------------


def run_pending(max_rounds: int = 20) -> int:
    """Run every due queued run in this thread, until none is left. Returns how many ran."""
    done = 0
    for _ in range(max_rounds):
        ids = list(
            ActionRun.objects.filter(status=ActionRun.QUEUED, due_at__lte=timezone.now()).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            break
        for run_id in ids:
            token = claim(run_id)
            if token:
                process(run_id, token)
                done += 1
    return done
