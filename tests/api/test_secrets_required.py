"""A connector is saved only with the secrets its authentication needs: a Basic webhook needs a user
and a password, a certificate one its certificate, an OAuth2 one its client secret. The same
validators run on create, update and the admin's Fix (one place validates: connectors.services)."""

import pytest

from connectors.models import Connector

URL = "http://127.0.0.1:9/hook"


def create(api, config, secrets):
    return api.post(
        "/api/actions/connector",
        {"name": "hook", "connector_type_id": ".webhook", "config": config, "secrets": secrets},
        format="json",
    )


def refused(message):
    return {"statusCode": 400, "error": "Bad Request", "message": message}


@pytest.mark.django_db
def test_a_basic_webhook_without_user_or_password_is_refused(api):
    response = create(api, {"url": URL, "hasAuth": True, "authType": "webhook-authentication-basic"}, {})
    assert response.status_code == 400
    assert response.json() == refused("error validating action type connector: [user] is required")
    assert not Connector.objects.exists()


@pytest.mark.django_db
def test_a_webhook_that_defaults_to_basic_auth_needs_its_credentials_too(api):
    response = create(api, {"url": URL}, {})
    assert response.json() == refused("error validating action type connector: [user] is required")


@pytest.mark.django_db
def test_a_user_without_a_password_is_kibanas_combination_error(api):
    response = create(api, {"url": URL, "hasAuth": True}, {"user": "bot"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "error validating action type secrets: must specify one of the following schemas: user and "
        "password; crt and key (with optional password); pfx (with optional password); or clientSecret "
        "(for OAuth2)"
    )


@pytest.mark.django_db
def test_a_certificate_webhook_needs_its_certificate(api):
    response = create(
        api,
        {"url": URL, "hasAuth": True, "authType": "webhook-authentication-ssl", "certType": "ssl-crt-key"},
        {},
    )
    assert response.json() == refused("error validating action type connector: [crt] is required")


@pytest.mark.django_db
def test_an_oauth2_webhook_needs_its_client_secret(api):
    config = {
        "url": URL,
        "hasAuth": True,
        "authType": "webhook-oauth2-client-credentials",
        "accessTokenUrl": "http://127.0.0.1:9/token",
        "clientId": "c",
    }
    response = create(api, config, {})
    assert response.json() == refused("error validating action type connector: [clientSecret] is required")


@pytest.mark.django_db
def test_a_webhook_without_authentication_needs_no_secrets(api):
    response = create(api, {"url": URL, "hasAuth": False, "authType": None}, {})
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_an_update_of_an_imported_webhook_without_its_secrets_leaves_it_missing_secrets(api, default_space):
    connector = Connector.objects.create(
        space=default_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": URL, "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )
    response = api.put(
        f"/api/actions/connector/{connector.id}",
        {"name": "Imported hook", "config": {"url": URL, "hasAuth": True}, "secrets": {}},
        format="json",
    )
    connector.refresh_from_db()
    assert response.json() == refused("error validating action type connector: [user] is required")
    assert connector.is_missing_secrets is True
    response = api.put(
        f"/api/actions/connector/{connector.id}",
        {
            "name": "Imported hook",
            "config": {"url": URL, "hasAuth": True},
            "secrets": {"user": "u", "password": "p"},
        },
        format="json",
    )
    connector.refresh_from_db()
    assert response.status_code == 200
    assert connector.is_missing_secrets is False
