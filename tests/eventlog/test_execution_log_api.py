"""Kibana's execution-log and KPI routes, their per-connector variants, and the NDJSON export."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from actions.services import execute
from connectors.models import Connector, SpacePrivilege
from eventlog.services import KIBANA_VERSION
from tests.conftest import basic_auth
from tests.eventlog.factories import run_events

LOGS = "/internal/actions/_global_connector_execution_logs"
KPI = "/internal/actions/_global_connector_execution_kpi"
NOW = datetime.now(UTC)


def post(api, path, body):
    return api.post(path, body, format="json")


@pytest.fixture
def three_runs(default_space):
    ids = {
        "old": run_events(connector_id="a", name="Alpha", at=NOW - timedelta(hours=3), duration_ms=30),
        "failed": run_events(
            connector_id="b",
            type_id=".webhook",
            name="Bravo",
            outcome="failure",
            at=NOW - timedelta(hours=2),
            duration_ms=10,
            error="error calling webhook, retry later: [502] Bad Gateway; retry: true",
            schedule_delay_ms=400,
            source="alert",
        ),
        "new": run_events(connector_id="a", name="Alpha", at=NOW - timedelta(hours=1), duration_ms=20),
    }
    return ids


def test_the_log_lists_executions_newest_first_in_kibanas_shape(api, three_runs):
    response = post(api, LOGS, {"date_start": "1d"})

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [row["id"] for row in body["data"]] == [three_runs["new"], three_runs["failed"], three_runs["old"]]
    failed = body["data"][1]
    assert failed == {
        "id": three_runs["failed"],
        "timestamp": (NOW - timedelta(hours=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "duration_ms": 10.0,
        "status": "failure",
        "message": "action execution failure: .webhook:b: Bravo - "
        "error calling webhook, retry later: [502] Bad Gateway; retry: true",
        "version": KIBANA_VERSION,
        "schedule_delay_ms": 400.0,
        "space_ids": ["default"],
        "connector_name": "Bravo",
        "connector_id": "b",
        "timed_out": False,
        "source": "alert",
    }
    assert body["data"][0]["message"] == "action executed: .server-log:a: Alpha"


def test_the_8x_get_form_takes_the_same_keys_as_query_parameters(api, three_runs):
    sort = json.dumps([{"execution_duration": {"order": "asc"}}])
    response = api.get(LOGS, {"date_start": "1d", "sort": sort, "per_page": "2", "page": "1"})

    assert response.status_code == 200
    assert [row["duration_ms"] for row in response.json()["data"]] == [10.0, 20.0]


def test_a_date_range_limits_the_rows(api, three_runs):
    start = (NOW - timedelta(hours=2, minutes=30)).isoformat()
    end = (NOW - timedelta(minutes=90)).isoformat()
    body = post(api, LOGS, {"date_start": start, "date_end": end}).json()
    assert [row["id"] for row in body["data"]] == [three_runs["failed"]]


def test_the_outcome_filter_uses_kql_as_kibanas_ui_sends_it(api, three_runs):
    kql = "kibana.alerting.outcome:failure OR (event.outcome: failure AND NOT kibana.alerting.outcome:*)"
    body = post(api, LOGS, {"date_start": "1d", "filter": kql}).json()
    assert body["total"] == 1
    assert body["data"][0]["status"] == "failure"


def test_a_message_search_matches_message_or_error_message(api, three_runs):
    by_error = post(
        api, LOGS, {"date_start": "1d", "filter": '(message: "Bad Gateway" OR error.message: "Bad Gateway")'}
    ).json()
    assert [row["id"] for row in by_error["data"]] == [three_runs["failed"]]
    by_message = post(api, LOGS, {"date_start": "1d", "filter": 'message: "executed: .server-log:a"'}).json()
    assert by_message["total"] == 2


def test_sort_by_duration_and_schedule_delay_accepts_a_json_string_as_kibanas_ui_sends(api, three_runs):
    body = post(
        api, LOGS, {"date_start": "1d", "sort": json.dumps([{"execution_duration": {"order": "desc"}}])}
    ).json()
    assert [row["duration_ms"] for row in body["data"]] == [30.0, 20.0, 10.0]
    body = post(api, LOGS, {"date_start": "1d", "sort": [{"schedule_delay": {"order": "desc"}}]}).json()
    assert body["data"][0]["schedule_delay_ms"] == 400.0


def test_paging_returns_the_requested_page_and_the_full_total(api, three_runs):
    body = post(api, LOGS, {"date_start": "1d", "per_page": 2, "page": 2}).json()
    assert body["total"] == 3
    assert [row["id"] for row in body["data"]] == [three_runs["old"]]


def test_a_timed_out_run_is_flagged(api, default_space):
    run_id = run_events(outcome="failure", timed_out=True)
    body = post(api, LOGS, {"date_start": "1h"}).json()
    assert body["data"][0]["id"] == run_id
    assert body["data"][0]["timed_out"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "[request body.date_start]: expected value of type [string] but got [undefined]"),
        (
            {"date_start": "1d", "per_page": 101},
            "[request body.per_page]: Value must be equal to or lower than [100].",
        ),
        ({"date_start": "1d", "page": 0}, "[request body.page]: Value must be equal to or greater than [1]."),
        ({"date_start": "yesterday"}, 'Invalid date for parameter dateStart: "yesterday"'),
        ({"date_start": "1d", "date_end": "soon"}, 'Invalid date for parameter dateEnd: "soon"'),
        ({"date_start": "1d", "filter": "message: (a"}, "Invalid kuery syntax for filter message: (a"),
        ({"date_start": "1d", "bogus": 1}, "[request body.bogus]: definition for this key is missing"),
    ],
)
def test_bad_input_gets_kibanas_400(api, body, message):
    response = post(api, LOGS, body)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


def test_a_bad_sort_field_is_rejected(api):
    response = post(api, LOGS, {"date_start": "1d", "sort": [{"name": {"order": "asc"}}]})
    assert response.status_code == 400
    assert response.json()["message"].startswith("[request body.sort.0]: types that failed validation:")


def test_the_kpi_counts_executions_by_outcome(api, three_runs):
    run_events(outcome="warning", at=NOW - timedelta(minutes=5))
    response = post(api, KPI, {"date_start": "1d"})
    assert response.status_code == 200
    assert response.json() == {"success": 2, "unknown": 0, "failure": 1, "warning": 1}
    assert api.get(KPI, {"date_start": "90m"}).json() == {
        "success": 1,
        "unknown": 0,
        "failure": 0,
        "warning": 1,
    }
    filtered = post(api, KPI, {"date_start": "1d", "filter": "kibana.action.id: b"}).json()
    assert filtered == {"success": 0, "unknown": 0, "failure": 1, "warning": 0}


def test_the_log_is_scoped_to_the_space_in_the_path_unless_namespaces_are_given(api, other_space, three_runs):
    run_events(connector_id="m", space="marketing", name="Mike")
    assert post(api, LOGS, {"date_start": "1d"}).json()["total"] == 3
    marketing = post(api, "/s/marketing" + LOGS, {"date_start": "1d"}).json()
    assert [row["connector_id"] for row in marketing["data"]] == ["m"]
    both = post(api, LOGS, {"date_start": "1d", "namespaces": json.dumps(["default", "marketing"])}).json()
    assert both["total"] == 4


def test_a_reader_sees_only_the_spaces_they_may_read(db, default_space, other_space, django_user_model):
    run_events(connector_id="d")
    run_events(connector_id="m", space="marketing")
    user = django_user_model.objects.create_user("reader", password="pw-reader-1")
    SpacePrivilege.objects.create(user=user, space=default_space, privilege="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("reader", "pw-reader-1"), HTTP_KBN_XSRF="x")

    body = post(client, LOGS, {"date_start": "1d", "namespaces": ["*"]}).json()
    assert [row["connector_id"] for row in body["data"]] == ["d"]
    denied = post(client, "/s/marketing" + LOGS, {"date_start": "1d"})
    assert denied.status_code == 403
    assert denied.json()["message"] == "Unauthorized to get actions"


def test_the_log_needs_kbn_xsrf_on_post_and_authentication(db, default_space):
    client = APIClient()
    assert client.get(LOGS, {"date_start": "1d"}).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=basic_auth("nobody", "x"))
    # Kibana authenticates first: credentials that do not authenticate are a 401 without the header too.
    assert client.post(LOGS, {"date_start": "1d"}, format="json").status_code == 401
    User.objects.create_user("somebody", "", "a-long-test-password")
    client.credentials(HTTP_AUTHORIZATION=basic_auth("somebody", "a-long-test-password"))
    response = client.post(LOGS, {"date_start": "1d"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Request must contain a kbn-xsrf header."


def test_the_per_connector_log_and_kpi_cover_one_real_connector(api, default_space):
    connector = Connector(space=default_space, name="Real", connector_type_id=".server-log", config={})
    connector.set_secrets({})
    connector.save()
    execute(connector, {"message": "one"})
    execute(connector, {"level": "info"})  # params validation failure
    run_events(connector_id="someone-else")

    logs = post(
        api, f"/internal/actions/connector/{connector.id}/_execution_logs", {"date_start": "1h"}
    ).json()
    assert logs["total"] == 2
    assert {row["status"] for row in logs["data"]} == {"success", "failure"}
    assert all(row["connector_id"] == connector.id for row in logs["data"])
    kpi = api.get(f"/internal/actions/connector/{connector.id}/_execution_kpi", {"date_start": "1h"}).json()
    assert kpi == {"success": 1, "unknown": 0, "failure": 1, "warning": 0}
    outcome = post(
        api,
        f"/internal/actions/connector/{connector.id}/_execution_logs",
        {"date_start": "1h", "filter": "event.outcome: success"},
    ).json()
    assert outcome["total"] == 1


def test_the_per_connector_log_of_an_unknown_connector_is_404(api):
    response = post(api, "/internal/actions/connector/nope/_execution_logs", {"date_start": "1h"})
    assert response.status_code == 404
    assert response.json()["message"] == "Saved object [action/nope] not found"


def test_the_export_streams_whole_documents_as_ndjson(api, three_runs):
    response = api.get("/internal/actions/_event_log/_export", {"date_start": "1d"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = b"".join(response.streaming_content).decode().splitlines()
    documents = [json.loads(line) for line in lines]
    assert len(documents) == 6
    assert [d["event"]["action"] for d in documents[:2]] == ["execute-start", "execute"]
    assert documents[0]["@timestamp"] <= documents[-1]["@timestamp"]


def test_the_export_can_emit_bulk_lines_for_elasticsearch(api, three_runs):
    response = api.post(
        "/internal/actions/_event_log/_export",
        {"date_start": "1d", "event_action": "execute", "bulk_index": ".kibana-event-log-ds"},
        format="json",
    )
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 6
    assert json.loads(lines[0]) == {"create": {"_index": ".kibana-event-log-ds"}}
    assert json.loads(lines[1])["event"]["action"] == "execute"


def test_the_get_form_takes_repeated_namespaces(api, other_space):
    run_events(connector_id="d")
    run_events(connector_id="m", space="marketing")
    body = api.get(LOGS, {"date_start": "1d", "namespaces": ["default", "marketing"]}).json()
    assert sorted(row["connector_id"] for row in body["data"]) == ["d", "m"]


def test_the_export_covers_only_the_space_of_the_path(api, other_space):
    run_events(connector_id="d")
    run_events(connector_id="m", space="marketing")
    response = api.get("/s/marketing/internal/actions/_event_log/_export")
    documents = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert {d["kibana"]["action"]["id"] for d in documents} == {"m"}
    assert response["Content-Disposition"].startswith('attachment; filename="event-log-marketing-')


def test_runs_of_a_preconfigured_connector_show_in_every_space_as_kibanas_space_agnostic_events(
    api, other_space, kibana_settings
):
    kibana_settings.set(
        {"xpack.actions.preconfigured": {"shared-log": {"actionTypeId": ".server-log", "name": "Shared"}}}
    )
    run_events(connector_id="shared-log", name="Shared", space="marketing")
    run_events(connector_id="marketing-own", space="marketing")
    body = post(api, LOGS, {"date_start": "1d"}).json()
    assert [row["connector_id"] for row in body["data"]] == ["shared-log"]


def test_a_body_sent_as_json_text_is_parsed_as_config_schema_parses_an_object(api, three_runs):
    """The route's body is config-schema's schema.object, which JSON.parses a string given for it,
    as connectors.api.base.validate_body does for every other route."""
    response = api.post(LOGS, json.dumps(json.dumps({"date_start": "1d"})), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["total"] == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"not json"', "[request body]: could not parse object value from json input"),
        (
            json.dumps(json.dumps([1])),
            "[request body]: expected a plain object value, but found [Array] instead.",
        ),
        ("[1]", "[request body]: expected a plain object value, but found [Array] instead."),
    ],
)
def test_a_body_that_is_not_an_object_answers_config_schemas_object_words(api, text, message):
    response = api.post(LOGS, text, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}
