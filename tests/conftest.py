"""Shared fixtures. Tests talk only to servers on this machine: a guard refuses anything else."""

import base64
import ipaddress
import socket

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from connectors.models import Space
from connectors.settings_file import parse_config_dict
from tests.services import chromium_installed  # noqa: F401  (a fixture for the browser tests)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):
        return True  # Unix sockets
    host = address[0]
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host in ("localhost",)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _guarded_connect(sock, address):
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback addresses, not {address!r}")
    return _real_connect(sock, address)


def _guarded_connect_ex(sock, address):
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback addresses, not {address!r}")
    return _real_connect_ex(sock, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


# Tests reach their own servers on loopback, so exactly loopback is allowed; the egress guard stays on
# for every other private, link-local or metadata address, as in production.
TEST_SETTINGS = {"connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"]}


@pytest.fixture(autouse=True)
def kibana_settings(settings):
    """The parsed settings file for this test; call `kibana_settings.set({...})` to change keys."""

    class Handle:
        def set(self, values: dict):
            settings.KIBANA_CONFIG = parse_config_dict({**TEST_SETTINGS, **values}, source="<test>")
            return settings.KIBANA_CONFIG

    handle = Handle()
    handle.set({})
    return handle


@pytest.fixture
def default_space(db):
    return Space.ensure_default()


@pytest.fixture
def other_space(db):
    return Space.objects.create(id="marketing", name="Marketing")


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("elastic", "", "changeme-please")


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def api(db, default_space, superuser):
    """An API client logged in as a superuser with Basic auth, sending kbn-xsrf like Kibana clients."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("elastic", "changeme-please"), HTTP_KBN_XSRF="true")
    return client


@pytest.fixture
def encryption_keys():
    return list(django_settings.FIELD_ENCRYPTION_KEY)


@pytest.fixture(autouse=True)
def _fresh_login_limits():
    """Login failure counters live in the cache: each test starts with none (connectors/login_limits.py)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
