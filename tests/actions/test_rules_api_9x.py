"""Kibana 8.17-9.x rule API behaviour: `_update_api_key`, mute validation, `filter_consumers`,
`_find`'s bounds and query count, and the rule execution log (apart from the connector log)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from actions import worker
from actions.models import Alert, Rule
from actions.rule_runner import run_rule
from actions.rules import create_rule
from connectors.models import Connector
from tests.actions.helpers import add_documents, make_webhook, threshold_rule_body

DATES = "date_start=2020-01-01T00:00:00.000Z&date_end=2100-01-01T00:00:00.000Z"


@pytest.fixture
def quiet_hook(default_space):
    return make_webhook(default_space, "http://127.0.0.1:9/hook")


def test_update_api_key_answers_204_and_makes_the_caller_the_owner(api, quiet_hook):
    body = api.post(
        "/api/alerting/rule", threshold_rule_body(quiet_hook.id, enabled=False), format="json"
    ).json()
    Rule.objects.filter(pk=body["id"]).update(api_key_owner="someone-else")
    response = api.post(f"/api/alerting/rule/{body['id']}/_update_api_key")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/api/alerting/rule/{body['id']}").json()["api_key_owner"] == "elastic"
    missing = api.post("/api/alerting/rule/nope/_update_api_key")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Saved object [alert/nope] not found"


def test_muting_an_alert_the_rule_never_raised_is_kibanas_404(api, quiet_hook):
    rid = api.post("/api/alerting/rule", threshold_rule_body(quiet_hook.id), format="json").json()["id"]
    response = api.post(f"/api/alerting/rule/{rid}/alert/ghost/_mute")
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": f'Alert instance with id "ghost" does not exist for rule with id "{rid}"',
    }
    skipped = api.post(f"/api/alerting/rule/{rid}/alert/ghost/_mute?validate_alerts_existence=false")
    assert skipped.status_code == 204
    assert Rule.objects.get(pk=rid).muted_alert_ids == ["ghost"]
    bad = api.post(f"/api/alerting/rule/{rid}/alert/ghost/_mute?validate_alerts_existence=maybe")
    assert bad.status_code == 400
    assert bad.json()["message"] == (
        "[request query.validate_alerts_existence]: expected value of type [boolean] but got [string]"
    )


def test_muting_an_alert_the_rule_raised_works(api, quiet_hook):
    rid = api.post("/api/alerting/rule", threshold_rule_body(quiet_hook.id), format="json").json()["id"]
    Alert.objects.create(rule_id=rid, alert_id="host-1", status=Alert.RECOVERED)
    assert api.post(f"/api/alerting/rule/{rid}/alert/host-1/_mute").status_code == 204


def _rule(api, hook, name, consumer="alerts"):
    body = threshold_rule_body(hook.id, name=name, consumer=consumer)
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_filter_consumers_takes_a_json_array_or_the_repeated_key(api, quiet_hook):
    _rule(api, quiet_hook, "a", "alerts")
    _rule(api, quiet_hook, "b", "stackAlerts")
    _rule(api, quiet_hook, "c", "actions")
    as_json = api.get('/api/alerting/rules/_find?filter_consumers=["alerts","actions"]').json()
    assert sorted(r["name"] for r in as_json["data"]) == ["a", "c"]
    repeated = api.get(
        "/api/alerting/rules/_find?filter_consumers=stackAlerts&filter_consumers=actions"
    ).json()
    assert sorted(r["name"] for r in repeated["data"]) == ["b", "c"]
    single = api.get("/api/alerting/rules/_find?filter_consumers=alerts")
    assert single.status_code == 400
    assert (
        single.json()["message"]
        == "[request query.filter_consumers]: could not parse array value from json input"
    )


def test_find_refuses_to_page_beyond_the_result_window(api):
    response = api.get("/api/alerting/rules/_find?per_page=10001")
    assert response.status_code == 400
    assert (
        "Result window is too large, from + size must be less than or equal to: [10000] but was [10001]"
        in (response.json()["message"])
    )
    deep = api.get("/api/alerting/rules/_find?per_page=100&page=101")
    assert deep.status_code == 400
    assert api.get("/api/alerting/rules/_find?per_page=100&page=100").status_code == 200


def test_find_with_a_sort_order_and_no_sort_field_is_kibanas_406(api):
    response = api.get("/api/alerting/rules/_find?sort_order=asc")
    assert response.status_code == 406
    assert response.json() == {
        "statusCode": 406,
        "error": "Not Acceptable",
        "message": "sortOrder requires a sortField",
    }
    assert api.get("/api/alerting/rules/_find?sort_order=asc&sort_field=name").status_code == 200


def test_find_reads_a_bounded_number_of_queries_however_many_rules_and_actions(
    api, default_space, django_assert_max_num_queries
):
    hooks = [make_webhook(default_space, "http://127.0.0.1:9/h", name=f"h{i}") for i in range(4)]
    for i in range(25):
        body = threshold_rule_body(hooks[i % 4].id, name=f"cpu {i}")
        body["actions"].append({**body["actions"][0], "id": hooks[(i + 1) % 4].id})
        create_rule(default_space, body, user="elastic")
    # auth, privilege, rules, connector types: a constant, not one per rule, action or search term
    with django_assert_max_num_queries(8):
        searched = api.get("/api/alerting/rules/_find?per_page=25&search=cpu 1*&search_fields=name").json()
    assert searched["total"] == 25 and len(searched["data"]) == 25
    assert {a["connector_type_id"] for r in searched["data"] for a in r["actions"]} == {".webhook"}
    with django_assert_max_num_queries(8):
        paged = api.get("/api/alerting/rules/_find?per_page=5&page=2&sort_field=name").json()
    assert paged["total"] == 25 and len(paged["data"]) == 5


def test_find_reports_the_type_of_a_deleted_connector_as_null(api, quiet_hook):
    rule = _rule(api, quiet_hook, "a")
    Connector.objects.filter(pk=quiet_hook.id).delete()
    found = api.get("/api/alerting/rules/_find").json()
    assert found["data"][0]["id"] == rule["id"]
    assert found["data"][0]["actions"][0]["connector_type_id"] is None


# ---- execution logs ------------------------------------------------------------------------------


def _fired_rule(default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=timezone.now() - timedelta(seconds=30))
    run_rule(rule.id)
    worker.run_pending()
    return rule


def test_the_connector_execution_log_and_kpi_count_connector_runs_only(api, default_space, hook):
    _fired_rule(default_space, hook)
    log = api.get(f"/internal/actions/_global_connector_execution_logs?{DATES}").json()
    assert log["total"] == 1
    assert [row["connector_id"] for row in log["data"]] == [hook.id]
    kpi = api.get(f"/internal/actions/_global_connector_execution_kpi?{DATES}").json()
    assert kpi == {"success": 1, "unknown": 0, "failure": 0, "warning": 0}


def test_the_rule_execution_log_lists_the_rules_runs_in_kibanas_shape(api, default_space, hook):
    rule = _fired_rule(default_space, hook)
    response = api.get(f"/internal/alerting/rule/{rule.id}/_execution_log?{DATES}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 1
    (row,) = body["data"]
    assert set(row) == {
        "id",
        "timestamp",
        "duration_ms",
        "status",
        "message",
        "version",
        "num_active_alerts",
        "num_new_alerts",
        "num_recovered_alerts",
        "num_triggered_actions",
        "num_generated_actions",
        "num_succeeded_actions",
        "num_errored_actions",
        "total_search_duration_ms",
        "es_search_duration_ms",
        "schedule_delay_ms",
        "timed_out",
        "rule_id",
        "space_ids",
        "rule_name",
        "maintenance_window_ids",
    }
    assert row["status"] == "success" and row["rule_id"] == rule.id and row["rule_name"] == "cpu high"
    assert row["message"] == f"rule executed: .index-threshold:{rule.id}: 'cpu high'"
    assert (row["num_active_alerts"], row["num_new_alerts"], row["num_recovered_alerts"]) == (1, 1, 0)
    assert (row["num_triggered_actions"], row["num_succeeded_actions"], row["num_errored_actions"]) == (
        1,
        1,
        0,
    )
    assert row["space_ids"] == ["default"] and row["maintenance_window_ids"] == []
    kpi = api.get(f"/internal/alerting/rule/{rule.id}/_execution_kpi?{DATES}").json()
    assert kpi == {
        "success": 1,
        "unknown": 0,
        "failure": 0,
        "warning": 0,
        "activeAlerts": 1,
        "newAlerts": 1,
        "recoveredAlerts": 0,
        "erroredActions": 0,
        "triggeredActions": 1,
    }


def test_the_rule_execution_log_validates_its_query(api, default_space, quiet_hook):
    rule = create_rule(default_space, threshold_rule_body(quiet_hook.id), user="elastic")
    missing = api.get(f"/internal/alerting/rule/{rule.id}/_execution_log")
    assert missing.status_code == 400
    assert (
        missing.json()["message"]
        == "[request query.date_start]: expected value of type [string] but got [undefined]"
    )
    sorted_ok = api.get(
        f'/internal/alerting/rule/{rule.id}/_execution_log?{DATES}&sort=[{{"num_new_alerts":{{"order":"asc"}}}}]'
    )
    assert sorted_ok.status_code == 200
    other = api.get(f"/s/marketing/internal/alerting/rule/{rule.id}/_execution_log?{DATES}")
    assert other.status_code == 404
