"""Execution-log, KPI, health and /metrics query time over a large event log (default 1,000,000 events).

Fills a scratch SQLite database with `execute-start` + `execute` pairs (500,000 runs over 90 days, 200
connectors of 5 types in 3 spaces, 10 % failures, half with a schedule delay) in bulk, then times each
query the API serves (median of --repeat runs, after one warm-up).

    .venv/bin/python benchmarks/eventlog_query.py [--events 1000000] [--repeat 5] [--keep DIR] [--purge]

--keep DIR reuses (or creates and keeps) the database in DIR, so a second run skips the fill.
"""

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

TYPES = [".webhook", ".server-log", ".email", ".slack", ".pagerduty"]
SPACES = ["default", "marketing", "ops"]
ERRORS = [
    "error calling webhook, retry later: [503] Service Unavailable; retry: true",
    "error posting slack message: invalid_auth",
    "error validating action params: [message]: expected value of type [string] but got [undefined]",
]


def iso(moment):
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fill(total_events: int, batch: int = 20000) -> float:
    from django.db import connection, transaction

    from eventlog.services import KIBANA_VERSION, server_uuid

    rng = random.Random(7)
    connectors = [
        (f"c-{i:04d}", TYPES[i % len(TYPES)], SPACES[i % len(SPACES)], f"Connector {i}") for i in range(200)
    ]
    now = datetime.now(UTC)
    span = 90 * 86400
    server = server_uuid()
    columns = (
        "timestamp, provider, action, outcome, space_id, connector_id, connector_type_id, execution_uuid, "
        "source, rule_id, duration_ns, schedule_delay_ns, attempt, message, error_message, document"
    )
    sql = f"INSERT INTO eventlog_event ({columns}) VALUES ({', '.join(['%s'] * 16)})"
    started = time.perf_counter()
    rows = []
    with connection.cursor() as cursor:
        for _ in range(total_events // 2):
            cid, type_id, space, name = rng.choice(connectors)
            start = now - timedelta(seconds=rng.random() * span)
            duration_ns = int(rng.lognormvariate(4, 1.2) * 1e6)
            end = start + timedelta(microseconds=duration_ns // 1000)
            run_id = str(uuid.UUID(int=rng.getrandbits(128)))
            failed = rng.random() < 0.1
            delay = int(rng.random() * 3e9) if rng.random() < 0.5 else None
            source = "alert" if delay is not None else "http_request"
            label = f"{type_id}:{cid}: {name}"
            saved = {"rel": "primary", "type": "action", "id": cid, "type_id": type_id}
            if space != "default":
                saved["namespace"] = space
            kibana = {
                "saved_objects": [saved],
                "space_ids": [space],
                "action": {
                    "name": name,
                    "id": cid,
                    "type_id": type_id,
                    "execution": {"uuid": run_id, "source": source},
                },
                "server_uuid": server,
                "version": KIBANA_VERSION,
            }
            if delay is not None:
                kibana["task"] = {"scheduled": iso(start), "schedule_delay": delay}
            base_event = {
                "action": "execute-start",
                "kind": "action",
                "start": iso(start),
                "provider": "actions",
            }
            start_doc = {
                "@timestamp": iso(start),
                "ecs": {"version": "1.8.0"},
                "event": base_event,
                "kibana": kibana,
                "message": f"action started: {label}",
            }
            rows.append(
                (
                    start,
                    "actions",
                    "execute-start",
                    "",
                    space,
                    cid,
                    type_id,
                    run_id,
                    source,
                    "",
                    None,
                    delay,
                    None,
                    start_doc["message"],
                    "",
                    json.dumps(start_doc),
                )
            )
            done_kibana = json.loads(json.dumps(kibana))
            done_kibana["action"]["execution"].update({"attempt": 1, "max_attempts": 3, "final": not failed})
            outcome = "failure" if failed else "success"
            done_doc = {
                "@timestamp": iso(end),
                "ecs": {"version": "1.8.0"},
                "event": {
                    **base_event,
                    "action": "execute",
                    "end": iso(end),
                    "duration": str(duration_ns),
                    "outcome": outcome,
                },
                "kibana": done_kibana,
                "message": f"action execution failure: {label}" if failed else f"action executed: {label}",
            }
            if failed:
                done_doc["error"] = {"message": rng.choice(ERRORS)}
            rows.append(
                (
                    end,
                    "actions",
                    "execute",
                    outcome,
                    space,
                    cid,
                    type_id,
                    run_id,
                    source,
                    "",
                    duration_ns,
                    delay,
                    1,
                    done_doc["message"],
                    (done_doc.get("error") or {}).get("message", ""),
                    json.dumps(done_doc),
                )
            )
            if len(rows) >= batch:
                with transaction.atomic():
                    cursor.executemany(sql, rows)
                rows = []
        if rows:
            with transaction.atomic():
                cursor.executemany(sql, rows)
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def timed(label: str, fn, repeat: int):
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    print(f"  {label:58} median {statistics.median(samples):8.1f} ms   max {max(samples):8.1f} ms")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", default=None)
    parser.add_argument("--purge", action="store_true", help="finally time retention (deletes 1/3)")
    args = parser.parse_args()
    database = _django.setup("eventlog-query", args.keep)

    from eventlog import health, metrics, queries
    from eventlog.models import Event
    from eventlog.services import connector_health

    existing = Event.objects.count()
    if existing < args.events:
        Event.objects.all().delete()
        seconds = fill(args.events)
        print(f"filled {args.events:,} events in {seconds:.0f} s")
    count = Event.objects.count()
    size_mb = database.stat().st_size / 1e6
    print(f"{count:,} events, database {size_mb:,.0f} MB ({database})")

    now = datetime.now(UTC)
    day, quarter = now - timedelta(days=1), now - timedelta(days=91)

    def log(**kw):
        defaults = {"space_ids": ["default"], "date_start": quarter, "date_end": now}
        return queries.execution_log(queries.LogQuery(**{**defaults, **kw}))

    def kpi(**kw):
        defaults = {"space_ids": ["default"], "date_start": quarter, "date_end": now}
        return queries.execution_kpi(queries.LogQuery(**{**defaults, **kw}))

    print("execution log (one space = 1/3 of the events; page size 10 unless noted):")
    timed("last 24 h, newest first", lambda: log(date_start=day), args.repeat)
    result = timed("90 days, newest first, page 1", lambda: log(), args.repeat)
    print(f"    (total {result['total']:,} executions in range)")
    timed(
        "90 days, page 1000 of 100 rows (Kibana's deepest page)",
        lambda: log(page=1000, per_page=100),
        args.repeat,
    )
    timed("90 days, all three spaces, newest first", lambda: log(space_ids=SPACES), args.repeat)
    timed(
        "90 days, outcome failure (Kibana UI KQL)",
        lambda: log(
            filter="kibana.alerting.outcome:failure OR (event.outcome: failure AND NOT kibana.alerting.outcome:*)"
        ),
        args.repeat,
    )
    timed(
        '90 days, message search "Service Unavailable"',
        lambda: log(filter='message: "Service Unavailable" OR error.message: "Service Unavailable"'),
        args.repeat,
    )
    timed("90 days, sorted by duration desc", lambda: log(sort=[("execution_duration", "desc")]), args.repeat)
    timed("90 days, one connector (per-connector route)", lambda: log(connector_id="c-0000"), args.repeat)
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from connectors.models import Space

    Space.ensure_default()
    user = get_user_model().objects.filter(
        username="bench"
    ).first() or get_user_model().objects.create_superuser("bench", "", "bench-password")
    client = APIClient()
    client.force_authenticate(user)
    path = "/internal/actions/_global_connector_execution_logs"

    def over_http():
        response = client.post(
            path, {"date_start": "90d"}, format="json", HTTP_KBN_XSRF="x", HTTP_HOST="127.0.0.1"
        )
        assert response.status_code == 200, response.content
        return response

    timed("POST _global_connector_execution_logs (90 days, whole request)", over_http, args.repeat)
    print("KPI:")
    timed("90 days, one space", lambda: kpi(), args.repeat)
    timed("24 h, one connector", lambda: kpi(date_start=day, connector_id="c-0000"), args.repeat)
    print("health and metrics:")
    timed(
        "connector_health(50 connectors)",
        lambda: connector_health([f"c-{i:04d}" for i in range(50)]),
        args.repeat,
    )
    timed("GET /api/task_manager/_health (computation)", health.task_manager_health, args.repeat)
    from eventlog.models import RollupWatermark, RunRollup

    RunRollup.objects.all().delete()
    RollupWatermark.objects.all().delete()
    # The workers' heartbeat folds (metrics.advance_rollup); a scrape (metrics.render) only reads.
    started = time.perf_counter()
    metrics.advance_rollup()
    print(
        f"  {'rollup fold, first ever (folds every event)':58} {(time.perf_counter() - started) * 1000:8.1f} ms"
    )
    timed("rollup fold, nothing new", metrics.advance_rollup, args.repeat)
    timed("GET /metrics (read only)", metrics.render, args.repeat)
    top = Event.objects.order_by("-id").values_list("id", flat=True).first()
    fill_more = 2000
    fill(fill_more)
    started = time.perf_counter()
    metrics.advance_rollup()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"  {f'rollup fold after {fill_more:,} new events':58} {elapsed:8.1f} ms")
    Event.objects.filter(id__gt=top).delete()

    if args.purge:
        from django.conf import settings

        from connectors.settings_file import parse_config_dict
        from eventlog.services import purge_expired_events

        settings.KIBANA_CONFIG = parse_config_dict({"connectors.eventLog.retention": "60d"})
        started = time.perf_counter()
        deleted = purge_expired_events()
        elapsed = time.perf_counter() - started
        print(f"retention: deleted {deleted:,} events older than 60 days in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
