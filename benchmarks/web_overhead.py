"""Where a REST request's web CPU goes: the HTTP server, Django's handler and middleware, the view.

Runs gunicorn exactly as `manage.py serve` runs it (`serve.gunicorn_arguments`: gthread, 8 threads,
access log on stdout; `--web-workers`, default 2) on a throw-away SQLite database, with no worker
cluster (runs are queued and stay queued), and drives it from N keep-alive `http.client` threads.
Each row prints requests/s and the CPU ms per request of the whole server process tree (master and
workers, from /proc):

- `trivial WSGI app`: a callable that reads the body and answers 202 with `{}` (the server alone);
  again without the access log (what the access log costs);
- `GET /healthz`: Django's handler, the middleware and URL resolving around a view that touches
  nothing;
- `POST _enqueue (basic)`: a real request: Basic auth, the space and connector rows, the run's
  INSERT and the hand-off thread's django-q2 queue row.

Then the same `/healthz` and `_enqueue` requests through Django's WSGI handler in this process (one
thread, a hot loop, no sockets), so the two figures can be set side by side. With `--granian` (the
package must be importable: `.venv/bin/pip install granian`; it is not a dependency) the three
server rows are repeated on granian 2 (WSGI, same worker count, 8 blocking threads), to price the
server itself. Everything is on 127.0.0.1 and stops by itself.

    .venv/bin/python -m benchmarks.web_overhead
    .venv/bin/python -m benchmarks.web_overhead --requests 5000 --threads 1,8 --granian
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.api_auth import process_tree_cpu_seconds  # noqa: E402
from benchmarks.rest_enqueue import _body, _environment, _free_port, _setup_django, prepare  # noqa: E402


def trivial_application(environ, start_response):
    """The smallest WSGI answer a client of `_enqueue` could get."""
    environ["wsgi.input"].read()
    start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


class Server:
    """One web server process tree on 127.0.0.1; stopped (the whole group) on exit."""

    def __init__(self, command: list[str], env: dict, log: Path):
        self.command, self.env, self.log_path = command, env, log

    def __enter__(self) -> Server:
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_until_up(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.command[2]} exited; see {self.log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.command[2]} did not answer in {timeout:.0f} s; see {self.log_path}")

    def __exit__(self, *exc_info):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)
        self.log.close()


def drive(port: int, method: str, path: str, headers: dict, body: bytes | None, count: int, threads: int):
    """`count` requests from `threads` keep-alive connections. Returns (seconds, statuses seen)."""
    per_thread = count // threads
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def work():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        seen: dict[int, int] = {}
        for _ in range(per_thread):
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            seen[response.status] = seen.get(response.status, 0) + 1
        connection.close()
        with lock:
            for status, n in seen.items():
                statuses[status] = statuses.get(status, 0) + n

    pool = [threading.Thread(target=work) for _ in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.monotonic() - started, statuses


def measure(server: Server, port: int, request: tuple, count: int, threads: int, expected: int) -> str:
    method, path, headers, body = request
    drive(port, method, path, headers, body, max(threads * 20, count // 10), threads)  # warm-up
    cpu = process_tree_cpu_seconds(server.process.pid)
    seconds, statuses = drive(port, method, path, headers, body, count, threads)
    cpu = process_tree_cpu_seconds(server.process.pid) - cpu
    sent = sum(statuses.values())
    if statuses.get(expected, 0) != sent:
        raise SystemExit(f"expected {expected} to every request, got {statuses}")
    return f"{sent / seconds:8,.0f} {cpu / sent * 1000:9.3f}"


def in_process(request: tuple, count: int) -> float:
    """CPU ms per request through Django's WSGI handler in this thread (after a warm-up)."""
    from connectors_project.wsgi import application

    method, path, headers, body = request

    def environ():
        env = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body or b""),
            "CONTENT_LENGTH": str(len(body or b"")),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            env[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        return env

    def start_response(status, response_headers, exc_info=None):
        pass

    for _ in range(count // 10):
        application(environ(), start_response).close()
    started = time.thread_time()
    for _ in range(count):
        application(environ(), start_response).close()
    return (time.thread_time() - started) / count * 1000


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=4000, help="requests per row (default 4000)")
    parser.add_argument("--threads", default="1,8", help="client threads, comma-separated (default 1,8)")
    parser.add_argument("--web-workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--granian", action="store_true", help="repeat the server rows on granian")
    args = parser.parse_args(argv)
    threads = [int(value) for value in args.threads.split(",")]

    from connectors.management.commands.serve import gunicorn_arguments

    workdir = Path(tempfile.mkdtemp(prefix="web-overhead-"))
    try:
        env = _environment(workdir)
        for step in (["migrate", "--noinput"], ["bootstrap"]):
            subprocess.run(
                [sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True
            )
        _setup_django(env)
        prepared = prepare("http://127.0.0.1:9")  # nothing is delivered: no cluster runs
        json_headers = {"Content-Type": "application/json", "kbn-xsrf": "true"}
        healthz = ("GET", "/healthz", {}, None)
        enqueue = (
            "POST",
            f"/api/actions/connector/{prepared['connector_id']}/_enqueue",
            {**prepared["headers"]["basic"], **json_headers},
            _body("web-overhead"),
        )
        trivial = ("POST", "/", json_headers, _body("web-overhead"))
        trivial_app = "benchmarks.web_overhead:trivial_application"

        def gunicorn(**options):
            """The whole command line for a bind address: `serve`'s gunicorn, with `options` changed."""
            return lambda bind: [
                sys.executable, "-m", "gunicorn", *gunicorn_arguments(bind, args.web_workers, **options)
            ]  # fmt: skip

        servers = [
            ("gunicorn, trivial WSGI app", gunicorn(app=trivial_app), trivial, 202),
            (
                "gunicorn, trivial app, no access log",
                gunicorn(app=trivial_app, access_log=False),
                trivial,
                202,
            ),
            ("gunicorn, GET /healthz", gunicorn(), healthz, 200),
            ("gunicorn, POST _enqueue (basic)", gunicorn(), enqueue, 202),
        ]
        if args.granian:

            def granian(app):
                return lambda bind: [
                    sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
                    "--port", bind.rsplit(":", 1)[1], "--workers", str(args.web_workers),
                    "--blocking-threads", "8", "--no-ws", app,
                ]  # fmt: skip

            servers += [
                ("granian, trivial WSGI app", granian(trivial_app), trivial, 202),
                ("granian, GET /healthz", granian("connectors_project.wsgi:application"), healthz, 200),
                (
                    "granian, POST _enqueue (basic)",
                    granian("connectors_project.wsgi:application"),
                    enqueue,
                    202,
                ),
            ]

        load = os.getloadavg()
        print(
            f"web CPU per request, {args.requests} requests per row, server worker processes: {args.web_workers}; "
            f"{os.cpu_count()} CPUs, load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} at the start"
        )
        header = f"{'server and request':42}" + "".join(
            f" | {t:>2} client(s): req/s  CPU ms" for t in threads
        )
        print(header)
        for label, command, request, expected in servers:
            port = _free_port()
            with Server(command(f"127.0.0.1:{port}"), env, workdir / "server.log") as server:
                server.wait_until_up(port)
                cells = [measure(server, port, request, args.requests, t, expected) for t in threads]
            print(f"{label:42}" + "".join(f" |            {cell}" for cell in cells))
        print(
            f"{'in this process (WSGI handler, 1 thread)':42} | GET /healthz {in_process(healthz, args.requests):.3f} ms, "
            f"POST _enqueue (basic) {in_process(enqueue, args.requests):.3f} ms"
        )
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
