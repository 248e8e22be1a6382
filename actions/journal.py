"""Batched writes of a worker process's finished action runs.

A worker process runs many actions at once on its thread pool. Writing each run's two events, its
row and its connector's health as they happen costs about seven statements per action; instead the
action threads hand them to this journal and one thread writes whatever has gathered, in a single
transaction: one INSERT for all events, one UPDATE per group of runs that ended alike, one UPDATE per
connector. The pace adapts by itself: an idle process writes each run at once, a busy one writes
larger batches.

A run's `execute` event and its row's final state are written in the same transaction, so the event
log and the runs always agree. If the process dies before a batch is written, neither is: the run's
lease expires and it runs again (at least once), exactly as if the process had died mid-call.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from actions.dblock import release_connection, serialized_writes
from actions.models import ActionRun

logger = logging.getLogger("actions")

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


class Journal:
    def __init__(self):
        self.ready = threading.Condition()
        self.entries: list[_Entry] = []
        self.writing = 0
        self.thread: threading.Thread | None = None
        self.pid = 0

    def add(self, document: dict, outcome: Outcome | None = None, health: tuple | None = None) -> None:
        with self.ready:
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.entries, self.writing, self.pid = [], 0, os.getpid()
                # Not a daemon: when the process exits, Python first joins the action threads and
                # then this one, which writes what they left before it stops (see _run).
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

    def _run(self) -> None:
        backoff = 0.2
        while True:
            with self.ready:
                while not self.entries:
                    if not threading.main_thread().is_alive():
                        return  # the process is exiting and everything is written
                    self.ready.wait(0.5)
                batch, self.entries = self.entries, []
                self.writing = len(batch)
            try:
                write(batch)
                backoff = 0.2
                batch = []
            except (OperationalError, InterfaceError):
                # The database is unreachable (restarting, failing over): keep the batch, try again,
                # unless the process is exiting (a worker must not hang its shutdown on an outage:
                # the runs' leases bring them back, at least once).
                if not threading.main_thread().is_alive() and backoff >= 5.0:
                    logger.error(
                        "exiting with %d action results unwritten; their leases will re-run them", len(batch)
                    )
                    batch = []
                else:
                    logger.exception(
                        "could not write %d action results; retrying in %.1f s", len(batch), backoff
                    )
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            except Exception:
                logger.exception("writing %d action results failed; writing them one by one", len(batch))
                write_one_by_one(batch)
                batch = []
            finally:
                release_connection()
                with self.ready:
                    self.entries[:0] = batch  # what was not written goes first next time
                    self.writing = 0
                    self.ready.notify_all()


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


def write_one_by_one(batch: list[_Entry]) -> None:
    """After a batch failed for a reason other than the connection (one bad document, say): each
    entry in its own transaction, so one bad event loses only itself and the run rows still end."""
    for entry in batch:
        try:
            write([entry])
        except Exception:
            logger.exception("could not write an action result; its run row is updated without its event")
            if entry.outcome is not None:
                try:
                    with serialized_writes():
                        apply_outcomes([entry.outcome], timezone.now())
                except DatabaseError:
                    logger.exception("could not update action run %s", entry.outcome.run_pk)


journal = Journal()
