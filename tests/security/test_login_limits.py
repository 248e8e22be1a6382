"""Login rate limiting: repeated failures lock a username out from that address, with a clear
message, for a bounded time; the right password does not get through during the lockout."""

import base64
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from tests.api.conftest import PASSWORD, make_user, new_api_key

LIMITS = {
    "connectors.security.login.maxFailures": 3,
    "connectors.security.login.maxFailuresPerAddress": 10,
    "connectors.security.login.window": "60s",
    "connectors.security.login.lockout": "1s",
}
LOCKED = "Too many failed login attempts. Try again in"


@pytest.fixture(autouse=True)
def _limits(kibana_settings, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    kibana_settings.set(LIMITS)


def _basic(username, password, address="127.0.0.1"):
    client = APIClient(REMOTE_ADDR=address)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}", HTTP_KBN_XSRF="true")
    return client.get("/api/actions/connectors")


def _admin_login(username, password, address="127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )


@pytest.mark.django_db
def test_api_basic_failures_lock_the_user_out_with_a_429_and_the_right_password_waits(default_space):
    make_user("elastic", superuser=True)
    for _ in range(2):
        assert _basic("elastic", "wrong").status_code == 401
    third = _basic("elastic", "wrong")
    assert third.status_code == 429
    assert third.json()["error"] == "Too Many Requests"
    assert third.json()["message"].startswith(LOCKED)
    locked = _basic("elastic", PASSWORD)
    assert locked.status_code == 429, "the right password must not be checked during a lockout"
    assert locked.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": locked.json()["message"],
    }
    assert "second" in locked.json()["message"]


@pytest.mark.django_db
def test_the_lockout_is_bounded_and_ends_by_itself(default_space):
    make_user("elastic", superuser=True)
    for _ in range(3):
        _basic("elastic", "wrong")
    assert _basic("elastic", PASSWORD).status_code == 429
    time.sleep(1.1)
    assert _basic("elastic", PASSWORD).status_code == 200


@pytest.mark.django_db
def test_a_lockout_is_per_address_and_username(default_space):
    make_user("elastic", superuser=True)
    make_user("other", superuser=True)
    for _ in range(3):
        _basic("elastic", "wrong", address="10.0.0.1")
    assert _basic("elastic", PASSWORD, address="10.0.0.1").status_code == 429
    assert _basic("elastic", PASSWORD, address="10.0.0.2").status_code == 200
    assert _basic("other", PASSWORD, address="10.0.0.1").status_code == 200


@pytest.mark.django_db
def test_many_usernames_from_one_address_lock_the_address_for_wrong_credentials(default_space):
    make_user("elastic", superuser=True)
    for n in range(10):
        _basic(f"guess{n}", "wrong", address="10.0.0.9")
    response = _basic("elastic", "wrong", address="10.0.0.9")
    assert response.status_code == 429
    assert response.json()["message"].startswith(LOCKED)
    assert _basic("elastic", "wrong", address="10.0.0.8").status_code == 401


@pytest.mark.django_db
def test_a_credential_that_verifies_gets_through_an_address_lockout(default_space):
    # Behind a proxy every client may share one address: the address's lockout must not lock out
    # the people (and API keys) whose credentials are right.
    user = make_user("elastic", superuser=True)
    encoded = new_api_key(user)
    for n in range(10):
        _basic(f"guess{n}", "wrong", address="10.0.0.9")
    assert _basic("nobody", "wrong", address="10.0.0.9").status_code == 429
    assert _basic("elastic", PASSWORD, address="10.0.0.9").status_code == 200
    client = APIClient(REMOTE_ADDR="10.0.0.9")
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {encoded}", HTTP_KBN_XSRF="true")
    assert client.get("/api/actions/connectors").status_code == 200
    assert _admin_login("elastic", PASSWORD, address="10.0.0.9").status_code == 302
    assert LOCKED in _admin_login("elastic", "wrong", address="10.0.0.9").content.decode()


@pytest.mark.django_db
def test_a_success_clears_the_count(default_space):
    make_user("elastic", superuser=True)
    for _ in range(2):
        _basic("elastic", "wrong")
    assert _basic("elastic", PASSWORD).status_code == 200
    for _ in range(2):
        assert _basic("elastic", "wrong").status_code == 401


@pytest.mark.django_db
def test_api_key_guesses_for_one_key_id_are_limited(default_space):
    user = make_user("elastic", superuser=True)
    encoded = new_api_key(user)
    key_id = base64.b64decode(encoded).decode().split(":")[0]
    wrong = base64.b64encode(f"{key_id}:not-the-key".encode()).decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {wrong}", HTTP_KBN_XSRF="true")
    statuses = [client.get("/api/actions/connectors").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {encoded}", HTTP_KBN_XSRF="true")
    assert client.get("/api/actions/connectors").status_code == 429
    time.sleep(1.1)
    assert client.get("/api/actions/connectors").status_code == 200


@pytest.mark.django_db
def test_admin_login_failures_lock_out_with_a_clear_message(default_space):
    User.objects.create_superuser("elastic", "", PASSWORD)
    for _ in range(2):
        response = _admin_login("elastic", "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    third = _admin_login("elastic", "wrong")
    assert LOCKED in third.content.decode()
    right = _admin_login("elastic", PASSWORD)
    assert right.status_code == 200, "no redirect: the login was refused"
    assert LOCKED in right.content.decode()
    time.sleep(1.1)
    assert _admin_login("elastic", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_admin_and_api_failures_share_one_count(default_space):
    make_user("elastic", superuser=True)
    _admin_login("elastic", "wrong")
    _basic("elastic", "wrong")
    assert _basic("elastic", "wrong").status_code == 429
    assert LOCKED in _admin_login("elastic", PASSWORD).content.decode()
