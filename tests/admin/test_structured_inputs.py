"""The JSON textareas that Kibana's own forms do not have: Swimlane's field mappings are a table
with one row per mapping (field id, key, name, field type), ServiceNow SecOps' IP addresses, hashes
and URLs are one per line. Where Kibana keeps a JSON editor (Jira's other fields, ServiceNow's
additional fields, PagerDuty's custom details, the Index documents) the textarea shows an example
and a mistake is a readable error on the field."""

import html

from django.urls import reverse

from connectors.admin.forms import display_rows, django_field, parse_value, specs_for
from connectors.models import Connector
from connectors.registry import get as get_type
from connectors.services import create_connector
from tests.admin.test_plain_inputs import kinds, submitted

SECRET = "marker-secret-5b7f11"  # must never appear in any page


def url(name, *args):
    return reverse(f"admin:connectors_connector_{name}", args=args)


ALERT_ID = {"id": "a1", "key": "alert-id", "name": "Alert ID", "fieldType": "text"}
RULE_NAME = {"id": "r1", "key": "rule-name", "name": "Rule name", "fieldType": "text"}
COMMENTS = {"id": "c1", "key": "notes", "name": "Notes", "fieldType": "comments"}


def swimlane_form(**mappings):
    data = {
        "type": ".swimlane",
        "name": "Swimlane alerts",
        "config__apiUrl": "http://127.0.0.1:9/api",
        "config__appId": "app-1",
        "config__connectorType": "all",
        "secrets__apiToken": SECRET,
    }
    for row, mapping in mappings.items():
        for key, value in mapping.items():
            data[f"config__mappings__{row}__{key}"] = value
    return data


# ---- which input each one gets ----------------------------------------------------------------


def test_swimlanes_field_mappings_are_not_asked_for_as_json():
    assert kinds(".swimlane")["mappings"] == "mappings"


def test_secops_addresses_hashes_and_urls_are_one_per_line():
    test_kinds = kinds(".servicenow-sir", "test_params_schema", nested=True)
    for key in ("dest_ip", "source_ip", "malware_hash", "malware_url"):
        assert test_kinds[f"subActionParams.incident.{key}"] == "lines", key


def test_the_json_inputs_kibana_also_has_show_an_example(admin_client, default_space):
    for type_id, schema, key in (
        (".pagerduty", "params_schema", "customDetails"),
        (".index", "params_schema", "documents"),
        (".jira", "test_params_schema", "subActionParams.incident.otherFields"),
        (".servicenow", "test_params_schema", "subActionParams.incident.additional_fields"),
        (".webhook", "params_schema", "body"),  # text, in Kibana's JSON editor
        (".tines", "test_params_schema", "subActionParams.body"),
    ):
        spec = next(
            s for s in specs_for(getattr(get_type(type_id), schema), "params", nested=True) if s.key == key
        )
        assert spec.input in ("json", "textarea"), (type_id, key)
        placeholder = django_field(spec).widget.attrs.get("placeholder", "")
        assert placeholder.startswith(("{", "[")) and '"' in placeholder, (type_id, key, placeholder)


# ---- Swimlane: field mappings -----------------------------------------------------------------


def test_swimlane_mappings_are_typed_one_row_per_mapping(admin_client, default_space):
    response = admin_client.post(
        url("add") + "?type=.swimlane", swimlane_form(alertIdConfig=ALERT_ID, commentsConfig=COMMENTS)
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    mappings = Connector.objects.get(name="Swimlane alerts").config["mappings"]
    assert mappings["alertIdConfig"] == ALERT_ID
    assert mappings["commentsConfig"] == COMMENTS
    assert mappings["caseIdConfig"] is None  # a blank row is no mapping, as Kibana's empty select


def test_a_mapping_the_connector_type_does_not_use_is_not_saved(admin_client, default_space):
    case_id = {"id": "k1", "key": "case-id", "name": "Case ID", "fieldType": "text"}
    data = swimlane_form(alertIdConfig=ALERT_ID, caseIdConfig=case_id, commentsConfig=COMMENTS)
    data["config__connectorType"] = "alerts"  # Kibana's form then shows no case fields

    response = admin_client.post(url("add") + "?type=.swimlane", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    mappings = Connector.objects.get(name="Swimlane alerts").config["mappings"]
    assert mappings["caseIdConfig"] is None
    assert mappings["alertIdConfig"] == ALERT_ID and mappings["commentsConfig"] == COMMENTS
    page = admin_client.get(url("add") + "?type=.swimlane").content.decode()
    row = page.split('id="id_config__mappings__caseIdConfig__id"')[0].rsplit("<tr", 1)[1]
    assert (
        'data-shown-when="[[&quot;config__connectorType&quot;, false, [&quot;all&quot;, &quot;cases&quot;]]]"'
        in row
    )


def test_a_swimlane_connector_saved_unchanged_keeps_its_mappings(admin_client, default_space):
    connector = create_connector(
        default_space,
        name="Swimlane alerts",
        type_id=".swimlane",
        config={
            "apiUrl": "http://127.0.0.1:9/api",
            "appId": "app-1",
            "connectorType": "alerts",
            "mappings": {"alertIdConfig": ALERT_ID, "ruleNameConfig": RULE_NAME, "commentsConfig": None},
        },
        secrets={"apiToken": SECRET},
    )
    stored = Connector.objects.get(pk=connector.pk).config

    page = admin_client.get(url("change", connector.id)).content.decode()
    data = submitted(page)
    response = admin_client.post(url("change", connector.id), {**data, "_save": "1"})

    assert data["config__mappings__ruleNameConfig__key"] == "rule-name"
    assert data["config__mappings__commentsConfig__id"] == ""
    form_html = page.split('id="cx-connector-form"')[1]
    assert "&quot;fieldType&quot;" not in form_html  # no JSON
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Connector.objects.get(pk=connector.pk).config == stored
    assert SECRET not in page
    shown = dict(
        (key, text)
        for _label, key, text in display_rows(
            specs_for(get_type(".swimlane").config_schema, "config"), stored
        )
    )
    assert shown["mappings"] == "Rule name field: Rule name (rule-name); Alert id field: Alert ID (alert-id)"


def test_a_half_filled_mapping_is_an_error_on_its_row(admin_client, default_space):
    data = swimlane_form(alertIdConfig={"id": "a1", "key": "alert-id", "name": "", "fieldType": "text"})

    response = admin_client.post(url("add") + "?type=.swimlane", data)
    page = response.content.decode()

    assert response.status_code == 400
    field = page.split('id="id_config__mappings"')[1]
    assert "Alert id field: enter the name." in field.split("cx-help")[0]
    assert "Traceback" not in page and SECRET not in page
    assert not Connector.objects.exists()


# ---- ServiceNow SecOps: addresses one per line ------------------------------------------------


def secops_spec(key):
    schema = get_type(".servicenow-sir").test_params_schema
    return next(s for s in specs_for(schema, "params", nested=True) if s.key.endswith(f".{key}"))


def test_one_address_is_sent_as_text_and_several_as_a_list():
    spec = secops_spec("dest_ip")
    assert parse_value(spec, "10.0.0.1\n") == "10.0.0.1"
    assert parse_value(spec, "10.0.0.1\n\n10.0.0.2") == ["10.0.0.1", "10.0.0.2"]


# ---- the JSON inputs Kibana keeps: readable errors on the field --------------------------------


def test_a_list_where_jira_wants_other_fields_is_an_error_on_that_field(admin_client, default_space):
    connector = create_connector(
        default_space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": "http://127.0.0.1:9", "projectKey": "OPS"},
        secrets={"email": "a@example.com", "apiToken": SECRET},
    )
    data = {
        "params__subAction": "pushToService",
        "params__subActionParams__incident__summary": "Disk full",
        "params__subActionParams__incident__otherFields": '["customfield_10010"]',
    }

    response = admin_client.post(url("test", connector.id), data)
    page = response.content.decode()

    field = page.split('id="id_params__subActionParams__incident__otherFields"')[1].split("cx-help")[0]
    assert "Enter a JSON object, not a list." in field
    assert "Traceback" not in page and SECRET not in page


# ---- the rule editor: a pushToService action's inputs -------------------------------------------


def jira_connector(space):
    return create_connector(
        space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": "http://127.0.0.1:9", "projectKey": "OPS"},
        secrets={"email": "a@example.com", "apiToken": SECRET},
    )


def test_a_rules_jira_action_asks_for_the_issue_field_by_field(admin_client, default_space):
    from actions.models import Rule
    from tests.actions.test_admin_rule_editor import add_url, threshold_form

    jira = jira_connector(default_space)
    data = threshold_form(jira.id)
    del data["action-0-params__body"]
    data.update(
        {
            "action-0-params__subAction": "pushToService",
            "action-0-params__subActionParams__incident__summary": "{{context.message}}",
            "action-0-params__subActionParams__incident__labels": "cpu\nprod",
            "action-0-params__subActionParams__incident__otherFields": '{"customfield_10010": "ops"}',
            "action-0-params__subActionParams__comments__0__comment": "Rule {{rule.name}} fired",
        }
    )

    response = admin_client.post(add_url(), data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    params = rule.actions[0]["params"]
    assert params == {
        "subAction": "pushToService",
        "subActionParams": {
            "incident": {
                "summary": "{{context.message}}",
                "labels": ["cpu", "prod"],
                "otherFields": {"customfield_10010": "ops"},
            },
            "comments": [{"comment": "Rule {{rule.name}} fired", "commentId": "1"}],
        },
    }

    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    assert 'name="action-0-params__subActionParams"' not in page  # no JSON textarea
    preview = html.unescape(page.split("data-preview aria-live")[1].split("</pre>")[0])
    assert '"summary": "' in preview and '"comment": "Rule cpu high fired"' in preview, preview
    data = {**submitted(page, "rx-rule-form"), "_save": "1"}
    assert data["action-0-params__subActionParams__incident__summary"] == "{{context.message}}"
    response = admin_client.post(f"/admin/actions/rule/{rule.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Rule.objects.get(pk=rule.pk).actions[0]["params"] == params


def test_a_jira_action_the_inputs_cannot_show_stays_json_and_is_kept(admin_client, default_space):
    from actions.models import Rule
    from tests.actions.test_admin_rule_editor import add_url, threshold_form

    jira = jira_connector(default_space)
    data = threshold_form(jira.id)
    del data["action-0-params__body"]
    data.update({"action-0-params__subAction": "pushToService"})
    params = {
        "subAction": "pushToService",
        "subActionParams": {"incident": {"summary": "x", "priority": None}},
    }
    data["action-0-params__subActionParams__incident__summary"] = "x"
    response = admin_client.post(add_url(), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    rule.actions[0]["params"] = params  # (as the API may store it: a null the inputs cannot show)
    rule.save()

    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    assert 'name="action-0-params__subActionParams"' in page
    response = admin_client.post(
        f"/admin/actions/rule/{rule.id}/change/", {**submitted(page, "rx-rule-form"), "_save": "1"}
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Rule.objects.get(pk=rule.pk).actions[0]["params"] == params


def test_a_rules_slack_api_and_opsgenie_actions_round_trip_through_their_inputs(admin_client, default_space):
    from actions.models import Rule
    from tests.actions.test_admin_rule_editor import add_url, threshold_form

    slack = create_connector(
        default_space, name="Slack", type_id=".slack_api", config={}, secrets={"token": SECRET}
    )
    genie = create_connector(
        default_space,
        name="Genie",
        type_id=".opsgenie",
        config={"apiUrl": "http://127.0.0.1:9"},
        secrets={"apiKey": SECRET},
    )
    data = threshold_form(slack.id)
    del data["action-0-params__body"]
    data.update(
        {
            "action-0-params__subAction": "postMessage",
            "action-0-params__subActionParams__channelIds": "C0123ABCD",
            "action-0-params__subActionParams__text": "{{context.message}}",
            "actions": ["0", "1"],
            "action-1-connector": genie.id,
            "action-1-group": "threshold met",
            "action-1-summary": "false",
            "action-1-notify_when": "onActionGroupChange",
            "action-1-throttle_unit": "h",
            "action-1-params__subAction": "createAlert",
            "action-1-params__subActionParams__message": "{{rule.name}}",
            "action-1-params__subActionParams__priority": "P2",
            "action-1-params__subActionParams__tags": "cpu\nprod",
        }
    )

    response = admin_client.post(add_url(), data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    slack_params, genie_params = (action["params"] for action in rule.actions)
    assert slack_params == {
        "subAction": "postMessage",
        "subActionParams": {"channelIds": ["C0123ABCD"], "text": "{{context.message}}"},
    }
    assert genie_params == {
        "subAction": "createAlert",
        "subActionParams": {"message": "{{rule.name}}", "priority": "P2", "tags": ["cpu", "prod"]},
    }
    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    assert 'params__subActionParams"' not in page  # no JSON textarea
    # (the reader keeps one value per name: the two actions' indexes are given here)
    data = {**submitted(page, "rx-rule-form"), "actions": ["0", "1"], "_save": "1"}
    response = admin_client.post(f"/admin/actions/rule/{rule.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert [a["params"] for a in Rule.objects.get(pk=rule.pk).actions] == [slack_params, genie_params]
