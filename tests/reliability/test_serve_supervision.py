"""`manage.py serve` (what `make run` starts) under a steady `POST …/_enqueue` stream: Ctrl-C and
SIGTERM stop every process and free the port; a worker cluster killed outright is restarted while
the web keeps accepting; accepted runs are all delivered in the end.

The test plays the terminal: serve is started in a session of its own, and Ctrl-C is SIGINT to that
process group, exactly what a shell sends. Every process is found through /proc (serve's children
run in process groups of their own), snapshotted just before the signal, and must all be gone.
"""

import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

from actions.models import ActionRun
from benchmarks.sink import Sink
from tests.reliability.harness import EnqueueLoad, free_port, reconcile, wait_until
from tests.reliability.test_web_restart_under_load import SETTINGS, _snapshot, _webhook_to
from tests.scaleout.conftest import Process

logger = logging.getLogger(__name__)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

USER = ("serve-admin", "serve-password-1")
STOP_BOUND = 10.0  # seconds from the signal to no process left and the port free (issue 15 §3)
KEY_WARNING = "CONNECTORS_ENCRYPTION_KEYS is not set"


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    """Running (a zombie is gone for our purpose: it holds no port and runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below `root`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            todo.append(child)
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Serve:
    """`manage.py serve` as `make run` starts it, on this test's database and port."""

    def __init__(self, env: dict, workdir: Path, port: int):
        self.env, self.workdir, self.port = env, workdir, port
        self.url = f"http://127.0.0.1:{port}"
        self.starts = 0
        self.process: Process | None = None

    def start(self) -> Process:
        self.starts += 1
        # `make run`'s command line (Makefile): migrate and bootstrap in the same process, then serve.
        command = [
            sys.executable,
            "manage.py",
            "serve",
            "--migrate",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.process = Process(f"serve-{self.starts}", command, self.env, self.workdir)
        wait_until(
            lambda: "Connectors is running on" in self.process.output(),
            90,
            "serve to say it runs",
            [self.process],
        )
        # It says so only once the web answers: the port is bound and served at that moment.
        with socket.create_connection(("127.0.0.1", self.port), timeout=2):
            pass
        return self.process

    def processes(self) -> dict[int, str]:
        return {self.process.popen.pid: "manage.py serve", **descendants(self.process.popen.pid)}

    def cluster_pids(self) -> set[int]:
        return {pid for pid, command in descendants(self.process.popen.pid).items() if "qcluster" in command}

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=20)


@pytest.fixture
def served(transactional_db, tmp_path, django_user_model):
    django_user_model.objects.create_superuser(USER[0], "", USER[1])
    config = tmp_path / "connectors.yml"
    config.write_text(yaml.safe_dump(SETTINGS))
    # The generated-key path of a first start: the key file under var/ holds this test run's key, and
    # CONNECTORS_ENCRYPTION_KEYS is unset, so start-up warns about it (once).
    var = tmp_path / "var"
    var.mkdir()
    (var / "encryption.key").write_text(settings.FIELD_ENCRYPTION_KEY[0] + "\n")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("CONNECTORS_ENCRYPTION_KEYS")
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
            "CONNECTORS_CONFIG": str(config),
            "CONNECTORS_VAR_DIR": str(var),
            "CONNECTORS_ENV_FILE": "",
            "CONNECTORS_WORKERS": "2",
            "SECRET_KEY": "serve-supervision-test-secret-key-0123456789",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    sink = Sink(latency_ms=20, track_path="id").__enter__()
    serve = Serve(env, tmp_path, free_port())
    try:
        yield {"serve": serve, "sink": sink, "config": config}
    finally:
        serve.stop()
        sink.stop()


def _wait_for_delivery(connector_id: str, accepted: int, sink: Sink, processes) -> None:
    wait_until(
        lambda: (
            ActionRun.objects.filter(connector_id=connector_id).exclude(status="succeeded").count() == 0
            and ActionRun.objects.filter(connector_id=connector_id).count() >= accepted
            and sink.stats()["distinct"] >= accepted
        ),
        90,
        "every accepted run delivered and succeeded",
        processes,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_the_group_stops_every_process_and_frees_the_port_under_load(served, signum):
    serve, sink = served["serve"], served["sink"]
    connector = _webhook_to(sink.url + "/hook")
    process = serve.start()
    output = process.output()
    assert output.count(KEY_WARNING) == 1, output  # one warning per start, not one per process
    assert f"Settings file: {served['config']}" in output
    load = EnqueueLoad(serve.url, connector.id, USER, threads=3).start()
    try:
        wait_until(lambda: load.accepted() >= 60, 60, "accepted requests", [process])
        running = serve.processes()
        assert any("gunicorn" in command for command in running.values())
        assert any("qcluster" in command for command in running.values())
        os.killpg(process.popen.pid, signum)  # what Ctrl-C (or `kill -TERM -PGID`, Docker, systemd) does
        signalled = time.monotonic()
        wait_until(
            lambda: not any(_alive(pid) for pid in running) and port_is_free(serve.port),
            STOP_BOUND,
            "every process gone and the port free",
        )
        logger.info("stopped in %.1f s", time.monotonic() - signalled)
    finally:
        load.stop()
    assert process.popen.wait(timeout=5) == 0, process.output()[-3000:]
    assert process.output().count(KEY_WARNING) == 1

    # Nothing accepted is lost: the next start (on the same port: no "Connection in use") delivers
    # what the stop left queued or in flight.
    accepted = load.accepted()
    restarted = serve.start()
    _wait_for_delivery(connector.id, accepted, sink, [restarted])
    figures = reconcile(load, _snapshot(connector.id, sink), recoveries_allowed=True)
    logger.info("stop under load: %s %s", figures, load.summary())


def test_a_killed_worker_cluster_is_restarted_while_the_web_keeps_accepting(served):
    serve, sink = served["serve"], served["sink"]
    connector = _webhook_to(sink.url + "/hook")
    process = serve.start()
    load = EnqueueLoad(serve.url, connector.id, USER, threads=2).start()
    try:
        wait_until(lambda: load.accepted() >= 30, 60, "accepted requests", [process])
        killed = serve.cluster_pids()
        assert len(killed) >= 3, serve.processes()  # the cluster's parent, sentinel, workers, …
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        accepted_at_kill = load.accepted()
        wait_until(
            lambda: load.accepted() >= accepted_at_kill + 40, 30, "202s while the cluster is down", [process]
        )
        wait_until(
            lambda: serve.cluster_pids() and not serve.cluster_pids() & killed,
            30,
            "a new worker cluster",
            [process],
        )
        accepted_at_restart = load.accepted()
        wait_until(
            lambda: load.accepted() >= accepted_at_restart + 30, 30, "accepted requests after", [process]
        )
    finally:
        load.stop()
    assert process.alive(), process.output()[-3000:]
    assert "The worker cluster exited" in process.output()
    refused = [o for o in load.outcomes if o.status != 202]
    assert not refused, refused[:5]  # the web never stopped answering
    _wait_for_delivery(connector.id, load.accepted(), sink, [process])
    figures = reconcile(load, _snapshot(connector.id, sink), recoveries_allowed=True)
    logger.info("cluster killed under load: %s", figures)


def test_a_port_in_use_is_one_clear_line_and_exit_code_1(served):
    serve = served["serve"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", serve.port))
        holder.listen()
        command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(serve.port)]
        process = Process("serve-port-in-use", command, serve.env, serve.workdir)
        assert process.popen.wait(timeout=60) == 1
    output = process.output()
    assert f"127.0.0.1:{serve.port} is already in use" in output
    assert "Traceback" not in output
    assert not descendants(process.popen.pid)


def test_when_the_web_dies_serve_stops_the_cluster_and_exits_1_for_its_supervisor_to_restart(served):
    serve = served["serve"]
    process = serve.start()
    running = serve.processes()
    master = next(
        pid
        for pid, command in running.items()
        if "gunicorn" in command and _parent_of(pid) == process.popen.pid
    )
    os.killpg(master, signal.SIGKILL)  # the web's master and workers crash
    assert process.popen.wait(timeout=STOP_BOUND + 5) == 1
    wait_until(lambda: not any(_alive(pid) for pid in running), STOP_BOUND, "every process gone")
    assert "The web server (gunicorn) exited" in process.output()
    assert port_is_free(serve.port)


def test_a_second_ctrl_c_kills_what_is_left_at_once(served):
    serve = served["serve"]
    process = serve.start()
    running = serve.processes()
    os.killpg(process.popen.pid, signal.SIGINT)
    wait_until(lambda: "a second Ctrl-C stops at once" in process.output(), STOP_BOUND, "the stop to begin")
    os.killpg(process.popen.pid, signal.SIGINT)  # impatient: the cluster needs seconds to stop by itself
    wait_until(
        lambda: not any(_alive(pid) for pid in running) and port_is_free(serve.port),
        STOP_BOUND,
        "every process gone and the port free",
    )
    assert process.popen.wait(timeout=5) == 0
    assert "is still running; killing it" in process.output()
