"""The worker's batched path: claims in chunks, the journal's writes, the hand-off's shared tasks and
the queue-limit estimate. Runs go to a real local HTTP server; the journal and hand-off threads use
their own database connections, hence `transactional_db`."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions import queue, worker
from actions.journal import Outcome, journal
from actions.models import ActionRun
from actions.services import enqueue
from eventlog.models import Event
from tests.actions.helpers import make_webhook


@pytest.fixture
def space(transactional_db):
    from connectors.models import Space

    return Space.ensure_default()


@pytest.fixture
def hook(space, httpserver, kibana_settings):
    kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"]})
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return make_webhook(space, httpserver.url_for("/hook"))


def queued_runs(connector, count: int) -> list[int]:
    runs = ActionRun.objects.bulk_create(
        [
            queue.new_run(connector, {"body": f"n{i}"}, space_id="default", source="background_task")
            for i in range(count)
        ]
    )
    return [run.pk for run in runs]


def test_a_batch_writes_each_execute_event_together_with_its_run_row(hook, httpserver):
    ids = queued_runs(hook, 30)

    assert worker.dispatch(ids) == 30
    assert worker.flush()

    runs = ActionRun.objects.filter(pk__in=ids)
    assert {run.status for run in runs} == {"succeeded"}
    executes = Event.objects.filter(action="execute", outcome="success")
    assert sorted(executes.values_list("execution_uuid", flat=True)) == sorted(r.execution_uuid for r in runs)
    assert Event.objects.filter(action="execute-start").count() == 30
    assert len(httpserver.log) == 30
    hook.refresh_from_db()
    assert hook.last_outcome == "success" and hook.last_run_at is not None


def test_a_failed_batch_run_is_queued_again_with_its_error(space, httpserver, kibana_settings):
    kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"]})
    httpserver.expect_request("/down", method="POST").respond_with_data("busy", status=503)
    connector = make_webhook(space, httpserver.url_for("/down"))
    (run_id,) = queued_runs(connector, 1)

    worker.dispatch([run_id])
    assert worker.flush()

    run = ActionRun.objects.get(pk=run_id)
    assert run.status == "queued" and run.attempts == 1 and run.claim == ""
    assert "503" in run.last_error
    failure = Event.objects.get(action="execute")
    assert (
        failure.outcome == "failure" and failure.document["kibana"]["action"]["execution"]["final"] is False
    )
    connector.refresh_from_db()
    assert connector.last_outcome == "failure"


def test_runs_already_taken_are_not_started_twice(hook, httpserver):
    ids = queued_runs(hook, 3)
    assert worker.claim(ids[0]) is not None  # another process holds this one

    assert worker.dispatch(ids) == 2
    assert worker.flush()
    assert len(httpserver.log) == 2


def test_a_document_the_database_cannot_store_loses_only_its_own_event(hook):
    first, second = queued_runs(hook, 2)
    token_first, token_second = worker.claim(first), worker.claim(second)
    unstorable = {"event": {"action": "execute", "outcome": "success"}, "kibana": {}, "bad": object()}
    fine = {"event": {"action": "execute", "outcome": "success"}, "kibana": {}, "message": "kept"}

    journal.add(unstorable, Outcome(first, token_first, True, "", final=True))
    journal.add(fine, Outcome(second, token_second, True, "", final=True))
    assert journal.flush()

    assert set(ActionRun.objects.values_list("status", flat=True)) == {"succeeded"}
    assert list(Event.objects.values_list("message", flat=True)) == ["kept"]


def test_concurrent_enqueues_share_django_q2_tasks(hook, settings):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": "default"}
    created: list[int] = []

    def application_thread():
        try:
            for i in range(10):
                created.append(enqueue(hook.id, {"body": str(i)}).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=application_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def carried():
        ids = []
        for row in OrmQ.objects.all():
            ids.extend(SignedPackage.loads(row.payload)["args"][0])
        return ids

    from tests.actions.conftest import wait_for

    wait_for(lambda: len(carried()) == 40, timeout=10, message="every run id handed to django-q2")
    assert sorted(carried()) == sorted(created)
    assert OrmQ.objects.count() < 40  # ids gathered within the hand-off window travel together


def test_far_below_the_limit_the_queue_is_counted_once_a_second(hook, monkeypatch):
    monkeypatch.setattr(queue, "_estimate", queue._PendingEstimate())

    with CaptureQueriesContext(connection) as queries:
        for i in range(20):
            enqueue(hook.id, {"body": str(i)})

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1


def test_near_the_limit_every_enqueue_counts_exactly(hook, kibana_settings, monkeypatch):
    monkeypatch.setattr(queue, "_estimate", queue._PendingEstimate())
    kibana_settings.set(
        {
            "connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"],
            "xpack.actions.queued.max": 3,
        }
    )
    from actions.services import QueueFull

    for i in range(3):
        enqueue(hook.id, {"body": str(i)})
    with pytest.raises(QueueFull):
        enqueue(hook.id, {"body": "over"})
    ActionRun.objects.filter(status="queued").update(status="succeeded")
    enqueue(hook.id, {"body": "room again"})  # the count is taken again, not carried over


def test_a_preconfigured_connector_runs_from_every_space_in_one_batch(space, httpserver, kibana_settings):
    from connectors.models import Space
    from connectors.preconfigured import get_preconfigured

    kibana_settings.set(
        {
            "connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"],
            "xpack.actions.preconfigured": {
                "shared-hook": {
                    "actionTypeId": ".webhook",
                    "name": "Shared hook",
                    "config": {"url": httpserver.url_for("/shared"), "method": "post", "hasAuth": False},
                    "secrets": {},
                }
            },
        }
    )
    httpserver.expect_request("/shared", method="POST").respond_with_data("ok")
    Space.objects.create(id="marketing", name="Marketing")
    connector = get_preconfigured("shared-hook")
    runs = ActionRun.objects.bulk_create(
        [
            queue.new_run(connector, {"body": space_id}, space_id=space_id, source="background_task")
            for space_id in ("default", "marketing", "default")
        ]
    )

    assert worker.dispatch([run.pk for run in runs]) == 3
    assert worker.flush()

    assert set(ActionRun.objects.values_list("status", flat=True)) == {"succeeded"}
    assert sorted(request.get_data(as_text=True) for request, _ in httpserver.log) == [
        "default",
        "default",
        "marketing",
    ]
    executes = Event.objects.filter(action="execute", connector_id="shared-hook")
    assert sorted(executes.values_list("space_id", flat=True)) == ["default", "default", "marketing"]
    assert all(e.document["kibana"]["saved_objects"][0]["space_agnostic"] for e in executes)


def test_a_task_run_inline_does_not_leave_a_poller_in_the_calling_process(space, monkeypatch):
    from django_q.tasks import async_task

    monkeypatch.setattr(worker, "_poller", None)

    async_task("eventlog.tasks.purge_expired_events", sync=True)  # django-q2's worker loop, inline

    assert worker._poller is None
