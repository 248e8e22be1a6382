"""Fixtures for the catalog types: real local servers only (HTTP, SMTP with and without TLS, a proxy)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from dataclasses import dataclass, field

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.models import Connector

# Marker secrets: tests search every output for these.
SECRET = "s3cr3t-marker-7f1c"
SECRET_2 = "t0ken-marker-2b9e"


def make_connector(
    space, type_id: str, config: dict | None = None, secrets: dict | None = None, name="My connector"
):
    connector = Connector(space=space, name=name, connector_type_id=type_id, config=config or {})
    connector.set_secrets(secrets or {})
    connector.save()
    return connector


def assert_no_secret(result, *secrets: str) -> None:
    """No marker secret in the API body, the repr or the message of a result."""
    body = json.dumps(result.to_api("x"), default=str)
    for secret in secrets or (SECRET, SECRET_2):
        assert secret not in body
        assert secret not in repr(result)


# ---- TLS --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def other_ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca):
    """An SSL context for a server whose certificate names localhost and 127.0.0.1, signed by `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def server_tls_wrong_name(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("elsewhere.example").configure_cert(context)
    return context


def ca_pem(ca) -> str:
    return ca.cert_pem.bytes().decode()


# ---- SMTP -------------------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    port: int
    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)
    rejected_recipients: set = field(default_factory=set)
    controller: Controller | None = None
    starttls_used: list = field(default_factory=list)

    @property
    def last(self):
        return self.messages[-1]


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, smtp_server, session, envelope, address, rcpt_options):
        if address in self.server.rejected_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp_server, session, envelope):
        import email as email_lib
        from email import policy

        self.server.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": email_lib.message_from_bytes(envelope.content, policy=policy.default),
                "tls": smtp_server.transport.get_extra_info("ssl_object") is not None,
            }
        )
        return "250 2.0.0 Ok: queued as TEST123"


class _PortZeroController(Controller):
    """aiosmtpd's Controller on an ephemeral port: read the real port once the server is bound."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


@pytest.fixture
def smtp_server(server_tls):
    """Factory: `smtp_server(tls="none"|"starttls"|"implicit", auth=(user, password) or None)`."""
    started: list[SmtpServer] = []

    def start(*, tls: str = "none", auth: tuple[str, str] | None = None, context=None) -> SmtpServer:
        server = SmtpServer(port=0)
        kwargs = {}
        if auth:

            def authenticator(smtp, session, envelope, mechanism, auth_data):
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and (
                        auth_data.login.decode(),
                        auth_data.password.decode(),
                    )
                    == auth
                )
                server.logins.append((auth_data.login.decode(), ok))
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticator, auth_require_tls=False)
        tls_context = context or server_tls
        if tls == "starttls":
            kwargs["tls_context"] = tls_context
        controller = _PortZeroController(
            _Handler(server),
            hostname="127.0.0.1",
            port=0,
            ssl_context=tls_context if tls == "implicit" else None,
            ready_timeout=5,
            **kwargs,
        )
        controller.start()
        server.port = controller.port
        server.controller = controller
        started.append(server)
        return server

    yield start
    for server in started:
        server.controller.stop()


# ---- a small CONNECT-capable forward proxy ----------------------------------------------------------


class ForwardProxy:
    """HTTP forward proxy on 127.0.0.1:0: CONNECT tunnels and absolute-URI plain HTTP requests.
    It records each request line and its headers."""

    def __init__(self, tls_context=None):
        self.tls_context = tls_context
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_context else 'http'}://127.0.0.1:{self.port}"

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    @staticmethod
    def _read_head(sock) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def _handle(self, client):
        try:
            if self.tls_context is not None:
                client.settimeout(5)
                client = self.tls_context.wrap_socket(client, server_side=True)
            head = self._read_head(client)
            header_blob, _, rest = head.partition(b"\r\n\r\n")
            lines = header_blob.decode("latin-1").split("\r\n")
            request_line = lines[0]
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.requests.append((request_line, headers))
            method, target, _version = request_line.split(" ", 2)
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=5)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(client, upstream)
            else:
                from urllib.parse import urlsplit

                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=5)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                forwarded = [f"{method} {path} HTTP/1.1"] + [
                    f"{k}: {v}" for k, v in headers.items() if not k.lower().startswith("proxy-")
                ]
                upstream.sendall(("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1") + rest)
                self._pipe(client, upstream)
        except OSError:
            pass
        finally:
            client.close()

    @staticmethod
    def _pipe(a, b):
        def forward(source, target):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    target.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        other = threading.Thread(target=forward, args=(b, a), daemon=True)
        other.start()
        forward(a, b)
        other.join(timeout=5)
        b.close()

    def close(self):
        self._stop = True
        self.listener.close()
        self.thread.join(timeout=2)


@pytest.fixture
def forward_proxy():
    proxy = ForwardProxy()
    yield proxy
    proxy.close()


@pytest.fixture
def tls_forward_proxy(server_tls):
    """The same proxy, spoken to over TLS (`https://` proxy URL) with a trustme certificate."""
    proxy = ForwardProxy(tls_context=server_tls)
    yield proxy
    proxy.close()
