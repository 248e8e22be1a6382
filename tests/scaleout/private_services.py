"""A private PostgreSQL and a private Redis, each on its own free 127.0.0.1 port with its data under a
temporary directory, so a test may stop and restart them. The machine's shared servers (5432, 6379)
are never touched. Each start skips the test with the reason when the binaries are missing."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from tests.reliability.harness import free_port
from tests.services import service_missing


def _skip(reason: str):
    service_missing(f"private service tests skipped: {reason}")


class PrivatePostgres:
    """initdb into a temporary directory; pg_ctl start/stop on a free port (trust auth, loopback)."""

    def __init__(self, workdir: Path):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        found = binaries[-1] if binaries else shutil.which("pg_ctl")
        if not found:
            _skip("no PostgreSQL server binaries (pg_ctl, initdb) under /usr/lib/postgresql/*/bin or on PATH")
        self.bin = Path(found).parent
        self.port = free_port()
        self.data = workdir / "pgdata"
        self.log = workdir / "postgres.log"
        # PostgreSQL refuses to run as root: then it runs as the `postgres` account, if there is one.
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                _skip("running as root and there is no `postgres` account to run PostgreSQL as")
            os.chown(workdir, self.user.pw_uid, self.user.pw_gid)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        completed = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user.pw_uid if self.user else None,
            group=self.user.pw_gid if self.user else None,
            cwd="/",
        )
        if completed.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise AssertionError(f"{args[0]} failed:\n{completed.stdout}\n{completed.stderr}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.data}'"
            " -c fsync=off -c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` (what a service restart does): open connections are terminated, nothing is lost."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class PrivateRedis:
    """redis-server on a free port, no persistence: a restart empties it, as a cache-style Redis does
    (the harshest case for django-q2's queue, which lives in a Redis list)."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            _skip("redis-server is not on PATH")
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "redis.log"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--logfile", str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"redis-server exited:\n{self.log_path.read_text(errors='replace')}"
                    ) from None
                time.sleep(0.05)
        raise AssertionError("redis-server did not answer within 20 s")

    def kill(self) -> None:
        """SIGKILL: the server and everything queued in it are gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
