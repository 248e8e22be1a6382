"""`/metrics` in Prometheus text format, computed from the database at scrape time.

Why at scrape time: runs happen in django-q2 worker processes (and in web processes for `_execute`),
so in-process counters would each see only their own share. The event log is the shared truth;
each scrape reads it with grouped queries over the indexed `execute` rows (benchmarks/eventlog_query.py
measures a scrape over 1,000,000 events). The counters are "runs recorded in the event log": when
retention deletes old events they drop, which Prometheus treats as a counter reset (rate() and
increase() stay correct).
"""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from eventlog.models import Event

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class EventLogCollector:
    def collect(self):
        executes = Event.objects.filter(action="execute")
        runs = CounterMetricFamily(
            "connectors_action_runs",
            "Connector runs (one per attempt) in the event log, by connector type and outcome.",
            labels=["connector_type", "outcome"],
        )
        for row in executes.values("connector_type_id", "outcome").annotate(n=Count("id")).order_by():
            runs.add_metric([row["connector_type_id"], row["outcome"] or "unknown"], row["n"])
        yield runs

        retries = CounterMetricFamily(
            "connectors_action_retries",
            "Retry attempts (attempt > 1) in the event log, by connector type.",
            labels=["connector_type"],
        )
        for row in (
            executes.filter(attempt__gt=1).values("connector_type_id").annotate(n=Count("id")).order_by()
        ):
            retries.add_metric([row["connector_type_id"]], row["n"])
        yield retries

        histogram = HistogramMetricFamily(
            "connectors_action_run_duration_seconds",
            "Connector run duration (event.duration), by connector type.",
            labels=["connector_type"],
        )
        buckets = {
            f"le{i}": Count("id", filter=Q(duration_ns__lte=int(bound * 1e9)))
            for i, bound in enumerate(DURATION_BUCKETS)
        }
        rows = (
            executes.filter(duration_ns__isnull=False)
            .values("connector_type_id")
            .annotate(total=Count("id"), sum_ns=Sum("duration_ns"), **buckets)
            .order_by()
        )
        for row in rows:
            cumulative = [(str(bound), row[f"le{i}"]) for i, bound in enumerate(DURATION_BUCKETS)]
            cumulative.append(("+Inf", row["total"]))
            histogram.add_metric([row["connector_type_id"]], cumulative, (row["sum_ns"] or 0) / 1e9)
        yield histogram

        from eventlog.health import queue_depth

        ready, claimed = queue_depth()
        depth = GaugeMetricFamily(
            "connectors_task_queue_depth",
            "Background tasks waiting in the django-q2 queue, by state.",
            labels=["state"],
        )
        depth.add_metric(["ready"], ready)
        depth.add_metric(["claimed"], claimed)
        yield depth


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EventLogCollector())
    return generate_latest(registry)
