"""`.gemini` against local servers playing Google's token endpoint and Vertex AI (JSON and SSE)."""

import json
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug import Response

GENERATE = (
    "/v1/projects/proj-1/locations/europe-west1/publishers/google/models/gemini-2.5-pro:generateContent"
)
STREAM = (
    "/v1/projects/proj-1/locations/europe-west1/publishers/google/models/gemini-2.5-pro:streamGenerateContent"
)
ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello!"}]}}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
}


@pytest.fixture(scope="module")
def service_account_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


def gemini(make_connector, server, pem, token_uri=None):
    credentials = {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "elastic@proj-1.iam.gserviceaccount.com",
        "client_id": "123",
        "token_uri": token_uri or server.url_for("/token"),
    }
    connector = make_connector(
        ".gemini",
        {"apiUrl": server.url_for("/"), "gcpRegion": "europe-west1", "gcpProjectID": "proj-1"},
        {"credentialsJson": json.dumps(credentials)},
    )
    return connector


def test_it_mints_a_token_from_the_service_account_and_caches_it(
    make_connector, run, httpserver, service_account_key
):
    key, pem = service_account_key
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "ya29.token", "expires_in": 3599, "token_type": "Bearer"}
    )
    httpserver.expect_request(GENERATE, method="POST").respond_with_json(ANSWER)
    connector = gemini(make_connector, httpserver, pem)
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})

    first = run(
        connector,
        {"subAction": "test", "subActionParams": {"body": body}},
        secrets=["PRIVATE KEY", "ya29.token"],
    )
    second = run(connector, {"subAction": "run", "subActionParams": {"body": body}})

    assert first.status == "ok", first
    assert first.data == {"completion": "Hello!", "usageMetadata": ANSWER["usageMetadata"]}
    assert second.status == "ok"
    token_calls = [r for r, _ in httpserver.log if r.path == "/token"]
    assert len(token_calls) == 1, [(r.path, r.get_data(), resp.status) for r, resp in httpserver.log]
    form = parse_qs(token_calls[0].get_data(as_text=True))
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form["assertion"][0],
        key.public_key(),
        algorithms=["RS256"],
        audience="https://oauth2.googleapis.com/token",
    )
    assert claims["iss"] == "elastic@proj-1.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    calls = [r for r, _ in httpserver.log if r.path == GENERATE]
    assert [c.headers["Authorization"] for c in calls] == ["Bearer ya29.token", "Bearer ya29.token"]
    assert calls[0].get_data(as_text=True) == body


def test_service_urls_redirect_the_token_endpoint(
    make_connector, run, httpserver, service_account_key, kibana_settings
):
    _, pem = service_account_key
    kibana_settings.set({"connectors.serviceUrls": {".gemini": httpserver.url_for("/local-token")}})
    httpserver.expect_request("/local-token").respond_with_json({"access_token": "t2", "expires_in": 3600})
    httpserver.expect_request(GENERATE).respond_with_json(ANSWER)
    connector = gemini(make_connector, httpserver, pem, token_uri="https://oauth2.googleapis.com/token")
    result = run(connector, {"subAction": "run", "subActionParams": {"body": "{}"}})
    assert result.status == "ok", result


def test_invoke_ai_merges_consecutive_user_messages(make_connector, run, httpserver, service_account_key):
    _, pem = service_account_key
    httpserver.expect_request("/token").respond_with_json({"access_token": "t", "expires_in": 3600})
    httpserver.expect_request(GENERATE).respond_with_json(ANSWER)
    result = run(
        gemini(make_connector, httpserver, pem),
        {
            "subAction": "invokeAI",
            "subActionParams": {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "user", "content": "b"},
                    {"role": "assistant", "content": "c"},
                ],
                "temperature": 0.5,
            },
        },
    )
    assert result.data == {"message": "Hello!", "usageMetadata": ANSWER["usageMetadata"]}
    sent = next(r for r, _ in httpserver.log if r.path == GENERATE).get_json()
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "a b"}]},
        {"role": "model", "parts": [{"text": "c"}]},
    ]
    assert sent["generation_config"] == {"temperature": 0.5}
    assert sent["safety_settings"] == [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}
    ]


def test_invoke_stream_passes_sse_through(make_connector, run, httpserver, service_account_key):
    _, pem = service_account_key
    httpserver.expect_request("/token").respond_with_json({"access_token": "t", "expires_in": 3600})

    def events():
        yield b'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}\n\n'
        yield b'data: {"candidates": [{"content": {"parts": [{"text": "lo"}]}}], "usageMetadata": {"totalTokenCount": 3}}\n\n'

    httpserver.expect_request(STREAM, query_string="alt=sse").respond_with_response(
        Response(events(), mimetype="text/event-stream")
    )
    result = run(
        gemini(make_connector, httpserver, pem),
        {"subAction": "invokeStream", "subActionParams": {"messages": [{"role": "user", "content": "Hi"}]}},
    )
    assert result.status == "ok", result
    assert result.data.count("data: ") == 2 and '"text": "lo"' in result.data


def test_api_errors_carry_googles_status_and_message(make_connector, run, httpserver, service_account_key):
    _, pem = service_account_key
    httpserver.expect_request("/token").respond_with_json({"access_token": "t", "expires_in": 3600})
    httpserver.expect_request(GENERATE).respond_with_json(
        {"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}}, status=400
    )
    result = run(
        gemini(make_connector, httpserver, pem),
        {"subAction": "run", "subActionParams": {"body": "{}"}},
        secrets=["PRIVATE KEY"],
    )
    assert (
        result.service_message
        == "Status code: 400. Message: API Error: INVALID_ARGUMENT: Invalid JSON payload"
    )


def test_a_refused_token_is_reported_without_the_key(make_connector, run, httpserver, service_account_key):
    _, pem = service_account_key
    httpserver.expect_request("/token").respond_with_json(
        {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
    )
    result = run(
        gemini(make_connector, httpserver, pem),
        {"subAction": "run", "subActionParams": {"body": "{}"}},
        secrets=["PRIVATE KEY"],
    )
    assert result.status == "error"
    assert result.service_message.startswith(
        "Unable to retrieve access token: invalid_grant: Invalid JWT Signature."
    )


def test_unparseable_credentials_are_a_user_error(make_connector, run, httpserver):
    connector = make_connector(
        ".gemini",
        {"apiUrl": httpserver.url_for("/"), "gcpRegion": "r", "gcpProjectID": "p"},
        {"credentialsJson": "{not json"},
    )
    result = run(connector, {"subAction": "run", "subActionParams": {"body": "{}"}})
    assert result.service_message == "Failed to parse credentials JSON file: Invalid JSON format"
    assert result.error_source == "user"
