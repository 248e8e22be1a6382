"""A service that answers its status line and then drips its headers one byte per 0.5 s (slowloris on
the response side). A per-read socket timeout never fires on that; the whole-response timeout must,
for the `_execute` route and for a queued run alike, and the calling thread must be let go."""

import ssl
import threading
import time

import pytest

from actions import worker
from actions.models import ActionRun
from actions.services import enqueue
from eventlog.models import Event
from tests.raw_server import RawServer
from tests.security.conftest import webhook

TIMEOUT_SECONDS = 1
# The server stops dripping after this long, so that without the fix the test fails instead of hanging.
DRIP_FOR_SECONDS = 20
# A call cut off by the timeout ends long before the drip does: the bounds below are half the drip,
# so they tell the two apart without timing anything (a loaded machine still passes).
CUT_OFF_WELL_BEFORE = DRIP_FOR_SECONDS / 2


def _drip_headers(connection, stop):
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    header = b"X-Slow: " + b"a" * 1000
    ends = time.monotonic() + DRIP_FOR_SECONDS
    sent = 0
    while not stop.is_set() and time.monotonic() < ends:
        connection.sendall(header[sent % len(header) : sent % len(header) + 1])
        sent += 1
        time.sleep(0.5)


class DripServer(RawServer):
    """Drips headers, over TLS when given a context; records when the client let the connection go
    (a send fails once it has closed)."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.tls = tls
        self.closed_at: list[float] = []
        super().__init__(self._behave)

    def _serve(self, connection):
        try:
            connection.settimeout(5)
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            connection.recv(65536)  # the request
            _drip_headers(connection, self._stop)
        except OSError:
            self.closed_at.append(time.monotonic())
        finally:
            connection.close()

    def _behave(self, connection, stop):  # unused: _serve does it all
        raise NotImplementedError


@pytest.fixture(params=["http", "https"])
def drip_server(request, kibana_settings):
    tls = None
    if request.param == "https":
        import trustme

        authority = trustme.CA()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(tls)
    server = DripServer(tls)
    server.url = f"{request.param}://127.0.0.1:{server.port}/hook"
    yield server
    server.close()


@pytest.fixture
def short_timeout(kibana_settings):
    # verificationMode none: the https case tests the deadline, not the certificate chain.
    kibana_settings.set(
        {"xpack.actions.responseTimeout": f"{TIMEOUT_SECONDS}s", "xpack.actions.ssl.verificationMode": "none"}
    )


def test_execute_against_dripping_headers_ends_at_the_response_timeout_with_an_error_event(
    api, default_space, drip_server, short_timeout
):
    connector = webhook(default_space, drip_server.url)
    started = time.monotonic()
    response = api.post(
        f"/api/actions/connector/{connector.id}/_execute", {"params": {"body": "{}"}}, format="json"
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["service_message"] == f"[ETIMEDOUT] timeout of {TIMEOUT_SECONDS * 1000}ms exceeded"
    assert elapsed < CUT_OFF_WELL_BEFORE, (
        f"the call took {elapsed:.1f} s against a {TIMEOUT_SECONDS} s timeout"
    )
    event = Event.objects.get(connector_id=connector.id, action="execute")
    assert event.outcome == "failure"
    assert "ETIMEDOUT" in event.document["error"]["message"]
    # The client closed the connection: the server's next drip fails within a drip or two.
    deadline = time.monotonic() + CUT_OFF_WELL_BEFORE
    while not drip_server.closed_at and time.monotonic() < deadline:
        time.sleep(0.05)
    assert drip_server.closed_at, "the connection to the dripping service was never closed"


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_against_dripping_headers_frees_its_worker_thread_and_retries_later(
    default_space, drip_server, short_timeout
):
    connector = webhook(default_space, drip_server.url)
    run = enqueue(connector.id, {"body": "{}"})
    done = threading.Event()

    def drain():
        worker.run_pending(max_rounds=1)
        done.set()

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    assert done.wait(CUT_OFF_WELL_BEFORE), "the worker thread is still held by the dripping service"

    run.refresh_from_db()
    assert run.status == ActionRun.QUEUED, "a timeout is retryable: the run waits for its next attempt"
    assert run.attempts == 1
    events = Event.objects.filter(connector_id=connector.id, action="execute")
    assert [(e.outcome, e.document["kibana"]["action"]["execution"]["uuid"]) for e in events] == [
        ("failure", run.execution_uuid)
    ]
    assert "ETIMEDOUT" in events[0].document["error"]["message"]


def test_a_streaming_call_against_dripping_headers_also_ends_at_the_response_timeout(
    drip_server, short_timeout
):
    """AI streams read their body as long as it lasts, but the status line and headers still have
    to arrive within the timeout."""
    from connectors import http
    from connectors.conf import get_config
    from connectors.exceptions import ConnectorTimeout

    started = time.monotonic()
    with pytest.raises(ConnectorTimeout) as raised:
        http.send("POST", drip_server.url, settings=get_config(), json={}, stream_callback=lambda chunk: None)
    elapsed = time.monotonic() - started

    assert raised.value.service_message == f"[ETIMEDOUT] timeout of {TIMEOUT_SECONDS * 1000}ms exceeded"
    assert elapsed < CUT_OFF_WELL_BEFORE, (
        f"the call took {elapsed:.1f} s against a {TIMEOUT_SECONDS} s timeout"
    )


def _endless_stream(connection, stop):
    """A 200 whose chunked body never ends: one small chunk every 0.2 s (an AI stream that hangs on)."""
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    ends = time.monotonic() + DRIP_FOR_SECONDS
    while not stop.is_set() and time.monotonic() < ends:
        connection.sendall(b"6\r\ndata:\n\r\n")
        time.sleep(0.2)


def test_a_stream_that_never_ends_is_cut_off_at_the_run_timeout(kibana_settings):
    """Was unbounded: a stream's body had no overall deadline, so a worker thread (and the run's
    lease, now renewed while the run lives) could be held forever. Now it may last `runTimeout`."""
    from connectors import http
    from connectors.conf import get_config
    from connectors.exceptions import ConnectorTimeout

    kibana_settings.set({"xpack.actions.responseTimeout": "1s", "connectors.actions.runTimeout": "2s"})
    server = RawServer(_endless_stream)
    chunks = []
    try:
        with pytest.raises(ConnectorTimeout):
            http.send(
                "POST", f"http://127.0.0.1:{server.port}/stream", settings=get_config(), json={},
                stream_callback=chunks.append,
            )  # fmt: skip
    finally:
        server.close()
    assert chunks, "the stream's chunks were delivered while it lasted"
    assert len(b"".join(chunks)) < DRIP_FOR_SECONDS * 5 * 6 / 2, "cut off long before the server stopped"


def test_a_call_through_the_proxy_against_dripping_headers_also_ends_at_the_response_timeout(kibana_settings):
    """Was unbounded: the connection to `xpack.actions.proxyUrl` was a plain socket, so headers a
    service dripped through the proxy (which relays them as they come) had only the per-read timeout.
    (A TLS handshake needs no such care: CPython bounds the whole handshake by the socket timeout.)"""
    from connectors import http
    from connectors.conf import get_config
    from connectors.exceptions import ConnectorTimeout

    proxy = DripServer()  # relays the service's dripped headers, as a forwarding proxy does
    kibana_settings.set(
        {
            "xpack.actions.responseTimeout": f"{TIMEOUT_SECONDS}s",
            "xpack.actions.proxyUrl": f"http://127.0.0.1:{proxy.port}",
        }
    )
    started = time.monotonic()
    try:
        with pytest.raises(ConnectorTimeout) as raised:
            http.send("POST", "http://127.0.0.1:9/hook", settings=get_config(), json={})
    finally:
        elapsed = time.monotonic() - started
        proxy.close()

    assert raised.value.service_message == f"[ETIMEDOUT] timeout of {TIMEOUT_SECONDS * 1000}ms exceeded"
    assert elapsed < CUT_OFF_WELL_BEFORE, (
        f"the call took {elapsed:.1f} s against a {TIMEOUT_SECONDS} s timeout"
    )


def test_https_through_an_https_proxy_against_dripping_headers_also_ends_at_the_response_timeout(
    kibana_settings,
):
    """TLS to the proxy, then TLS to the service inside it: urllib3 reads that through its
    `SSLTransport`, which calls `recv` on the proxy's socket, not `recv_into`."""
    import trustme

    from connectors import http
    from connectors.conf import get_config
    from connectors.exceptions import ConnectorTimeout
    from tests.connectors.types.conftest import ForwardProxy

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(tls)
    service, proxy = DripServer(tls), ForwardProxy(tls_context=tls)
    kibana_settings.set(
        {
            "xpack.actions.responseTimeout": f"{TIMEOUT_SECONDS}s",
            "xpack.actions.proxyUrl": proxy.url,
            "xpack.actions.ssl.verificationMode": "none",
            "xpack.actions.ssl.proxyVerificationMode": "none",
        }
    )
    started = time.monotonic()
    try:
        with pytest.raises(ConnectorTimeout) as raised:
            http.send("POST", f"https://127.0.0.1:{service.port}/hook", settings=get_config(), json={})
    finally:
        elapsed = time.monotonic() - started
        proxy.close()
        service.close()

    assert raised.value.service_message == f"[ETIMEDOUT] timeout of {TIMEOUT_SECONDS * 1000}ms exceeded"
    assert elapsed < CUT_OFF_WELL_BEFORE, (
        f"the call took {elapsed:.1f} s against a {TIMEOUT_SECONDS} s timeout"
    )
