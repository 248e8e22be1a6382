"""Editing a connector: a saved secret goes only where it was saved for. When a field that decides
where secrets are sent changes (a URL, an email server, a token URL), every saved secret must be
entered again; otherwise pointing someone's connector at one's own server and pressing Test would
deliver their password. And a connector is only saved (or "fixed") with the secrets its type needs."""

import base64

from django.urls import reverse

from connectors.models import Connector
from connectors.services import create_connector

SECRET = "marker-secret-5f1d8a"
REENTER = "Enter this again: url changes where secrets are sent"


def url(name, *args):
    return reverse(f"admin:connectors_connector_{name}", args=args)


def webhook(space, target="http://127.0.0.1:9/hook"):
    return create_connector(
        space,
        name="Ops hook",
        type_id=".webhook",
        config={"url": target, "method": "post"},
        secrets={"user": "bot-user-7q", "password": SECRET},
    )


def edit(admin_client, connector, **fields):
    data = {"name": connector.name, "config__method": "post", "config__hasAuth": "on", **fields}
    return admin_client.post(url("change", connector.id), data)


def test_changing_the_url_with_blank_secrets_keeps_nothing_and_says_why(
    admin_client, default_space, httpserver
):
    connector = webhook(default_space)

    response = edit(admin_client, connector, config__url=httpserver.url_for("/mine"))
    page = response.content.decode()

    connector.refresh_from_db()
    assert response.status_code == 400
    assert page.count(REENTER) == 2  # on the username and on the password
    assert connector.config["url"] == "http://127.0.0.1:9/hook"
    assert connector.get_secrets() == {**connector.get_secrets(), "user": "bot-user-7q", "password": SECRET}
    assert SECRET not in page


def test_the_moved_connector_cannot_be_tested_against_the_new_server_with_the_old_password(
    admin_client, default_space, httpserver
):
    httpserver.expect_request("/mine").respond_with_data("ok")
    connector = webhook(default_space)

    edit(admin_client, connector, config__url=httpserver.url_for("/mine"))
    admin_client.post(url("test", connector.id), {"params__body": "{}"})

    sent = [request.headers.get("Authorization", "") for request, _ in httpserver.log]
    leaked = base64.b64encode(f"bot-user-7q:{SECRET}".encode()).decode()
    assert not any(leaked in header for header in sent)
    assert not httpserver.log, "the connector still points at its old address"


def test_changing_the_url_with_the_secrets_entered_again_saves(admin_client, default_space):
    connector = webhook(default_space)

    response = edit(
        admin_client,
        connector,
        config__url="http://127.0.0.1:9/new",
        secrets__user="bot-user-7q",
        secrets__password="new-password-1",
    )

    connector.refresh_from_db()
    assert response.status_code == 302
    assert connector.config["url"] == "http://127.0.0.1:9/new"
    assert connector.get_secrets()["password"] == "new-password-1"


def test_a_change_elsewhere_keeps_the_saved_secrets(admin_client, default_space):
    connector = webhook(default_space)

    response = edit(
        admin_client, connector, config__url="http://127.0.0.1:9/hook", config__method="put", name="Renamed"
    )

    connector.refresh_from_db()
    assert response.status_code == 302
    assert connector.config["method"] == "put"
    assert connector.get_secrets()["password"] == SECRET


def test_a_jira_connector_moved_to_another_api_url_needs_its_token_again(admin_client, default_space):
    connector = create_connector(
        default_space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": "http://127.0.0.1:9/", "projectKey": "OPS"},
        secrets={"email": "bot@example.com", "apiToken": SECRET},
    )

    response = admin_client.post(
        url("change", connector.id),
        {"name": "Jira", "config__apiUrl": "http://127.0.0.1:10/", "config__projectKey": "OPS"},
    )

    connector.refresh_from_db()
    assert response.status_code == 400
    assert "Enter this again: apiUrl changes where secrets are sent" in response.content.decode()
    assert connector.config["apiUrl"] == "http://127.0.0.1:9/"


def test_an_email_connector_moved_to_another_host_needs_its_password_again(admin_client, default_space):
    connector = create_connector(
        default_space,
        name="Mail",
        type_id=".email",
        config={"from": "ops@example.com", "host": "127.0.0.1", "port": 25},
        secrets={"user": "ops", "password": SECRET},
    )

    response = admin_client.post(
        url("change", connector.id),
        {
            "name": "Mail",
            "config__service": "other",
            "config__from": "ops@example.com",
            "config__host": "127.0.0.2",
            "config__port": "25",
            "config__hasAuth": "on",
        },
    )

    connector.refresh_from_db()
    assert response.status_code == 400
    assert "Enter this again: host changes where secrets are sent" in response.content.decode()
    assert connector.config["host"] == "127.0.0.1"


def test_an_oauth_webhook_whose_token_url_changes_needs_its_client_secret_again(admin_client, default_space):
    connector = create_connector(
        default_space,
        name="OAuth hook",
        type_id=".webhook",
        config={
            "url": "http://127.0.0.1:9/hook",
            "authType": "webhook-oauth2-client-credentials",
            "accessTokenUrl": "http://127.0.0.1:9/token",
            "clientId": "client-1",
        },
        secrets={"clientSecret": SECRET},
    )

    response = admin_client.post(
        url("change", connector.id),
        {
            "name": "OAuth hook",
            "config__url": "http://127.0.0.1:9/hook",
            "config__method": "post",
            "config__hasAuth": "on",
            "config__authType": "webhook-oauth2-client-credentials",
            "config__accessTokenUrl": "http://127.0.0.1:10/token",
            "config__clientId": "client-1",
        },
    )

    connector.refresh_from_db()
    assert response.status_code == 400
    assert "Enter this again: accessTokenUrl changes where secrets are sent" in response.content.decode()
    assert connector.config["accessTokenUrl"] == "http://127.0.0.1:9/token"


# ---- a connector is saved, and fixed, only with the secrets its type needs ---------------------------


def imported_webhook(space):
    return Connector.objects.create(
        space=space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": "http://127.0.0.1:9/", "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )


def test_fix_with_an_empty_form_is_refused_and_the_connector_stays_missing_secrets(
    admin_client, default_space
):
    connector = imported_webhook(default_space)

    response = admin_client.post(url("fix", connector.id), {"secrets__user": "", "secrets__password": ""})

    connector.refresh_from_db()
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert connector.is_missing_secrets is True


def test_fix_with_a_user_but_no_password_is_refused(admin_client, default_space):
    connector = imported_webhook(default_space)

    response = admin_client.post(url("fix", connector.id), {"secrets__user": "bot"})

    connector.refresh_from_db()
    assert response.status_code == 400
    assert connector.is_missing_secrets is True


def test_fix_of_a_jira_connector_needs_both_its_secrets(admin_client, default_space):
    connector = Connector.objects.create(
        space=default_space,
        name="Imported Jira",
        connector_type_id=".jira",
        config={"apiUrl": "http://127.0.0.1:9/", "projectKey": "OPS"},
        is_missing_secrets=True,
    )

    response = admin_client.post(url("fix", connector.id), {"secrets__email": "bot@example.com"})

    connector.refresh_from_db()
    assert response.status_code == 400
    assert connector.is_missing_secrets is True


def test_creating_a_basic_webhook_without_user_or_password_is_refused_on_the_user_field(
    admin_client, default_space
):
    response = admin_client.post(
        url("add") + "?type=.webhook",
        {
            "type": ".webhook",
            "name": "Hook",
            "config__url": "http://127.0.0.1:9/",
            "config__method": "post",
            "config__hasAuth": "on",
        },
    )

    assert response.status_code == 400
    assert not Connector.objects.filter(name="Hook").exists()
    assert response.context["form"].errors["secrets__user"] == ["This field is required."]
