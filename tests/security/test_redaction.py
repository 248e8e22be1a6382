"""connectors/redaction.py: what a run returns carries no secret of its connector."""

import base64

from connectors.base import ExecutionResult
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
