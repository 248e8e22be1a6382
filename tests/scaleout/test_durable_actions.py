"""Durable background actions (`actions.services.enqueue` -> ActionRun rows -> django-q2 on Redis) on
PostgreSQL, with two real worker clusters sharing the queue: every action reaches the sink, none twice,
and the event log has one `execute` success per run. Then one cluster is killed with SIGKILL mid-batch
and the lease/poller recovery finishes every run (at least once)."""

import collections
import json
import subprocess
import sys
import time

import pytest

from benchmarks.sink import Sink
from tests.scaleout.conftest import ROOT

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(300)]

BASE_CONFIG = (
    'connectors.network.allowPrivateAddresses: ["127.0.0.0/8"]\n'
    "connectors.worker.concurrency: 8\n"
    "connectors.actions.pollInterval: 0.5s\n"
)
# A generous lease where nothing crashes (a slow run under load must not be taken for a dead one);
# a short lease and lost-task grace for the crash, so that recovery happens within the test's bounds.
STEADY_CONFIG = BASE_CONFIG + "connectors.actions.runTimeout: 60s\n"
CRASH_CONFIG = BASE_CONFIG + "connectors.actions.runTimeout: 4s\nconnectors.actions.lostTaskGrace: 3s\n"


def _configure(deployment, text: str) -> None:
    """The clusters read this file when they start."""
    (deployment.workdir / "connectors.yml").write_text(text)


@pytest.fixture
def sink_factory():
    """The receiving end (benchmarks/sink.py, its own process, concurrent latency): counts deliveries
    per message id (the `id` of the JSON body): `distinct` ids and `duplicates` (extra deliveries)."""
    started = []

    def start(latency_ms: float = 0) -> Sink:
        sink = Sink(latency_ms=latency_ms, track_path="id").__enter__()
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


def _create_connector(deployment, url: str) -> str:
    out = deployment.manage(
        "shell",
        "-c",
        "from connectors.models import Connector, Space\n"
        "c = Connector(space=Space.ensure_default(), name='durable sink', connector_type_id='.webhook',"
        f" config={{'url': {url!r}, 'method': 'post', 'hasAuth': False}})\n"
        "c.set_secrets({})\n"
        "c.save()\n"
        "print(c.id)\n",
    )
    return out.strip().splitlines()[-1]


def _enqueue(deployment, connector_id: str, keys: list[str]) -> dict[int, str]:
    """`actions.services.enqueue` for each key, from a process configured like the web.
    Returns {ActionRun id: execution uuid}."""
    script = (
        "import json, sys, django\n"
        "django.setup()\n"
        "from actions.services import enqueue\n"
        "connector_id, keys = json.load(sys.stdin)\n"
        "runs = [enqueue(connector_id, {'body': json.dumps({'id': key})}) for key in keys]\n"
        "print(json.dumps({run.pk: run.execution_uuid for run in runs}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=deployment.env,
        input=json.dumps([connector_id, keys]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, f"enqueue failed:\n{completed.stdout}\n{completed.stderr}"
    return {int(k): v for k, v in json.loads(completed.stdout.strip().splitlines()[-1]).items()}


def _run_statuses(deployment, run_ids) -> collections.Counter:
    rows = deployment.sql("SELECT status FROM actions_actionrun WHERE id = ANY(%s)", (list(run_ids),))
    return collections.Counter(row[0] for row in rows)


def _events_per_run(deployment, connector_id: str, action: str) -> collections.Counter:
    rows = deployment.sql(
        "SELECT document->'kibana'->'action'->'execution'->>'uuid', outcome FROM eventlog_event"
        " WHERE connector_id = %s AND action = %s",
        (connector_id, action),
    )
    return collections.Counter(rows)


def test_two_clusters_deliver_every_enqueued_action_once_with_one_execute_event_per_run(
    deployment, clusters, sink_factory
):
    total = 300
    _configure(deployment, STEADY_CONFIG)
    sink = sink_factory(0)
    connector_id = _create_connector(deployment, sink.url + "/hook")
    first = clusters.start("a")
    clusters.start("b")
    keys = [f"msg-{n}" for n in range(total)]
    runs = _enqueue(deployment, connector_id, keys)
    assert len(runs) == total

    deployment.wait_until(
        lambda: sink.stats()["distinct"] >= total, first, f"{total} deliveries", timeout=120
    )
    deployment.wait_until(
        lambda: _run_statuses(deployment, runs) == {"succeeded": total},
        None,
        "every ActionRun row succeeded",
        timeout=60,
    )
    time.sleep(1)  # a duplicate would arrive within a poll interval or two

    stats = sink.stats()
    assert stats["distinct"] == total  # every one (only these ids are ever sent)
    assert stats["duplicates"] == 0  # none twice
    assert stats["deliveries"] == total
    executes = _events_per_run(deployment, connector_id, "execute")
    assert executes == {(uuid, "success"): 1 for uuid in runs.values()}
    starts = _events_per_run(deployment, connector_id, "execute-start")
    assert sum(starts.values()) == total
    # django-q2's Redis queue is empty, and neither cluster died.
    assert deployment.redis().llen(deployment.queue_key) == 0
    assert all(process.alive() for process in deployment.processes)


def test_after_sigkill_of_one_cluster_mid_batch_every_action_is_delivered_and_every_run_finishes(
    deployment, clusters, sink_factory
):
    total = 400
    _configure(deployment, CRASH_CONFIG)
    sink = sink_factory(500)  # 16 runs in flight per cluster: ~30 deliveries/s each
    connector_id = _create_connector(deployment, sink.url + "/hook")
    keys = [f"crash-{n}" for n in range(total)]
    runs = _enqueue(deployment, connector_id, keys)  # waits in Redis until the clusters start
    doomed = clusters.start("doomed")
    survivor = clusters.start("survivor")

    deployment.wait_until(
        lambda: sink.stats()["deliveries"] >= 20, doomed, "the first deliveries", timeout=60
    )
    doomed.kill()
    delivered_at_kill = sink.stats()["distinct"]
    in_flight_at_kill = _run_statuses(deployment, runs)["running"]
    assert delivered_at_kill < total, "the batch finished before the kill; nothing was tested"
    assert in_flight_at_kill > 0

    deployment.wait_until(
        lambda: sink.stats()["distinct"] >= total,
        survivor,
        "every action delivered by the survivor",
        timeout=150,
    )
    deployment.wait_until(
        lambda: _run_statuses(deployment, runs) == {"succeeded": total},
        survivor,
        "every ActionRun row finished",
        timeout=60,
    )

    stats = sink.stats()
    assert stats["distinct"] == total  # at least once
    executes = _events_per_run(deployment, connector_id, "execute")
    assert {uuid for (uuid, outcome) in executes if outcome == "success"} == set(runs.values())
    # Runs the killed cluster held were recovered through their lease: one execute-timeout each.
    timeouts = _events_per_run(deployment, connector_id, "execute-timeout")
    assert sum(timeouts.values()) <= in_flight_at_kill + 8 * 2  # at most what it could hold
    assert stats["duplicates"] <= sum(timeouts.values()), (stats, timeouts)
