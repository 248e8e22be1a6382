"""`GET /api/alerting/rules/_find` as Kibana answers it: sorting on any mapped rule attribute
(saved-objects `getSortingParams` over the `alert` mappings, Elasticsearch's missing-last order), the
KQL nested syntax `alert.attributes.actions:{ actionTypeId: ... }` and `params` in search fields."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from actions import kql
from actions.models import Rule
from connectors.models import Connector
from tests.actions.helpers import make_webhook
from tests.conftest import basic_auth

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def find(api, query: str):
    return api.get("/api/alerting/rules/_find?" + quote(query, safe="=&"))


def names(response) -> list[str]:
    assert response.status_code == 200, response.content[:400]
    return [rule["name"] for rule in response.json()["data"]]


def make_rule(space, name: str, **fields) -> Rule:
    fields.setdefault("rule_type_id", ".index-threshold")
    return Rule.objects.create(space=space, name=name, **fields)


def status_at(minutes: int) -> dict:
    when = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", ".000Z")
    return {"status": "ok", "last_execution_date": when, "last_duration": minutes}


@pytest.fixture
def severities(default_space):
    make_rule(default_space, "b high", params={"severity": "high"}, tags=["m", "z"])
    make_rule(default_space, "a none", params={}, tags=[])
    make_rule(default_space, "c low", params={"severity": "low"}, tags=["b"])
    make_rule(default_space, "d critical", params={"severity": "critical"}, tags=["a", "y"])


def test_find_sorts_on_params_severity_as_kibanas_mapped_params_with_missing_values_last(api, severities):
    ascending = find(api, "sort_field=params.severity&sort_order=asc")
    descending = find(api, "sort_field=params.severity&sort_order=desc")

    assert names(ascending) == ["c low", "b high", "d critical", "a none"]
    assert names(descending) == ["d critical", "b high", "c low", "a none"]


def test_find_sorts_on_tags_by_their_smallest_value_ascending_and_largest_descending(api, severities):
    assert names(find(api, "sort_field=tags&sort_order=asc")) == ["d critical", "c low", "b high", "a none"]
    assert names(find(api, "sort_field=tags&sort_order=desc")) == ["b high", "d critical", "c low", "a none"]


def test_find_sorts_on_the_last_execution_date_of_the_execution_status(api, default_space):
    make_rule(default_space, "beta", execution_status=status_at(20))
    make_rule(default_space, "gamma", execution_status=status_at(10))
    make_rule(default_space, "alpha", execution_status=status_at(30))

    query = "sort_field=executionStatus.lastExecutionDate&sort_order="
    assert names(find(api, query + "asc")) == ["gamma", "beta", "alpha"]
    assert names(find(api, query + "desc")) == ["alpha", "beta", "gamma"]
    assert names(find(api, "sort_field=executionStatus.lastDuration&sort_order=desc&per_page=1")) == ["alpha"]


def test_find_pages_and_counts_a_sort_on_an_attribute_path(api, severities):
    page = find(api, "sort_field=params.severity&sort_order=asc&per_page=2&page=2").json()

    assert page["total"] == 4 and page["page"] == 2 and page["per_page"] == 2
    assert [rule["name"] for rule in page["data"]] == ["d critical", "a none"]


def test_find_refuses_a_sort_field_missing_from_the_rule_mappings_with_kibanas_message(api, severities):
    for field in ("params.threshold", "nothing", "rule_type_id", "executionStatus.nothing", "name.x.y"):
        response = find(api, f"sort_field={field}")
        assert response.status_code == 400, field
        assert response.json() == {
            "statusCode": 400,
            "error": "Bad Request",
            "message": f"Unknown sort field {field}",
        }


def test_find_still_sorts_on_the_saved_object_root_timestamps_and_name_keyword(api, severities):
    assert find(api, "sort_field=updated_at&sort_order=desc").status_code == 200
    assert find(api, "sort_field=created_at").status_code == 200
    assert names(find(api, "sort_field=name.keyword&sort_order=desc"))[0] == "d critical"
    by_id = [rule.name for rule in Rule.objects.order_by("-id")]
    assert names(find(api, "sort_field=_id&sort_order=desc")) == by_id


@pytest.fixture
def connector_rules(default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    log = Connector.objects.create(
        space=default_space, name="Log", connector_type_id=".server-log", config={}
    )
    make_rule(
        default_space,
        "logs",
        actions=[
            {"group": "threshold met", "id": hook.id, "params": {}},
            {"group": "recovered", "id": log.id, "params": {"message": "x"}},
        ],
    )
    make_rule(default_space, "hooks", actions=[{"group": "threshold met", "id": hook.id, "params": {}}])
    make_rule(default_space, "silent", actions=[])


def test_find_filters_on_a_connector_type_with_kibanas_nested_actions_syntax(api, connector_rules):
    found = find(api, 'filter=alert.attributes.actions:{ actionTypeId: ".server-log" }')

    assert names(found) == ["logs"]
    assert names(find(api, "filter=alert.attributes.actions:{ actionTypeId:.webhook }")) == ["hooks", "logs"]
    assert names(find(api, "filter=not alert.attributes.actions:{ actionTypeId:.webhook }")) == ["silent"]


def test_a_nested_actions_filter_needs_one_action_to_satisfy_the_whole_inner_query(api, connector_rules):
    one_action = "filter=alert.attributes.actions:{ actionTypeId:.server-log and group:recovered }"
    two_actions = "filter=alert.attributes.actions:{ actionTypeId:.server-log and group:threshold* }"

    assert names(find(api, one_action)) == ["logs"]
    assert names(find(api, two_actions)) == []


@pytest.mark.parametrize(
    "bad",
    [
        "alert.attributes.actions:{ actionTypeId: x",
        "alert.attributes.actions:{ }",
        "alert.attributes.actions:{ actionTypeId: x }}",
        "{ actionTypeId: x }",
        "alert.attributes.actions:{ a:{ b:{ c: x } }",
    ],
)
def test_a_malformed_nested_filter_is_a_kql_syntax_400(api, connector_rules, bad):
    response = find(api, f"filter={bad}")

    assert response.status_code == 400
    assert response.json()["message"].startswith("KQLSyntaxError: ")


def test_nested_groups_count_towards_the_kql_nesting_limit():
    deep = "a:{ " * (kql.MAX_NESTING + 1) + "b: x" + " }" * (kql.MAX_NESTING + 1)

    with pytest.raises(kql.KqlError, match="nests more than"):
        kql.parse(deep)
    assert kql.matches(kql.parse("a:{ a:{ b: x } }"), {"a": [{"a": [{"b": "x"}]}]})


def test_find_searches_a_params_field_named_in_search_fields(api, severities):
    assert names(find(api, "search_fields=params.severity&search=critical")) == ["d critical"]


# Kibana's rules client also takes the filter as a serialized KueryNode (buildKueryNodeFilter
# JSON-parses it first), as its spaces_only find test sends: `JSON.stringify(fromKueryExpression(...))`.
def is_node(field, value, quoted=False):
    return {
        "type": "function",
        "function": "is",
        "arguments": [
            {"type": "literal", "value": field, "isQuoted": False},
            {"type": "literal", "value": value, "isQuoted": quoted},
        ],
    }


def test_find_accepts_a_filter_sent_as_a_serialized_kuery_node(api, default_space, connector_rules):
    make_rule(default_space, "my b", params={"strValue": "my b"})
    make_rule(default_space, "my c", params={"strValue": "my c"})
    phrase = json.dumps(is_node("alert.attributes.params.strValue", "my b", quoted=True))
    nested = json.dumps(
        {
            "type": "function",
            "function": "nested",
            "arguments": [
                {"type": "literal", "value": "alert.attributes.actions"},
                is_node("actionTypeId", ".server-log"),
            ],
        }
    )
    negated = json.dumps({"type": "function", "function": "not", "arguments": [json.loads(nested)]})

    assert names(find(api, f"filter={phrase}")) == ["my b"]
    assert names(find(api, f"filter={nested}")) == ["logs"]
    assert "logs" not in names(find(api, f"filter={negated}"))


@pytest.mark.parametrize(
    "bad",
    [
        '{"type": "function", "function": "bogus", "arguments": []}',
        '{"type": "function", "function": "is"}',
        '{"type": "literal"}',
        "[" * 5000 + "]" * 5000,
        '{"type":"function","function":"not","arguments":[' * 300 + "{}" + "]}" * 300,
    ],
)
def test_a_malformed_or_too_deep_kuery_node_filter_is_a_400(api, connector_rules, bad):
    response = find(api, f"filter={bad}")

    assert response.status_code == 400
    assert response.json()["message"].startswith("KQLSyntaxError: ")


def test_a_range_filter_on_params_severity_compares_kibanas_mapped_severity_order(api, severities):
    above_low = find(api, "filter=alert.attributes.params.severity > low")
    exactly = find(api, "filter=alert.attributes.params.severity: high")

    assert names(above_low) == ["b high", "d critical"]
    assert names(exactly) == ["b high"]


def test_a_caller_without_rule_privileges_gets_kibanas_find_403_without_a_trailing_period(
    db, default_space, django_user_model
):
    # Kibana's alerting authorization and its FTR find tests (public and internal): no trailing `.`.
    django_user_model.objects.create_user("nobody", password="nobody-pass-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("nobody", "nobody-pass-1"))

    response = client.get("/api/alerting/rules/_find?filter=alert.attributes.actions:{ actionTypeId: x }")

    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Unauthorized to find rules for any rule types",
    }
