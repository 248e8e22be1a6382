"""`alerts_filter` on rule actions: the KQL query against alert fields and the timeframe against the run
time, in real rule runs (actions delivered to a local HTTP server), and its validation messages."""

from datetime import UTC, datetime

import pytest

from actions import rule_types, worker
from actions.alerts_filter import in_timeframe
from actions.models import Rule
from actions.rule_runner import run_rule
from actions.rule_types import RunOutcome
from actions.rule_types.external import ExternalRuleType, report_alerts
from actions.rules import create_rule
from tests.actions.helpers import bodies

EVERY_RUN = {"summary": False, "notify_when": "onActiveAlert", "throttle": None}
MONDAY_10_UTC = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 11:00 in Berlin


def rule_with(space, hook, alerts_filter, *, summary=False):
    if summary:
        params = {"body": '{"count": {{alerts.all.count}}}'}
        frequency = {"summary": True, "notify_when": "onActiveAlert", "throttle": None}
    else:
        params = {"body": '{"alert": "{{alert.id}}"}'}
        frequency = EVERY_RUN
    body = {
        "name": "router",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "tags": ["prod"],
        "actions": [
            {
                "group": "critical",
                "id": hook.id,
                "params": params,
                "frequency": frequency,
                "alerts_filter": alerts_filter,
            }
        ],
    }
    return create_rule(space, body, user="elastic")


def run_with(rule, alerts: list[dict], now=MONDAY_10_UTC):
    rule.refresh_from_db()
    report_alerts(rule, [{"action_group": "critical", **alert} for alert in alerts])
    Rule.objects.filter(pk=rule.pk).update(state=rule.state)
    run_rule(rule.id, now=now)
    worker.run_pending()


def kql(text, filters=None):
    return {"query": {"kql": text, "filters": filters or []}}


def test_a_kql_filter_lets_only_matching_alerts_through_per_alert_actions(default_space, hook, httpserver):
    rule = rule_with(default_space, hook, kql('kibana.alert.instance.id: "db-1" or context.host: web*'))
    run_with(rule, [{"id": "db-1"}, {"id": "db-2"}, {"id": "x", "context": {"host": "web-3"}}])
    assert sorted(b["alert"] for b in bodies(httpserver)) == ["db-1", "x"]
    rule.refresh_from_db()
    assert rule.last_run["alerts_count"]["active"] == 3  # filtered alerts are still alerts


def test_a_kql_filter_narrows_what_a_summary_counts(default_space, hook, httpserver):
    rule = rule_with(
        default_space, hook, kql("kibana.alert.rule.tags: prod and not context.env: dev"), summary=True
    )
    run_with(rule, [{"id": "a", "context": {"env": "dev"}}, {"id": "b"}, {"id": "c"}])
    assert bodies(httpserver) == [{"count": 2}]


def test_a_summary_whose_alerts_are_all_filtered_out_is_not_sent(default_space, hook, httpserver):
    rule = rule_with(default_space, hook, kql("kibana.alert.instance.id: nothing"), summary=True)
    run_with(rule, [{"id": "a"}])
    assert httpserver.log == []


def test_filter_pills_match_phrases_and_negate(default_space, hook, httpserver):
    pills = [
        {"meta": {"negate": True}, "query": {"match_phrase": {"context.env": "dev"}}},
        {"meta": {"disabled": True}, "query": {"match_phrase": {"context.env": "never"}}},
    ]
    rule = rule_with(default_space, hook, kql("", pills))
    run_with(rule, [{"id": "a", "context": {"env": "dev"}}, {"id": "b", "context": {"env": "prod"}}])
    assert [b["alert"] for b in bodies(httpserver)] == ["b"]


@pytest.mark.parametrize(
    ("now", "sent"),
    [
        (MONDAY_10_UTC, True),  # Monday 11:00 in Berlin
        (datetime(2026, 3, 2, 16, 30, tzinfo=UTC), False),  # Monday 17:30 in Berlin: the window ended
        (datetime(2026, 3, 3, 10, 0, tzinfo=UTC), False),  # Tuesday
        (datetime(2026, 3, 1, 23, 30, tzinfo=UTC), True),  # Sunday in UTC, already Monday 00:30 in Berlin
    ],
)
def test_a_timeframe_sends_only_on_its_days_and_hours_in_its_timezone(
    default_space, hook, httpserver, now, sent
):
    timeframe = {"days": [1], "hours": {"start": "00:00", "end": "17:00"}, "timezone": "Europe/Berlin"}
    rule = rule_with(default_space, hook, {"timeframe": timeframe})
    run_with(rule, [{"id": "a"}], now=now)
    assert len(httpserver.log) == (1 if sent else 0)


def test_a_timeframe_across_midnight_covers_the_late_evening_and_the_early_morning(
    default_space, hook, httpserver
):
    timeframe = {
        "days": [1, 2, 3, 4, 5, 6, 7],
        "hours": {"start": "22:00", "end": "06:00"},
        "timezone": "America/New_York",
    }
    rule = rule_with(default_space, hook, {"timeframe": timeframe, **kql("kibana.alert.instance.id: a")})
    run_with(rule, [{"id": "a"}, {"id": "b"}], now=datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # 22:00 New York
    run_with(rule, [{"id": "a"}], now=datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # 07:00 New York
    assert [b["alert"] for b in bodies(httpserver)] == ["a"]


@pytest.mark.parametrize(
    ("local", "inside"),
    [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True), ("05:59", True), ("06:00", False)],
)
def test_the_midnight_window_starts_at_its_start_and_ends_before_its_end(local, inside):
    hours, minutes = map(int, local.split(":"))
    moment = datetime(2026, 6, 10, hours, minutes, tzinfo=UTC)
    timeframe = {"days": [3], "hours": {"start": "22:00", "end": "06:00"}, "timezone": "UTC"}
    assert in_timeframe(timeframe, moment) is inside


def rule_body(hook, alerts_filter, uuid="5b0f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b", rule_type_id=".external"):
    return {
        "name": "router",
        "rule_type_id": rule_type_id,
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "actions": [
            {
                "group": "critical" if rule_type_id == ".external" else "default",
                "id": hook.id,
                "uuid": uuid,
                "params": {},
                "frequency": EVERY_RUN,
                "alerts_filter": alerts_filter,
            }
        ],
    }


def test_an_empty_alerts_filter_is_rejected_with_kibanas_message(api, hook):
    response = api.post("/api/alerting/rule", rule_body(hook, {}), format="json")
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Failed to validate actions due to the following error: Action's alertsFilter  must have "
        'either "query" or "timeframe" : 5b0f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b',
    }


def test_an_invalid_timeframe_hour_is_rejected_by_the_route_schema(api, hook):
    timeframe = {"days": [1], "hours": {"start": "25:00", "end": "06:00"}, "timezone": "UTC"}
    response = api.post("/api/alerting/rule", rule_body(hook, {"timeframe": timeframe}), format="json")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "[request body.actions.0.alerts_filter.timeframe.hours.start]: string is not a valid time in HH:mm format 25:00"
    )


class NoAlertsRuleType(ExternalRuleType):
    """A rule type that writes no alert documents (like Kibana types without alerts-as-data)."""

    type_id = "test.no-alerts"
    name = "No alert documents"
    has_alerts = False

    def run(self, ctx):
        return RunOutcome(alerts={})


@pytest.fixture
def no_alerts_type(settings):
    settings.RULE_TYPES = [*settings.RULE_TYPES, f"{__name__}.NoAlertsRuleType"]
    rule_types.load_from_settings()
    yield
    rule_types._types.clear()


def test_a_rule_type_without_alert_documents_cannot_have_an_alerts_filter(api, hook, no_alerts_type):
    body = rule_body(hook, kql("a: b"), rule_type_id="test.no-alerts")
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Failed to validate actions due to the following error: This ruleType (No alert documents) "
        "can't have an action with Alerts Filter. Actions: [5b0f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b]",
    }
