"""At least once under faults, on the scale-out profile (a PRIVATE PostgreSQL and Redis started for
each test, gunicorn and `qcluster` processes), while a client keeps enqueueing:

- the worker cluster SIGKILLed with runs in flight, then a new cluster started (the SQLite twin is
  tests/reliability/test_worker_crash.py): every accepted action delivered, the dead workers' runs
  recovered through their stopped heartbeats (the 5 m lease is not waited out);
- PostgreSQL, then Redis, down for longer than `runTimeout` (5 s here, outages of 8 s): nothing
  accepted is lost, the web answers 503 in Kibana's envelope meanwhile, the queue drains afterwards.
"""

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from benchmarks.sink import Sink
from tests.reliability.harness import EnqueueLoad, crash_figures, reconcile, wait_until
from tests.scaleout.conftest import SUPERUSER, Deployment
from tests.scaleout.private_services import PrivatePostgres, PrivateRedis
from tests.scaleout.test_service_restarts import _create_webhook, _running, _settled, _snapshot

logger = logging.getLogger(__name__)
pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(300)]

BASE_CONFIG = (
    'connectors.network.allowPrivateAddresses: ["127.0.0.0/8"]\n'
    "connectors.worker.concurrency: 8\n"
    "connectors.actions.pollInterval: 200ms\n"
    "connectors.actions.lostTaskGrace: 3s\n"
)
SINK_LATENCY_MS = 300
ACCEPTED_PER_PHASE = 40
OUTAGE_SECONDS = 8  # longer than the outage test's runTimeout


def _busy(sink) -> bool:
    """Warmed up, with calls at the service (a fresh worker process takes a second before its first)."""
    stats = sink.stats()
    return stats["deliveries"] >= 30 and stats["in_flight"] >= 3


def _stack(config: str):
    pg_dir = Path(tempfile.mkdtemp(prefix="connectors-private-pg-"))
    workdir = Path(tempfile.mkdtemp(prefix="connectors-crash-"))
    postgres = PrivatePostgres(pg_dir)
    redis = PrivateRedis(workdir)
    deployment = None
    sink = None
    try:
        postgres.init()
        postgres.start()
        redis.start()
        deployment = Deployment({"postgres": postgres.url, "redis": redis.url}, workdir)
        (workdir / "connectors.yml").write_text(BASE_CONFIG + config)
        deployment.create_database()
        deployment.manage("migrate", "--noinput")
        deployment.manage("bootstrap")
        sink = Sink(latency_ms=SINK_LATENCY_MS, track_path="id").__enter__()
        yield {"postgres": postgres, "redis": redis, "deployment": deployment, "sink": sink}
    finally:
        if deployment is not None:
            deployment.stop_all()
        if sink is not None:
            sink.stop()
        redis.stop()
        if postgres.running():
            postgres.stop("immediate")
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def crash_stack():
    yield from _stack("")  # runTimeout stays 5m: recovery must come from the heartbeats


@pytest.fixture
def outage_stack():
    yield from _stack("connectors.actions.runTimeout: 5s\n")


def _lost_runs(deployment, connector_id: str):
    class Run:
        def __init__(self, params, attempts):
            self.params, self.attempts = params, attempts

    return [
        Run(params, attempts)
        for params, attempts in deployment.sql(
            "SELECT params, attempts FROM actions_actionrun WHERE connector_id = %s AND lost > 0",
            (connector_id,),
        )
    ]


def _timeout_events(deployment, connector_id: str):
    class Timeout:
        def __init__(self, message):
            self.message = message

    return [
        Timeout(message)
        for (message,) in deployment.sql(
            "SELECT message FROM eventlog_event WHERE connector_id = %s AND action = 'execute-timeout'",
            (connector_id,),
        )
    ]


def test_a_worker_cluster_killed_with_runs_in_flight_loses_no_accepted_action_on_postgresql(crash_stack):
    deployment, sink = crash_stack["deployment"], crash_stack["sink"]
    web = deployment.start_web()
    first = deployment.start_cluster("first")
    connector_id = _create_webhook(web, sink.url + "/hook")
    load = EnqueueLoad(web, connector_id, SUPERUSER, threads=2).start()
    try:
        wait_until(lambda: load.accepted() >= ACCEPTED_PER_PHASE, 60, "the first accepted requests", [first])
        wait_until(lambda: _busy(sink), 30, "calls in flight at the service", [first])
        running_at_kill = _running(deployment)
        killed_at = time.monotonic()
        first.kill()
        second = deployment.start_cluster("second")
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 60, "accepted requests after the kill", [second])
    finally:
        load.stop()

    accepted = load.accepted()
    wait_until(
        lambda: _settled(deployment, connector_id, accepted, sink),
        max(5.0, 75 - (time.monotonic() - killed_at)),
        "every accepted action delivered after the crash",
        [second],
    )
    settled_after = time.monotonic() - killed_at
    time.sleep(1)
    figures = reconcile(load, _snapshot(deployment, connector_id, sink), recoveries_allowed=True)
    lost = _lost_runs(deployment, connector_id)
    figures.update(
        crash_figures(lost, _timeout_events(deployment, connector_id), sink, killed_at, SINK_LATENCY_MS),
        running_at_kill=running_at_kill,
        settled_after_kill_s=round(settled_after, 1),
    )
    logger.info("worker cluster crash under load (PostgreSQL + Redis): %s %s", figures, load.summary())
    assert lost, "the kill took no run with it: it did not happen under load"
    assert figures["lost_runs"] == figures["execute_timeout_events"]
    assert all(run.attempts == 1 for run in lost), "a lost run is not an attempt"


def _assert_503_in_the_envelope(load, snapshot) -> None:
    not_accepted = [o for o in load.outcomes if o.status is None or o.status >= 300]
    assert not_accepted, "no request failed: the outages did not happen under load"
    for outcome in not_accepted:
        if outcome.status is not None:
            assert outcome.status == 503, outcome
            assert json.loads(outcome.detail) == {
                "statusCode": 503,
                "error": "Service Unavailable",
                "message": "Service Unavailable",
            }
    answered_503 = {o.key for o in load.outcomes if o.status == 503}
    assert not answered_503 & set(snapshot.runs), sorted(answered_503 & set(snapshot.runs))[:10]


def test_postgresql_then_redis_down_for_longer_than_the_run_timeout_lose_nothing(outage_stack):
    postgres, redis = outage_stack["postgres"], outage_stack["redis"]
    deployment, sink = outage_stack["deployment"], outage_stack["sink"]
    web = deployment.start_web()
    cluster = deployment.start_cluster("outages")
    web_process = deployment.processes[0]
    connector_id = _create_webhook(web, sink.url + "/hook")
    load = EnqueueLoad(web, connector_id, SUPERUSER, threads=2).start()
    phases = {}
    try:
        wait_until(
            lambda: load.accepted() >= ACCEPTED_PER_PHASE, 60, "the first accepted requests", [cluster]
        )
        wait_until(lambda: _busy(sink), 30, "calls in flight at the service")
        phases["postgres_running_at_stop"] = _running(deployment)
        postgres.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        postgres.start()
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 90, "accepted requests after PostgreSQL came back")
        phases["after_postgres"] = load.summary()

        redis.kill()
        time.sleep(OUTAGE_SECONDS)
        redis.start()
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 90, "accepted requests after Redis came back")
    finally:
        load.stop()

    accepted = load.accepted()
    wait_until(
        lambda: _settled(deployment, connector_id, accepted, sink),
        90,
        "the queue drained",
        [cluster, web_process],
    )
    time.sleep(1)
    snapshot = _snapshot(deployment, connector_id, sink)
    figures = reconcile(load, snapshot, recoveries_allowed=True)
    logger.info("outages longer than runTimeout: %s %s phases=%s", figures, load.summary(), phases)
    _assert_503_in_the_envelope(load, snapshot)
    # The workers lived through both outages: their runs' leases ran out in the database meanwhile, but
    # they renew them (and write their heartbeats) before any poller may judge them, so nothing is
    # taken from a live worker and nothing runs twice. (Was: every run in flight at the stop ran
    # again.) A run claimed as the database stopped, before its worker read it back, is queued again
    # when its lease runs out: an `execute-timeout` event, but one delivery.
    assert figures["sink_duplicates"] == 0, figures
    assert figures["execute_success_events"] == figures["rows"], figures
    assert cluster.alive(), cluster.output()[-4000:]
    assert web_process.alive(), web_process.output()[-4000:]
