"""Run the web server (gunicorn) and a django-q2 worker cluster together, in the foreground.

Supervision lives here, in one loop:

- Each child runs in its own process group, so Ctrl-C (SIGINT to the terminal's foreground group) and
  a group-wide SIGTERM reach only this process. We then send each child's leader exactly one SIGTERM
  (gunicorn: graceful stop; qcluster: stop after the current tasks), wait up to STOP_GRACE seconds and
  SIGKILL whatever is left of each group, workers included. Before this, the terminal's SIGINT reached
  every gunicorn and qcluster process at once, our SIGTERM followed, gunicorn's shutdown handler ran
  twice and left workers holding the port, and a killed qcluster parent left its children running.
  Runs that were still in flight are taken again after their lease (`execute-timeout`), as after any
  crash. A second signal skips the wait.
- The listening socket is bound here and handed to gunicorn (`--bind fd://N`): a port in use is one
  clear line, and "running" is printed only once the web answers on it.
- A worker cluster that exits is restarted with a growing delay while the web keeps accepting (queued
  runs wait in the database or Redis). The web exiting stops everything with exit code 1, so systemd
  or Docker restart the whole.
"""

from __future__ import annotations

import ctypes
import errno
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE = 7.0  # seconds between SIGTERM and SIGKILL; everything is gone well within 10 s
GUNICORN_GRACEFUL_TIMEOUT = 5  # gunicorn's own SIGTERM-to-SIGKILL for its workers
RESTART_DELAYS = (1, 2, 4, 8, 16, 30)  # seconds before restarting a cluster that exited
STABLE_AFTER = 60.0  # a cluster up this long starts the delays over
READY_TIMEOUT = 90.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when `serve` dies, even by SIGKILL (Linux only)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port, as gunicorn would; a port in use is a CommandError."""
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CommandError(f"HOST {host!r} cannot be resolved: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"{host}:{port} is already in use (another `make run`?). Stop it, or choose another "
                "port with PORT=…"
            ) from None
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    listener.listen(2048)
    return listener


def gunicorn_arguments(
    bind: str, workers: int, *, app: str = "connectors_project.wsgi:application", access_log: bool = True
) -> list[str]:
    """gunicorn's command line after `-m gunicorn`, as `serve` runs it. benchmarks/web_overhead.py
    runs the same server, and only it passes another `app` or `access_log=False` (to price them)."""
    return [
        app,
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        "8",
        "--worker-class",
        "gthread",
        "--timeout",
        "330",
        "--graceful-timeout",
        str(GUNICORN_GRACEFUL_TIMEOUT),
        *(["--access-logfile", "-"] if access_log else []),
    ]


def probe_address(listener: socket.socket) -> tuple[str, int]:
    host, port = listener.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if listener.family == socket.AF_INET else "::1"
    return host, port


def _answers(address: tuple[str, int]) -> bool:
    """True once an HTTP request on the bound address gets any answer (the web has booted)."""
    host, port = address
    conn = http.client.HTTPConnection(host, port, timeout=1)  # short: a Ctrl-C during boot waits for it
    try:
        conn.request("GET", "/healthz", headers={"Host": "localhost"})
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Child:
    """One supervised process and its process group."""

    def __init__(self, name: str, command: list[str], env: dict, pass_fds=()):
        self.name = name
        self.command = command
        self.env = env
        self.pass_fds = tuple(pass_fds)
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.BASE_DIR,
            env=self.env,
            pass_fds=self.pass_fds,
            process_group=0,
            preexec_fn=_die_with_parent,
        )
        self.started_at = time.monotonic()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        """SIGTERM to the leader only: gunicorn's master and django-q2's cluster each stop their own
        processes (a SIGTERM to every process of the group runs their stop twice over)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def group_alive(self) -> bool:
        """Any process left in the group (the leader may be gone and its children not)."""
        if self.process is None:
            return False
        self.process.poll()
        try:
            os.killpg(self.process.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


class Command(BaseCommand):
    help = "Serve the web UI/API (gunicorn) and the background workers (django-q2) together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=settings.WEB_CONCURRENCY)
        parser.add_argument("--no-worker", action="store_true", help="serve the web only")
        parser.add_argument(
            "--migrate", action="store_true", help="apply migrations and run `bootstrap` first (make run)"
        )

    def handle(self, *args, host, port, web_workers, no_worker, migrate, **options):
        from django.core.management import call_command

        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("bootstrap")
        call_command("collectstatic", interactive=False, verbosity=0)
        self._report_configuration()
        listener = bind_listener(host, port)
        address = probe_address(listener)
        python = sys.executable
        # Children must not repeat the start-up warnings this process already printed.
        env = {**os.environ, settings.STARTUP_REPORTED_VARIABLE: "1"}
        web = Child(
            "web",
            [python, "-m", "gunicorn", *gunicorn_arguments(f"fd://{listener.fileno()}", web_workers)],
            env,
            pass_fds=[listener.fileno()],
        )
        cluster = None if no_worker else Child("worker cluster", [python, "manage.py", "qcluster"], env)
        children = [child for child in (web, cluster) if child is not None]

        self.signals_received = 0

        def on_signal(signum, _frame):
            self.signals_received += 1  # the loop below does the work, once

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        exit_code = 0
        try:
            web.start()
            listener.close()  # gunicorn holds it now; our copy would keep the port after gunicorn
            if cluster:
                cluster.start()
            exit_code = self._supervise(web, cluster, address, host, port)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if exit_code:
            raise CommandError("The web server exited; everything is stopped.", returncode=exit_code)

    def _report_configuration(self) -> None:
        from connectors.secrets_check import check_stored_secrets

        env_file = (
            f"{settings.ENV_FILE} (the environment wins over it)" if settings.ENV_FILE else "none (no .env)"
        )
        self.stdout.write(f"Environment file: {env_file}")
        if settings.CONNECTORS_CONFIG:
            self.stdout.write(f"Settings file: {settings.CONNECTORS_CONFIG} (changes need a restart)")
        else:
            self.stdout.write("Settings file: none (CONNECTORS_CONFIG is not set: Kibana's defaults)")
        try:
            check = check_stored_secrets()
        except Exception as exc:  # the database is away: gunicorn and the cluster will say more
            self.stderr.write(f"Encryption keys: not checked ({type(exc).__name__} reading the database)")
            return
        if check.ok:
            self.stdout.write(f"Encryption keys: {check.message}")
        else:
            self.stderr.write(self.style.ERROR(f"ERROR: {check.message}"))

    def _supervise(self, web: Child, cluster: Child | None, address, host: str, port: int) -> int:
        ready = False
        ready_deadline = time.monotonic() + READY_TIMEOUT
        restart_at = None
        failures = 0
        while not self.signals_received:
            code = web.exited()
            if code is not None:
                self.stderr.write(f"The web server (gunicorn) exited with code {code}; stopping.")
                return 1
            if not ready:
                if _answers(address):
                    ready = True
                    self.stdout.write(
                        self.style.SUCCESS(
                            f"Connectors is running on http://{host}:{port}/admin/ (Ctrl-C stops it)"
                        )
                    )
                elif time.monotonic() > ready_deadline:
                    self.stderr.write(
                        f"The web server did not answer within {READY_TIMEOUT:.0f} s; stopping."
                    )
                    return 1
            if cluster is not None:
                code = cluster.exited()
                if code is not None and restart_at is None:
                    # Reap what is left of its group (a killed parent can leave its children).
                    cluster.signal_group(signal.SIGKILL)
                    if time.monotonic() - cluster.started_at > STABLE_AFTER:
                        failures = 0
                    delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
                    failures += 1
                    restart_at = time.monotonic() + delay
                    self.stderr.write(
                        f"The worker cluster exited with code {code}; restarting it in {delay} s. "
                        "The web keeps accepting; queued runs wait for it."
                    )
                if restart_at is not None and time.monotonic() >= restart_at:
                    restart_at = None
                    cluster.start()
                    self.stderr.write("The worker cluster was restarted.")
            time.sleep(0.1 if not ready else 0.25)
        return 0

    def _stop(self, children: list[Child]) -> None:
        """One SIGTERM per child group, then SIGKILL after STOP_GRACE (at once on a second signal)."""
        alive = [child for child in children if child.group_alive()]
        if not alive:
            return
        first_signal = max(self.signals_received, 1)
        self.stderr.write(f"Stopping {' and '.join(c.name for c in alive)} (a second Ctrl-C stops at once)…")
        for child in alive:
            child.terminate()
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and self.signals_received <= first_signal:
            if not any(child.group_alive() for child in alive):
                break
            time.sleep(0.05)
        for child in alive:
            if child.group_alive():
                self.stderr.write(f"The {child.name} is still running; killing it.")
                child.signal_group(signal.SIGKILL)
        for child in alive:
            try:
                child.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
