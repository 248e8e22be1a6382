"""Login limits behind a reverse proxy: with `connectors.security.trustedProxies`, the client is the
address the proxy saw (from `X-Forwarded-For`), so one client's failures do not lock out the others
that share the proxy's address; a forwarded header from anyone else is ignored."""

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from connectors.settings_file import parse_config_dict
from tests.api.conftest import PASSWORD, make_user

LIMITS = {
    "connectors.security.login.maxFailures": 3,
    "connectors.security.login.maxFailuresPerAddress": 10,
    "connectors.security.login.window": "60s",
    "connectors.security.login.lockout": "60s",
}
PROXY = "10.1.2.3"


@pytest.fixture(autouse=True)
def _limits(kibana_settings, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    kibana_settings.set({**LIMITS, "connectors.security.trustedProxies": ["10.1.0.0/16"]})


def _basic(username, password, *, remote=PROXY, forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    client = APIClient(REMOTE_ADDR=remote, **extra)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}", HTTP_KBN_XSRF="true")
    return client.get("/api/actions/connectors").status_code


@pytest.mark.django_db
def test_one_client_behind_the_proxy_does_not_lock_out_the_others(default_space):
    make_user("elastic", superuser=True)
    for n in range(12):
        _basic(f"guess{n}", "wrong", forwarded="203.0.113.5")
    assert _basic("elastic", "wrong", forwarded="203.0.113.5") == 429
    assert _basic("elastic", "wrong", forwarded="203.0.113.6") == 401
    for _ in range(2):
        _basic("elastic", "wrong", forwarded="203.0.113.7")
    assert _basic("elastic", "wrong", forwarded="203.0.113.7") == 429, "the pair limit still applies"
    assert _basic("elastic", "wrong", forwarded="203.0.113.8") == 401


@pytest.mark.django_db
def test_a_client_cannot_escape_its_count_by_writing_its_own_forwarded_header(default_space):
    make_user("elastic", superuser=True)
    # the proxy appends the real client to whatever the client sent: the last entry counts.
    statuses = [_basic("elastic", "wrong", forwarded=f"198.51.100.{n}, 203.0.113.5") for n in range(3)]
    assert statuses == [401, 401, 429]


@pytest.mark.django_db
def test_a_forwarded_header_from_an_untrusted_address_is_ignored(default_space):
    make_user("elastic", superuser=True)
    statuses = [_basic("elastic", "wrong", remote="192.0.2.9", forwarded=f"203.0.113.{n}") for n in range(3)]
    assert statuses == [401, 401, 429]


@pytest.mark.django_db
def test_with_two_proxies_the_client_is_the_second_entry_from_the_right(kibana_settings, default_space):
    kibana_settings.set(
        {
            **LIMITS,
            "connectors.security.trustedProxies": ["10.1.0.0/16"],
            "connectors.security.forwardedForHops": 2,
        }
    )
    make_user("elastic", superuser=True)
    # <spoofed>, <client as the outer proxy saw it>, <outer proxy as the inner proxy saw it>
    statuses = [
        _basic("elastic", "wrong", forwarded=f"198.51.100.{n}, 203.0.113.5, 10.1.9.9") for n in range(3)
    ]
    assert statuses == [401, 401, 429]
    assert _basic("elastic", "wrong", forwarded="198.51.100.1, 203.0.113.6, 10.1.9.9") == 401


@pytest.mark.django_db
def test_a_forwarded_entry_that_is_not_an_address_counts_on_the_proxy(default_space):
    make_user("elastic", superuser=True)
    statuses = [_basic("elastic", "wrong", forwarded=f"junk-{n}") for n in range(3)]
    assert statuses == [401, 401, 429]
    assert _basic("elastic", PASSWORD, forwarded="203.0.113.5") == 200


def test_trusted_proxies_must_be_cidr_blocks():
    parsed = parse_config_dict({"connectors.security.trustedProxies": ["10.0.0.0/8", "::1"]})
    assert [str(n) for n in parsed["connectors.security.trustedProxies"]] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ImproperlyConfigured, match="CIDR"):
        parse_config_dict({"connectors.security.trustedProxies": ["not-an-address"]})
    with pytest.raises(ImproperlyConfigured, match="forwardedForHops"):
        parse_config_dict({"connectors.security.forwardedForHops": 0})
