"""The exact event documents real runs write (spec §11), through `actions.services.execute`."""

import json
import uuid
from datetime import UTC, datetime

from pytest_httpserver import HTTPServer

from actions.services import RuleContext, RunInfo, execute
from connectors.models import Connector
from eventlog.models import Event
from eventlog.services import ECS_VERSION, KIBANA_VERSION, server_uuid

SECRET = "evt-secret-marker-5c1e"


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def server_log(space, name="My log"):
    connector = Connector(space=space, name=name, connector_type_id=".server-log", config={})
    connector.set_secrets({})
    connector.save()
    return connector


def webhook(space, url, name="My hook"):
    connector = Connector(
        space=space,
        name=name,
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": True},
    )
    connector.set_secrets({"user": "elastic", "password": SECRET})
    connector.save()
    return connector


def events_of(connector):
    return list(Event.objects.filter(connector_id=connector.id).order_by("id"))


def strip_volatile(document: dict) -> dict:
    """Remove what changes between runs after checking it is well formed."""
    document = json.loads(json.dumps(document))
    assert parse(document.pop("@timestamp"))
    assert document["kibana"].pop("server_uuid") == server_uuid()
    event = document["event"]
    start = parse(event.pop("start"))
    if "end" in event:
        end = parse(event.pop("end"))
        duration = int(event.pop("duration"))
        assert duration >= 0
        assert abs((end - start).total_seconds() * 1e9 - duration) < 50e6  # duration ~ end - start
    return document


def test_a_successful_run_writes_execute_start_then_execute(default_space):
    connector = server_log(default_space)
    run_id = str(uuid.uuid4())

    result = execute(connector, {"message": "hello"}, RunInfo(execution_uuid=run_id, user="elastic"))

    assert result.status == "ok"
    start, done = events_of(connector)
    label = f".server-log:{connector.id}: My log"
    common_kibana = {
        "saved_objects": [{"rel": "primary", "type": "action", "id": connector.id, "type_id": ".server-log"}],
        "space_ids": ["default"],
        "version": KIBANA_VERSION,
    }
    assert strip_volatile(start.document) == {
        "ecs": {"version": ECS_VERSION},
        "event": {"action": "execute-start", "kind": "action", "provider": "actions"},
        "message": f"action started: {label}",
        "user": {"name": "elastic"},
        "kibana": {
            **common_kibana,
            "action": {
                "name": "My log",
                "id": connector.id,
                "type_id": ".server-log",
                "execution": {"uuid": run_id, "source": "http_request"},
            },
        },
    }
    assert strip_volatile(done.document) == {
        "ecs": {"version": ECS_VERSION},
        "event": {"action": "execute", "kind": "action", "provider": "actions", "outcome": "success"},
        "message": f"action executed: {label}",
        "user": {"name": "elastic"},
        "kibana": {
            **common_kibana,
            "action": {
                "name": "My log",
                "id": connector.id,
                "type_id": ".server-log",
                "execution": {
                    "uuid": run_id,
                    "source": "http_request",
                    "attempt": 1,
                    "max_attempts": 1,
                    "final": True,
                    "usage": {"request_body_bytes": 0},
                },
            },
        },
    }
    assert start.document["event"]["start"] == done.document["event"]["start"]
    assert isinstance(done.document["event"]["duration"], str)  # newer Kibana builds: a string
    # the indexed columns mirror the document
    assert (done.action, done.outcome, done.space_id, done.connector_type_id, done.execution_uuid) == (
        "execute",
        "success",
        "default",
        ".server-log",
        run_id,
    )
    assert done.duration_ns == int(done.document["event"]["duration"])
    assert done.attempt == 1


def test_a_run_in_another_space_names_the_namespace(other_space):
    connector = server_log(other_space)
    execute(connector, {"message": "hi"})
    for event in events_of(connector):
        assert event.document["kibana"]["saved_objects"][0]["namespace"] == "marketing"
        assert event.document["kibana"]["space_ids"] == ["marketing"]
        assert event.space_id == "marketing"


def test_a_failing_webhook_logs_kibanas_error_message_and_no_secret(default_space, httpserver: HTTPServer):
    httpserver.expect_request("/hook").respond_with_json({"message": "boom"}, status=500)
    connector = webhook(default_space, httpserver.url_for("/hook"))

    result = execute(connector, {"body": "x"})

    assert result.status == "error"
    assert httpserver.log[0][0].get_data(as_text=True) == "x"
    _, done = events_of(connector)
    assert done.outcome == "failure"
    assert done.document["message"] == f"action execution failure: .webhook:{connector.id}: My hook"
    assert done.document["error"] == {
        "message": "error calling webhook, retry later: [500] INTERNAL SERVER ERROR: boom; retry: true"
    }
    # over HTTP there is one attempt: it is the final one
    assert done.document["kibana"]["action"]["execution"]["final"] is True
    assert SECRET not in json.dumps([e.document for e in events_of(connector)])


def test_a_retryable_failure_is_not_final_until_the_last_attempt(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    connector = webhook(default_space, httpserver.url_for("/hook"))
    rule = RuleContext(rule_id="rule-1", rule_type_id=".index-threshold", execution_uuid="rule-run-1")
    scheduled = datetime.now(UTC)

    for attempt in (1, 2, 3):
        execute(
            connector,
            {"body": "x"},
            RunInfo(source="alert", attempt=attempt, max_attempts=3, rule=rule, scheduled_at=scheduled),
        )

    assert len(httpserver.log) == 3
    finals = [e for e in events_of(connector) if e.action == "execute"]
    assert [e.document["kibana"]["action"]["execution"]["final"] for e in finals] == [False, False, True]
    assert [e.attempt for e in finals] == [1, 2, 3]
    document = finals[0].document
    assert document["kibana"]["saved_objects"][1] == {
        "rel": "primary",
        "type": "alert",
        "id": "rule-1",
        "type_id": ".index-threshold",
    }
    assert document["kibana"]["alert"] == {
        "rule": {
            "consumer": "alerts",
            "execution": {"uuid": "rule-run-1"},
            "rule_type_id": ".index-threshold",
        }
    }
    assert document["kibana"]["task"]["scheduled"] == scheduled.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    assert int(document["kibana"]["task"]["schedule_delay"]) >= 0
    assert finals[0].rule_id == "rule-1"
    assert finals[0].source == "alert"
    assert finals[0].schedule_delay_ns == document["kibana"]["task"]["schedule_delay"]
    assert (
        document["error"]["message"]
        == "error calling webhook, retry later: [503] SERVICE UNAVAILABLE; retry: true"
    )


def test_a_params_validation_failure_is_logged_as_a_failed_run(default_space):
    connector = server_log(default_space)

    result = execute(connector, {"level": "info"}, RunInfo(source="alert", attempt=1, max_attempts=3))

    assert result.status == "error"
    start, done = events_of(connector)
    assert start.action == "execute-start"
    assert done.outcome == "failure"
    assert done.document["error"]["message"] == (
        "error validating action params: [message]: expected value of type [string] but got [undefined]; retry: true"
    )
    assert done.document["kibana"]["action"]["execution"]["final"] is False  # a task retries it


def test_a_failure_without_retry_has_no_retry_suffix_as_in_kibana(default_space):
    connector = server_log(default_space)
    execute(connector, {"level": "info"})  # over HTTP: retry false
    _, done = events_of(connector)
    assert done.document["error"]["message"] == (
        "error validating action params: [message]: expected value of type [string] but got [undefined]"
    )


def test_a_run_that_times_out_is_a_failed_run_with_the_timeout_in_the_error(
    default_space, httpserver, kibana_settings
):
    import time

    from werkzeug import Response

    kibana_settings.set({"xpack.actions.responseTimeout": "200ms"})

    def slow(request):
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    connector = webhook(default_space, httpserver.url_for("/slow"))

    result = execute(connector, {"body": "x"}, RunInfo(source="alert", attempt=1, max_attempts=3))

    assert result.status == "error"
    start, done = events_of(connector)
    assert start.action == "execute-start"
    assert done.outcome == "failure"
    assert done.duration_ns < 600_000_000  # gave up at the timeout, not when the server answered
    assert done.document["error"]["message"] == (
        "error calling webhook, request failed: [ETIMEDOUT] timeout of 200ms exceeded; retry: true"
    )
    assert done.document["kibana"]["action"]["execution"]["final"] is False


def test_record_redacts_secret_values_a_service_echoed(default_space):
    from eventlog.services import record

    event = record(
        {
            "event": {"action": "execute", "outcome": "failure"},
            "message": "action execution failure: .webhook:c: abc hook",
            "error": {
                "message": f"error calling webhook: [401] Unauthorized: bad password {SECRET}; retry: false"
            },
            "kibana": {"space_ids": ["default"], "action": {"id": "c", "type_id": ".webhook"}},
            "user": {"name": "elastic"},
        },
        secrets={"user": "elastic", "password": SECRET, "nested": {"token": ["abc"]}},
    )
    stored = Event.objects.get(pk=event.pk)
    assert SECRET not in json.dumps(stored.document)
    assert SECRET not in stored.error_message
    assert stored.document["error"]["message"] == (
        "error calling webhook: [401] Unauthorized: bad password [REDACTED]; retry: false"
    )
    assert stored.message == "action execution failure: .webhook:c: abc hook"
    assert stored.document["user"] == {"name": "elastic"}  # only the error text is redacted


def test_the_execute_event_counts_the_request_body_bytes_the_run_sent(default_space, httpserver: HTTPServer):
    """Kibana's ConnectorUsageCollector: `kibana.action.execution.usage.request_body_bytes` on the
    `execute` event, the bytes of the request bodies the run sent (0 when it sent none)."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hook = webhook(default_space, httpserver.url_for("/hook"))
    log = server_log(default_space)

    assert execute(hook, {"body": "héllo wörld"}, RunInfo()).status == "ok"
    assert execute(log, {"message": "hello"}, RunInfo()).status == "ok"

    hook_start, hook_done = events_of(hook)
    assert hook_done.document["kibana"]["action"]["execution"]["usage"] == {
        "request_body_bytes": len("héllo wörld".encode())
    }
    assert "usage" not in hook_start.document["kibana"]["action"]["execution"]
    _, log_done = events_of(log)
    assert log_done.document["kibana"]["action"]["execution"]["usage"] == {"request_body_bytes": 0}


def test_events_name_the_kibana_version_the_status_api_reports(default_space):
    """Kibana's event-log service writes its own version into `kibana.version` (and the execution log
    answers it as `version`): the same number `GET /api/status` reports as `version.number`."""
    from eventlog.api.status import KIBANA_API_VERSION

    connector = server_log(default_space)
    execute(connector, {"message": "hello"}, RunInfo())

    assert {event.document["kibana"]["version"] for event in events_of(connector)} == {KIBANA_API_VERSION}
