"""Remote services that misbehave: each failure is a bounded, classified error result (never an
exception, never a stuck call). The contract suite (tests/connectors/test_contract.py) replays
timeout, refused connection, 500 and 401 against every type; these add the nastier shapes on the one
HTTP seam, through the executor."""

import socket
import struct
import time
from datetime import UTC, datetime

import pytest

from actions.services import RunInfo, execute
from tests.raw_server import RawServer
from tests.security.conftest import webhook

# A misbehaving service here gives up after this long; a call cut off by its response timeout (300 ms)
# ends long before, so the bounds below are half of it: behaviour, not speed, even on a loaded machine.
SERVICE_GIVES_UP_AFTER = 20


@pytest.fixture
def raw_server():
    servers = []

    def make(behave):
        servers.append(RawServer(behave))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _reset(connection, _stop):
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _drip(connection, stop):
    """One byte every 50 ms, for at most SERVICE_GIVES_UP_AFTER s (the test itself stays bounded)."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    ends = time.monotonic() + SERVICE_GIVES_UP_AFTER
    while not stop.is_set() and time.monotonic() < ends:
        connection.sendall(b"x")
        time.sleep(0.05)


def _garbage(connection, _stop):
    connection.sendall(b"this is not HTTP at all\r\n\r\n")


def _run(space, port, path="/hook"):
    return execute(webhook(space, f"http://127.0.0.1:{port}{path}"), {"body": "{}"}, RunInfo(source="action"))


@pytest.mark.django_db
def test_a_reset_connection_is_a_retryable_error(raw_server, default_space):
    server = raw_server(_reset)
    result = _run(default_space, server.port)
    assert result.status == "error"
    assert result.retry is True
    assert "ECONNRESET" in result.service_message
    assert server.connections == 1, "no retry inside the call"


@pytest.mark.django_db
def test_an_answer_that_is_not_http_is_an_error_result(raw_server, default_space):
    server = raw_server(_garbage)
    result = _run(default_space, server.port)
    assert result.status == "error"
    assert server.connections == 1


@pytest.mark.django_db
def test_a_body_over_max_response_content_length_is_refused(kibana_settings, default_space, httpserver):
    kibana_settings.set({"xpack.actions.maxResponseContentLength": "1kb"})
    httpserver.expect_request("/hook").respond_with_data("x" * 5000)
    result = _run(default_space, httpserver.port)
    assert result.status == "error"
    assert "maxContentLength size of 1024 exceeded" in result.service_message
    assert len(httpserver.log) == 1


@pytest.mark.django_db
def test_a_chunked_body_over_the_limit_is_cut_off_too(kibana_settings, default_space, httpserver):
    from werkzeug import Response

    kibana_settings.set({"xpack.actions.maxResponseContentLength": "1kb"})
    httpserver.expect_request("/hook").respond_with_response(Response(iter([b"y" * 600] * 10)))
    result = _run(default_space, httpserver.port)
    assert "maxContentLength size of 1024 exceeded" in result.service_message


@pytest.mark.django_db
def test_a_429_with_retry_after_is_retried_no_sooner_than_asked(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "30"}
    )
    before = datetime.now(UTC)
    result = _run(default_space, httpserver.port)
    assert result.status == "error"
    assert isinstance(result.retry, datetime), result
    assert 29 <= (result.retry - before).total_seconds() <= 32


@pytest.mark.django_db
def test_a_hanging_service_is_cut_off_at_the_response_timeout(kibana_settings, raw_server, default_space):
    server = raw_server(lambda connection, stop: stop.wait(SERVICE_GIVES_UP_AFTER))
    kibana_settings.set({"xpack.actions.responseTimeout": "300ms"})
    started = time.monotonic()
    result = _run(default_space, server.port)
    assert result.status == "error" and result.retry is True
    assert "ETIMEDOUT" in result.service_message
    assert time.monotonic() - started < SERVICE_GIVES_UP_AFTER / 2


@pytest.mark.django_db
def test_a_service_that_drips_its_body_is_cut_off_at_the_response_timeout(
    kibana_settings, raw_server, default_space
):
    """Kibana's timeout bounds the whole response; a per-read timeout alone never fires on a drip."""
    server = raw_server(_drip)
    kibana_settings.set({"xpack.actions.responseTimeout": "300ms"})
    started = time.monotonic()
    result = _run(default_space, server.port)
    elapsed = time.monotonic() - started
    assert result.status == "error" and result.retry is True
    assert "ETIMEDOUT" in result.service_message
    assert elapsed < SERVICE_GIVES_UP_AFTER / 2, f"the call took {elapsed:.1f} s against a 300 ms timeout"
