"""End to end with a real django-q2 cluster (not sync mode) and real local HTTP servers."""

import json
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient
from werkzeug import Response

from actions.models import ActionRun, Rule
from connectors.models import Space
from eventlog.models import Event
from tests.actions.conftest import wait_for
from tests.actions.helpers import SECRET, add_documents, make_webhook, threshold_rule_body
from tests.conftest import basic_auth

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def space(transactional_db):
    return Space.ensure_default()


@pytest.fixture
def client(transactional_db, space, django_user_model):
    django_user_model.objects.create_superuser("elastic", "", "changeme-please")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=basic_auth("elastic", "changeme-please"), HTTP_KBN_XSRF="true")
    return api


def create(client, body):
    response = client.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 200, response.json()
    return Rule.objects.get(pk=response.json()["id"])


def test_a_rule_fires_and_the_cluster_delivers_the_rendered_body(cluster, client, space, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hook = make_webhook(space, httpserver.url_for("/hook"))
    add_documents("metrics", [{"host": "a"}] * 3)
    cluster.start()
    rule = create(client, threshold_rule_body(hook.id))

    wait_for(lambda: httpserver.log, 30, message="the webhook delivery")
    body = json.loads(httpserver.log[0][0].get_data(as_text=True))
    assert body["rule"] == "cpu high"
    assert body["text"].startswith("alert 'cpu high' is active for group 'all documents':")
    rule.refresh_from_db()
    assert rule.execution_status["status"] == "active"
    run = wait_for(
        lambda: ActionRun.objects.filter(status="succeeded").first(), 10, message="the run to finish"
    )
    assert run.rule_id == rule.id
    assert "database is locked" not in cluster.log_text()
    assert SECRET not in cluster.log_text()


def test_each_frequency_mode_over_several_runs(cluster, client, space, httpserver):
    for path in ("/active", "/change", "/throttle", "/summary"):
        httpserver.expect_request(path).respond_with_data("ok")
    add_documents("metrics", [{"host": "a"}] * 3)
    hooks = {
        p: make_webhook(space, httpserver.url_for(f"/{p}"), name=p)
        for p in ("active", "change", "throttle", "summary")
    }
    modes = {
        "active": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
        "change": {"summary": False, "notify_when": "onActionGroupChange", "throttle": None},
        "throttle": {"summary": False, "notify_when": "onThrottleInterval", "throttle": "3s"},
        "summary": {"summary": True, "notify_when": "onActiveAlert", "throttle": None},
    }
    body = threshold_rule_body(hooks["active"].id)
    body["schedule"] = {"interval": "1s"}
    body["actions"] = [
        {"group": "threshold met", "id": hooks[name].id, "params": {"body": name}, "frequency": frequency}
        for name, frequency in modes.items()
    ]
    cluster.start()
    create(client, body)
    # Count from the first run on (a loaded machine may take a while to spawn the workers).
    wait_for(lambda: any(r.path == "/change" for r, _ in httpserver.log), 30, message="the first run")
    time.sleep(6.5)

    counts = {name: sum(1 for r, _ in httpserver.log if r.path == f"/{name}") for name in modes}
    assert counts["active"] >= 4
    assert counts["summary"] >= 4
    assert counts["change"] == 1
    assert 2 <= counts["throttle"] <= 3


def test_an_action_is_retried_until_the_server_succeeds(cluster, client, space, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    hook = make_webhook(space, httpserver.url_for("/hook"))
    cluster.start()
    response = client.post(
        f"/api/actions/connector/{hook.id}/_enqueue", {"params": {"body": "hi"}}, format="json"
    )
    assert response.status_code == 202
    run_id = int(response.json()["id"])

    run = wait_for(
        lambda: ActionRun.objects.filter(pk=run_id, status="succeeded").first(),
        30,
        message="the third attempt",
    )
    assert run.attempts == 3
    assert [r.get_data(as_text=True) for r, _ in httpserver.log] == ["hi", "hi", "hi"]
    outcomes = list(
        Event.objects.filter(action="execute", provider="actions")
        .order_by("id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == ["failure", "failure", "success"]


def test_a_deleted_connector_fails_the_rule_run(cluster, client, space, httpserver):
    hook = make_webhook(space, httpserver.url_for("/hook"))
    add_documents("metrics", [{}] * 3)
    body = threshold_rule_body(hook.id, enabled=False)
    rule = create(client, body)
    hook_id = hook.id
    hook.delete()
    cluster.start()
    assert client.post(f"/api/alerting/rule/{rule.id}/_enable").status_code == 204

    def failed():
        rule.refresh_from_db()
        return rule.execution_status.get("status") == "error"

    wait_for(failed, 30, message="the rule run to fail")
    assert rule.execution_status["error"]["message"] == f"Saved object [action/{hook_id}] not found"
    assert rule.last_run["outcome"] == "failed"
    assert httpserver.log == []


def test_a_connector_missing_secrets_fails_the_rule_run(cluster, client, space, httpserver):
    hook = make_webhook(space, httpserver.url_for("/hook"), name="Imported")
    add_documents("metrics", [{}] * 3)
    rule = create(client, threshold_rule_body(hook.id))
    hook.is_missing_secrets = True
    hook.save()
    cluster.start()

    def failed():
        rule.refresh_from_db()
        return rule.execution_status.get("status") == "error"

    wait_for(failed, 30, message="the rule run to fail")
    assert rule.execution_status["error"]["message"] == (
        'Unable to execute action because no secrets are defined for the "Imported" connector.'
    )


def test_the_queue_limit_stops_excess_actions(cluster, client, space, httpserver):
    release = threading.Event()

    def slow(request):
        release.wait(10)
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    hook = make_webhook(space, httpserver.url_for("/hook"))
    add_documents("metrics", [{"host": h} for h in "abcde"])
    cluster.start({"xpack.actions.queued.max": 2})
    rule = create(client, threshold_rule_body(hook.id, group_by="host", threshold=0))

    def warned():
        rule.refresh_from_db()
        return rule.execution_status.get("status") == "warning"

    wait_for(warned, 30, message="the maxQueuedActions warning")
    release.set()
    assert rule.execution_status["warning"]["reason"] == "maxQueuedActions"
    assert ActionRun.objects.count() == 2


def test_a_killed_worker_is_followed_by_delivery(cluster, client, space, httpserver):
    arrived = threading.Event()
    calls = []

    def handler(request):
        calls.append(time.monotonic())
        arrived.set()
        if len(calls) == 1:
            time.sleep(2)  # the first delivery is in flight when the cluster is killed
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(handler)
    hook = make_webhook(space, httpserver.url_for("/hook"))
    first = cluster.start()
    response = client.post(
        f"/api/actions/connector/{hook.id}/_enqueue", {"params": {"body": "x"}}, format="json"
    )
    run_id = int(response.json()["id"])
    assert arrived.wait(30), "the first delivery never started"
    cluster.kill(first)
    assert ActionRun.objects.get(pk=run_id).status == "running"

    cluster.start()
    run = wait_for(
        lambda: ActionRun.objects.filter(pk=run_id, status="succeeded").first(),
        40,
        message="delivery after the kill",
    )
    assert len(calls) >= 2
    assert run.attempts == 1 and run.lost == 1  # the killed worker's try is not counted as an attempt
    assert Event.objects.filter(action="execute-timeout", connector_id=hook.id).exists()


def test_web_and_workers_write_concurrently_without_database_locks(cluster, client, space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook = make_webhook(space, httpserver.url_for("/hook"))
    cluster.start(workers=2)
    total, threads = 240, 4
    statuses: list[int] = []

    def post_many(count):
        try:
            enqueue_many(count)
        finally:
            connection.close()

    def enqueue_many(count):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=basic_auth("elastic", "changeme-please"), HTTP_KBN_XSRF="true")
        for i in range(count):
            response = api.post(
                f"/api/actions/connector/{hook.id}/_enqueue", {"params": {"body": str(i)}}, format="json"
            )
            statuses.append(response.status_code)
            if i % 20 == 0:
                api.get("/api/alerting/rules/_find")

    workers = [threading.Thread(target=post_many, args=(total // threads,)) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)

    assert statuses == [202] * total
    wait_for(
        lambda: ActionRun.objects.filter(status="succeeded").count() == total,
        60,
        message="all runs delivered",
    )
    assert len(httpserver.log) == total
    assert "database is locked" not in cluster.log_text()


def test_a_pending_retry_survives_a_restart_of_the_cluster(cluster, client, space, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    hook = make_webhook(space, httpserver.url_for("/hook"))
    first = cluster.start({"connectors.actions.firstRetryDelay": "4s"})
    response = client.post(
        f"/api/actions/connector/{hook.id}/_enqueue", {"params": {"body": "x"}}, format="json"
    )
    run_id = int(response.json()["id"])
    wait_for(
        lambda: ActionRun.objects.filter(pk=run_id, status="queued", attempts=1).exists(),
        30,
        message="a failure",
    )
    first.send_signal(15)
    first.wait(timeout=20)
    assert len(httpserver.log) == 1

    cluster.start({"connectors.actions.firstRetryDelay": "4s"})
    run = wait_for(
        lambda: ActionRun.objects.filter(pk=run_id, status="succeeded").first(), 30, message="the retry"
    )
    assert run.attempts == 2 and len(httpserver.log) == 2


def test_a_stopped_cluster_finishes_and_records_the_runs_it_claimed(cluster, space, httpserver):
    import signal

    from actions.services import enqueue

    calls = []

    def slow(request):
        calls.append(request.get_data(as_text=True))
        time.sleep(0.1)  # pytest-httpserver answers one request at a time
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    hook = make_webhook(space, httpserver.url_for("/slow"))
    first = cluster.start({"connectors.actions.runTimeout": "60s"})  # no lease expires in this test
    runs = [enqueue(hook.id, {"body": str(i)}).pk for i in range(20)]
    wait_for(lambda: calls, 30, interval=0.02, message="the first delivery")

    first.send_signal(signal.SIGTERM)  # a graceful stop while deliveries are in flight
    first.wait(timeout=60)

    rows = ActionRun.objects.filter(pk__in=runs)
    assert not rows.filter(status="running").exists(), "a claimed run was left behind"
    done = set(rows.filter(status="succeeded").values_list("execution_uuid", flat=True))
    logged = set(
        Event.objects.filter(action="execute", outcome="success").values_list("execution_uuid", flat=True)
    )
    assert done and logged == done  # each finished run was written together with its event
    assert len(calls) == len(done)

    cluster.start({"connectors.actions.runTimeout": "60s"})
    wait_for(lambda: rows.filter(status="succeeded").count() == 20, 60, message="the rest after a restart")
    assert sorted(calls, key=int) == [str(i) for i in range(20)]  # each delivered exactly once
    assert Event.objects.filter(action="execute", outcome="success").count() == 20


def test_each_worker_process_reports_its_polls_to_the_health_api(cluster, client):
    from actions.models import WorkerHeartbeat

    cluster.start(workers=2)
    wait_for(lambda: WorkerHeartbeat.objects.count() >= 2, 30, message="a heartbeat from each worker")

    polling = client.get("/api/task_manager/_health").json()["stats"]["runtime"]["value"]["polling"]
    assert set(polling["duration"]) == {"p50", "p90", "p95", "p99"}
    assert sum(polling["result_frequency_percent_as_number"].values()) in (99, 100, 101)  # rounding
    assert polling["last_successful_poll"] is not None
