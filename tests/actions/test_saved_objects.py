"""Rules as `alert` saved objects: Kibana's export rewrite and disabled import."""

import json
import re
from datetime import UTC, datetime

import pytest

from actions import rule_types
from actions.rules import create_rule
from actions.saved_objects import import_warning, rule_from_saved_object, rule_to_saved_object
from tests.actions.helpers import make_webhook, threshold_rule_body
from tests.shared_fixtures import KIBANA_FIXTURES

FIXTURE = KIBANA_FIXTURES / "export-7.14-alerts-actions.ndjson"


def test_export_rewrites_the_rule_as_kibana_does(default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    line = rule_to_saved_object(rule, moment)
    attributes = line["attributes"]
    assert line["type"] == "alert" and line["id"] == rule.id
    assert (
        attributes["enabled"] is False
        and attributes["apiKey"] is None
        and attributes["scheduledTaskId"] is None
    )
    assert attributes["executionStatus"] == {
        "error": None,
        "lastExecutionDate": "2024-01-02T03:04:05.000Z",
        "status": "pending",
    }
    assert attributes["actions"][0]["actionRef"] == "action_0"
    assert attributes["actions"][0]["actionTypeId"] == ".webhook"
    assert attributes["actions"][0]["frequency"]["notifyWhen"] == "onActiveAlert"
    assert line["references"] == [{"id": hook.id, "name": "action_0", "type": "action"}]


def test_the_7_14_index_threshold_rule_imports_disabled(default_space):
    lines = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    alerts = [line for line in lines if line.get("type") == "alert"]
    threshold = next(a for a in alerts if a["attributes"]["alertTypeId"] == ".index-threshold")
    rule = rule_from_saved_object(default_space, threshold)
    assert rule.enabled is False and rule.next_run_at is None
    assert len(rule.actions) == 9 and rule.actions[0]["id"] == threshold["references"][0]["id"]
    assert rule.notify_when == "onActionGroupChange"
    unsupported = next(a for a in alerts if a["attributes"]["alertTypeId"] == "logs.alert.document.count")
    with pytest.raises(
        rule_types.RuleTypeNotRegistered,
        match=re.escape('Rule type "logs.alert.document.count" is not registered.'),
    ):
        rule_from_saved_object(default_space, unsupported)
    assert import_warning(1)["message"] == "1 rule must be enabled after the import."
    assert import_warning(9)["message"] == "9 rules must be enabled after the import."


def test_later_rule_fields_survive_an_export_and_import(api, hook, other_space):
    import io

    from actions.models import Rule

    body = {
        "name": "round trip",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "alert_delay": {"active": 3},
        "flapping": {"look_back_window": 10, "status_change_threshold": 3},
        "actions": [
            {
                "group": "critical",
                "id": hook.id,
                "params": {},
                "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
                "alerts_filter": {"query": {"kql": 'host: "db-1"', "filters": []}},
            }
        ],
    }
    rule_id = api.post("/api/alerting/rule", body, format="json").json()["id"]
    snoozed = api.post(
        f"/api/alerting/rule/{rule_id}/snooze_schedule",
        {"schedule": {"custom": {"start": "2030-01-01T00:00:00.000Z", "duration": "1h"}}},
        format="json",
    )
    assert snoozed.status_code == 200, snoozed.content
    original = Rule.objects.get(pk=rule_id)

    exported = api.post(
        "/api/saved_objects/_export",
        {"objects": [{"type": "alert", "id": rule_id}], "includeReferencesDeep": True},
        format="json",
    )
    line = next(json.loads(text) for text in exported.content.decode().splitlines() if '"alert"' in text)
    assert line["attributes"]["alertDelay"] == {"active": 3}
    assert line["attributes"]["flapping"] == {"lookBackWindow": 10, "statusChangeThreshold": 3}
    assert line["attributes"]["snoozeSchedule"] == original.snooze_schedule
    assert line["attributes"]["actions"][0]["alertsFilter"]["query"]["kql"] == 'host: "db-1"'

    upload = io.BytesIO(exported.content)
    upload.name = "export.ndjson"
    imported = api.post(
        f"/s/{other_space.id}/api/saved_objects/_import?createNewCopies=true",
        {"file": upload},
        format="multipart",
    )
    assert imported.json()["success"] is True, imported.content
    copy = Rule.objects.get(space=other_space)
    assert copy.alert_delay == {"active": 3}
    assert copy.flapping == {"look_back_window": 10, "status_change_threshold": 3}
    assert copy.snooze_schedule == original.snooze_schedule
    assert copy.actions[0]["alerts_filter"] == {"query": {"kql": 'host: "db-1"', "filters": []}}
    assert copy.actions[0]["id"] != hook.id  # the connector came along as a new copy too
