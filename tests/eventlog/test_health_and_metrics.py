"""Task Manager health, per-connector health, /metrics, /healthz, /readyz, retention."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django_q.models import Schedule
from prometheus_client.parser import text_string_to_metric_families

from actions.services import RunInfo, execute
from connectors.models import Connector
from eventlog import health
from eventlog.metrics import advance_rollup
from eventlog.models import Event
from eventlog.services import (
    RETENTION_TASK,
    connector_health,
    ensure_retention_schedule,
    purge_expired_events,
    server_uuid,
)
from tests.eventlog.factories import run_events

HEALTH = "/api/task_manager/_health"
NOW = datetime.now(UTC)


def runs(type_id, successes, retry_scheduled=0, failed=0):
    for _ in range(successes):
        run_events(type_id=type_id)
    for _ in range(retry_scheduled):
        run_events(type_id=type_id, outcome="failure", attempt=1, max_attempts=3, final=False)
    for _ in range(failed):
        run_events(type_id=type_id, outcome="failure", final=True)


def test_health_has_kibanas_shape(api):
    runs(".server-log", 3)
    response = api.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == server_uuid()
    assert body["status"] == "OK"
    assert set(body) == {"id", "timestamp", "status", "last_update", "stats"}
    assert set(body["stats"]) == {
        "configuration",
        "workload",
        "runtime",
        "capacity_estimation",
        "connector_secrets",
    }
    configuration = body["stats"]["configuration"]["value"]
    assert configuration["monitored_task_execution_thresholds"] == {
        "default": {"error_threshold": 90, "warn_threshold": 80},
        "custom": {},
    }
    assert configuration["poll_interval"] == 200
    execution = body["stats"]["runtime"]["value"]["execution"]
    assert set(execution["duration"][".server-log".join(["actions:", ""])]) == {"p50", "p90", "p95", "p99"}
    assert execution["result_frequency_percent_as_number"]["actions:.server-log"] == {
        "Success": 100,
        "RetryScheduled": 0,
        "Failed": 0,
        "status": "OK",
    }
    runtime = body["stats"]["runtime"]["value"]
    assert {"polling", "drift", "drift_by_type", "load", "execution"} <= set(runtime)
    observed = body["stats"]["capacity_estimation"]["value"]["observed"]
    assert observed["observed_kibana_instances"] >= 1
    workload = body["stats"]["workload"]["value"]
    assert {"count", "task_types", "non_recurring", "schedule", "overdue", "capacity_requirements"} <= set(
        workload
    )


@pytest.mark.parametrize(
    ("successes", "retry_scheduled", "failed", "status"),
    [
        (2, 0, 8, "OK"),  # 80 % failed: not above the warn threshold
        (9, 0, 41, "warn"),  # 82 %
        (5, 0, 45, "warn"),  # 90 %: not above the error threshold
        (1, 2, 8, "error"),  # 10 of 11 = 90.9 %
        (4, 1, 45, "error"),  # 92 %: a run waiting for its retry counts as a failure too
    ],
)
def test_a_failing_connector_type_turns_health_warn_then_error(
    api, successes, retry_scheduled, failed, status
):
    runs(".webhook", successes, retry_scheduled, failed)
    body = api.get(HEALTH).json()
    frequency = body["stats"]["runtime"]["value"]["execution"]["result_frequency_percent_as_number"]
    assert frequency["actions:.webhook"]["status"] == status
    assert body["stats"]["runtime"]["status"] == status
    assert body["status"] == status


def test_real_failed_runs_count_as_failures_unlike_kibana(api, default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("no", status=400)
    connector = Connector(
        space=default_space,
        name="Hook",
        connector_type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "method": "post", "hasAuth": False},
    )
    connector.set_secrets({})
    connector.save()
    for _ in range(3):
        execute(connector, {"body": "x"}, RunInfo(source="alert", attempt=3, max_attempts=3))

    assert len(httpserver.log) == 3
    frequency = api.get(HEALTH).json()["stats"]["runtime"]["value"]["execution"][
        "result_frequency_percent_as_number"
    ]
    assert frequency["actions:.webhook"] == {
        "Success": 0,
        "RetryScheduled": 0,
        "Failed": 100,
        "status": "error",
    }


def test_the_runtime_window_keeps_the_latest_50_runs_per_type(api):
    runs(".webhook", 0, 0, 60)
    runs(".webhook", 50)
    frequency = health.task_manager_health()["stats"]["runtime"]["value"]["execution"][
        "result_frequency_percent_as_number"
    ]
    assert frequency["actions:.webhook"]["Success"] == 100


def test_health_needs_authentication(db, default_space):
    assert Client().get(HEALTH).status_code == 401


def test_a_registered_workload_provider_adds_its_queue(api):
    def provider(now):
        return {
            "task_types": {"actions:.email": {"count": 4, "status": {"idle": 3, "running": 1}}},
            "overdue": 2,
        }

    health.register_workload_provider(provider)
    try:
        workload = api.get(HEALTH).json()["stats"]["workload"]["value"]
    finally:
        health._workload_providers.remove(provider)
    assert workload["task_types"]["actions:.email"] == {"count": 4, "status": {"idle": 3, "running": 1}}
    assert workload["overdue"] >= 2


def test_queued_django_q_tasks_show_in_the_workload_and_queue_depth(api, settings):
    from django_q.tasks import async_task

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    async_task("eventlog.tasks.purge_expired_events")
    async_task("eventlog.tasks.purge_expired_events")
    workload = api.get(HEALTH).json()["stats"]["workload"]["value"]
    assert workload["task_types"]["eventlog.tasks.purge_expired_events"]["count"] == 2
    text = Client().get("/metrics").content.decode()
    assert 'connectors_task_queue_depth{state="ready"} 2.0' in text


# ---- per-connector health --------------------------------------------------------------------------


def test_connector_health_reports_last_run_outcome_error_and_24h_failures(db):
    run_events(connector_id="x", outcome="failure", at=NOW - timedelta(hours=30))  # outside 24 h
    run_events(connector_id="x", outcome="failure", at=NOW - timedelta(hours=2))
    run_events(
        connector_id="x",
        outcome="failure",
        at=NOW - timedelta(hours=1),
        error="error calling webhook, invalid response: [401] Unauthorized: token abc; retry: false",
    )
    run_events(connector_id="y", at=NOW - timedelta(minutes=3))

    result = connector_health(["x", "y", "never-ran"])

    assert result["x"]["last_outcome"] == "failure"
    assert result["x"]["last_error"] == "error calling webhook, invalid response"  # no service text
    assert result["x"]["failures_last_24h"] == 2
    assert result["x"]["last_run_at"] == (NOW - timedelta(hours=1)).isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")
    assert result["y"] == {
        "last_run_at": (NOW - timedelta(minutes=3)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "last_outcome": "success",
        "last_error": None,
        "failures_last_24h": 0,
    }
    assert result["never-ran"] == {
        "last_run_at": None,
        "last_outcome": None,
        "last_error": None,
        "failures_last_24h": 0,
    }


# ---- metrics -----------------------------------------------------------------------------------------


def scrape() -> str:
    """What Prometheus sees after the workers' next heartbeat has folded the new events."""
    advance_rollup()
    return Client().get("/metrics").content.decode()


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_runs_retries_and_durations_from_the_event_log(db, default_space):
    run_events(type_id=".webhook", duration_ms=3)
    run_events(type_id=".webhook", duration_ms=300)
    run_events(type_id=".webhook", outcome="failure", attempt=2, max_attempts=3, final=False, duration_ms=40)
    run_events(type_id=".server-log", duration_ms=1)
    advance_rollup()

    response = Client().get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    runs_total = "connectors_action_runs_total"
    assert found[(runs_total, (("connector_type", ".webhook"), ("outcome", "success")))] == 2
    assert found[(runs_total, (("connector_type", ".webhook"), ("outcome", "failure")))] == 1
    assert found[(runs_total, (("connector_type", ".server-log"), ("outcome", "success")))] == 1
    assert found[("connectors_action_retries_total", (("connector_type", ".webhook"),))] == 1
    bucket = "connectors_action_run_duration_seconds_bucket"
    assert found[(bucket, (("connector_type", ".webhook"), ("le", "0.005")))] == 1
    assert found[(bucket, (("connector_type", ".webhook"), ("le", "0.05")))] == 2
    assert found[(bucket, (("connector_type", ".webhook"), ("le", "+Inf")))] == 3
    assert found[("connectors_action_run_duration_seconds_count", (("connector_type", ".webhook"),))] == 3
    assert found[
        ("connectors_action_run_duration_seconds_sum", (("connector_type", ".webhook"),))
    ] == pytest.approx(0.343)
    assert found[("connectors_task_queue_depth", (("state", "ready"),))] == 0


def test_metrics_see_runs_from_every_process_because_they_read_the_database(db, default_space):
    before = samples(scrape())
    assert not [key for key in before if key[0] == "connectors_action_runs_total"]
    run_events(type_id=".webhook")  # as a worker process would: only a row in the database
    after = samples(scrape())
    assert (
        after[("connectors_action_runs_total", (("connector_type", ".webhook"), ("outcome", "success")))] == 1
    )


def test_metric_counters_do_not_drop_when_retention_deletes_events(db, kibana_settings):
    kibana_settings.set({"connectors.eventLog.retention": "1d"})
    run_events(type_id=".webhook", at=NOW - timedelta(days=2))
    first = samples(scrape())
    purge_expired_events()
    run_events(type_id=".webhook")
    second = samples(scrape())
    key = ("connectors_action_runs_total", (("connector_type", ".webhook"), ("outcome", "success")))
    assert (first[key], second[key]) == (1, 2)
    third = samples(scrape())
    assert third[key] == 2  # a scrape with no new runs counts nothing twice


def test_retention_folds_the_runs_it_deletes_into_the_counters_first(db, kibana_settings):
    kibana_settings.set({"connectors.eventLog.retention": "1d"})
    run_events(type_id=".webhook", at=NOW - timedelta(days=2))  # no worker has folded it yet
    assert purge_expired_events() == 2
    found = samples(Client().get("/metrics").content.decode())
    assert (
        found[("connectors_action_runs_total", (("connector_type", ".webhook"), ("outcome", "success")))] == 1
    )


# ---- probes ------------------------------------------------------------------------------------------


def test_healthz_answers_without_authentication(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(db):
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "secrets": "ok"}}


def test_readyz_is_503_when_the_broker_is_unreachable(db, settings):
    # a Redis broker on a loopback port where nothing listens: real refusal, no mock
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    q_cluster = {key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"}
    settings.Q_CLUSTER = {**q_cluster, "redis": f"redis://:s3cret-pw@127.0.0.1:{port}/0"}
    from django_q.conf import Conf

    old_redis, old_orm = Conf.REDIS, Conf.ORM
    Conf.REDIS, Conf.ORM = settings.Q_CLUSTER["redis"], None
    try:
        response = Client().get("/readyz")
    finally:
        Conf.REDIS, Conf.ORM = old_redis, old_orm
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable")
    assert "s3cret-pw" not in response.content.decode()


# ---- retention ---------------------------------------------------------------------------------------


def test_retention_deletes_events_older_than_the_configured_age(db, kibana_settings):
    kibana_settings.set({"connectors.eventLog.retention": "7d"})
    run_events(connector_id="old", at=NOW - timedelta(days=8))
    run_events(connector_id="new", at=NOW - timedelta(days=6))

    deleted = purge_expired_events(batch_size=1)

    assert deleted == 2
    assert set(Event.objects.values_list("connector_id", flat=True)) == {"new"}


def test_retention_defaults_to_90_days(db):
    run_events(connector_id="old", at=NOW - timedelta(days=91))
    run_events(connector_id="kept", at=NOW - timedelta(days=89))
    assert purge_expired_events() == 2
    assert set(Event.objects.values_list("connector_id", flat=True)) == {"kept"}


def test_the_purge_command_deletes_and_registers_the_schedule(db, kibana_settings):
    from io import StringIO

    kibana_settings.set({"connectors.eventLog.retention": "1d"})
    run_events(at=NOW - timedelta(days=2))
    out = StringIO()
    call_command("purge_events", "--schedule", stdout=out)
    assert "Deleted 2 events older than 1 days." in out.getvalue()
    assert Schedule.objects.filter(func=RETENTION_TASK).count() == 1


def test_the_retention_schedule_is_registered_once(db):
    assert ensure_retention_schedule() is True
    assert ensure_retention_schedule() is False
    schedule = Schedule.objects.get(func=RETENTION_TASK)
    assert schedule.schedule_type == Schedule.HOURLY
    assert schedule.repeats == -1


def test_bootstrap_registers_the_retention_schedule(db):
    from io import StringIO

    call_command("bootstrap", stdout=StringIO())
    call_command("bootstrap", stdout=StringIO())
    assert Schedule.objects.filter(func=RETENTION_TASK).count() == 1


def test_the_scheduled_task_runs_the_purge(db, kibana_settings):
    from django_q.models import Failure
    from django_q.tasks import async_task

    kibana_settings.set({"connectors.eventLog.retention": "1h"})
    run_events(at=NOW - timedelta(hours=2))
    async_task(RETENTION_TASK, sync=True)  # successful results are not stored (save_limit -1)
    assert not Failure.objects.exists()
    assert Event.objects.count() == 0


def test_drift_comes_from_the_schedule_delay_of_task_runs(api):
    for delay in (100, 200, 300, 400):
        run_events(type_id=".email", schedule_delay_ms=delay, source="alert")
    run_events(type_id=".email")  # an HTTP run has no schedule delay and no drift sample
    runtime = api.get(HEALTH).json()["stats"]["runtime"]["value"]
    assert runtime["drift_by_type"]["actions:.email"] == {
        "p50": 200.0,
        "p90": 400.0,
        "p95": 400.0,
        "p99": 400.0,
    }
    assert runtime["drift"]["p50"] == 200.0


def test_polling_comes_from_the_heartbeats_worker_pollers_write(api, kibana_settings):
    from actions.models import WorkerHeartbeat
    from actions.worker import PollStats

    WorkerHeartbeat.objects.all().delete()  # rows a worker cluster of an earlier test may have left
    stats = PollStats()
    for result, duration, conflicts in [("NoTasksClaimed", 2.0, 0)] * 3 + [("PoolFilled", 8.0, 1)]:
        stats.record(duration, result, conflicts, delay_ms=12.5)
    stats.publish()

    polling = api.get(HEALTH).json()["stats"]["runtime"]["value"]["polling"]

    assert polling["duration"] == {"p50": 2.0, "p90": 8.0, "p95": 8.0, "p99": 8.0}
    assert polling["claim_conflicts"]["p99"] == 1
    assert polling["last_polling_delay"] == 12.5
    frequency = polling["result_frequency_percent_as_number"]
    assert frequency["NoTasksClaimed"] == 75 and frequency["PoolFilled"] == 25
    assert set(frequency) == {
        "Failed",
        "NoAvailableWorkers",
        "NoTasksClaimed",
        "RanOutOfCapacity",
        "RunningAtCapacity",
        "PoolFilled",
    }
    assert datetime.fromisoformat(polling["last_successful_poll"].replace("Z", "+00:00")) >= NOW


def test_health_warns_when_every_worker_has_stopped_polling(api):
    from actions.models import WorkerHeartbeat

    WorkerHeartbeat.objects.all().delete()  # rows a worker cluster of an earlier test may have left
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    WorkerHeartbeat.objects.create(
        id="gone:1", host="gone", pid=1, started_at=long_ago, last_poll_at=long_ago, stats={}
    )

    body = api.get(HEALTH).json()

    assert body["stats"]["runtime"]["status"] == "warn"
    assert body["status"] == "warn"
    assert body["stats"]["runtime"]["value"]["polling"]["duration"] == {}
