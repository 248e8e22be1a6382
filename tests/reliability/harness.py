"""Pieces the restart-under-load tests share: gunicorn started as `manage.py serve` starts it (bound to
127.0.0.1:PORT itself, so a restart reopens the same port), a client thread that drives a steady
stream of `POST .../_enqueue`, and the reconciliation of what the client was told against the
ActionRun rows, the event log and what the sink received.

Everything is read through public behaviour (HTTP answers, rows, events, the sink's counts), not
through the worker's internals, so the tests stay valid whatever the delivery machinery looks like.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from tests.scaleout.conftest import Process, gunicorn_command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Web:
    """gunicorn with serve.py's worker class (one worker, 4 threads to keep the test light)."""

    def __init__(self, env: dict, workdir: Path, auth: tuple[str, str]):
        self.env = env
        self.workdir = workdir
        self.auth = auth
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.generation = 0
        self.process: Process | None = None

    def start(self, timeout: float = 60) -> None:
        self.generation += 1
        command = gunicorn_command(f"127.0.0.1:{self.port}")
        self.process = Process(f"web-{self.generation}", command, self.env, self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise AssertionError(f"gunicorn exited at start:\n{self.process.output()[-4000:]}")
            try:
                probe = requests.get(f"{self.url}/api/actions/connector_types", auth=self.auth, timeout=2)
                if probe.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"gunicorn did not answer within {timeout:.0f} s:\n{self.process.output()[-4000:]}"
        )

    def terminate(self) -> int:
        """SIGTERM: gunicorn's graceful stop (in-flight requests finish, then it exits)."""
        return self.process.stop(timeout=20)

    def kill(self) -> None:
        """SIGKILL to gunicorn's master and worker: a crash with requests in flight."""
        self.process.kill()
        self.process.log.close()

    def stop(self) -> None:
        if self.process is not None and self.process.alive():
            self.process.stop()


@dataclass
class Outcome:
    key: str
    status: int | None  # None: no HTTP answer (connection refused, reset, timed out)
    detail: str = ""


class EnqueueLoad:
    """Client threads posting `_enqueue` for one connector, each request with a unique `id` in its
    webhook body. No retries: each request is sent exactly once, so its outcome is exact."""

    def __init__(self, url: str, connector_id: str, auth: tuple[str, str], *, threads: int = 1, pause=0.01):
        self.url = url
        self.connector_id = connector_id
        self.auth = auth
        self.pause = pause
        self.outcomes: list[Outcome] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), name=f"enqueue-load-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> EnqueueLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a load thread did not stop"

    def sent(self) -> int:
        return len(self.outcomes)

    def accepted(self) -> int:
        return sum(1 for o in list(self.outcomes) if o.status is not None and 200 <= o.status < 300)

    def in_flight(self) -> int:
        return self._in_flight

    def _run(self, thread_no: int) -> None:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(max_retries=0))
        path = f"{self.url}/api/actions/connector/{self.connector_id}/_enqueue"
        n = 0
        while not self._stop.is_set():
            key = f"load-{thread_no}-{n}"
            n += 1
            body = {"params": {"body": json.dumps({"id": key})}}
            with self._lock:
                self._in_flight += 1
            try:
                response = session.post(
                    path, json=body, auth=self.auth, headers={"kbn-xsrf": "true"}, timeout=10
                )
                outcome = Outcome(key, response.status_code, response.text[:300])
            except requests.RequestException as exc:
                outcome = Outcome(key, None, type(exc).__name__)
            with self._lock:
                self._in_flight -= 1
                self.outcomes.append(outcome)
            time.sleep(self.pause)

    def summary(self) -> dict:
        statuses = collections.Counter(
            o.status if o.status is not None else "no answer" for o in self.outcomes
        )
        return {"sent": len(self.outcomes), "statuses": dict(statuses)}


@dataclass
class Snapshot:
    """What the database and the sink say about one connector's runs: run key -> (status, uuid),
    `execute` events by (uuid, outcome), how many `execute-timeout` events (runs taken again after
    their lease ran out) there are, and the sink's per-key counts."""

    runs: dict[str, tuple[str, str]]
    executes: collections.Counter
    recovered: int
    sink: dict


def reconcile(load: EnqueueLoad, snapshot: Snapshot, *, recoveries_allowed: bool = False) -> dict:
    """Check the promises; return the figures for the report. `half_accepted` are requests that got
    no 2xx but whose row exists (committed before the answer was lost): each must be delivered too.

    Without recoveries every run has exactly one `execute` success and the sink no duplicate. With
    them (the database went away under running runs: their finish could not be written, so their
    lease ran out and they ran again), every extra success event and every duplicate delivery must
    be explained by an `execute-timeout` event: at least once, never silently more."""
    accepted = {o.key for o in load.outcomes if o.status is not None and 200 <= o.status < 300}
    refused = {o.key for o in load.outcomes if o.key not in accepted}
    rows = set(snapshot.runs)
    half_accepted = rows & refused
    assert accepted <= rows, f"accepted requests without a row: {sorted(accepted - rows)[:10]}"
    assert rows <= accepted | refused, f"rows for keys never sent: {sorted(rows - accepted - refused)[:10]}"
    statuses = collections.Counter(status for status, _uuid in snapshot.runs.values())
    assert statuses == {"succeeded": len(rows)}, statuses
    uuids = {uuid for _status, uuid in snapshot.runs.values()}
    successes = collections.Counter()
    for (uuid, outcome), count in snapshot.executes.items():
        if outcome == "success":
            successes[uuid] += count
    assert set(successes) == uuids, "every run has an execute success event, and no event is a stranger"
    extra_successes = sum(successes.values()) - len(uuids)
    assert snapshot.sink["distinct"] == len(rows), snapshot.sink  # every row's key, nothing else
    assert snapshot.sink["deliveries"] >= len(accepted)
    if recoveries_allowed:
        assert extra_successes <= snapshot.recovered, (extra_successes, snapshot.recovered)
        assert snapshot.sink["duplicates"] <= snapshot.recovered, (snapshot.sink, snapshot.recovered)
    else:
        assert extra_successes == 0 and snapshot.recovered == 0, (extra_successes, snapshot.recovered)
        assert snapshot.sink["duplicates"] == 0, snapshot.sink
    return {
        "sent": len(load.outcomes),
        "accepted": len(accepted),
        "not_accepted": len(refused),
        "half_accepted": len(half_accepted),
        "rows": len(rows),
        "succeeded": statuses["succeeded"],
        "execute_success_events": sum(successes.values()),
        "execute_timeout_events": snapshot.recovered,
        "sink_deliveries": snapshot.sink["deliveries"],
        "sink_duplicates": snapshot.sink["duplicates"],
    }


def wait_until(condition, timeout: float, what: str, processes=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for process in processes:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} exited while waiting for {what}:\n{process.output()[-4000:]}"
                )
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def crash_figures(lost_runs, timeout_events, sink, killed_at: float, latency_ms: float) -> dict:
    """After a worker crash: every re-run must say its worker was lost (none may wait out the lease),
    and each delivery repeated is split into "in flight at the kill" and "answered before the kill but
    not yet recorded" (the journal's window), with the largest such gap."""
    for event in timeout_events:
        assert "was lost (no heartbeat for" in event.message, event.message
    arrivals = sink.arrivals()
    answered_before = []
    for run in lost_runs:
        key = json.loads(run.params["body"])["id"]
        if key in arrivals and arrivals[key] + latency_ms / 1000 < killed_at:
            answered_before.append(killed_at - (arrivals[key] + latency_ms / 1000))
    return {
        "lost_runs": len(lost_runs),
        "execute_timeout_events": len(timeout_events),
        "answered_before_the_kill": len(answered_before),
        "largest_unrecorded_window_s": round(max(answered_before, default=0.0), 3),
    }
