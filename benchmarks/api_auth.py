"""Authenticated requests per second for `GET /api/actions/connector/{id}`, Basic vs ApiKey.

Starts a real gunicorn server (127.0.0.1, an ephemeral port handed over as a listening socket) on a
throw-away SQLite database, creates a superuser (with Django's real password hasher), an API key and
one connector, then drives the route from N client threads for a bounded time per scheme. Also prints
what one uncached password check costs, for comparison.

    .venv/bin/python benchmarks/api_auth.py [--seconds 5] [--threads 8] [--workers 2]
"""

import argparse
import base64
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark-password-123"


def prepare(env: dict) -> tuple[str, str]:
    """Migrate the scratch database and create the user, key and connector. Returns (key, id)."""
    code = f"""
import django, os
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from connectors.api.authentication import encode_api_key, generate_api_key, hash_api_key
from connectors.models import ApiKey, Connector, Space
space = Space.ensure_default()
user = User.objects.create_superuser("bench", "", {PASSWORD!r})
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


def drive(url: str, headers: dict, seconds: float, threads: int, max_requests: int) -> tuple[int, int, float]:
    """Hit the URL from `threads` threads until `seconds` pass or `max_requests` are sent."""
    counts = [0] * threads
    errors = [0] * threads
    deadline = time.monotonic() + seconds
    budget = max_requests // threads

    def worker(index: int):
        session = requests.Session()
        session.headers.update(headers)
        while time.monotonic() < deadline and counts[index] + errors[index] < budget:
            response = session.get(url, timeout=10)
            if response.status_code == 200:
                counts[index] += 1
            else:
                errors[index] += 1
        session.close()

    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts), sum(errors), time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="run time per scheme (default 5)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap per scheme")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
            "CONNECTORS_VAR_DIR": scratch,
            "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "LOG_LEVEL": "WARNING",
        }
        encoded_key, connector_id = prepare(env)
        hasher = password_check_seconds(env)

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "connectors_project.wsgi:application",
                "--bind", f"fd://{listener.fileno()}",
                "--workers", str(args.workers), "--worker-class", "gthread", "--threads", "8",
                "--log-level", "warning",
            ],
            env=env, cwd=ROOT, pass_fds=[listener.fileno()],
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/api/actions/connector/{connector_id}"
            basic = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
            schemes = {"Basic (cached after first check)": basic, "ApiKey": f"ApiKey {encoded_key}"}
            for _ in range(100):  # wait for the server, at most ~10 s
                try:
                    if requests.get(url, headers={"Authorization": basic}, timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            else:
                raise SystemExit("server did not come up")
            print(f"GET /api/actions/connector/{{id}} on gunicorn ({args.workers} workers x 8 threads), "
                  f"{args.threads} client threads, {args.seconds:g} s per scheme")  # fmt: skip
            print(f"one uncached password check (Django hasher): {hasher * 1000:.0f} ms "
                  f"=> at most {1 / hasher:.1f} checks/s per core")  # fmt: skip
            for label, header in schemes.items():
                drive(url, {"Authorization": header}, 0.5, args.threads, 500)  # warm-up
                ok, failed, elapsed = drive(
                    url, {"Authorization": header}, args.seconds, args.threads, args.max_requests
                )
                print(
                    f"{label:34s} {ok / elapsed:8.0f} requests/s  ({ok} ok, {failed} failed, {elapsed:.1f} s)"
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
