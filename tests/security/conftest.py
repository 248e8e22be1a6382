"""Helpers shared by the security tests."""

import socket
import threading

import pytest

from connectors.models import Connector


class Listener:
    """A TCP listener that records every connection it accepts (and answers nothing useful)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.accepted: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                connection, peer = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(peer)
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            finally:
                connection.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    created = []

    def make(host: str = "127.0.0.1") -> Listener:
        created.append(Listener(host))
        return created[-1]

    yield make
    for item in created:
        item.close()


def webhook(space, url: str, name: str = "hook") -> Connector:
    connector = Connector(
        space=space,
        name=name,
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": False, "headers": None},
    )
    connector.set_secrets({})
    connector.save()
    return connector


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def spaces(db, default_space, other_space):
    return {"default": default_space, "marketing": other_space}
