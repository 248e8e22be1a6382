"""Rules, their alerts' state between runs, and durable action runs (Kibana's `action_task_params`)."""

import uuid

from django.db import models
from django.utils import timezone


def new_rule_id() -> str:
    return str(uuid.uuid4())


class Rule(models.Model):
    """A rule (Kibana saved-object type `alert`). `actions` is stored in the API's snake_case shape."""

    # Predefined ids need not be UUIDs (Kibana 8.17+); 64 is what the event log's rule_id holds.
    id = models.CharField(primary_key=True, max_length=64, default=new_rule_id)
    space = models.ForeignKey("connectors.Space", on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=1024)
    rule_type_id = models.CharField(max_length=128, db_index=True)
    consumer = models.CharField(max_length=128, default="alerts")
    schedule_interval = models.CharField(max_length=32, default="1m")
    params = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    notify_when = models.CharField(max_length=32, null=True, blank=True)
    throttle = models.CharField(max_length=32, null=True, blank=True)
    alert_delay = models.JSONField(null=True, blank=True)  # {"active": n}: notify after n matching runs
    # Per-rule override {"look_back_window", "status_change_threshold"}; null: the defaults (20, 4).
    flapping = models.JSONField(null=True, blank=True)
    mute_all = models.BooleanField(default=False)
    muted_alert_ids = models.JSONField(default=list, blank=True)
    created_by = models.CharField(max_length=150, null=True, blank=True)
    updated_by = models.CharField(max_length=150, null=True, blank=True)
    api_key_owner = models.CharField(max_length=150, null=True, blank=True)
    # Kibana's apiKeyCreatedByUser: the caller's own API key was used (create, update, enable).
    api_key_created_by_user = models.BooleanField(null=True, blank=True)
    # Stamped by save() from one clock reading (auto_now_add/auto_now read the clock once each, so a
    # new rule's two could differ; Kibana's create stamps both from one `Date.now()`).
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    revision = models.IntegerField(default=0)
    running = models.BooleanField(default=False)
    # While `running`: when a rule run whose worker died stops counting as running (the poller clears it).
    running_until = models.DateTimeField(null=True, blank=True)
    execution_status = models.JSONField(default=dict, blank=True)
    last_run = models.JSONField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Rule-type state kept between runs (Kibana's task state), e.g. reports of the external type.
    state = models.JSONField(default=dict, blank=True)
    # When summary actions with a throttle last ran, keyed by action uuid.
    summary_throttles = models.JSONField(default=dict, blank=True)
    # Snooze schedules (Kibana's `snoozeSchedule`): [{id, duration (ms), rRule: {dtstart, tzid, ...}}].
    # Kept out of the public get/find, as is when the rule is snoozed until (Kibana strips both there).
    snooze_schedule = models.JSONField(default=list, blank=True)
    # Kibana's `originId` (as `Connector.origin_id`): the rule this one was imported or copied from
    # under a new id, so a second copy into the same space is a conflict, not a duplicate rule.
    origin_id = models.CharField(max_length=255, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["enabled", "next_run_at"])]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """As auto_now_add (created_at on insert) and auto_now (updated_at on every save, or when
        `update_fields` names it), from one timestamp."""
        now = timezone.now()
        update_fields = kwargs.get("update_fields")
        if self._state.adding and update_fields is None:
            self.created_at = now
        if update_fields is None or "updated_at" in update_fields:
            self.updated_at = now
        super().save(*args, **kwargs)

    def connector_ids(self) -> list[str]:
        return [action.get("id") for action in self.actions or [] if action.get("id")]


class Alert(models.Model):
    """One alert of a rule and what was last notified about it, so frequencies work across runs."""

    ACTIVE = "active"
    RECOVERED = "recovered"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="alerts")
    alert_id = models.CharField(max_length=1024)
    uuid = models.CharField(max_length=36, default=new_rule_id)
    status = models.CharField(max_length=16, default=ACTIVE)
    action_group = models.CharField(max_length=128, blank=True, default="")
    last_scheduled_group = models.CharField(max_length=128, blank=True, default="")
    # {action uuid: ISO time it last ran} for per-action throttles; "__rule__" for the legacy one.
    throttles = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    active_since = models.DateTimeField(null=True, blank=True)
    consecutive_matches = models.IntegerField(default=0)
    # Flapping: one entry per run over the look-back window, true when the status changed in that run.
    flapping_history = models.JSONField(default=list, blank=True)
    flapping = models.BooleanField(default=False)
    # Runs a flapping alert has not matched while kept active ("pending recovered").
    pending_recovered_count = models.IntegerField(default=0)
    # Kibana's `kibana.alert.maintenance_window_ids`: the windows active when the alert was created,
    # pruned to those still active on each run. Non-empty: its per-alert actions are not sent.
    maintenance_window_ids = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "alert_id"], name="unique_rule_alert")]

    def __str__(self):
        return f"{self.rule_id}/{self.alert_id} ({self.status})"


class ActionRun(models.Model):
    """One queued connector run. Created in the rule run's transaction; the task carries only its id.

    Life cycle: queued -> running -> succeeded | failed, or back to queued with a later `due_at`
    (a retry). The claiming worker renews the lease while it holds the run; a `running` row whose
    worker's heartbeat stopped, or whose lease expired, belonged to a worker that died or hung: it is
    logged as `execute-timeout` and run again (at least once).
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STATUSES = [(s, s) for s in (QUEUED, RUNNING, SUCCEEDED, FAILED)]

    space_id = models.CharField(max_length=255, default="default")
    connector_id = models.CharField(max_length=64, db_index=True)
    connector_type_id = models.CharField(max_length=128, blank=True, default="")
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=STATUSES, default=QUEUED)
    attempts = models.IntegerField(default=0)
    max_attempts = models.IntegerField(default=3)
    due_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=36, blank=True, default="")
    # The worker process holding the claim ("<host>:<pid>/<instance>"), so that the runs of a worker
    # whose heartbeat stopped are queued again without waiting out the lease.
    worker = models.CharField(max_length=300, blank=True, default="")
    # Times the run's worker was lost while it held the run. Not attempts: a lost run may never have
    # started; a run that keeps killing its worker fails after `max_attempts` losses.
    lost = models.IntegerField(default=0)
    source = models.CharField(max_length=32, default="alert")
    execution_uuid = models.CharField(max_length=36, default=new_rule_id)
    rule_id = models.CharField(max_length=64, blank=True, default="")
    rule_type_id = models.CharField(max_length=128, blank=True, default="")
    rule_consumer = models.CharField(max_length=128, blank=True, default="")
    rule_execution_uuid = models.CharField(max_length=36, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"])]
        verbose_name = "action run"

    def __str__(self):
        return f"run {self.pk} of {self.connector_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.QUEUED, self.RUNNING)


class WorkerHeartbeat(models.Model):
    """What one worker process's poller last reported: the health API's `runtime.polling` is built
    from the live ones (actions/worker.py writes a row every few seconds; stale rows are removed)."""

    id = models.CharField(primary_key=True, max_length=255)  # "<host>:<pid>"
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    last_poll_at = models.DateTimeField(db_index=True)
    last_successful_poll_at = models.DateTimeField(null=True, blank=True)
    # Recent polls: {"durations_ms": [...], "results": [...], "conflicts": [...], "last_polling_delay_ms": n}
    stats = models.JSONField(default=dict)

    def __str__(self):
        return self.id


class MaintenanceWindow(models.Model):
    """A maintenance window (Kibana saved-object type `maintenance-window`) in one space.

    `schedule` is the API's `{"custom": {...}}` as submitted; `r_rule` and `duration_ms` are what it
    means; `events` are its occurrences (`[{gte, lte}]`, ISO) up to `expiration_date`, from which the
    status is computed (actions/maintenance_windows.py)."""

    id = models.CharField(primary_key=True, max_length=36, default=new_rule_id)
    space = models.ForeignKey(
        "connectors.Space", on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    title = models.CharField(max_length=1024)
    enabled = models.BooleanField(default=True)
    schedule = models.JSONField(default=dict)
    r_rule = models.JSONField(default=dict)
    duration_ms = models.BigIntegerField(default=0)
    scope = models.JSONField(null=True, blank=True)  # {"alerting": {"query": {"kql": ...}}}
    events = models.JSONField(default=list, blank=True)
    expiration_date = models.DateTimeField()
    created_by = models.CharField(max_length=150, null=True, blank=True)
    updated_by = models.CharField(max_length=150, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["space", "enabled", "expiration_date"], name="actions_mw_active_idx")]

    def __str__(self):
        return self.title


class Backfill(models.Model):
    """A manual run of a rule over past time ranges (Kibana's `ad_hoc_run_params`, the backfill API).

    `schedule` is one entry per run, `[{run_at, status, interval}]`, run in order by
    actions/backfill.py; `rule_snapshot` is the rule as it was when scheduled (what the API shows)."""

    PENDING, RUNNING, COMPLETE, ERROR, TIMEOUT = "pending", "running", "complete", "error", "timeout"

    id = models.CharField(primary_key=True, max_length=36, default=new_rule_id)
    space = models.ForeignKey("connectors.Space", on_delete=models.CASCADE, related_name="backfills")
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="backfills")
    rule_snapshot = models.JSONField(default=dict)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=16, default=PENDING)
    run_actions = models.BooleanField(default=True)
    schedule = models.JSONField(default=list)
    warnings = models.JSONField(default=list, blank=True)
    created_by = models.CharField(max_length=150, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"backfill {self.id} of {self.rule_id} ({self.status})"
