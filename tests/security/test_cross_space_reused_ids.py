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


def test_a_connector_id_taken_again_in_another_space_does_not_count_the_old_connectors_failures(
    attacker, default_space, other_space, httpserver
):
    httpserver.expect_request("/x").respond_with_data("nope", status=500)
    owner = client_for(make_user("boss", superuser=True), "basic")
    hook = {"name": "hook", "connector_type_id": ".webhook", "config": {"url": httpserver.url_for("/x")}}
    hook["config"]["hasAuth"] = False
    assert owner.post("/s/marketing/api/actions/connector/ops-hook", hook, format="json").status_code == 200
    for _ in range(2):
        owner.post(
            "/s/marketing/api/actions/connector/ops-hook/_execute", {"params": {"body": "{}"}}, format="json"
        )
    assert owner.delete("/s/marketing/api/actions/connector/ops-hook").status_code == 204

    log = {"name": "mine", "connector_type_id": ".server-log"}
    assert attacker.post("/api/actions/connector/ops-hook", log, format="json").status_code == 200
    one = attacker.get("/api/actions/connector/ops-hook?include_health=true").json()
    assert one["failures_last_24h"] == 0
    listed = {c["id"]: c for c in attacker.get("/api/actions/connectors?include_health=true").json()}
    assert listed["ops-hook"]["failures_last_24h"] == 0


def test_the_admin_event_list_names_an_old_runs_connector_only_from_the_runs_own_space(
    default_space, other_space, django_user_model
):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from connectors.models import Connector, SpacePrivilege
    from tests.eventlog.factories import run_events

    run_events(
        connector_id="ops-hook",
        type_id=".server-log",
        name="old hook",
        space="marketing",
        outcome="failure",
        error="boom",
    )
    # The id was marketing's, then deleted there and taken in the default space.
    taken = Connector(
        space=default_space, id="ops-hook", name="Project Nightingale", connector_type_id=".server-log"
    )
    taken.set_secrets({})
    taken.save()
    reader = django_user_model.objects.create_user("reader", "", "reader-password-1", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_event"))
    SpacePrivilege.objects.create(space=other_space, user=reader, privilege="read")
    client = Client()
    client.force_login(reader)

    for url in ("/admin/eventlog/event/", "/admin/"):
        page = client.get(url)
        assert page.status_code == 200
        assert "Project Nightingale" not in page.content.decode(), url


def test_a_connector_failures_rule_names_its_spaces_old_connector_not_anothers_with_the_same_id(
    default_space, other_space
):
    from datetime import UTC, datetime

    from actions import rule_types
    from connectors.models import Connector
    from tests.eventlog.factories import run_events

    # `ops-hook` failed in the default space, was deleted there and taken in marketing.
    run_events(connector_id="ops-hook", name="old hook", outcome="failure", error="boom")
    taken = Connector(
        space=other_space, id="ops-hook", name="Project Nightingale", connector_type_id=".server-log"
    )
    taken.set_secrets({})
    taken.save()
    rule = Rule(id="watch", space=default_space, name="watch", rule_type_id=".connector-failures")
    rule_type = rule_types.get(".connector-failures")
    params = rule_type.validate_params({"threshold": 1, "timeWindowSize": 1, "timeWindowUnit": "h"})
    outcome = rule_type.run(rule_types.RunContext(rule=rule, params=params, now=datetime.now(UTC), state={}))

    context = outcome.alerts["ops-hook"].context
    assert context["connectorName"] == "ops-hook"
    assert "Project Nightingale" not in context["message"] + context["title"]
