"""The connector form as Kibana's flyout: fields follow the choices, enumerated values have words,
every problem shows at once on its field, and a name has a sane length everywhere."""

import logging

from django.urls import reverse

from connectors.models import Connector
from connectors.services import create_connector

SECRET = "typed-secret-4c1e"
ADD = reverse("admin:connectors_connector_add")


def url(name, *args):
    return reverse(f"admin:connectors_connector_{name}", args=args)


def field_html(page, name):
    """The `.cx-field` wrapper of one input."""
    at = page.index(f'name="{name}"')
    return page[page.rindex('<div class="cx-field', 0, at) : at]


def test_webhook_fields_say_which_authentication_shows_them(admin_client):
    page = admin_client.get(ADD, {"type": ".webhook"}).content.decode()

    assert "data-shown-when" not in field_html(page, "config__url")
    assert "config__hasAuth" in field_html(page, "config__authType")
    assert "webhook-authentication-basic" in field_html(page, "secrets__user")
    assert "webhook-authentication-ssl" in field_html(page, "secrets__crt")
    assert "ssl-pfx" in field_html(page, "secrets__pfx")
    assert "webhook-oauth2-client-credentials" in field_html(page, "secrets__clientSecret")
    assert "webhook-oauth2-client-credentials" in field_html(page, "config__accessTokenUrl")


def test_enumerated_values_have_human_labels(admin_client):
    page = admin_client.get(ADD, {"type": ".webhook"}).content.decode()

    assert '<option value="webhook-authentication-basic" selected>Basic authentication</option>' in page
    assert '<option value="ssl-crt-key" selected>CRT and KEY file</option>' in page
    assert '<option value="post" selected>POST</option>' in page
    assert ">webhook-authentication-basic<" not in page


def test_certificates_are_chosen_with_a_file_input(admin_client):
    page = admin_client.get(ADD, {"type": ".webhook"}).content.decode()

    for name in ("secrets__crt", "secrets__key", "secrets__pfx", "config__ca"):
        assert f'type="file" class="cx-file" data-base64-for="id_{name}"' in page


def test_the_email_service_is_a_select_and_server_fields_follow_it(admin_client):
    page = admin_client.get(ADD, {"type": ".email"}).content.decode()

    assert '<select name="config__service"' in page
    assert '<option value="gmail">Gmail</option>' in page
    assert '[["config__service", false, ["other"]]]' in field_html(page, "config__host").replace(
        "&quot;", '"'
    )
    assert "exchange_server" in field_html(page, "config__tenantId")
    assert "Create an Email connector" in page


def test_all_problems_show_at_once_each_on_its_field(admin_client, default_space):
    response = admin_client.post(
        ADD + "?type=.webhook",
        {
            "type": ".webhook",
            "name": "",
            "config__url": "",
            "config__hasAuth": "on",
            "config__authType": "webhook-authentication-basic",
        },
    )
    page = response.content.decode()

    assert response.status_code == 400
    for name in ("name", "config__url", "secrets__user", "secrets__password"):
        assert f'id="id_{name}_error"' in page, name
    assert not Connector.objects.exists()


def test_an_email_connector_for_gmail_saves_no_server_and_checks_the_sender(admin_client, default_space):
    data = {
        "type": ".email",
        "name": "Mail",
        "config__service": "gmail",
        "config__host": "smtp.example.org",  # typed under "Other", then Gmail chosen
        "config__hasAuth": "on",
        "secrets__user": "bot",
        "secrets__password": SECRET,
    }

    refused = admin_client.post(ADD + "?type=.email", {**data, "config__from": "gmial.com"})
    saved = admin_client.post(ADD + "?type=.email", {**data, "config__from": "Alerts <alerts@example.org>"})

    assert refused.status_code == 400
    assert 'id="id_config__from_error"' in refused.content.decode()
    assert saved.status_code == 302
    connector = Connector.objects.get()
    assert connector.config["service"] == "gmail"
    assert connector.config["host"] is None


def test_editing_a_no_auth_webhook_does_not_claim_an_authentication(admin_client, default_space):
    connector = create_connector(
        default_space,
        name="Open hook",
        type_id=".webhook",
        config={"url": "http://127.0.0.1:9/", "hasAuth": False},
        secrets={},
    )

    form = admin_client.get(url("change", connector.id)).content.decode()
    view = admin_client.get(url("view", connector.id))  # what a `read` user sees

    assert "config__hasAuth" in field_html(form, "config__authType")  # hidden while auth is off
    assert 'id="id_config__hasAuth" checked' not in form
    assert view.status_code == 302  # the superuser edits; the read-only view is checked below
    from connectors.admin.forms import display_rows, specs_for
    from connectors.registry import get

    connector.refresh_from_db()
    rows = display_rows(specs_for(get(".webhook").config_schema, "config"), connector.config)
    assert "authType" not in [key for _label, key, _value in rows]
    assert ("Method", "method", "POST") in rows


def test_a_name_longer_than_255_characters_is_refused_by_the_admin_and_the_api(admin_client, default_space):
    name = "n" * 256
    admin = admin_client.post(ADD + "?type=.server-log", {"type": ".server-log", "name": name})
    api = admin_client.post(
        "/api/actions/connector",
        {"name": name, "connector_type_id": ".server-log", "config": {}, "secrets": {}},
        content_type="application/json",
        HTTP_KBN_XSRF="true",
    )

    assert admin.status_code == 400
    assert "Enter at most 255 characters" in admin.content.decode()
    assert api.status_code == 400
    assert api.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body.name]: value has length [256] but it must have a maximum length of [255].",
    }
    assert not Connector.objects.exists()


def test_renaming_through_the_api_has_the_same_limit(admin_client, default_space):
    connector = create_connector(default_space, name="Log", type_id=".server-log", config={}, secrets={})

    response = admin_client.put(
        f"/api/actions/connector/{connector.id}",
        {"name": "n" * 300, "config": {}, "secrets": {}},
        content_type="application/json",
        HTTP_KBN_XSRF="true",
    )

    assert response.status_code == 400
    assert "value has length [300] but it must have a maximum length of [255]." in response.json()["message"]


def test_a_5_mb_name_gives_a_form_error_not_a_bare_400(admin_client, default_space, caplog):
    with caplog.at_level(logging.WARNING):
        response = admin_client.post(
            ADD + "?type=.server-log", {"type": ".server-log", "name": "x" * 5_000_000}, follow=True
        )
    page = response.content.decode()

    assert response.redirect_chain[0][1] == 302
    assert response.status_code == 400
    assert 'id="id_name_error"' in page and "The form was too large to be read" in page
    assert "Create a Server log connector" in page
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not Connector.objects.exists()


def test_help_texts_are_sentences(admin_client, default_space, httpserver):
    connector = create_connector(
        default_space,
        name="Chat",
        type_id=".slack",
        config={},
        secrets={"webhookUrl": httpserver.url_for("/hook")},
    )
    page = admin_client.get(url("change", connector.id)).content.decode()

    assert "Slack incoming webhook URL. A value is saved; leave blank to keep it." in page
    assert httpserver.url_for("/hook") not in page


def test_an_empty_bulk_delete_is_a_warning(admin_client, default_space):
    response = admin_client.post(url("bulk_delete"), {}, follow=True)

    messages = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert messages == [("warning", "Select at least one connector to delete.")]


def test_a_lockout_is_told_in_minutes():
    from connectors.login_limits import Lockout

    assert Lockout(900).message == "Too many failed login attempts. Try again in 15 minutes."
    assert Lockout(61).message.endswith("Try again in 2 minutes.")
    assert Lockout(1).message.endswith("Try again in 1 second.")


def test_the_login_page_does_not_ask_for_a_staff_account(client, db):
    response = client.post("/admin/login/", {"username": "nobody", "password": "wrong-password-1"})

    page = response.content.decode()
    assert "Please enter the correct username and password." in page
    assert "staff" not in page.lower()


def test_a_missing_username_is_said_once_on_its_field_not_also_as_a_combination_rule(admin_client, db):
    response = admin_client.post(
        ADD + "?type=.webhook",
        {
            "type": ".webhook",
            "name": "Hook",
            "config__url": "http://127.0.0.1:9/",
            "config__hasAuth": "on",
            "config__authType": "webhook-authentication-basic",
            "secrets__password": SECRET,
        },
    )
    page = response.content.decode()

    assert 'id="id_secrets__user_error"' in page
    assert "must specify one of the following schemas" not in page
