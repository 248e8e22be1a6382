"""Flapping (Kibana §5.6) in real rule runs: alerts reported through the `.external` rule type, actions
delivered by `actions.worker` to a local HTTP server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from actions import worker
from actions.models import Alert, Rule
from actions.rule_runner import run_rule
from actions.rule_types.external import report_alerts
from actions.rules import create_rule
from tests.actions.helpers import bodies

EVERY_RUN = {"summary": False, "notify_when": "onActiveAlert", "throttle": None}


def external_rule(space, hook, *, flapping=None, actions=None):
    body = {
        "name": "router",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "actions": actions
        or [
            {
                "group": "default",
                "id": hook.id,
                "params": {"body": '{"active": "{{alert.id}}", "flapping": {{alert.flapping}}}'},
                "frequency": EVERY_RUN,
            },
            {
                "group": "recovered",
                "id": hook.id,
                "params": {"body": '{"recovered": "{{alert.id}}"}'},
                "frequency": EVERY_RUN,
            },
        ],
    }
    if flapping is not None:
        body["flapping"] = flapping
    return create_rule(space, body, user="elastic")


def step(rule, matching: bool, minute: int):
    """One rule run in which the alert `db-1` is (or is no longer) reported."""
    rule.refresh_from_db()
    report_alerts(rule, [{"id": "db-1", "action_group": "default" if matching else "recovered"}])
    Rule.objects.filter(pk=rule.pk).update(state=rule.state)
    run_rule(rule.id, now=timezone.now() + timedelta(minutes=minute))
    worker.run_pending()
    rule.refresh_from_db()
    return rule.last_run["alerts_count"]


def test_an_alert_that_keeps_changing_status_becomes_flapping_and_stays_active_until_it_settles(
    default_space, hook, httpserver
):
    rule = external_rule(default_space, hook, flapping={"look_back_window": 6, "status_change_threshold": 3})
    step(rule, True, 0)  # change 1
    step(rule, False, 1)  # change 2: not flapping yet, recovers normally
    step(rule, True, 2)  # change 3: flapping
    assert bodies(httpserver) == [
        {"active": "db-1", "flapping": False},
        {"recovered": "db-1"},
        {"active": "db-1", "flapping": True},
    ]
    # It stops matching: kept active ("pending recovered") and not notified for two runs ...
    assert step(rule, False, 3) == {"active": 1, "new": 0, "recovered": 0, "ignored": 0}
    assert step(rule, False, 4) == {"active": 1, "new": 0, "recovered": 0, "ignored": 0}
    assert len(httpserver.log) == 3
    assert Alert.objects.get(rule=rule).flapping is True
    # ... and recovers on the third run in a row without a match.
    assert step(rule, False, 5) == {"active": 0, "new": 0, "recovered": 1, "ignored": 0}
    assert bodies(httpserver)[3:] == [{"recovered": "db-1"}]
    assert Alert.objects.get(rule=rule).flapping is False


def test_a_pending_recovered_alert_that_matches_again_stays_the_same_alert(default_space, hook, httpserver):
    rule = external_rule(default_space, hook, flapping={"look_back_window": 10, "status_change_threshold": 3})
    for minute, matching in enumerate([True, False, True, False]):  # the last run starts pending recovery
        step(rule, matching, minute)
    uuid_before = Alert.objects.get(rule=rule).uuid
    assert step(rule, True, 4) == {"active": 1, "new": 0, "recovered": 0, "ignored": 0}
    alert = Alert.objects.get(rule=rule)
    assert alert.uuid == uuid_before and alert.pending_recovered_count == 0 and alert.flapping is True
    assert bodies(httpserver)[-1] == {"active": "db-1", "flapping": True}


def test_with_the_default_settings_the_fourth_status_change_makes_an_alert_flap(
    default_space, hook, httpserver
):
    rule = external_rule(default_space, hook)  # no override: look-back 20, threshold 4
    step(rule, True, 0)
    step(rule, False, 1)
    step(rule, True, 2)
    assert Alert.objects.get(rule=rule).flapping is False
    assert step(rule, False, 3) == {"active": 1, "new": 0, "recovered": 0, "ignored": 0}
    assert Alert.objects.get(rule=rule).flapping is True


def test_an_alert_stops_flapping_once_its_changes_leave_the_look_back_window(default_space, hook, httpserver):
    rule = external_rule(default_space, hook, flapping={"look_back_window": 4, "status_change_threshold": 2})
    step(rule, True, 0)  # change 1
    step(rule, False, 1)  # change 2: flapping, so it stays active pending recovery
    step(rule, True, 2)  # change 3: matching again
    flags = []
    for minute in range(3, 7):
        step(rule, True, minute)
        flags.append(Alert.objects.get(rule=rule).flapping)
    assert flags == [True, True, False, False]
    assert bodies(httpserver)[-1] == {"active": "db-1", "flapping": False}


def test_pending_recovered_alerts_notify_only_group_change_actions_and_stay_out_of_summaries(
    default_space, hook, httpserver
):
    actions = [
        {
            "group": "default",
            "id": hook.id,
            "params": {"body": '{"change": "{{alert.id}}"}'},
            "frequency": {"summary": False, "notify_when": "onActionGroupChange", "throttle": None},
        },
        {
            "group": "default",
            "id": hook.id,
            "params": {"body": '{"summary": {{alerts.all.count}}}'},
            "frequency": {"summary": True, "notify_when": "onActiveAlert", "throttle": None},
        },
    ]
    rule = external_rule(
        default_space, hook, flapping={"look_back_window": 5, "status_change_threshold": 2}, actions=actions
    )
    step(rule, True, 0)
    assert bodies(httpserver) == [{"change": "db-1"}, {"summary": 1}]
    assert step(rule, False, 1) == {"active": 1, "new": 0, "recovered": 0, "ignored": 0}
    assert len(httpserver.log) == 2  # pending: no group change, and the summary is empty


def _or_null(inner: str, problem: str) -> str:
    return (
        "[request body.flapping]: types that failed validation:\n"
        f"- [request body.{inner}]: {problem}\n"
        "- [request body.flapping.1]: expected value to equal [null]"
    )


@pytest.mark.parametrize(
    ("flapping", "message"),
    [
        # create body: flapping is schema.maybe(schema.nullable(flappingSchema)), and flappingSchema's
        # validate runs inside it: every failure is listed under the nullable union
        (
            {"look_back_window": 21, "status_change_threshold": 4},
            _or_null("flapping.0.look_back_window", "Value must be equal to or lower than [20]."),
        ),
        (
            {"look_back_window": 5, "status_change_threshold": 1},
            _or_null("flapping.0.status_change_threshold", "Value must be equal to or greater than [2]."),
        ),
        (
            {"look_back_window": 3, "status_change_threshold": 4},
            _or_null(
                "flapping.0", "lookBackWindow (3) must be equal to or greater than statusChangeThreshold (4)"
            ),
        ),
    ],
)
def test_a_flapping_override_out_of_range_is_rejected_with_kibanas_message(api, hook, flapping, message):
    body = {
        "name": "router",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "actions": [],
        "flapping": flapping,
    }
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


def test_a_valid_flapping_override_is_returned_on_get(api, hook):
    body = {
        "name": "router",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "actions": [],
        "flapping": {"look_back_window": 10, "status_change_threshold": 3},
    }
    rule_id = api.post("/api/alerting/rule", body, format="json").json()["id"]
    got = api.get(f"/api/alerting/rule/{rule_id}").json()
    assert got["flapping"] == {"look_back_window": 10, "status_change_threshold": 3}
