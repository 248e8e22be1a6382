"""A call the egress policy refuses is final and the user's, for every case-management type (the
shared `action_error` used to retry it as if it were a network failure), and the reason is shown."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.connectors.catalog2 import test_cases_webhook, test_jira, test_swimlane

REFUSED = "which is not a public address"

CASES = {
    ".jira": (
        test_jira.jira,
        {"subAction": "getIncident", "subActionParams": {"externalId": "SEC-1"}},
    ),
    ".swimlane": (test_swimlane.swimlane, test_swimlane.FIXTURE_PARAMS),
    ".cases-webhook": (test_cases_webhook.hook, test_cases_webhook.FIXTURE_PARAMS),
}


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_a_refused_call_says_why_and_is_not_retried(
    type_id, make_connector, run, httpserver, kibana_settings
):
    build, params = CASES[type_id]
    kibana_settings.set({"connectors.network.allowPrivateAddresses": False})

    result = run(build(make_connector, httpserver), params)

    assert result.status == "error"
    assert REFUSED in result.service_message
    assert result.retry is False
    assert result.error_source == "user"
    assert httpserver.log == []


def test_a_refused_gemini_token_endpoint_says_why_and_is_not_retried(
    make_connector, run, httpserver, kibana_settings
):
    """The token URI comes from the user's service-account JSON: it can point anywhere."""
    from tests.connectors.catalog2.test_gemini import gemini

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kibana_settings.set({"connectors.network.allowPrivateAddresses": False})

    result = run(
        gemini(make_connector, httpserver, pem), {"subAction": "run", "subActionParams": {"body": "{}"}}
    )

    assert result.service_message.startswith("Unable to retrieve access token: target ")
    assert REFUSED in result.service_message
    assert result.retry is False
    assert result.error_source == "user"


def test_a_refused_webhook_oauth_token_url_says_why_and_is_not_retried(
    make_connector, run, httpserver, kibana_settings
):
    kibana_settings.set({"connectors.network.allowPrivateAddresses": False})
    connector = make_connector(
        ".webhook",
        {
            "url": httpserver.url_for("/hook"),
            "method": "post",
            "hasAuth": True,
            "authType": "webhook-oauth2-client-credentials",
            "accessTokenUrl": httpserver.url_for("/token"),
            "clientId": "client-1",
        },
        {"clientSecret": "client-secret-marker-5d1e"},
    )

    result = run(connector, {"body": "{}"}, secrets=["client-secret-marker-5d1e"])

    assert result.service_message.startswith("Unable to retrieve/refresh the access token: target ")
    assert REFUSED in result.service_message
    assert result.retry is False
    assert result.error_source == "user"
    assert httpserver.log == []


@pytest.mark.parametrize(
    "type_id,config",
    [
        (".jira", {"apiUrl": "https://jira.example.com", "projectKey": "OPS"}),
        (".servicenow", {"apiUrl": "https://jira.example.com", "usesTableApi": True}),
        (".servicenow-sir", {"apiUrl": "https://jira.example.com", "usesTableApi": True}),
        (".resilient", {"apiUrl": "https://jira.example.com", "orgId": "201"}),
        (
            ".swimlane",
            {"apiUrl": "https://jira.example.com", "appId": "a", "connectorType": "all", "mappings": {}},
        ),
        (".thehive", {"url": "https://jira.example.com"}),
    ],
)
def test_a_case_type_refuses_an_api_url_outside_allowed_hosts_in_kibanas_words(
    type_id, config, kibana_settings
):
    from connectors import registry
    from connectors.exceptions import ConfigurationError

    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["example.org"]})
    with pytest.raises(ConfigurationError) as caught:
        registry.get(type_id).validate_config(config, settings)
    assert caught.value.message == (
        "error validating action type config: error configuring connector action: target url "
        '"https://jira.example.com" is not added to the Kibana config xpack.actions.allowedHosts'
    )
