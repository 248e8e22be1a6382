"""The public rule routes as Kibana's API integration tests pin them: what `_find` refuses on the
public API, what `fields` returns, the snooze data the public get/find leave out, the rule types
list (alerts-as-data config, callers without privileges) and a new rule's single timestamp."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from actions.models import Rule
from actions.rule_snooze import snoozed_until
from actions.rules import iso
from connectors.models import SpacePrivilege
from tests.actions.helpers import make_webhook, threshold_rule_body
from tests.conftest import basic_auth


@pytest.fixture
def hook(default_space):
    return make_webhook(default_space, "http://127.0.0.1:9/hook")


@pytest.fixture
def rule(api, hook):
    return api.post("/api/alerting/rule", threshold_rule_body(hook.id, tags=["cpu"]), format="json").json()


def client_with(django_user_model, space, username: str, privilege: str | None) -> APIClient:
    user = django_user_model.objects.create_user(username, password=f"{username}-pass-1")
    if privilege:
        SpacePrivilege.objects.create(space=space, user=user, privilege=privilege)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(username, f"{username}-pass-1"), HTTP_KBN_XSRF="1")
    return client


def find(api, query: str):
    return api.get(f"/api/alerting/rules/_find?{query}")


# 1. What the public _find refuses (Kibana's validateOperationOnAttributes on fieldsToExcludeFromPublicApi)


def test_find_refuses_to_sort_on_a_field_kept_from_the_public_api(api, rule):
    response = find(api, "sort_field=monitoring.run.calculated_metrics.success_ratio")
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Error find rules: Sort is not supported on this field "
        "monitoring.run.calculated_metrics.success_ratio",
    }
    for field in ("mapped_params.risk_score", "snoozeSchedule", "activeSnoozes"):
        assert find(api, f"sort_field={field}").json()["message"] == (
            f"Error find rules: Sort is not supported on this field {field}"
        )


def test_find_refuses_search_fields_kept_from_the_public_api_naming_them_all(api, rule):
    response = find(api, "search_fields=monitoring.run.calculated_metrics.success_ratio&search=50")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Error find rules: Search field monitoring.run.calculated_metrics.success_ratio not supported"
    )
    both = find(api, "search_fields=name&search_fields=snoozeSchedule&search_fields=mapped_params&search=x")
    assert (
        both.json()["message"] == "Error find rules: Search field snoozeSchedule,mapped_params not supported"
    )
    as_json = find(api, 'search_fields=["activeSnoozes"]&search=x')
    assert as_json.json()["message"] == "Error find rules: Search field activeSnoozes not supported"


def test_find_refuses_a_filter_on_a_field_kept_from_the_public_api(api, rule):
    field = "alert.attributes.monitoring.run.calculated_metrics.success_ratio"
    response = find(api, quote(f"filter={field}>50", safe="=&"))
    assert response.status_code == 400
    assert response.json()["message"] == f"Error find rules: Filter is not supported on this field {field}"
    mapped = find(api, quote("filter=alert.attributes.mapped_params.risk_score:40", safe="=&"))
    assert mapped.json()["message"] == (
        "Error find rules: Filter is not supported on this field alert.attributes.mapped_params.risk_score"
    )
    inner = find(api, quote('filter=alert.attributes.tags:"cpu" and not snoozeSchedule:x', safe="=&"))
    assert inner.json()["message"] == "Error find rules: Filter is not supported on this field snoozeSchedule"


def test_find_still_sorts_searches_and_filters_on_public_fields(api, rule):
    # `params` is a flattened field: only its mapped_params keys (severity, risk_score) sort.
    assert find(api, "sort_field=params.severity&sort_order=asc").status_code == 200
    assert find(api, "search_fields=name&search=cpu*").json()["total"] == 1
    assert find(api, quote('filter=alert.attributes.tags:"cpu"', safe="=&")).json()["total"] == 1
    # `fields` is never refused: a field kept from the public API is simply not returned.
    assert find(api, "fields=monitoring&fields=snoozeSchedule&fields=apiKey").status_code == 200


def test_the_exclusion_checks_run_after_authorization(db, default_space, django_user_model, rule):
    stranger = client_with(django_user_model, default_space, "stranger", None)
    response = find(stranger, "sort_field=monitoring")
    assert response.status_code == 403


# `fields`: saved-object attribute names; the answer keeps id, an empty actions list and those attributes


def test_find_with_fields_answers_id_empty_actions_and_the_named_attributes(api, rule):
    (only_tags,) = find(api, "fields=tags").json()["data"]
    assert only_tags == {"id": rule["id"], "actions": [], "tags": ["cpu"]}
    (as_json,) = find(api, 'fields=["tags","executionStatus"]').json()["data"]
    assert as_json == {
        "id": rule["id"],
        "actions": [],
        "tags": ["cpu"],
        "execution_status": rule["execution_status"],
    }
    (two,) = find(api, "fields=name&fields=tags").json()["data"]
    assert two == {"id": rule["id"], "actions": [], "name": "cpu high", "tags": ["cpu"]}
    (kept_out,) = find(api, "fields=monitoring&fields=snoozeSchedule&fields=apiKey").json()["data"]
    assert kept_out == {"id": rule["id"], "actions": []}


def test_find_with_fields_reads_attribute_names_not_response_keys(api, rule):
    (by_attribute,) = find(api, "fields=alertTypeId&fields=mutedInstanceIds&fields=actions").json()["data"]
    assert by_attribute == {
        "id": rule["id"],
        "rule_type_id": ".index-threshold",
        "muted_alert_ids": [],
        "actions": rule["actions"],
    }
    (by_response_key,) = find(api, "fields=rule_type_id").json()["data"]
    assert by_response_key == {"id": rule["id"], "actions": []}


# 2. is_snoozed_until: the spec's get/find field while the rule is snoozed; never the schedules


def test_the_public_get_and_find_show_is_snoozed_until_while_snoozed_but_never_the_schedules(api, rule):
    start = datetime.now(UTC) - timedelta(minutes=5)
    custom = {"start": iso(start.replace(microsecond=0)), "duration": "1h"}
    snoozed = api.post(
        f"/api/alerting/rule/{rule['id']}/snooze_schedule", {"schedule": {"custom": custom}}, format="json"
    )
    assert snoozed.status_code == 200
    until = iso(snoozed_until(Rule.objects.get(pk=rule["id"])))
    got = api.get(f"/api/alerting/rule/{rule['id']}").json()
    (found,) = find(api, "").json()["data"]
    for body in (got, found):
        assert body["is_snoozed_until"] == until
        assert not {"snooze_schedule", "active_snoozes", "monitoring"} & set(body)


def test_the_public_get_of_a_rule_never_snoozed_has_kibanas_exact_keys(api, rule):
    got = api.get(f"/api/alerting/rule/{rule['id']}").json()
    assert set(got) == set(rule)
    assert "is_snoozed_until" not in got


# 3. GET /api/alerting/rule_types


def test_rule_types_carry_the_alerts_as_data_config_of_each_type(api):
    types = {t["id"]: t for t in api.get("/api/alerting/rule_types").json()}
    threshold = types[".index-threshold"]
    assert threshold["alerts"] == {
        "context": "stack",
        "mappings": {
            "fieldMap": {
                "kibana.alert.title": {"type": "keyword", "array": False, "required": False},
                "kibana.alert.evaluation.conditions": {"type": "keyword", "array": False, "required": False},
                "kibana.alert.evaluation.value": {"type": "keyword", "array": False, "required": False},
                "kibana.alert.evaluation.threshold": {
                    "type": "scaled_float",
                    "scaling_factor": 100,
                    "required": False,
                },
            }
        },
        "shouldWrite": True,
        "useEcs": True,
    }
    assert threshold["has_alerts_mappings"] is True and threshold["does_set_recovery_context"] is True
    assert threshold["has_fields_for_a_a_d"] is False and "fieldsForAAD" not in threshold
    for type_id in (".connector-failures", ".external"):
        own = types[type_id]
        assert set(own["alerts"]) == {"context", "mappings", "shouldWrite"}
        assert own["alerts"]["mappings"] == {"fieldMap": {}} and own["alerts"]["shouldWrite"] is True
        assert own["has_alerts_mappings"] is True and own["does_set_recovery_context"] is True
    # JSON-serialisable as sent: one body per type, no shared mutable config between them
    assert json.loads(json.dumps(types))[".index-threshold"]["alerts"]["context"] == "stack"


def test_a_caller_without_privileges_gets_an_empty_rule_types_list(db, default_space, django_user_model):
    stranger = client_with(django_user_model, default_space, "stranger", None)
    response = stranger.get("/api/alerting/rule_types")
    assert response.status_code == 200
    assert response.json() == []


def test_a_read_only_caller_is_authorized_to_read_but_not_write_each_consumer(
    db, default_space, django_user_model
):
    reader = client_with(django_user_model, default_space, "reader", "read")
    types = {t["id"]: t for t in reader.get("/api/alerting/rule_types").json()}
    consumers = types[".index-threshold"]["authorized_consumers"]
    assert consumers["stackAlerts"] == {"read": True, "all": False}
    assert all(value == {"read": True, "all": False} for value in consumers.values())


# 4. Create: one timestamp


def test_a_new_rule_has_created_at_equal_to_updated_at(api, hook):
    for _ in range(20):
        body = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()
        assert body["created_at"] == body["updated_at"]
        stored = Rule.objects.get(pk=body["id"])
        assert stored.created_at == stored.updated_at
