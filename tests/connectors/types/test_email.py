"""`.email` against real local SMTP servers (aiosmtpd: plain, STARTTLS, implicit TLS) and a local
HTTP server playing Microsoft's token endpoint and Graph."""

import json
from urllib.parse import parse_qs

import pytest

from actions.services import RunInfo, execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from connectors.models import ConnectorToken
from tests.connectors.types.conftest import SECRET, SECRET_2, assert_no_secret, ca_pem, make_connector

RULE_RUN = RunInfo(source="action")


def smtp_connector(space, port, *, config=None, secrets=None):
    return make_connector(
        space,
        ".email",
        config={
            "service": "other",
            "host": "127.0.0.1",
            "port": port,
            "secure": False,
            "from": "Alerts <alerts@example.com>",
            **(config or {}),
        },
        secrets={"user": "mailer", "password": SECRET} if secrets is None else secrets,
    )


PARAMS = {
    "to": ["ops@example.com"],
    "cc": ["lead@example.com"],
    "bcc": ["audit@example.com"],
    "subject": "CPU high",
    "message": "Host **web-1** is at 97%. See https://status.example.com",
}


def parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


@pytest.mark.django_db
def test_it_sends_markdown_as_text_and_html_with_auth_over_plain_smtp(default_space, smtp_server):
    server = smtp_server(auth=("mailer", SECRET))
    connector = smtp_connector(default_space, server.port)

    result = execute(connector, PARAMS, RULE_RUN)

    assert result.status == "ok", result
    assert server.logins == [("mailer", True)]
    received = server.last
    assert received["mail_from"] == "alerts@example.com"
    assert received["rcpt_tos"] == ["ops@example.com", "lead@example.com", "audit@example.com"]
    message = received["message"]
    assert message["Subject"] == "CPU high"
    assert message["From"] == "Alerts <alerts@example.com>"
    assert message["To"] == "ops@example.com"
    assert message["Cc"] == "lead@example.com"
    assert message["Bcc"] is None
    text, html = parts(message)
    assert text.rstrip("\n") == (
        "Host **web-1** is at 97%. See https://status.example.com\n\n---\n\nThis message was sent by Elastic."
    )
    assert "<strong>web-1</strong>" in html
    assert '<a href="https://status.example.com">' in html
    assert "<hr" in html
    assert result.data["accepted"] == ["ops@example.com", "lead@example.com", "audit@example.com"]
    assert result.data["rejected"] == []
    assert result.data["response"].startswith("250")
    assert_no_secret(result)


@pytest.mark.django_db
def test_the_footer_links_to_the_public_base_url(default_space, smtp_server, kibana_settings):
    kibana_settings.set({"connectors.kibanaBaseUrl": "https://kibana.example.com"})
    server = smtp_server()
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    params = {**PARAMS, "kibanaFooterLink": {"path": "/app/rules", "text": "View rule"}}
    assert execute(connector, params, RULE_RUN).status == "ok"
    text, _ = parts(server.last["message"])
    assert text.rstrip("\n").endswith(
        "This message was sent by Elastic. [View rule](https://kibana.example.com/app/rules)."
    )


@pytest.mark.django_db
def test_the_footer_can_be_turned_off(default_space, smtp_server, kibana_settings):
    kibana_settings.set({"xpack.actions.enableFooterInEmail": False})
    server = smtp_server()
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    assert execute(connector, {**PARAMS, "message": "plain"}, RULE_RUN).status == "ok"
    assert parts(server.last["message"])[0].rstrip("\n") == "plain"


@pytest.mark.django_db
def test_an_execute_request_sends_kibanas_fixed_test_message(default_space, smtp_server):
    server = smtp_server()
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, PARAMS, RunInfo(source="http_request"))
    assert result.status == "ok"
    message = server.last["message"]
    assert message["Subject"] == "This is a test email from Kibana"
    assert parts(message)[0].startswith("This is a test email from Kibana\n\n---\n\n")


@pytest.mark.django_db
def test_starttls_is_used_when_offered_and_verified_against_a_per_host_ca(
    default_space, smtp_server, kibana_settings, ca
):
    server = smtp_server(tls="starttls", auth=("mailer", SECRET))
    kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                {"url": f"smtp://127.0.0.1:{server.port}", "ssl": {"certificateAuthoritiesData": ca_pem(ca)}}
            ]
        }
    )
    result = execute(smtp_connector(default_space, server.port), PARAMS, RULE_RUN)
    assert result.status == "ok", result
    assert server.last["tls"] is True


@pytest.mark.django_db
def test_a_certificate_from_an_unknown_ca_is_refused_when_credentials_are_sent(default_space, smtp_server):
    server = smtp_server(tls="starttls", auth=("mailer", SECRET))
    result = execute(smtp_connector(default_space, server.port), PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.message == "error sending email"
    assert "CERTIFICATE_VERIFY_FAILED" in result.service_message
    assert server.messages == []
    assert server.logins == []  # the password never went over the unverified connection
    assert_no_secret(result)


@pytest.mark.django_db
def test_a_relay_without_credentials_is_not_asked_for_a_valid_certificate(default_space, smtp_server):
    server = smtp_server(tls="starttls")
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "ok", result
    assert server.last["tls"] is True


@pytest.mark.django_db
def test_verification_mode_none_accepts_an_unknown_ca(default_space, smtp_server, kibana_settings):
    server = smtp_server(tls="starttls", auth=("mailer", SECRET))
    kibana_settings.set({"xpack.actions.ssl.verificationMode": "none"})
    assert execute(smtp_connector(default_space, server.port), PARAMS, RULE_RUN).status == "ok"


@pytest.mark.django_db
def test_verification_mode_certificate_accepts_a_certificate_for_another_name(
    default_space, smtp_server, kibana_settings, ca, server_tls_wrong_name
):
    server = smtp_server(tls="starttls", auth=("mailer", SECRET), context=server_tls_wrong_name)
    url = f"smtp://127.0.0.1:{server.port}"
    entry = {"url": url, "ssl": {"certificateAuthoritiesData": ca_pem(ca)}}
    kibana_settings.set({"xpack.actions.customHostSettings": [entry]})
    refused = execute(smtp_connector(default_space, server.port), PARAMS, RULE_RUN)
    assert refused.status == "error"
    assert "CERTIFICATE_VERIFY_FAILED" in refused.service_message or "match" in refused.service_message

    entry["ssl"]["verificationMode"] = "certificate"
    kibana_settings.set({"xpack.actions.customHostSettings": [entry]})
    assert execute(smtp_connector(default_space, server.port), PARAMS, RULE_RUN).status == "ok"


@pytest.mark.django_db
def test_secure_true_speaks_tls_from_the_first_byte(default_space, smtp_server, kibana_settings, ca):
    server = smtp_server(tls="implicit", auth=("mailer", SECRET))
    kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                {"url": f"smtp://127.0.0.1:{server.port}", "ssl.certificateAuthoritiesData": ca_pem(ca)}
            ]
        }
    )
    result = execute(smtp_connector(default_space, server.port, config={"secure": True}), PARAMS, RULE_RUN)
    assert result.status == "ok", result
    assert server.last["tls"] is True


@pytest.mark.django_db
def test_ignore_tls_keeps_the_connection_plain(default_space, smtp_server, kibana_settings):
    server = smtp_server(tls="starttls")
    kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                {"url": f"smtp://127.0.0.1:{server.port}", "smtp.ignoreTLS": True}
            ]
        }
    )
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    assert execute(connector, PARAMS, RULE_RUN).status == "ok"
    assert server.last["tls"] is False


@pytest.mark.django_db
def test_require_tls_refuses_a_server_without_starttls(default_space, smtp_server, kibana_settings):
    server = smtp_server()
    kibana_settings.set(
        {
            "xpack.actions.customHostSettings": [
                {"url": f"smtp://127.0.0.1:{server.port}", "smtp.requireTLS": True}
            ]
        }
    )
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "error"
    assert "STARTTLS" in result.service_message
    assert server.messages == []


@pytest.mark.django_db
def test_a_wrong_password_is_an_invalid_login_without_the_password(default_space, smtp_server):
    server = smtp_server(auth=("mailer", "the-right-one"))
    result = execute(smtp_connector(default_space, server.port), PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.message == "error sending email"
    assert result.service_message.startswith("Invalid login: 535")
    assert result.retry is False
    assert_no_secret(result)


@pytest.mark.django_db
def test_mail_is_refused_when_every_recipient_is_rejected(default_space, smtp_server):
    server = smtp_server()
    server.rejected_recipients = {"ops@example.com"}
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, {**PARAMS, "cc": [], "bcc": []}, RULE_RUN)
    assert result.status == "error"
    assert result.service_message.startswith("Can't send mail - all recipients were rejected: 550")
    assert result.retry is False


@pytest.mark.django_db
def test_some_rejected_recipients_are_reported(default_space, smtp_server):
    server = smtp_server()
    server.rejected_recipients = {"lead@example.com"}
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "ok"
    assert result.data["rejected"] == ["lead@example.com"]
    assert server.last["rcpt_tos"] == ["ops@example.com", "audit@example.com"]


@pytest.mark.django_db
def test_a_refused_connection_is_retryable(default_space):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = execute(smtp_connector(default_space, port), PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.message == "error sending email"
    assert result.service_message == f"connect ECONNREFUSED 127.0.0.1:{port}"
    assert result.retry is True


@pytest.mark.django_db
def test_well_known_services_can_be_pointed_at_a_local_server(
    default_space, smtp_server, kibana_settings, ca
):
    server = smtp_server(tls="implicit", auth=("mailer", SECRET))
    kibana_settings.set(
        {
            "connectors.email.services": {
                "gmail": {"host": "127.0.0.1", "port": server.port, "secure": True}
            },
            "xpack.actions.customHostSettings": [
                {"url": f"smtp://127.0.0.1:{server.port}", "ssl.certificateAuthoritiesData": ca_pem(ca)}
            ],
        }
    )
    connector = make_connector(
        default_space,
        ".email",
        config={"service": "gmail", "from": "alerts@example.com"},
        secrets={"user": "mailer", "password": SECRET},
    )
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "ok", result
    assert server.last["tls"] is True


@pytest.mark.django_db
def test_smtp_goes_through_the_configured_proxy(default_space, smtp_server, kibana_settings, forward_proxy):
    server = smtp_server()
    kibana_settings.set(
        {"xpack.actions.proxyUrl": forward_proxy.url, "xpack.actions.proxyHeaders": {"X-Proxy-Team": "sre"}}
    )
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "ok", result
    request_line, headers = forward_proxy.requests[0]
    assert request_line == f"CONNECT 127.0.0.1:{server.port} HTTP/1.1"
    assert headers["X-Proxy-Team"] == "sre"
    assert len(server.messages) == 1


# ---- validation -------------------------------------------------------------------------------------


def email_type():
    return registry.get(".email")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"from": "a@example.com"}, "[host]/[port] is required"),
        ({"from": "a@example.com", "host": "smtp.example.com"}, "[port] is required"),
        ({"from": "a@example.com", "port": 25}, "[host] is required"),
        ({"from": "a@example.com", "service": "exchange_server"}, "[clientId]/[tenantId] is required"),
        ({"from": "a@example.com", "service": "exchange_server", "tenantId": "t"}, "[clientId] is required"),
        ({"from": "a@example.com", "service": "nonsense"}, "[service] value 'nonsense' is not valid"),
    ],
)
def test_config_problems_are_named_as_kibana_names_them(config, message, kibana_settings):
    settings = kibana_settings.set({})
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_config(config, settings)
    assert caught.value.message == f"error validating action type config: {message}"


def test_hosts_outside_allowed_hosts_are_refused(kibana_settings):
    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["example.com"]})
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_config({"from": "a@example.com", "service": "gmail"}, settings)
    assert caught.value.message == (
        "error validating action type config: [service] value 'gmail' resolves to host 'smtp.gmail.com' "
        "which is not in the allowedHosts configuration"
    )


def test_a_string_port_is_coerced(kibana_settings):
    config = email_type().validate_config(
        {"from": "a@example.com", "host": "smtp.example.com", "port": "2525"}, kibana_settings.set({})
    )
    assert config["port"] == 2525


def test_user_and_password_are_required_with_auth():
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_connector(
            {"service": "other", "hasAuth": True}, {"user": "u", "password": None}
        )
    assert caught.value.message == "error validating action type connector: [password] is required"


def test_the_domain_allowlist_applies_to_sender_and_recipients(kibana_settings):
    settings = kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_config({"from": "a@evil.org", "host": "h", "port": 25}, settings)
    assert (
        caught.value.message == "error validating action type config: [from]: not allowed emails: a@evil.org"
    )
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_params(
            {"to": ["ok@example.com", "bad@evil.org", "{{context.owner}}"], "subject": "s", "message": "m"},
            settings,
        )
    assert caught.value.message == (
        "error validating action params: [to/cc/bcc]: not allowed emails: bad@evil.org"
    )


def test_at_least_one_recipient_is_required(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_params({"to": ["  "], "subject": "s", "message": "m"}, kibana_settings.set({}))
    assert caught.value.message == (
        "error validating action params: At least one entry in [to], [cc], or [bcc] is required"
    )


@pytest.mark.django_db
def test_html_needs_allow_html_and_attachments_need_notifications(default_space, smtp_server):
    server = smtp_server()
    connector = smtp_connector(default_space, server.port, config={"hasAuth": False}, secrets={})
    result = execute(connector, {**PARAMS, "messageHTML": "<b>x</b>"}, RULE_RUN)
    assert result.message == "HTML email can only be sent when the connector is configured to allow HTML"
    result = execute(connector, {**PARAMS, "attachments": [{"content": "x", "filename": "a.txt"}]}, RULE_RUN)
    assert result.message == "Email attachments can only be sent via notifications"
    assert server.messages == []


@pytest.mark.django_db
def test_allow_html_sends_the_given_html(default_space, smtp_server):
    server = smtp_server()
    connector = smtp_connector(
        default_space, server.port, config={"hasAuth": False, "allowHtml": True}, secrets={}
    )
    assert execute(connector, {**PARAMS, "messageHTML": "<p>custom</p>"}, RULE_RUN).status == "ok"
    assert parts(server.last["message"])[1].strip() == "<p>custom</p>"


# ---- Microsoft Exchange through Graph ----------------------------------------------------------------


def exchange_connector(space, httpserver):
    return make_connector(
        space,
        ".email",
        config={
            "service": "exchange_server",
            "from": "alerts@example.com",
            "tenantId": "tenant-1",
            "clientId": "client-1",
            "hasAuth": True,
        },
        secrets={"clientSecret": SECRET},
    )


@pytest.fixture
def graph(httpserver, kibana_settings):
    base = httpserver.url_for("").rstrip("/")
    kibana_settings.set(
        {
            "xpack.actions.microsoftExchangeUrl": f"{base}/login",
            "connectors.serviceUrls": {".email": f"{base}/graph/v1.0"},
        }
    )
    return httpserver


@pytest.mark.django_db
def test_exchange_mail_goes_through_graph_with_a_cached_client_credentials_token(default_space, graph):
    graph.expect_request("/login/tenant-1/oauth2/v2.0/token", method="POST").respond_with_json(
        {"token_type": "Bearer", "access_token": SECRET_2, "expires_in": 3600}
    )
    graph.expect_request("/graph/v1.0/users/alerts@example.com/sendMail", method="POST").respond_with_data(
        "", status=202
    )
    connector = exchange_connector(default_space, graph)

    first = execute(connector, PARAMS, RULE_RUN)
    second = execute(connector, PARAMS, RULE_RUN)

    assert first.status == "ok", first
    assert second.status == "ok"
    token_requests = [r for r, _ in graph.log if r.path.endswith("/token")]
    assert len(token_requests) == 1  # the second run used the cached token
    token_request = token_requests[0]
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert parse_qs(token_request.get_data(as_text=True)) == {
        "client_id": ["client-1"],
        "client_secret": [SECRET],
        "scope": ["https://graph.microsoft.com/.default"],
        "grant_type": ["client_credentials"],
    }
    send = next(r for r, _ in graph.log if r.path.endswith("/sendMail"))
    assert send.headers["Authorization"] == f"Bearer {SECRET_2}"
    assert send.headers["Content-Type"] == "application/json"
    body = json.loads(send.get_data())
    assert list(body["message"]) == [
        "subject",
        "body",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "attachments",
    ]
    assert body["message"]["subject"] == "CPU high"
    assert body["message"]["body"]["contentType"] == "HTML"
    assert "<strong>web-1</strong>" in body["message"]["body"]["content"]
    assert body["message"]["toRecipients"] == [{"emailAddress": {"address": "ops@example.com"}}]
    assert body["message"]["bccRecipients"] == [{"emailAddress": {"address": "audit@example.com"}}]
    assert body["message"]["attachments"] == []
    assert ConnectorToken.objects.filter(connector=connector).count() == 1
    assert_no_secret(first)


@pytest.mark.django_db
def test_a_graph_4xx_fails_with_the_body_and_drops_the_cached_token(default_space, graph):
    graph.expect_request("/login/tenant-1/oauth2/v2.0/token").respond_with_json(
        {"token_type": "Bearer", "access_token": SECRET_2, "expires_in": 3600}
    )
    graph.expect_request("/graph/v1.0/users/alerts@example.com/sendMail").respond_with_json(
        {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}, status=403
    )
    connector = exchange_connector(default_space, graph)
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.message == "error sending email"
    assert result.service_message == '{"error":{"code":"ErrorAccessDenied","message":"Access is denied."}}'
    assert result.error_source == "user"
    assert result.retry is False
    assert ConnectorToken.objects.filter(connector=connector).count() == 0
    assert_no_secret(result)


@pytest.mark.django_db
def test_a_graph_503_is_retryable(default_space, graph):
    graph.expect_request("/login/tenant-1/oauth2/v2.0/token").respond_with_json(
        {"token_type": "Bearer", "access_token": SECRET_2, "expires_in": 3600}
    )
    graph.expect_request("/graph/v1.0/users/alerts@example.com/sendMail").respond_with_data(
        "busy", status=503
    )
    result = execute(exchange_connector(default_space, graph), PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.retry is True


@pytest.mark.django_db
def test_a_refused_token_request_fails_without_leaking_the_client_secret(default_space, graph):
    graph.expect_request("/login/tenant-1/oauth2/v2.0/token").respond_with_json(
        {"error": "invalid_client"}, status=401
    )
    result = execute(exchange_connector(default_space, graph), PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.message == "error sending email"
    assert "invalid_client" in result.service_message
    assert not [r for r, _ in graph.log if r.path.endswith("/sendMail")]
    assert_no_secret(result)


@pytest.mark.django_db
def test_secure_defaults_to_whether_the_port_is_465(default_space, smtp_server, kibana_settings, ca):
    server = smtp_server(tls="implicit")
    kibana_settings.set({"xpack.actions.responseTimeout": "500ms"})
    connector = smtp_connector(
        default_space, server.port, config={"hasAuth": False, "secure": None}, secrets={}
    )
    # Not 465, not secure: plain first, and the implicit-TLS server does not answer plain text.
    result = execute(connector, PARAMS, RULE_RUN)
    assert result.status == "error"
    assert result.service_message == "Connection timeout"
    assert result.retry is True
    plan = registry.get(".email")._plan({**connector.config, "port": 465}, {}, kibana_settings.set({}))
    assert plan.secure is True


def test_the_api_refuses_an_email_connector_without_host_with_kibanas_message(api):
    response = api.post(
        "/api/actions/connector",
        {"name": "mail", "connector_type_id": ".email", "config": {"from": "a@example.com"}, "secrets": {}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "error validating action type config: [host]/[port] is required",
    }


def test_the_api_executes_an_email_connector_and_answers_200_with_the_result(api, smtp_server):
    server = smtp_server()
    created = api.post(
        "/api/actions/connector",
        {
            "name": "mail",
            "connector_type_id": ".email",
            "config": {"from": "a@example.com", "host": "127.0.0.1", "port": server.port, "hasAuth": False},
            "secrets": {},
        },
        format="json",
    )
    assert created.status_code == 200, created.content
    response = api.post(
        f"/api/actions/connector/{created.json()['id']}/_execute",
        {"params": {"to": ["b@example.com"], "subject": "s", "message": "m"}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["data"]["accepted"] == ["b@example.com"]
    assert server.last["message"]["Subject"] == "This is a test email from Kibana"


@pytest.mark.django_db
def test_updating_or_deleting_the_connector_drops_its_cached_token(default_space, graph):
    from connectors import services

    graph.expect_request("/login/tenant-1/oauth2/v2.0/token").respond_with_json(
        {"token_type": "Bearer", "access_token": SECRET_2, "expires_in": 3600}
    )
    graph.expect_request("/graph/v1.0/users/alerts@example.com/sendMail").respond_with_data("", status=202)
    connector = exchange_connector(default_space, graph)
    assert execute(connector, PARAMS, RULE_RUN).status == "ok"
    assert ConnectorToken.objects.filter(connector=connector).count() == 1
    services.update_connector(
        connector, name="renamed", config=dict(connector.config), secrets={"clientSecret": SECRET}
    )
    assert ConnectorToken.objects.filter(connector=connector).count() == 0
    assert execute(connector, PARAMS, RULE_RUN).status == "ok"
    assert ConnectorToken.objects.filter(connector_id=connector.id).count() == 1
    connector_id = connector.id
    services.delete_connector(connector)
    assert ConnectorToken.objects.filter(connector_id=connector_id).count() == 0


@pytest.mark.django_db
def test_the_json_service_returns_the_message_without_sending(default_space):
    connector = make_connector(
        default_space, ".email", config={"service": "__json", "from": "a@example.com", "hasAuth": False}
    )
    result = execute(connector, PARAMS, RunInfo(source="http_request"))
    assert result.status == "ok"
    assert result.data["envelope"] == {
        "from": "a@example.com",
        "to": ["ops@example.com", "lead@example.com", "audit@example.com"],
    }
    assert result.data["message"]["subject"] == "CPU high"  # __json keeps the given content


@pytest.mark.django_db
def test_one_service_url_points_graph_and_its_token_endpoint_at_one_server(
    default_space, httpserver, kibana_settings
):
    kibana_settings.set({"connectors.serviceUrls": {".email": httpserver.url_for("/ms")}})
    httpserver.expect_request("/ms/tenant-1/oauth2/v2.0/token").respond_with_json(
        {"token_type": "Bearer", "access_token": SECRET_2, "expires_in": 3600}
    )
    httpserver.expect_request("/ms/users/alerts@example.com/sendMail").respond_with_data("", status=202)
    result = execute(exchange_connector(default_space, httpserver), PARAMS, RULE_RUN)
    assert result.status == "ok", result
    assert [r.path for r, _ in httpserver.log] == [
        "/ms/tenant-1/oauth2/v2.0/token",
        "/ms/users/alerts@example.com/sendMail",
    ]


def test_services_can_be_limited_to_an_enabled_list(kibana_settings):
    settings = kibana_settings.set({"xpack.actions.email.services.enabled": ["microsoft-exchange", "other"]})
    email_type().validate_config({"from": "a@example.com", "host": "h", "port": 25}, settings)
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_config({"from": "a@example.com", "service": "gmail"}, settings)
    assert caught.value.message == (
        'error validating action type config: [service]: "google-mail" is not in the list of enabled '
        "email services: microsoft-exchange,other"
    )


def test_the_saved_config_has_kibanas_defaults_and_no_unset_optional_keys(kibana_settings):
    config = email_type().validate_config(
        {"from": "a@example.com", "host": "smtp.example.com", "port": 587}, kibana_settings.set({})
    )
    assert config == {
        "service": "other",
        "host": "smtp.example.com",
        "port": 587,
        "secure": None,
        "from": "a@example.com",
        "hasAuth": True,
        "tenantId": None,
        "clientId": None,
        "oauthTokenUrl": None,
    }


def test_a_7x_config_with_a_null_service_reads_as_other(kibana_settings):
    config = email_type().validate_config(
        {
            "from": "user2@company.com",
            "hasAuth": True,
            "host": "securehost",
            "port": 465,
            "secure": None,
            "service": None,
        },
        kibana_settings.set({}),
    )
    assert config["service"] == "other"


@pytest.mark.django_db
def test_the_json_service_answers_nodemailers_message_shape_as_kibanas_email_api_test_expects(
    api, kibana_settings
):
    # Kibana's email API integration test, `__json` service: no cc/bcc are null, headers are {}.
    kibana_settings.set({"connectors.kibanaBaseUrl": "https://localhost:5601"})
    created = api.post(
        "/api/actions/connector",
        {
            "name": "An email action",
            "connector_type_id": ".email",
            "config": {"service": "__json", "from": "bob@example.com", "hasAuth": True},
            "secrets": {"user": "bob", "password": "supersecret"},
        },
        format="json",
    ).json()
    body = api.post(
        f"/api/actions/connector/{created['id']}/_execute",
        {
            "params": {
                "to": ["kibana-action-test@elastic.co"],
                "subject": "email-subject",
                "message": "email-message",
            }
        },
        format="json",
    ).json()
    data = body["data"]
    assert isinstance(data["messageId"], str) and isinstance(data["message"]["messageId"], str)
    del data["messageId"], data["message"]["messageId"]
    assert data == {
        "envelope": {"from": "bob@example.com", "to": ["kibana-action-test@elastic.co"]},
        "message": {
            "from": {"address": "bob@example.com", "name": ""},
            "to": [{"address": "kibana-action-test@elastic.co", "name": ""}],
            "cc": None,
            "bcc": None,
            "subject": "email-subject",
            "html": '<p>email-message</p>\n<hr>\n<p>This message was sent by Elastic. <a href="https://localhost:5601">'
            "Go to Elastic</a>.</p>\n",
            "text": "email-message\n\n---\n\nThis message was sent by Elastic. [Go to Elastic](https://localhost:5601).",
            "headers": {},
        },
    }


@pytest.mark.django_db
def test_the_json_service_lists_reply_to_as_nodemailer_does(default_space):
    connector = make_connector(
        default_space, ".email", config={"service": "__json", "from": "bob@example.com", "hasAuth": False}
    )
    params = {"to": ["a@example.com"], "replyTo": ["reply@example.com"], "subject": "s", "message": "m"}
    result = execute(connector, params, RunInfo(source="http_request"))
    assert result.data["message"]["replyTo"] == [{"address": "reply@example.com", "name": ""}]
    assert result.data["envelope"] == {"from": "bob@example.com", "to": ["a@example.com"]}


@pytest.mark.django_db
def test_a_message_longer_than_the_maximum_body_length_setting_is_trimmed_with_kibanas_warning(
    default_space, kibana_settings
):
    # Kibana's email API test runs with xpack.actions.email.maximum_body_length: 10000.
    kibana_settings.set({"xpack.actions.email.maximum_body_length": 10000})
    connector = make_connector(
        default_space, ".email", config={"service": "__json", "from": "bob@example.com", "hasAuth": False}
    )
    params = {"to": ["a@example.com"], "subject": "s", "message": "x" * 20000}
    result = execute(connector, params, RunInfo(source="http_request"))
    text, html = result.data["message"]["text"], result.data["message"]["html"]
    assert text.startswith(
        "Your message's length of 20000 exceeded the 10000 bytes limit that is set for the connector "
        f'"{connector.id}" and was trimmed. You can modify the limit by increasing the value specified for '
        "the xpack.actions.email.maximum_body_length setting.\n\n" + "x" * 10000 + "\n\n---\n\n"
    )
    assert html.startswith("<p>Your message's length of 20000 exceeded the 10000 bytes limit")
    assert len(text) < 20000


# Kibana's email ParamsSchema: attachments is schema.maybe(arrayOf(AttachmentSchema)), and an
# attachment's contentType and encoding are schema.maybe: null is refused, not taken as absent.


@pytest.mark.parametrize(
    ("attachments", "message"),
    [
        (None, "[attachments]: expected value of type [array] but got [null]"),
        (
            [{"content": "c", "filename": "f", "contentType": None}],
            "[attachments.0.contentType]: expected value of type [string] but got [null]",
        ),
        (
            [{"content": "c", "filename": "f", "encoding": None}],
            "[attachments.0.encoding]: expected value of type [string] but got [null]",
        ),
    ],
)
def test_email_refuses_null_attachments_fields_as_kibanas_maybe_does(kibana_settings, attachments, message):
    params = {"to": ["a@example.com"], "subject": "s", "message": "m", "attachments": attachments}
    with pytest.raises(ConfigurationError) as caught:
        email_type().validate_params(params, kibana_settings.set({}))
    assert caught.value.message == f"error validating action params: {message}"
