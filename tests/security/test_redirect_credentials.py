"""Redirects never carry credentials to another origin (scheme, host or port).

A service that answers 302/307 with a Location on another host must not receive the connector's
`Authorization`, its secret headers or a type's own key header; https never goes down to plain http;
a 307/308 re-sends its body only to the same origin. Two pytest-httpserver instances on different
ports are two origins; the TLS server's certificate comes from a trustme CA."""

import base64
import logging
import ssl

import pytest
import trustme
from pytest_httpserver import HTTPServer

from actions.services import RunInfo, execute
from connectors import http
from connectors.models import Connector

PASSWORD = "basic-pass-7f3a91"
SECRET_HEADER = "secret-header-value-c81e"
AUTHORIZATION = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()


def basic_webhook(space, url: str, *, config: dict | None = None) -> Connector:
    connector = Connector(
        space=space,
        name="hook",
        connector_type_id=".webhook",
        config={
            "url": url,
            "method": "post",
            "hasAuth": True,
            "headers": {"X-Team": "sre"},
            **(config or {}),
        },
    )
    connector.set_secrets(
        {"user": "elastic", "password": PASSWORD, "secretHeaders": {"X-Api-Key": SECRET_HEADER}}
    )
    connector.save()
    return connector


@pytest.fixture
def other_origin():
    """A second server: the same host as `httpserver` (localhost), another port: another origin."""
    server = HTTPServer(host="localhost", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def credentials_in(request) -> dict[str, str]:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return {
        name: headers[name]
        for name in ("authorization", "x-api-key", "x-team", "cookie", "proxy-authorization")
        if name in headers
    }


@pytest.mark.django_db
def test_a_302_to_another_origin_goes_there_without_credentials_or_secret_headers(
    default_space, httpserver, other_origin
):
    other_origin.expect_request("/landing", method="GET").respond_with_data("ok")
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=302, headers={"Location": other_origin.url_for("/landing")}
    )

    result = execute(basic_webhook(default_space, httpserver.url_for("/hook")), {"body": "{}"}, RunInfo())

    assert result.status == "ok", str(result)
    first, _ = httpserver.log[0]
    assert first.headers["Authorization"] == AUTHORIZATION
    assert first.headers["X-Api-Key"] == SECRET_HEADER
    landed, _ = other_origin.log[0]
    assert credentials_in(landed) == {}, "credentials went to the other origin"
    assert PASSWORD not in str(landed.headers) and SECRET_HEADER not in str(landed.headers)


@pytest.mark.django_db
def test_a_307_to_another_origin_is_refused_and_the_body_never_goes_there(
    default_space, httpserver, other_origin
):
    other_origin.expect_request("/landing").respond_with_data("ok")
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=307, headers={"Location": other_origin.url_for("/landing")}
    )

    result = execute(
        basic_webhook(default_space, httpserver.url_for("/hook")), {"body": '{"alert":"x"}'}, RunInfo()
    )

    assert result.status == "error"
    assert "the request body is sent again only to the same origin" in result.service_message
    assert f"http://localhost:{other_origin.port}" in result.service_message
    assert "/landing" not in result.service_message, "paths can be secrets: only the origin is named"
    assert result.retry is False
    assert other_origin.log == []


@pytest.mark.django_db
def test_a_307_within_the_same_origin_keeps_method_body_and_credentials(default_space, httpserver):
    httpserver.expect_request("/moved", method="POST").respond_with_data("ok")
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=307, headers={"Location": "/moved"}
    )

    result = execute(
        basic_webhook(default_space, httpserver.url_for("/hook")), {"body": '{"alert":"x"}'}, RunInfo()
    )

    assert result.status == "ok", str(result)
    moved, _ = httpserver.log[1]
    assert moved.get_data(as_text=True) == '{"alert":"x"}'
    assert credentials_in(moved) == {
        "authorization": AUTHORIZATION,
        "x-api-key": SECRET_HEADER,
        "x-team": "sre",
    }


@pytest.mark.django_db
def test_after_leaving_the_origin_a_redirect_back_does_not_restore_the_credentials(
    default_space, httpserver, other_origin
):
    httpserver.expect_request("/back", method="GET").respond_with_data("ok")
    other_origin.expect_request("/bounce").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/back")}
    )
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=302, headers={"Location": other_origin.url_for("/bounce")}
    )

    result = execute(basic_webhook(default_space, httpserver.url_for("/hook")), {"body": "{}"}, RunInfo())

    assert result.status == "ok", str(result)
    back, _ = httpserver.log[1]
    assert credentials_in(back) == {}


@pytest.mark.django_db
def test_a_types_own_key_header_is_dropped_on_a_redirect_to_another_origin(
    kibana_settings, httpserver, other_origin
):
    """Types carry keys in headers of their own (`.d3security`'s d3key, `.torq`'s X-Torq-Token,
    `.gen-ai`'s api-key, AWS signatures): only plain content-negotiation headers cross origins."""
    other_origin.expect_request("/landing").respond_with_data("ok")
    httpserver.expect_request("/api").respond_with_data(
        "", status=303, headers={"Location": other_origin.url_for("/landing")}
    )

    response = http.send(
        "post",
        httpserver.url_for("/api"),
        settings=kibana_settings.set({}),
        headers={"d3key": "d3-key-value", "X-Torq-Token": "torq-token", "Accept": "application/json"},
        json={"a": 1},
    )

    assert response.status_code == 200
    landed, _ = other_origin.log[0]
    names = {name.lower() for name, _value in landed.headers.items()}
    assert "d3key" not in names and "x-torq-token" not in names
    assert landed.headers["Accept"] == "application/json"
    assert "content-type" not in names, "the body was dropped (303), so is its type"


@pytest.fixture(scope="module")
def tls_ca():
    return trustme.CA()


@pytest.fixture
def tls_server(tls_ca):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("127.0.0.1").configure_cert(context)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.django_db
def test_a_redirect_from_https_to_plain_http_is_refused(default_space, tls_ca, tls_server, other_origin):
    other_origin.expect_request("/clear").respond_with_data("ok")
    tls_server.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": other_origin.url_for("/clear")}
    )
    ca = base64.b64encode(tls_ca.cert_pem.bytes()).decode()
    connector = basic_webhook(
        default_space, tls_server.url_for("/hook"), config={"ca": ca, "verificationMode": "full"}
    )

    result = execute(connector, {"body": "{}"}, RunInfo())

    assert len(tls_server.log) == 1, "the https server was asked"
    assert result.status == "error"
    assert "a redirect never leaves https for plain http" in result.service_message
    assert other_origin.log == [], "nothing went out in clear text"


@pytest.mark.django_db
def test_the_log_line_names_the_method_and_host_that_answered(
    default_space, httpserver, other_origin, caplog
):
    other_origin.expect_request("/landing", method="GET").respond_with_data("ok")
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=303, headers={"Location": other_origin.url_for("/landing")}
    )

    with caplog.at_level(logging.DEBUG, logger="connectors.http"):
        execute(basic_webhook(default_space, httpserver.url_for("/hook")), {"body": "{}"}, RunInfo())

    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.http"]
    assert lines[-1].startswith(f"GET http://localhost:{other_origin.port} -> 200"), lines


@pytest.mark.django_db
def test_the_line_per_call_is_at_debug_so_a_busy_worker_does_not_write_one_per_delivery(
    default_space, httpserver, caplog
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")

    with caplog.at_level(logging.INFO, logger="connectors.http"):
        execute(basic_webhook(default_space, httpserver.url_for("/hook")), {"body": "{}"}, RunInfo())

    assert [r.getMessage() for r in caplog.records if r.name == "connectors.http"] == []


@pytest.mark.django_db
def test_a_cookie_one_service_sets_never_goes_with_another_connectors_call(default_space, httpserver):
    """The pooled session is shared by every connector a thread runs: it keeps no cookie jar."""
    httpserver.expect_request("/set").respond_with_data("ok", headers={"Set-Cookie": "session=abc123"})
    httpserver.expect_request("/other").respond_with_data("ok")
    execute(basic_webhook(default_space, httpserver.url_for("/set")), {"body": "{}"}, RunInfo())

    execute(basic_webhook(default_space, httpserver.url_for("/other")), {"body": "{}"}, RunInfo())

    second, _ = httpserver.log[1]
    assert "Cookie" not in second.headers
