"""`.xmatters` against a local server playing an xMatters flow trigger."""

import base64
import json

import pytest

from actions.services import execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db


def basic(space, httpserver):
    return make_connector(
        space,
        ".xmatters",
        config={
            "configUrl": httpserver.url_for("/api/integration/1/functions/abc/triggers"),
            "usesBasic": True,
        },
        secrets={"user": "kibana", "password": SECRET},
    )


def test_basic_auth_posts_the_payload_to_the_config_url(default_space, httpserver):
    httpserver.expect_request("/api/integration/1/functions/abc/triggers", method="POST").respond_with_json(
        {"requestId": "r"}, status=202
    )
    params = {"severity": "critical", "signalId": "rule:alert", "ruleName": "CPU", "tags": "prod"}
    result = execute(basic(default_space, httpserver), params)
    assert result.status == "ok"
    assert result.data == {
        "signalId": "rule:alert",
        "ruleName": "CPU",
        "severity": "critical",
        "tags": "prod",
    }
    request, _ = httpserver.log[0]
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f"kibana:{SECRET}".encode()).decode()
    )
    assert json.loads(request.get_data()) == {
        "signalId": "rule:alert",
        "ruleName": "CPU",
        "severity": "critical",
        "tags": "prod",
    }


def test_a_secrets_url_carries_the_key_and_never_shows_up(default_space, httpserver):
    path = "/api/integration/1/functions/abc/triggers"
    httpserver.expect_request(path, query_string=f"apiKey={SECRET}").respond_with_data("", status=200)
    connector = make_connector(
        default_space,
        ".xmatters",
        config={"usesBasic": False},
        secrets={"secretsUrl": httpserver.url_for(path) + f"?apiKey={SECRET}"},
    )
    result = execute(connector, {"severity": ""})
    assert result.status == "ok"
    assert json.loads(httpserver.log[0][0].get_data()) == {"severity": "High"}
    assert "Authorization" not in httpserver.log[0][0].headers


@pytest.mark.parametrize("status", [429, 500])
def test_429_and_5xx_ask_to_retry_later(default_space, httpserver, status):
    httpserver.expect_request("/api/integration/1/functions/abc/triggers").respond_with_data(
        "", status=status
    )
    result = execute(basic(default_space, httpserver), {"severity": "high"})
    assert result.message == f"Error triggering xMatters flow: http status {status}, retry later"
    assert result.retry is True


def test_other_statuses_are_unexpected(default_space, httpserver):
    httpserver.expect_request("/api/integration/1/functions/abc/triggers").respond_with_data("", status=401)
    result = execute(basic(default_space, httpserver), {"severity": "high"})
    assert result.message == "Error triggering xMatters flow: unexpected status 401"
    assert result.retry is False
    assert_no_secret(result)


def test_a_refused_connection_hides_the_secrets_url(default_space):
    connector = make_connector(
        default_space,
        ".xmatters",
        config={"usesBasic": False},
        secrets={"secretsUrl": f"http://127.0.0.1:9/trigger?apiKey={SECRET}"},
    )
    result = execute(connector, {"severity": "high"})
    assert result.message == "Error triggering xMatters workflow"
    assert result.retry is True
    assert_no_secret(result)


@pytest.mark.parametrize(
    ("config", "secrets", "stage", "message"),
    [
        (
            {"usesBasic": True},
            {},
            "secrets",
            "Provide either secretsUrl link or user/password to authenticate",
        ),
        ({"usesBasic": True}, {"user": "u"}, "secrets", "Both user and password must be specified."),
        (
            {"usesBasic": False},
            {"secretsUrl": "https://x.example.com", "user": "u"},
            "secrets",
            "Cannot use user/password for URL authentication. Provide valid secretsUrl or use Basic Authentication.",
        ),
        ({"usesBasic": True}, {"user": "u", "password": "p"}, "connector", "Provide valid configUrl"),
        (
            {"usesBasic": False, "configUrl": "https://x.example.com"},
            {"secretsUrl": "https://x.example.com"},
            "connector",
            "configUrl should not be provided when usesBasic is false",
        ),
    ],
)
def test_validation_messages_are_kibanas(config, secrets, stage, message, kibana_settings):
    xmatters = registry.get(".xmatters")
    settings = kibana_settings.set({})
    cleaned_config = xmatters.validate_config(config, settings)
    with pytest.raises(ConfigurationError) as caught:
        cleaned_secrets = xmatters.validate_secrets(secrets, settings)
        xmatters.validate_connector(cleaned_config, cleaned_secrets)
    prefix = (
        "error validating action type secrets: "
        if stage == "secrets"
        else "error validating action type connector: "
    )
    assert caught.value.message == prefix + message
