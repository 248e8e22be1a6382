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


@pytest.mark.skipif(not FIXTURE.exists(), reason="shared fixtures not present")
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
