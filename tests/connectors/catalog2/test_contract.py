"""One contract for every catalog II type: each failure class of the remote service becomes an error
result (never an exception), and no marker secret appears in the result, the event log or the logs."""

import functools
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug import Response

MARK = "contract-secret-marker-5e8b"


@functools.cache
def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _gemini_credentials(server) -> str:
    pem = _pem()
    return json.dumps(
        {
            "type": "service_account",
            "private_key": pem,
            "private_key_id": MARK,
            "client_email": "x@p.iam.gserviceaccount.com",
            "token_uri": server.url_for("/token"),
        }
    )


def cases(server):
    """(type id, config, secrets, params) with the smallest valid config for each type."""
    url = server.url_for("/")
    return {
        ".jira": (
            {"apiUrl": url, "projectKey": "P"},
            {"email": "e", "apiToken": MARK},
            {"subAction": "issueTypes", "subActionParams": {}},
        ),
        ".servicenow": (
            {"apiUrl": url, "usesTableApi": False},
            {"username": "u", "password": MARK},
            {"subAction": "getFields", "subActionParams": {}},
        ),
        ".servicenow-sir": (
            {"apiUrl": url},
            {"username": "u", "password": MARK},
            {"subAction": "getChoices", "subActionParams": {"fields": ["a"]}},
        ),
        ".servicenow-itom": (
            {"apiUrl": url},
            {"username": "u", "password": MARK},
            {"subAction": "addEvent", "subActionParams": {"source": "s"}},
        ),
        ".swimlane": (
            {"apiUrl": url, "appId": "a", "connectorType": "all", "mappings": {}},
            {"apiToken": MARK},
            {"subAction": "pushToService", "subActionParams": {"incident": {"caseName": "c"}}},
        ),
        ".resilient": (
            {"apiUrl": url, "orgId": "1"},
            {"apiKeyId": "k", "apiKeySecret": MARK},
            {"subAction": "getFields", "subActionParams": {}},
        ),
        ".thehive": (
            {"url": url},
            {"apiKey": MARK},
            {
                "subAction": "pushToService",
                "subActionParams": {"incident": {"title": "t", "description": "d"}},
            },
        ),
        ".cases-webhook": (
            {
                "createIncidentUrl": server.url_for("/case"),
                "createIncidentJson": '{"title": {{{case.title}}}}',
                "createIncidentResponseKey": "id",
                "getIncidentUrl": server.url_for("/case/{{{external.system.id}}}"),
                "getIncidentResponseExternalTitleKey": "title",
                "viewIncidentUrl": server.url_for("/view/{{{external.system.id}}}"),
                "updateIncidentUrl": server.url_for("/case/{{{external.system.id}}}"),
                "updateIncidentJson": '{"title": {{{case.title}}}}',
            },
            {"user": "u", "password": MARK},
            {"subAction": "pushToService", "subActionParams": {"incident": {"title": "t"}}},
        ),
        ".gen-ai": (
            {"apiProvider": "Other", "apiUrl": server.url_for("/v1/chat/completions"), "defaultModel": "m"},
            {"apiKey": MARK},
            {"subAction": "test", "subActionParams": {"body": "{}", "timeout": 500}},
        ),
        ".bedrock": (
            {"apiUrl": url, "region": "us-east-1"},
            {"accessKey": "AKID", "secret": MARK},
            {"subAction": "test", "subActionParams": {"body": "{}", "timeout": 500}},
        ),
        ".gemini": (
            {"apiUrl": url, "gcpRegion": "r", "gcpProjectID": "p"},
            {"credentialsJson": _gemini_credentials(server)},
            {"subAction": "test", "subActionParams": {"body": "{}", "timeout": 500}},
        ),
    }


TYPES = [
    ".jira",
    ".servicenow",
    ".servicenow-sir",
    ".servicenow-itom",
    ".swimlane",
    ".resilient",
    ".thehive",
    ".cases-webhook",
    ".gen-ai",
    ".bedrock",
    ".gemini",
]


def _serve_token(server):
    server.expect_request("/token").respond_with_json({"access_token": "tok", "expires_in": 3600})


@pytest.mark.parametrize("type_id", TYPES)
@pytest.mark.parametrize("status", [500, 401, 429])
def test_an_http_failure_is_an_error_result_without_secrets(type_id, status, make_connector, run, httpserver):
    _serve_token(httpserver)
    httpserver.expect_request("").respond_with_json(
        {"message": "nope", "error": {"message": "nope"}}, status=status
    )
    config, secrets, params = cases(httpserver)[type_id]
    result = run(make_connector(type_id, config, secrets), params, secrets=[MARK])
    assert result.status == "error"
    assert result.message
    assert str(status) in (result.service_message or "")
    assert len([r for r, _ in httpserver.log if r.path != "/token"]) >= 1


@pytest.mark.parametrize("type_id", TYPES)
def test_a_refused_connection_is_an_error_result(type_id, make_connector, run, httpserver):
    config, secrets, params = cases(httpserver)[type_id]
    connector = make_connector(type_id, config, secrets)
    httpserver.stop()
    try:
        result = run(connector, params, secrets=[MARK])
    finally:
        httpserver.start()
    assert result.status == "error"
    assert "ECONNREFUSED" in (result.service_message or "")


@pytest.mark.parametrize("type_id", TYPES)
def test_a_slow_service_times_out_into_an_error_result(
    type_id, make_connector, run, httpserver, kibana_settings
):
    kibana_settings.set({"xpack.actions.responseTimeout": "0.3s"})
    _serve_token(httpserver)

    answered = threading.Event()

    def slow(request):
        time.sleep(0.6)
        answered.set()
        return Response("{}", content_type="application/json")

    httpserver.expect_request("").respond_with_handler(slow)
    config, secrets, params = cases(httpserver)[type_id]
    result = run(make_connector(type_id, config, secrets), params, secrets=[MARK])
    answered.wait(5)  # let the server finish, so the late request does not reach the next test
    assert result.status == "error"
    assert "timeout" in (result.service_message or "")
