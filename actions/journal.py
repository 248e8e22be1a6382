"""Batched writes of a worker process's finished action runs.

A worker process runs many actions at once on its thread pool. Writing each run's two events, its
row and its connector's health as they happen costs about seven statements per action; instead the
action threads hand them to this journal and one thread writes whatever has gathered, in a single
transaction: one INSERT for all events, one UPDATE per group of runs that ended alike, one UPDATE per
connector. The pace adapts by itself: an idle process writes each run at once, a busy one writes
larger batches.

A run's `execute` event and its row's final state are written in the same transaction, so the event
log and the runs always agree. If the process dies before a batch is written, neither is: the run's
worker is found lost (heartbeat) or its lease expires, and it runs again (at least once), exactly as
if the process had died mid-call. That window is one write: the thread writes whatever has gathered
as soon as the previous write is done, at most `MAX_BATCH` entries at a time.

Errors are classified: while the database is unreachable the batch is kept and written again (never
dropped); a lock, deadlock or serialization failure is tried again a few times; a batch the database
refuses (a constraint, bad data) is written entry by entry, and a run's row always gets its result.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from actions.dblock import release_connection, serialized_writes
from actions.models import ActionRun

logger = logging.getLogger("actions")


def name_os_thread(name: str | None = None) -> None:
    """Give the calling thread its Python name at the OS level too (Linux: `top -H`, `ps -L`,
    /proc/<pid>/task/*/comm), so the CPU of a worker's poller, journal and action threads can be told
    apart. Python 3.11 does not do it itself; elsewhere this does nothing."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(15, (name or threading.current_thread().name).encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


MAX_PENDING = 5000  # entries held while the database is unreachable; action threads then wait


@dataclass(frozen=True)
class Outcome:
    """How one claimed run ended, and what its row becomes."""

    run_pk: int
    token: str
    ok: bool
    error: str
    final: bool
    due_at: datetime | None = None


def finish_fields(outcome: Outcome, now: datetime) -> dict:
    """The row's new fields: done (succeeded/failed), or queued again for a retry at `due_at`."""
    if outcome.final:
        return {
            "status": ActionRun.SUCCEEDED if outcome.ok else ActionRun.FAILED,
            "finished_at": now,
            "lease_until": None,
            "last_error": outcome.error,
        }
    return {
        "status": ActionRun.QUEUED,
        "due_at": outcome.due_at,
        "lease_until": None,
        "claim": "",
        "last_error": outcome.error,
    }


def apply_outcomes(outcomes: list[Outcome], now: datetime) -> int:
    """One UPDATE per group of runs whose rows change alike; each row only while its claim still
    holds (a run taken over after its lease expired is not overwritten). Returns rows updated."""
    groups: dict[tuple, list[int]] = {}
    for outcome in outcomes:
        fields = finish_fields(outcome, now)
        groups.setdefault((outcome.token, tuple(fields.items())), []).append(outcome.run_pk)
    updated = 0
    for (token, fields), pks in groups.items():
        updated += ActionRun.objects.filter(pk__in=pks, claim=token).update(**dict(fields))
    if updated < len(outcomes):
        logger.warning(
            "%d action run(s) were taken over while they ran; their results are not recorded",
            len(outcomes) - updated,
        )
    return updated


@dataclass
class _Entry:
    document: dict
    outcome: Outcome | None = None
    health: tuple | None = None  # (connector pk, ExecutionResult, started_at)
    added: float = field(default_factory=time.monotonic)


MAX_BATCH = 500  # entries per transaction: keeps each write short, and so the window in which a
# run the service already answered is not yet recorded (a kill there re-runs it)
TRANSIENT_TRIES = 3  # a lock, deadlock or serialization failure is tried this often before one by one


def database_reachable() -> bool:
    """Whether a fresh connection can run a query: tells an outage (keep the batch, try again) apart
    from a batch the database refuses (write it entry by entry)."""
    from django.db import connection

    try:
        connection.close()
    except Exception:
        logger.debug("could not close this thread's connection", exc_info=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def is_transient(exc: BaseException) -> bool:
    """A lock, deadlock, serialization or connection failure: the same write may succeed later."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False  # IntegrityError, DataError, ProgrammingError: the same batch fails again
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or ""
    if state:  # PostgreSQL: connection (08), rollback (40), resources (53), operator (57), lock (55P03)
        return state[:2] in ("08", "40", "53", "57") or state == "55P03"
    text = str(exc).lower()
    return any(word in text for word in ("locked", "busy", "connection", "closed", "timeout", "terminat"))


class Journal:
    """The process's pending results, the runs it holds (claimed, result not yet written: their
    leases are renewed), and the writer thread."""

    def __init__(self):
        self.ready = threading.Condition()
        self.entries: list[_Entry] = []
        self.writing = 0
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.held: dict[int, str] = {}  # run pk -> claim token
        self.failures = 0  # consecutive failed writes
        self.last_error = ""
        self.last_written_at: float | None = None
        self.max_lag = 0.0  # seconds from a result to its commit, largest since the last report
        self.writes = 0  # transactions written, and the entries in them (entries per write)
        self.entries_written = 0

    # -- runs held by this process --------------------------------------------------------------

    def hold(self, token: str, run_pks) -> None:
        with self.ready:
            self._forget_parent()
            for pk in run_pks:
                self.held[pk] = token

    def release(self, run_pks) -> None:
        with self.ready:
            for pk in run_pks:
                self.held.pop(pk, None)

    def held_runs(self) -> dict[int, str]:
        with self.ready:
            self._forget_parent()
            return dict(self.held)

    def _forget_parent(self) -> None:
        """A forked child inherits its parent's memory, not its runs or its thread."""
        if self.pid != os.getpid():
            self.entries, self.writing, self.held, self.thread = [], 0, {}, None
            self.pid = os.getpid()

    # -- results ---------------------------------------------------------------------------------

    def add(self, document: dict, outcome: Outcome | None = None, health: tuple | None = None) -> None:
        with self.ready:
            self._forget_parent()
            if self.thread is None or not self.thread.is_alive():
                # Not a daemon: when the process exits, Python first joins the action threads and
                # then this one, which writes what they left before it stops (see _run). A thread
                # that died leaves its entries here: the new one writes them.
                self.thread = threading.Thread(target=self._run, name="actions-journal")
                self.thread.start()
            while len(self.entries) >= MAX_PENDING:
                self.ready.wait(1.0)
            self.entries.append(_Entry(document, outcome, health))
            self.ready.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything added so far is written (tests, process exit)."""
        deadline = time.monotonic() + timeout
        with self.ready:
            while self.entries or self.writing:
                if self.thread is None or not self.thread.is_alive():
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.ready.wait(min(remaining, 0.1))
        return True

    def report(self) -> dict:
        """For this worker's heartbeat (the health API): is the journal keeping up?"""
        with self.ready:
            oldest = min((entry.added for entry in self.entries), default=None)
            report = {
                "pending": len(self.entries) + self.writing,
                "oldest_pending_s": round(time.monotonic() - oldest, 3) if oldest is not None else 0,
                "consecutive_failures": self.failures,
                "last_error": self.last_error,
                "max_lag_ms": round(self.max_lag * 1000, 1),
                "held": len(self.held),
                "writes": self.writes,
                "entries_written": self.entries_written,
            }
            self.max_lag = 0.0
            return report

    def _run(self) -> None:
        name_os_thread()
        while True:
            with self.ready:
                while not self.entries:
                    if not threading.main_thread().is_alive():
                        return  # the process is exiting and everything is written
                    self.ready.wait(0.5)
                batch, self.entries = self.entries[:MAX_BATCH], self.entries[MAX_BATCH:]
                self.writing = len(batch)
            left = batch
            try:
                left = self._write(batch)
            except BaseException:  # never let the thread die holding a batch
                logger.exception("the action journal failed unexpectedly; keeping %d results", len(batch))
                time.sleep(1.0)
            finally:
                release_connection()
                with self.ready:
                    self.entries[:0] = left  # what was not written goes first next time
                    self.writing = 0
                    self.ready.notify_all()

    def _write(self, batch: list[_Entry]) -> list[_Entry]:
        """Write a batch; returns what is left to write again (nothing, unless the database is away)."""
        try:
            write(batch)
            self._written(batch)
            return []
        except Exception as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            reachable = database_reachable()
            if not reachable:
                # An outage (restart, failover): keep the batch and try again, unless the process is
                # exiting (a worker must not hang its shutdown on an outage: the runs' leases bring
                # them back, at least once).
                if not threading.main_thread().is_alive() and self.failures >= 6:
                    logger.error(
                        "exiting with %d action results unwritten; their leases will re-run them", len(batch)
                    )
                    return []
                delay = min(0.2 * 2 ** (self.failures - 1), 5.0)
                logger.warning(
                    "could not write %d action results (%s); retrying in %.1f s", len(batch), exc, delay
                )
                time.sleep(delay)
                return batch
            if is_transient(exc) and self.failures < TRANSIENT_TRIES:
                logger.warning("writing %d action results met %s; trying again", len(batch), exc)
                time.sleep(0.1 * self.failures)
                return batch
            # The database is there but refuses this batch (a constraint, bad data, a persistent
            # error): one by one, so one bad entry costs only its own event, never a run's result.
            logger.exception("writing %d action results failed; writing them one by one", len(batch))
            left = write_one_by_one(batch)
            unwritten = {id(entry) for entry in left}
            self._written([entry for entry in batch if id(entry) not in unwritten])
            return left

    def _written(self, batch: list[_Entry]) -> None:
        now = time.monotonic()
        with self.ready:
            if batch:
                self.writes += 1
                self.entries_written += len(batch)
                self.failures, self.last_error, self.last_written_at = 0, "", now
                self.max_lag = max(self.max_lag, now - min(entry.added for entry in batch))
            for entry in batch:
                if entry.outcome is not None:
                    self.held.pop(entry.outcome.run_pk, None)


def _health_of(batch: list[_Entry]) -> dict:
    """Per connector, the newest run of the batch."""
    newest: dict = {}
    for entry in batch:
        if entry.health is not None:
            pk, result, started_at = entry.health
            if pk not in newest or newest[pk][1] <= started_at:
                newest[pk] = (result, started_at)
    return newest


def write(batch: list[_Entry]) -> None:
    from actions.services import update_health
    from eventlog.services import build_event, record_many

    events = [build_event(entry.document) for entry in batch]
    outcomes = [entry.outcome for entry in batch if entry.outcome is not None]
    with serialized_writes(), transaction.atomic():
        record_many(events)
        apply_outcomes(outcomes, timezone.now())
        for pk, (result, started_at) in _health_of(batch).items():
            update_health(pk, result, started_at)


def write_one_by_one(batch: list[_Entry]) -> list[_Entry]:
    """After a batch the database refused: each entry in its own transaction, so one bad event loses
    only itself and the run rows still end. A run's final state is never dropped: without its event,
    then with a plain error text. Returns the entries left when the database went away meanwhile."""
    for index, entry in enumerate(batch):
        try:
            write([entry])
            continue
        except Exception as exc:
            if is_transient(exc) and not database_reachable():
                return batch[index:]
            logger.exception("could not write an action result; its run row is updated without its event")
        if entry.outcome is None:
            continue
        for outcome in (entry.outcome, replace(entry.outcome, error="the result could not be recorded")):
            try:
                with serialized_writes():
                    apply_outcomes([outcome], timezone.now())
                break
            except DatabaseError as exc:
                if is_transient(exc) and not database_reachable():
                    return batch[index:]
                logger.exception("could not update action run %s", outcome.run_pk)
    return []


journal = Journal()
