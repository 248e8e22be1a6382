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


# ---- at least once, exactly (issue 17) -----------------------------------------------------------


def _heartbeat(host_pid: str, *, age: float, instance: str, journal_report: dict | None = None):
    from datetime import timedelta

    from django.utils import timezone

    from actions.models import WorkerHeartbeat

    host, _, pid = host_pid.rpartition(":")
    seen = timezone.now() - timedelta(seconds=age)
    stats = {"instance": instance}
    if journal_report is not None:
        stats["journal"] = journal_report
    WorkerHeartbeat.objects.update_or_create(
        pk=host_pid,
        defaults={"host": host, "pid": int(pid), "started_at": seen, "last_poll_at": seen, "stats": stats},
    )


def _running_on(run_pk: int, claimant: str, *, lease_left: float = 300.0) -> None:
    from datetime import timedelta

    from django.utils import timezone

    ActionRun.objects.filter(pk=run_pk).update(
        status="running",
        claim="dead-claim",
        worker=claimant,
        attempts=1,
        lease_until=timezone.now() + timedelta(seconds=lease_left),
    )


def test_a_run_claimed_on_its_last_attempt_by_a_worker_that_died_is_run_not_failed(hook, httpserver):
    """Was: the claim counted the attempt, and the expired lease of a final attempt failed the run with
    "execution cancelled due to timeout" though it had never run."""
    (run_id,) = queued_runs(hook, 1)
    ActionRun.objects.filter(pk=run_id).update(max_attempts=1)
    _token, (run,) = worker.claim_many([run_id])  # a worker claims it ... and dies before running it
    worker.journal.release([run_id])
    ActionRun.objects.filter(pk=run_id).update(lease_until=run.lease_until.replace(year=2000))

    assert worker.recover_expired() == 1
    run.refresh_from_db()
    assert (run.status, run.attempts, run.lost) == ("queued", 0, 1)

    worker.run_pending()
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 1
    assert len(httpserver.log) == 1


def test_the_runs_of_a_worker_whose_heartbeat_stopped_are_queued_again_without_waiting_for_the_lease(
    hook, httpserver
):
    first, second, third = queued_runs(hook, 3)
    _heartbeat("node-a:101", age=120, instance="i1")  # stopped two minutes ago
    _heartbeat("node-b:202", age=0, instance="i2")  # alive
    _running_on(first, "node-a:101/i1")
    _running_on(second, "node-b:202/i2")
    _running_on(third, "node-b:202/i2", lease_left=-1)  # alive but not renewing it: nobody holds it

    assert worker.recover_expired(trust_heartbeats=False) == 1  # after an outage: leases only
    assert worker.recover_expired() == 1

    statuses = dict(ActionRun.objects.values_list("pk", "status"))
    assert statuses == {first: "queued", second: "running", third: "queued"}
    lost = ActionRun.objects.get(pk=first)
    assert (
        lost.last_error
        == "execution cancelled: worker node-a:101 was lost (no heartbeat for 30s); queued again"
    )
    messages = sorted(Event.objects.filter(action="execute-timeout").values_list("message", flat=True))
    assert messages == sorted(
        [
            f"action: .webhook:{hook.id}: 'Hook' execution cancelled: worker node-a:101 was lost "
            "(no heartbeat for 30s); queued again",
            f"action: .webhook:{hook.id}: 'Hook' execution cancelled due to timeout - exceeded default "
            'timeout of "5m"',
        ]
    )
    assert sorted(worker.due_runs(10)) == [first, third]  # due at once, not after the lost-task grace


def test_a_stale_heartbeat_is_not_trusted_until_this_poller_has_been_healthy_for_a_while(hook):
    (run_id,) = queued_runs(hook, 1)
    _heartbeat("node-a:101", age=120, instance="i1")
    _running_on(run_id, "node-a:101/i1", lease_left=-1)  # even with its lease run out

    assert worker.recover_expired(trust_heartbeats=False) == 0
    assert ActionRun.objects.get(pk=run_id).status == "running"


def test_a_process_that_reuses_a_dead_ones_host_and_pid_is_not_taken_for_it(hook):
    (run_id,) = queued_runs(hook, 1)
    _heartbeat("node-a:101", age=0, instance="new-process")  # a restarted container, same pid
    _running_on(run_id, "node-a:101/old-process")

    assert worker.recover_expired(trust_heartbeats=False) == 1
    assert ActionRun.objects.get(pk=run_id).status == "queued"


def test_a_run_that_keeps_losing_its_worker_fails_after_max_attempts_losses(hook):
    (run_id,) = queued_runs(hook, 1)
    _heartbeat("node-a:101", age=120, instance="i1")
    for _ in range(3):
        _running_on(run_id, "node-a:101/i1")
        assert worker.recover_expired() == 1
        assert ActionRun.objects.get(pk=run_id).status == "queued"
    _running_on(run_id, "node-a:101/i1")
    assert worker.recover_expired() == 1

    run = ActionRun.objects.get(pk=run_id)
    assert (run.status, run.lost) == ("failed", 4)
    assert run.last_error.startswith("execution failed: its worker was lost 4 times while running it")


def test_a_run_longer_than_its_lease_keeps_it_while_it_runs_and_runs_once(space, httpserver, kibana_settings):
    """Was: the lease was fixed, so a run slower than `runTimeout` was taken again by a poller and ran
    twice at once. Now the process that holds it renews its lease (with its heartbeat) while it runs."""
    import time

    from werkzeug import Response

    kibana_settings.set(
        {
            "connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"],
            "connectors.actions.runTimeout": "1s",
        }
    )

    def slow(_request):
        time.sleep(3)  # three leases long
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    connector = make_webhook(space, httpserver.url_for("/slow"))
    (run_id,) = queued_runs(connector, 1)
    assert worker.dispatch([run_id]) == 1

    stats = worker.PollStats()  # this process's poller: renews its leases with each heartbeat
    recovered = 0
    deadline = time.monotonic() + 20
    while ActionRun.objects.get(pk=run_id).status == "running" and time.monotonic() < deadline:
        stats.record(1.0, "PoolFilled", 0, 0.0)
        stats.publish()
        recovered += worker.recover_expired()  # what every poller (here or elsewhere) does
        time.sleep(0.1)
    assert worker.flush()

    assert recovered == 0
    assert ActionRun.objects.get(pk=run_id).status == "succeeded"
    assert len(httpserver.log) == 1
    assert not Event.objects.filter(action="execute-timeout").exists()


@pytest.fixture
def refused_events():
    """The database refuses every event INSERT with an OperationalError that is not a connection
    problem: a trigger that reads a table that does not exist (a real SQLite error, every time)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse_events BEFORE INSERT ON eventlog_event "
            "BEGIN SELECT missing FROM table_that_does_not_exist; END"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS refuse_events")


def test_a_batch_the_database_always_refuses_does_not_wedge_the_journal_and_every_run_still_ends(
    hook, httpserver, refused_events
):
    """Was: every OperationalError counted as an outage, so this batch was kept and written again
    forever, and no later result was recorded either."""
    ids = queued_runs(hook, 5)

    assert worker.dispatch(ids) == 5
    assert worker.flush(20), "the journal is stuck on a batch it can never write"

    assert set(ActionRun.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"succeeded"}
    assert not Event.objects.filter(action="execute").exists()  # those, and only those, are lost
    assert worker.journal.report()["consecutive_failures"] == 0


def test_lock_and_connection_errors_are_transient_and_schema_errors_are_not():
    from django.db import IntegrityError, InterfaceError, OperationalError

    from actions.journal import is_transient

    assert is_transient(OperationalError("database is locked"))
    assert is_transient(InterfaceError("connection already closed"))
    assert not is_transient(OperationalError("no such table: table_that_does_not_exist"))
    assert not is_transient(IntegrityError("NOT NULL constraint failed"))


def test_a_journal_thread_that_died_leaves_its_pending_results_to_the_next_one(hook, httpserver):
    """Was: a new journal thread started with an empty list, dropping what the dead one had not written."""
    (first, second) = queued_runs(hook, 2)
    from actions.journal import _Entry

    token, _runs = worker.claim_many([first, second])
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    with worker.journal.ready:  # the thread died with the first result not yet written
        worker.journal.thread = dead
        worker.journal.entries.append(
            _Entry(
                {"event": {"action": "execute"}, "message": "first"}, Outcome(first, token, True, "", True)
            )
        )

    worker.journal.add(
        {"event": {"action": "execute"}, "message": "second"}, Outcome(second, token, True, "", True)
    )
    assert worker.journal.flush()

    assert set(ActionRun.objects.filter(pk__in=[first, second]).values_list("status", flat=True)) == {
        "succeeded"
    }


def test_a_stuck_journal_shows_in_the_task_manager_health(hook, client, django_user_model):
    _heartbeat("node-a:101", age=0, instance="i1", journal_report={"pending": 40, "consecutive_failures": 5})
    _heartbeat("node-b:202", age=0, instance="i2", journal_report={"pending": 0, "consecutive_failures": 0})
    django_user_model.objects.create_superuser("health-admin", "", "health-password-1")
    client.login(username="health-admin", password="health-password-1")

    workload = client.get("/api/task_manager/_health").json()["stats"]["workload"]

    assert workload["status"] == "warn"
    assert workload["value"]["action_journals"]["stuck"] == ["node-a:101"]


def test_a_rule_run_that_raises_anything_does_not_stay_running(space, hook, kibana_settings):
    """Was: only RuleRunError cleared `running`; a database error while queueing actions left it set."""
    from actions.rule_runner import run_rule
    from actions.rules import create_rule
    from tests.actions.helpers import add_documents, threshold_rule_body

    rule = create_rule(space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{"host": "a"}] * 3)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse_runs BEFORE INSERT ON actions_actionrun "
            "BEGIN SELECT RAISE(ABORT, 'runs refused by a test trigger'); END"
        )
    try:
        with pytest.raises(Exception, match="runs refused"):
            run_rule(rule.id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_runs")
    rule.refresh_from_db()
    assert rule.running is False


def test_a_rule_left_running_by_a_dead_process_is_cleared_after_its_lease(space, hook):
    from datetime import timedelta

    from django.utils import timezone

    from actions.models import Rule
    from actions.rules import create_rule
    from tests.actions.helpers import threshold_rule_body

    rule = create_rule(space, threshold_rule_body(hook.id), user="elastic")
    Rule.objects.filter(pk=rule.pk).update(running=True, running_until=timezone.now() + timedelta(minutes=5))
    assert worker.recover_rules() == 0
    Rule.objects.filter(pk=rule.pk).update(running_until=timezone.now() - timedelta(seconds=1))
    assert worker.recover_rules() == 1
    rule.refresh_from_db()
    assert rule.running is False


def test_a_run_row_naming_another_spaces_connector_never_reaches_it(hook, httpserver):
    # A run row is trusted for its space: the worker looks the connector up in that space only, so a
    # row of `marketing` naming the default space's connector (by a bug, or a hand-edited row) fails
    # as a missing connector and sends nothing with the connector's secrets.
    from connectors.models import Space

    Space.objects.create(id="marketing", name="Marketing")
    (run,) = ActionRun.objects.bulk_create(
        [queue.new_run(hook, {"body": "x"}, space_id="marketing", source="background_task")]
    )

    worker.dispatch([run.pk])
    assert worker.flush()

    assert httpserver.log == []
    run.refresh_from_db()
    assert run.status == ActionRun.FAILED
    (execute,) = Event.objects.filter(action="execute", connector_id=hook.id)
    assert execute.space_id == "marketing" and execute.outcome == "failure"
    assert execute.error_message == f"Saved object [action/{hook.id}] not found"
