"""Background actions submitted over HTTP, one `POST /api/actions/connector/{id}/_enqueue` each,
against the bare keep-alive loop to the same sink, in the same run.

Starts the embedded service as `make run` does (`manage.py migrate`, `bootstrap`, then `manage.py
serve`: gunicorn with serve's own flags plus a django-q2 cluster, SQLite + the ORM broker) on a
throw-away var dir, the sink of benchmarks/sink.py in its own process, and a `.webhook` connector
pointing at it. N client threads (`http.client`, one keep-alive connection each) then post
`_enqueue` with Basic, API-key or session authentication until `--count` runs are accepted or
`--max-seconds` pass, and the run waits (bounded) for every accepted run to reach the sink.

It prints, per authentication: accepted/s (202 answers per second), delivered/s (deliveries ÷ time
from the first POST to the last delivery), the bare loop of benchmarks/baselines.py against the same
sink measured just before and just after (their mean is the floor), the ratio, and CPU ms per
request of the web processes (gunicorn master and workers, from /proc), of the cluster and the sink
per delivery, and of this process (the clients) per request. Everything is on 127.0.0.1 and stops
by itself.

    .venv/bin/python -m benchmarks.rest_enqueue                         # basic, apikey, session
    .venv/bin/python -m benchmarks.rest_enqueue --auth apikey --count 3000 --threads 8
    .venv/bin/python -m benchmarks.rest_enqueue --profile 500           # no server: where CPU goes
    .venv/bin/python -m benchmarks.rest_enqueue --bulk 100 --bulk-only  # the bulk path against the drain

`--bulk N` adds a row: `_bulk_enqueue` with N actions per request (first `--auth`), `--count` actions
in all, delivered/s against the workers' batched drain rate on the same stack, measured just before
and just after: `--count` runs written N per transaction with `actions.queue.create_runs` straight
into the service's database (as a rule run, and benchmarks/action_throughput.py --batch, write them)
and delivered by the same cluster to the same sink. The ratio is delivered/s over the drains' mean.

`--profile N` starts no server: it sends N `_enqueue` requests per authentication through Django's
WSGI handler in this process (same settings, a file SQLite database), and prints SQL statements per
request, CPU ms per request (this thread, and the whole process: the hand-off thread included),
unprofiled, then a cProfile breakdown of the same loop by the parts of a request.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERNAME = "bench"
PASSWORD = "benchmark-password-123"
AUTHS = ("basic", "apikey", "session")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _environment(workdir: Path) -> dict:
    config = workdir / "kibana.yml"
    # The only difference from a default `make run`: the sink listens on loopback.
    config.write_text("connectors.network.allowPrivateAddresses: true\nxpack.actions.queued.max: 10000000\n")
    return {
        **os.environ,
        "CONNECTORS_VAR_DIR": str(workdir),
        "CONNECTORS_CONFIG": str(config),
        "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{workdir / 'connectors.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
        "CONNECTORS_ENCRYPTION_KEYS": os.environ.get(
            "CONNECTORS_ENCRYPTION_KEYS", "benchmark-key-benchmark-key-benchmark-key"
        ),
    }


def _setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def prepare(sink_url: str) -> dict:
    """The user, API key, session and connector (Django must be set up). Returns their headers."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections

    from connectors.api.authentication import encode_api_key, generate_api_key, hash_api_key
    from connectors.models import ApiKey, Connector, Space

    space = Space.ensure_default()
    user = User.objects.create_superuser(USERNAME, "", PASSWORD)
    key_id, key = generate_api_key()
    ApiKey.objects.create(id=key_id, name="bench", user=user, key_hash=hash_api_key(key))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    connector = Connector(
        space=space,
        name="sink",
        connector_type_id=".webhook",
        config={"url": sink_url + "/", "method": "post", "hasAuth": False},
    )
    connector.set_secrets({})
    connector.save()

    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    headers = {
        "basic": {"Authorization": f"Basic {basic}"},
        "apikey": {"Authorization": f"ApiKey {encode_api_key(key_id, key)}"},
        "session": {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"},
    }
    connections.close_all()
    return {"connector_id": connector.id, "headers": headers}


def _body(token: str) -> bytes:
    return json.dumps({"params": {"body": json.dumps({"id": token})}}).encode()


# ---- CPU from /proc ------------------------------------------------------------------------------


def _pids_in_session(session_id: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[3]) == session_id:  # the session id: everything `serve` started
            found.append((int(entry.name), cmdline))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime


class ServiceCpu:
    """CPU seconds of the web processes (gunicorn) and of the cluster (qcluster) that `serve` runs."""

    def __init__(self, session_id: int):
        self.session_id = session_id

    def read(self) -> dict[str, float]:
        totals = {"web": 0.0, "cluster": 0.0}
        for pid, cmdline in _pids_in_session(self.session_id):
            if "gunicorn" in cmdline:
                totals["web"] += _cpu_seconds(pid)
            elif "qcluster" in cmdline:
                totals["cluster"] += _cpu_seconds(pid)
        return totals


# ---- the service ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """`manage.py serve` on 127.0.0.1 in a session of its own; stopped (the whole session) on exit."""

    def __init__(self, env: dict, workdir: Path):
        self.env = env
        self.workdir = workdir
        self.port = _free_port()
        self.process = None

    def __enter__(self) -> Service:
        python = sys.executable
        for step in (["migrate", "--noinput"], ["bootstrap"]):
            subprocess.run(
                [python, "manage.py", *step], cwd=ROOT, env=self.env, check=True, capture_output=True
            )
        self.log = (self.workdir / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [python, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_until_up(self, path: str, headers: dict, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"serve exited; see {self.workdir / 'serve.log'}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", path, headers=headers)
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"serve did not answer in {timeout:.0f} s; see {self.workdir / 'serve.log'}")

    def __exit__(self, *exc_info):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # Anything serve left behind in its session (it should leave nothing).
        for pid, _ in _pids_in_session(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=5)
        self.log.close()


# ---- the clients ---------------------------------------------------------------------------------


def _post_from_threads(
    port, headers, count, per_request, threads, max_seconds, timeout, request, judge, prefix
):
    """POST from `threads` keep-alive connections, `per_request` actions each, until `count` actions
    are accepted or time runs out. `request(tokens)` gives (path, body); `judge(status, answer,
    tokens)` gives (accepted tokens, {status: refused count}). Returns (accepted tokens, refused
    counts, requests sent, start, client CPU seconds)."""
    lock = threading.Lock()
    state = {"next": 0, "requests": 0}
    accepted: list[str] = []
    refused: dict[int, int] = {}
    deadline = time.monotonic() + max_seconds
    request_headers = {**headers, "Content-Type": "application/json", "kbn-xsrf": "true"}

    def work():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        while time.monotonic() < deadline:
            with lock:
                if state["next"] >= count:
                    break
                first = state["next"]
                state["next"] = min(count, first + per_request)
                state["requests"] += 1
            tokens = [f"{prefix}-{i}" for i in range(first, min(count, first + per_request))]
            path, body = request(tokens)
            try:
                connection.request("POST", path, body=body, headers=request_headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                with lock:
                    refused[0] = refused.get(0, 0) + len(tokens)
                continue
            taken, others = judge(response.status, answer, tokens)
            with lock:
                accepted.extend(taken)
                for status, n in others.items():
                    refused[status] = refused.get(status, 0) + n
        connection.close()

    cpu = time.process_time()
    started = time.monotonic()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return accepted, refused, state["requests"], started, time.process_time() - cpu


def post_enqueue(port: int, path: str, headers: dict, count: int, threads: int, max_seconds: float, prefix):
    """POST `_enqueue` from `threads` keep-alive connections until `count` are accepted or time runs
    out. Returns (accepted tokens, other answers, elapsed seconds, client CPU seconds)."""

    def judge(status, _answer, tokens):
        return (tokens, {}) if status == 202 else ([], {status: 1})

    accepted, refused, _, started, cpu = _post_from_threads(
        port,
        headers,
        count,
        1,
        threads,
        max_seconds,
        30,
        lambda tokens: (path, _body(tokens[0])),
        judge,
        prefix,
    )
    return accepted, refused, started, cpu


def post_bulk(
    port: int,
    headers: dict,
    connector_id: str,
    count: int,
    per_request: int,
    threads: int,
    max_seconds: float,
    prefix: str,
):
    """POST `_bulk_enqueue` with `per_request` actions each from `threads` keep-alive connections until
    `count` actions are accepted or time runs out. Returns (accepted tokens, refused items and
    answers, requests sent, start, client CPU seconds)."""

    def request(tokens):
        actions = [{"id": connector_id, "params": {"body": json.dumps({"id": t})}} for t in tokens]
        return "/api/actions/_bulk_enqueue", json.dumps({"actions": actions}).encode()

    def judge(status, answer, tokens):
        if status != 200:
            return [], {status: len(tokens)}
        taken, others = [], {}
        for token, item in zip(tokens, json.loads(answer)["items"], strict=True):
            if "error" in item:
                code = item["error"]["statusCode"]
                others[code] = others.get(code, 0) + 1
            else:
                taken.append(token)
        return taken, others

    return _post_from_threads(
        port, headers, count, per_request, threads, max_seconds, 60, request, judge, prefix
    )


def drain(sink, connector_id: str, count: int, per_transaction: int, prefix: str, max_seconds: float) -> dict:
    """The workers' batched drain rate on the same stack: `count` runs written `per_transaction` per
    transaction with `actions.queue.create_runs` straight into the service's database (what a rule
    run does, and benchmarks/action_throughput.py --batch), delivered by the same cluster."""
    from django.db import connection, transaction

    from actions import queue
    from connectors.models import Connector

    connector = Connector.objects.get(pk=connector_id)
    sink.reset()
    started = time.monotonic()
    for first in range(0, count, per_transaction):
        tokens = [f"{prefix}-{i}" for i in range(first, min(count, first + per_transaction))]
        with transaction.atomic():
            queue.create_runs(
                [
                    queue.new_run(
                        connector, {"body": json.dumps({"id": t})}, space_id="default", source="alert"
                    )
                    for t in tokens
                ]
            )
    written = time.monotonic() - started
    connection.close()
    stats = sink.wait_for(count, timeout=max(30.0, max_seconds))
    last = stats["last_at"] or time.monotonic()
    return {
        "written_per_s": count / written if written else 0.0,
        "delivered": stats["distinct"],
        "duplicates": stats["duplicates"],
        "delivered_per_s": stats["distinct"] / max(last - started, 1e-9),
    }


def run_bulk(service, sink, prepared, args, cpu_meter) -> dict:
    """`_bulk_enqueue` (N actions per request) between two drains of the same number of runs."""
    auth = args.auth[0]
    headers = prepared["headers"][auth]
    connector_id = prepared["connector_id"]
    sink.reset()
    warm, _, _, _, _ = post_bulk(
        service.port, headers, connector_id, 16 * args.bulk, args.bulk, args.threads, 30, "warm-bulk"
    )
    sink.wait_for(len(warm), timeout=60)
    time.sleep(0.5)
    drain_before = drain(sink, connector_id, args.count, args.bulk, "drain-before", args.max_seconds)
    time.sleep(0.5)

    sink.reset()
    sink_cpu = _cpu_seconds(sink.pid)
    before = cpu_meter.read()
    accepted, refused, requests_sent, started, client_cpu = post_bulk(
        service.port, headers, connector_id, args.count, args.bulk, args.threads, args.max_seconds, "bulk"
    )
    posted = time.monotonic() - started
    after_posts = cpu_meter.read()
    stats = sink.wait_for(len(accepted), timeout=max(30.0, args.max_seconds))
    after = cpu_meter.read()
    sink_cpu = _cpu_seconds(sink.pid) - sink_cpu
    delivered = stats["distinct"]
    last = stats["last_at"] or time.monotonic()
    delivered_per_s = delivered / max(last - started, 1e-9)
    time.sleep(0.5)
    drain_after = drain(sink, connector_id, args.count, args.bulk, "drain-after", args.max_seconds)
    floor = (drain_before["delivered_per_s"] + drain_after["delivered_per_s"]) / 2
    return {
        "auth": auth,
        "accepted": len(accepted),
        "refused": refused,
        "accepted_per_s": len(accepted) / posted if posted else 0.0,
        "delivered": delivered,
        "duplicates": stats["duplicates"] + drain_before["duplicates"] + drain_after["duplicates"],
        "delivered_per_s": delivered_per_s,
        "drain_before": drain_before,
        "drain_after": drain_after,
        "ratio": delivered_per_s / floor if floor else 0.0,
        "web_ms": (after_posts["web"] - before["web"]) * 1000 / max(1, len(accepted)),
        "web_ms_request": (after_posts["web"] - before["web"]) * 1000 / max(1, requests_sent),
        "cluster_ms": (after["cluster"] - before["cluster"]) * 1000 / max(1, delivered),
        "sink_ms": sink_cpu * 1000 / max(1, delivered),
        "client_ms": client_cpu * 1000 / max(1, len(accepted)),
    }


def run_auth(auth, service, sink, prepared, args, cpu_meter) -> dict:
    from benchmarks.baselines import bare_loop

    path = f"/api/actions/connector/{prepared['connector_id']}/_enqueue"
    headers = prepared["headers"][auth]
    # Warm-up: every web thread and both cluster processes have run the route once.
    sink.reset()
    warm, _, _, _ = post_enqueue(service.port, path, headers, 32, args.threads, 30, f"warm-{auth}")
    sink.wait_for(len(warm), timeout=60)
    time.sleep(0.5)

    sink.reset()
    bare_before, bare_before_s, _ = bare_loop(sink, args.bare_count, args.max_seconds)
    time.sleep(0.2)

    sink.reset()
    sink_cpu = _cpu_seconds(sink.pid)
    before = cpu_meter.read()
    accepted, refused, started, client_cpu = post_enqueue(
        service.port, path, headers, args.count, args.threads, args.max_seconds, auth
    )
    posted = time.monotonic() - started
    after_posts = cpu_meter.read()
    stats = sink.wait_for(len(accepted), timeout=max(30.0, args.max_seconds))
    after = cpu_meter.read()
    sink_cpu = _cpu_seconds(sink.pid) - sink_cpu
    delivered = stats["distinct"]
    last = stats["last_at"] or time.monotonic()
    elapsed = max(last - started, 1e-9)

    sink.reset()
    bare_after, bare_after_s, _ = bare_loop(sink, args.bare_count, args.max_seconds)
    floor = (bare_before / bare_before_s + bare_after / bare_after_s) / 2
    requests_done = len(accepted) + sum(refused.values())
    return {
        "auth": auth,
        "accepted": len(accepted),
        "refused": refused,
        "accepted_per_s": len(accepted) / posted if posted else 0.0,
        "delivered": delivered,
        "duplicates": stats["duplicates"],
        "delivered_per_s": delivered / elapsed,
        "bare_before": bare_before / bare_before_s,
        "bare_after": bare_after / bare_after_s,
        "ratio": (delivered / elapsed) / floor if floor else 0.0,
        "web_ms": (after_posts["web"] - before["web"]) * 1000 / max(1, requests_done),
        "cluster_ms": (after["cluster"] - before["cluster"]) * 1000 / max(1, delivered),
        "sink_ms": sink_cpu * 1000 / max(1, delivered),
        "client_ms": client_cpu * 1000 / max(1, requests_done),
    }


def run_http(args) -> dict:
    """Print and return the rows: {"rows": one dict per authentication, "bulk": the bulk row or None}."""
    from benchmarks.sink import Sink

    results: dict = {"rows": [], "bulk": None}
    workdir = Path(tempfile.mkdtemp(prefix="connectors-bench-rest-"))
    env = _environment(workdir)
    try:
        with Sink(0, track_path="id") as sink, Service(env, workdir) as service:
            _setup_django(env)
            prepared = prepare(sink.url)
            service.wait_until_up(
                f"/api/actions/connector/{prepared['connector_id']}", prepared["headers"]["basic"]
            )
            print(
                f"embedded default (SQLite + django-q2 ORM broker) via `manage.py serve` (gunicorn flags of "
                f"serve.py, WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2 (default)')}, "
                f"{os.environ.get('CONNECTORS_WORKERS', '2')} worker processes); "
                + (
                    ""
                    if args.bulk_only
                    else f"{args.count} `_enqueue` POSTs per row from {args.threads} client threads; "
                )
                + f"sink at 0 ms; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if not args.bulk_only:
                print(
                    f"{'auth':<8} {'accepted':>9} {'acc/s':>7} {'delivered':>10} {'deliv/s':>8} "
                    f"{'bare/s':>13} {'ratio':>6}   CPU ms: web/request  cluster/delivery  sink  client/request"
                )
            cpu_meter = ServiceCpu(service.process.pid)
            for auth in args.auth if not args.bulk_only else ():
                r = run_auth(auth, service, sink, prepared, args, cpu_meter)
                results["rows"].append(r)
                refused = f"  refused: {r['refused']}" if r["refused"] else ""
                duplicates = f"  duplicates: {r['duplicates']}" if r["duplicates"] else ""
                print(
                    f"{r['auth']:<8} {r['accepted']:>9} {r['accepted_per_s']:>7.0f} "
                    f"{r['delivered']:>6}/{r['accepted']:<4}{r['delivered_per_s']:>7.0f} "
                    f"{r['bare_before']:>6.0f}/{r['bare_after']:<6.0f} {r['ratio']:>5.2f}x"
                    f"   {r['web_ms']:>6.2f} {r['cluster_ms']:>16.2f} {r['sink_ms']:>5.2f} "
                    f"{r['client_ms']:>14.2f}{refused}{duplicates}",
                    flush=True,
                )
            if args.bulk:
                r = run_bulk(service, sink, prepared, args, cpu_meter)
                results["bulk"] = r
                refused = f"  refused: {r['refused']}" if r["refused"] else ""
                duplicates = f"  duplicates: {r['duplicates']}" if r["duplicates"] else ""
                before, after = r["drain_before"], r["drain_after"]
                if not args.bulk_only:
                    print()
                print(
                    f"`_bulk_enqueue` with {args.bulk} actions per request ({r['auth']} auth, {args.threads} "
                    f"client threads) against the workers' batched drain: {args.count} runs written "
                    f"{args.bulk} per transaction with actions.queue.create_runs into the same database, "
                    "just before and just after (their mean is the floor)"
                )
                print(
                    f"{'actions':>8} {'acc/s':>7} {'delivered':>10} {'deliv/s':>8} {'drain deliv/s':>14} "
                    f"{'ratio':>6}   CPU ms per action: web  cluster  sink  client   web/request"
                )
                print(
                    f"{r['accepted']:>8} {r['accepted_per_s']:>7.0f} {r['delivered']:>6}/{r['accepted']:<4}"
                    f"{r['delivered_per_s']:>7.0f} {before['delivered_per_s']:>6.0f}/{after['delivered_per_s']:<7.0f}"
                    f"{r['ratio']:>5.2f}x   {r['web_ms']:>25.2f} {r['cluster_ms']:>8.2f} {r['sink_ms']:>5.2f} "
                    f"{r['client_ms']:>7.2f} {r['web_ms_request']:>13.2f}{refused}{duplicates}",
                    flush=True,
                )
                print(
                    f"drains delivered {before['delivered']}/{args.count} and {after['delivered']}/{args.count} "
                    f"(written at {before['written_per_s']:.0f}/s and {after['written_per_s']:.0f}/s)"
                )
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


# ---- --profile: the request in this process ------------------------------------------------------

# Parts of a request, by the function that does them; cumulative time, so they overlap (nesting).
PARTS = (
    ("whole request (WSGI handler)", "django/core/handlers/wsgi.py", "__call__"),
    ("DRF dispatch (view)", "rest_framework/views.py", "dispatch"),
    ("authentication", "rest_framework/views.py", "perform_authentication"),
    ("  session load (SessionMiddleware)", "sessions/backends/db.py", "load"),
    ("KibanaView.initial (space, privilege)", "connectors/api/base.py", "initial"),
    ("  space row", "connectors/api/base.py", "space"),
    ("EnqueueView.post", "actions/api/views.py", "post"),
    ("  enqueue()", "actions/services.py", "enqueue"),
    ("    connector lookup (ORM)", "connectors/services.py", "find_connector"),
    ("    INSERT + hand-off (create_runs)", "actions/queue.py", "create_runs"),
    ("one-row lookups (PreparedGet)", "connectors/prepared.py", "PreparedGet.__call__"),
    ("the run's INSERT (PreparedInsert)", "connectors/prepared.py", "PreparedInsert.__call__"),
    ("URL resolving", "django/urls/resolvers.py", "resolve"),
    ("response rendering", "rest_framework/response.py", "rendered_content"),
)


def _wsgi_environ(path: str, body: bytes, headers: dict) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_KBN_XSRF": "true",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def run_profile(args) -> None:
    import cProfile
    import pstats

    from benchmarks.sink import Sink

    workdir = Path(tempfile.mkdtemp(prefix="connectors-bench-rest-profile-"))
    env = _environment(workdir)
    try:
        _setup_django(env)
        from django.core.management import call_command
        from django.core.wsgi import get_wsgi_application
        from django.db import connection

        call_command("migrate", verbosity=0)
        with Sink(0) as sink:  # no cluster runs: the runs stay queued; nothing is delivered
            prepared = prepare(sink.url)
        application = get_wsgi_application()
        path = f"/api/actions/connector/{prepared['connector_id']}/_enqueue"
        n = args.profile

        def one(headers: dict, i: int) -> None:
            statuses = []
            answer = application(
                _wsgi_environ(path, _body(f"p-{i}"), headers),
                lambda status, response_headers, exc_info=None: statuses.append(status),
            )
            b"".join(answer)
            answer.close()
            if not statuses[0].startswith("202"):
                raise SystemExit(f"_enqueue answered {statuses[0]}")

        print(
            f"in-process `_enqueue` through Django's WSGI handler, {n} requests per row (after 50 "
            f"warm-up), file SQLite database; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        for auth in args.auth:
            headers = prepared["headers"][auth]
            for i in range(50):
                one(headers, i)
            queries: list[str] = []

            def record(execute, sql, params, many, context, queries=queries):
                queries.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(record):  # (the handler resets connection.queries)
                one(headers, -1)
            # Unprofiled CPU: the best of 5 rounds (other processes share the cores).
            thread_ms = process_ms = float("inf")
            for _ in range(5):
                thread_cpu, process_cpu = time.thread_time(), time.process_time()
                for i in range(n // 5):
                    one(headers, i)
                thread_ms = min(thread_ms, (time.thread_time() - thread_cpu) * 1000 / (n // 5))
                process_ms = min(process_ms, (time.process_time() - process_cpu) * 1000 / (n // 5))
            print(
                f"\n== {auth}: {len(queries)} SQL statements per request; CPU {thread_ms:.2f} ms per request "
                f"(request thread), {process_ms:.2f} ms (whole process, hand-off thread included)"
            )
            for sql in queries:
                print(f"     {sql[:110]}")
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(n):
                one(headers, i)
            profiler.disable()
            stats = pstats.Stats(profiler)

            def cumulative(file_part: str, function: str, stats=stats) -> float:
                line = None
                if "." in function:  # Class.method: told apart by its first line
                    from connectors import prepared

                    owner, function = function.split(".")
                    line = getattr(prepared, owner).__call__.__code__.co_firstlineno
                return sum(
                    ct
                    for (f, lineno, name), (_cc, _nc, _tt, ct, _c) in stats.stats.items()
                    if name == function and file_part in f and line in (None, lineno)
                )

            total = cumulative("django/core/handlers/wsgi.py", "__call__")
            print("   share of the request (cProfile, cumulative; parts nest):")
            for label, file_part, function in PARTS:
                spent = cumulative(file_part, function)
                if spent:
                    print(f"     {label:<40} {100 * spent / total:5.1f}%")
            if args.rows:
                stats.sort_stats("cumulative").print_stats(args.rows)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth", default=",".join(AUTHS), help="comma-separated: basic, apikey, session")
    parser.add_argument("--count", type=int, default=3000, help="_enqueue POSTs per row (default 3000)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time limit per phase (default 30)")
    parser.add_argument("--bare-count", type=int, default=3000, help="bare-loop POSTs (default 3000)")
    parser.add_argument(
        "--profile", type=int, default=0, help="no server: profile N in-process requests per authentication"
    )
    parser.add_argument("--rows", type=int, default=0, help="with --profile: also print N cProfile rows")
    parser.add_argument(
        "--bulk",
        type=int,
        default=0,
        help="also post `_bulk_enqueue` with N actions per request (first --auth) against the batched drain",
    )
    parser.add_argument("--bulk-only", action="store_true", help="with --bulk: skip the `_enqueue` rows")
    args = parser.parse_args(argv)
    args.auth = [a.strip() for a in args.auth.split(",") if a.strip()]
    unknown = set(args.auth) - set(AUTHS)
    if unknown:
        parser.error(f"--auth takes {', '.join(AUTHS)}; got {', '.join(sorted(unknown))}")
    if args.profile:
        run_profile(args)
        return None
    return run_http(args)


if __name__ == "__main__":
    main()
