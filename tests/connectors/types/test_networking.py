"""The HTTP seam's TLS and proxy settings against real local servers: an HTTPS server with trustme
certificates and a small CONNECT-capable forward proxy started by the test."""

import json
import os
import tempfile

import pytest
from pytest_httpserver import HTTPServer

from actions.services import execute
from connectors import http
from connectors.exceptions import ConnectorUnreachable
from tests.connectors.types.conftest import ca_pem, make_connector


def _https(context):
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    return server


@pytest.fixture
def https_server(server_tls):
    server = _https(server_tls)
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def https_wrong_name(server_tls_wrong_name):
    server = _https(server_tls_wrong_name)
    yield server
    server.clear()
    server.stop()


def url(server, path="/hook"):
    return f"https://127.0.0.1:{server.port}{path}"


def custom_host(server, **ssl):
    return {"url": f"https://127.0.0.1:{server.port}", "ssl": ssl}


# ---- TLS ------------------------------------------------------------------------------------------


def test_a_certificate_from_an_unknown_ca_is_refused(https_server, kibana_settings):
    https_server.expect_request("/hook").respond_with_data("ok")
    settings = kibana_settings.set({})
    with pytest.raises(ConnectorUnreachable) as caught:
        http.send("get", url(https_server), settings=settings)
    assert caught.value.service_message.startswith("[CERT] TLS handshake failed")
    assert https_server.log == []


def test_a_per_host_ca_given_inline_is_trusted(https_server, kibana_settings, ca):
    https_server.expect_request("/hook").respond_with_data("ok")
    settings = kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                custom_host(https_server, certificateAuthoritiesData=ca_pem(ca))
            ]
        }
    )
    assert http.send("get", url(https_server), settings=settings).text == "ok"


def test_a_per_host_ca_given_as_a_file_is_trusted(https_server, kibana_settings, ca):
    https_server.expect_request("/hook").respond_with_data("ok")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ca.pem")
        ca.cert_pem.write_to_path(path)
        settings = kibana_settings.set(
            {
                "xpack.actions.customHostSettings": [
                    custom_host(https_server, certificateAuthoritiesFiles=[path])
                ]
            }
        )
        assert http.send("get", url(https_server), settings=settings).status_code == 200


def test_the_per_host_ca_applies_only_to_that_host(https_server, kibana_settings, ca):
    settings = kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                {"url": "https://127.0.0.1:1", "ssl": {"certificateAuthoritiesData": ca_pem(ca)}}
            ]
        }
    )
    with pytest.raises(ConnectorUnreachable):
        http.send("get", url(https_server), settings=settings)


def test_verification_mode_certificate_checks_the_chain_but_not_the_name(
    https_wrong_name,
    kibana_settings,
    ca,
):
    https_wrong_name.expect_request("/hook").respond_with_data("ok")
    full = kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                custom_host(https_wrong_name, certificateAuthoritiesData=ca_pem(ca))
            ]
        }
    )
    with pytest.raises(ConnectorUnreachable):
        http.send("get", url(https_wrong_name), settings=full)
    certificate = kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                custom_host(
                    https_wrong_name, certificateAuthoritiesData=ca_pem(ca), verificationMode="certificate"
                )
            ]
        }
    )
    assert http.send("get", url(https_wrong_name), settings=certificate).text == "ok"
    no_ca = kibana_settings.set(
        {"xpack.actions.customHostSettings": [custom_host(https_wrong_name, verificationMode="certificate")]}
    )
    with pytest.raises(ConnectorUnreachable):  # the chain is still checked
        http.send("get", url(https_wrong_name), settings=no_ca)


def test_verification_mode_none_accepts_any_certificate(https_wrong_name, kibana_settings):
    https_wrong_name.expect_request("/hook").respond_with_data("ok")
    settings = kibana_settings.set({"xpack.actions.ssl.verificationMode": "none"})
    assert http.send("get", url(https_wrong_name), settings=settings).text == "ok"


@pytest.mark.django_db
def test_a_connector_run_against_a_bad_certificate_fails_as_a_request_failure(default_space, https_server):
    connector = make_connector(default_space, ".slack", secrets={"webhookUrl": url(https_server)})
    result = execute(connector, {"message": "x"})
    assert result.status == "error"
    assert result.message == "error posting slack message"
    assert "CERTIFICATE_VERIFY_FAILED" in result.service_message
    assert https_server.log == []


# ---- proxy ----------------------------------------------------------------------------------------


def test_plain_http_goes_through_the_proxy_with_its_headers(httpserver, forward_proxy, kibana_settings):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = kibana_settings.set(
        {"xpack.actions.proxyUrl": forward_proxy.url, "xpack.actions.proxyHeaders": {"X-Proxy-Token": "abc"}}
    )
    target = f"http://127.0.0.1:{httpserver.port}/hook"
    response = http.send("post", target, settings=settings, json={"a": 1})
    assert response.text == "ok"
    request_line, headers = forward_proxy.requests[0]
    assert request_line == f"POST {target} HTTP/1.1"
    assert headers["X-Proxy-Token"] == "abc"
    assert json.loads(httpserver.log[0][0].get_data()) == {"a": 1}


def test_https_is_tunnelled_with_connect_and_still_verified(
    https_server,
    forward_proxy,
    kibana_settings,
    ca,
):
    https_server.expect_request("/hook").respond_with_data("secret-ok")
    settings = kibana_settings.set(
        {
            "xpack.actions.proxyUrl": forward_proxy.url,
            "xpack.actions.proxyHeaders": {"X-Proxy-Token": "abc"},
            "xpack.actions.customHostSettings": [
                custom_host(https_server, certificateAuthoritiesData=ca_pem(ca))
            ],
        }
    )
    assert http.send("get", url(https_server), settings=settings).text == "secret-ok"
    request_line, headers = forward_proxy.requests[0]
    assert request_line.startswith(f"CONNECT 127.0.0.1:{https_server.port} HTTP/1.")
    assert headers["X-Proxy-Token"] == "abc"


def test_bypassed_hosts_go_direct(httpserver, forward_proxy, kibana_settings):
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = kibana_settings.set(
        {"xpack.actions.proxyUrl": forward_proxy.url, "xpack.actions.proxyBypassHosts": ["127.0.0.1"]}
    )
    assert http.send("get", f"http://127.0.0.1:{httpserver.port}/hook", settings=settings).text == "ok"
    assert forward_proxy.requests == []


def test_only_listed_hosts_use_the_proxy(httpserver, forward_proxy, kibana_settings):
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = kibana_settings.set(
        {"xpack.actions.proxyUrl": forward_proxy.url, "xpack.actions.proxyOnlyHosts": ["hooks.example.com"]}
    )
    assert http.send("get", f"http://127.0.0.1:{httpserver.port}/hook", settings=settings).text == "ok"
    assert forward_proxy.requests == []
    settings = kibana_settings.set(
        {"xpack.actions.proxyUrl": forward_proxy.url, "xpack.actions.proxyOnlyHosts": ["127.0.0.1"]}
    )
    assert http.send("get", f"http://127.0.0.1:{httpserver.port}/hook", settings=settings).text == "ok"
    assert len(forward_proxy.requests) == 1


@pytest.mark.django_db
def test_a_connector_run_goes_through_the_proxy(default_space, httpserver, forward_proxy, kibana_settings):
    httpserver.expect_request("/v2/enqueue").respond_with_json({"status": "success"}, status=202)
    kibana_settings.set({"xpack.actions.proxyUrl": forward_proxy.url})
    connector = make_connector(
        default_space,
        ".pagerduty",
        config={"apiUrl": f"http://127.0.0.1:{httpserver.port}/v2/enqueue"},
        secrets={"routingKey": "rk"},
    )
    assert execute(connector, {"summary": "via proxy"}).status == "ok"
    assert forward_proxy.requests[0][0].startswith("POST http://127.0.0.1:")


# ---- retry helpers ----------------------------------------------------------------------------------


def test_retry_after_is_read_as_whole_seconds(httpserver, kibana_settings):
    from werkzeug import Response

    httpserver.expect_ordered_request("/a").respond_with_response(
        Response("", 429, headers={"Retry-After": "7"})
    )
    httpserver.expect_ordered_request("/a").respond_with_response(
        Response("", 429, headers={"Retry-After": "soon"})
    )
    httpserver.expect_ordered_request("/a").respond_with_data("", 503)
    httpserver.expect_ordered_request("/a").respond_with_data("", 404)
    settings = kibana_settings.set({})
    from datetime import UTC, datetime, timedelta

    first = http.retry_for_status(http.send("get", httpserver.url_for("/a"), settings=settings))
    assert timedelta(seconds=6) < first - datetime.now(UTC) <= timedelta(seconds=7)
    assert http.retry_for_status(http.send("get", httpserver.url_for("/a"), settings=settings)) is True
    assert http.retry_for_status(http.send("get", httpserver.url_for("/a"), settings=settings)) is True
    assert http.retry_for_status(http.send("get", httpserver.url_for("/a"), settings=settings)) is False


def test_an_https_proxy_is_verified_by_the_proxy_verification_mode(
    httpserver, tls_forward_proxy, kibana_settings
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    target = f"http://127.0.0.1:{httpserver.port}/hook"
    full = kibana_settings.set({"xpack.actions.proxyUrl": tls_forward_proxy.url})
    with pytest.raises(ConnectorUnreachable):  # the proxy's certificate comes from an unknown CA
        http.send("get", target, settings=full)
    relaxed = kibana_settings.set(
        {"xpack.actions.proxyUrl": tls_forward_proxy.url, "xpack.actions.ssl.proxyVerificationMode": "none"}
    )
    assert http.send("get", target, settings=relaxed).text == "ok"
    assert tls_forward_proxy.requests[-1][0] == f"GET {target} HTTP/1.1"
