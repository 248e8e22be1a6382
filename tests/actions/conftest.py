"""A real django-q2 worker cluster (`manage.py qcluster` in a subprocess) on the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.db import connection

# Short delays so retries and lease recovery happen within a test's time budget.
CLUSTER_SETTINGS = {
    "connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"],
    "connectors.actions.firstRetryDelay": "1s",
    "connectors.actions.backoffBase": "1s",
    "connectors.actions.backoffMax": "2s",
    "connectors.actions.pollInterval": "200ms",
    "connectors.actions.lostTaskGrace": "3s",
    "connectors.actions.runTimeout": "3s",
}


def wait_for(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class Cluster:
    def __init__(self, tmp_path: Path, kibana_settings):
        self.tmp_path = tmp_path
        self.kibana_settings = kibana_settings
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, extra: dict | None = None, workers: int = 2) -> subprocess.Popen:
        values = {**CLUSTER_SETTINGS, **(extra or {})}
        self.kibana_settings.set(values)  # the test process sees the same settings
        config = self.tmp_path / f"kibana-{len(self.processes)}.yml"
        config.write_text(yaml.safe_dump(values))
        log = self.tmp_path / f"cluster-{len(self.processes)}.log"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
            "CONNECTORS_CONFIG": str(config),
            "CONNECTORS_WORKERS": str(workers),
            "LOG_LEVEL": "INFO",
        }
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """kill -9 the cluster and every worker process in it."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # the cluster stops its own workers
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            try:  # workers left behind by a killed sentinel
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())


@pytest.fixture
def cluster(transactional_db, tmp_path, kibana_settings):
    handle = Cluster(tmp_path, kibana_settings)
    yield handle
    handle.stop()


@pytest.fixture
def hook(default_space, httpserver):
    """A webhook connector posting to the local HTTP server's /hook, which answers 200."""
    from tests.actions.helpers import make_webhook

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return make_webhook(default_space, httpserver.url_for("/hook"))
