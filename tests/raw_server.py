"""One raw TCP server for tests whose remote end must do what an HTTP library will not: drip bytes,
reset, stay silent, send NUL, or speak first (SMTP). Loopback by default; each connection is served
on its own thread by `behave(connection, stop)`; `close()` stops it."""

from __future__ import annotations

import socket
import threading

OK_AND_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


def answer_ok(connection: socket.socket, _stop: threading.Event) -> None:
    connection.sendall(OK_AND_CLOSE)


class RawServer:
    def __init__(self, behave, *, host: str = "127.0.0.1", read_request: bool = True):
        self.behave = behave
        self.read_request = read_request  # False when the server speaks first
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.accepted: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return len(self.accepted)

    def _run(self):
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                connection, peer = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(peer)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        try:
            connection.settimeout(2)
            if self.read_request:
                try:
                    connection.recv(65536)
                except OSError:
                    pass
            self.behave(connection, self._stop)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
