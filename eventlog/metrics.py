"""`/metrics` in Prometheus text format, correct across processes.

Runs happen in django-q2 worker processes and in web processes (`_execute`), so in-process counters
would each see only their own share. The event log in the database is the shared truth. Worker
processes fold the `execute` events written since the last fold into `RunRollup` on their heartbeat
(`actions.worker.PollStats.publish`, every few seconds; one grouped query over the new rows only,
under a lock so two folds never count a row twice), and retention folds before it deletes. A scrape
only reads the rollup: it writes nothing and takes no lock, so anonymous scrapers cannot hold back
the event and journal writers (issue 16). The counters lag the log by at most a heartbeat, and never
go down when retention deletes old events.

Queue depth is read from the django-q2 broker at scrape time. `connectors.metrics.token`, when set,
is the bearer token a scrape must send (`eventlog/api/probes.py`).
"""

from __future__ import annotations

from django.db import OperationalError, connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from eventlog.models import Event, RollupWatermark, RunRollup

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def settled_top_id() -> int | None:
    """The highest event id at or below which every insert has committed or rolled back.

    On PostgreSQL a transaction can hold an id below one another transaction already committed (the
    journal writes batches concurrently with rule runs); folding up to the plain MAX would skip it for
    good. SHARE mode waits for writers in flight and holds new ones back for the instant of the MAX.
    None when that wait is too long: this scrape then folds nothing and the next one catches up."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                    cursor.execute(
                        f"LOCK TABLE {connection.ops.quote_name(Event._meta.db_table)} IN SHARE MODE"
                    )
            return Event.objects.aggregate(top=Max("id"))["top"] or 0
    except OperationalError:
        return None


def advance_rollup() -> int:
    """Fold `execute` events newer than the watermark into RunRollup. Returns how many events."""
    top = settled_top_id()
    if top is None:
        return 0
    with transaction.atomic():
        mark, _ = RollupWatermark.objects.select_for_update().get_or_create(pk=1)
        if top <= mark.last_event_id:
            return 0
        buckets = {
            f"le{i}": Count("id", filter=Q(duration_ns__lte=int(bound * 1e9)))
            for i, bound in enumerate(DURATION_BUCKETS)
        }
        rows = (
            Event.objects.filter(id__gt=mark.last_event_id, id__lte=top, action="execute", provider="actions")
            .values("connector_type_id", "outcome")
            .annotate(
                n=Count("id"),
                retried=Count("id", filter=Q(attempt__gt=1)),
                timed=Count("id", filter=Q(duration_ns__isnull=False)),
                sum_ns=Sum("duration_ns"),
                **buckets,
            )
            .order_by()
        )
        folded = 0
        for row in rows:
            counts = [row[f"le{i}"] for i in range(len(DURATION_BUCKETS))]
            rollup, _ = RunRollup.objects.select_for_update().get_or_create(
                connector_type_id=row["connector_type_id"],
                outcome=row["outcome"] or "unknown",
                defaults={"duration_buckets": [0] * len(DURATION_BUCKETS)},
            )
            previous = rollup.duration_buckets or [0] * len(DURATION_BUCKETS)
            RunRollup.objects.filter(pk=rollup.pk).update(
                runs=F("runs") + row["n"],
                retries=F("retries") + row["retried"],
                duration_count=F("duration_count") + row["timed"],
                duration_sum_ns=F("duration_sum_ns") + (row["sum_ns"] or 0),
                duration_buckets=[a + b for a, b in zip(previous, counts, strict=True)],
            )
            folded += row["n"]
        mark.last_event_id = top
        mark.save(update_fields=["last_event_id", "updated_at"])
        return folded


class EventLogCollector:
    def collect(self):
        rollups = list(RunRollup.objects.order_by("connector_type_id", "outcome"))
        runs = CounterMetricFamily(
            "connectors_action_runs",
            "Connector runs (one per attempt), by connector type and outcome.",
            labels=["connector_type", "outcome"],
        )
        retries = CounterMetricFamily(
            "connectors_action_retries",
            "Retry attempts (attempt > 1), by connector type.",
            labels=["connector_type"],
        )
        histogram = HistogramMetricFamily(
            "connectors_action_run_duration_seconds",
            "Connector run duration (event.duration), by connector type.",
            labels=["connector_type"],
        )
        per_type: dict[str, dict] = {}
        for rollup in rollups:
            runs.add_metric([rollup.connector_type_id, rollup.outcome], rollup.runs)
            totals = per_type.setdefault(
                rollup.connector_type_id,
                {"retries": 0, "count": 0, "sum": 0, "buckets": [0] * len(DURATION_BUCKETS)},
            )
            totals["retries"] += rollup.retries
            totals["count"] += rollup.duration_count
            totals["sum"] += rollup.duration_sum_ns
            stored = rollup.duration_buckets or [0] * len(DURATION_BUCKETS)
            totals["buckets"] = [a + b for a, b in zip(totals["buckets"], stored, strict=True)]
        for type_id, totals in per_type.items():
            retries.add_metric([type_id], totals["retries"])
            cumulative = [
                (str(bound), n) for bound, n in zip(DURATION_BUCKETS, totals["buckets"], strict=True)
            ]
            cumulative.append(("+Inf", totals["count"]))
            histogram.add_metric([type_id], cumulative, totals["sum"] / 1e9)
        yield runs
        yield retries
        yield histogram

        from eventlog.health import queue_depth

        ready, claimed = queue_depth()
        depth = GaugeMetricFamily(
            "connectors_task_queue_depth",
            "Background tasks in the django-q2 queue, by state (ready: waiting; claimed: taken by a worker).",
            labels=["state"],
        )
        depth.add_metric(["ready"], ready)
        depth.add_metric(["claimed"], claimed)
        yield depth


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EventLogCollector())
    return generate_latest(registry)
