"""The worker cluster killed (SIGKILL to every process of it) while runs are in flight, under a steady
`POST …/_enqueue` stream, then a new cluster started; default profile (SQLite, django-q2's ORM broker).
The same scenario on PostgreSQL + Redis is in tests/scaleout/test_worker_crash_and_outages.py.

Promise: every accepted action is delivered; the runs the dead workers held are queued again as soon
as their workers' heartbeats have stopped for `lost_after()` (30 s with the default 5 m `runTimeout`,
which is kept here on purpose: recovery must not wait out the lease); each re-run is logged as an
`execute-timeout` event that says the worker was lost; a delivery is repeated only for a run its dead
worker held (in flight, or answered but not yet written by its journal)."""

import json
import logging
import os
import sys
import time

import pytest
import yaml
from django.db import connection

from actions.models import ActionRun
from benchmarks.sink import Sink
from eventlog.models import Event
from tests.reliability.harness import EnqueueLoad, Web, crash_figures, reconcile, wait_until
from tests.reliability.test_web_restart_under_load import USER, _snapshot, _webhook_to
from tests.scaleout.conftest import Process

logger = logging.getLogger(__name__)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SETTINGS = {
    "connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"],
    "connectors.actions.pollInterval": "200ms",
    "connectors.actions.lostTaskGrace": "3s",
    "connectors.worker.concurrency": 16,
    # runTimeout stays Kibana's 5m: the dead workers' runs must come back through their heartbeats.
}
ACCEPTED_BEFORE = 40
ACCEPTED_AFTER = 40
SINK_LATENCY_MS = 500  # keeps runs in flight at the kill
RECOVERY_BOUND = 75  # seconds from the kill: 30 s without heartbeat + 30 s of healthy polling + slack


@pytest.fixture
def stack(transactional_db, tmp_path, django_user_model):
    django_user_model.objects.create_superuser(USER[0], "", USER[1])
    config = tmp_path / "connectors.yml"
    config.write_text(yaml.safe_dump(SETTINGS))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "CONNECTORS_CONFIG": str(config),
        "CONNECTORS_WORKERS": "2",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    sink = Sink(latency_ms=SINK_LATENCY_MS, track_path="id").__enter__()
    web = Web(env, tmp_path, USER)
    clusters: list[Process] = []

    def start_cluster(name: str) -> Process:
        clusters.append(Process(name, [sys.executable, "manage.py", "qcluster"], env, tmp_path))
        return clusters[-1]

    try:
        yield {"web": web, "start_cluster": start_cluster, "sink": sink}
    finally:
        web.stop()
        for cluster in clusters:
            cluster.stop()
        sink.stop()


def _busy(sink) -> bool:
    """Warmed up, with calls at the service (a fresh worker process takes a second before its first)."""
    stats = sink.stats()
    return stats["deliveries"] >= 30 and stats["in_flight"] >= 3


def _running() -> int:
    return ActionRun.objects.filter(status="running").count()


def test_a_worker_cluster_killed_with_runs_in_flight_loses_no_accepted_action(stack):
    web, sink = stack["web"], stack["sink"]
    connector = _webhook_to(sink.url + "/hook")
    first = stack["start_cluster"]("qcluster-1")
    web.start()
    load = EnqueueLoad(web.url, connector.id, USER, threads=2).start()
    try:
        wait_until(lambda: load.accepted() >= ACCEPTED_BEFORE, 60, "the first accepted requests", [first])
        wait_until(lambda: _busy(sink), 30, "calls in flight at the service", [first])
        running_keys = {
            json.loads(params["body"])["id"]
            for params in ActionRun.objects.filter(status="running").values_list("params", flat=True)
        }
        killed_at = time.monotonic()
        first.kill()  # SIGKILL to the cluster's sentinel, workers and pusher
        arrived = sink.arrivals()
        second = stack["start_cluster"]("qcluster-2")
        target = load.accepted() + ACCEPTED_AFTER
        wait_until(lambda: load.accepted() >= target, 60, "accepted requests after the kill", [second])
    finally:
        load.stop()

    accepted = load.accepted()
    wait_until(
        lambda: (
            not ActionRun.objects.filter(connector_id=connector.id).exclude(status="succeeded").exists()
            and sink.stats()["distinct"] >= accepted
        ),
        max(5.0, RECOVERY_BOUND - (time.monotonic() - killed_at)),
        "every accepted action delivered after the crash",
        [second],
    )
    recovered_within = time.monotonic() - killed_at
    time.sleep(1)  # a late duplicate or a stray event would show within a poll interval or two
    figures = reconcile(load, _snapshot(connector.id, sink), recoveries_allowed=True)
    lost_runs = list(ActionRun.objects.filter(connector_id=connector.id, lost__gt=0))
    timeouts = list(Event.objects.filter(connector_id=connector.id, action="execute-timeout"))
    figures.update(
        crash_figures(lost_runs, timeouts, sink, killed_at, SINK_LATENCY_MS),
        running_at_kill=len(running_keys),
        running_at_kill_already_at_the_service=len(running_keys & set(arrived)),
        settled_after_kill_s=round(recovered_within, 1),
    )
    logger.info("worker cluster crash under load (SQLite): %s %s", figures, load.summary())
    assert lost_runs, "the kill took no run with it: it did not happen under load"
    assert figures["lost_runs"] == figures["execute_timeout_events"]
    assert all(run.attempts == 1 for run in lost_runs), "a lost run is not an attempt"
    assert "database is locked" not in second.output()
