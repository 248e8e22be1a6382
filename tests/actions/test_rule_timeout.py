"""Kibana's rule task timeout (`rule_task_timeout`, `xpack.alerting.rules.run.timeout`,
`xpack.alerting.rules.run.ruleTypeOverrides`): a run whose executor outlives it is cancelled."""

import time

import pytest

from actions import rule_types
from actions.models import ActionRun, Alert, Rule
from actions.rule_runner import run_rule
from actions.rule_types import ReportedAlert, RunOutcome
from actions.rule_types.external import ExternalRuleType
from actions.rules import create_rule
from eventlog.models import Event

DATES = "date_start=2020-01-01T00:00:00.000Z&date_end=2100-01-01T00:00:00.000Z"


class SlowRuleType(ExternalRuleType):
    """Reports one alert, but only after the framework has marked the run as timed out (or 10 s)."""

    type_id = "test.slow"
    name = "Slow"
    seen_while_running: list = []

    def run(self, ctx):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = Rule.objects.get(pk=ctx.rule.pk).execution_status
            if status.get("status") == "error":
                self.seen_while_running.append(status)
                break
            time.sleep(0.05)
        return RunOutcome(alerts={"a": ReportedAlert("default")})


@pytest.fixture
def slow_type(settings):
    settings.RULE_TYPES = [*settings.RULE_TYPES, f"{__name__}.SlowRuleType"]
    rule_types.load_from_settings()
    SlowRuleType.seen_while_running = []
    yield
    rule_types._types.clear()


def _slow_rule(space, hook):
    body = {
        "name": "slow one",
        "rule_type_id": "test.slow",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "params": {},
        "actions": [
            {
                "group": "default",
                "id": hook.id,
                "params": {"body": "{{alert.id}}"},
                "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
            }
        ],
    }
    return create_rule(space, body, user="elastic")


def test_a_run_that_outlives_the_rule_type_timeout_is_cancelled_with_reason_timeout(
    transactional_db, default_space, hook, slow_type, kibana_settings
):
    kibana_settings.set(
        {"xpack.alerting.rules.run.ruleTypeOverrides": [{"id": "test.slow", "timeout": "1s"}]}
    )
    rule = _slow_rule(default_space, hook)

    run_rule(rule.id)

    message = f"test.slow:{rule.id}: execution cancelled due to timeout - exceeded rule type timeout of 1s"
    # Reported when the timeout passed, while the executor was still running (TaskRunner.cancel).
    (seen,) = SlowRuleType.seen_while_running
    assert seen["error"] == {"reason": "timeout", "message": message}
    rule.refresh_from_db()
    assert rule.execution_status["status"] == "error"
    assert rule.execution_status["error"] == {"reason": "timeout", "message": message}
    assert rule.last_run == {
        "outcome": "failed",
        "outcome_order": 20,
        "outcome_msg": [message],
        "warning": "timeout",
        "alerts_count": {},
    }
    assert rule.running is False
    # What the executor returned afterwards is dropped: no alert, no action (cancelAlertsOnRuleTimeout).
    assert not Alert.objects.filter(rule=rule).exists()
    assert not ActionRun.objects.exists()
    timeout_event = Event.objects.get(provider="alerting", action="execute-timeout")
    assert timeout_event.message == (
        f"rule: test.slow:{rule.id}: 'slow one' execution cancelled due to timeout - "
        "exceeded rule type timeout of 1s"
    )
    execute = Event.objects.get(provider="alerting", action="execute")
    run_uuid = execute.document["kibana"]["alert"]["rule"]["execution"]["uuid"]
    assert timeout_event.document["kibana"]["alert"]["rule"]["execution"]["uuid"] == run_uuid


def test_the_rule_execution_log_says_timed_out_for_a_cancelled_run_only(
    transactional_db, api, default_space, hook, slow_type, kibana_settings
):
    kibana_settings.set({"xpack.alerting.rules.run.timeout": "1s"})
    rule = _slow_rule(default_space, hook)
    run_rule(rule.id)
    kibana_settings.set({})
    run_rule(rule.id)  # the default 5m: this run completes

    body = api.get(
        f'/internal/alerting/rule/{rule.id}/_execution_log?{DATES}&sort=[{{"timestamp":{{"order":"asc"}}}}]'
    ).json()

    assert [row["timed_out"] for row in body["data"]] == [True, False]


def test_rule_types_report_the_configured_rule_task_timeout(api, kibana_settings, slow_type):
    def timeouts():
        return {t["id"]: t["rule_task_timeout"] for t in api.get("/api/alerting/rule_types").json()}

    assert timeouts()[".index-threshold"] == "5m"
    kibana_settings.set(
        {
            "xpack.alerting.rules.run.timeout": "2m",
            "xpack.alerting.rules.run.ruleTypeOverrides": [{"id": "test.slow", "timeout": "30s"}],
        }
    )
    assert timeouts()[".index-threshold"] == "2m"
    assert timeouts()["test.slow"] == "30s"
