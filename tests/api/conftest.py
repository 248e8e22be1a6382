"""Fixtures for the API tests: two spaces, users with `all`/`read`/`none` in one of them, and clients
that authenticate with Basic, an API key, or the admin's session."""

import base64

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from connectors.api.authentication import clear_basic_cache, encode_api_key, generate_api_key, hash_api_key
from connectors.models import ApiKey, Connector, Space, SpacePrivilege

PASSWORD = "a-long-test-password"
SPACES = ("default", "marketing")
PRIVILEGES = ("all", "read", "none")
AUTH_METHODS = ("basic", "apikey", "session")
MARKER_SECRET = "MARKER-SECRET-7d1f3c"


@pytest.fixture(autouse=True)
def _fresh_basic_cache():
    clear_basic_cache()
    yield
    clear_basic_cache()


@pytest.fixture
def spaces(db, default_space):
    marketing = Space.objects.create(id="marketing", name="Marketing")
    return {"default": default_space, "marketing": marketing}


def make_user(username: str, *, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, "", PASSWORD)
    return User.objects.create_user(username, "", PASSWORD)


def grant(user_or_group, space_id: str, privilege: str) -> None:
    if privilege == "none":
        return
    if isinstance(user_or_group, Group):
        SpacePrivilege.objects.create(space_id=space_id, group=user_or_group, privilege=privilege)
    else:
        SpacePrivilege.objects.create(space_id=space_id, user=user_or_group, privilege=privilege)


def new_api_key(user: User, **fields) -> str:
    key_id, key = generate_api_key()
    ApiKey.objects.create(id=key_id, name="test key", user=user, key_hash=hash_api_key(key), **fields)
    return encode_api_key(key_id, key)


def client_for(user: User, method: str, *, xsrf: bool = True) -> APIClient:
    """A client that proves it is `user` the given way."""
    client = APIClient()
    headers = {"HTTP_KBN_XSRF": "true"} if xsrf else {}
    if method == "basic":
        token = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
    elif method == "apikey":
        headers["HTTP_AUTHORIZATION"] = f"ApiKey {new_api_key(user)}"
    elif method == "session":
        client.force_login(user)
    else:
        raise ValueError(method)
    client.credentials(**headers)
    return client


@pytest.fixture
def as_user(spaces):
    """`as_user(privilege, space_id, method)` -> client for a fresh user holding that privilege there."""
    counter = iter(range(1000))

    def build(privilege: str, space_id: str, method: str = "basic") -> APIClient:
        user = make_user(f"user{next(counter)}-{privilege}")
        grant(user, space_id, privilege)
        return client_for(user, method)

    return build


def create_connector(space_id: str, name: str = "log", type_id: str = ".server-log", **fields) -> Connector:
    connector = Connector(space_id=space_id, name=name, connector_type_id=type_id, **fields)
    connector.set_secrets({})
    connector.save()
    return connector


def prefix(space_id: str) -> str:
    return "" if space_id == "default" else f"/s/{space_id}"


def error(status: int, message: str) -> dict:
    from http import HTTPStatus

    return {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Users are created by the dozen here; the real hasher's cost is measured in benchmarks/."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
