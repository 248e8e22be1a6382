"""The rules admin: create through the form with the API's validation, list, and act on rules."""

from actions.models import Rule
from tests.actions.helpers import make_webhook, threshold_rule_body
from tests.actions.rule_editor_forms import editor_form, editor_url


def form_data(space, body, **overrides):
    return editor_form(
        body, space.id, **overrides
    )  # the rule editor's fields (tests/actions/rule_editor_forms.py)


def test_an_admin_creates_a_rule_validated_like_the_api(client, superuser, default_space):
    client.force_login(superuser)
    assert client.get("/admin/actions/rule/add/").status_code == 200
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    body = threshold_rule_body(hook.id)
    response = client.post(editor_url(body), form_data(default_space, body))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get()
    assert rule.actions[0]["uuid"] and rule.params["groupBy"] == "all"
    assert rule.created_by == "elastic" and rule.next_run_at is not None
    listing = client.get("/admin/actions/rule/")
    assert "cpu high" in listing.content.decode()
    assert client.get(f"/admin/actions/rule/{rule.id}/change/").status_code == 200


def test_the_admin_shows_kibanas_action_errors(client, superuser, default_space):
    client.force_login(superuser)
    body = threshold_rule_body("missing-connector")
    response = client.post(editor_url(body), form_data(default_space, body))
    assert response.status_code == 400
    assert "The connector missing-connector does not exist in this space." in response.content.decode()
    assert not Rule.objects.exists()


def test_admin_actions_disable_and_enable_rules(client, superuser, default_space):
    client.force_login(superuser)
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    client.post(
        editor_url(threshold_rule_body(hook.id)), form_data(default_space, threshold_rule_body(hook.id))
    )
    rule = Rule.objects.get()
    client.post("/admin/actions/rule/", {"action": "disable_rules", "_selected_action": [rule.id]})
    rule.refresh_from_db()
    assert rule.enabled is False and rule.next_run_at is None
    client.post("/admin/actions/rule/", {"action": "enable_rules", "_selected_action": [rule.id]})
    rule.refresh_from_db()
    assert rule.enabled is True
    assert client.get("/admin/actions/actionrun/").status_code == 200
