"""Basic (cached), ApiKey and session authentication, and the kbn-xsrf rule for each."""

import base64
import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from connectors.api import authentication
from connectors.models import ApiKey, Connector
from tests.api.conftest import PASSWORD, client_for, error, make_user, new_api_key


@pytest.fixture
def root(spaces):
    return make_user("root", superuser=True)


def with_header(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value, HTTP_KBN_XSRF="true")
    return client


def test_an_api_key_authenticates_as_its_user_and_records_its_last_use(root):
    encoded = new_api_key(root)
    response = with_header(f"ApiKey {encoded}").get("/api/actions/connectors")
    assert response.status_code == 200
    key = ApiKey.objects.get()
    assert key.last_used_at is not None
    first_use = key.last_used_at
    with_header(f"ApiKey {encoded}").get("/api/actions/connectors")
    key.refresh_from_db()
    assert key.last_used_at == first_use  # written at most once a minute
    ApiKey.objects.update(last_used_at=timezone.now() - timedelta(minutes=5))
    with_header(f"ApiKey {encoded}").get("/api/actions/connectors")
    key.refresh_from_db()
    assert key.last_used_at > first_use


def test_the_api_key_scheme_name_is_case_insensitive(root):
    assert with_header(f"apikey {new_api_key(root)}").get("/api/actions/connectors").status_code == 200


def test_only_a_sha256_of_the_key_is_stored(root):
    encoded = new_api_key(root)
    key_id, key = base64.b64decode(encoded).decode().split(":", 1)
    stored = ApiKey.objects.get(pk=key_id)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiKey.objects.values().get())


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_a_revoked_or_expired_api_key_is_refused(root, change):
    encoded = new_api_key(root)
    assert with_header(f"ApiKey {encoded}").get("/api/actions/connectors").status_code == 200
    ApiKey.objects.update(**change)
    response = with_header(f"ApiKey {encoded}").get("/api/actions/connectors")
    assert response.status_code == 401
    assert response.json() == error(401, "Unauthorized")


def test_a_key_with_a_future_expiry_works(root):
    encoded = new_api_key(root, expires_at=timezone.now() + timedelta(days=1))
    assert with_header(f"ApiKey {encoded}").get("/api/actions/connectors").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "ApiKey not-base64!!",
        "ApiKey " + base64.b64encode(b"no-colon").decode(),
        "ApiKey " + base64.b64encode(b"unknown-id:whatever").decode(),
        "Basic not-base64!!",
        "Basic " + base64.b64encode(b"root:wrong-password").decode(),
        "Basic " + base64.b64encode(b"nobody:" + PASSWORD.encode()).decode(),
    ],
)
def test_bad_credentials_are_a_plain_401(root, header):
    response = with_header(header).post(
        "/api/actions/connector", {"name": "x", "connector_type_id": ".server-log"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == error(401, "Unauthorized")
    assert not Connector.objects.exists()


def test_a_wrong_key_for_a_known_id_is_refused(root):
    encoded = new_api_key(root)
    key_id = base64.b64decode(encoded).decode().split(":", 1)[0]
    forged = base64.b64encode(f"{key_id}:guessed".encode()).decode()
    assert with_header(f"ApiKey {forged}").get("/api/actions/connectors").status_code == 401


def test_a_deactivated_users_key_and_password_stop_working(root):
    encoded = new_api_key(root)
    basic = client_for(root, "basic")
    assert basic.get("/api/actions/connectors").status_code == 200
    root.is_active = False
    root.save()
    assert with_header(f"ApiKey {encoded}").get("/api/actions/connectors").status_code == 401
    assert basic.get("/api/actions/connectors").status_code == 401


def test_a_verified_basic_credential_is_cached_and_not_rehashed(root, monkeypatch):
    calls = []
    real = authentication.authenticate

    def counting(**kwargs):
        calls.append(kwargs["username"])
        return real(**kwargs)

    monkeypatch.setattr(authentication, "authenticate", counting)
    client = client_for(root, "basic")
    for _ in range(5):
        assert client.get("/api/actions/connectors").status_code == 200
    assert calls == ["root"]


def test_changing_the_password_drops_the_cached_credential(root):
    old = client_for(root, "basic")
    assert old.get("/api/actions/connectors").status_code == 200
    root.set_password("a-brand-new-password")
    root.save()
    assert old.get("/api/actions/connectors").status_code == 401
    fresh = APIClient()
    token = base64.b64encode(b"root:a-brand-new-password").decode()
    fresh.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    assert fresh.get("/api/actions/connectors").status_code == 200


def test_a_session_call_needs_only_kbn_xsrf_and_no_csrf_token(root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    body = '{"name": "from the admin", "connector_type_id": ".server-log"}'
    without = client.post("/api/actions/connector", body, content_type="application/json")
    assert without.status_code == 400
    assert without.json() == error(400, "Request must contain a kbn-xsrf header.")
    created = client.post("/api/actions/connector", body, content_type="application/json", HTTP_KBN_XSRF="1")
    assert created.status_code == 200, created.content
    assert Connector.objects.get().created_by == "root"


def test_no_credentials_and_no_kbn_xsrf_is_a_401_first(spaces):
    response = APIClient().post(
        "/api/actions/connector", {"name": "x", "connector_type_id": ".server-log"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == error(401, "Unauthorized")


def test_a_401_names_the_accepted_schemes(spaces):
    response = APIClient().get("/api/actions/connectors")
    assert "Basic" in response["WWW-Authenticate"]
    assert "ApiKey" in response["WWW-Authenticate"]


def test_the_basic_cache_holds_no_password_and_rechecks_after_its_ttl(root, monkeypatch):
    calls = []
    real = authentication.authenticate
    monkeypatch.setattr(authentication, "authenticate", lambda **kw: calls.append(1) or real(**kw))
    clock = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: clock[0])
    client = client_for(root, "basic")
    assert client.get("/api/actions/connectors").status_code == 200
    assert PASSWORD not in repr(authentication._basic_cache)
    clock[0] += authentication.BASIC_CACHE_SECONDS - 1
    assert client.get("/api/actions/connectors").status_code == 200
    assert len(calls) == 1
    clock[0] += 2
    assert client.get("/api/actions/connectors").status_code == 200
    assert len(calls) == 2


@pytest.mark.parametrize("method", ["basic", "apikey"])
def test_getting_one_connector_costs_two_queries_once_the_credential_is_known(
    root, method, django_assert_num_queries
):
    connector = Connector(space_id="default", name="log", connector_type_id=".server-log")
    connector.set_secrets({})
    connector.save()
    client = client_for(root, method)
    assert client.get(f"/api/actions/connector/{connector.id}").status_code == 200  # hashes, records use
    # The user (or key and user) and the connector: no space, privilege or session query.
    with django_assert_num_queries(2):
        assert client.get(f"/api/actions/connector/{connector.id}").status_code == 200


def test_wrong_credentials_and_no_kbn_xsrf_is_a_401_as_kibana_authenticates_before_the_xsrf_check(root):
    """Kibana checks `kbn-xsrf` in an onPostAuth handler: credentials that do not authenticate are a
    401 whether or not the header is there; good ones without the header are the 400."""
    body = {"name": "x", "connector_type_id": ".server-log"}
    wrong_basic = base64.b64encode(b"root:not-the-password").decode()
    for header in (
        f"Basic {wrong_basic}",
        "ApiKey " + base64.b64encode(b"nokey:nothing").decode(),
        "Bearer x",
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        response = client.post("/api/actions/connector", body, format="json")
        assert (response.status_code, response.json()) == (401, error(401, "Unauthorized")), header
        assert "ApiKey" in response["WWW-Authenticate"]
    stale_session = Client()
    stale_session.cookies["sessionid"] = "no-such-session"
    response = stale_session.post("/api/actions/connector", body, content_type="application/json")
    assert (response.status_code, response.json()) == (401, error(401, "Unauthorized"))

    for method in ("basic", "apikey", "session"):
        client = client_for(root, method, xsrf=False)
        response = client.post("/api/actions/connector", body, format="json")
        assert response.json() == error(400, "Request must contain a kbn-xsrf header."), method
    assert not Connector.objects.exists()
