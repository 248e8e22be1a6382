"""The rule editor (actions/admin_rule_editor.py): rules made from forms, validated by the API's code."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from actions.models import Alert, Rule
from actions.rule_runner import run_rule
from actions.rules import create_rule
from connectors.models import SpacePrivilege
from connectors.services import create_connector
from tests.actions.helpers import add_documents, make_webhook, threshold_rule_body
from tests.actions.rule_editor_forms import editor_form

ADD = "/admin/actions/rule/add/"


def change_url(rule) -> str:
    return f"/admin/actions/rule/{rule.id}/change/"


@pytest.fixture
def admin(db, superuser, default_space):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def hook(default_space):
    return make_webhook(default_space, "http://127.0.0.1:9/hook", name="Ops webhook")


def threshold_form(connector_id=None, **overrides) -> dict:
    """What the browser posts for an Index threshold rule with one webhook action."""
    data = {
        "space": "default",
        "rule_type": ".index-threshold",
        "name": "cpu high",
        "tags": "cpu, prod",
        "schedule_value": "1",
        "schedule_unit": "m",
        "rule-params__index": "metrics",
        "rule-params__timeField": "@timestamp",
        "rule-params__aggType": "count",
        "rule-params__groupBy": "all",
        "rule-params__thresholdComparator": ">",
        "rule-params__threshold": "2",
        "rule-params__timeWindowSize": "5",
        "rule-params__timeWindowUnit": "m",
        "_save": "1",
    }
    if connector_id:
        data.update(
            {
                "actions": "0",
                "action-0-connector": connector_id,
                "action-0-group": "threshold met",
                "action-0-summary": "false",
                "action-0-notify_when": "onActionGroupChange",
                "action-0-throttle_unit": "h",
                "action-0-params__body": '{"text": "{{context.message}}"}',
            }
        )
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def add_url(rule_type=".index-threshold", space="default") -> str:
    return f"{ADD}?rule_type={rule_type}&space={space}"


def test_the_add_page_lists_the_rule_types(admin):
    page = admin.get(ADD).content.decode()
    assert 'data-rule-type=".index-threshold"' in page
    assert 'data-rule-type=".external"' in page


def test_the_index_threshold_form_has_an_input_per_param_and_no_json(admin, hook):
    page = admin.get(add_url()).content.decode()
    for key in (
        "index",
        "timeField",
        "aggType",
        "groupBy",
        "thresholdComparator",
        "threshold",
        "timeWindowSize",
    ):
        assert f'name="rule-params__{key}"' in page
    assert "null" not in page.split('id="rx-rule-form"')[1].split("</form>")[0]
    assert f'value="{hook.id}"' in page and "Ops webhook" in page  # the connector picker
    assert '<option value="&gt;" selected>IS ABOVE</option>' in page  # the rule type's words for its values
    assert '<option value="m">minutes</option>' in page


def shown_when_of(page: str, name: str):
    """The `data-shown-when` conditions on the `.cx-field` wrapper of one input (None: always shown)."""
    at = page.index(f'name="{name}"')
    wrapper = page[page.rindex('<div class="cx-field', 0, at) : at]
    found = re.search(r'data-shown-when="([^"]*)"', wrapper)
    return json.loads(html.unescape(found.group(1))) if found else None


def test_params_schema_fields_say_which_choice_of_another_param_shows_them(admin):
    page = admin.get(add_url()).content.decode()
    assert shown_when_of(page, "rule-params__aggField") == [
        ["rule-params__aggType", False, ["avg", "min", "max", "sum"]]
    ]
    for name in ("rule-params__termField", "rule-params__termSize"):
        assert shown_when_of(page, name) == [["rule-params__groupBy", False, ["top"]]]
    for key in ("index", "timeField", "aggType", "groupBy", "threshold", "timeWindowUnit"):
        assert shown_when_of(page, f"rule-params__{key}") is None
    form_tag = re.search(r'<form[^>]*id="rx-rule-form"[^>]*>', page, re.S).group(0)
    assert "data-shown-when" not in form_tag  # one mechanism: the fields', not a form-level table


def test_a_param_its_choice_hides_is_still_saved_as_kibanas_rule_form_keeps_it(admin, hook):
    form = threshold_form(hook.id, **{"rule-params__aggField": "cpu.pct", "rule-params__termSize": "3"})
    response = admin.post(add_url(), form)  # aggType count and groupBy all hide both
    assert response.status_code == 302, response.content.decode()[-3000:]
    params = Rule.objects.get().params
    assert params["aggType"] == "count" and params["aggField"] == "cpu.pct"
    assert params["groupBy"] == "all" and params["termSize"] == 3


def test_an_admin_creates_an_index_threshold_rule_with_an_action(admin, hook):
    response = admin.post(add_url(), threshold_form(hook.id))
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    assert response["Location"] == change_url(rule)
    assert rule.params == {
        "index": ["metrics"],
        "timeField": "@timestamp",
        "aggType": "count",
        "groupBy": "all",
        "thresholdComparator": ">",
        "threshold": [2],
        "timeWindowSize": 5,
        "timeWindowUnit": "m",
    }
    assert rule.tags == ["cpu", "prod"] and rule.schedule_interval == "1m"
    assert rule.consumer == "alerts" and rule.enabled and rule.created_by == "elastic"
    [action] = rule.actions
    assert action["id"] == hook.id and action["group"] == "threshold met" and action["uuid"]
    assert action["frequency"] == {"summary": False, "notify_when": "onActionGroupChange", "throttle": None}
    assert action["params"] == {"body": '{"text": "{{context.message}}"}'}


def test_an_external_rule_is_created_with_no_params_at_all(admin, hook):
    page = admin.get(add_url(".external")).content.decode()
    assert "This rule type has no parameters." in page
    data = threshold_form(hook.id, rule_type=".external", **{"action-0-group": "critical"})
    data = {k: v for k, v in data.items() if not k.startswith("rule-params__")}
    response = admin.post(add_url(".external"), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    assert rule.rule_type_id == ".external" and rule.params == {}
    assert rule.actions[0]["group"] == "critical"


def test_editing_keeps_the_action_uuid_and_what_the_editor_does_not_show(admin, default_space, hook):
    body = threshold_rule_body(hook.id)
    body["actions"][0]["alerts_filter"] = {
        "query": {"kql": "kibana.alert.instance.id: host-1", "filters": []}
    }
    rule = create_rule(default_space, body, user="elastic")
    uuid = rule.actions[0]["uuid"]
    page = admin.get(change_url(rule)).content.decode()
    assert 'value="cpu high"' in page and 'value="cpu"' in page
    assert f'name="action-0-uuid" value="{uuid}"' in page
    assert "{{context.message}}" in page

    data = editor_form({**body, "actions": [{**body["actions"][0], "uuid": uuid}]}, name="cpu very high")
    data["rule-params__threshold"] = "5"
    response = admin.post(change_url(rule), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule.refresh_from_db()
    assert rule.name == "cpu very high" and rule.params["threshold"] == [5]
    assert rule.actions[0]["uuid"] == uuid
    assert rule.actions[0]["alerts_filter"]["query"]["kql"] == "kibana.alert.instance.id: host-1"
    assert rule.revision == 1 and rule.updated_by == "elastic"


def test_a_legacy_rule_level_frequency_becomes_each_actions_own(admin, default_space, hook):
    body = threshold_rule_body(hook.id, notify_when="onThrottleInterval", throttle="1h")
    del body["actions"][0]["frequency"]
    rule = create_rule(default_space, body, user="elastic")
    page = admin.get(change_url(rule)).content.decode()
    assert 'value="onThrottleInterval" selected' in page
    form = editor_form(
        {
            **body,
            "actions": [
                {**rule.actions[0], "frequency": {"notify_when": "onThrottleInterval", "throttle": "1h"}}
            ],
        }
    )
    response = admin.post(change_url(rule), form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule.refresh_from_db()
    assert rule.notify_when is None and rule.throttle is None
    assert rule.actions[0]["frequency"] == {
        "summary": False,
        "notify_when": "onThrottleInterval",
        "throttle": "1h",
    }


def errors_of(response) -> dict:
    """`{input name: [messages]}` from the page's field errors (`<ul id="id_<name>_error">`), plus the
    action-level errors under `action-<n>`."""
    import html
    import re

    page = html.unescape(response.content.decode())
    found = {}
    for name, body in re.findall(r'<ul class="cx-errors" id="id_([^"]+)_error">(.*?)</ul>', page, re.S):
        found[name] = re.findall(r"<li>(.*?)</li>", body, re.S)
    for index, body in re.findall(
        r'id="rx-action-(\d+)".*?<ul class="cx-errors rx-action-errors">(.*?)</ul>', page, re.S
    ):
        found[f"action-{index}"] = re.findall(r"<li>(.*?)</li>", body, re.S)
    return found


def test_a_missing_time_field_is_shown_on_its_input(admin, hook):
    response = admin.post(add_url(), threshold_form(hook.id, **{"rule-params__timeField": ""}))
    assert response.status_code == 400
    assert errors_of(response)["rule-params__timeField"] == ["This field is required."]
    assert not Rule.objects.exists()


def test_the_rule_types_own_checks_land_on_the_field_they_name(admin, hook):
    cases = [
        (
            {"rule-params__aggType": "avg"},
            "rule-params__aggField",
            'must have a value when [aggType] is "avg"',
        ),
        (
            {"rule-params__thresholdComparator": "between"},
            "rule-params__threshold",
            'must have two elements for the "between" comparator',
        ),
        (
            {"rule-params__groupBy": "top"},
            "rule-params__termField",
            "termField required when [groupBy] is top",
        ),
        (
            {"rule-params__timeWindowSize": "0"},
            "rule-params__timeWindowSize",
            "Enter a number of at least 1.",
        ),
    ]
    for overrides, field, message in cases:
        response = admin.post(add_url(), threshold_form(hook.id, **overrides))
        assert response.status_code == 400
        assert message in " ".join(errors_of(response).get(field, [])), (field, errors_of(response))
    assert not Rule.objects.exists()


def test_a_throttle_shorter_than_the_schedule_is_shown_on_the_throttle(admin, hook):
    response = admin.post(
        add_url(),
        threshold_form(
            hook.id,
            schedule_value="1",
            schedule_unit="h",
            **{
                "action-0-notify_when": "onThrottleInterval",
                "action-0-throttle_value": "10",
                "action-0-throttle_unit": "m",
            },
        ),
    )
    assert response.status_code == 400
    assert errors_of(response)["action-0-throttle_value"] == [
        "Action frequency cannot be shorter than the schedule interval of 1h."
    ]


def test_a_custom_interval_needs_its_throttle(admin, hook):
    response = admin.post(
        add_url(), threshold_form(hook.id, **{"action-0-notify_when": "onThrottleInterval"})
    )
    assert errors_of(response)["action-0-throttle_value"] == ["Enter how often the action may run."]


def test_name_schedule_and_required_action_params_are_checked(admin, default_space, hook):
    server_log = create_connector(
        default_space, name="Audit log", type_id=".server-log", config={}, secrets={}
    )
    data = threshold_form(server_log.id, name="", schedule_value="0")
    data.pop("action-0-params__body")
    response = admin.post(add_url(), data)
    errors = errors_of(response)
    assert errors["name"] == ["This field is required."]
    assert errors["schedule_value"] == ["Ensure this value is greater than or equal to 1."]
    assert errors["action-0-params__message"] == ["This field is required."]


def test_an_action_whose_connector_has_no_secrets_is_refused_on_the_action(admin, default_space, hook):
    hook.is_missing_secrets = True
    hook.save()
    response = admin.post(add_url(), threshold_form(hook.id))
    assert response.status_code == 400
    assert errors_of(response)["action-0"] == [
        "This connector has no secrets: use Fix on the connector first."
    ]


def test_adding_and_removing_actions_without_javascript_keeps_what_was_typed(admin, default_space, hook):
    server_log = create_connector(
        default_space, name="Audit log", type_id=".server-log", config={}, secrets={}
    )
    data = threshold_form(hook.id, name="typed name", _save=None, _add_action=server_log.id)
    response = admin.post(add_url(), data)
    page = response.content.decode()
    assert response.status_code == 200 and not Rule.objects.exists()
    assert 'value="typed name"' in page
    assert 'name="action-1-params__message"' in page and "{{context.message}}" in page
    assert "cx-errors" not in page  # not a save: nothing is judged yet

    data = threshold_form(hook.id, _save=None, _remove_action="0")
    page = admin.post(add_url(), data).content.decode()
    assert 'name="action-0-connector"' not in page
    assert "No actions: the rule" in page


def test_the_preview_renders_the_message_with_sample_values(admin, hook):
    data = threshold_form(hook.id, _save=None, _refresh="1")
    data["action-0-params__body"] = (
        "{{rule.name}} / {{context.group}} / {{alert.actionGroupName}} / {{rule.params.threshold}}"
    )
    page = admin.post(add_url(), data).content.decode()
    assert "cpu high / host-1 / Threshold met / 2" in page

    data["preview"] = "0"
    answer = admin.post("/admin/actions/rule/preview/", data).json()
    assert answer == {"preview": "cpu high / host-1 / Threshold met / 2"}


def test_a_summary_preview_has_the_alert_counts(admin, hook):
    data = threshold_form(hook.id, **{"action-0-summary": "true", "preview": "0"})
    data["action-0-params__body"] = "{{alerts.new.count}} new, {{alerts.all.count}} in all"
    assert admin.post("/admin/actions/rule/preview/", data).json() == {"preview": "1 new, 1 in all"}


def test_the_variables_menu_lists_the_rule_types_variables(admin, hook):
    page = admin.post(add_url(), threshold_form(hook.id, _save=None, _refresh="1")).content.decode()
    for name in (
        "context.message",
        "context.value",
        "rule.params.threshold",
        "rule.name",
        "alert.id",
        "alerts.new.count",
    ):
        assert f'data-variable="{name}"' in page


# ---- spaces and privileges ------------------------------------------------------------------------


@pytest.fixture
def reader(db, default_space, other_space, django_user_model):
    """`read` in the default space, `all` in Marketing."""
    user = django_user_model.objects.create_user("reader", "", "reader-password-1", is_staff=True)
    SpacePrivilege.objects.create(space=default_space, user=user, privilege="read")
    SpacePrivilege.objects.create(space=other_space, user=user, privilege="all")
    client = Client()
    client.force_login(user)
    return client


def test_a_get_of_a_rule_change_route_goes_back_to_the_rule_page_and_changes_nothing(
    admin, reader, default_space, hook
):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    for route in ("snooze", "mute", "enable"):
        for client in (admin, reader):
            response = client.get(f"/admin/actions/rule/{rule.id}/{route}/", {"enabled": "0"})
            assert response.status_code == 302 and response["Location"] == change_url(rule), route
    rule.refresh_from_db()
    assert rule.enabled is True and rule.snooze_schedule == [] and rule.mute_all is False


def test_a_read_user_sees_the_rule_but_cannot_create_edit_snooze_or_mute(reader, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    assert reader.get(f"{ADD}?space=default").status_code == 403
    assert reader.post(add_url(), threshold_form(hook.id)).status_code == 403
    page = reader.get(change_url(rule)).content.decode()
    assert "cpu high" in page and 'id="rx-rule-form"' not in page
    assert "Your privilege in the space Default is read" in page
    assert (
        "<dt>Threshold</dt><dd>IS ABOVE</dd>" in page and "<dt>Indices to query</dt><dd>metrics</dd>" in page
    )
    assert 'id="rx-snooze-form"' not in page and 'id="rx-mute-form"' not in page
    assert reader.post(change_url(rule), editor_form(threshold_rule_body(hook.id))).status_code == 403
    assert reader.post(f"/admin/actions/rule/{rule.id}/snooze/", {"duration": "1h"}).status_code == 403
    assert reader.post(f"/admin/actions/rule/{rule.id}/mute/", {"mute_all": "1"}).status_code == 403
    assert reader.post(f"/admin/actions/rule/{rule.id}/enable/", {"enabled": "0"}).status_code == 403
    rule.refresh_from_db()
    assert rule.snooze_schedule == [] and rule.mute_all is False and rule.enabled is True
    assert Rule.objects.count() == 1


def test_the_editor_offers_only_readable_spaces_and_only_their_connectors(
    reader, default_space, other_space, hook
):
    create_connector(other_space, name="Marketing hook", type_id=".server-log", config={}, secrets={})
    page = reader.get(add_url(space=other_space.id)).content.decode()
    assert "Marketing hook" in page and "Ops webhook" not in page
    assert '<option value="marketing" selected>' in page
    assert '<option value="default" disabled>Default (read only)</option>' in page.replace("\n", "")
    # a connector of another space is not found from this one: refused on the action
    data = threshold_form(hook.id, space=other_space.id)
    response = reader.post(add_url(space=other_space.id), data)
    assert errors_of(response)["action-0"] == [f"The connector {hook.id} does not exist in this space."]
    assert not Rule.objects.exists()


def test_a_rule_in_a_space_the_user_cannot_read_is_not_found(
    db, default_space, hook, django_user_model, other_space
):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    outsider = django_user_model.objects.create_user("outsider", "", "outsider-password-1", is_staff=True)
    SpacePrivilege.objects.create(space=other_space, user=outsider, privilege="all")
    client = Client()
    client.force_login(outsider)
    assert client.get(change_url(rule)).status_code == 404
    assert client.post(f"/admin/actions/rule/{rule.id}/snooze/", {"duration": "1h"}).status_code == 404
    response = client.get(add_url(space="default"))  # falls back to the space the user may read
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="marketing"' in page and 'value="default"' not in page


# ---- the rule's page ------------------------------------------------------------------------------


def test_the_rule_page_shows_alerts_and_mutes_them(admin, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id, group_by="host"), user="elastic")
    add_documents("metrics", [{"host": "web-1"}] * 3, at=timezone.now() - timedelta(seconds=30))
    run_rule(rule.id)
    page = admin.get(change_url(rule) + "?tab=alerts").content.decode()
    assert 'data-alert-id="web-1"' in page

    response = admin.post(f"/admin/actions/rule/{rule.id}/mute/", {"alert_id": "web-1", "mute": "1"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.muted_alert_ids == ["web-1"]
    admin.post(f"/admin/actions/rule/{rule.id}/mute/", {"alert_id": "web-1", "mute": "0"})
    admin.post(f"/admin/actions/rule/{rule.id}/mute/", {"mute_all": "1"})
    rule.refresh_from_db()
    assert rule.muted_alert_ids == [] and rule.mute_all is True
    assert "Unmute all alerts" in admin.get(change_url(rule)).content.decode()
    assert (
        admin.post(f"/admin/actions/rule/{rule.id}/mute/", {"alert_id": "nope", "mute": "1"}).status_code
        == 404
    )
    assert Alert.objects.filter(rule=rule).count() == 1


def test_the_rule_page_snoozes_and_cancels_a_snooze(admin, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    admin.post(f"/admin/actions/rule/{rule.id}/snooze/", {"duration": "8h"})
    rule.refresh_from_db()
    [schedule] = rule.snooze_schedule
    assert schedule["duration"] == 8 * 3600 * 1000
    page = admin.get(change_url(rule)).content.decode()
    assert 'id="rx-snoozed-badge"' in page and f'value="{schedule["id"]}"' in page
    admin.post(f"/admin/actions/rule/{rule.id}/snooze/", {"unsnooze": schedule["id"]})
    rule.refresh_from_db()
    assert rule.snooze_schedule == []
    admin.post(f"/admin/actions/rule/{rule.id}/snooze/", {"duration": "forever"})
    rule.refresh_from_db()
    assert rule.snooze_schedule == []


def test_the_rule_page_shows_its_execution_log(admin, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=timezone.now() - timedelta(seconds=30))
    run_rule(rule.id)
    page = admin.get(change_url(rule) + "?tab=log").content.decode()
    assert 'data-outcome="success"' in page
    assert "1 run(s) in the last 30 days." in page


def test_an_empty_connector_rules_tab_links_to_create_a_rule_with_it(admin, hook):
    page = admin.get(f"/admin/connectors/connector/{hook.id}/rules/").content.decode()
    link = f"/admin/actions/rule/add/?space=default&amp;connector={hook.id}"
    assert link in page
    grid = admin.get(link.replace("&amp;", "&")).content.decode()
    assert f"connector={hook.id}" in grid
    editor = admin.get(f"{add_url()}&connector={hook.id}").content.decode()
    assert f'name="action-0-connector" value="{hook.id}"' in editor


def test_the_rule_page_disables_and_enables_the_rule(admin, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    assert admin.post(f"/admin/actions/rule/{rule.id}/enable/", {"enabled": "0"}).status_code == 302
    rule.refresh_from_db()
    assert rule.enabled is False and rule.next_run_at is None
    page = admin.get(change_url(rule)).content.decode()
    assert 'name="enabled" value="1"' in page
    admin.post(f"/admin/actions/rule/{rule.id}/enable/", {"enabled": "1"})
    rule.refresh_from_db()
    assert rule.enabled is True and rule.next_run_at is not None


def test_the_editor_schemas_name_exactly_the_params_the_rule_types_accept():
    from actions.rule_types import connector_failures, index_threshold

    assert set(index_threshold.IndexThresholdRuleType.params_schema.fields) == set(index_threshold.KEYS)
    assert set(connector_failures.ConnectorFailuresRuleType.params_schema.fields) == set(
        connector_failures.KEYS
    )


def test_a_rule_type_without_a_params_schema_is_edited_as_one_json_object(admin, hook, monkeypatch):
    from actions.rule_types.connector_failures import ConnectorFailuresRuleType

    monkeypatch.setattr(ConnectorFailuresRuleType, "params_schema", None)
    url = add_url(".connector-failures")
    assert 'name="rule-params____whole__"' in admin.get(url).content.decode()
    data = {
        key: value
        for key, value in threshold_form(hook.id, rule_type=".connector-failures").items()
        if not key.startswith("rule-params__")
    }
    data["action-0-group"] = "failing"
    data["rule-params____whole__"] = '{"timeWindowSize": 5, "timeWindowUnit": "x"}'
    response = admin.post(url, data)
    assert errors_of(response)["rule-params____whole__"] == ['[timeWindowUnit]: invalid timeWindowUnit: "x"']
    data["rule-params____whole__"] = '{"timeWindowSize": 5, "timeWindowUnit": "m"}'
    assert admin.post(url, data).status_code == 302
    assert Rule.objects.get().params == {
        "connectorIds": [],
        "threshold": 1,
        "timeWindowSize": 5,
        "timeWindowUnit": "m",
    }


def test_a_connector_with_sub_actions_offers_them_as_a_select(admin, default_space):
    opsgenie = create_connector(
        default_space,
        name="Paging",
        type_id=".opsgenie",
        config={"apiUrl": "http://127.0.0.1:9/"},
        secrets={"apiKey": "an-api-key"},
    )
    data = threshold_form(_save=None, _add_action=opsgenie.id)
    page = admin.post(add_url(), data).content.decode()
    assert '<select name="action-0-params__subAction"' in page
    # (createAlert is chosen: the default of the Test tab's inputs, which Opsgenie's actions use)
    assert '<option value="createAlert" selected>createAlert</option>' in page
    assert '<option value="closeAlert">closeAlert</option>' in page
    assert "an-api-key" not in page
