"""An email action in the rule editor asks for what Kibana's email action form asks for (to, cc, bcc,
subject, message) and nothing as JSON; what a saved rule's action holds beyond those (the footer
link the framework fills, an HTML body, attachments, reply-to) comes back unchanged when the rule
is saved again."""

import pytest

from actions.models import Rule
from connectors.services import create_connector
from tests.actions.test_admin_rule_editor import add_url, threshold_form
from tests.admin.test_plain_inputs import submitted

FOOTER = {"path": "/", "text": "Go to Elastic"}


@pytest.fixture
def mailer(default_space):
    return create_connector(
        default_space,
        name="Ops mail",
        type_id=".email",
        config={"service": "other", "host": "127.0.0.1", "port": 2525, "from": "alerts@example.com"},
        secrets={"user": "u", "password": "marker-secret-e1"},
    )


def email_form(connector_id: str, **params) -> dict:
    data = threshold_form(connector_id)
    del data["action-0-params__body"]
    data.update({f"action-0-params__{key}": value for key, value in params.items()})
    return data


def inputs_of(page: str) -> set[str]:
    return {name for name in submitted(page, "rx-rule-form") if name.startswith("action-0-params__")}


def saved_rule_with(admin_client, mailer, params: dict) -> Rule:
    response = admin_client.post(
        add_url(), email_form(mailer.id, to="ops@example.com", subject="s", message="m")
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    rule.actions[0]["params"] = params  # as the API (or an older Kibana) stored it
    rule.save()
    return rule


def test_an_email_action_asks_for_to_cc_bcc_subject_and_message_and_nothing_as_json(admin_client, mailer):
    page = admin_client.get(add_url() + f"&connector={mailer.id}").content.decode()

    assert inputs_of(page) == {
        "action-0-params__to",
        "action-0-params__cc",
        "action-0-params__bcc",
        "action-0-params__subject",
        "action-0-params__message",
    }
    assert "kibanaFooterLink" not in page
    action = page.split('id="rx-action-0"')[1].split("</section>")[0]
    assert "<textarea" in action and "vLargeTextField code" not in action  # a text area, no JSON


def test_an_email_action_is_saved_from_its_inputs(admin_client, mailer):
    data = email_form(
        mailer.id,
        to="ops@example.com\noncall@example.com",
        cc="",
        bcc="",
        subject="CPU",
        message="{{context.message}}",
    )

    response = admin_client.post(add_url(), data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Rule.objects.get().actions[0]["params"] == {
        "to": ["ops@example.com", "oncall@example.com"],
        "subject": "CPU",
        "message": "{{context.message}}",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"to": ["ops@example.com"], "subject": "CPU", "message": "high", "kibanaFooterLink": FOOTER},
        {
            "to": ["ops@example.com"],
            "cc": ["lead@example.com"],
            "subject": "CPU",
            "message": "high",
            "kibanaFooterLink": {"path": "/app/rules", "text": "See the rule"},
            "messageHTML": "<p>high</p>",
            "attachments": [{"content": "aGk=", "filename": "a.txt", "encoding": "base64"}],
            "replyTo": ["desk@example.com"],
        },
        {
            "to": ["ops@example.com"],
            "cc": [],
            "bcc": [],
            "subject": "CPU",
            "message": "high\n\n- {{context.message}}\n",
            "messageHTML": None,
            "kibanaFooterLink": FOOTER,
        },
    ],
    ids=["kibanas-footer", "everything", "empty-lists-and-a-null"],
)
def test_a_saved_email_action_is_edited_with_its_inputs_and_keeps_what_they_do_not_show(
    admin_client, mailer, params
):
    rule = saved_rule_with(admin_client, mailer, params)

    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    assert inputs_of(page) == {
        "action-0-params__to",
        "action-0-params__cc",
        "action-0-params__bcc",
        "action-0-params__subject",
        "action-0-params__message",
    }
    response = admin_client.post(
        f"/admin/actions/rule/{rule.id}/change/", {**submitted(page, "rx-rule-form"), "_save": "1"}
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Rule.objects.get(pk=rule.pk).actions[0]["params"] == params


def test_an_edited_email_action_changes_what_was_typed_and_keeps_the_rest(admin_client, mailer):
    params = {"to": ["ops@example.com"], "subject": "CPU", "message": "high", "kibanaFooterLink": FOOTER}
    rule = saved_rule_with(admin_client, mailer, params)
    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    data = {**submitted(page, "rx-rule-form"), "_save": "1"}
    data["action-0-params__subject"] = "CPU very high"
    data["action-0-params__to"] = ""
    data["action-0-params__cc"] = "lead@example.com"

    response = admin_client.post(f"/admin/actions/rule/{rule.id}/change/", data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Rule.objects.get(pk=rule.pk).actions[0]["params"] == {
        "cc": ["lead@example.com"],
        "subject": "CPU very high",
        "message": "high",
        "kibanaFooterLink": FOOTER,
    }


def test_a_form_posted_from_the_params_schemas_inputs_is_read_as_such(admin_client, mailer):
    # (what the editor showed before email had its own inputs: an input only that form has tells it)
    data = email_form(
        mailer.id,
        to="ops@example.com",
        subject="CPU",
        message="high",
        kibanaFooterLink='{"path": "/app/rules", "text": "See the rule"}',
        messageHTML="<p>high</p>",
    )

    response = admin_client.post(add_url(), data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Rule.objects.get().actions[0]["params"] == {
        "to": ["ops@example.com"],
        "subject": "CPU",
        "message": "high",
        "messageHTML": "<p>high</p>",
        "kibanaFooterLink": {"path": "/app/rules", "text": "See the rule"},
    }


def test_email_params_no_input_can_show_still_get_the_email_inputs(admin_client, mailer):
    # (a blank recipient, as the API may store it: one per line drops it, in either form)
    params = {"to": ["ops@example.com", ""], "subject": "CPU", "message": "high", "kibanaFooterLink": FOOTER}
    rule = saved_rule_with(admin_client, mailer, params)

    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()

    assert "kibanaFooterLink" not in inputs_of(page) and "action-0-params__to" in inputs_of(page)


def test_an_email_action_whose_kept_params_were_tampered_with_is_refused_on_the_action(admin_client, mailer):
    params = {"to": ["ops@example.com"], "subject": "CPU", "message": "high", "kibanaFooterLink": FOOTER}
    rule = saved_rule_with(admin_client, mailer, params)
    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    data = {**submitted(page, "rx-rule-form"), "_save": "1", "action-0-kept": "[1"}

    response = admin_client.post(f"/admin/actions/rule/{rule.id}/change/", data)

    assert response.status_code == 400
    assert "other parameters could not be read" in response.content.decode()
    assert Rule.objects.get(pk=rule.pk).actions[0]["params"] == params
