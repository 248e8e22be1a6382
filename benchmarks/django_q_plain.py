"""A peer for the baselines: stock django-q2 with one HTTP POST per task — no connector, no
execution row, no event log. It shows what the task queue alone costs on this machine, next to the
bare loop, the threads and Alertmanager in `benchmarks/baselines.py` (which runs it with
`--django-q2 orm:2,redis:8`).

Each run gets a temporary SQLite database (task results are stored there, as our settings do) and,
for the Redis broker, a Redis queue of its own (a unique cluster name). One warm-up task proves the
cluster is up; then `count` tasks are enqueued with `async_task` from another process, and the time
runs from the first enqueue to the last delivery the sink saw.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_session = None


def post_once(url: str, i: int) -> int:
    """The task: one POST with a keep-alive session per worker process."""
    global _session
    if _session is None:
        import requests

        _session = requests.Session()
    return _session.post(url, json={"id": i, "message": f"django-q2 delivery {i}"}, timeout=30).status_code


_ENQUEUE = """
import json, sys, time, django
django.setup()
from django_q.tasks import async_task
url, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = time.monotonic()
for i in range(first, first + count):
    async_task("benchmarks.django_q_plain.post_once", url, i)
print(json.dumps({"started": started, "seconds": time.monotonic() - started}))
"""


class Deployment:
    def __init__(self, broker: str, workers: int, redis_url: str | None):
        from cryptography.fernet import Fernet

        self.directory = Path(tempfile.mkdtemp(prefix="connectors-bench-djq-"))
        self.cluster_name = f"bench-djq-{uuid.uuid4().hex[:8]}"
        self.redis_url = redis_url if broker == "redis" else None
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CONNECTORS_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
                "DATABASE_URL": f"sqlite:///{self.directory / 'bench.sqlite3'}",
                "CONNECTORS_VAR_DIR": str(self.directory),
                "CONNECTORS_WORKERS": str(workers),
                "CONNECTORS_CLUSTER_NAME": self.cluster_name,
                "CONNECTORS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "SECRET_KEY": "bench-" + uuid.uuid4().hex,
                "LOG_LEVEL": "WARNING",
            }
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        self.env = env
        self.cluster = None

    def __enter__(self) -> Deployment:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def enqueue(self, url: str, first: int, count: int) -> dict:
        completed = subprocess.run(
            [sys.executable, "-c", _ENQUEUE, url, str(first), str(count)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"enqueue failed: {completed.stderr[-2000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def __exit__(self, *exc_info):
        if self.cluster and self.cluster.poll() is None:
            os.killpg(self.cluster.pid, signal.SIGTERM)
            try:
                self.cluster.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.cluster.pid, signal.SIGKILL)
                self.cluster.wait()
        if self.redis_url:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(match=f"django_q:{self.cluster_name}:*"))
            if keys:
                client.delete(*keys)
        shutil.rmtree(self.directory, ignore_errors=True)


def run(sink, count: int, max_seconds: float, broker: str, workers: int, redis_url: str | None):
    """Deliver `count` POSTs to the sink through django-q2; returns (delivered, elapsed, notes)."""
    with Deployment(broker, workers, redis_url) as deployment:
        url = sink.url + "/django-q2"
        deployment.enqueue(url, -1, 1)  # warm-up: the cluster is up once this arrives
        deadline = time.monotonic() + 60
        while sink.stats()["deliveries"] < 1:
            if time.monotonic() > deadline or deployment.cluster.poll() is not None:
                raise RuntimeError("the django-q2 cluster did not deliver the warm-up task within 60 s")
            time.sleep(0.1)
        latency = sink.stats()["latency_ms"]
        sink.reset(latency_ms=latency)
        enqueued = deployment.enqueue(url, 0, count)
        remaining = max(1.0, max_seconds - enqueued["seconds"])
        stats = sink.wait_for(count, timeout=remaining)
        last = stats["last_at"] or time.monotonic()
        elapsed = max(last - enqueued["started"], 1e-9)
        span = (stats["last_at"] or 0) - (stats["first_at"] or 0)
        notes = {
            "broker": broker,
            "workers": workers,
            "enqueue_seconds": round(enqueued["seconds"], 2),
            # deliveries per second between the first and the last delivery (enqueue still running)
            "first_to_last_delivery_rate": round(stats["deliveries"] / span, 1) if span > 0 else None,
        }
        return stats["deliveries"], elapsed, notes
