"""Running action runs and rule runs inside django-q2 worker processes.

Each worker process owns a thread pool (`connectors.worker.concurrency` threads, default 256), so one
process keeps many slow HTTP calls in flight. A django-q2 task carries a batch of run ids: the
process claims them in one UPDATE, reads their connectors in one query, and hands the runs to the
pool. Action threads write nothing themselves: their events, run rows and connector health go through
the process's journal (actions/journal.py), written in batches by one thread. So a worker process
holds a handful of database connections whatever its concurrency.

A poller thread per process finds due work nobody queued: rules whose schedule is due, retries whose
time has come, runs whose task was lost, and runs whose lease expired because their worker died or
hung (logged as `execute-timeout`, then run again: at least once).

Claims are conditional UPDATEs, so any number of processes and nodes can poll the same database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections, connections
from django.db.models import F, Q
from django.utils import timezone

from actions.dblock import serialized_writes
from actions.journal import Outcome, apply_outcomes, journal, name_os_thread
from actions.models import ActionRun, Rule
from actions.services import RunLog
from connectors.conf import get_config

logger = logging.getLogger("actions")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_rule_pool: ThreadPoolExecutor | None = None  # rule runs never wait behind slow actions
_slots: threading.BoundedSemaphore | None = None
_poller: threading.Thread | None = None
_pid: int | None = None
_size = 0


def _ensure_pool() -> tuple[ThreadPoolExecutor, threading.BoundedSemaphore]:
    global _pool, _rule_pool, _slots, _pid, _size
    with _lock:
        if _pool is None or _pid != os.getpid():
            size = _size = get_config()["connectors.worker.concurrency"]
            _pool = ThreadPoolExecutor(
                max_workers=size, thread_name_prefix="action", initializer=name_os_thread
            )
            _rule_pool = ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="rule", initializer=name_os_thread
            )
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
    """django-q2 started a worker process. `async_task(..., sync=True)` also runs django-q2's worker
    loop inline in the calling process (named MainProcess): that is no worker process, and a poller
    left running there would poll from a web process (or a test run) forever. Our own task functions
    start the pool and poller themselves when they run inline."""
    if proc_name == "MainProcess":
        return
    ensure_started()


# ---- claiming --------------------------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=get_config()["connectors.actions.runTimeout"])


RECONNECT_GRACE_S = 5.0  # beyond lost_after(), before a recovered poller judges other workers


def lost_after() -> float:
    """Seconds without a heartbeat after which a worker process counts as lost: 30 s, or the run
    timeout when that is shorter. Heartbeats and lease renewals come six times as often."""
    return min(30.0, float(get_config()["connectors.actions.runTimeout"]))


_instance = {"pid": 0, "id": ""}


def heartbeat_id() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def worker_id() -> str:
    """This process as written on the runs it claims: its heartbeat id and a random instance, so a
    process that reuses a dead one's host and pid (a restarted container) is not taken for it."""
    if _instance["pid"] != os.getpid():
        _instance.update(pid=os.getpid(), id=uuid.uuid4().hex[:12])
    return f"{heartbeat_id()}/{_instance['id']}"


def claim_many(run_ids: list[int], token: str | None = None) -> tuple[str, list[ActionRun]]:
    """Take due queued runs among `run_ids`: queued -> running with a lease, in one UPDATE.
    Returns the claim token and the claimed rows (runs already taken or not due are left out)."""
    token = token or str(uuid.uuid4())
    now = timezone.now()
    with serialized_writes():
        claimed = ActionRun.objects.filter(pk__in=run_ids, status=ActionRun.QUEUED, due_at__lte=now).update(
            status=ActionRun.RUNNING,
            claim=token,
            worker=worker_id(),
            lease_until=now + _lease(),
            attempts=F("attempts") + 1,
        )
    if not claimed:
        return token, []
    runs = list(ActionRun.objects.filter(pk__in=run_ids, claim=token))
    journal.hold(token, [run.pk for run in runs])  # its lease is renewed until its result is written
    return token, runs


def claim(run_id: int) -> str | None:
    """Take one due queued run. Returns the claim token, or None."""
    token, runs = claim_many([run_id])
    return token if runs else None


def dispatch(run_ids: list[int], *, wait: float = 30.0) -> int:
    """Claim runs and start them on this process's pool as slots free up (at most `wait` seconds
    in all). Returns how many started; the rest stay queued for the poller (here or elsewhere)."""
    pool, slots = _ensure_pool()
    if not threading.main_thread().is_alive():
        return 0  # this process is exiting: leave the runs to a live one
    pending = list(dict.fromkeys(run_ids))
    deadline = time.monotonic() + wait
    # Claim in chunks of at least a quarter of the pool (or what is left): claiming each run as
    # its own slot frees up would cost three statements per run instead of three per chunk.
    least = max(1, get_config()["connectors.worker.concurrency"] // 4)
    started = 0
    while pending:
        taken = 0
        while taken < min(least, len(pending)) and slots.acquire(
            timeout=max(0.0, deadline - time.monotonic())
        ):
            taken += 1
        while 0 < taken < len(pending) and slots.acquire(blocking=False):
            taken += 1
        if not taken:
            break
        chunk, pending = pending[:taken], pending[taken:]
        token = str(uuid.uuid4())
        try:
            _, runs = claim_many(chunk, token)
            connectors = _connectors_of(runs)
        except Exception:
            for _ in range(taken):
                slots.release()
            with contextlib.suppress(Exception):  # else the lease brings them back
                unclaim(token, chunk)
            raise
        for _ in range(taken - len(runs)):
            slots.release()
        for index, run in enumerate(runs):
            connector = connectors.get((run.space_id, run.connector_id))
            try:
                pool.submit(_run_in_thread, run, token, connector, slots)
            except RuntimeError:  # the pool shut down (process exiting) after the claim
                unclaim(token, [later.pk for later in runs[index:]])
                for _ in runs[index:]:
                    slots.release()
                return started + index
        started += len(runs)
    return started


def unclaim(token: str, run_ids: list[int]) -> int:
    """Give claimed runs that never started back to the queue, as if never claimed."""
    journal.release(run_ids)
    with serialized_writes():
        return ActionRun.objects.filter(pk__in=run_ids, claim=token, status=ActionRun.RUNNING).update(
            status=ActionRun.QUEUED, claim="", worker="", lease_until=None, attempts=F("attempts") - 1
        )


def _connectors_of(runs: list[ActionRun]) -> dict:
    """The connectors of a claimed batch in one query per space (preconfigured ones from settings).
    A connector deleted since its runs were queued is missing from the result."""
    from connectors.models import Connector
    from connectors.preconfigured import get_preconfigured

    found: dict = {}
    wanted: dict[str, set[str]] = {}
    for run in runs:
        if (run.space_id, run.connector_id) in found or run.connector_id in wanted.get(run.space_id, ()):
            continue
        preconfigured = get_preconfigured(run.connector_id)
        if preconfigured is not None:
            preconfigured.run_space_id = run.space_id
            found[(run.space_id, run.connector_id)] = preconfigured
        else:
            wanted.setdefault(run.space_id, set()).add(run.connector_id)
    for space_id, ids in wanted.items():
        for connector in Connector.objects.filter(space_id=space_id, pk__in=ids):
            found[(space_id, connector.pk)] = connector
    return found


def _run_in_thread(run: ActionRun, token: str, connector, slots: threading.BoundedSemaphore) -> None:
    try:
        run_claimed(run, token, connector, batched=True)
    except Exception:
        logger.exception("action run %s crashed", run.pk)
        journal.release([run.pk])  # no result will come: its lease runs out and it is run again
    finally:
        # Action threads write through the journal; a type that touches the database itself (the
        # index connector, OAuth tokens) must not keep one connection open per idle thread. A thread
        # that never touched it has nothing to close (and no connection object to build for that).
        for opened in connections.all(initialized_only=True):
            opened.close()
        slots.release()


# ---- running one claimed run -------------------------------------------------------------------


class _JournalRunLog:
    """`execute()`'s writes for a run of this worker: batched through the journal, the `execute`
    event together with the run row's final state (see actions/journal.py)."""

    def __init__(self, run: ActionRun, token: str):
        self.run, self.token = run, token

    def started(self, connector, document: dict) -> None:
        from actions.services import rate_limit_of

        if rate_limit_of(connector.connector_type_id):
            RunLog().started(connector, document)  # the limit counts these rows: write it now
        else:
            journal.add(document)

    def finished(self, connector, document: dict, result, started_at) -> None:
        health = (
            (connector.pk, result, started_at) if connector.pk and not connector.is_preconfigured else None
        )
        journal.add(document, _outcome(self.run, self.token, result), health)


class _ImmediateRunLog(RunLog):
    """`execute()`'s writes done at once, then the run row's final state (in-process draining)."""

    def __init__(self, run: ActionRun, token: str):
        self.run, self.token = run, token

    def finished(self, connector, document: dict, result, started_at) -> None:
        super().finished(connector, document, result, started_at)
        _finish(_outcome(self.run, self.token, result))


def _outcome(run: ActionRun, token: str, result) -> Outcome:
    from actions import queue

    error = (
        ""
        if result.ok
        else (result.message or "") + (f": {result.service_message}" if result.service_message else "")
    )
    if not result.ok and result.retry and run.attempts < run.max_attempts:
        return Outcome(
            run.pk, token, False, error, final=False, due_at=queue.retry_at(run.attempts, result.retry)
        )
    return Outcome(run.pk, token, result.ok, error, final=True)


def _run_info(run: ActionRun):
    from actions.services import RuleContext, RunInfo

    return RunInfo(
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


def run_claimed(run: ActionRun, token: str, connector, *, batched: bool) -> None:
    """Execute a claimed run through `actions.services.execute` and record how it ended: through
    the journal (`batched`, the worker pool) or at once (in-process draining)."""
    from actions.services import execute, record_missing_connector

    info = _run_info(run)
    if connector is None:  # deleted since it was queued: Kibana's not-found failure, written at once
        result = record_missing_connector(info, run.connector_id, run.connector_type_id, run.space_id)
        _finish(_outcome(run, token, result))
        return
    log = _JournalRunLog(run, token) if batched else _ImmediateRunLog(run, token)
    execute(connector, run.params, info, log=log)


def process(run_id: int, token: str) -> ActionRun | None:
    """Run one claimed run in this thread with every write done at once (tests, draining)."""
    run = ActionRun.objects.filter(pk=run_id, claim=token, status=ActionRun.RUNNING).first()
    if run is None:
        return None
    run_claimed(run, token, _connectors_of([run]).get((run.space_id, run.connector_id)), batched=False)
    run.refresh_from_db()
    return run


def _finish(outcome: Outcome) -> None:
    with serialized_writes():
        apply_outcomes([outcome], timezone.now())
    journal.release([outcome.run_pk])


# ---- polling ------------------------------------------------------------------------------------


def _judge_workers(workers: set[str], now, trust_heartbeats: bool) -> tuple[set[str], set[str]]:
    """Of the workers holding running runs: those known lost (their process was replaced, or their
    heartbeat stopped `lost_after()` ago) and those whose heartbeat is stale but that cannot be judged
    yet (this process's own polling was interrupted: after an outage every heartbeat is stale until
    its worker writes again). A worker without a heartbeat row (in-process draining) is in neither:
    its lease decides."""
    from actions.models import WorkerHeartbeat

    by_id = {worker.partition("/")[0] for worker in workers if worker}
    beats = {
        pk: (last, (stats or {}).get("instance"))
        for pk, last, stats in WorkerHeartbeat.objects.filter(pk__in=by_id).values_list(
            "pk", "last_poll_at", "stats"
        )
    }
    stale_after = now - timedelta(seconds=lost_after())
    lost, undecided = set(), set()
    for worker in workers:
        host_pid, _, instance = worker.partition("/")
        if host_pid not in beats:
            continue
        last, current = beats[host_pid]
        if current and instance and current != instance:
            lost.add(worker)  # the same host and pid now belong to another process
        elif last < stale_after:
            (lost if trust_heartbeats else undecided).add(worker)
    return lost, undecided


def recover_expired(now=None, *, trust_heartbeats: bool = True) -> int:
    """Runs still `running` whose worker was lost (no heartbeat for `lost_after()`) or whose lease
    expired (nobody renews it): log `execute-timeout` saying which, then queue them again.

    Neither counts as an attempt (the run may never have started, or the service never answered);
    a run whose worker is lost more than `max_attempts` times (one that kills its worker) fails."""
    now = now or timezone.now()
    workers = set(
        ActionRun.objects.filter(status=ActionRun.RUNNING).values_list("worker", flat=True).distinct()[:1000]
    )
    lost, undecided = _judge_workers(workers, now, trust_heartbeats)
    candidates = ActionRun.objects.filter(status=ActionRun.RUNNING).filter(
        Q(worker__in=lost) | (Q(lease_until__lt=now) & ~Q(worker__in=undecided))
    )
    recovered = 0
    for run in candidates[:200]:
        if _recover(run, now, lost_worker=run.worker in lost):
            recovered += 1
    return recovered


def _recover(run: ActionRun, now, *, lost_worker: bool) -> bool:
    from actions.services import RunInfo, record_timeout
    from connectors.models import Connector
    from connectors.services import ConnectorNotFound, find_connector

    final = run.lost >= run.max_attempts
    who = run.worker.partition("/")[0] or "unknown"
    if lost_worker:
        reason = f"worker {who} was lost (no heartbeat for {_duration_text(lost_after())})"
    else:
        reason = f"its lease ran out (worker {who} stopped renewing it)"
    error = (
        f"execution failed: its worker was lost {run.lost + 1} times while running it; last: {reason}"
        if final
        else f"execution cancelled: {reason}; queued again"
    )
    fields = (
        {"status": ActionRun.FAILED, "finished_at": now}
        if final
        else {
            "status": ActionRun.QUEUED,
            "due_at": now,
            "claim": "",
            "worker": "",
            "attempts": F("attempts") - 1,  # a lost run is not an attempt
        }
    )
    if not ActionRun.objects.filter(pk=run.pk, claim=run.claim, status=ActionRun.RUNNING).update(
        lease_until=None, lost=F("lost") + 1, last_error=error, **fields
    ):
        return False
    try:
        connector = find_connector(run.space_id, run.connector_id)
    except ConnectorNotFound:
        connector = Connector(id=run.connector_id, connector_type_id=run.connector_type_id, name="")
    info = RunInfo(source="alert" if run.rule_id else run.source, execution_uuid=run.execution_uuid)
    if lost_worker or final:
        record_timeout(connector, info, reason=error)
    else:  # Kibana's own wording for a run that outlived its lease
        record_timeout(connector, info, _duration_text(get_config()["connectors.actions.runTimeout"]))
    return True


def renew_leases(now=None) -> int:
    """Extend the lease of every run this process holds (running, or finished but its result not yet
    written), so a run longer than `runTimeout` is never taken for a dead one and run twice."""
    held = journal.held_runs()
    if not held:
        return 0
    until = (now or timezone.now()) + _lease()
    pks, tokens = list(held), set(held.values())
    renewed = 0
    for start in range(0, len(pks), 500):
        with serialized_writes():
            renewed += ActionRun.objects.filter(
                pk__in=pks[start : start + 500], claim__in=tokens, status=ActionRun.RUNNING
            ).update(lease_until=until)
    return renewed


def recover_rules(now=None) -> int:
    """Rules left `running` by a rule run whose process died (their lease ran out)."""
    now = now or timezone.now()
    return Rule.objects.filter(running=True, running_until__lt=now).update(running=False, running_until=None)


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
        .filter(Q(attempts__gt=0) | Q(lost__gt=0) | Q(due_at__lte=now - grace))
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )


def claim_due_rules(now=None) -> list[str]:
    """Enabled rules whose next run is due; each is claimed by moving its next run one interval on."""
    from actions.rules import interval_delta

    now = now or timezone.now()
    claimed = []
    for rule_id, next_run_at, interval in Rule.objects.filter(enabled=True, next_run_at__lte=now).values_list(
        "pk", "next_run_at", "schedule_interval"
    )[:100]:
        following = now + interval_delta(interval)
        if Rule.objects.filter(pk=rule_id, next_run_at=next_run_at, enabled=True).update(
            next_run_at=following
        ):
            claimed.append(rule_id)
    return claimed


def poll_once(*, trust_heartbeats: bool = True) -> tuple[str, int]:
    """One round of the poller. Returns Kibana's fill-pool result for it and how many runs it tried
    to claim but found taken by another process (a claim conflict)."""
    from actions.rule_runner import run_rule

    _, slots = _ensure_pool()
    recover_expired(trust_heartbeats=trust_heartbeats)
    recover_rules()
    rules = claim_due_rules()
    for rule_id in rules:
        _rule_pool.submit(_rule_in_thread, run_rule, rule_id)
    free = getattr(slots, "_value", 1)
    if free <= 0:
        return "NoAvailableWorkers", 0
    due = due_runs(free + 1)  # one more than fits tells "more work than room" apart from "exactly full"
    started = dispatch(due[:free], wait=0) if due else 0
    conflicts = max(0, min(len(due), free) - started)
    if not started and not rules:
        return "NoTasksClaimed", conflicts
    if len(due) > free:
        return "RanOutOfCapacity", conflicts
    if started and started == free:
        return "RunningAtCapacity", conflicts
    return "PoolFilled", conflicts


def _rule_in_thread(run_rule, rule_id: str) -> None:
    try:
        close_old_connections()
        run_rule(rule_id)
    except Exception:
        logger.exception("rule run %s crashed", rule_id)
    finally:
        close_old_connections()


class PollStats:
    """This process's recent polls, published to its `WorkerHeartbeat` row every few seconds."""

    window = 100  # polls kept, like Kibana's running-average window
    publish_every = 5.0  # most seconds between heartbeat writes (fewer when `lost_after()` is short)
    forget_after = timedelta(hours=1)  # heartbeats of processes gone this long are deleted

    def __init__(self):
        from collections import deque

        self.durations_ms: deque = deque(maxlen=self.window)
        self.results: deque = deque(maxlen=self.window)
        self.conflicts: deque = deque(maxlen=self.window)
        self.started_at = timezone.now()
        self.last_poll_at = None
        self.last_successful_poll_at = None
        self.last_polling_delay_ms = 0.0
        self.published = 0.0

    def record(self, duration_ms: float, result: str, conflicts: int, delay_ms: float) -> None:
        self.durations_ms.append(round(duration_ms, 3))
        self.results.append(result)
        self.conflicts.append(conflicts)
        self.last_poll_at = timezone.now()
        self.last_polling_delay_ms = round(max(0.0, delay_ms), 3)
        if result != "Failed":
            self.last_successful_poll_at = self.last_poll_at

    def publish(self) -> None:
        """Renew the leases of the runs this process holds, then write the heartbeat row (every
        `lost_after() / 6` seconds, at most `publish_every`). A heartbeat is only written after the
        renewal succeeded: a fresh heartbeat means this process's leases are current."""
        from actions.models import WorkerHeartbeat

        every = min(self.publish_every, lost_after() / 6)
        if time.monotonic() - self.published < every or self.last_poll_at is None:
            return
        self.published = time.monotonic()
        renew_leases()
        host_pid = heartbeat_id()
        host, _, pid = host_pid.rpartition(":")
        # Not under serialized_writes(): a thread already inside an SQLite write transaction that then
        # waits for that lock would make both wait out SQLite's busy timeout. Only this poller waits
        # here, and a late heartbeat costs nothing.
        WorkerHeartbeat.objects.update_or_create(
            pk=host_pid,
            defaults={
                "host": host,
                "pid": int(pid),
                "started_at": self.started_at,
                "last_poll_at": timezone.now(),
                "last_successful_poll_at": self.last_successful_poll_at,
                "stats": {
                    "instance": worker_id().partition("/")[2],
                    "durations_ms": list(self.durations_ms),
                    "results": list(self.results),
                    "conflicts": list(self.conflicts),
                    "last_polling_delay_ms": self.last_polling_delay_ms,
                    "journal": journal.report(),
                },
            },
        )
        WorkerHeartbeat.objects.filter(last_poll_at__lt=timezone.now() - self.forget_after).delete()
        # /metrics only reads: the rollup of new events is folded here, on the heartbeat (issue 16).
        from eventlog.metrics import advance_rollup

        advance_rollup()


def _poll_forever() -> None:
    name_os_thread()
    stats = PollStats()
    due = time.monotonic()
    healthy_since: float | None = None  # since when this process's polls and heartbeats succeed
    while True:
        interval = 0.5
        began = time.monotonic()
        result, conflicts = "Failed", 0
        # After an interruption, other workers get `lost_after()` and a grace to write again before
        # this process judges them: right after a database outage every process reconnects and
        # catches up at once, and one that writes a few seconds late must not have its runs taken
        # and run twice.
        trusted = healthy_since is not None and began - healthy_since >= lost_after() + RECONNECT_GRACE_S
        try:
            interval = get_config()["connectors.actions.pollInterval"]
            close_old_connections()
            result, conflicts = poll_once(trust_heartbeats=trusted)
        except Exception:
            logger.exception("action poller failed; trying again")
        try:
            stats.record((time.monotonic() - began) * 1000, result, conflicts, (began - due) * 1000)
            stats.publish()
            if result == "Failed":
                healthy_since = None
            elif healthy_since is None:
                healthy_since = began
        except Exception:  # the heartbeat is for recovery and the health API; polling goes on
            healthy_since = None
            logger.debug("could not write this worker's heartbeat", exc_info=True)
        finally:
            try:
                close_old_connections()
            except Exception:  # the database is away: the next round tries again
                logger.debug("poller could not check its connection", exc_info=True)
        due = time.monotonic() + interval
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


def flush(timeout: float = 30.0) -> bool:
    """Wait until this process's runs in flight have finished and their results are written."""
    deadline = time.monotonic() + timeout
    _, slots = _ensure_pool()
    while getattr(slots, "_value", _size) < _size:  # a slot is held for each run in flight
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return journal.flush(max(0.0, deadline - time.monotonic()))
