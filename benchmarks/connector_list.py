"""Connector lists at scale: the list API and the admin's list page (plain, searched, filtered by
type) over N stored connectors, the import of M connectors through the services layer, and the
memory of a web worker and of a worker cluster.

Each run uses a database of its own, dropped afterwards: a SQLite file in a temporary directory
(the embedded default) or, with `--postgres URL`, a fresh PostgreSQL database created beside the
one the URL names.

    .venv/bin/python -m benchmarks.connector_list                                  # SQLite
    .venv/bin/python -m benchmarks.connector_list --postgres postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m benchmarks.connector_list --connectors 20000 --import 2000 --repeat 2

Requests are timed twice: in-process with Django's test client (server time only, queries
counted), and over HTTP against a real gunicorn worker on 127.0.0.1 (what a client sees).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("bench-admin", "bench-password-1")


def _prepare_environment(args) -> tuple[dict, callable]:
    """Point the settings at a database of our own; return the environment and a clean-up."""
    from cryptography.fernet import Fernet

    workdir = Path(tempfile.mkdtemp(prefix="connectors-bench-list-"))
    (workdir / "connectors.yml").write_text("connectors.network.allowPrivateAddresses: true\n")
    env = {
        "CONNECTORS_VAR_DIR": str(workdir / "var"),
        "CONNECTORS_CONFIG": str(workdir / "connectors.yml"),
        "CONNECTORS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
        "CONNECTORS_CLUSTER_NAME": "bench-" + uuid.uuid4().hex[:8],
        "LOG_LEVEL": "WARNING",
    }
    drop = None
    if args.postgres:
        import psycopg

        name = f"connectors_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlunsplit(urlsplit(args.postgres)._replace(path=f"/{name}"))

        def drop():
            with psycopg.connect(args.postgres, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'var' / 'bench.sqlite3'}"
    if args.redis:
        env["REDIS_URL"] = args.redis
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.update(env)

    def cleanup():
        if drop:
            from django.db import connections

            connections.close_all()
            drop()
        shutil.rmtree(workdir, ignore_errors=True)

    return env, cleanup


def _timed(function, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def _fmt(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:8.1f} ms (min {min(times) * 1000:.1f}, n={len(times)})"


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pss_mib(pid: int) -> float:
    """Proportional set size: shared (copy-on-write) pages split between the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as handle:
                children = [int(x) for x in handle.read().split()]
        except OSError:
            children = []
        found += children
        frontier += children
    return found


def populate(count: int, batch: int = 5000) -> float:
    """Bulk-insert `count` connectors (validated configs, sealed secrets) into the default space."""
    from connectors.models import Connector, Space
    from connectors.services import validate_connector

    space = Space.ensure_default()
    kinds = [
        (
            ".webhook",
            {"url": "https://hooks.example.com/in", "method": "post"},
            {"user": "u", "password": "p"},
        ),
        (".server-log", {}, {}),
        (".index", {"index": "alerts-history"}, {}),
    ]
    cleaned = [(type_id, *validate_connector(type_id, config, secrets)) for type_id, config, secrets in kinds]
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    started = time.perf_counter()
    for first in range(0, count, batch):
        rows = []
        for i in range(first, min(count, first + batch)):
            type_id, config, secrets = cleaned[i % len(cleaned)]
            connector = Connector(
                space=space,
                name=f"{words[i % len(words)]} connector {i:06d}",
                connector_type_id=type_id,
                config=config,
            )
            connector.set_secrets(secrets)
            rows.append(connector)
        Connector.objects.bulk_create(rows, batch_size=1000)
    return time.perf_counter() - started


def import_via_services(count: int, batch: int = 0) -> float:
    """Create `count` connectors one by one through `connectors.services.create_connector`: each in
    its own transaction (batch=0), or `batch` of them per transaction."""
    import contextlib

    from django.db import transaction

    from connectors.models import Space
    from connectors.services import create_connector

    space_id = f"imported-{batch}"
    space, _ = Space.objects.get_or_create(id=space_id, defaults={"name": space_id})
    started = time.perf_counter()
    for first in range(0, count, batch or count):
        with transaction.atomic() if batch else contextlib.nullcontext():
            for i in range(first, min(count, first + (batch or count))):
                create_connector(
                    space,
                    name=f"imported hook {i:05d}",
                    type_id=".webhook",
                    config={"url": f"https://hooks.example.com/{i}", "method": "post"},
                    secrets={"user": "importer", "password": f"secret-{i}"},
                )
    return time.perf_counter() - started


def in_process(repeat: int, search: str) -> list[tuple[str, list[float], int, int, int]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    user = get_user_model().objects.get(username=ADMIN[0])
    token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    api = Client(HTTP_AUTHORIZATION=f"Basic {token}")
    admin = Client()
    admin.force_login(user)
    from connectors.models import Connector

    one = Connector.objects.order_by("pk").values_list("pk", flat=True).first()
    targets = [
        ("API GET /api/actions/connector/{id}", api, f"/api/actions/connector/{one}"),
        ("API GET /api/actions/connectors (all)", api, "/api/actions/connectors"),
        ("admin list page 1", admin, "/admin/connectors/connector/"),
        ("admin list, search", admin, f"/admin/connectors/connector/?q={search}"),
        ("admin list, type filter", admin, "/admin/connectors/connector/?type=.webhook"),
        ("admin list, search + type filter", admin, f"/admin/connectors/connector/?q={search}&type=.webhook"),
        (
            "API GET /api/actions/connectors?include_health=true",
            api,
            "/api/actions/connectors?include_health=true",
        ),
    ]
    rows = []
    for label, client, path in targets:
        client.get(path)  # warm-up (Basic credential check, template loading)
        queries = []

        def count(execute, sql, params, many, context, queries=queries):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append(time.perf_counter() - started)

        with connection.execute_wrapper(count):
            client.get(path)
        times, response = _timed(lambda client=client, path=path: client.get(path), repeat)
        rows.append((label, times, response.status_code, len(response.content), queries))
    return rows


def profile_list_api(top: int = 15) -> None:
    """cProfile one in-process `GET /api/actions/connectors`; print the costliest functions."""
    import cProfile
    import io
    import pstats

    from django.test import Client

    token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    client = Client(HTTP_AUTHORIZATION=f"Basic {token}")
    client.get("/api/actions/connectors")
    profiler = cProfile.Profile()
    profiler.enable()
    client.get("/api/actions/connectors")
    profiler.disable()
    import gc

    timings = {}
    for label in ("collector on", "collector off"):
        if label == "collector off":
            gc.disable()
        try:
            started = time.perf_counter()
            client.get("/api/actions/connectors")
            timings[label] = f"{(time.perf_counter() - started) * 1000:.0f} ms"
        finally:
            gc.enable()
            gc.collect()
    print(f"  GET /api/actions/connectors with Python's cyclic garbage collector on and off: {timings}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    print("  profile of GET /api/actions/connectors (sorted by own time):")
    for line in lines[2:]:
        print("    " + line)


class Web:
    """One gunicorn worker (gthread, 4 threads) on 127.0.0.1, on a port the kernel picks."""

    def __init__(self, env: dict):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # gunicorn sets TCP_NODELAY only on sockets it creates; accepted sockets inherit it from here.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.set_inheritable(True)
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        command = [sys.executable, "-m", "gunicorn", "connectors_project.wsgi:application"]
        command += ["--bind", f"fd://{listener.fileno()}", "--workers", "1", "--threads", "4"]
        command += ["--worker-class", "gthread", "--timeout", "120"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            pass_fds=(listener.fileno(),),
            stderr=subprocess.DEVNULL,
        )
        listener.close()

    def worker_pid(self) -> int | None:
        children = _descendants(self.process.pid)
        return children[0] if children else None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def over_http(env: dict, repeat: int, search: str) -> tuple[list[tuple[str, list[float], int, int]], dict]:
    import requests

    web = Web(env)
    try:
        session = requests.Session()
        session.auth = ADMIN
        deadline = time.monotonic() + 60
        while True:
            try:
                if session.get(web.url + "/api/actions/connector_types", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer in 60 s")
            time.sleep(0.2)
        pid = web.worker_pid()
        idle = _rss_mib(pid) if pid else 0.0
        rows = []
        from connectors.models import Connector

        one = Connector.objects.order_by("pk").values_list("pk", flat=True).first()
        for label, path in [
            ("HTTP GET /api/actions/connector/{id}", f"/api/actions/connector/{one}"),
            ("HTTP GET /api/actions/connectors (all)", "/api/actions/connectors"),
            ("HTTP GET /api/actions/connector/{id} again", f"/api/actions/connector/{one}"),
        ]:
            session.get(web.url + path, timeout=120)
            times, response = _timed(lambda path=path: session.get(web.url + path, timeout=120), repeat)
            rows.append((label, times, response.status_code, len(response.content)))
        memory = {
            "web_worker_rss_idle_mib": round(idle, 1),
            "web_worker_rss_after_lists_mib": round(_rss_mib(pid), 1) if pid else None,
            "web_worker_peak_rss_mib": round(_rss_mib(pid, "VmHWM"), 1) if pid else None,
        }
        return rows, memory
    finally:
        web.stop()


def cluster_memory(env: dict, settle: float) -> dict:
    """RSS of an idle `manage.py qcluster` (the cluster and every child process)."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(settle)
        pids = [process.pid, *_descendants(process.pid)]
        per_process = [round(_rss_mib(pid), 1) for pid in pids]
        return {
            "cluster_processes": len(pids),
            "cluster_rss_total_mib": round(sum(per_process), 1),
            "cluster_pss_total_mib": round(sum(_pss_mib(pid) for pid in pids), 1),
            "cluster_rss_per_process_mib": per_process,
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Connector list and import at scale.")
    parser.add_argument("--connectors", type=int, default=100_000)
    parser.add_argument("--import", dest="import_count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a fresh database is created beside it")
    parser.add_argument("--redis", help="REDIS_URL for the worker-cluster memory figure")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds before reading cluster memory")
    parser.add_argument("--profile", action="store_true", help="print where the list API's time goes")
    args = parser.parse_args(argv)

    env, cleanup = _prepare_environment(args)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    try:
        call_command("migrate", verbosity=0, interactive=False)
        get_user_model().objects.create_superuser(ADMIN[0], "", ADMIN[1])
        print(
            f"connector_list: {args.connectors} connectors, import of {args.import_count}, "
            f"{connection.vendor}, {os.cpu_count()} CPUs, repeat {args.repeat}, "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        seconds = populate(args.connectors)
        print(f"  bulk insert of {args.connectors} connectors: {seconds:.1f} s", flush=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        search = "connector 04242"
        for label, times, status, size, queries in in_process(args.repeat, search):
            print(
                f"  {label:<40} {_fmt(times)}  status {status}, {size / 1024:,.0f} KiB, "
                f"{len(queries)} queries, {sum(queries) * 1000:.1f} ms in cursor.execute"
            )
        if args.profile:
            profile_list_api()
        rows, memory = over_http(env, args.repeat, search)
        for label, times, status, size in rows:
            print(f"  {label:<40} {_fmt(times)}  status {status}, {size / 1024:,.0f} KiB")
        if args.import_count:
            for batch, how in ((0, "a transaction each"), (500, "500 per transaction")):
                seconds = import_via_services(args.import_count, batch)
                print(
                    f"  import of {args.import_count} connectors via connectors.services.create_connector, "
                    f"{how}: {seconds:.1f} s = {args.import_count / seconds:.0f}/s",
                    flush=True,
                )
        memory.update(cluster_memory(env, args.settle))
        print(f"  memory: {json.dumps(memory)}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
