from django.db import models


class Event(models.Model):
    """One Kibana-shaped event-log document, with the fields we filter on pulled out and indexed.

    Few indexes, each for a read we serve: every insert pays for each one (see docs/eventlog.md)."""

    timestamp = models.DateTimeField()  # indexed after `action`/`space_id`/`connector_id` below
    provider = models.CharField(max_length=32, default="actions")
    action = models.CharField(max_length=32)  # execute-start, execute, execute-timeout, ...
    outcome = models.CharField(max_length=16, blank=True, default="")
    space_id = models.CharField(max_length=255)
    connector_id = models.CharField(max_length=64, blank=True, default="")
    connector_type_id = models.CharField(max_length=128, blank=True, default="")
    execution_uuid = models.CharField(max_length=64, blank=True, default="", db_index=True)
    source = models.CharField(max_length=32, blank=True, default="")
    rule_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    duration_ns = models.BigIntegerField(null=True, blank=True)
    schedule_delay_ns = models.BigIntegerField(null=True, blank=True)
    attempt = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    error_message = models.TextField(blank=True, default="")  # `error.message`, searched as text
    document = models.JSONField()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            # The execution log, KPI, health and metrics read connector runs' `execute` events
            # (provider `actions`; rule runs are `alerting`) by time; these cover what they count,
            # sort and filter on, so only the rows of the page are read from the table.
            models.Index(
                fields=[
                    "space_id",
                    "action",
                    "provider",
                    "timestamp",
                    "outcome",
                    "duration_ns",
                    "schedule_delay_ns",
                ],
                name="eventlog_space_run_log_idx",
            ),
            models.Index(
                fields=[
                    "action",
                    "provider",
                    "timestamp",
                    "space_id",
                    "outcome",
                    "duration_ns",
                    "schedule_delay_ns",
                ],
                name="eventlog_run_log_idx",
            ),
            models.Index(
                fields=["connector_id", "action", "provider", "timestamp", "outcome"],
                name="eventlog_conn_run_log_idx",
            ),
        ]

    def __str__(self):
        return f"{self.timestamp.isoformat()} {self.action} {self.connector_id}"


class RunRollup(models.Model):
    """Running totals of `execute` events per connector type and outcome, for /metrics. Advanced by
    the workers' heartbeat from the events after `RollupWatermark` (see eventlog/metrics.py); retention
    does not lower them, so they are true Prometheus counters."""

    connector_type_id = models.CharField(max_length=128)
    outcome = models.CharField(max_length=16)
    runs = models.BigIntegerField(default=0)
    retries = models.BigIntegerField(default=0)
    duration_count = models.BigIntegerField(default=0)
    duration_sum_ns = models.BigIntegerField(default=0)
    duration_buckets = models.JSONField(default=list)  # counts at or below each DURATION_BUCKETS bound

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector_type_id", "outcome"], name="eventlog_rollup_key")
        ]

    def __str__(self):
        return f"{self.connector_type_id} {self.outcome}: {self.runs}"


class RollupWatermark(models.Model):
    """The id of the last event folded into `RunRollup` (one row, pk 1)."""

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"rolled up to event {self.last_event_id}"
