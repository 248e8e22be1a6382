"""connectors/redaction.py: what a run returns carries no secret of its connector."""

import base64
import json
import logging
from urllib.parse import quote_plus

import pytest
from werkzeug import Response

from actions.services import execute
from connectors.base import ExecutionResult
from connectors.models import Connector
from connectors.redaction import REDACTED, scrub_result


def test_secret_values_and_their_basic_encoding_are_replaced_everywhere_in_the_result():
    secrets = {"user": "u", "password": "hunter2-long", "nested": {"token": "tok-123456"}}
    basic = base64.b64encode(b"u:hunter2-long").decode()
    result = ExecutionResult(
        status="error",
        message="failed with hunter2-long",
        service_message=f"echo: Authorization: Basic {basic}",
        data={"list": ["tok-123456", {"deep": "x hunter2-long y"}], "n": 3},
    )
    scrubbed = scrub_result(result, secrets)
    assert scrubbed.message == f"failed with {REDACTED}"
    assert scrubbed.service_message == f"echo: Authorization: Basic {REDACTED}"
    assert scrubbed.data == {"list": [REDACTED, {"deep": f"x {REDACTED} y"}], "n": 3}
    assert scrubbed.status == "error" and result.message == "failed with hunter2-long"


def test_short_values_are_left_alone_so_messages_stay_readable():
    result = ExecutionResult(status="error", message="user u failed", service_message="u")
    assert scrub_result(result, {"user": "u", "password": ""}) == result


def test_no_secrets_means_the_same_result():
    result = ExecutionResult.success({"a": "b"})
    assert scrub_result(result, {}) is result


SECRET = "tok-echoed-5b1e77"


@pytest.fixture
def exploding_type():
    """A type with a bug: it raises with its secret in the message, and in the message of the cause."""
    from connectors import registry
    from connectors.base import ConnectorType
    from connectors.schemas import Object, String

    class Exploding(ConnectorType):
        type_id = ".test-exploding"
        name = "Exploding"
        secrets_schema = Object({"user": String(), "token": String()})

        def run(self, ctx):
            try:
                {}[ctx.secrets["token"]]
            except KeyError as cause:
                basic = base64.b64encode(f"{ctx.secrets['user']}:{ctx.secrets['token']}".encode()).decode()
                raise RuntimeError(f"could not send Authorization: Basic {basic}") from cause

    registry.register(Exploding)
    yield Exploding
    registry._types.pop(".test-exploding")


def test_the_traceback_of_a_types_exception_is_logged_without_its_secrets(
    default_space, exploding_type, caplog
):
    # Before: logger.exception() logged the traceback as it was, secret and Basic encoding included.
    connector = Connector(space=default_space, name="boom", connector_type_id=".test-exploding", config={})
    connector.set_secrets({"user": "admin", "token": SECRET})
    connector.save()
    caplog.set_level(logging.DEBUG)

    result = execute(connector, {})

    assert result.status == "error"
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    logged = logging.Formatter().format(record)  # message and any traceback the handler would write
    assert "Traceback (most recent call last)" in logged
    assert "RuntimeError: could not send Authorization: Basic [REDACTED]" in logged
    assert f"KeyError: '{REDACTED}'" in logged  # the cause is scrubbed too
    everything = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert SECRET not in everything
    assert base64.b64encode(f"admin:{SECRET}".encode()).decode() not in everything


# ---- echoes in another shape than the secret was stored in ----------------------------------------
# A service (or a proxy in front of it) that repeats a request back rarely repeats it verbatim: it
# prints the path it was asked for, JSON-encodes what it read, or repeats the form it was posted.


def _run_and_everything_written(connector, params, caplog) -> str:
    """Run `connector`; what the run answered, the event log, the row's health and the log, as text."""
    from eventlog.models import Event

    caplog.set_level(logging.DEBUG)
    result = execute(connector, params)
    assert result.status == "error", result
    row = Connector.objects.get(pk=connector.pk)
    return "\n".join(
        [
            repr(result),
            json.dumps(result.to_api(connector.id)),
            *(f"{e.message} {e.error_message}" for e in Event.objects.all()),
            row.last_error,
            *(logging.Formatter().format(r) for r in caplog.records if not r.name.startswith("werkzeug")),
        ]
    )


@pytest.mark.django_db
def test_the_path_of_a_secret_webhook_url_echoed_by_the_service_is_redacted(
    default_space, httpserver, caplog
):
    # Before: only the whole URL was a needle; Slack's "not ok" body quoting just the path went out.
    token = "XoXoSecretHookToken77"
    httpserver.expect_request(f"/services/T0/B0/{token}").respond_with_handler(
        lambda request: Response(f"no_service: no webhook at {request.path}", status=200)
    )
    connector = Connector(space=default_space, name="slack", connector_type_id=".slack", config={})
    connector.set_secrets({"webhookUrl": httpserver.url_for(f"/services/T0/B0/{token}")})
    connector.save()

    written = _run_and_everything_written(connector, {"message": "m"}, caplog)

    assert f"no_service: no webhook at {REDACTED}" in written
    assert token not in written


def test_the_query_values_and_password_of_a_secret_url_are_redacted_on_their_own():
    secrets = {"secretsUrl": "https://acme.example.com/api/v1/triggers?apiKey=k3y-a1b2c3d4&v=2"}
    result = ExecutionResult(
        status="error",
        message="rejected apiKey=k3y-a1b2c3d4 for /api/v1/triggers",
        service_message="unknown key k3y-a1b2c3d4",
    )
    scrubbed = scrub_result(result, secrets)
    assert "k3y-a1b2c3d4" not in scrubbed.message + scrubbed.service_message
    assert scrubbed.service_message == f"unknown key {REDACTED}"
    userinfo = scrub_result(
        ExecutionResult(status="error", message="login p4ss-w0rd-xyz refused"),
        {"webhookUrl": "https://bot:p4ss-w0rd-xyz@hooks.example.com/x"},
    )
    assert userinfo.message == f"login {REDACTED} refused"


QUOTED_TOKEN = 'tok"en\\with-quotes-5b1e'


def _echo_json(request):
    """Repeats the headers and the form it received, JSON-encoded, as a 500's `message`."""
    received = {"headers": dict(request.headers), "form": request.form.to_dict()}
    return Response(json.dumps({"message": received}), status=500, content_type="application/json")


@pytest.mark.django_db
def test_a_secret_header_echoed_back_json_encoded_is_redacted(default_space, httpserver, caplog):
    # Before: the webhook's service message re-encodes a non-string `message` as JSON, so the
    # header's `"` and `\` came back escaped and the plain needle no longer matched.
    httpserver.expect_request("/hook").respond_with_handler(_echo_json)
    connector = Connector(
        space=default_space,
        name="hook",
        connector_type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "method": "post", "hasAuth": False},
    )
    connector.set_secrets({"secretHeaders": {"X-Api-Key": QUOTED_TOKEN}})
    connector.save()

    written = _run_and_everything_written(connector, {"body": "{}"}, caplog)

    assert '"X-Api-Key": "[REDACTED]"' in written
    assert json.dumps(QUOTED_TOKEN)[1:-1] not in written
    assert QUOTED_TOKEN not in written


def _client_credentials_webhook(space, httpserver, client_secret: str) -> Connector:
    """A `.webhook` that gets its token from the local server's `/token` with `client_secret`."""
    connector = Connector(
        space=space,
        name="hook",
        connector_type_id=".webhook",
        config={
            "url": httpserver.url_for("/hook"),
            "method": "post",
            "hasAuth": True,
            "authType": "webhook-oauth2-client-credentials",
            "accessTokenUrl": httpserver.url_for("/token"),
            "clientId": "client-1",
        },
    )
    connector.set_secrets({"clientSecret": client_secret})
    connector.save()
    return connector


@pytest.mark.django_db
def test_a_client_secret_echoed_back_form_encoded_by_a_token_endpoint_is_redacted(
    default_space, httpserver, caplog
):
    # Before: the token endpoint's answer quoting the form it was posted carried the client secret
    # percent-encoded (`tok%22en%5Cwith...`) into the run's message.
    httpserver.expect_request("/token").respond_with_handler(
        lambda request: Response(
            json.dumps({"error": "invalid_client", "received": request.get_data(as_text=True)}),
            status=401,
            content_type="application/json",
        )
    )
    connector = _client_credentials_webhook(default_space, httpserver, QUOTED_TOKEN)

    written = _run_and_everything_written(connector, {"body": "{}"}, caplog)

    assert "client_secret=[REDACTED]" in written
    assert quote_plus(QUOTED_TOKEN) not in written
    assert json.dumps(QUOTED_TOKEN)[1:-1] not in written


def _basic_webhook(space, url: str, password: str) -> Connector:
    connector = Connector(
        space=space,
        name="hook",
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": True},
    )
    connector.set_secrets({"user": "elastic", "password": password})
    connector.save()
    return connector


@pytest.mark.django_db
def test_an_echoed_basic_header_of_a_non_ascii_password_is_redacted(default_space, httpserver, caplog):
    # Before: requests encodes Basic credentials as Latin-1, the needle is the UTF-8 encoding (what
    # Kibana's axios sends): the echoed header of a password with `ä` went out unredacted.
    httpserver.expect_request("/hook").respond_with_handler(_echo_json)
    connector = _basic_webhook(default_space, httpserver.url_for("/hook"), "pässwörd-7c1d")

    written = _run_and_everything_written(connector, {"body": "{}"}, caplog)

    sent = httpserver.log[0][0].headers["Authorization"]
    assert '"Authorization": "Basic [REDACTED]"' in written
    assert sent.removeprefix("Basic ") not in written


@pytest.mark.django_db
def test_basic_auth_goes_out_utf8_encoded_as_kibana_sends_it(default_space, httpserver):
    # Before: a password outside Latin-1 (`€`) could not be encoded at all: the run failed with
    # "an error occurred while running the action" and nothing was sent.
    httpserver.expect_request("/hook").respond_with_data("ok")
    password = "pässwörd-€-7c1d"

    result = execute(_basic_webhook(default_space, httpserver.url_for("/hook"), password), {"body": "{}"})

    assert result.status == "ok", result
    sent = httpserver.log[0][0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"elastic:{password}".encode()).decode()


ACCESS_TOKEN = "AT-live-access-5b1e77"


@pytest.mark.django_db
def test_an_oauth_access_token_echoed_back_by_the_service_is_redacted(default_space, httpserver, caplog):
    # Before: only the stored secrets were needles; the access token minted from them (live for an
    # hour) came back in the run's message, the event log and `last_error`, fresh or from the cache.
    httpserver.expect_request("/token").respond_with_json(
        {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}
    )
    httpserver.expect_request("/hook").respond_with_handler(
        lambda request: Response(
            json.dumps({"message": f"no access with {request.headers['Authorization']}"}),
            status=500,
            content_type="application/json",
        )
    )
    connector = _client_credentials_webhook(default_space, httpserver, "client-secret-9f2e")

    fresh = _run_and_everything_written(connector, {"body": "{}"}, caplog)
    cached = _run_and_everything_written(connector, {"body": "{}"}, caplog)

    assert len([r for r, _ in httpserver.log if r.path == "/token"]) == 1, "the second run used the cache"
    assert f"no access with {REDACTED}" in fresh
    assert ACCESS_TOKEN not in fresh + cached


CUT_SECRET = "cs-4f9a1c7e2b8d0a6f3e"


@pytest.mark.django_db
def test_a_client_secret_echoed_where_a_non_json_token_answer_is_cut_leaves_none_of_it(
    default_space, httpserver, caplog
):
    # Before: the answer was cut to 500 characters before the executor redacted the result, so the
    # cut fell inside the echoed secret and its first characters matched no needle and went out.
    def echo(request):
        sent = request.get_data(as_text=True)
        pad = "x" * (500 - 8 - len("refused: ") - sent.index(CUT_SECRET))  # the cut after 8 characters
        return Response(f"refused: {pad}{sent}", status=401, content_type="text/plain")

    httpserver.expect_request("/token").respond_with_handler(echo)
    connector = _client_credentials_webhook(default_space, httpserver, CUT_SECRET)

    written = _run_and_everything_written(connector, {"body": "{}"}, caplog)

    assert "refused: xxx" in written, "the token endpoint's answer is still reported"
    leaked = [CUT_SECRET[:n] for n in range(6, len(CUT_SECRET) + 1) if CUT_SECRET[:n] in written]
    assert not leaked, f"the start of the secret went out: {leaked[-1]!r}"
