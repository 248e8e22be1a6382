"""`.webhook` against a real local HTTP server."""

import base64
import json
import ssl

import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Response

from actions.services import RunInfo, execute
from connectors.models import Connector

SECRET = "p4ss-marker-19d2"


def make_webhook(space, url, *, config=None, secrets=None):
    connector = Connector(
        space=space,
        name="My hook",
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": True, **(config or {})},
    )
    connector.set_secrets(secrets if secrets is not None else {"user": "elastic", "password": SECRET})
    connector.save()
    return connector


def test_it_posts_the_body_with_basic_auth_and_headers(default_space, httpserver: HTTPServer):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    connector = make_webhook(
        default_space, httpserver.url_for("/hook"), config={"headers": {"X-Team": "sre"}}
    )

    result = execute(connector, {"body": '{"text": "hello"}'})

    assert result.status == "ok"
    assert result.data == '{"text": "hello"}'
    request, _ = httpserver.log[0]
    assert request.get_data(as_text=True) == '{"text": "hello"}'
    assert request.headers["X-Team"] == "sre"
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    )
    assert "Content-Type" not in request.headers  # Kibana adds none


def test_a_user_supplied_authorization_header_wins(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    connector = make_webhook(
        default_space, httpserver.url_for("/hook"), config={"headers": {"Authorization": "Bearer t"}}
    )
    execute(connector, {"body": "x"})
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer t"


def test_it_asks_for_a_retry_on_500(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_json({"message": "boom"}, status=500)
    result = execute(make_webhook(default_space, httpserver.url_for("/hook")), {"body": "x"})
    assert result.status == "error"
    assert result.message == "error calling webhook, retry later"
    assert result.service_message == "[500] INTERNAL SERVER ERROR: boom"
    assert result.retry is True
    assert SECRET not in json.dumps(result.to_api("x"))


def test_it_retries_at_the_retry_after_time_on_429(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "120"})
    )
    result = execute(make_webhook(default_space, httpserver.url_for("/hook")), {"body": "x"})
    assert result.message.startswith("error calling webhook, retry at ")
    assert result.to_api("x")["retry"].startswith("20")


def test_a_404_is_a_final_user_error(default_space, httpserver):
    httpserver.expect_request("/nope").respond_with_data("", status=404)
    result = execute(make_webhook(default_space, httpserver.url_for("/nope")), {"body": "x"})
    assert result.message == "error calling webhook, invalid response"
    assert result.retry is False
    assert result.error_source == "user"


def test_a_refused_connection_is_a_retryable_request_failure(default_space):
    result = execute(make_webhook(default_space, "http://127.0.0.1:9/hook"), {"body": "x"})
    assert result.message == "error calling webhook, request failed"
    assert result.service_message.startswith("[ECONNREFUSED]")
    assert result.retry is True


def test_hosts_outside_allowed_hosts_are_refused_with_kibanas_message(
    default_space, httpserver, kibana_settings
):
    connector = make_webhook(default_space, httpserver.url_for("/hook"))
    kibana_settings.set({"xpack.actions.allowedHosts": ["example.com"]})
    result = execute(connector, {"body": "x"})
    assert result.status == "error"
    # The config no longer validates, so the run fails before any request, as Kibana's does.
    assert result.message == (
        f"error validating action type config: error validation webhook action config: target url "
        f'"{connector.config["url"]}" is not added to the Kibana config xpack.actions.allowedHosts'
    )
    assert result.retry is False
    assert len(httpserver.log) == 0


def test_private_addresses_are_refused_unless_allowed(default_space, httpserver, kibana_settings):
    connector = make_webhook(default_space, httpserver.url_for("/hook"))
    kibana_settings.set({"connectors.network.allowPrivateAddresses": False})
    result = execute(connector, {"body": "x"})
    assert result.status == "error"
    assert "connectors.network.allowPrivateAddresses" in result.service_message
    assert len(httpserver.log) == 0


def test_a_cidr_allow_list_lets_only_those_private_addresses_through(
    default_space, httpserver, kibana_settings
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    connector = make_webhook(default_space, httpserver.url_for("/hook"))
    kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.0/8"]})
    assert execute(connector, {"body": "x"}).status == "ok"
    kibana_settings.set({"connectors.network.allowPrivateAddresses": ["10.0.0.0/8"]})
    assert execute(connector, {"body": "x"}).status == "error"


def test_a_redirect_to_a_refused_host_is_not_followed(default_space, httpserver, kibana_settings):
    httpserver.expect_request("/hook").respond_with_response(
        Response("", status=302, headers={"Location": "http://localhost:9/elsewhere"})
    )
    kibana_settings.set({"xpack.actions.allowedHosts": ["127.0.0.1"]})
    url = httpserver.url_for("/hook").replace("localhost", "127.0.0.1")
    result = execute(make_webhook(default_space, url), {"body": "x"})
    assert 'target hostname "localhost" is not added' in result.service_message


def test_an_oversized_response_is_refused(default_space, httpserver, kibana_settings):
    httpserver.expect_request("/hook").respond_with_data("x" * 5000)
    kibana_settings.set({"xpack.actions.maxResponseContentLength": "1kb"})
    result = execute(make_webhook(default_space, httpserver.url_for("/hook")), {"body": "x"})
    assert result.status == "error"
    assert "maxContentLength size of 1024 exceeded" in result.service_message


@pytest.fixture(scope="module")
def tls_ca():
    return trustme.CA()


@pytest.fixture
def tls_server(tls_ca):
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_tls_to_an_unknown_ca_is_refused(default_space, tls_server):
    tls_server.expect_request("/hook").respond_with_data("ok")
    result = execute(
        make_webhook(default_space, tls_server.url_for("/hook").replace("127.0.0.1", "localhost")),
        {"body": "x"},
    )
    assert result.status == "error"
    assert result.service_message.startswith("[CERT]")


def test_tls_works_with_the_ca_from_custom_host_settings(default_space, tls_server, tls_ca, kibana_settings):
    tls_server.expect_request("/hook").respond_with_data("ok")
    url = tls_server.url_for("/hook").replace("127.0.0.1", "localhost")
    kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                {
                    "url": f"https://localhost:{tls_server.port}",
                    "ssl": {"certificateAuthoritiesData": tls_ca.cert_pem.bytes().decode()},
                }
            ]
        }
    )
    assert execute(make_webhook(default_space, url), {"body": "x"}).status == "ok"


def test_verification_mode_certificate_checks_the_chain_but_not_the_name(
    default_space, tls_server, tls_ca, kibana_settings
):
    tls_server.expect_request("/hook").respond_with_data("ok")
    ca = tls_ca.cert_pem.bytes().decode()
    url = tls_server.url_for("/hook").replace("127.0.0.1", "localhost")
    host = {"url": f"https://localhost:{tls_server.port}", "ssl": {"certificateAuthoritiesData": ca}}
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("other.example").configure_cert(server_context)
    other = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    other.start()
    try:
        other.expect_request("/hook").respond_with_data("ok")
        other_url = other.url_for("/hook").replace("127.0.0.1", "localhost")
        other_host = {"url": f"https://localhost:{other.port}", "ssl": {"certificateAuthoritiesData": ca}}
        kibana_settings.set({"xpack.actions.customHostSettings": [host, other_host]})
        assert execute(make_webhook(default_space, other_url), {"body": "x"}).status == "error"
        kibana_settings.set(
            {
                "xpack.actions.customHostSettings": [
                    host,
                    {**other_host, "ssl": {**other_host["ssl"], "verificationMode": "certificate"}},
                ]
            }
        )
        assert execute(make_webhook(default_space, other_url), {"body": "x"}).status == "ok"
    finally:
        other.stop()
    assert execute(make_webhook(default_space, url), {"body": "x"}).status == "ok"


def test_verification_mode_none_accepts_any_certificate(default_space, tls_server, kibana_settings):
    tls_server.expect_request("/hook").respond_with_data("ok")
    kibana_settings.set({"xpack.actions.ssl.verificationMode": "none"})
    url = tls_server.url_for("/hook").replace("127.0.0.1", "localhost")
    assert execute(make_webhook(default_space, url), {"body": "x"}).status == "ok"


def test_invalid_params_fail_with_kibanas_message(default_space, httpserver):
    result = execute(make_webhook(default_space, httpserver.url_for("/hook")), {"body": 5}, RunInfo())
    # Kibana's ParamsSchema: body is schema.maybe(schema.string()), no union with null
    assert (
        result.message
        == "error validating action params: [body]: expected value of type [string] but got [number]"
    )
    assert result.retry is False


def test_a_null_webhook_body_is_refused_as_kibanas_maybe_does(default_space, httpserver):
    result = execute(make_webhook(default_space, httpserver.url_for("/hook")), {"body": None}, RunInfo())
    assert (
        result.message
        == "error validating action params: [body]: expected value of type [string] but got [null]"
    )
    assert httpserver.log == []


def test_unset_optional_config_keys_are_left_out_as_kibana_leaves_them_out(api, httpserver):
    created = api.post(
        "/api/actions/connector",
        {
            "name": "hook",
            "connector_type_id": ".webhook",
            "config": {"url": httpserver.url_for("/x")},
            "secrets": {"user": "u", "password": "p"},
        },
        format="json",
    ).json()
    assert created["config"] == {
        "url": httpserver.url_for("/x"),
        "method": "post",
        "headers": None,
        "hasAuth": True,
    }


def test_an_unset_auth_type_stays_out_of_the_saved_config_as_in_kibanas_webhook_api_test(api, httpserver):
    # Kibana's schema is `maybe(oneOf([...], {defaultValue: basic}))` (zod: `.default(basic).optional()`):
    # an absent authType stays absent, and its API test expects `{headers: null, method: 'post',
    # hasAuth: true, url}`. The run still uses basic auth.
    httpserver.expect_request("/x", method="POST").respond_with_data("ok")
    created = api.post(
        "/api/actions/connector",
        {
            "name": "hook",
            "connector_type_id": ".webhook",
            "config": {"url": httpserver.url_for("/x")},
            "secrets": {"user": "u", "password": "p"},
        },
        format="json",
    ).json()
    assert created["config"] == {
        "headers": None,
        "method": "post",
        "hasAuth": True,
        "url": httpserver.url_for("/x"),
    }
    fetched = api.get(f"/api/actions/connector/{created['id']}").json()
    assert fetched["config"] == created["config"]
    result = api.post(
        f"/api/actions/connector/{created['id']}/_execute", {"params": {"body": "x"}}, format="json"
    ).json()
    assert result["status"] == "ok", result
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
