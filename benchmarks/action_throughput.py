"""Action throughput on the embedded default (SQLite + django-q2's ORM broker) or on PostgreSQL + Redis.

Enqueues N `.webhook` runs with `actions.services.enqueue()` from a few application threads (or, with
`--batch N`, writes them N per transaction as a rule run does) against the sink of benchmarks/sink.py
in its own process, whose latency is a parameter, with a real `manage.py qcluster` draining them, and
prints the drain throughput, the enqueue-to-delivery latency percentiles and the CPU each part spent
per action. Everything lives in a throw-away directory; the clock starts after a warm-up delivery.

    .venv/bin/python benchmarks/action_throughput.py --actions 3000 --latency-ms 0 50 200
    .venv/bin/python benchmarks/action_throughput.py --actions 3000 --workers 2 [--batch 100] \
        --postgres postgres://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/0
    .venv/bin/python benchmarks/action_throughput.py --profile 500      # CPU, SQL and cProfile of each step
    BENCH_ROWS=0 .venv/bin/python benchmarks/action_throughput.py --profile 500   # without the cProfile lists

With `--postgres` (a server URL; a fresh database `connectors_bench_<random>` is created there and
dropped at the end) and `--redis`, the same runs use DATABASE_URL/REDIS_URL: the scale-out profile.

Columns: enqueue/s, drain/s (actions delivered / time from the first enqueue to the last delivery),
sink/s (deliveries per second between the first and the last delivery), p50/p95/p99
(enqueue-to-delivery, ms), locked (`database is locked` lines in the cluster's log). Then one table of
CPU ms per delivered action of each process (from /proc): this process (the application), the
cluster's processes, every PostgreSQL and Redis process on the machine (other users of those servers
count too), their sum `all`, the sink (left out of `all`: it stands for the remote service), and
`all` and the cluster's share divided by the CPU per POST of benchmarks/baselines.py's bare
keep-alive loop, measured at the start of the same run (CPU figures inflate on a loaded machine; the
ratios much less). Then the cluster's column split by process (django-q2's sentinel, pusher and
monitor, each worker: their pids from the cluster status the sentinel saves in the broker), with the
kernel's share (stime) and the context switches per action, and each worker process split by thread
(OS thread names, which actions.worker and actions.journal set: action pool, journal, poller, and
the main thread that runs django-q2's task loop and our claims). `--profile N` prints, per step,
CPU ms and SQL statements per action.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def _cpu_seconds(pids) -> float:
    """utime + stime (and reaped children's) of live processes, from /proc (Linux)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pids_where(predicate) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if predicate(int(entry.name), int(fields[2]), cmdline):  # pid, process group, command line
            found.append(int(entry.name))
    return found


def _user_system(stat_path: Path) -> tuple[int, int]:
    """utime and stime of one process (all its threads), in clock ticks."""
    try:
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(fields[11]), int(fields[12])


def _ticks(stat_path: Path) -> int:
    """utime + stime of one process or thread (its /proc/.../stat), in clock ticks; 0 once it is gone."""
    try:
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _run_ns(task: Path) -> int:
    """Nanoseconds a thread has run (/proc/<pid>/task/<tid>/schedstat): per-thread tick counts are too
    coarse for hundreds of threads using a few ticks each."""
    try:
        return int((task / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _thread_group(name: str) -> str:
    """A thread's OS name without its pool number: `action_17` -> `action`."""
    return name.rstrip("0123456789").rstrip("_-") or name


def _context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of the live threads of a process so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class ClusterBreakdown:
    """CPU of each process of the cluster by its django-q2 role (from the cluster's status, which the
    sentinel saves in the broker: sentinel, pusher, monitor and worker pids), and of each worker
    process by thread (`/proc/<pid>/task/*`, grouped by OS thread name: actions.worker names its
    threads; the main thread runs django-q2's task loop and our claims)."""

    def __init__(self, cluster_pid: int):
        self.cluster_pid = cluster_pid
        self.roles = self._roles()
        self.started = self._read()

    def _roles(self) -> dict[int, str]:
        from django_q.status import Stat

        roles = {self.cluster_pid: "qcluster (parent)"}
        for _ in range(50):  # the sentinel saves the status every cycle; it lives a few seconds
            for stat in Stat.get_all():
                if stat.pid != self.cluster_pid:
                    continue
                roles[stat.sentinel] = "sentinel"
                roles[stat.pusher] = "pusher"
                roles[stat.monitor] = "monitor"
                for index, pid in enumerate(sorted(stat.workers), 1):
                    roles[pid] = f"worker {index}"
                return roles
            time.sleep(0.1)
        return roles

    def _read(self) -> dict:
        processes = {pid: _ticks(Path(f"/proc/{pid}/stat")) for pid in self.roles}
        switches = {pid: _context_switches(pid) for pid in self.roles}
        system = {pid: _user_system(Path(f"/proc/{pid}/stat"))[1] for pid in self.roles}
        threads: dict = {}
        for pid, role in self.roles.items():
            if not role.startswith("worker"):
                continue
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    name = (task / "comm").read_text().strip()
                except OSError:
                    continue
                group = "main (django-q2 loop)" if task.name == str(pid) else _thread_group(name)
                threads[(pid, int(task.name), group)] = _run_ns(task)
        return {"processes": processes, "threads": threads, "switches": switches, "system": system}

    def used(self, delivered: int) -> dict:
        """CPU ms per delivered action since the start, per role and per worker thread group."""
        now = self._read()
        tick_ms = 1000 / os.sysconf("SC_CLK_TCK") / max(1, delivered)
        processes = {
            self.roles[pid]: (ticks - self.started["processes"].get(pid, 0)) * tick_ms
            for pid, ticks in now["processes"].items()
        }
        threads: dict = {}
        counts: dict = {}
        for (pid, tid, group), ticks in now["threads"].items():
            key = (self.roles[pid], group)
            ran_ns = ticks - self.started["threads"].get((pid, tid, group), 0)
            threads[key] = threads.get(key, 0) + ran_ns / 1e6 / max(1, delivered)
            counts[key] = counts.get(key, 0) + 1
        for role in {role for role, _ in threads}:  # threads ended since, and tick rounding
            gone = processes[role] - sum(ms for (owner, _), ms in threads.items() if owner == role)
            threads[(role, "(process - threads)")] = gone
            counts[(role, "(process - threads)")] = 0
        switches = {
            self.roles[pid]: (count - self.started["switches"].get(pid, 0)) / max(1, delivered)
            for pid, count in now["switches"].items()
        }
        system = {
            self.roles[pid]: (ticks - self.started["system"].get(pid, 0)) * tick_ms
            for pid, ticks in now["system"].items()
        }
        return {
            "processes": processes,
            "threads": threads,
            "thread_counts": counts,
            "switches": switches,
            "system": system,
        }


class CpuMeter:
    """CPU seconds spent by each part of the run: this process (the application calling enqueue()),
    the worker cluster, the sink, PostgreSQL and Redis (every process of theirs on the machine, so
    other users of those servers count too)."""

    def __init__(self, cluster_pid: int, sink_pid: int):
        self.parts = {
            "application": lambda: [os.getpid()],
            "cluster": lambda: _pids_where(lambda pid, group, cmd: group == cluster_pid),
            "sink": lambda: [sink_pid],
            "postgres": lambda: _pids_where(lambda pid, group, cmd: cmd.startswith("postgres")),
            "redis": lambda: _pids_where(lambda pid, group, cmd: "redis-server" in cmd.split(" ", 1)[0]),
        }
        self.started = self.read()

    def read(self) -> dict[str, float]:
        return {name: _cpu_seconds(pids()) for name, pids in self.parts.items()}

    def used(self) -> dict[str, float]:
        now = self.read()
        return {name: max(0.0, now[name] - self.started[name]) for name in now}


def run_one(
    n: int,
    latency_ms: int,
    workers: int,
    enqueue_threads: int,
    workdir: Path,
    rate: float = 0,
    batch: int = 0,
) -> dict:
    from django.db import connection

    from actions.models import ActionRun
    from actions.services import enqueue
    from benchmarks.sink import Sink
    from connectors.models import Connector, Space

    sink = Sink(latency_ms, track_path="id").__enter__()
    space = Space.ensure_default()
    connector = Connector(
        space=space,
        name=f"sink {latency_ms}ms",
        connector_type_id=".webhook",
        config={"url": sink.url + "/", "method": "post", "hasAuth": False},
    )
    connector.set_secrets({})
    connector.save()
    ActionRun.objects.all().delete()
    env = {**os.environ, "CONNECTORS_WORKERS": str(workers)}
    log = (workdir / f"cluster-{latency_ms}.log").open("wb")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # Start the clock once the cluster delivers: one warm-up action per worker process.
    for k in range(workers):
        enqueue(connector.id, {"body": f'{{"id":"warm-up-{k}"}}'})
    sink.wait_for(workers, timeout=120)
    time.sleep(0.5)
    sink.reset()
    enqueued: dict[str, float] = {}
    meter = CpuMeter(cluster.pid, sink.pid)
    breakdown = ClusterBreakdown(cluster.pid)

    def producer(offset: int) -> None:
        try:
            for i in range(offset, n, enqueue_threads):
                if rate:  # paced: action i is due at started + i / rate
                    time.sleep(max(0.0, started + i / rate - time.monotonic()))
                token = f"{latency_ms}-{i}"
                enqueued[token] = time.monotonic()
                enqueue(connector.id, {"body": f'{{"id":"{token}"}}'})
        finally:
            connection.close()

    def batch_producer() -> None:
        """What a rule run does: its runs are written in one transaction, tasks follow the commit."""
        from django.db import transaction

        from actions import queue

        try:
            for first in range(0, n, batch):
                tokens = [f"{latency_ms}-{i}" for i in range(first, min(n, first + batch))]
                now = time.monotonic()
                enqueued.update(dict.fromkeys(tokens, now))
                with transaction.atomic():
                    queue.create_runs(
                        [
                            queue.new_run(
                                connector, {"body": f'{{"id":"{t}"}}'}, space_id="default", source="alert"
                            )
                            for t in tokens
                        ]
                    )
        finally:
            connection.close()

    started = time.monotonic()
    if batch:
        producers = [threading.Thread(target=batch_producer)]
    else:
        producers = [threading.Thread(target=producer, args=(k,)) for k in range(enqueue_threads)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    enqueue_seconds = time.monotonic() - started
    deadline = time.monotonic() + max(120, n * (latency_ms / 1000) + 60)
    while sink.stats()["distinct"] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu = meter.used()
    delivered_now = sink.stats()["distinct"]
    cluster_parts = breakdown.used(delivered_now)
    rss_mb = max(
        (_rss_mb(pid) for pid in _pids_where(lambda pid, group, cmd: group == cluster.pid)), default=0
    )
    arrivals = sink.arrivals()
    stats = sink.stats()
    journal_writes = _journal_writes(_pids_where(lambda pid, group, cmd: group == cluster.pid))
    cluster.send_signal(signal.SIGTERM)
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
    sink.stop()
    connection.close()
    delivered = len(arrivals)
    latencies = [(arrivals[t] - enqueued[t]) * 1000 for t in arrivals if t in enqueued]
    last = max(arrivals.values()) if arrivals else time.monotonic()
    locked = (workdir / f"cluster-{latency_ms}.log").read_text(errors="replace").count("database is locked")
    return {
        "latency_ms": latency_ms,
        "actions": n,
        "delivered": delivered,
        "duplicates": stats["duplicates"],
        "max_in_flight": stats["max_in_flight"],
        "rss_mb": rss_mb,
        "first_ms": (min(arrivals.values()) - started) * 1000 if arrivals else float("nan"),
        "enqueue_per_s": n / enqueue_seconds,
        "drain_per_s": delivered / (last - started) if delivered else 0.0,
        "deliver_per_s": delivered / (last - min(arrivals.values())) if delivered > 1 else 0.0,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": percentile(latencies, 95) if latencies else float("nan"),
        "p99": percentile(latencies, 99) if latencies else float("nan"),
        "locked": locked,
        "entries_per_write": journal_writes,
        "cluster_parts": cluster_parts,
        "cpu_ms": {name: seconds * 1000 / max(1, delivered) for name, seconds in cpu.items()},
    }


def _per_write_text(entries_per_write: float) -> str:
    if math.isnan(entries_per_write):  # the row ended before any worker wrote a heartbeat
        return "events per journal write: no heartbeat yet"
    return f"{entries_per_write:.1f} events per journal write"


def _journal_writes(pids: list[int]) -> float:
    """Entries (events) per journal transaction in the cluster's processes, from their latest
    heartbeats (written every few seconds, so the last seconds of a row may be missing)."""
    from actions.models import WorkerHeartbeat

    writes = entries = 0
    for stats in WorkerHeartbeat.objects.filter(pid__in=pids).values_list("stats", flat=True):
        journal = (stats or {}).get("journal") or {}
        writes += journal.get("writes", 0)
        entries += journal.get("entries_written", 0)
    return entries / writes if writes else float("nan")


def profile_one_process(n: int, workdir: Path) -> None:
    """Where the CPU of one action goes, in this one thread against a 0 ms sink (no cluster runs):
    the application's `enqueue()`; a worker's claims and `execute()` on the batched path (journal
    entries kept in a list); and the journal writing those entries in batches of 100.

    Each step runs twice on N actions of its own: once plain, for its CPU ms per action, then under
    cProfile and with every SQL statement captured, for the profile and statements per action."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from actions import journal, worker
    from actions.models import ActionRun
    from actions.services import enqueue
    from benchmarks.sink import Sink
    from connectors.models import Connector, Space

    entries: list = []
    journal.journal.add = lambda document, outcome=None, health=None: entries.append(
        journal._Entry(document, outcome, health)
    )
    with Sink(0) as sink:
        connector = Connector(
            space=Space.ensure_default(),
            name="profiled sink",
            connector_type_id=".webhook",
            config={"url": sink.url + "/", "method": "post", "hasAuth": False},
        )
        connector.set_secrets({})
        connector.save()
        ActionRun.objects.all().delete()

        def claim_and_execute():
            ids = list(
                ActionRun.objects.filter(status=ActionRun.QUEUED)
                .order_by("pk")
                .values_list("pk", flat=True)[:n]
            )
            for first in range(0, len(ids), 50):
                token, runs = worker.claim_many(ids[first : first + 50])
                connectors = worker._connectors_of(runs)
                for run in runs:
                    worker.run_claimed(
                        run, token, connectors.get((run.space_id, run.connector_id)), batched=True
                    )

        def write_journal():
            written = entries[: 2 * n]  # two events per action
            del entries[: 2 * n]
            for first in range(0, len(written), 100):
                journal.write(written[first : first + 100])

        steps = (
            ("enqueue()", lambda: [enqueue(connector.id, {"body": f"p-{i}"}) for i in range(n)]),
            ("claims + execute (batched path)", claim_and_execute),
            ("journal writes", write_journal),
        )
        summary = []
        for label, work in steps:
            cpu = time.process_time()
            work()
            plain_ms = (time.process_time() - cpu) / n * 1000
            profiler = cProfile.Profile()
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                profiler.runcall(work)
            wall = time.perf_counter() - started
            statements = len(queries.captured_queries)
            summary.append((label, plain_ms, statements / n))
            print(
                f"\n== {label}: {plain_ms:.3f} ms CPU per action (no profiler); "
                f"{statements / n:.2f} SQL statements per action; profiled run: {wall:.2f} s wall"
            )
            rows = int(os.environ.get("BENCH_ROWS", "18"))  # BENCH_ROWS=0: the summary only
            if rows:
                stats = pstats.Stats(profiler)
                stats.sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(rows)
        print(f"delivered to the sink: {sink.stats()['deliveries']} of {2 * n}\n")
        print(f"{'step':<34} {'CPU ms/action':>13} {'SQL statements/action':>22}")
        for label, plain_ms, per_action in summary:
            print(f"{label:<34} {plain_ms:>13.3f} {per_action:>22.2f}")
        print(
            f"{'worker side (claims..journal)':<34} {sum(r[1] for r in summary[1:]):>13.3f} "
            f"{sum(r[2] for r in summary[1:]):>22.2f}"
        )


def main(argv=None) -> tuple[list[dict], float] | None:
    """Run the benchmark as the command line `argv` says; print, and return the rows and the bare loop's
    CPU ms per POST (None with --profile)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1000, help="actions per latency (default 1000)")
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 50, 200])
    parser.add_argument("--workers", type=int, default=2, help="django-q2 worker processes (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=256, help="threads per worker process (default 256)"
    )
    parser.add_argument(
        "--enqueue-threads", type=int, default=4, help="application threads calling enqueue()"
    )
    parser.add_argument(
        "--rate", type=float, default=0, help="enqueue at this many actions/s (default: flat out)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="instead of enqueue() calls, write runs N per transaction as a rule run does (the workers' drain rate)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="instead of the table: cProfile N enqueue() calls, then N runs claimed and executed in this one thread",
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL: bench on a fresh database there")
    parser.add_argument("--redis", help="Redis URL for django-q2's broker (with --postgres)")
    args = parser.parse_args(argv)
    database = None
    if args.postgres:
        database = _create_postgres_database(args.postgres)
        os.environ["DATABASE_URL"] = database
        os.environ["CONNECTORS_CLUSTER_NAME"] = "bench-" + database.rsplit("_", 1)[1]
    if args.redis:
        os.environ["REDIS_URL"] = args.redis
    try:
        return _main(args)
    finally:
        if database:
            _drop_postgres_database(args.postgres, database)
        if args.redis:
            _clear_redis(args.redis, os.environ["CONNECTORS_CLUSTER_NAME"])


def _create_postgres_database(server: str) -> str:
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"connectors_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def _drop_postgres_database(server: str, database: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _clear_redis(url: str, cluster_name: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"django_q:{cluster_name}:*", count=1000))
    if keys:
        client.delete(*keys)


def _main(args) -> tuple[list[dict], float] | None:
    workdir = Path(tempfile.mkdtemp(prefix="connectors-bench-"))
    config = workdir / "kibana.yml"
    config.write_text(
        "connectors.network.allowPrivateAddresses: true\n"
        f"connectors.worker.concurrency: {args.concurrency}\n"
        "xpack.actions.queued.max: 10000000\n"
    )
    os.environ.update(
        {
            "CONNECTORS_VAR_DIR": str(workdir),
            "CONNECTORS_CONFIG": str(config),
            "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    profile = (
        "PostgreSQL + Redis"
        if args.postgres and args.redis
        else "embedded default: SQLite (WAL) + django-q2 ORM broker"
    )
    if args.profile:
        print(
            f"{profile}; --profile: each step on {args.profile} .webhook actions in this one thread, "
            f"0 ms sink; work dir {workdir}"
        )
        profile_one_process(args.profile, workdir)
        return None
    print(
        f"{profile}, {args.workers} worker processes x "
        f"{args.concurrency} threads; {args.actions} .webhook actions per row "
        + (
            f"written {args.batch} per transaction as rule runs do; "
            if args.batch
            else f"from {args.enqueue_threads} enqueue threads "
            f"({'at ' + str(args.rate) + '/s' if args.rate else 'flat out'}); "
        )
        + f"work dir {workdir}"
    )
    floor = bare_loop_floor()
    print(
        f"{'latency':>8} {'delivered':>10} {'enqueue/s':>10} {'drain/s':>9} {'sink/s':>8} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'locked':>7}"
    )
    rows = []
    for latency in args.latency_ms:
        r = run_one(args.actions, latency, args.workers, args.enqueue_threads, workdir, args.rate, args.batch)
        rows.append(r)
        print(
            f"{r['latency_ms']:>6}ms {r['delivered']:>6}/{r['actions']:<4}{r['enqueue_per_s']:>9.0f} "
            f"{r['drain_per_s']:>9.0f} {r['deliver_per_s']:>8.0f} {r['p50']:>9.0f} {r['p95']:>9.0f} {r['p99']:>9.0f} {r['locked']:>7}"
            f"  max in flight: {r['max_in_flight']}, first delivery after {r['first_ms']:.0f} ms,"
            f" largest cluster process {r['rss_mb']:.0f} MB, {_per_write_text(r['entries_per_write'])}"
            + (f"  duplicates: {r['duplicates']}" if r["duplicates"] else ""),
            flush=True,
        )
    print_cpu_table(rows, floor)
    return rows, floor


PARTS = ("application", "cluster", "postgres", "redis")


def cpu_all(row: dict) -> float:
    """CPU ms per delivered action of every part but the sink (it stands for the remote service)."""
    return sum(row["cpu_ms"][part] for part in PARTS)


def bare_loop_floor(count: int = 2000, max_seconds: float = 10.0) -> float:
    """CPU ms per POST of benchmarks/baselines.py's bare keep-alive loop (one thread, one
    `requests.Session`) against a 0 ms sink, measured now: the floor the table's ratios divide by."""
    from benchmarks.baselines import bare_loop
    from benchmarks.sink import Sink

    with Sink(0) as sink:
        _, _, notes = bare_loop(sink, count, max_seconds)
    return notes["client_cpu_ms_per_post"]


def print_cpu_table(rows: list[dict], floor: float) -> None:
    """CPU ms per delivered action of each process, their sum (the sink left out: it stands for the
    remote service), and that sum and the cluster's share as multiples of the bare loop's CPU."""
    print(
        f"\nCPU ms per delivered action (from /proc; the bare keep-alive loop of benchmarks/baselines.py,"
        f" measured in this run: {floor:.3f} ms per POST)"
    )
    header = (
        f"{'latency':>8} {'application':>12} {'cluster':>8} {'postgres':>9} {'redis':>6} {'all':>6}"
        f" {'sink':>6} {'all / bare':>11} {'cluster / bare':>15}"
    )
    print(header)
    for r in rows:
        cpu = r["cpu_ms"]
        total = cpu_all(r)
        print(
            f"{r['latency_ms']:>6}ms {cpu['application']:>12.2f} {cpu['cluster']:>8.2f} {cpu['postgres']:>9.2f}"
            f" {cpu['redis']:>6.2f} {total:>6.2f} {cpu['sink']:>6.2f} {total / floor:>10.1f}x"
            f" {cpu['cluster'] / floor:>14.1f}x",
            flush=True,
        )
    print_cluster_breakdown(rows)


def print_cluster_breakdown(rows: list[dict]) -> None:
    """The cluster's column split by process (django-q2 role) and, in worker processes, by thread."""
    print("\nCluster CPU ms per delivered action, by process (from /proc/<pid>/stat)")
    roles = list(dict.fromkeys(role for r in rows for role in r["cluster_parts"]["processes"]))
    print(f"{'latency':>8} " + " ".join(f"{role:>{max(8, len(role))}}" for role in roles))
    tables = [
        (None, "processes", ".3f"),
        ("of which in the kernel (stime)", "system", ".3f"),
        (
            "context switches per delivered action (live threads, /proc/<pid>/task/*/status)",
            "switches",
            ".1f",
        ),
    ]
    for title, key, number in tables:
        if title:
            print(title)
        for r in rows:
            values = r["cluster_parts"][key]
            print(
                f"{r['latency_ms']:>6}ms "
                + " ".join(f"{values.get(role, 0):>{max(8, len(role))}{number}}" for role in roles)
            )
    print("\nWorker processes' CPU ms per delivered action, by thread (from /proc/<pid>/task/*/schedstat)")
    print(f"{'latency':>8} {'process':>9} {'thread (OS name)':<22} {'threads':>7} {'CPU ms/action':>13}")
    for r in rows:
        threads, counts = r["cluster_parts"]["threads"], r["cluster_parts"]["thread_counts"]
        for (role, group), ms in sorted(threads.items(), key=lambda item: (item[0][0], -item[1])):
            print(f"{r['latency_ms']:>6}ms {role:>9} {group:<22} {counts[(role, group)]:>7} {ms:>13.3f}")


if __name__ == "__main__":
    main()
