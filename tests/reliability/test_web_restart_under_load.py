"""The web process restarted while a client keeps enqueueing: first a graceful stop (SIGTERM), then a
crash (SIGKILL), each followed by a restart on the same port, on the default profile (`make run`:
SQLite, django-q2's ORM broker, a worker cluster in its own process).

Promise: every request answered 2xx has exactly one ActionRun row, the row succeeds, the sink gets it
at least once and the event log holds one `execute` success for it. A request that got no 2xx (refused
connection, reset, 5xx) either left no row, or left a row that is delivered like any other: the row
and its task commit in one transaction before the answer is written, so a crash between the commit
and the answer is the only way to get one, and it is then an ordinary queued run."""

import collections
import json
import logging
import os
import sys

import pytest
import yaml
from django.db import connection

from actions.models import ActionRun
from benchmarks.sink import Sink
from connectors.models import Connector, Space
from eventlog.models import Event
from tests.reliability.harness import EnqueueLoad, Snapshot, Web, reconcile, wait_until
from tests.scaleout.conftest import Process

logger = logging.getLogger(__name__)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

USER = ("restart-admin", "restart-password-1")
SETTINGS = {
    "connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"],
    "connectors.actions.pollInterval": "200ms",
    "connectors.actions.lostTaskGrace": "3s",
    # Generous: nothing here kills a worker, and a slow run under load must not look like a dead one.
    "connectors.actions.runTimeout": "30s",
}
ACCEPTED_PER_PHASE = 40


@pytest.fixture
def stack(transactional_db, tmp_path, django_user_model):
    """The web (not started yet), a running cluster and a sink, all on this test's SQLite database."""
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
    sink = Sink(latency_ms=0, track_path="id").__enter__()
    cluster = Process("qcluster", [sys.executable, "manage.py", "qcluster"], env, tmp_path)
    web = Web(env, tmp_path, USER)
    try:
        yield {"web": web, "cluster": cluster, "sink": sink, "logs": tmp_path}
    finally:
        web.stop()
        cluster.stop()
        sink.stop()


def _webhook_to(url: str) -> Connector:
    connector = Connector(
        space=Space.ensure_default(),
        name="restart sink",
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": False},
    )
    connector.set_secrets({})
    connector.save()
    return connector


def _snapshot(connector_id: str, sink: Sink) -> Snapshot:
    runs = {
        json.loads(run.params["body"])["id"]: (run.status, run.execution_uuid)
        for run in ActionRun.objects.filter(connector_id=connector_id)
    }
    executes = collections.Counter(
        Event.objects.filter(connector_id=connector_id, action="execute").values_list(
            "execution_uuid", "outcome"
        )
    )
    recovered = Event.objects.filter(connector_id=connector_id, action="execute-timeout").count()
    return Snapshot(runs=runs, executes=executes, recovered=recovered, sink=sink.stats())


def test_restarting_the_web_under_load_loses_no_accepted_request_and_half_accepts_none_silently(stack):
    web, cluster, sink = stack["web"], stack["cluster"], stack["sink"]
    connector = _webhook_to(sink.url + "/hook")
    web.start()
    load = EnqueueLoad(web.url, connector.id, USER, threads=3).start()
    try:
        wait_until(
            lambda: load.accepted() >= ACCEPTED_PER_PHASE, 30, "the first accepted requests", [cluster]
        )

        assert web.terminate() == 0  # SIGTERM: gunicorn's graceful stop, while the client keeps sending
        sent_while_down = load.sent()
        web.start()
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 30, "accepted requests after the graceful restart")
        refused_by_the_stop = load.sent() - sent_while_down

        wait_until(lambda: load.in_flight() >= 2, 10, "requests in flight")
        web.kill()  # SIGKILL with requests in flight
        web.start()
        target = load.accepted() + ACCEPTED_PER_PHASE
        wait_until(lambda: load.accepted() >= target, 30, "accepted requests after the crash restart")
    finally:
        load.stop()

    not_answered = [o for o in load.outcomes if o.status is None or o.status >= 300]
    assert not_answered, "no request failed: the restarts did not happen under load"
    assert refused_by_the_stop > 0
    assert all(o.status in (None, 502, 503) for o in not_answered), [
        (o.status, o.detail) for o in not_answered if o.status not in (None, 502, 503)
    ]

    accepted = load.accepted()
    wait_until(
        lambda: (
            ActionRun.objects.filter(connector_id=connector.id).exclude(status="succeeded").count() == 0
            and ActionRun.objects.filter(connector_id=connector.id).count() >= accepted
            and sink.stats()["distinct"] >= accepted
        ),
        60,
        "every run delivered and succeeded",
        [cluster],
    )
    figures = reconcile(load, _snapshot(connector.id, sink))
    logger.info("web restart under load: %s %s", figures, load.summary())  # --log-cli-level=INFO shows it
    assert figures["accepted"] == accepted
    assert cluster.alive(), cluster.output()[-4000:]
    assert "database is locked" not in cluster.output()


def test_the_reconciliation_fails_when_an_accepted_request_has_no_row():
    """reconcile() is what the test above relies on: a 2xx without a row must fail it."""
    from tests.reliability.harness import Outcome

    load = EnqueueLoad("http://127.0.0.1:9", "c", USER)
    load.outcomes = [Outcome("a", 202), Outcome("b", 202)]

    snapshot = Snapshot(
        runs={"a": ("succeeded", "u1")},
        executes=collections.Counter({("u1", "success"): 1}),
        recovered=0,
        sink={"distinct": 1, "deliveries": 1, "duplicates": 0},
    )
    with pytest.raises(AssertionError, match="accepted requests without a row"):
        reconcile(load, snapshot)
