"""Redis, then PostgreSQL, restarted while a client keeps enqueueing through gunicorn and a worker
cluster delivers (the scale-out profile, on a PRIVATE PostgreSQL and Redis started for this test).

Redis runs without persistence, so its restart drops whatever django-q2 had queued in it: those runs
must still be delivered (their rows are in PostgreSQL; the worker's poller takes queued rows nobody
handed over). PostgreSQL is restarted with `pg_ctl -m fast` (connections terminated). Afterwards every
accepted request has a row, every row succeeded, the sink got every one, and the event log agrees."""

import collections
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

from benchmarks.sink import Sink
from tests.reliability.harness import EnqueueLoad, Snapshot, reconcile, wait_until
from tests.scaleout.conftest import SUPERUSER, Deployment
from tests.scaleout.private_services import PrivatePostgres, PrivateRedis

logger = logging.getLogger(__name__)
pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(240)]

CONFIG = (
    'connectors.network.allowPrivateAddresses: ["127.0.0.0/8"]\n'
    "connectors.worker.concurrency: 8\n"
    "connectors.actions.pollInterval: 200ms\n"
    # A run whose finish could not be written (PostgreSQL was down) is taken again after its lease;
    # a row whose task was lost with Redis is taken by the poller after the grace.
    "connectors.actions.runTimeout: 5s\n"
    "connectors.actions.lostTaskGrace: 3s\n"
)
ACCEPTED_PER_PHASE = 40
DOWN_SECONDS = 2
SINK_LATENCY_MS = 300


@pytest.fixture
def private_stack():
    pg_dir = Path(tempfile.mkdtemp(prefix="connectors-private-pg-"))
    workdir = Path(tempfile.mkdtemp(prefix="connectors-restarts-"))
    postgres = PrivatePostgres(pg_dir)
    redis = PrivateRedis(workdir)
    deployment = None
    sink = None
    try:
        postgres.init()
        postgres.start()
        redis.start()
        deployment = Deployment({"postgres": postgres.url, "redis": redis.url}, workdir)
        (workdir / "connectors.yml").write_text(CONFIG)
        deployment.create_database()
        deployment.manage("migrate", "--noinput")
        deployment.manage("bootstrap")
        # A slow sink builds a backlog in Redis, so that its restart really loses queued tasks.
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


def _create_webhook(web: str, url: str) -> str:
    response = requests.post(
        f"{web}/api/actions/connector",
        auth=SUPERUSER,
        headers={"kbn-xsrf": "true"},
        json={
            "name": "restart sink",
            "connector_type_id": ".webhook",
            "config": {"url": url, "method": "post", "hasAuth": False},
            "secrets": {},
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _snapshot(deployment, connector_id: str, sink: Sink) -> Snapshot:
    runs = {
        json.loads(params["body"])["id"]: (status, uuid)
        for params, status, uuid in deployment.sql(
            "SELECT params, status, execution_uuid FROM actions_actionrun WHERE connector_id = %s",
            (connector_id,),
        )
    }
    executes = collections.Counter(
        deployment.sql(
            "SELECT execution_uuid, outcome FROM eventlog_event WHERE connector_id = %s AND action = 'execute'",
            (connector_id,),
        )
    )
    (recovered,) = deployment.sql(
        "SELECT count(*) FROM eventlog_event WHERE connector_id = %s AND action = 'execute-timeout'",
        (connector_id,),
    )[0]
    return Snapshot(runs=runs, executes=executes, recovered=recovered, sink=sink.stats())


def _running(deployment) -> int:
    return deployment.sql("SELECT count(*) FROM actions_actionrun WHERE status = 'running'")[0][0]


def _settled(deployment, connector_id: str, accepted: int, sink: Sink) -> bool:
    try:
        rows = dict(
            deployment.sql(
                "SELECT status, count(*) FROM actions_actionrun WHERE connector_id = %s GROUP BY status",
                (connector_id,),
            )
        )
    except Exception:
        return False
    return (
        set(rows) == {"succeeded"}
        and rows["succeeded"] >= accepted
        and sink.stats()["distinct"] >= rows["succeeded"]
    )


def test_restarting_redis_then_postgresql_under_load_delivers_every_accepted_action(private_stack):
    postgres, redis = private_stack["postgres"], private_stack["redis"]
    deployment, sink = private_stack["deployment"], private_stack["sink"]
    web = deployment.start_web()
    cluster = deployment.start_cluster("restarts")
    web_process = deployment.processes[0]
    connector_id = _create_webhook(web, sink.url + "/hook")
    load = EnqueueLoad(web, connector_id, SUPERUSER, threads=2).start()
    phases = {}
    try:
        wait_until(
            lambda: load.accepted() >= ACCEPTED_PER_PHASE, 30, "the first accepted requests", [cluster]
        )

        before = load.summary()
        wait_until(lambda: deployment.redis().llen(deployment.queue_key) >= 10, 30, "a backlog in Redis")
        lost_with_redis = deployment.redis().llen(deployment.queue_key)
        redis.kill()
        time.sleep(DOWN_SECONDS)
        redis.start()
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 60, "accepted requests after the Redis restart")
        phases["redis"] = (before, load.summary(), f"{lost_with_redis} tasks queued in Redis at the kill")

        before = load.summary()
        wait_until(lambda: _running(deployment) >= 3, 30, "runs in flight")
        running = _running(deployment)
        postgres.stop("fast")
        time.sleep(DOWN_SECONDS)
        postgres.start()
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 60, "accepted requests after the PostgreSQL restart")
        phases["postgres"] = (before, load.summary(), f"{running} runs running at the stop")
    finally:
        load.stop()

    accepted = load.accepted()
    wait_until(
        lambda: _settled(deployment, connector_id, accepted, sink),
        90,
        "every run delivered and succeeded",
        [cluster, web_process],
    )
    time.sleep(1)  # a late duplicate or a stray event would show within a poll interval or two
    snapshot = _snapshot(deployment, connector_id, sink)
    figures = reconcile(load, snapshot, recoveries_allowed=True)
    # A 503 is a rolled-back request: it left no row (only a lost answer can leave one).
    answered_503 = {o.key for o in load.outcomes if o.status == 503}
    assert not answered_503 & set(snapshot.runs), sorted(answered_503 & set(snapshot.runs))[:10]
    logger.info("redis and postgresql restarts under load: %s %s phases=%s", figures, load.summary(), phases)
    assert cluster.alive(), cluster.output()[-4000:]
    assert web_process.alive(), web_process.output()[-4000:]
    # During an outage the client hears 503 in Kibana's envelope (retry later), or nothing at all
    # (gunicorn itself is never down here, so that is rare); never a 500.
    not_accepted = [o for o in load.outcomes if o.status is None or o.status >= 300]
    assert not_accepted, "no request failed: the restarts did not happen under load"
    for outcome in not_accepted:
        if outcome.status is not None:
            assert outcome.status == 503, outcome
            assert json.loads(outcome.detail) == {
                "statusCode": 503,
                "error": "Service Unavailable",
                "message": "Service Unavailable",
            }
