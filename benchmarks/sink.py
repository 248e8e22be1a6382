"""A local HTTP sink for benchmarks and tests: it accepts deliveries, waits a configurable latency
(without blocking other connections), answers 200 and counts what it received.

Run it on its own (a separate process keeps it off the load generator's GIL):

    .venv/bin/python -m benchmarks.sink --port 0 --latency-ms 50 --track-path alerts.0.labels.id

The first line it prints is JSON: `{"url": "http://127.0.0.1:PORT", "pid": ...}`. Control endpoints:

- `GET /_stats`: `{"deliveries", "bytes", "in_flight", "max_in_flight", "connections", "distinct",
  "duplicates", "first_at", "last_at"}` (times are `time.monotonic()` of the sink process; use them
  only as differences).
- `GET /_arrivals`: `{key: time.monotonic() of its first delivery}` for tracked deliveries (the
  clock is system-wide on Linux, so another process on this machine can subtract its own times).
- `POST /_reset` with an optional JSON body `{"latency_ms": 200}`: zeroes the counters and sets the
  latency for later deliveries.

Any other request is a delivery. `?latency_ms=N` overrides the latency for one request. With
`--track-path a.b.0.c` (or `--track-header X-Delivery-Id`) every delivery's key is counted, so a
benchmark or test can prove that each message arrived exactly once (`distinct`, `duplicates`).

From Python, `with Sink(latency_ms=0) as sink: ... sink.url ... sink.stats() ... sink.wait_for(n)`
starts and stops such a process.

It is one asyncio event loop on `asyncio.Protocol` (no per-request task, HTTP/1.1 keep-alive,
pipelining honoured in order); on this machine one sink process answers roughly 10,000 small
requests per second (see docs/benchmarks.md), above every delivery rate we measure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

_OK_BODY = b'{"ok":true}'
_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_OK_BODY)).encode()
    + b"\r\n\r\n"
    + _OK_BODY
)
_OK_CLOSE = _OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
_MAX_HEADER = 64 * 1024


class Stats:
    def __init__(self, latency_ms: float, track_path: list[str] | None, track_header: str | None):
        self.latency = latency_ms / 1000.0
        self.track_path = track_path
        self.track_header = track_header.lower().encode() if track_header else None
        self.reset()
        self.connections = 0

    def reset(self):
        self.deliveries = 0
        self.bytes = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.keys: collections.Counter = collections.Counter()
        self.arrivals: dict[str, float] = {}  # key -> time.monotonic() of its first delivery
        self.first_at = None
        self.last_at = None

    def key_of(self, headers: dict[bytes, bytes], body: bytes):
        if self.track_header is not None:
            value = headers.get(self.track_header)
            return value.decode("latin-1") if value is not None else None
        if self.track_path is not None:
            try:
                node = json.loads(body)
                for part in self.track_path:
                    node = node[int(part)] if isinstance(node, list) else node[part]
            except (ValueError, KeyError, IndexError, TypeError):
                return None
            return json.dumps(node) if not isinstance(node, str) else node
        return None

    def as_dict(self) -> dict:
        duplicates = sum(count - 1 for count in self.keys.values() if count > 1)
        return {
            "deliveries": self.deliveries,
            "bytes": self.bytes,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "distinct": len(self.keys),
            "duplicates": duplicates,
            "latency_ms": self.latency * 1000.0,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


class SinkProtocol(asyncio.Protocol):
    def __init__(self, stats: Stats, loop: asyncio.AbstractEventLoop):
        self.stats = stats
        self.loop = loop
        self.buffer = bytearray()
        self.pending: collections.deque = collections.deque()  # (due, response bytes, close, counted)
        self.timer = None
        self.transport = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        self.stats.connections += 1

    def connection_lost(self, exc):
        self.closed = True
        self.stats.connections -= 1
        for _due, _response, _close, counted in self.pending:
            if counted:
                self.stats.in_flight -= 1
        self.pending.clear()
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data):
        self.buffer += data
        while True:
            request = self._parse_one()
            if request is None:
                return
            self._handle(*request)

    def _parse_one(self):
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEADER:
                self.transport.close()
            return None
        head = bytes(self.buffer[:end]).split(b"\r\n")
        request_line = head[0].split(b" ")
        if len(request_line) != 3:
            self.transport.close()
            return None
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = bytearray()
            position = start
            while True:
                line_end = self.buffer.find(b"\r\n", position)
                if line_end < 0:
                    return None
                size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
                chunk_start = line_end + 2
                if size == 0:
                    trailer_end = self.buffer.find(b"\r\n\r\n", line_end)
                    if trailer_end < 0:
                        return None
                    consumed = trailer_end + 4
                    break
                if len(self.buffer) < chunk_start + size + 2:
                    return None
                body += self.buffer[chunk_start : chunk_start + size]
                position = chunk_start + size + 2
            body = bytes(body)
        else:
            length = int(headers.get(b"content-length", b"0") or 0)
            if len(self.buffer) < start + length:
                return None
            body = bytes(self.buffer[start : start + length])
            consumed = start + length
        del self.buffer[:consumed]
        method, target, version = request_line
        close = headers.get(b"connection", b"").lower() == b"close" or version == b"HTTP/1.0"
        return method, target.decode("latin-1"), headers, body, close

    def _handle(self, method: bytes, target: str, headers: dict, body: bytes, close: bool):
        stats = self.stats
        url = urlsplit(target)
        if url.path == "/_stats":
            self._respond_now(json.dumps(stats.as_dict()).encode(), close)
            return
        if url.path == "/_arrivals":
            self._respond_now(json.dumps(stats.arrivals).encode(), close)
            return
        if url.path == "/_reset":
            latency = stats.latency
            if body:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    latency = float(json.loads(body).get("latency_ms", latency * 1000.0)) / 1000.0
            stats.reset()
            stats.latency = latency
            self._respond_now(json.dumps(stats.as_dict()).encode(), close)
            return
        now = time.monotonic()
        stats.deliveries += 1
        stats.bytes += len(body)
        if stats.first_at is None:
            stats.first_at = now
        stats.last_at = now
        key = stats.key_of(headers, body)
        if key is not None:
            stats.keys[key] += 1
            stats.arrivals.setdefault(key, now)
        latency = stats.latency
        if url.query:
            override = parse_qs(url.query).get("latency_ms")
            if override:
                with contextlib.suppress(ValueError):
                    latency = float(override[0]) / 1000.0
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        response = _OK_CLOSE if close else _OK
        if latency <= 0 and not self.pending:
            stats.in_flight -= 1
            self.transport.write(response)
            if close:
                self.transport.close()
            return
        due = max(now + latency, self.pending[-1][0] if self.pending else 0.0)
        self.pending.append((due, response, close, True))
        if self.timer is None:
            self.timer = self.loop.call_at(self._loop_time(due), self._flush)

    def _respond_now(self, payload: bytes, close: bool):
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + (b"\r\nConnection: close" if close else b"")
            + b"\r\n\r\n"
        )
        due = self.pending[-1][0] if self.pending else 0.0
        if not self.pending:
            self.transport.write(head + payload)
            if close:
                self.transport.close()
            return
        self.pending.append((due, head + payload, close, False))

    def _loop_time(self, due_monotonic: float) -> float:
        return self.loop.time() + max(0.0, due_monotonic - time.monotonic())

    def _flush(self):
        self.timer = None
        if self.closed:
            return
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now + 0.0005:
            _due, response, close, counted = self.pending.popleft()
            if counted:
                self.stats.in_flight -= 1
            self.transport.write(response)
            if close:
                self.transport.close()
                return
        if self.pending:
            self.timer = self.loop.call_at(self._loop_time(self.pending[0][0]), self._flush)


async def serve(host: str, port: int, stats: Stats, ready=None):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(stats, loop), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()
    if ready is not None:
        ready(f"http://{bound[0]}:{bound[1]}")
    async with server:
        await server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--track-path", help="dotted path of a JSON field whose value identifies a message")
    parser.add_argument("--track-header", help="header whose value identifies a message")
    args = parser.parse_args(argv)
    stats = Stats(args.latency_ms, args.track_path.split(".") if args.track_path else None, args.track_header)

    def ready(url):
        sys.stdout.write(json.dumps({"url": url, "pid": os.getpid()}) + "\n")
        sys.stdout.flush()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, stats, ready))


class Sink:
    """Start `python -m benchmarks.sink` as a child process; stop it on exit."""

    def __init__(
        self,
        latency_ms: float = 0.0,
        *,
        track_path: str | None = None,
        track_header: str | None = None,
        python: str = sys.executable,
    ):
        command = [python, "-m", "benchmarks.sink", "--latency-ms", str(latency_ms)]
        if track_path:
            command += ["--track-path", track_path]
        if track_header:
            command += ["--track-header", track_header]
        self.command = command
        self.process = None
        self.url = None

    def __enter__(self) -> Sink:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.process = subprocess.Popen(self.command, cwd=root, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=5)
            raise RuntimeError(f"the sink did not start (exit code {self.process.returncode})")
        self.url = json.loads(line)["url"]
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        split = urlsplit(self.url)
        connection = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    def stats(self) -> dict:
        return self._call("GET", "/_stats")

    def arrivals(self) -> dict[str, float]:
        return self._call("GET", "/_arrivals")

    def reset(self, latency_ms: float | None = None) -> dict:
        return self._call("POST", "/_reset", {} if latency_ms is None else {"latency_ms": latency_ms})

    def wait_for(self, deliveries: int, timeout: float, poll: float = 0.02) -> dict:
        """Wait until at least `deliveries` arrived (and none is still in flight) or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["deliveries"] >= deliveries and stats["in_flight"] == 0:
                return stats
            if time.monotonic() >= deadline:
                return stats
            time.sleep(poll)


if __name__ == "__main__":
    main()
