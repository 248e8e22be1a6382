"""Connector OAuth authorization-code flow: start, callback (Kibana's order of checks), script; the
state is unguessable and bound to user + connector; tokens are stored encrypted and never returned."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer

from connectors import oauth_flow, registry
from connectors.base import ConnectorType
from connectors.models import Connector, ConnectorToken, OAuthState
from connectors.schemas import Object
from tests.api.conftest import client_for, error, grant, make_user

PUBLIC = "https://connectors.example.com"
ACCESS_TOKEN = "ACCESS-TOKEN-9f2c"
REFRESH_TOKEN = "REFRESH-TOKEN-1b7e"
CLIENT_SECRET = "CLIENT-SECRET-77aa"


class AuthorizationCodeType(ConnectorType):
    """A connector type that takes part in the flow, as Kibana's connector-spec types do."""

    type_id = ".test-oauth-code"
    name = "OAuth authorization code (test)"
    config_schema = Object({}, strict=False)
    secrets_schema = Object({}, strict=False)

    def oauth_authorization_code(self, config, secrets):
        if not config.get("authorizationUrl"):
            return {"authorizationUrl": "", "clientId": ""}
        return {
            "authorizationUrl": config["authorizationUrl"],
            "tokenUrl": config["tokenUrl"],
            "clientId": config["clientId"],
            "clientSecret": secrets.get("clientSecret"),
            "scope": "mail.read offline",
            "scopeQueryParam": config.get("scopeQueryParam"),
        }


@pytest.fixture
def flow_type():
    registry.register(AuthorizationCodeType)
    yield
    registry._types.pop(AuthorizationCodeType.type_id, None)


@pytest.fixture
def public_url(kibana_settings):
    kibana_settings.set({"server.publicBaseUrl": PUBLIC})


def make_connector(space_id, token_url="http://127.0.0.1:9/token", **config):
    connector = Connector(
        space_id=space_id,
        name="mail",
        connector_type_id=AuthorizationCodeType.type_id,
        config={
            "authorizationUrl": "https://provider.example.com/authorize",
            "tokenUrl": token_url,
            "clientId": "client-1",
            **config,
        },
    )
    connector.set_secrets({"clientSecret": CLIENT_SECRET})
    connector.save()
    return connector


@pytest.fixture
def owner(spaces):
    user = make_user("owner")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    return user


def start(client, connector, prefix="", **body):
    return client.post(
        f"{prefix}/internal/actions/connector/{connector.id}/_start_oauth_flow", body, format="json"
    )


def test_starting_the_flow_answers_the_provider_url_with_pkce_and_a_bound_state(owner, flow_type, public_url):
    connector = make_connector("default")

    response = start(client_for(owner, "session"), connector)

    assert response.status_code == 200
    body = response.json()
    url = urlsplit(body["authorizationUrl"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://provider.example.com/authorize"
    assert query["client_id"] == "client-1"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"{PUBLIC}/api/actions/connector/_oauth_callback"
    assert query["state"] == body["state"]
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "mail.read offline"
    assert len(body["state"]) >= 43  # 256 random bits
    record = OAuthState.objects.get()
    assert record.state_hash != body["state"]  # only a hash is stored
    assert record.user == owner and record.connector == connector
    expected = base64.urlsafe_b64encode(hashlib.sha256(record.get_verifier().encode()).digest())
    assert query["code_challenge"] == expected.decode().rstrip("=")


def test_a_custom_scope_parameter_name_is_used(owner, flow_type, public_url):
    connector = make_connector("default", scopeQueryParam="user_scope")

    url = start(client_for(owner, "basic"), connector).json()["authorizationUrl"]

    assert "user_scope=mail.read+offline" in url and "&scope=" not in url


def test_start_needs_the_public_url_and_a_same_origin_return_url(owner, flow_type, kibana_settings):
    connector = make_connector("default")
    client = client_for(owner, "basic")
    assert start(client, connector).json() == error(400, oauth_flow.NO_PUBLIC_URL)

    kibana_settings.set({"server.publicBaseUrl": PUBLIC})
    response = start(client, connector, returnUrl="https://evil.example.net/back")

    assert response.json() == error(
        400,
        f"returnUrl must be same origin as Kibana. Expected: {PUBLIC}, Got: https://evil.example.net",
    )
    assert not OAuthState.objects.exists()


def test_start_refuses_connectors_without_the_flow(owner, flow_type, public_url):
    from tests.api.conftest import create_connector

    log = create_connector("default")
    unconfigured = make_connector("default", authorizationUrl="")

    assert start(client_for(owner, "basic"), log).json() == error(400, oauth_flow.NOT_AUTHORIZATION_CODE)
    assert start(client_for(owner, "basic"), unconfigured).json() == error(
        400, oauth_flow.MISSING_CONFIGURATION
    )


def test_start_is_space_scoped_and_needs_the_all_privilege(spaces, flow_type, public_url):
    connector = make_connector("marketing")
    reader = make_user("reader")
    grant(reader, "marketing", "read")
    grant(reader, "default", "all")

    in_default = start(client_for(reader, "basic"), connector)
    as_reader = start(client_for(reader, "basic"), connector, prefix="/s/marketing")

    assert in_default.json() == error(404, f"Saved object [action/{connector.id}] not found")
    assert as_reader.status_code == 403


def test_start_is_rate_limited_per_user(owner, flow_type, public_url):
    connector = make_connector("default")
    client = client_for(owner, "basic")
    answers = [start(client, connector).status_code for _ in range(oauth_flow.MAX_STARTS_PER_WINDOW + 1)]

    assert answers[:-1] == [200] * oauth_flow.MAX_STARTS_PER_WINDOW
    assert start(client, connector).json() == error(429, oauth_flow.START_RATE_LIMITED)


# ---- the callback ----------------------------------------------------------------------------------


def callback(client, **params):
    return client.get("/api/actions/connector/_oauth_callback", params)


def test_the_callback_is_never_read_as_a_connector_id(owner):
    response = client_for(owner, "basic").get("/api/actions/connector/_oauth_callback")

    assert "Saved object [action/_oauth_callback] not found" not in response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert oauth_flow.MISSING_STATE in response.content.decode()


def test_a_successful_callback_exchanges_the_code_and_stores_the_tokens_encrypted(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {
            "access_token": ACCESS_TOKEN,
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": REFRESH_TOKEN,
        }
    )
    connector = make_connector("default", token_url=httpserver.url_for("/token"))
    client = client_for(owner, "session")
    state = start(client, connector).json()["state"]
    verifier = OAuthState.objects.get().get_verifier()

    response = callback(client, code="the-code", state=state)

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>OAuth Authorization Successful</title>" in page
    assert 'data-auto-close="true"' in page
    assert '<script src="/api/actions/connector/_oauth_callback_script"></script>' in page
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert ACCESS_TOKEN not in page and REFRESH_TOKEN not in page
    request, _ = httpserver.log[0]
    form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": f"{PUBLIC}/api/actions/connector/_oauth_callback",
        "code_verifier": verifier,
    }
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"client-1:{CLIENT_SECRET}".encode()).decode()
    )
    tokens = {t.token_type: t for t in ConnectorToken.objects.filter(connector=connector)}
    assert tokens["access_token"].get_token() == f"Bearer {ACCESS_TOKEN}"
    assert tokens["refresh_token"].get_token() == REFRESH_TOKEN
    assert ACCESS_TOKEN not in tokens["access_token"].token_sealed
    assert not OAuthState.objects.exists()  # one use
    again = client_for(owner, "basic").get(f"/api/actions/connector/{connector.id}")
    assert ACCESS_TOKEN not in again.content.decode()


def test_with_a_return_url_the_callback_redirects_back(owner, flow_type, public_url, httpserver: HTTPServer):
    httpserver.expect_request("/token", method="POST").respond_with_json({"access_token": "t"})
    connector = make_connector("default", token_url=httpserver.url_for("/token"))
    client = client_for(owner, "session")
    state = start(client, connector, returnUrl=f"{PUBLIC}/app/connectors?tab=1").json()["state"]

    response = callback(client, code="c", state=state)

    assert response.status_code == 302
    assert response["Location"] == (
        f"{PUBLIC}/app/connectors?tab=1&oauth_authorization=success&connector_id={connector.id}"
    )


def test_a_failed_token_exchange_redirects_with_the_error(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"error": "invalid_grant"}, status=400
    )
    connector = make_connector("default", token_url=httpserver.url_for("/token"))
    client = client_for(owner, "session")
    state = start(client, connector, returnUrl=f"{PUBLIC}/back").json()["state"]

    location = callback(client, code="c", state=state)["Location"]

    assert location == (
        f"{PUBLIC}/back?oauth_authorization=error&connector_id={connector.id}&error=OAuth+authorization+failed"
    )
    assert not ConnectorToken.objects.exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, oauth_flow.MISSING_STATE),
        ({"state": "guessed-state", "code": "c"}, oauth_flow.INVALID_STATE),
    ],
)
def test_a_missing_or_unknown_state_is_refused(owner, params, message):
    page = callback(client_for(owner, "session"), **params).content.decode()

    assert "<title>OAuth Authorization Failed</title>" in page
    assert message in page


def test_a_state_started_by_another_user_is_refused_and_kept_for_its_owner(
    spaces, owner, flow_type, public_url
):
    connector = make_connector("default")
    state = start(client_for(owner, "session"), connector).json()["state"]
    intruder = make_user("intruder")
    grant(intruder, "default", "all")

    page = callback(client_for(intruder, "session"), code="c", state=state).content.decode()

    assert oauth_flow.OTHER_USER in page
    assert OAuthState.objects.exists()
    assert not ConnectorToken.objects.exists()


def test_an_expired_state_is_refused(owner, flow_type, public_url):
    from datetime import UTC, datetime, timedelta

    connector = make_connector("default")
    client = client_for(owner, "session")
    state = start(client, connector).json()["state"]
    OAuthState.objects.update(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    assert oauth_flow.INVALID_STATE in callback(client, code="c", state=state).content.decode()


def test_a_provider_error_is_a_missing_code(owner, flow_type, public_url):
    connector = make_connector("default")
    client = client_for(owner, "session")
    state = start(client, connector).json()["state"]

    page = callback(client, state=state, error="access_denied").content.decode()

    assert oauth_flow.MISSING_CODE in page
    assert f'"connectorId": "{connector.id}"' in page.replace("&quot;", '"')


def test_an_unauthenticated_callback_is_kibanas_401_page(spaces):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/actions/connector/_oauth_callback", {"state": "s", "code": "c"})

    assert response.status_code == 401
    assert "You must be logged in to complete the OAuth authorization." in response.content.decode()


def test_the_callback_script_is_served_cacheable_without_authentication(spaces):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/actions/connector/_oauth_callback_script")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert "oauth_flow_completed" in response.content.decode()


def test_starting_a_flow_clears_flows_nobody_finished(owner, flow_type, public_url):
    from datetime import UTC, datetime, timedelta

    connector = make_connector("default")
    client = client_for(owner, "basic")
    start(client, connector)
    OAuthState.objects.update(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    start(client, connector)

    assert OAuthState.objects.count() == 1
    assert OAuthState.objects.get().expires_at > datetime.now(UTC)


def test_a_flow_started_under_a_space_completes_at_the_root_callback(
    owner, flow_type, public_url, httpserver: HTTPServer
):
    httpserver.expect_request("/token", method="POST").respond_with_json({"access_token": "t"})
    connector = make_connector("marketing", token_url=httpserver.url_for("/token"))
    client = client_for(owner, "session")

    state = start(client, connector, prefix="/s/marketing").json()["state"]
    page = callback(client, code="c", state=state).content.decode()

    assert "Authorization Successful" in page
    assert ConnectorToken.objects.get(connector=connector).get_token() == "Bearer t"
