"""The same code on PostgreSQL and django-q2's Redis broker, served by gunicorn, with real worker
clusters: migrations, the API, `_execute`, and tasks flowing through Redis to one or two clusters."""

import json

import pytest
import requests

from tests.scaleout.conftest import SUPERUSER

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(240)]

SECRET_MARKER = "scaleout-secret-3f9c1e7a"
TASK = "tests.scaleout.tasks.execute_connector"
LABELLED_TASK = "tests.scaleout.tasks.execute_connector_labelled"
HEADERS = {"kbn-xsrf": "true"}


def _create_webhook(web: str, url: str, name: str = "scale-out hook") -> dict:
    response = requests.post(
        f"{web}/api/actions/connector",
        auth=SUPERUSER,
        headers=HEADERS,
        json={
            "name": name,
            "connector_type_id": ".webhook",
            "config": {"url": url, "method": "post", "hasAuth": True},
            "secrets": {"user": "hook-user", "password": SECRET_MARKER},
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert SECRET_MARKER not in response.text
    return response.json()


def test_migrations_leave_nothing_unapplied_on_a_fresh_postgresql_database(deployment):
    tables = {row[0] for row in deployment.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {
        "connectors_connector",
        "connectors_space",
        "eventlog_event",
        "django_q_task",
        "django_q_ormq",
    } <= tables
    deployment.manage("migrate", "--check")  # exits non-zero when a migration is unapplied
    assert deployment.sql("SELECT id FROM connectors_space") == [("default",)]


def test_the_settings_pick_postgresql_with_health_checks_and_the_redis_broker(deployment):
    out = deployment.manage(
        "shell",
        "-c",
        "import json; from django.db import connection; from django_q.brokers import get_broker;"
        "connection.ensure_connection();"
        "print(json.dumps({'vendor': connection.vendor, 'health': connection.settings_dict['CONN_HEALTH_CHECKS'],"
        " 'max_age': connection.settings_dict['CONN_MAX_AGE'], 'broker': type(get_broker()).__name__,"
        " 'queue': get_broker().list_key}))",
    )
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts == {
        "vendor": "postgresql",
        "health": True,
        "max_age": 60,
        "broker": "Redis",
        "queue": deployment.queue_key,
    }


def test_gunicorn_on_postgresql_creates_lists_and_executes_a_webhook_connector(deployment, web, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    connector = _create_webhook(web, httpserver.url_for("/hook"))

    listed = requests.get(f"{web}/api/actions/connectors", auth=SUPERUSER, timeout=30)
    assert listed.status_code == 200
    assert connector["id"] in [item["id"] for item in listed.json()]
    assert SECRET_MARKER not in listed.text

    executed = requests.post(
        f"{web}/api/actions/connector/{connector['id']}/_execute",
        auth=SUPERUSER,
        headers=HEADERS,
        json={"params": {"body": '{"hello": "from gunicorn"}'}},
        timeout=30,
    )
    assert executed.status_code == 200, executed.text
    assert executed.json()["status"] == "ok"
    assert len(httpserver.log) == 1
    received, _ = httpserver.log[0]
    assert json.loads(received.get_data()) == {"hello": "from gunicorn"}
    assert received.authorization.username == "hook-user"
    assert received.authorization.password == SECRET_MARKER

    # The rows are in PostgreSQL: the sealed secrets hold no plaintext, the run is in the event log.
    sealed = deployment.sql(
        "SELECT secrets_sealed FROM connectors_connector WHERE id = %s", (connector["id"],)
    )
    assert sealed and SECRET_MARKER not in sealed[0][0]
    actions = sorted(
        row[0]
        for row in deployment.sql(
            "SELECT action FROM eventlog_event WHERE connector_id = %s", (connector["id"],)
        )
    )
    assert actions == ["execute", "execute-start"]
    documents = deployment.sql(
        "SELECT document::text FROM eventlog_event WHERE connector_id = %s", (connector["id"],)
    )
    assert all(SECRET_MARKER not in row[0] for row in documents)


def test_tasks_wait_in_redis_until_a_worker_cluster_runs_them_against_postgresql(
    deployment, web, clusters, httpserver
):
    httpserver.expect_request("/queued", method="POST").respond_with_json({"ok": True})
    connector = _create_webhook(web, httpserver.url_for("/queued"), name="queued hook")
    redis = deployment.redis()
    redis.delete(deployment.queue_key)

    calls = [[connector["id"], {"body": json.dumps({"n": n})}] for n in range(5)]
    task_ids = deployment.enqueue(TASK, calls)

    # No cluster runs yet: the five tasks sit in the Redis list, none in the database queue.
    assert redis.llen(deployment.queue_key) == 5
    assert deployment.sql("SELECT count(*) FROM django_q_ormq") == [(0,)]
    assert all(
        SECRET_MARKER not in payload.decode("latin-1")
        for payload in redis.lrange(deployment.queue_key, 0, -1)
    )

    cluster = clusters.start("only")
    deployment.wait_until(lambda: len(httpserver.log) >= 5, cluster, "five webhook deliveries", timeout=60)

    assert redis.llen(deployment.queue_key) == 0
    assert sorted(json.loads(request.get_data())["n"] for request, _ in httpserver.log) == [0, 1, 2, 3, 4]
    deployment.wait_until(
        lambda: len(_execute_events(deployment, connector["id"])) == 5,
        cluster,
        "five execute events",
        timeout=30,
    )
    assert _execute_events(deployment, connector["id"]) == [("background_task", "success")] * 5
    # Successful task results are not stored (save_limit -1): the event log is the record.
    assert deployment.sql("SELECT count(*) FROM django_q_task WHERE id = ANY(%s)", (task_ids,)) == [(0,)]
    assert SECRET_MARKER not in cluster.output()


def _execute_events(deployment, connector_id: str) -> list[tuple]:
    return deployment.sql(
        "SELECT source, outcome FROM eventlog_event WHERE connector_id = %s AND action = 'execute'",
        (connector_id,),
    )


def test_two_worker_clusters_sharing_the_redis_queue_run_every_task_once(
    deployment, web, clusters, httpserver
):
    """django-q2's Redis list hands each task to exactly one cluster. (The same property for durable
    execution rows, through `actions.services.enqueue`, belongs with the rules issue's tests.)"""
    total = 120
    httpserver.expect_request("/shared", method="POST").respond_with_json({"ok": True})
    connector = _create_webhook(web, httpserver.url_for("/shared"), name="shared queue hook")
    first = clusters.start("a")
    clusters.start("b")
    calls = [[connector["id"], {"body": json.dumps({"key": f"task-{n}"})}] for n in range(total)]
    deployment.enqueue(LABELLED_TASK, calls)
    deployment.wait_until(lambda: len(httpserver.log) >= total, first, f"{total} deliveries", timeout=90)
    deployment.wait_until(
        lambda: len(_execute_events(deployment, connector["id"])) >= total,
        None,
        "every execute event",
        timeout=30,
    )

    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    keys = [body["key"] for body in bodies]
    assert len(keys) == total
    assert sorted(set(keys)) == sorted(f"task-{n}" for n in range(total))  # every one, none twice
    by_cluster = {label: sum(1 for body in bodies if body["cluster"] == label) for label in ("a", "b")}
    assert by_cluster["a"] > 0 and by_cluster["b"] > 0, by_cluster
    assert by_cluster["a"] + by_cluster["b"] == total
    assert deployment.redis().llen(deployment.queue_key) == 0
    assert len(_execute_events(deployment, connector["id"])) == total


def _terminate_backends(deployment) -> int:
    rows = deployment.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (deployment.database,),
    )
    return sum(1 for row in rows if row[0])


def test_the_web_and_a_cluster_reconnect_after_postgresql_drops_their_connections(
    deployment, web, clusters, httpserver
):
    httpserver.expect_request("/after-drop", method="POST").respond_with_json({"ok": True})
    connector = _create_webhook(web, httpserver.url_for("/after-drop"), name="survives a drop")
    cluster = clusters.start("reconnects")
    deployment.enqueue(TASK, [[connector["id"], {"body": '{"n": "before"}'}]])
    deployment.wait_until(lambda: len(httpserver.log) == 1, cluster, "the first delivery", timeout=60)
    for _ in range(4):  # open persistent connections in the web's threads
        assert requests.get(f"{web}/api/actions/connector/{connector['id']}", auth=SUPERUSER, timeout=30).ok

    assert _terminate_backends(deployment) >= 1  # what a PostgreSQL restart or failover does to them

    for _ in range(4):
        response = requests.get(f"{web}/api/actions/connector/{connector['id']}", auth=SUPERUSER, timeout=30)
        assert response.status_code == 200, response.text
    deployment.enqueue(TASK, [[connector["id"], {"body": '{"n": "after"}'}]])
    deployment.wait_until(
        lambda: len(httpserver.log) == 2, cluster, "the delivery after the drop", timeout=60
    )
    assert [json.loads(request.get_data())["n"] for request, _ in httpserver.log] == ["before", "after"]


def test_a_cluster_stopped_with_sigterm_finishes_what_it_took_and_leaves_the_rest_in_redis(
    deployment, web, clusters, httpserver
):
    """The upgrade procedure in docs/deploy.md relies on this: stopping workers loses no task."""
    import time

    total = 24

    def slow(request):
        time.sleep(0.2)
        from werkzeug import Response

        return Response('{"ok": true}', content_type="application/json")

    httpserver.expect_request("/graceful", method="POST").respond_with_handler(slow)
    connector = _create_webhook(web, httpserver.url_for("/graceful"), name="graceful stop")
    redis = deployment.redis()
    stopping = clusters.start("stopping")
    deployment.enqueue(
        LABELLED_TASK, [[connector["id"], {"body": json.dumps({"key": n})}] for n in range(total)]
    )
    deployment.wait_until(lambda: len(httpserver.log) >= 3, stopping, "the first deliveries", timeout=60)
    assert stopping.stop(timeout=60) == 0  # SIGTERM; the cluster exits on its own, not killed
    delivered_before = len(httpserver.log)
    left_in_redis = redis.llen(deployment.queue_key)
    assert 0 < delivered_before < total
    assert delivered_before + left_in_redis == total, (delivered_before, left_in_redis)

    clusters.start("after")
    deployment.wait_until(lambda: len(httpserver.log) >= total, None, "every delivery", timeout=90)
    keys = [json.loads(request.get_data())["key"] for request, _ in httpserver.log]
    assert sorted(keys) == list(range(total))


ROLLUP_RACE = """
import threading
from django.db import connection, transaction
from eventlog.metrics import advance_rollup
from eventlog.models import RunRollup
from eventlog.services import build_event

def execute_event(label):
    return build_event({"event": {"action": "execute", "outcome": "success", "duration": "1000"},
                        "kibana": {"action": {"id": label, "type_id": ".rollup-race"}}, "message": label})

inserted, release, folded = threading.Event(), threading.Event(), []

def slow_writer():  # takes its id first and commits last
    with transaction.atomic():
        execute_event("first").save()
        inserted.set()
        release.wait(30)
    connection.close()

def scrape():
    folded.append(advance_rollup())
    connection.close()

writer = threading.Thread(target=slow_writer); writer.start()
inserted.wait(30)
execute_event("second").save()  # a higher id, committed at once
scraper = threading.Thread(target=scrape); scraper.start()
scraper.join(1.0)
print("scrape waited for the writer:", scraper.is_alive())
release.set(); writer.join(); scraper.join(30)
advance_rollup()
print("runs counted:", sum(RunRollup.objects.filter(connector_type_id=".rollup-race").values_list("runs", flat=True)))
"""


def test_the_metrics_rollup_counts_an_event_committed_after_a_higher_id(deployment):
    output = deployment.manage("shell", "-c", ROLLUP_RACE, timeout=90)
    assert "scrape waited for the writer: True" in output
    assert "runs counted: 2" in output
