"""Fixtures for driving our live server with kibana-py, a third-party Kibana client."""

import pytest
from kibana import Kibana

from connectors.api.authentication import clear_basic_cache
from tests.api.conftest import PASSWORD, grant, make_user


@pytest.fixture(autouse=True)
def _fresh_basic_cache():
    clear_basic_cache()
    yield
    clear_basic_cache()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def kibana(live_server, default_space):
    """The client as a superuser (Kibana's `elastic`), Basic auth."""
    make_user("elastic", superuser=True)
    client = Kibana(live_server.url, basic_auth=("elastic", PASSWORD))
    yield client
    client.close()


@pytest.fixture
def reader_kibana(live_server, default_space):
    """The client as a user with `read` in the default space only."""
    grant(make_user("reader"), "default", "read")
    client = Kibana(live_server.url, basic_auth=("reader", PASSWORD))
    yield client
    client.close()
