"""Ids outlive their objects: a rule or connector id deleted in one space can be taken again in
another (rules and connectors are multiple-isolated saved objects, unique only while they exist).
The event log keeps the old object's runs, so everything that reads it by id must also read it by
space, as Kibana's event-log client does (`kibana.saved_objects.namespace`); otherwise whoever takes
the id in their own space reads the other space's history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from actions import worker
from actions.models import Rule
from actions.rule_runner import run_rule
from actions.rules import create_rule
from tests.actions.helpers import add_documents, make_webhook, threshold_rule_body
from tests.api.conftest import client_for, grant, make_user

DATES = "date_start=2020-01-01T00:00:00.000Z&date_end=2100-01-01T00:00:00.000Z"


@pytest.fixture
def attacker(db, default_space, other_space):
    """Holds `all` in the default space and nothing in `marketing`."""
    user = make_user("mallory")
    grant(user, "default", "all")
    return client_for(user, "basic")


def _run_and_delete_in_marketing(other_space, httpserver, rule_id: str) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hook = make_webhook(other_space, httpserver.url_for("/hook"))
    rule = create_rule(
        other_space, threshold_rule_body(hook.id, name="marketing payroll"), rule_id=rule_id, user="elastic"
    )
    add_documents("metrics", [{}] * 3, at=timezone.now() - timedelta(seconds=30))
    run_rule(rule.id)
    worker.run_pending()
    Rule.objects.filter(pk=rule.id).delete()


def test_a_rule_id_taken_again_in_another_space_does_not_show_the_old_rules_runs(
    attacker, default_space, other_space, httpserver
):
    _run_and_delete_in_marketing(other_space, httpserver, "ops-rule")
    quiet = make_webhook(default_space, "http://127.0.0.1:9/hook")
    taken = attacker.post(
        "/api/alerting/rule/ops-rule", threshold_rule_body(quiet.id, enabled=False), format="json"
    )
    assert taken.status_code == 200, taken.json()

    log = attacker.get(f"/internal/alerting/rule/ops-rule/_execution_log?{DATES}")
    assert log.status_code == 200
    assert log.json() == {"total": 0, "data": []}
    kpi = attacker.get(f"/internal/alerting/rule/ops-rule/_execution_kpi?{DATES}").json()
    assert kpi["success"] == 0 and kpi["triggeredActions"] == 0 and kpi["activeAlerts"] == 0
