"""Egress: connectors may not reach private, loopback, link-local, metadata or otherwise non-public
addresses unless `connectors.network.allowPrivateAddresses` allows them. The check is made on the
address actually connected to, so names that resolve to loopback and redirects are covered, and the
API's `_execute` and the admin's Test tab both go through it (one executor, one HTTP seam)."""

import socket

import pytest
from django.test import Client
from pytest_httpserver import HTTPServer

from actions.services import RunInfo, execute
from tests.security.conftest import webhook

REFUSED = "which is not a public address"

# (label, URL host part). Each would reach something inside the network if it were allowed.
NON_PUBLIC_TARGETS = [
    ("private 10/8", "10.1.2.3"),
    ("private 172.16/12", "172.16.5.4"),
    ("private 192.168/16", "192.168.1.1"),
    ("loopback", "127.0.0.1"),
    ("loopback elsewhere in 127/8", "127.0.0.2"),
    ("loopback IPv6", "[::1]"),
    ("unspecified (reaches this host on Linux)", "0.0.0.0"),
    ("unspecified IPv6", "[::]"),
    ("link-local", "169.254.10.20"),
    ("cloud metadata", "169.254.169.254"),
    ("link-local IPv6", "[fe80::1]"),
    ("CGNAT shared space", "100.64.0.1"),
    ("benchmarking 198.18/15", "198.18.0.1"),
    ("unique-local IPv6", "[fd00::1]"),
    ("IPv4-mapped IPv6 loopback", "[::ffff:127.0.0.1]"),
    ("IPv4-mapped IPv6 metadata", "[::ffff:169.254.169.254]"),
    ("6to4 wrapping loopback", "[2002:7f00:1::1]"),
    ("NAT64 wrapping loopback", "[64:ff9b::7f00:1]"),
    ("NAT64 local-use prefix", "[64:ff9b:1::a9fe:a9fe]"),
    ("IPv4-compatible IPv6 loopback (is_global says public)", "[::7f00:1]"),
    ("IPv4-compatible IPv6 metadata", "[::a9fe:a9fe]"),
    ("deprecated site-local IPv6 (is_global says public)", "[fec0::1]"),
    ("decimal integer spelling of loopback", "2130706433"),
    ("short dotted spelling of loopback", "127.1"),
    ("DNS name that resolves to loopback", "localhost"),
]


@pytest.fixture
def no_private(kibana_settings):
    return kibana_settings.set({"connectors.network.allowPrivateAddresses": False})


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "host"), NON_PUBLIC_TARGETS, ids=[t[0] for t in NON_PUBLIC_TARGETS])
def test_a_non_public_target_is_refused_before_connecting(label, host, no_private, default_space):
    connector = webhook(default_space, f"http://{host}:9/hook")
    result = execute(connector, {"body": "{}"}, RunInfo(source="http_request"))
    assert result.status == "error"
    assert REFUSED in (result.service_message or result.message), f"{label}: {result}"
    assert not result.retry


@pytest.mark.django_db
def test_a_refused_target_is_not_contacted(no_private, default_space, listener):
    server = listener("127.0.0.1")
    connector = webhook(default_space, f"http://127.0.0.1:{server.port}/hook")
    result = execute(connector, {"body": "{}"}, RunInfo(source="http_request"))
    assert REFUSED in result.service_message
    assert server.accepted == []


@pytest.mark.django_db
def test_nat64_wrapping_metadata_is_refused(no_private, default_space):
    """64:ff9b::/96 (RFC 6052) carries an IPv4 address; through a NAT64 gateway it reaches it."""
    connector = webhook(default_space, "http://[64:ff9b::a9fe:a9fe]:9/hook")
    result = execute(connector, {"body": "{}"}, RunInfo(source="http_request"))
    assert REFUSED in (result.service_message or result.message), str(result)


@pytest.mark.django_db
def test_an_allow_list_of_one_address_lets_only_that_address_through(
    kibana_settings, default_space, listener
):
    allowed, other = listener("127.0.0.1"), listener("127.0.0.2")
    kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.1/32"]})
    ok = execute(webhook(default_space, f"http://127.0.0.1:{allowed.port}/"), {"body": "{}"}, RunInfo())
    assert ok.status == "ok", str(ok)
    assert len(allowed.accepted) == 1
    refused = execute(
        webhook(default_space, f"http://127.0.0.2:{other.port}/", "b"), {"body": "{}"}, RunInfo()
    )
    assert REFUSED in refused.service_message
    assert other.accepted == []


@pytest.mark.django_db
def test_a_redirect_from_an_allowed_server_to_a_private_address_is_refused(
    kibana_settings, default_space, listener
):
    """The first server is allowed by its exact /32; it redirects to another loopback address
    (127.0.0.2), which is not: the guard checks the address of every hop at connect time."""
    target = listener("127.0.0.2")
    with HTTPServer(host="127.0.0.1", port=0) as first:
        first.expect_request("/start").respond_with_data(
            "", status=302, headers={"Location": f"http://127.0.0.2:{target.port}/internal"}
        )
        kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.1/32"]})
        connector = webhook(default_space, first.url_for("/start"))
        result = execute(connector, {"body": "{}"}, RunInfo())
        assert len(first.log) == 1, "the allowed server was asked"
    assert result.status == "error"
    assert REFUSED in result.service_message
    assert "127.0.0.2" in result.service_message
    assert target.accepted == [], "the private redirect target was never contacted"


@pytest.mark.django_db
def test_a_redirect_to_a_name_resolving_to_loopback_is_refused(kibana_settings, default_space, listener):
    """The allowed server is 127.0.0.2 (its /32 only); it redirects to `localhost`, which resolves to
    127.0.0.1 (and ::1), neither allowed: refused, and the listener there is never contacted."""
    target = listener("127.0.0.1")
    with HTTPServer(host="127.0.0.2", port=0) as first:
        first.expect_request("/start").respond_with_data(
            "", status=302, headers={"Location": f"http://localhost:{target.port}/internal"}
        )
        kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.2/32"]})
        result = execute(webhook(default_space, first.url_for("/start")), {"body": "{}"}, RunInfo())
        assert len(first.log) == 1
    assert REFUSED in result.service_message
    assert 'target "localhost"' in result.service_message
    assert target.accepted == []


@pytest.mark.django_db
def test_the_execute_route_and_the_admin_test_tab_refuse_the_same_target(
    no_private, default_space, superuser, api, listener
):
    server = listener("127.0.0.1")
    connector = webhook(default_space, f"http://127.0.0.1:{server.port}/hook")
    via_api = api.post(
        f"/api/actions/connector/{connector.id}/_execute", {"params": {"body": "{}"}}, format="json"
    )
    assert via_api.status_code == 200
    assert via_api.json()["status"] == "error"
    assert REFUSED in via_api.json()["service_message"]

    client = Client()
    client.force_login(superuser)
    page = client.post(f"/admin/connectors/connector/{connector.id}/test/", {"params.body": "{}"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-outcome="failure"' in html
    assert REFUSED in html
    assert server.accepted == []


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["169.254.169.254", "10.0.0.5", "[::ffff:127.0.0.1]", "localhost"])
def test_a_non_public_target_is_refused_even_through_the_proxy(
    target, kibana_settings, default_space, listener
):
    """The proxy is the operator's; the target is the user's. The proxy would reach (and resolve)
    anything, so the target is checked here before the request goes to the proxy."""
    proxy = listener("127.0.0.1")
    kibana_settings.set(
        {
            "connectors.network.allowPrivateAddresses": False,
            "xpack.actions.proxyUrl": f"http://127.0.0.1:{proxy.port}",
        }
    )
    result = execute(webhook(default_space, f"http://{target}/hook"), {"body": "{}"}, RunInfo())
    assert result.status == "error"
    assert REFUSED in result.service_message, str(result)
    assert proxy.accepted == [], "the request never reached the proxy"


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254"])
def test_smtp_to_a_non_public_host_is_refused_before_connecting(host, no_private, default_space, listener):
    from connectors.models import Connector

    server = listener("127.0.0.1")
    connector = Connector(
        space=default_space,
        name="mail",
        connector_type_id=".email",
        config={
            "service": "other",
            "from": "a@example.com",
            "host": host,
            "port": server.port,
            "secure": False,
            "hasAuth": False,
        },
    )
    connector.set_secrets({})
    connector.save()
    result = execute(connector, {"to": ["b@example.com"], "subject": "s", "message": "m"}, RunInfo())
    assert result.status == "error"
    assert REFUSED in (result.service_message or ""), str(result)
    assert server.accepted == []


def smtp_connector(space, host: str, port: int):
    from connectors.models import Connector

    connector = Connector(
        space=space,
        name="mail",
        connector_type_id=".email",
        config={
            "service": "other",
            "from": "a@example.com",
            "host": host,
            "port": port,
            "secure": False,
            "hasAuth": False,
        },
    )
    connector.set_secrets({})
    connector.save()
    return connector


MAIL = {"to": ["b@example.com"], "subject": "s", "message": "m"}


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["169.254.169.254", "localhost", "[::ffff:127.0.0.1]"])
def test_smtp_through_the_proxy_checks_the_target_before_tunnelling(
    host, kibana_settings, default_space, listener
):
    """The SMTP CONNECT tunnel asked the proxy for any host: the proxy would reach the metadata address."""
    proxy = listener("127.0.0.1")
    kibana_settings.set(
        {
            "connectors.network.allowPrivateAddresses": False,
            "xpack.actions.proxyUrl": f"http://127.0.0.1:{proxy.port}",
        }
    )
    result = execute(smtp_connector(default_space, host.strip("[]"), 25), MAIL, RunInfo())
    assert result.status == "error"
    assert REFUSED in (result.service_message or ""), str(result)
    assert result.retry is False
    assert proxy.accepted == [], "nothing was asked of the proxy"


UNRESOLVABLE = "no-such-host.invalid"  # RFC 2606: never resolves


@pytest.mark.django_db
def test_a_target_that_does_not_resolve_is_refused_through_the_proxy(
    kibana_settings, default_space, listener
):
    """We cannot check the address of a name we cannot resolve; the proxy would resolve it to anything."""
    proxy = listener("127.0.0.1")
    kibana_settings.set({"xpack.actions.proxyUrl": f"http://127.0.0.1:{proxy.port}"})

    over_http = execute(webhook(default_space, f"http://{UNRESOLVABLE}/hook"), {"body": "{}"}, RunInfo())
    over_smtp = execute(smtp_connector(default_space, UNRESOLVABLE, 25), MAIL, RunInfo())

    for result in (over_http, over_smtp):
        assert result.status == "error"
        assert f'target "{UNRESOLVABLE}" does not resolve here' in (result.service_message or ""), str(result)
        assert result.retry is False
    assert proxy.accepted == []


@pytest.fixture
def two_addresses(monkeypatch):
    """`two-addresses.test` resolves to 127.0.0.2 then 127.0.0.3, both on one port. On .2 the connect
    hangs (its listen backlog is full); .3 accepts at once. Resolution is the only thing faked."""
    hanging = socket.socket()
    hanging.bind(("127.0.0.2", 0))
    hanging.listen(0)
    port = hanging.getsockname()[1]
    filler = socket.create_connection(("127.0.0.2", port))  # fills the backlog: the next SYN is dropped
    answering = socket.socket()
    answering.bind(("127.0.0.3", port))
    answering.listen(8)
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "two-addresses.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.3", port)),
            ]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield port, answering
    for sock in (filler, hanging, answering):
        sock.close()


def connection_was_made(listening: socket.socket) -> bool:
    """The kernel completes a handshake before `connect()` returns: a made connection is queued."""
    listening.setblocking(False)
    try:
        listening.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@pytest.mark.django_db
@pytest.mark.parametrize("transport", ["http", "smtp"])
def test_the_connect_timeout_is_one_deadline_for_all_addresses_of_a_name(
    transport, two_addresses, kibana_settings, default_space
):
    """The first address used up the whole timeout: the second is not tried with a fresh one."""
    port, answering = two_addresses
    kibana_settings.set({"xpack.actions.responseTimeout": "1s"})
    if transport == "http":
        result = execute(
            webhook(default_space, f"http://two-addresses.test:{port}/hook"), {"body": "{}"}, RunInfo()
        )
    else:
        result = execute(smtp_connector(default_space, "two-addresses.test", port), MAIL, RunInfo())
    assert result.status == "error"
    assert not connection_was_made(answering), "a second connect started after the deadline"


def test_the_installed_urllib3_is_in_the_range_the_guard_was_tested_with():
    """The guard overrides urllib3 internals; pyproject pins the minor version it was tested with."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = [Requirement(d) for d in pyproject["project"]["dependencies"] if d.startswith("urllib3")]
    assert len(pins) == 1, "urllib3 is pinned in pyproject's dependencies"
    assert pins[0].specifier.contains(version("urllib3"))
    assert not pins[0].specifier.contains("3.0"), "the range has an upper bound"
