"""Peers and floors for action delivery, side by side, to one local sink (benchmarks/sink.py):

1. bare loop: one thread POSTing in a loop with a keep-alive `requests.Session` (the floor);
2. threads: 64 threads, each with its own keep-alive session;
3. Alertmanager: Prometheus Alertmanager (Debian's `prometheus-alertmanager`) started on 127.0.0.1
   with a temporary config and data directory, one webhook receiver pointing at the sink, and
   `group_by: ['...']` with `group_wait: 0s`, so every alert is its own notification; alerts are
   posted to its v2 API in batches and deliveries counted at the sink.

Each run is bounded by a count and a time limit; throughput is deliveries / elapsed seconds, from
the first request to the last delivery the sink saw. Everything listens on loopback only.

    .venv/bin/python -m benchmarks.baselines                       # 0, 50, 200 ms; 3,000 each
    .venv/bin/python -m benchmarks.baselines --count 5000 --latencies 0,200 --max-seconds 20
    .venv/bin/python -m benchmarks.baselines --django-q2 orm:2,redis:8   # plus stock django-q2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from benchmarks.sink import Sink

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


@dataclass
class Result:
    name: str
    latency_ms: float
    delivered: int
    elapsed: float
    notes: dict = field(default_factory=dict)
    key: str = ""  # bare, threads, alertmanager or django-q2

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed if self.elapsed > 0 else 0.0


def _payload(i: int) -> dict:
    return {"id": i, "message": f"benchmark delivery {i}", "severity": "info"}


def bare_loop(sink: Sink, count: int, max_seconds: float) -> tuple[int, float, dict]:
    session = requests.Session()
    url = sink.url + "/bare"
    started = time.monotonic()
    cpu = time.process_time()
    deadline = started + max_seconds
    sent = 0
    while sent < count and time.monotonic() < deadline:
        response = session.post(url, json=_payload(sent), timeout=30)
        response.raise_for_status()
        sent += 1
    elapsed = time.monotonic() - started
    cpu_ms = (time.process_time() - cpu) * 1000.0 / max(sent, 1)
    return sent, elapsed, {"client_cpu_ms_per_post": round(cpu_ms, 3)}


def threaded(sink: Sink, count: int, max_seconds: float, threads: int) -> tuple[int, float, dict]:
    url = sink.url + "/threads"
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": 0}
    started = time.monotonic()
    deadline = started + max_seconds

    def work():
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if state["next"] >= count:
                    return
                i = state["next"]
                state["next"] += 1
            try:
                session.post(url, json=_payload(i), timeout=30).raise_for_status()
            except requests.RequestException:
                with lock:
                    state["errors"] += 1
                continue
            with lock:
                state["done"] += 1

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max_seconds + 30)
    return state["done"], time.monotonic() - started, {"threads": threads, "errors": state["errors"]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_kib(pid: int, field_name: str = "VmHWM") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Alertmanager:
    """Prometheus Alertmanager on 127.0.0.1 with a webhook receiver pointing at `webhook_url`."""

    def __init__(self, webhook_url: str):
        self.webhook_url = webhook_url
        self.directory = tempfile.mkdtemp(prefix="connectors-bench-am-")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self) -> Alertmanager:
        config = {
            "route": {
                "receiver": "sink",
                "group_by": ["..."],  # group by every label: each alert is its own group
                "group_wait": "0s",
                "group_interval": "1h",
                "repeat_interval": "1000h",
            },
            "receivers": [
                {"name": "sink", "webhook_configs": [{"url": self.webhook_url, "send_resolved": False}]}
            ],
        }
        config_path = os.path.join(self.directory, "alertmanager.yml")
        with open(config_path, "w") as handle:
            json.dump(config, handle)  # JSON is YAML
        self.log = open(os.path.join(self.directory, "alertmanager.log"), "w")
        self.process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config_path}",
                f"--storage.path={os.path.join(self.directory, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no gossip cluster: a single local instance
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"alertmanager exited; see {self.log.name}")
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("alertmanager did not become ready in 15 s")

    def __exit__(self, *exc_info):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def alertmanager(sink: Sink, count: int, max_seconds: float, batch: int) -> tuple[int, float, dict]:
    with Alertmanager(sink.url + "/alertmanager") as manager:
        sink.reset()
        session = requests.Session()
        now = datetime.now(UTC)
        ends = (now + timedelta(hours=1)).isoformat()
        starts = now.isoformat()
        started = time.monotonic()
        for first in range(0, count, batch):
            alerts = [
                {
                    "labels": {"alertname": "ConnectorsBenchmark", "id": str(i)},
                    "annotations": {"summary": f"benchmark delivery {i}"},
                    "startsAt": starts,
                    "endsAt": ends,
                }
                for i in range(first, min(count, first + batch))
            ]
            session.post(manager.url + "/api/v2/alerts", json=alerts, timeout=30).raise_for_status()
        posted = time.monotonic() - started
        stats = sink.wait_for(count, timeout=max(1.0, max_seconds - posted))
        last = stats["last_at"] or time.monotonic()
        elapsed = max(last - started, 1e-9)
        notes = {
            "post_seconds": round(posted, 2),
            "distinct_alerts": stats["distinct"],
            "duplicates": stats["duplicates"],
            "max_in_flight_at_sink": stats["max_in_flight"],
            "alertmanager_peak_rss_mib": round((_rss_kib(manager.process.pid) or 0) / 1024, 1),
        }
        return stats["deliveries"], elapsed, notes


def run(
    count: int,
    latencies: list[float],
    max_seconds: float,
    threads: int,
    batch: int,
    skip: set[str],
    django_q2: list[tuple[str, int]] = (),
    redis_url: str | None = None,
) -> list[Result]:
    from benchmarks import django_q_plain

    results: list[Result] = []
    with Sink(track_path="alerts.0.labels.id") as sink:
        for latency in latencies:
            runs = [
                ("bare loop (1 thread, keep-alive)", lambda: bare_loop(sink, count, max_seconds)),
                (f"{threads} threads (keep-alive)", lambda: threaded(sink, count, max_seconds, threads)),
                ("Alertmanager 0.25 webhook", lambda: alertmanager(sink, count, max_seconds, batch)),
            ]
            keys = ["bare", "threads", "alertmanager"]
            for broker, workers in django_q2:
                runs.append(
                    (
                        f"django-q2 {broker}, {workers} workers",
                        lambda broker=broker, workers=workers: django_q_plain.run(
                            sink, count, max_seconds, broker, workers, redis_url
                        ),
                    )
                )
                keys.append("django-q2")
            for (name, job), key in zip(runs, keys, strict=True):
                if key in skip:
                    continue
                sink.reset(latency_ms=latency)
                delivered, elapsed, notes = job()
                result = Result(name, latency, delivered, elapsed, notes, key)
                results.append(result)
                print(
                    f"  {latency:>5.0f} ms  {name:<34} {delivered:>6} in {elapsed:6.2f} s = "
                    f"{result.rate:8.1f}/s  {json.dumps(notes)}",
                    flush=True,
                )
    return results


def report(results: list[Result]) -> None:
    print("\nthroughput (deliveries/s) and ratio to the bare loop at the same latency")
    by_latency: dict[float, list[Result]] = {}
    for result in results:
        by_latency.setdefault(result.latency_ms, []).append(result)
    for latency, group in by_latency.items():
        floor = next((r.rate for r in group if r.name.startswith("bare")), None)
        cells = []
        for result in group:
            ratio = f" (x{result.rate / floor:.1f})" if floor else ""
            cells.append(f"{result.name.split(' (')[0]}: {result.rate:.0f}/s{ratio}")
        print(f"  {latency:>5.0f} ms: " + "; ".join(cells))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Delivery baselines: bare loop, threads, Alertmanager.")
    parser.add_argument("--count", type=int, default=3000, help="deliveries per run (default 3000)")
    parser.add_argument("--latencies", default="0,50,200", help="sink latencies in ms (default 0,50,200)")
    parser.add_argument("--max-seconds", type=float, default=15.0, help="time limit per run (default 15)")
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--batch", type=int, default=500, help="alerts per Alertmanager API call")
    parser.add_argument("--skip", default="", help="comma-separated: bare, threads, alertmanager")
    parser.add_argument(
        "--django-q2",
        default="",
        help="also plain django-q2, one POST per task: comma-separated broker:workers, e.g. orm:2,redis:8",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("CONNECTORS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for --django-q2 redis:N",
    )
    args = parser.parse_args(argv)
    django_q2 = []
    for item in filter(None, (x.strip() for x in args.django_q2.split(","))):
        broker, _, workers = item.partition(":")
        if broker not in ("orm", "redis") or not workers.isdigit():
            parser.error(f"--django-q2 takes broker:workers with broker orm or redis, got {item!r}")
        django_q2.append((broker, int(workers)))
    latencies = [float(x) for x in args.latencies.split(",") if x.strip()]
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    print(
        f"baselines: {args.count} deliveries per run (at most {args.max_seconds:.0f} s), "
        f"sink latencies {latencies} ms, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (other processes share this machine)"
    )
    report(
        run(args.count, latencies, args.max_seconds, args.threads, args.batch, skip, django_q2, args.redis)
    )


if __name__ == "__main__":
    main()
