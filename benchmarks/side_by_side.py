"""Issue 21's goals as ratios measured in one run: the peers of benchmarks/baselines.py, our workers
(benchmarks/action_throughput.py) and the REST path (benchmarks/rest_enqueue.py), in one table.

Rows: the bare keep-alive loop (1 thread), 64 threads, Alertmanager; ours on PostgreSQL + Redis with
`enqueue()` from 4 threads and with rule-run batches of 100 (with `--postgres` and `--redis`); ours
embedded with `enqueue()` from 4 threads; ours embedded with one `POST …/_enqueue` per action (Basic
auth, 8 client threads, `make run`'s server; 0 ms sink only) and, with `--bulk N`, `_bulk_enqueue`
with N actions per request. Columns, per sink latency: deliveries/s, the ratio to the bare loop and to
Alertmanager at the same latency, and CPU ms per delivered action where the script measures it.

Each part is the script's own runner, called with its own flags: the baselines in this process, each
of ours in a fresh (spawned) process, since each sets up Django on a database of its own. Every server
listens on 127.0.0.1; every part is bounded by a count and a time limit and stops by itself. Each
script's own output comes first (the detail), then the table.

    .venv/bin/python -m benchmarks.side_by_side --count 3000 --latencies 0,200 --max-seconds 20 \\
        --postgres postgres://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/0 --bulk 100
    .venv/bin/python -m benchmarks.side_by_side --skip embedded,rest     # peers and PostgreSQL rows only
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARTS = ("bare", "threads", "alertmanager", "pg-enqueue", "pg-batch", "embedded", "rest", "bulk")

# The goals of issue 21, as thresholds on the figures of one run.
REST_OVER_BARE = 0.5
BULK_OVER_DRAIN = 0.9
CPU_MS_PG = 1.7
BATCHED_AT_200 = 1000.0
BATCHED_OVER_ALERTMANAGER = 0.2


@dataclass
class Row:
    key: str
    method: str
    rate: dict[int, float] = field(default_factory=dict)  # sink latency (ms) -> deliveries/s
    cpu_ms: dict[int, float] = field(default_factory=dict)  # sink latency (ms) -> CPU ms per delivery
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # figures the goals need (REST's own floor, bulk's drain)


def ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or not floor:
        return None
    return value / floor


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _times(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if value < 10 else f"{value:,.0f}x"


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


LEGEND = (
    "deliv/s: deliveries / seconds from the first request (ours: the first enqueue) to the last delivery.",
    "CPU ms per delivered action (from /proc or the process clock): bare loop: its client per POST; ours:",
    "application + cluster + PostgreSQL + Redis processes; REST: web processes + cluster. The sink (it",
    "stands for the remote service) and the HTTP clients are left out. -: not measured.",
)


def _find(rows: list[Row], key: str) -> Row | None:
    return next((row for row in rows if row.key == key), None)


def table(rows: list[Row], latencies: list[int]) -> list[str]:
    """The rows as printed: per latency deliveries/s, the ratio to the bare loop and to Alertmanager
    (both at that latency, in this run), and CPU ms per delivered action; then each row's notes."""
    bare, manager = _find(rows, "bare"), _find(rows, "alertmanager")
    width = max([len("method")] + [len(row.method) for row in rows])
    cell = f"{'deliv/s':>8} {'x bare':>7} {'x AM':>6} {'CPU ms':>6}"
    lines = [
        f"{'':<{width}} " + " | ".join(f"{f'sink {latency} ms':^{len(cell)}}" for latency in latencies),
        f"{'method':<{width}} " + " | ".join(cell for _ in latencies),
    ]
    for row in rows:
        cells = []
        for latency in latencies:
            rate = row.rate.get(latency)
            over_bare = ratio(rate, bare.rate.get(latency) if bare else None)
            over_manager = ratio(rate, manager.rate.get(latency) if manager else None)
            cells.append(
                f"{_rate(rate):>8} {_times(over_bare):>7} {_times(over_manager):>6} "
                f"{_cpu(row.cpu_ms.get(latency)):>6}"
            )
        lines.append(f"{row.method:<{width}} " + " | ".join(cells))
    lines += ["", *LEGEND]
    for row in (row for row in rows if row.notes):
        lines.append(f"{row.method}: " + "; ".join(row.notes))
    return lines


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "NOT met")


def goals(rows: list[Row], latencies: list[int]) -> list[str]:
    """Issue 21's goals checked against the figures of this run (None: a row the goal needs is missing)."""
    bare, manager = _find(rows, "bare"), _find(rows, "alertmanager")
    rest, bulk = _find(rows, "rest"), _find(rows, "bulk")
    batched = _find(rows, "pg-batch")
    lines = []

    value = ratio(rest.rate.get(0) if rest else None, bare.rate.get(0) if bare else None)
    own = rest.extra.get("own_ratio") if rest else None
    lines.append(
        f"1. REST `_enqueue` >= {REST_OVER_BARE}x the bare loop (0 ms): "
        + ("-" if value is None else f"{value:.3f}x the bare loop above")
        + ("" if own is None else f", {own:.3f}x its own bare loop measured around it")
        + f" -> {_verdict(None if value is None else value >= REST_OVER_BARE)}"
    )

    value = bulk.extra.get("drain_ratio") if bulk else None
    lines.append(
        f"2. `_bulk_enqueue` within 10 % of the batched drain (>= {BULK_OVER_DRAIN}x): "
        + ("-" if value is None else f"{value:.3f}x the drain around it")
        + f" -> {_verdict(None if value is None else value >= BULK_OVER_DRAIN)}"
    )

    figures = []
    for key in ("pg-enqueue", "pg-batch"):
        row = _find(rows, key)
        values = [row.cpu_ms[latency] for latency in latencies if row and latency in row.cpu_ms]
        if values:
            figures.append(
                f"{row.method.rsplit(', ', 1)[-1]} "
                + "/".join(f"{v:.2f}" for v in values)
                + f" ms {_verdict(max(values) <= CPU_MS_PG)}"
            )
    lines.append(
        f"3a. <= {CPU_MS_PG} ms CPU per delivered action on PostgreSQL + Redis "
        f"({'/'.join(f'{latency} ms' for latency in latencies)}): "
        + ("; ".join(figures) or f"- -> {_verdict(None)}")
    )

    value = batched.rate.get(200) if batched else None
    lines.append(
        f"3b. batched >= {BATCHED_AT_200:,.0f}/s at 200 ms: "
        + ("-" if value is None else f"{value:,.0f}/s")
        + f" -> {_verdict(None if value is None else value >= BATCHED_AT_200)}"
    )

    values = {
        latency: ratio(
            batched.rate.get(latency) if batched else None, manager.rate.get(latency) if manager else None
        )
        for latency in latencies
    }
    measured = {latency: v for latency, v in values.items() if v is not None}
    lines.append(
        f"3c. batched >= {BATCHED_OVER_ALERTMANAGER}x Alertmanager: "
        + (", ".join(f"{v:.3f}x at {latency} ms" for latency, v in measured.items()) or "-")
        + f" -> {_verdict(min(measured.values()) >= BATCHED_OVER_ALERTMANAGER if measured else None)}"
    )
    return lines


# ---- the parts: each script's runner ------------------------------------------------------------------


def _in_child(function, *args):
    """`function(*args)` in a fresh spawned process: each of our benchmarks sets up Django (settings,
    database) for itself, once per process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def ours(argv: list[str]) -> list[dict]:
    """benchmarks/action_throughput.py with these flags (in a child process): per latency, the figures
    the table shows."""
    from benchmarks import action_throughput

    rows, _floor = action_throughput.main(argv)
    return [
        {
            "latency_ms": r["latency_ms"],
            "actions": r["actions"],
            "delivered": r["delivered"],
            "drain_per_s": r["drain_per_s"],
            "cpu_all": action_throughput.cpu_all(r),
        }
        for r in rows
    ]


def rest(argv: list[str]) -> dict:
    """benchmarks/rest_enqueue.py with these flags (in a child process)."""
    from benchmarks import rest_enqueue

    return rest_enqueue.main(argv)


def baseline_rows(results, count: int) -> list[Row]:
    """benchmarks/baselines.py's results as rows (bare loop, threads, Alertmanager)."""
    rows: dict[str, Row] = {}
    labels = {"bare": "bare keep-alive loop (1 thread)", "alertmanager": "Alertmanager 0.25 webhook"}
    for result in results:
        row = rows.setdefault(result.key, Row(result.key, labels.get(result.key, result.name.split(" (")[0])))
        latency = int(result.latency_ms)
        row.rate[latency] = result.rate
        if "client_cpu_ms_per_post" in result.notes:
            row.cpu_ms[latency] = result.notes["client_cpu_ms_per_post"]
        if result.delivered < count:
            row.notes.append(f"{result.delivered}/{count} in the time limit at {latency} ms")
    return list(rows.values())


def ours_row(key: str, method: str, figures: list[dict]) -> Row:
    row = Row(key, method)
    for figure in figures:
        latency = int(figure["latency_ms"])
        row.rate[latency] = figure["drain_per_s"]
        row.cpu_ms[latency] = figure["cpu_all"]
        if figure["delivered"] < figure["actions"]:
            row.notes.append(f"delivered {figure['delivered']}/{figure['actions']} at {latency} ms")
    return row


def rest_rows(results: dict, threads: int, bulk: int) -> list[Row]:
    rows = []
    for r in results["rows"]:
        row = Row("rest", f"ours, embedded, POST .../_enqueue, {threads} clients ({r['auth']})")
        row.rate[0] = r["delivered_per_s"]
        row.cpu_ms[0] = r["web_ms"] + r["cluster_ms"]
        row.extra["own_ratio"] = r["ratio"]
        row.notes.append(
            f"{r['accepted_per_s']:,.0f} accepted/s, delivered {r['delivered']}/{r['accepted']}; "
            f"{r['ratio']:.2f}x its own bare loop ({r['bare_before']:,.0f}/s before, "
            f"{r['bare_after']:,.0f}/s after); CPU: web {r['web_ms']:.2f} + cluster {r['cluster_ms']:.2f} "
            f"(clients {r['client_ms']:.2f})"
        )
        rows.append(row)
    r = results.get("bulk")
    if r:
        row = Row("bulk", f"ours, embedded, POST _bulk_enqueue of {bulk} ({r['auth']})")
        row.rate[0] = r["delivered_per_s"]
        row.cpu_ms[0] = r["web_ms"] + r["cluster_ms"]
        row.extra["drain_ratio"] = r["ratio"]
        before, after = r["drain_before"]["delivered_per_s"], r["drain_after"]["delivered_per_s"]
        row.notes.append(
            f"delivered {r['delivered']}/{r['accepted']}; {r['ratio']:.2f}x the batched drain of the same "
            f"stack ({before:,.0f}/s before, {after:,.0f}/s after); CPU: web {r['web_ms']:.2f} per action "
            f"+ cluster {r['cluster_ms']:.2f}"
        )
        rows.append(row)
    return rows


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=3000, help="deliveries per row and latency (default 3000)"
    )
    parser.add_argument("--latencies", default="0,200", help="sink latencies in ms (default 0,200)")
    parser.add_argument(
        "--max-seconds", type=float, default=20.0, help="time limit per timed phase (default 20)"
    )
    parser.add_argument("--workers", type=int, default=2, help="our worker processes (default 2)")
    parser.add_argument("--postgres", help="PostgreSQL server URL for the PostgreSQL + Redis rows")
    parser.add_argument("--redis", help="Redis URL for the PostgreSQL + Redis rows")
    parser.add_argument("--batch", type=int, default=100, help="runs per transaction in the batched row")
    parser.add_argument("--rest-threads", type=int, default=8, help="client threads of the REST rows")
    parser.add_argument("--bulk", type=int, default=0, help="also `_bulk_enqueue` with N actions per request")
    parser.add_argument("--skip", default="", help=f"comma-separated, of: {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    latencies = [int(x) for x in args.latencies.split(",") if x.strip()]
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    if skip - set(PARTS):
        parser.error(f"--skip takes {', '.join(PARTS)}")
    if bool(args.postgres) != bool(args.redis):
        parser.error("--postgres and --redis go together")
    if not args.postgres:
        skip |= {"pg-enqueue", "pg-batch"}
    command = "python -m benchmarks.side_by_side " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = datetime.now(UTC)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {_load()} (at the start); {command}",
        flush=True,
    )

    from benchmarks import baselines

    rows: list[Row] = []

    def part(name: str, job) -> None:
        print(f"\n== {name}  ({datetime.now(UTC):%H:%M:%S} UTC, {_load()})", flush=True)
        try:
            rows.extend(job())
        except Exception:  # a part that fails leaves its row out; the others still print
            traceback.print_exc()
            print(f"== {name}: failed, left out of the table", flush=True)

    peers = {"bare", "threads", "alertmanager"} - skip
    if peers:
        part(
            "benchmarks/baselines.py",
            lambda: baseline_rows(
                baselines.run(
                    args.count,
                    [float(latency) for latency in latencies],
                    args.max_seconds,
                    64,
                    500,
                    {"bare", "threads", "alertmanager"} - peers,
                ),
                args.count,
            ),
        )
    ours_flags = [
        "--actions",
        str(args.count),
        "--latency-ms",
        *map(str, latencies),
        "--workers",
        str(args.workers),
    ]
    pg = ["--postgres", args.postgres or "", "--redis", args.redis or ""]
    for key, method, flags in (
        ("pg-enqueue", "ours, PostgreSQL + Redis, enqueue() from 4 threads", pg),
        (
            "pg-batch",
            f"ours, PostgreSQL + Redis, rule-run batches of {args.batch}",
            [*pg, "--batch", str(args.batch)],
        ),
        ("embedded", "ours, embedded, enqueue() from 4 threads", []),
    ):
        if key not in skip:
            argv_of = [*ours_flags, *flags]
            part(
                f"benchmarks/action_throughput.py {shlex.join(argv_of)}",
                lambda key=key, method=method, argv_of=argv_of: [
                    ours_row(key, method, _in_child(ours, argv_of))
                ],
            )
    if "rest" not in skip or ("bulk" not in skip and args.bulk):
        rest_argv = [
            "--auth",
            "basic",
            "--count",
            str(args.count),
            "--bare-count",
            str(args.count),
            "--threads",
            str(args.rest_threads),
            "--max-seconds",
            str(args.max_seconds),
        ]
        if args.bulk and "bulk" not in skip:
            rest_argv += ["--bulk", str(args.bulk)] + (["--bulk-only"] if "rest" in skip else [])
        part(
            f"benchmarks/rest_enqueue.py {shlex.join(rest_argv)}",
            lambda: rest_rows(_in_child(rest, rest_argv), args.rest_threads, args.bulk),
        )

    finished = datetime.now(UTC)
    print(
        f"\n== side by side: {started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{_load()} (at the end); {command}"
    )
    print(
        f"{args.count} deliveries per row and latency, one local sink; ratios to the bare loop and to "
        "Alertmanager at the same latency, in this run; CPU ms per delivered action; REST rows at 0 ms only"
    )
    for line in table(rows, latencies):
        print(line)
    print("\ngoals of issue 21:")
    for line in goals(rows, latencies):
        print(line)


if __name__ == "__main__":
    main()
