"""Helpers shared by the security tests."""

import pytest

from connectors.models import Connector
from tests.raw_server import RawServer, answer_ok


def Listener(host: str = "127.0.0.1") -> RawServer:
    """A TCP listener that records every connection it accepts (and answers nothing useful)."""
    return RawServer(answer_ok, host=host, read_request=False)


@pytest.fixture
def listener():
    created = []

    def make(host: str = "127.0.0.1") -> Listener:
        created.append(Listener(host))
        return created[-1]

    yield make
    for item in created:
        item.close()


def webhook(space, url: str, name: str = "hook") -> Connector:
    connector = Connector(
        space=space,
        name=name,
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": False, "headers": None},
    )
    connector.set_secrets({})
    connector.save()
    return connector


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def spaces(db, default_space, other_space):
    return {"default": default_space, "marketing": other_space}
