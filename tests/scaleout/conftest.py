"""The scale-out profile for real: a fresh PostgreSQL database, django-q2 on Redis, gunicorn and
worker clusters as subprocesses. Skips with the reason when the services are not there.

`.ci/run` exports CONNECTORS_TEST_POSTGRES_URL and CONNECTORS_TEST_REDIS_URL (PostgreSQL and Redis
on 127.0.0.1). Each test module gets its own database `connectors_scaleout_<random>` (dropped at the
end) and its own django-q2 cluster name, so it shares neither data nor queue with parallel runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
SUPERUSER = ("scaleout-admin", "scaleout-password-1")
STARTUP_SECONDS = 60


def _skip(reason: str):
    service_missing(f"scale-out tests skipped: {reason}")


@pytest.fixture(scope="session")
def scaleout_services() -> dict:
    """The URLs of PostgreSQL and Redis, after checking both answer."""
    postgres_url = os.environ.get("CONNECTORS_TEST_POSTGRES_URL")
    redis_url = os.environ.get("CONNECTORS_TEST_REDIS_URL")
    if not postgres_url:
        _skip(
            "CONNECTORS_TEST_POSTGRES_URL is not set (.ci/run sets it; e.g. postgres://postgres@127.0.0.1:5432/test)"
        )
    if not redis_url:
        _skip("CONNECTORS_TEST_REDIS_URL is not set (.ci/run sets it; e.g. redis://127.0.0.1:6379/0)")
    import psycopg
    import redis

    try:
        psycopg.connect(postgres_url, connect_timeout=3).close()
    except psycopg.Error as exc:
        _skip(f"PostgreSQL at {postgres_url} is unreachable: {exc}")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        _skip(f"Redis at {redis_url} is unreachable: {exc}")
    return {"postgres": postgres_url, "redis": redis_url}


def gunicorn_command(bind: str) -> list[str]:
    """The web server as the tests run it: one gthread worker with 4 threads, bound to `bind`."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "connectors_project.wsgi:application",
        "--bind",
        bind,
        "--workers",
        "1",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
    ]


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path, pass_fds=()):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group (the cluster's sentinel, workers and pusher): a crash."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self.log.close()
        return self.popen.returncode


class Deployment:
    """One scale-out deployment: its environment, database and Redis queue, and its processes."""

    def __init__(self, services: dict, workdir: Path):
        from cryptography.fernet import Fernet

        suffix = uuid.uuid4().hex[:12]
        self.database = f"connectors_scaleout_{suffix}"
        admin = urlsplit(services["postgres"])
        self.admin_url = services["postgres"]
        self.database_url = urlunsplit(admin._replace(path=f"/{self.database}"))
        self.redis_url = services["redis"]
        self.cluster_name = f"scaleout-{suffix}"
        self.workdir = workdir
        self.processes: list[Process] = []
        config = workdir / "connectors.yml"
        config.write_text('connectors.network.allowPrivateAddresses: ["127.0.0.0/8"]\n')
        self.encryption_key = Fernet.generate_key().decode()
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CONNECTORS_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "CONNECTORS_CLUSTER_NAME": self.cluster_name,
                "CONNECTORS_ENCRYPTION_KEYS": self.encryption_key,
                "SECRET_KEY": "scaleout-test-" + uuid.uuid4().hex,
                "CONNECTORS_CONFIG": str(config),
                "CONNECTORS_VAR_DIR": str(workdir / "var"),
                "CONNECTORS_WORKERS": "2",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SUPERUSER_USERNAME": SUPERUSER[0],
                "DJANGO_SUPERUSER_PASSWORD": SUPERUSER[1],
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env = env

    # ---- database -------------------------------------------------------------------------------
    def sql(self, query: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, connect_timeout=5, autocommit=True) as connection:
            connection.execute(statement)

    def create_database(self) -> None:
        self._admin(f'CREATE DATABASE "{self.database}"')

    def drop_database(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # ---- redis ----------------------------------------------------------------------------------
    def redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url, socket_timeout=5)

    @property
    def queue_key(self) -> str:
        return f"django_q:{self.cluster_name}:q"

    def clear_redis(self) -> None:
        client = self.redis()
        keys = list(client.scan_iter(match=f"django_q:{self.cluster_name}:*", count=1000))
        if keys:
            client.delete(*keys)

    # ---- processes ------------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 120, input_text: str | None = None, env=None) -> str:
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
            )
        return completed.stdout

    def start_web(self) -> str:
        """gunicorn on 127.0.0.1, on a port the kernel picks (the bound socket is handed over)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # gunicorn sets TCP_NODELAY only on sockets it creates; accepted sockets inherit it from here.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.set_inheritable(True)
        port = listener.getsockname()[1]
        command = gunicorn_command(f"fd://{listener.fileno()}")
        process = Process("web", command, self.env, self.workdir, pass_fds=(listener.fileno(),))
        listener.close()
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        self.wait_until(lambda: self._web_ready(url), process, "gunicorn answering")
        return url

    def _web_ready(self, url: str) -> bool:
        import requests

        try:
            return (
                requests.get(url + "/api/actions/connector_types", auth=SUPERUSER, timeout=2).status_code
                == 200
            )
        except requests.RequestException:
            return False

    def start_cluster(self, label: str) -> Process:
        """A django-q2 worker cluster (`manage.py qcluster`) on the Redis broker; waits until it reports."""
        client = self.redis()
        before = set(client.scan_iter(match=f"django_q:{self.cluster_name}:cluster:*"))
        process = Process(
            f"qcluster-{label}",
            [sys.executable, "manage.py", "qcluster"],
            {**self.env, "SCALEOUT_CLUSTER_LABEL": label},
            self.workdir,
        )
        self.processes.append(process)

        def reported() -> bool:
            now = set(client.scan_iter(match=f"django_q:{self.cluster_name}:cluster:*"))
            return bool(now - before)

        self.wait_until(reported, process, "the cluster reporting its status to Redis")
        return process

    def wait_until(self, condition, process: Process | None, what: str, timeout: float = STARTUP_SECONDS):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if process is not None and not process.alive():
                raise AssertionError(f"{process.name} exited while waiting for {what}:\n{process.output()}")
            time.sleep(0.1)
        detail = process.output()[-4000:] if process is not None else ""
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}")

    def enqueue(self, func: str, calls: list[list]) -> list[str]:
        """Enqueue `func(*args)` for each args list with django_q.tasks.async_task, from another
        process configured like the web (so the test process's own settings play no part)."""
        script = (
            "import json, sys, django\n"
            "django.setup()\n"
            "from django_q.tasks import async_task\n"
            "calls = json.load(sys.stdin)\n"
            f"ids = [async_task({func!r}, *args) for args in calls]\n"
            "print(json.dumps(ids))\n"
        )
        completed = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=self.env,
            input=json.dumps(calls),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if completed.returncode != 0:
            raise AssertionError(f"enqueue failed:\n{completed.stdout}\n{completed.stderr}")
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


@pytest.fixture(scope="module")
def deployment(scaleout_services):
    """A migrated, bootstrapped PostgreSQL database and a private Redis queue for this module."""
    workdir = Path(tempfile.mkdtemp(prefix="connectors-scaleout-"))
    deployment = Deployment(scaleout_services, workdir)
    deployment.create_database()
    try:
        deployment.manage("migrate", "--noinput")
        deployment.manage("bootstrap")
        yield deployment
    finally:
        deployment.stop_all()
        deployment.clear_redis()
        deployment.drop_database()


@pytest.fixture(scope="module")
def web(deployment) -> str:
    return deployment.start_web()


@pytest.fixture
def clusters(deployment):
    """Start clusters with `clusters.start(label)`; all of them stop when the test ends."""
    started: list[Process] = []

    class Clusters:
        def start(self, label: str) -> Process:
            process = deployment.start_cluster(label)
            started.append(process)
            return process

    yield Clusters()
    for process in started:
        process.stop()
        if process in deployment.processes:
            deployment.processes.remove(process)


def rerun_on_postgresql(module: str, postgres_url: str, name: str) -> str:
    """Run a test module again in a child pytest on a fresh database `connectors_<name>_<random>` of
    the scale-out PostgreSQL (Django reads its database once, at start-up; pytest-django creates
    `test_<name>` and drops it at the end). Returns the child's output; fails if it failed."""
    database_url = urlunsplit(
        urlsplit(postgres_url)._replace(path=f"/connectors_{name}_{uuid.uuid4().hex[:12]}")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CONNECTORS_"))}
    env.update({"DATABASE_URL": database_url, "CONNECTORS_EXPECT_DB_VENDOR": "postgresql"})
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", module, "-q", "--no-header", "-rfEs", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    output = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    return output
