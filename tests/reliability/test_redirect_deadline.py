"""The response timeout is one deadline for the whole call, redirects included: a hop that starts
late gets only what is left of it, for its TCP connect and its TLS handshake as for its reads.
Otherwise a service that answers its redirect just before the deadline, to a server that accepts
the connection and never finishes the handshake, holds the worker thread for a second timeout."""

import threading
import time

import pytest

from actions.services import RunInfo, execute
from tests.raw_server import RawServer
from tests.security.conftest import webhook

TIMEOUT_SECONDS = 4
# The first hop answers its redirect this long after the request: most of the deadline is gone.
REDIRECT_AFTER_SECONDS = 3.2
# Cut off at the deadline, the call ends near TIMEOUT_SECONDS; with a fresh timeout for the second
# hop it would end near REDIRECT_AFTER_SECONDS + TIMEOUT_SECONDS. The bound sits halfway, so a loaded
# machine still tells the two apart.
HALFWAY = (TIMEOUT_SECONDS + REDIRECT_AFTER_SECONDS + TIMEOUT_SECONDS) / 2


def _silent(connection, stop: threading.Event) -> None:
    """Accepts the TCP connection, never answers the TLS ClientHello; notes when the client left."""
    connection.settimeout(0.1)
    while not stop.is_set():
        try:
            if connection.recv(65536) == b"":
                return
        except TimeoutError:
            continue


@pytest.fixture
def stalled_tls():
    server = RawServer(_silent, read_request=False)
    yield server
    server.close()


@pytest.fixture
def late_redirect(stalled_tls):
    def behave(connection, stop):
        stop.wait(REDIRECT_AFTER_SECONDS)
        connection.sendall(
            b"HTTP/1.1 302 Found\r\n"
            + f"Location: https://127.0.0.1:{stalled_tls.port}/hook\r\n".encode()
            + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )

    server = RawServer(behave)
    yield server
    server.close()


@pytest.mark.django_db
def test_a_tls_handshake_after_a_late_redirect_gets_only_what_is_left_of_the_deadline(
    default_space, kibana_settings, late_redirect, stalled_tls
):
    kibana_settings.set(
        {"xpack.actions.responseTimeout": f"{TIMEOUT_SECONDS}s", "xpack.actions.ssl.verificationMode": "none"}
    )
    connector = webhook(default_space, f"http://127.0.0.1:{late_redirect.port}/hook")

    started = time.monotonic()
    result = execute(connector, {"body": "{}"}, RunInfo())
    elapsed = time.monotonic() - started

    assert stalled_tls.connections == 1, "the redirect was not followed"
    assert result.status == "error"
    assert result.service_message == f"[ETIMEDOUT] timeout of {TIMEOUT_SECONDS * 1000}ms exceeded"
    assert elapsed < HALFWAY, f"the call took {elapsed:.1f} s against a {TIMEOUT_SECONDS} s deadline"
