# ruff: noqa: F811  (pytest fixtures imported from the flow's own tests)
"""The OAuth authorization-code flow's companions: cancel a flow, disconnect, each connector's
`user_auth_status` (bodies and statuses as Kibana's functional tests), and renewing an expired
access token with the refresh token when the connector runs."""

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer

from connectors import http, oauth, registry
from connectors.base import ExecutionResult
from connectors.models import Connector, ConnectorToken, OAuthState
from tests.api.conftest import client_for, create_connector, grant, make_user
from tests.api.test_oauth_flow import (  # noqa: F401
    ACCESS_TOKEN,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    AuthorizationCodeType,
    callback,
    make_connector,
    owner,
    public_url,
    start,
)


class RunningType(AuthorizationCodeType):
    """A type that calls its service with the flow's token, as Kibana's connector-spec types do."""

    type_id = ".test-oauth-code-run"
    name = "OAuth authorization code, running (test)"

    def run(self, ctx):
        header = oauth.authorization_code_header(
            connector_id=ctx.connector_id,
            flow=self.oauth_authorization_code(ctx.config, ctx.secrets),
            settings=ctx.settings,
        )
        response = http.send(
            "get", ctx.config["serviceUrl"], settings=ctx.settings, headers={"Authorization": header}
        )
        return ExecutionResult.success({"status": response.status_code})


@pytest.fixture
def flow_type():
    registry.register(AuthorizationCodeType)
    registry.register(RunningType)
    yield
    registry._types.pop(AuthorizationCodeType.type_id, None)
    registry._types.pop(RunningType.type_id, None)


def connect(client, connector, httpserver, **token_answer):
    """The real flow: start, then the provider's callback with a code the token endpoint honours."""
    httpserver.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600, **token_answer}
    )
    state = start(client, connector).json()["state"]
    assert callback(client, code="c", state=state).status_code == 200


def status_of(client, connector_id, prefix=""):
    response = client.post(f"{prefix}/internal/actions/connectors/_me/auth_status", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json().get(connector_id, {}).get("user_auth_status")


# ---- cancel ------------------------------------------------------------------------------------


def cancel(client, connector, state):
    return client.post(
        f"/internal/actions/connector/{connector.id}/_oauth_cancel", {"state": state}, format="json"
    )


def test_the_starter_can_cancel_a_flow_which_then_cannot_complete(owner, flow_type, public_url):
    connector = make_connector("default")
    client = client_for(owner, "session")
    state = start(client, connector).json()["state"]

    response = cancel(client, connector, state)

    assert response.status_code == 204 and response.content == b""
    assert not OAuthState.objects.exists()
    assert "Invalid or expired state parameter" in callback(client, code="c", state=state).content.decode()


def test_only_the_starter_can_cancel_and_an_unknown_state_is_already_gone(
    spaces, owner, flow_type, public_url
):
    connector = make_connector("default")
    state = start(client_for(owner, "session"), connector).json()["state"]
    other = make_user("other")
    grant(other, "default", "all")

    refused = cancel(client_for(other, "basic"), connector, state)

    assert refused.status_code == 403
    assert refused.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "This authorization flow was not initiated by you. "
        "Only the user who started the flow can cancel it.",
    }
    assert OAuthState.objects.exists()
    assert cancel(client_for(owner, "basic"), connector, "never-issued").status_code == 204
    second = make_connector("default")
    assert cancel(client_for(owner, "basic"), second, state).status_code == 204  # not this connector's flow
    assert OAuthState.objects.exists()


def test_cancel_validates_its_body_and_the_connector(owner, flow_type, public_url):
    connector = make_connector("default")
    client = client_for(owner, "basic")
    too_long = cancel(client, connector, "s" * 257)
    assert too_long.status_code == 400
    assert too_long.json()["message"] == (
        "[request body.state]: value has length [257] but it must have a maximum length of [256]."
    )
    missing = client.post(f"/internal/actions/connector/{connector.id}/_oauth_cancel", {}, format="json")
    assert (
        missing.json()["message"]
        == "[request body.state]: expected value of type [string] but got [undefined]"
    )
    unknown = client.post("/internal/actions/connector/nope/_oauth_cancel", {"state": "s"}, format="json")
    assert unknown.status_code == 404


# ---- disconnect and status ---------------------------------------------------------------------


def test_disconnect_forgets_the_tokens_and_the_status_follows(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = make_connector("default", token_url=httpserver.url_for("/token"))
    shared = create_connector("default")
    client = client_for(owner, "session")
    assert status_of(client, connector.id) == "not_connected"
    assert status_of(client, shared.id) == "not_applicable"

    connect(client, connector, httpserver, refresh_token=REFRESH_TOKEN)
    assert status_of(client, connector.id) == "connected"

    response = client.post(f"/internal/actions/connector/{connector.id}/_oauth_disconnect")
    assert response.status_code == 204 and response.content == b""
    assert not ConnectorToken.objects.filter(connector=connector).exists()
    assert status_of(client, connector.id) == "not_connected"


def test_a_connector_with_only_a_refresh_token_left_is_still_connected(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = make_connector("default", token_url=httpserver.url_for("/token"))
    client = client_for(owner, "session")
    connect(client, connector, httpserver, refresh_token=REFRESH_TOKEN)
    past = datetime.now(UTC) - timedelta(minutes=1)
    ConnectorToken.objects.filter(token_type="access_token").update(expires_at=past)
    assert status_of(client, connector.id) == "connected"
    ConnectorToken.objects.filter(token_type="refresh_token").update(expires_at=past)
    assert status_of(client, connector.id) == "not_connected"


def test_auth_status_lists_the_spaces_connectors_only_and_needs_read(spaces, owner, flow_type):
    here = make_connector("default")
    there = create_connector("marketing")
    reader = make_user("reader")
    grant(reader, "default", "read")
    body = (
        client_for(reader, "basic")
        .post("/internal/actions/connectors/_me/auth_status", {}, format="json")
        .json()
    )
    assert body[here.id] == {"user_auth_status": "not_connected"}
    assert there.id not in body
    nobody = make_user("nobody")
    refused = client_for(nobody, "basic").post(
        "/internal/actions/connectors/_me/auth_status", {}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "Unauthorized to get actions"
    assert status_of(client_for(owner, "basic"), there.id, prefix="/s/marketing") == "not_applicable"


def test_disconnect_needs_the_all_privilege_because_the_tokens_are_the_connectors(
    spaces, owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = make_connector("default", token_url=httpserver.url_for("/token"))
    connect(client_for(owner, "session"), connector, httpserver)
    reader = make_user("reader")
    grant(reader, "default", "read")

    refused = client_for(reader, "basic").post(
        f"/internal/actions/connector/{connector.id}/_oauth_disconnect"
    )

    assert refused.status_code == 403
    assert refused.json()["message"] == "Unauthorized to update actions"
    assert ConnectorToken.objects.filter(connector=connector).exists()
    elsewhere = client_for(owner, "basic").post(
        f"/s/marketing/internal/actions/connector/{connector.id}/_oauth_disconnect"
    )
    assert elsewhere.status_code == 404
    assert ConnectorToken.objects.filter(connector=connector).exists()


# ---- refresh when the connector runs -------------------------------------------------------------


def running_connector(httpserver):
    connector = Connector(
        space_id="default",
        name="mail",
        connector_type_id=RunningType.type_id,
        config={
            "authorizationUrl": "https://provider.example.com/authorize",
            "tokenUrl": httpserver.url_for("/token"),
            "clientId": "client-1",
            "serviceUrl": httpserver.url_for("/api"),
        },
    )
    connector.set_secrets({"clientSecret": CLIENT_SECRET})
    connector.save()
    return connector


def execute(client, connector):
    return client.post(
        f"/api/actions/connector/{connector.id}/_execute", {"params": {}}, format="json"
    ).json()


def expire_access_token():
    ConnectorToken.objects.filter(token_type="access_token").update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )


def test_an_expired_access_token_is_renewed_with_the_refresh_token(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = running_connector(httpserver)
    client = client_for(owner, "session")
    connect(client, connector, httpserver, refresh_token=REFRESH_TOKEN)
    expire_access_token()
    httpserver.expect_oneshot_request("/token", method="POST").respond_with_json(
        {
            "access_token": "RENEWED-ACCESS",
            "token_type": "bearer",
            "expires_in": 600,
            "refresh_token": "ROTATED-REFRESH",
        }
    )
    httpserver.expect_request("/api", headers={"Authorization": "Bearer RENEWED-ACCESS"}).respond_with_data(
        "ok"
    )

    result = execute(client, connector)

    assert result["status"] == "ok", result
    refresh_request = httpserver.log[-2][0]
    form = {k: v[0] for k, v in parse_qs(refresh_request.get_data(as_text=True)).items()}
    assert form == {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    assert (
        refresh_request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"client-1:{CLIENT_SECRET}".encode()).decode()
    )
    tokens = {t.token_type: t for t in ConnectorToken.objects.filter(connector=connector)}
    assert tokens["access_token"].get_token() == "Bearer RENEWED-ACCESS"
    assert tokens["refresh_token"].get_token() == "ROTATED-REFRESH"
    assert "RENEWED-ACCESS" not in str(result) and "ROTATED-REFRESH" not in str(result)
    # the next run uses the renewed token without asking the provider again
    requests_before = len(httpserver.log)
    assert execute(client, connector)["status"] == "ok"
    assert [r.path for r, _ in httpserver.log[requests_before:]] == ["/api"]


def test_a_refused_refresh_is_a_final_error_asking_to_reconnect(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = running_connector(httpserver)
    client = client_for(owner, "session")
    connect(client, connector, httpserver, refresh_token=REFRESH_TOKEN)
    expire_access_token()
    httpserver.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"error": "invalid_grant"}, status=400
    )

    result = execute(client, connector)

    assert result["status"] == "error"
    assert result["message"] == oauth.RECONNECT
    assert result["retry"] is False
    assert REFRESH_TOKEN not in str(result)
    assert not ConnectorToken.objects.filter(connector=connector).exists()
    assert status_of(client, connector.id) == "not_connected"


def test_a_failing_token_endpoint_is_retried_and_keeps_the_refresh_token(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = running_connector(httpserver)
    client = client_for(owner, "session")
    connect(client, connector, httpserver, refresh_token=REFRESH_TOKEN)
    expire_access_token()
    httpserver.expect_oneshot_request("/token", method="POST").respond_with_data("busy", status=503)

    result = execute(client, connector)

    assert result["status"] == "error" and result["retry"] is True
    assert result["message"] == "error refreshing the OAuth access token"
    assert ConnectorToken.objects.filter(connector=connector, token_type="refresh_token").exists()


def test_a_connector_never_connected_asks_to_connect_first(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    connector = running_connector(httpserver)

    result = execute(client_for(owner, "basic"), connector)

    assert result["status"] == "error" and result["retry"] is False
    assert result["message"] == oauth.NOT_CONNECTED
    assert httpserver.log == []
