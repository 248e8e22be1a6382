"""connectors/redaction.py: what a run returns carries no secret of its connector."""

import base64
import logging

import pytest

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
