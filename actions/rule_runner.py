"""One rule execution: run the rule type, update alert state (new, ongoing, recovered, flapping),
decide which actions fire (notify_when / throttle / summary / recovered / muted / snoozed /
alerts_filter), render their params and queue them as durable ActionRun rows in the same
transaction; then report `execution_status` and `last_run`."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from actions import alerts_filter, maintenance_windows, mustache, queue, rule_types
from actions.dblock import serialized_writes
from actions.models import Alert, Rule
from actions.rule_snooze import snoozed_until
from actions.rule_variables import alert_doc, alerts_summary, build_variables, merge_docs, with_window
from actions.rules import flapping_settings, interval_delta, interval_seconds, iso
from connectors import registry
from connectors.conf import get_config
from eventlog.services import record

logger = logging.getLogger("actions")

MAX_ALERTS_MESSAGE = (
    "Rule reported more than the maximum number of alerts in a single run. "
    "Alerts may be missed and recovery notifications may be delayed"
)
MAX_ACTIONS_MESSAGE = (
    "The maximum number of actions for this rule type was reached; excess actions were not triggered."
)
MAX_QUEUED_MESSAGE = "The maximum number of queued actions was reached; excess actions were not triggered."


class RuleRunError(Exception):
    """The run fails as a whole (deleted connector, connector without secrets)."""

    def __init__(self, message: str, reason: str = "unknown"):
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass
class Planned:
    action: dict
    connector: object
    variables: dict


@dataclass
class RunReport:
    new: int = 0
    active: int = 0
    recovered: int = 0
    warning: tuple[str, str] | None = None
    queued: int = 0
    generated: int = 0
    skipped: list[str] = field(default_factory=list)
    maintenance_window_ids: list[str] = field(default_factory=list)


# A run's `running` flag outlives a dead process by its timeout plus this (worker.recover_rules).
RULE_RUN_LEASE_MARGIN = timedelta(minutes=1)


class _Timeout:
    """Kibana's rule task timeout (`rule_task_timeout`): when the rule type's executor is still
    running after it, the run is cancelled (TaskRunner.cancel): the rule reports
    `execution_status.error.reason: "timeout"` and `last_run.warning: "timeout"` at once, an
    `execute-timeout` event is logged, and whatever the executor returns later is dropped (no alert
    changes, no actions: `cancelAlertsOnRuleTimeout`); its `execute` event is still written."""

    def __init__(self, rule: Rule, execution_uuid: str, text: str):
        self.rule, self.execution_uuid, self.text = rule, execution_uuid, text
        self.lock = threading.Lock()
        self.fired = self.done = False
        self.timer = threading.Timer(interval_seconds(text), self._fire)
        self.timer.daemon = True
        self.timer.name = f"rule-timeout-{rule.pk}"

    def start(self) -> None:
        self.timer.start()

    def finish(self) -> bool:
        """The executor returned: True when the run was already cancelled."""
        with self.lock:
            self.done = True
            self.timer.cancel()
            return self.fired

    def _fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
        try:
            _record_timeout(self.rule, self.execution_uuid, self.text)
        except Exception:
            logger.exception("could not record the timeout of rule %s", self.rule.pk)
        finally:
            connection.close()


def _record_timeout(rule: Rule, execution_uuid: str, timeout_text: str) -> None:
    message = (
        f"{rule.rule_type_id}:{rule.id}: execution cancelled due to timeout - "
        f"exceeded rule type timeout of {timeout_text}"
    )
    logger.warning("rule %s: %s", rule.id, message)
    Rule.objects.filter(pk=rule.pk).update(
        execution_status={
            "status": "error",
            "last_execution_date": iso(timezone.now()),
            "error": {"reason": "timeout", "message": message},
        },
        last_run={
            "outcome": "failed",
            "outcome_order": 20,
            "outcome_msg": [message],
            "warning": "timeout",
            "alerts_count": {},
        },
        running=False,
        running_until=None,
    )
    record(
        _alerting_event(
            rule,
            execution_uuid,
            "execute-timeout",
            f"rule: {rule.rule_type_id}:{rule.id}: '{rule.name}' execution cancelled due to timeout - "
            f"exceeded rule type timeout of {timeout_text}",
        )
    )


def run_rule(rule_id: str, now: datetime | None = None) -> RunReport | None:
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None or not rule.enabled:
        return None
    lease = interval_delta(rule_types.task_timeout_of(rule.rule_type_id)) + RULE_RUN_LEASE_MARGIN
    Rule.objects.filter(pk=rule.pk).update(running=True, running_until=timezone.now() + lease)
    try:
        return _run(rule, now)  # its last write clears `running`
    except BaseException:
        # Not only RuleRunError: a database error or a bug must not leave the rule `running` until
        # its next run. A process that dies here is covered by `running_until` (worker.recover_rules).
        try:
            Rule.objects.filter(pk=rule.pk).update(running=False, running_until=None)
        except Exception:
            logger.exception("could not clear the running flag of rule %s", rule.pk)
        raise


def _run(rule: Rule, now: datetime | None) -> RunReport:
    now = now or timezone.now()
    started = time.monotonic()
    execution_uuid = str(uuid.uuid4())
    report = RunReport()
    # Kibana's AlertingEventLogger.start(): one `execute-start` per run, before the executor.
    record(_alerting_event(rule, execution_uuid, "execute-start", f'rule execution start: "{rule.id}"'))
    timeout = _Timeout(rule, execution_uuid, rule_types.task_timeout_of(rule.rule_type_id))
    timeout.start()
    try:
        rule_type = rule_types.get(rule.rule_type_id)
        params = rule_type.validate_params(rule.params)
        outcome = rule_type.run(
            rule_types.RunContext(rule=rule, params=params, now=now, state=rule.state or {})
        )
    except Exception as exc:
        cancelled = timeout.finish()
        logger.warning("rule %s failed: %s", rule.id, exc)
        _finish(rule, now, started, execution_uuid, report, error=("execute", str(exc)), cancelled=cancelled)
        return report
    if timeout.finish():
        logger.info("no scheduling of actions for rule %s: rule execution has been cancelled.", rule.id)
        _finish(rule, now, started, execution_uuid, report, cancelled=True)
        return report
    try:
        with serialized_writes(), transaction.atomic():
            _process(rule, rule_type, outcome, now, execution_uuid, report)
    except RuleRunError as exc:
        logger.error("rule %s run failed: %s", rule.id, exc.message)
        _finish(rule, now, started, execution_uuid, report, error=(exc.reason, exc.message))
        return report
    _finish(rule, now, started, execution_uuid, report)
    return report


def _process(rule: Rule, rule_type, outcome, now: datetime, execution_uuid: str, report: RunReport) -> None:
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    rows = {alert.alert_id: alert for alert in Alert.objects.filter(rule=rule)}
    max_alerts = get_config()["xpack.alerting.rules.run.alerts.max"]
    reported = outcome.alerts
    if len(reported) > max_alerts or outcome.limit_reached:
        reported = dict(list(reported.items())[:max_alerts])
        report.warning = ("maxAlerts", MAX_ALERTS_MESSAGE)
    # Flapping (§5.6): each alert keeps, per run of the look-back window, whether it flipped between
    # matching and not matching. A flapping alert that stops matching stays active ("pending
    # recovered", last group and context kept) until it has not matched `threshold` runs in a row.
    settings = flapping_settings(rule)
    look_back, threshold = settings["look_back_window"], settings["status_change_threshold"]

    def remember(row: Alert, changed: bool) -> None:
        row.flapping_history = [*(row.flapping_history or []), changed][-look_back:]
        row.flapping = row.flapping_history.count(True) >= threshold

    new_alerts, ongoing, recovered, kept = [], [], [], []
    for alert_id, reported_alert in reported.items():
        row = rows.get(alert_id)
        if row is None or row.status != Alert.ACTIVE:
            history = row.flapping_history if row is not None else []
            if row is not None:
                row.delete()
            row = Alert(
                rule=rule,
                alert_id=alert_id,
                active_since=now,
                consecutive_matches=0,
                flapping_history=history,
            )
            remember(row, True)
            new_alerts.append(row)
        else:
            remember(row, bool(row.pending_recovered_count))  # matching again after pending runs
            row.pending_recovered_count = 0
            ongoing.append(row)
        row.status = Alert.ACTIVE
        row.action_group = reported_alert.action_group
        row.context = reported_alert.context
        row.consecutive_matches += 1
    for alert_id, row in rows.items():
        if row.status == Alert.ACTIVE and alert_id not in reported and not report.warning:
            delay = int((rule.alert_delay or {}).get("active") or 1)
            if row.consecutive_matches < delay:
                row.delete()  # never reported as active (alert_delay), so it does not recover either
                continue
            if row.pending_recovered_count:
                row.flapping_history = [*row.flapping_history, False][-look_back:]
            else:
                remember(row, True)
            if row.flapping:
                row.pending_recovered_count += 1
                if row.pending_recovered_count < threshold:
                    ongoing.append(row)
                    continue
            row.status = Alert.RECOVERED
            row.context = outcome.recovery_context.get(alert_id, {})
            row.consecutive_matches = 0
            row.pending_recovered_count = 0
            row.flapping = False
            recovered.append(row)
        elif row.status == Alert.RECOVERED and alert_id not in reported:
            # Kept only while its history can still make it flapping; a later match is a new alert.
            row.flapping_history = [*row.flapping_history, False][-look_back:]
            if True in row.flapping_history:
                kept.append(row)
            else:
                row.delete()
    _apply_maintenance_windows(rule, new_alerts, [*ongoing, *recovered, *kept], now, report)
    report.new, report.active, report.recovered = (
        len(new_alerts),
        len(new_alerts) + len(ongoing),
        len(recovered),
    )

    planned = _plan_actions(rule, rule_type, new_alerts, ongoing, recovered, now)
    for row in (*new_alerts, *ongoing, *recovered, *kept):
        row.save()
    with mustache.shared_budget():  # every action of every alert of the run: one rendering budget
        runs, scheduled = _build_runs(rule, planned, now, execution_uuid, report)
    queue.create_runs(runs)
    _record_alert_events(rule, execution_uuid, new_alerts, recovered, scheduled)
    report.queued = len(runs)
    fresh_state = rule.state or {}
    rule.state = rule_type.merge_state(fresh_state, outcome.state)
    Rule.objects.filter(pk=rule.pk).update(state=rule.state, summary_throttles=rule.summary_throttles)


def _apply_maintenance_windows(rule: Rule, new_alerts, older, now: datetime, report: RunReport) -> None:
    """Kibana's maintenance-window rule: a new alert carries the ids of the windows running now that
    cover it (no scope, or a KQL scope matching the alert); an alert that was active before a window
    started gets none. On every run the ids are pruned to windows still running, so an alert raised
    during a window notifies again (and its recovery is sent) once the window has ended."""
    windows = maintenance_windows.active_windows(rule.space_id, now)
    running = {window.id for window in windows}
    report.maintenance_window_ids = sorted(running)
    for row in new_alerts:
        doc = alert_doc(rule, row, "active", now)
        row.maintenance_window_ids = [w.id for w in windows if maintenance_windows.applies_to(w, doc)]
    for row in older:
        row.maintenance_window_ids = [i for i in row.maintenance_window_ids or [] if i in running]


def _in_maintenance(rule: Rule, action: dict, alert: Alert) -> bool:
    if not alert.maintenance_window_ids:
        return False
    logger.debug(
        'no scheduling of actions "%s" for alert "%s" from rule "%s": has active maintenance windows %s.',
        action.get("id"),
        alert.alert_id,
        rule.id,
        ",".join(alert.maintenance_window_ids),
    )
    return True


def _throttled(last: str | None, throttle: str | None, now: datetime) -> bool:
    if not last or not throttle:
        return False
    return now - datetime.fromisoformat(last) < interval_delta(throttle)


def _plan_actions(rule: Rule, rule_type, new_alerts, ongoing, recovered, now) -> list[Planned]:
    # Muted or snoozed: alerts are still computed and counted, no action runs.
    if rule.mute_all or snoozed_until(rule, now):
        return []
    muted = set(rule.muted_alert_ids or [])
    planned: list[Planned] = []
    # alert_delay: an alert is notified only once it has matched `active` runs in a row.
    delay = int((rule.alert_delay or {}).get("active") or 1)
    active = [a for a in (*new_alerts, *ongoing) if a.consecutive_matches >= delay]
    new_ids = {id(a) for a in new_alerts} | {id(a) for a in active if a.consecutive_matches == delay}
    for action in rule.actions:
        frequency = action.get("frequency")
        notify_when = (frequency or {}).get("notify_when") or rule.notify_when or "onActiveAlert"
        throttle = (frequency or {}).get("throttle") if frequency else rule.throttle
        key = action.get("uuid") if frequency else "__rule__"
        allows = alerts_filter.predicate(rule, action, now)
        if frequency and frequency.get("summary"):
            # Summaries leave out alerts in a maintenance window (Kibana's summarized-alerts query).
            summary = alerts_summary(
                rule,
                rule_type,
                [
                    a
                    for a in active
                    if a.alert_id not in muted
                    and not a.pending_recovered_count
                    and not a.maintenance_window_ids
                ],
                new_ids,
                [a for a in recovered if not a.maintenance_window_ids],
                muted,
                now,
                allows,
            )
            if notify_when == "onThrottleInterval":
                # A throttled summary covers the alerts of its whole window: what the skipped runs saw
                # is kept and added when it fires.
                pending_key = f"{action['uuid']}:window"
                window = rule.summary_throttles.get(pending_key) or {"new": [], "recovered": []}
                if _throttled(rule.summary_throttles.get(action["uuid"]), throttle, now):
                    rule.summary_throttles = {
                        **rule.summary_throttles,
                        pending_key: {
                            "new": merge_docs(window["new"], summary["new"]["data"]),
                            "recovered": merge_docs(window["recovered"], summary["recovered"]["data"]),
                        },
                    }
                    continue
                summary = with_window(summary, window)
            if summary["all"]["count"] == 0:
                continue
            if notify_when == "onThrottleInterval":
                rule.summary_throttles = {
                    **rule.summary_throttles,
                    action["uuid"]: now.isoformat(),
                    f"{action['uuid']}:window": {"new": [], "recovered": []},
                }
            planned.append(
                Planned(action, None, build_variables(rule, rule_type, None, None, {}, now, summary))
            )
            continue
        if action.get("group") == "recovered":
            for alert in recovered:
                if _in_maintenance(rule, action, alert):
                    continue
                if alert.alert_id not in muted and allows(alert_doc(rule, alert, "recovered", now)):
                    planned.append(
                        Planned(
                            action,
                            None,
                            build_variables(rule, rule_type, alert, "recovered", alert.context, now),
                        )
                    )
            continue
        for alert in active:
            if alert.alert_id in muted or alert.action_group != action.get("group"):
                continue
            if _in_maintenance(rule, action, alert):
                continue
            changed = alert.last_scheduled_group != alert.action_group
            # A flapping alert kept active while pending recovery notifies only group-change actions.
            if alert.pending_recovered_count and notify_when != "onActionGroupChange":
                continue
            if notify_when == "onActionGroupChange" and not changed:
                continue
            if (
                notify_when == "onThrottleInterval"
                and not changed
                and _throttled(alert.throttles.get(key), throttle, now)
            ):
                continue
            if not allows(alert_doc(rule, alert, "active", now)):
                continue
            planned.append(
                Planned(
                    action,
                    None,
                    build_variables(rule, rule_type, alert, alert.action_group, alert.context, now),
                )
            )
            alert.last_scheduled_group_next = alert.action_group
            if notify_when == "onThrottleInterval":
                # Applied after every action has been decided: legacy actions share one throttle.
                alert.pending_throttles = {**getattr(alert, "pending_throttles", {}), key: now.isoformat()}
    for alert in active:
        if getattr(alert, "last_scheduled_group_next", None):
            alert.last_scheduled_group = alert.last_scheduled_group_next
        if getattr(alert, "pending_throttles", None):
            alert.throttles = {**alert.throttles, **alert.pending_throttles}
    return planned


def _build_runs(rule: Rule, planned: list[Planned], now, execution_uuid: str, report: RunReport) -> list:
    from connectors.services import ConnectorNotFound, find_connector

    config = get_config()
    runs = []
    scheduled = []
    connectors = {}
    per_type = {
        o["id"]: o.get("max") for o in config["xpack.alerting.rules.run.actions.connectorTypeOverrides"]
    }
    counts: dict[str, int] = {}
    limit = config["xpack.alerting.rules.run.actions.max"]
    for item in planned:
        connector_id = item.action["id"]
        if connector_id not in connectors:
            try:
                connectors[connector_id] = find_connector(rule.space_id, connector_id)
            except ConnectorNotFound as exc:
                raise RuleRunError(str(exc)) from None
        connector = connectors[connector_id]
        if connector.is_missing_secrets and not connector.is_preconfigured:
            raise RuleRunError(
                f'Unable to execute action because no secrets are defined for the "{connector.name}" connector.'
            )
        type_id = connector.connector_type_id
        if not connector.is_preconfigured and not registry.is_enabled_in_config(type_id, config):
            logger.warning(
                'Rule "%s" skipped scheduling action "%s" because it is disabled', rule.id, connector_id
            )
            report.skipped.append(connector_id)
            continue
        if len(runs) >= limit or (per_type.get(type_id) and counts.get(type_id, 0) >= per_type[type_id]):
            report.warning = report.warning or ("maxExecutableActions", MAX_ACTIONS_MESSAGE)
            continue
        escape = registry.get(type_id).escape if registry.is_registered(type_id) else "none"
        params = mustache.render_object(item.action.get("params", {}), item.variables, escape)
        runs.append(
            queue.new_run(
                connector,
                params,
                space_id=rule.space_id,
                source="alert",
                rule=rule,
                rule_execution_uuid=execution_uuid,
            )
        )
        counts[type_id] = counts.get(type_id, 0) + 1
        alert = item.variables.get("alert") or {}
        scheduled.append(
            (alert.get("id", ""), alert.get("actionGroup") or item.action.get("group"), type_id, connector_id)
        )
    report.generated = len(planned)
    allowed = queue.free_slots(len(runs))
    if allowed < len(runs):
        runs, scheduled = runs[:allowed], scheduled[:allowed]
        if not report.warning:
            report.warning = ("maxQueuedActions", MAX_QUEUED_MESSAGE)
    return runs, scheduled


def _alerting_event(rule: Rule, execution_uuid: str | None, action: str, message: str, **extra) -> dict:
    """Kibana's createAlertEventLogRecordObject: the category and ruleset are the rule type's
    producer, the license its minimum license."""
    try:
        rule_type = rule_types.get(rule.rule_type_id)
        producer, license_ = rule_type.producer, rule_type.minimum_license
    except rule_types.RuleTypeNotRegistered:
        producer, license_ = rule.consumer, "basic"
    execution = {"execution": {"uuid": execution_uuid}} if execution_uuid else {}
    return {
        "event": {"provider": "alerting", "action": action, "kind": "alert", "category": [producer]},
        "message": message,
        "kibana": {
            "saved_objects": [
                {"rel": "primary", "type": "alert", "id": rule.id, "type_id": rule.rule_type_id}
            ],
            "space_ids": [rule.space_id],
            "alert": {
                "rule": {
                    "consumer": rule.consumer,
                    **execution,
                    "rule_type_id": rule.rule_type_id,
                }
            },
            **extra,
        },
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "category": rule.rule_type_id,
            "license": license_,
            "ruleset": producer,
        },
    }


def _record_alert_events(rule: Rule, execution_uuid: str, new_alerts, recovered, scheduled) -> None:
    """The alerting provider's events: new and recovered alerts, and each scheduled action."""
    label = f"{rule.rule_type_id}:{rule.id}: '{rule.name}'"
    for alert in new_alerts:
        record(
            _alerting_event(
                rule,
                execution_uuid,
                "new-instance",
                f"{label} created new alert: '{alert.alert_id}'",
                alerting={"instance_id": alert.alert_id, "action_group_id": alert.action_group},
            )
        )
    for alert in recovered:
        record(
            _alerting_event(
                rule,
                execution_uuid,
                "recovered-instance",
                f"{label} alert '{alert.alert_id}' has recovered",
                alerting={"instance_id": alert.alert_id, "action_group_id": "recovered"},
            )
        )
    for alert_id, group, type_id, connector_id in scheduled:
        record(
            _alerting_event(
                rule,
                execution_uuid,
                "execute-action",
                f"alert: {label} instanceId: '{alert_id}' scheduled actionGroup: '{group}' action: {type_id}:{connector_id}",
                alerting={"instance_id": alert_id, "action_group_id": group},
            )
        )


def _finish(
    rule: Rule, now, started: float, execution_uuid: str, report: RunReport, error=None, cancelled=False
) -> None:
    """The run's `execution_status`, `last_run` and `execute` event; a cancelled run (timeout) has
    already reported its status, so only its event is written."""
    duration_ms = int((time.monotonic() - started) * 1000)
    status = {"last_execution_date": iso(now), "last_duration": duration_ms}
    counts = {"active": report.active, "new": report.new, "recovered": report.recovered, "ignored": 0}
    if error:
        reason, message = error
        status.update({"status": "error", "error": {"reason": reason, "message": message}})
        last_run = {
            "outcome": "failed",
            "outcome_order": 20,
            "outcome_msg": [message],
            "warning": reason,
            "alerts_count": counts,
        }
    elif report.warning:
        reason, message = report.warning
        status.update({"status": "warning", "warning": {"reason": reason, "message": message}})
        last_run = {
            "outcome": "warning",
            "outcome_order": 10,
            "outcome_msg": [message],
            "warning": reason,
            "alerts_count": counts,
        }
    else:
        status["status"] = "active" if report.active else "ok"
        last_run = {
            "outcome": "succeeded",
            "outcome_order": 0,
            "outcome_msg": None,
            "warning": None,
            "alerts_count": counts,
        }
    if not cancelled:
        Rule.objects.filter(pk=rule.pk).update(
            execution_status=status, last_run=last_run, running=False, running_until=None
        )
    label = f"{rule.rule_type_id}:{rule.id}: '{rule.name}'"
    outcome = "failure" if error else ("warning" if report.warning else "success")
    document = _alerting_event(
        rule,
        execution_uuid,
        "execute",
        f"rule execution failure: {label}" if error else f"rule executed: {label}",
        alerting={"outcome": outcome},
    )
    # What only the execute event has: its timing, the run's metrics and maintenance windows.
    document["event"].update(
        start=iso(now),
        end=iso(timezone.now()),
        duration=str(duration_ms * 1_000_000),
        outcome="failure" if error else "success",
    )
    document["kibana"]["alert"]["rule"]["execution"]["metrics"] = {
        "number_of_triggered_actions": report.queued,
        "number_of_generated_actions": report.generated,
        "alert_counts": {"active": report.active, "new": report.new, "recovered": report.recovered},
    }
    document["kibana"]["alert"]["maintenance_window_ids"] = report.maintenance_window_ids
    if error:
        document["error"] = {"message": error[1]}
    try:
        record(document)
    except Exception:
        logger.exception("could not record the rule execution event")
