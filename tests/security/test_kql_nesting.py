"""KQL nested past any use (a thousand `(` or `not`) must be a 400, not a 500 from Python's recursion
limit. Both KQL parsers (the event log's, `eventlog/kql.py`, and the rules', `actions/kql.py`, which
also reads maintenance-window scopes and action alerts filters) recurse once per level, so they refuse
more than `MAX_NESTING` levels of parentheses and `not` with a message saying so."""

import pytest

from actions import kql as rule_kql
from eventlog import kql
from tests.actions.test_maintenance_windows import WEEKLY
from tests.actions.test_rule_alerts_filter import rule_with, run_with
from tests.security.conftest import webhook

LOGS = "/internal/actions/_global_connector_execution_logs"
KPI = "/internal/actions/_global_connector_execution_kpi"
EXPORT = "/internal/actions/_event_log/_export"

TOO_DEEP = {
    "parentheses": "(" * 1000 + "{term}" + ")" * 1000,
    "not": "not " * 1000 + "{term}",
    "value list": "{field}: " + "(" * 1000 + "x" + ")" * 1000,
}
MESSAGE = f"The filter nests more than {kql.MAX_NESTING} levels of parentheses and `not`."


def deep(shape: str, field: str) -> str:
    return TOO_DEEP[shape].format(term=f"{field}: x", field=field)


@pytest.mark.django_db
@pytest.mark.parametrize("shape", list(TOO_DEEP))
@pytest.mark.parametrize("path", [LOGS, KPI, EXPORT])
def test_an_execution_log_filter_nested_too_deep_is_a_400_in_kibanas_envelope(api, path, shape):
    response = api.post(path, {"date_start": "1d", "filter": deep(shape, "message")}, format="json")

    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": MESSAGE}


@pytest.mark.django_db
@pytest.mark.parametrize("shape", ["parentheses", "not"])  # the rules' KQL has no nested value lists
def test_a_rules_find_filter_nested_too_deep_is_a_400(api, shape):
    response = api.get("/api/alerting/rules/_find", {"filter": deep(shape, "alert.attributes.name")})

    assert response.status_code == 400, response.content[:300]
    assert response.json()["message"] == f"KQLSyntaxError: {MESSAGE}"


@pytest.mark.django_db
def test_a_maintenance_window_scope_nested_too_deep_is_a_400(api):
    body = {**WEEKLY, "scope": {"alerting": {"query": {"kql": deep("parentheses", "tags")}}}}

    response = api.post("/api/maintenance_window", body, format="json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["message"] == f"Error validating create maintenance window data - {MESSAGE}"


def test_a_rule_run_with_an_alerts_filter_nested_too_deep_sends_nothing_and_finishes(
    default_space, httpserver
):
    # Kibana stores the filter as given and only reads it when the rule runs: so do we.
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook = webhook(default_space, httpserver.url_for("/hook"))
    rule = rule_with(default_space, hook, {"query": {"kql": deep("not", "kibana.alert.tags"), "filters": []}})

    run_with(rule, [{"id": "host-1"}])

    rule.refresh_from_db()
    assert rule.execution_status["status"] == "active", rule.execution_status
    assert httpserver.log == []


@pytest.mark.django_db
def test_nesting_at_the_cap_still_parses_and_runs(api):
    depth = kql.MAX_NESTING
    query = "(" * depth + "message: x" + ")" * depth
    assert api.post(LOGS, {"date_start": "1d", "filter": query}, format="json").status_code == 200
    assert (
        api.get(
            "/api/alerting/rules/_find", {"filter": "not " * depth + "alert.attributes.name: x"}
        ).status_code
        == 200
    )
    assert rule_kql.matches(rule_kql.parse("(" * depth + "a: 1" + ")" * depth), {"a": 1})
