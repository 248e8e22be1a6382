"""What writing the event log costs a connector run.

Runs `actions.services.execute` N times with the event log on, then with `record()` replaced by a
no-op, for `.server-log` (no I/O: the worst case for relative overhead) and `.webhook` against a
local HTTP server, and prints per-run times. Scratch SQLite database in WAL mode, as in production.

    .venv/bin/python benchmarks/eventlog_write.py [--runs 2000] [--without-search-index]

--without-search-index drops the message-search index's triggers (SQLite's FTS5 table, migration
eventlog/0003) in the scratch database first, to measure what that index costs each write.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django


def timed(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"mean {statistics.mean(samples):.3f} ms  p50 {statistics.median(samples):.3f} ms  p95 {p95:.3f} ms"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--without-search-index", action="store_true")
    args = parser.parse_args()
    _django.setup("eventlog-write")
    if args.without_search_index:
        from importlib import import_module

        from django.db import connection

        search_index = import_module("eventlog.migrations.0003_message_search_index")
        with connection.cursor() as cursor:
            for statement in search_index.SQLITE_DOWN:
                cursor.execute(statement)
        print("message-search index dropped: writes without its triggers")

    from django.conf import settings
    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    import actions.services as executor
    from connectors.models import Connector, Space
    from connectors.settings_file import parse_config_dict
    from eventlog.models import Event
    from eventlog.services import record

    settings.KIBANA_CONFIG = parse_config_dict({"connectors.network.allowPrivateAddresses": True})
    import logging

    logging.getLogger("connectors").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    space = Space.ensure_default()
    log = Connector(space=space, name="bench log", connector_type_id=".server-log", config={})
    log.set_secrets({})
    log.save()
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/hook").respond_with_data("ok")

    def remote_like(request):  # a service 20 ms away, the order of a fast real API
        time.sleep(0.02)
        return Response("ok")

    server.expect_request("/remote").respond_with_handler(remote_like)
    server.start()
    hook = Connector(
        space=space,
        name="bench hook",
        connector_type_id=".webhook",
        config={"url": server.url_for("/hook"), "method": "post", "hasAuth": False},
    )
    hook.set_secrets({})
    hook.save()
    remote = Connector(
        space=space,
        name="bench remote",
        connector_type_id=".webhook",
        config={"url": server.url_for("/remote"), "method": "post", "hasAuth": False},
    )
    remote.set_secrets({})
    remote.save()

    def noop(document):
        return None

    print(f"event log write cost, {args.runs} runs each (scratch SQLite, WAL)")
    results = {}
    for label, connector, params, runs in (
        (".server-log", log, {"message": "bench", "level": "info"}, args.runs),
        (".webhook (local HTTP)", hook, {"body": "bench"}, max(200, args.runs // 4)),
        (".webhook (20 ms service)", remote, {"body": "bench"}, 200),
    ):
        for _ in range(20):  # warm up
            executor.execute(connector, params)
        with_log, without_log = [], []
        for _ in range(runs):  # interleaved, so drift in machine load hits both alike
            for writer, samples in ((record, with_log), (noop, without_log)):
                executor.record = writer
                start = time.perf_counter()
                executor.execute(connector, params)
                samples.append((time.perf_counter() - start) * 1000)
        executor.record = record
        overhead = statistics.median(with_log) - statistics.median(without_log)
        results[label] = overhead
        print(f"{label:24} with event log:    {summary(with_log)}")
        print(f"{'':24} without event log: {summary(without_log)}")
        print(
            f"{'':24} overhead per run (2 events): {overhead:.3f} ms "
            f"({overhead / statistics.median(without_log) * 100:.0f} % of the run's median)"
        )
    one = timed(
        lambda: record(
            {
                "event": {"action": "execute", "outcome": "success", "duration": "1000"},
                "message": "x",
                "kibana": {
                    "space_ids": ["default"],
                    "action": {
                        "id": "c",
                        "type_id": ".server-log",
                        "execution": {"uuid": "u", "source": "http_request"},
                    },
                },
            }
        ),
        args.runs,
    )
    print(f"record() alone:          {summary(one)}")
    print(f"events written: {Event.objects.count()}")
    server.stop()


if __name__ == "__main__":
    main()
