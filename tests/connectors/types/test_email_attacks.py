"""An attacker's view of `.email` over SMTP, against a real local aiosmtpd server: what reaches a
rule's action parameters (the `.external` rule's `_alerts` context rendered by Mustache) must not add
headers, recipients or a body, and the SMTP server must not be able to pull the credentials, or an
unbounded amount of time or memory, out of the exchange."""

import pytest

from actions.services import execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from tests.connectors.types.test_email import PARAMS, RULE_RUN, smtp_connector


def relay(space, server):
    return smtp_connector(space, server.port, config={"hasAuth": False}, secrets={})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?q?CPU=0D=0ABcc=3A_thief=40evil.example?=",
        "CPU =?utf-8?b?aGlnaA0KWC1JbmplY3RlZDogMQ0KDQpQYXkgaGVyZQ==?= now",
    ],
)
def test_an_encoded_word_in_a_rendered_subject_cannot_add_a_header_or_start_the_body(
    default_space, smtp_server, subject
):
    server = smtp_server()
    result = execute(relay(default_space, server), {**PARAMS, "subject": subject}, RULE_RUN)

    assert result.status == "ok", result
    received = server.last
    assert received["rcpt_tos"] == ["ops@example.com", "lead@example.com", "audit@example.com"]
    message = received["message"]
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert "Pay here" not in message.get_body(preferencelist=("plain",)).get_content()
    assert sorted(message.keys()) == sorted(
        ["From", "To", "Cc", "Subject", "Date", "Message-ID", "Content-Type", "MIME-Version"]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("subject", ["CPU\nhigh", "CPU\r\nhigh", "CPU\rhigh", "CPU\u2028high", "CPU\x85high"])
def test_a_subject_with_a_line_break_is_sent_on_one_line_as_nodemailer_sends_it(
    default_space, smtp_server, subject
):
    server = smtp_server()
    result = execute(relay(default_space, server), {**PARAMS, "subject": subject}, RULE_RUN)

    assert result.status == "ok", result
    assert server.last["message"]["Subject"] == "CPU high"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"to": ["ops@example.com\r\nBcc: thief@evil.example"]},
        {"to": ["=?utf-8?q?Ops=0D=0ABcc=3A_thief=40evil.example?= <ops@example.com>"]},
        {"replyTo": ["=?utf-8?q?x=0D=0ABcc=3A_thief=40evil.example?= <ops@example.com>"]},
    ],
)
def test_a_line_break_in_an_address_fails_as_the_users_error_and_sends_nothing(
    default_space, smtp_server, params
):
    server = smtp_server()
    result = execute(relay(default_space, server), {**PARAMS, **params}, RULE_RUN)

    assert result.status == "error"
    assert result.message == "error sending email"
    assert result.service_message.startswith("Invalid message: ")
    assert result.error_source == "user"
    assert result.retry is False
    assert server.messages == []


# ---- a hostile SMTP server -------------------------------------------------------------------------


def _lines(connection):
    buffer = b""
    while True:
        while b"\r\n" not in buffer:
            chunk = connection.recv(4096)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\r\n", 1)
        yield line


def echoing_auth(mechanisms: str):
    """A server that offers `mechanisms` and refuses every login, quoting what the client sent."""

    def behave(connection, _stop):
        connection.sendall(b"220 hostile ESMTP\r\n")
        for line in _lines(connection):
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                connection.sendall(b"250-hostile\r\n250 AUTH " + mechanisms.encode() + b"\r\n")
            elif verb == b"AUTH" and line.upper().startswith(b"AUTH LOGIN"):
                connection.sendall(b"334 VXNlcm5hbWU6\r\n")
                user = next(_lines(connection), b"")
                connection.sendall(b"334 UGFzc3dvcmQ6\r\n")
                password = next(_lines(connection), b"")
                connection.sendall(b"535 5.7.8 rejected " + user + b" " + password + b"\r\n")
            elif verb == b"AUTH":
                connection.sendall(b"535 5.7.8 rejected " + line[len(b"AUTH PLAIN ") :] + b"\r\n")
            elif verb == b"QUIT":
                connection.sendall(b"221 bye\r\n")
                return
            else:
                connection.sendall(b"502 no\r\n")

    return behave


@pytest.mark.django_db
@pytest.mark.parametrize("mechanisms", ["PLAIN", "LOGIN"])
def test_a_server_quoting_the_auth_exchange_gets_no_credential_into_the_result_or_event_log(
    default_space, mechanisms
):
    import base64

    from eventlog.models import Event
    from tests.connectors.types.conftest import SECRET
    from tests.raw_server import RawServer

    server = RawServer(echoing_auth(mechanisms), read_request=False)
    try:
        connector = smtp_connector(default_space, server.port)
        result = execute(connector, PARAMS, RULE_RUN)
    finally:
        server.close()

    assert result.status == "error"
    assert result.service_message.startswith("Invalid login: 535 5.7.8 rejected ")
    written = "\n".join(
        [repr(result), *(f"{e.message} {e.error_message} {e.document}" for e in Event.objects.all())]
    )
    for shape in (
        base64.b64encode(f"\0mailer\0{SECRET}".encode()).decode(),  # AUTH PLAIN's argument
        base64.b64encode(SECRET.encode()).decode(),  # AUTH LOGIN's password line
        SECRET,
    ):
        assert shape not in written


def dripping_greeting(connection, stop):
    """A greeting that does not end (for 8 s), a byte at a time, each well within the read timeout."""
    import time

    connection.sendall(b"220-")
    until = time.monotonic() + 8
    while not stop.is_set() and time.monotonic() < until:
        connection.sendall(b"x")
        stop.wait(0.05)


def endless_greeting(connection, stop):
    """A multi-line greeting that does not end (for 64 MB), as fast as the client reads it."""
    line = b"220-" + b"x" * 1000 + b"\r\n"
    try:
        for _ in range(1000):
            if stop.is_set():
                break
            connection.sendall(line * 64)
    except OSError:
        pass


@pytest.mark.django_db
def test_a_server_dripping_its_reply_is_cut_off_at_the_response_timeout(default_space, kibana_settings):
    """A per-read timeout restarts on every byte: alone, it let a server hold the worker for ever."""
    import time

    from tests.raw_server import RawServer

    kibana_settings.set({"xpack.actions.responseTimeout": "1s"})
    server = RawServer(dripping_greeting, read_request=False)
    try:
        started = time.monotonic()
        result = execute(relay(default_space, server), PARAMS, RULE_RUN)
        elapsed = time.monotonic() - started
    finally:
        server.close()

    assert result.status == "error"
    assert result.service_message == "Connection timeout"
    assert result.retry is True
    assert elapsed < 3


@pytest.mark.django_db
def test_a_server_sending_an_endless_reply_is_cut_off_at_the_response_size_limit(
    default_space, kibana_settings
):
    """smtplib gathers a multi-line reply for as long as it lasts: the memory it takes had no bound."""
    import time

    from tests.raw_server import RawServer

    kibana_settings.set(
        {"xpack.actions.maxResponseContentLength": "64kb", "xpack.actions.responseTimeout": "5s"}
    )
    server = RawServer(endless_greeting, read_request=False)
    try:
        started = time.monotonic()
        result = execute(relay(default_space, server), PARAMS, RULE_RUN)
        elapsed = time.monotonic() - started
    finally:
        server.close()

    assert result.status == "error"
    assert result.service_message.startswith("The server's reply is longer than 65536 bytes")
    assert elapsed < 2


@pytest.mark.django_db
def test_a_server_dripping_its_reply_through_the_proxy_is_cut_off_at_the_response_timeout(
    default_space, kibana_settings, forward_proxy
):
    import time

    from tests.raw_server import RawServer

    kibana_settings.set({"xpack.actions.responseTimeout": "1s", "xpack.actions.proxyUrl": forward_proxy.url})
    server = RawServer(dripping_greeting, read_request=False)
    try:
        started = time.monotonic()
        result = execute(relay(default_space, server), PARAMS, RULE_RUN)
        elapsed = time.monotonic() - started
    finally:
        server.close()

    assert forward_proxy.requests[0][0] == f"CONNECT 127.0.0.1:{server.port} HTTP/1.1"
    assert result.status == "error"
    assert result.service_message == "Connection timeout"
    assert elapsed < 3


# ---- recipients --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_address_of_a_rendered_list_is_a_recipient_as_nodemailer_sends_it(default_space, smtp_server):
    """`to: ["{{context.oncall}}"]` may render to a list; only its first address was sent the mail,
    though the allow-list checked them all and the To header named them all."""
    server = smtp_server()
    params = {
        **PARAMS,
        "to": ["Ops <ops@example.com>, oncall@example.com"],
        "cc": [],
        "bcc": ["a@example.com,b@example.com"],
    }
    result = execute(relay(default_space, server), params, RULE_RUN)

    assert result.status == "ok", result
    recipients = ["ops@example.com", "oncall@example.com", "a@example.com", "b@example.com"]
    assert server.last["rcpt_tos"] == recipients
    assert result.data["accepted"] == recipients
    assert result.data["envelope"]["to"] == recipients


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address",
    [
        '"ops@example.com"@evil.example',
        "Ops <thief@evil.example> (ops@example.com)",
        '"ops@example.com" <thief@evil.example>',
        "ops@example.com <thief@evil.example>",
        "ops@example.com, thief@evil.example",
        "ops@example.com>,<thief@evil.example",
        "ops@example.com.",
        "thief@evil.example@example.com",
        "ops@example.com\tthief@evil.example",
    ],
)
def test_the_domain_allow_list_cannot_be_passed_with_a_second_address_in_disguise(
    default_space, smtp_server, kibana_settings, address
):
    kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    server = smtp_server()
    result = execute(relay(default_space, server), {**PARAMS, "to": [address], "cc": [], "bcc": []}, RULE_RUN)

    assert result.status == "error"
    assert "[to/cc/bcc]: not " in result.message
    assert server.messages == []


# ---- credentials ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("mechanisms", ["PLAIN LOGIN", "LOGIN"])
def test_a_password_with_non_ascii_characters_logs_in_as_nodemailer_sends_it_in_utf_8(
    default_space, smtp_server, mechanisms
):
    """smtplib encodes AUTH as ASCII: such a password failed every send (nodemailer sends UTF-8)."""
    password = "pässwörd-€-marker"
    server = smtp_server(auth=("mäiler", password))
    if mechanisms == "LOGIN":
        server.controller.SMTP_kwargs["auth_exclude_mechanism"] = ["PLAIN"]  # the next connection
    connector = smtp_connector(default_space, server.port, secrets={"user": "mäiler", "password": password})
    result = execute(connector, PARAMS, RULE_RUN)

    assert result.status == "ok", result
    assert server.logins == [("mäiler", True)]


@pytest.mark.django_db
def test_an_internationalized_address_is_sent_with_smtputf8_when_the_server_offers_it(
    default_space, smtp_server
):
    """smtplib sends commands in ASCII unless told SMTPUTF8: such an address failed the send."""
    server = smtp_server()
    params = {**PARAMS, "to": ["Jörg <jörg@exämple.com>"], "cc": [], "bcc": []}
    result = execute(relay(default_space, server), params, RULE_RUN)

    assert result.status == "ok", result
    assert server.last["rcpt_tos"] == ["jörg@exämple.com"]
    assert server.last["message"]["To"] == "Jörg <jörg@exämple.com>"


@pytest.mark.django_db
def test_an_internationalized_address_fails_clearly_when_the_server_does_not_offer_smtputf8(
    default_space, smtp_server
):
    server = smtp_server()
    server.controller.SMTP_kwargs["enable_SMTPUTF8"] = False  # the next connection
    params = {**PARAMS, "to": ["jörg@example.com"], "cc": [], "bcc": []}
    result = execute(relay(default_space, server), params, RULE_RUN)

    assert result.status == "error"
    assert result.service_message == (
        "Invalid message: jörg@example.com is not an ASCII address and the server does not offer SMTPUTF8"
    )
    assert result.error_source == "user"
    assert server.messages == []


# ---- reply-to and the domain allow-list ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reply_to",
    [
        "{{context.owner}} <thief@evil.example>",  # a template left unrendered (`_execute` renders none)
        '"{{x}}" <thief@evil.example>',
    ],
)
def test_a_reply_to_outside_the_domain_allow_list_is_refused_when_the_action_runs(
    default_space, smtp_server, kibana_settings, reply_to
):
    """Saving skips addresses that hold `{{...}}` (they render later), so the run is the only check
    that sees what the reply goes to: Kibana's executor re-checks to, cc, bcc and from, not replyTo."""
    kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    server = smtp_server()
    result = execute(
        relay(default_space, server), {**PARAMS, "replyTo": ["ok@example.com", reply_to]}, RULE_RUN
    )

    assert result.status == "error"
    assert result.message == f"[replyTo]: not allowed emails: {reply_to}"
    assert result.error_source == "user"
    assert result.retry is False
    assert server.messages == []


@pytest.mark.django_db
def test_a_reply_to_inside_the_domain_allow_list_is_sent(default_space, smtp_server, kibana_settings):
    kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    server = smtp_server()
    result = execute(
        relay(default_space, server), {**PARAMS, "replyTo": ["Desk <desk@example.com>"]}, RULE_RUN
    )

    assert result.status == "ok", result
    assert server.last["message"]["Reply-To"] == "Desk <desk@example.com>"


@pytest.mark.parametrize("address", ["}} {{ <thief@evil.example>", "thief@evil.example {{"])
def test_braces_that_do_not_open_a_template_do_not_spare_an_address_the_allow_list_at_save(
    kibana_settings, address
):
    """Kibana's MustacheInEmailRegExp: a template is `{{` followed, anywhere later, by `}}`."""
    settings = kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".email").validate_params({**PARAMS, "to": [address]}, settings)
    assert (
        caught.value.message == f"error validating action params: [to/cc/bcc]: not allowed emails: {address}"
    )


# ---- what one rendered entry may expand to --------------------------------------------------------


def _email_rule(api, connector, params):
    body = {
        "name": "router",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1h"},
        "actions": [
            {
                "group": "critical",
                "id": connector.id,
                "params": {"subject": "s", "message": "m", **params},
                "frequency": {"summary": False, "notify_when": "onActionGroupChange", "throttle": None},
            }
        ],
    }
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["id"]


def _report_and_run(api, rule_id, context):
    from django.utils import timezone

    from actions import worker
    from actions.models import ActionRun
    from actions.rule_runner import run_rule

    report = {"alerts": [{"id": "a1", "action_group": "critical", "context": context}]}
    assert api.post(f"/api/alerting/rule/{rule_id}/_alerts", report, format="json").status_code == 202
    run_rule(rule_id, now=timezone.now())
    worker.run_pending()
    return ActionRun.objects.get(rule_id=rule_id)


@pytest.mark.django_db
def test_a_rendered_entry_expanding_to_thousands_of_recipients_is_refused_and_sends_nothing(
    api, default_space, smtp_server
):
    """Kibana's limit, checked again on the rendered parameters: one entry of to, cc, bcc or replyTo
    holds at most 512 characters (so at most about 85 addresses), and each list at most 100 entries."""
    server = smtp_server()
    rule_id = _email_rule(api, relay(default_space, server), {"to": ["{{context.list}}"]})
    addresses = ", ".join(f"user{n}@example.com" for n in range(2000))

    run = _report_and_run(api, rule_id, {"list": addresses})

    assert run.attempts == 1 and run.status in ("queued", "failed")  # Kibana retries a params error
    assert run.last_error == (
        f"error validating action params: [to.0]: value has length [{len(addresses)}] but it must have "
        "a maximum length of [512]."
    )
    assert server.messages == []


@pytest.mark.django_db
def test_a_reply_to_rendered_from_an_alerts_context_is_checked_against_the_allow_list(
    api, default_space, smtp_server, kibana_settings
):
    kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    server = smtp_server()
    rule_id = _email_rule(
        api, relay(default_space, server), {"to": ["ops@example.com"], "replyTo": ["{{context.owner}}"]}
    )

    run = _report_and_run(api, rule_id, {"owner": "{{x}} <thief@evil.example>"})

    assert run.status == "failed"
    assert run.last_error == "[replyTo]: not allowed emails: {{x}} <thief@evil.example>"
    assert server.messages == []
