"""Creating durable action runs and handing them to django-q2 (only the row id travels).

Rows are written in the caller's transaction; the task is queued on commit, so a rolled-back rule
run queues nothing and a committed one can never lose its runs (a lost task is found by polling).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from actions.dblock import release_connection
from actions.models import ActionRun
from connectors import registry
from connectors.conf import get_config
from connectors.prepared import PreparedInsert

logger = logging.getLogger("actions")
DEFAULT_MAX_ATTEMPTS = 3
TASK = "actions.tasks.run_actions"
TASK_BATCH = 50  # run ids per django-q2 task
# How long the hand-off gathers ids before it sends a task. An idle process waits the short window,
# so a lone run is handed over within 20 ms; while runs keep coming (ids already waiting when a task
# has gone) each wait doubles up to the long one, so a busy process sends tasks of tens of runs
# (every task costs a pickle, a signature, a broker row and a claim in the cluster: at 350 enqueues/s
# a 100 ms window measured ~25% less cluster CPU per delivery than 20 ms). A full task (TASK_BATCH
# ids) goes at once, whatever the window.
HANDOFF_WINDOW = 0.02
HANDOFF_WINDOW_MAX = 0.1


def next_handoff_window(window: float, *, still_busy: bool) -> float:
    """The hand-off's wait after a task went: longer while ids keep arriving, short once idle."""
    if not still_busy:
        return HANDOFF_WINDOW
    return min(window * 2, HANDOFF_WINDOW_MAX)


def max_attempts_for(type_id: str) -> int:
    """Kibana's getMaxAttempts: type override, then run.maxAttempts, then the type's own, then 3."""
    config = get_config()
    for override in config["xpack.actions.run.connectorTypeOverrides"]:
        if override["id"] == type_id and override.get("maxAttempts"):
            return override["maxAttempts"]
    if config["xpack.actions.run.maxAttempts"]:
        return config["xpack.actions.run.maxAttempts"]
    if registry.is_registered(type_id) and registry.get(type_id).max_attempts:
        return registry.get(type_id).max_attempts
    return DEFAULT_MAX_ATTEMPTS


def retry_at(attempts: int, retry: bool | datetime, now: datetime | None = None) -> datetime:
    """When to try again after `attempts` failed tries: a date from the result is used as is; else
    the first retry waits 30 s, later ones a random delay up to 5m x 2^(attempts-2), capped at 1 h."""
    now = now or timezone.now()
    if isinstance(retry, datetime):
        return retry
    config = get_config()
    first = config["connectors.actions.firstRetryDelay"]
    if attempts <= 1:
        return now + timedelta(seconds=first)
    cap = min(
        config["connectors.actions.backoffBase"] * 2 ** (attempts - 2),
        config["connectors.actions.backoffMax"],
    )
    return now + timedelta(seconds=random.uniform(min(first, cap), cap))


def pending_count() -> int:
    return ActionRun.objects.filter(status__in=(ActionRun.QUEUED, ActionRun.RUNNING)).count()


class _PendingEstimate:
    """`xpack.actions.queued.max` without a COUNT over the queue per enqueued run.

    The exact count is taken again when the last one is over a second old or when the queue could be
    near the limit: within a second, the runs this process added are known and other processes are
    allowed `slack` more. Far below the limit (the default is 1,000,000) one COUNT per second serves
    every enqueue; near it, every enqueue counts exactly as before.
    """

    ttl = 1.0

    def __init__(self):
        self.lock = threading.Lock()
        self.counted_at = -1e9
        self.value = 0

    def free_slots(self, wanted: int, limit: int) -> int:
        slack = max(1000, limit // 100)
        with self.lock:
            fresh = time.monotonic() - self.counted_at < self.ttl
            if fresh and self.value + wanted + slack < limit:
                self.value += wanted
                return wanted
        count = pending_count()
        with self.lock:
            self.counted_at, self.value = time.monotonic(), count + min(wanted, max(0, limit - count))
        return max(0, min(wanted, limit - count))


_estimate = _PendingEstimate()


def free_slots(wanted: int) -> int:
    """How many of `wanted` new runs fit under `xpack.actions.queued.max`."""
    return _estimate.free_slots(wanted, get_config()["xpack.actions.queued.max"])


def new_run(
    connector,
    params: dict,
    *,
    space_id: str,
    source: str,
    rule=None,
    rule_execution_uuid: str = "",
) -> ActionRun:
    type_id = connector.connector_type_id
    return ActionRun(
        space_id=space_id,
        connector_id=connector.id,
        connector_type_id=type_id,
        params=params,
        max_attempts=max_attempts_for(type_id),
        due_at=timezone.now(),
        source=source,
        rule_id=rule.id if rule else "",
        rule_type_id=rule.rule_type_id if rule else "",
        rule_consumer=rule.consumer if rule else "",
        rule_execution_uuid=rule_execution_uuid,
    )


_insert_run = PreparedInsert(ActionRun)


def create_runs(runs: list[ActionRun]) -> list[ActionRun]:
    """Insert the rows now and hand their ids to the workers when the surrounding transaction
    commits (at once when there is none)."""
    if not runs:
        return []
    if len(runs) == 1:
        # One row outside a transaction: a plain INSERT commits on its own, where bulk_create would
        # wrap it in BEGIN/COMMIT (two more round trips per enqueue() on PostgreSQL). The statement
        # is built once per thread (`save()` builds it every time: ~0.35 ms of a ~1 ms request).
        _insert_run(runs[0])
        created = runs
    else:
        created = ActionRun.objects.bulk_create(runs)
    ids = [run.pk for run in created]
    if _broker_shares_the_database() and not transaction.get_autocommit():
        # django-q2's ORM broker writes its queue row in our database: inside this transaction the
        # run rows and their task commit (or roll back) together, in one write transaction.
        _push(ids)
    else:
        transaction.on_commit(lambda: queue_tasks(ids))
    return created


def _broker_shares_the_database() -> bool:
    cluster = settings.Q_CLUSTER
    return bool(cluster.get("orm")) and not cluster.get("sync")


def _push(ids: list[int]) -> None:
    """One django-q2 task per `TASK_BATCH` ids: the task carries ids only, never params."""
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    broker = get_broker()
    for start in range(0, len(ids), TASK_BATCH):
        chunk = ids[start : start + TASK_BATCH]
        async_task(TASK, chunk, q_options={"broker": broker, "task_name": f"action-runs-{chunk[0]}"})


class _Handoff:
    """Coalesces the ids committed by many threads of one process into few django-q2 tasks.

    A background thread pushes what has gathered within the hand-off window of the first id (20 ms
    when idle, growing to 100 ms under a steady stream; see `next_handoff_window`), or as soon as a
    full task has gathered, so a busy process sends one task per batch instead of one per run.
    Ids still in memory when the process dies are not lost: their rows are committed, and the
    workers' poller runs them after `connectors.actions.lostTaskGrace`.
    """

    def __init__(self, push=None):
        self.ready = threading.Condition()
        self.ids: list[int] = []
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.window = HANDOFF_WINDOW
        self.push = push or _push  # tests give a recorder

    def add(self, ids: list[int]) -> None:
        with self.ready:
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.ids, self.pid = [], os.getpid()
                # Not a daemon: an exiting process hands over what it gathered before it stops.
                self.thread = threading.Thread(target=self._run, name="actions-handoff")
                self.thread.start()
            was_empty = not self.ids
            self.ids.extend(ids)
            # Wake the thread only when it has something new to decide: the first id of a task, or
            # a full task (a wake-up per enqueue would cost the request threads GIL switches).
            if was_empty or len(self.ids) >= TASK_BATCH:
                self.ready.notify()

    def _gather(self) -> list[int] | None:
        """Wait for ids, then for the window (or a full task); None when the process is exiting
        with nothing left to hand over."""
        with self.ready:
            if not self.ids:
                self.window = HANDOFF_WINDOW  # idle: the next run goes out quickly
            while not self.ids:
                if not threading.main_thread().is_alive():
                    return None
                self.ready.wait(0.5)
            deadline = time.monotonic() + self.window
            while len(self.ids) < TASK_BATCH and threading.main_thread().is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.ready.wait(left)  # let the ids of concurrent enqueues join this task
            ids, self.ids = self.ids, []
            return ids

    def _run(self) -> None:
        while True:
            ids = self._gather()
            if ids is None:
                return
            try:
                # Not under serialized_writes(), as for the worker heartbeat: a request thread inside
                # an SQLite write transaction must never wait for a lock this thread holds.
                self.push(ids)
            except Exception:
                logger.exception("could not queue action runs %s; polling will pick them up", ids[:10])
            finally:
                release_connection()  # the ORM broker writes through this thread's connection
            with self.ready:
                self.window = next_handoff_window(self.window, still_busy=bool(self.ids))


_handoff = _Handoff()


def queue_tasks(ids: list[int]) -> None:
    """Hand committed run ids to django-q2. A failure here loses nothing: polling picks the rows
    up after `connectors.actions.lostTaskGrace`."""
    if settings.Q_CLUSTER.get("sync"):
        try:
            _push(ids)  # tasks run inline (tests, CONNECTORS_TASKS_SYNC): keep them in this thread
        except Exception:
            logger.exception("could not queue action runs %s; polling will pick them up", ids[:10])
        return
    _handoff.add(ids)


def queue_rule_run(rule_id: str) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("actions.tasks.run_rule", rule_id, q_options={"task_name": f"rule-run-{rule_id}"})
    )
