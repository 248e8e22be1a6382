"""Authenticated requests per second for `GET /api/actions/connector/{id}`, Basic vs ApiKey.

Starts a real gunicorn server (127.0.0.1, an ephemeral port handed over as a listening socket, with
TCP_NODELAY set as gunicorn would set it on a socket of its own) on a throw-away SQLite database,
creates a superuser (with Django's real password hasher), a user with `read` in the default space,
an API key and one connector, then drives the route from N client threads for a bounded time per
scheme. Each row also says where the CPU went: the server's CPU time per request (all gunicorn
processes) and the load generator's, since both share the machine's cores.

    .venv/bin/python benchmarks/api_auth.py [--seconds 5] [--threads 8] [--workers 2] [--server-threads 8]

The load generator is `http.client` on one keep-alive connection per thread: `requests` cost about
three times as much client CPU per request, CPU the server then did not get.
"""

import argparse
import base64
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark-password-123"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def prepare(env: dict) -> tuple[str, str]:
    """Migrate the scratch database and create the users, key and connector. Returns (key, id)."""
    code = f"""
import django, os
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from connectors.api.authentication import encode_api_key, generate_api_key, hash_api_key
from connectors.models import ApiKey, Connector, Space, SpacePrivilege
space = Space.ensure_default()
user = User.objects.create_superuser("bench", "", {PASSWORD!r})
reader = User.objects.create_user("reader", "", {PASSWORD!r})
SpacePrivilege.objects.create(user=reader, space=space, privilege="read")
key_id, key = generate_api_key()
ApiKey.objects.create(id=key_id, name="bench", user=user, key_hash=hash_api_key(key))
connector = Connector(space=space, name="bench", connector_type_id=".server-log")
connector.set_secrets({{}})
connector.save()
print(encode_api_key(key_id, key), connector.id)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    encoded, connector_id = out.stdout.split()[-2:]
    return encoded, connector_id


def password_check_seconds(env: dict) -> float:
    code = f"""
import django, time
django.setup()
from django.contrib.auth.hashers import check_password, make_password
encoded = make_password({PASSWORD!r})
start = time.perf_counter()
for _ in range(3):
    check_password({PASSWORD!r}, encoded)
print((time.perf_counter() - start) / 3)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (the gunicorn master and workers)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{current}/task/{current}/children") as children:
                pending.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def drive(port: int, path: str, header: str, seconds: float, threads: int, max_requests: int):
    """GET the path from `threads` threads until `seconds` pass or `max_requests` are sent.
    Returns (ok, failed, elapsed seconds)."""
    counts = [0] * threads
    errors = [0] * threads
    deadline = time.monotonic() + seconds
    budget = max_requests // threads
    headers = {"Authorization": header}

    def worker(index: int):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline and counts[index] + errors[index] < budget:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                counts[index] += 1
            else:
                errors[index] += 1
        connection.close()

    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts), sum(errors), time.monotonic() - start


def wait_until_up(port: int, path: str, header: str) -> None:
    for _ in range(100):  # at most ~10 s
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path, headers={"Authorization": header})
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="run time per scheme (default 5)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--server-threads", type=int, default=8, help="threads per gunicorn worker (default 8)"
    )
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap per scheme")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
            "CONNECTORS_VAR_DIR": scratch,
            "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        encoded_key, connector_id = prepare(env)
        hasher = password_check_seconds(env)

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # gunicorn sets TCP_NODELAY only on sockets it creates; accepted sockets inherit it from here.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "connectors_project.wsgi:application",
                "--bind", f"fd://{listener.fileno()}",
                "--workers", str(args.workers), "--worker-class", "gthread",
                "--threads", str(args.server_threads), "--log-level", "warning",
            ],
            env=env, cwd=ROOT, pass_fds=[listener.fileno()],
        )  # fmt: skip
        try:
            path = f"/api/actions/connector/{connector_id}"
            basic = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
            reader = "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
            schemes = {
                "Basic, superuser (cached)": basic,
                "Basic, `read` in the space (cached)": reader,
                "ApiKey, superuser": f"ApiKey {encoded_key}",
            }
            wait_until_up(port, path, basic)
            print(
                f"GET /api/actions/connector/{{id}} on gunicorn ({args.workers} workers x "
                f"{args.server_threads} threads, gthread), {args.threads} client threads, "
                f"{args.seconds:g} s per scheme"
            )
            print(
                f"one uncached password check (Django hasher): {hasher * 1000:.0f} ms "
                f"=> at most {1 / hasher:.1f} checks/s per core"
            )
            for label, header in schemes.items():
                drive(port, path, header, 0.5, args.threads, 500)  # warm-up (and the first hash)
                server_cpu = process_tree_cpu_seconds(server.pid)
                client_cpu = time.process_time()
                ok, failed, elapsed = drive(port, path, header, args.seconds, args.threads, args.max_requests)
                server_cpu = process_tree_cpu_seconds(server.pid) - server_cpu
                client_cpu = time.process_time() - client_cpu
                served = max(1, ok + failed)
                print(
                    f"{label:36s} {ok / elapsed:6.0f} requests/s  ({ok} ok, {failed} failed, "
                    f"{elapsed:.1f} s; server CPU {server_cpu / served * 1000:.2f} ms/request, "
                    f"client CPU {client_cpu / served * 1000:.2f} ms/request, "
                    f"load {os.getloadavg()[0]:.1f})"
                )
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
            listener.close()


if __name__ == "__main__":
    main()
