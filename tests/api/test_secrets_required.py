"""Which secrets a webhook needs. The API follows Kibana's schema: no secrets at all, or one whole
combination (user and password; crt and key; pfx; clientSecret). The admin's forms (create, edit and
Fix) also require the chosen authentication's secrets, as Kibana's connector form does
(`WebhookConnector.check_form_secrets`; the admin tests are in tests/admin/test_secret_destinations.py)."""

import pytest

from connectors import registry
from connectors.models import Connector

URL = "http://127.0.0.1:9/hook"


def create(api, config, secrets):
    return api.post(
        "/api/actions/connector",
        {"name": "hook", "connector_type_id": ".webhook", "config": config, "secrets": secrets},
        format="json",
    )


@pytest.mark.django_db
def test_the_api_saves_a_webhook_without_secrets_as_kibana_does(api):
    response = create(api, {"url": URL, "hasAuth": True, "authType": "webhook-authentication-basic"}, {})
    assert response.status_code == 200, response.json()
    assert response.json()["is_missing_secrets"] is False
    assert create(api, {"url": URL}, {}).status_code == 200


@pytest.mark.django_db
def test_a_user_without_a_password_is_kibanas_combination_error(api):
    response = create(api, {"url": URL, "hasAuth": True}, {"user": "bot"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "error validating action type secrets: must specify one of the following schemas: user and "
        "password; crt and key (with optional password); pfx (with optional password); or clientSecret "
        "(for OAuth2)"
    )
    assert not Connector.objects.exists()


@pytest.mark.django_db
def test_a_webhook_without_authentication_needs_no_secrets(api):
    response = create(api, {"url": URL, "hasAuth": False, "authType": None}, {})
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("config", "secrets", "problem"),
    [
        ({"hasAuth": True, "authType": "webhook-authentication-basic"}, {}, "[user] is required"),
        ({"hasAuth": True, "authType": None}, {"user": "u"}, "[password] is required"),
        (
            {"hasAuth": True, "authType": "webhook-authentication-ssl", "certType": "ssl-crt-key"},
            {},
            "[crt] is required",
        ),
        (
            {"hasAuth": True, "authType": "webhook-authentication-ssl", "certType": "ssl-pfx"},
            {},
            "[pfx] is required",
        ),
        (
            {"hasAuth": True, "authType": "webhook-oauth2-client-credentials"},
            {},
            "[clientSecret] is required",
        ),
        ({"hasAuth": True, "authType": "webhook-authentication-basic"}, {"user": "u", "password": "p"}, None),
        ({"hasAuth": False, "authType": None}, {}, None),
    ],
)
def test_the_admin_forms_require_the_chosen_authentications_secrets(config, secrets, problem):
    assert registry.get(".webhook").check_form_secrets({"url": URL, **config}, secrets) == problem
