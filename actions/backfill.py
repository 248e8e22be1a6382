"""Backfill (Kibana's manual rule runs, `/api/alerting/rules/backfill/*`): run a rule over past time
ranges, one run per schedule interval, as if it had run then.

Kibana accepts backfill only for rule types without alert lifecycle (security rules) and answers
`Rule type "<type>" for rule <id> is not supported` for the others. Here the Index threshold rule
type can be replayed (its documents are in the local store, and it computes each run from `now`), so
it is accepted (`RuleType.supports_backfill`); types that cannot (`.external`) get Kibana's answer.
A backfill run does not touch the rule's alerts or state: every alert of a past run is reported as
that run's, and with `run_actions` (default true) its `onActiveAlert` per-alert actions are queued."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from actions import queue, rule_types
from actions.models import Alert, Backfill, Rule
from actions.rule_snooze import _parse_date
from actions.rules import interval_delta, iso

logger = logging.getLogger("actions")

MAX_SCHEDULE_BACKFILL_BULK_SIZE = 100
MAX_LOOKBACK = timedelta(days=90)
# Runs one `_schedule` request may create in all: 90 days at Kibana's default minimum interval (1m).
# The schedule is built in the web process; without a cap a `1s` rule over ten 90-day ranges is 78
# million entries. An item past the cap gets a per-item error, counted before anything is built.
MAX_BACKFILL_RUNS = 90 * 24 * 60
UNSUPPORTED_ACTIONS_WARNING = (
    "Rule has actions that are not supported for backfill. Those actions will be skipped."
)


def range_problems(ranges: list[dict], now: datetime | None = None) -> list[str]:
    """Kibana's validateBackfillSchedule, per range: the first problem of each range, in Kibana's
    order (start, look-back, start in the future, then, only when `end` is set, end, order, end in
    the future). The route joins one item's problems with a newline."""
    now = now or timezone.now()
    problems = []
    for item in ranges:
        problem = _range_problem(item.get("start"), item.get("end"), now)
        if problem:
            problems.append(problem)
    return problems


def _range_problem(start_text, end_text, now: datetime) -> str | None:
    start = _parse_date(start_text)
    if start is None:
        return "Backfill start must be valid date"
    if now - start > MAX_LOOKBACK:
        return "Backfill cannot look back more than 90 days"
    if start > now:
        return "Backfill cannot be scheduled for the future"
    if not end_text:
        return None
    end = _parse_date(end_text)
    if end is None:
        return "Backfill end must be valid date"
    if end <= start:
        return "Backfill end must be greater than backfill start"
    if end > now:
        return "Backfill cannot be scheduled for the future"
    return None


def _supported(rule: Rule, action: dict) -> bool:
    """Only per-alert `onActiveAlert` actions run in a backfill (Kibana: the others are skipped)."""
    frequency = action.get("frequency")
    if frequency and frequency.get("summary"):
        return False
    notify_when = (frequency or {}).get("notify_when") or rule.notify_when or "onActiveAlert"
    return notify_when == "onActiveAlert"


def _error(message: str, status: int, rule_id: str, name: str | None = None) -> dict:
    rule = {"id": rule_id, **({"name": name} if name else {})}
    return {"error": {"message": message, "status": status, "rule": rule}}


def _snapshot(rule: Rule) -> dict:
    return {
        "id": rule.id,
        "name": rule.name,
        "tags": rule.tags,
        "rule_type_id": rule.rule_type_id,
        "params": rule.params,
        "api_key_owner": rule.api_key_owner,
        "api_key_created_by_user": False,
        "consumer": rule.consumer,
        "enabled": rule.enabled,
        "schedule": {"interval": rule.schedule_interval},
        "created_by": rule.created_by,
        "updated_by": rule.updated_by,
        "created_at": iso(rule.created_at),
        "updated_at": iso(rule.updated_at),
        "revision": rule.revision,
    }


def _runs_for(ranges: list[dict], interval: str) -> list[dict]:
    """One entry per interval end in each range (Kibana's calculateSchedule)."""
    step = interval_delta(interval)
    entries = []
    for item in sorted(ranges, key=lambda r: r["start"]):
        moment, end = _parse_date(item["start"]), _parse_date(item["end"])
        while moment < end:
            moment = min(moment + step, end)
            entries.append({"interval": interval, "run_at": iso(moment), "status": Backfill.PENDING})
    return entries


def _run_count(ranges: list[dict], interval: str) -> int:
    """How many entries `_runs_for` would build, without building them."""
    step = interval_delta(interval)
    return sum(-(-(_parse_date(r["end"]) - _parse_date(r["start"])) // step) for r in ranges)


def schedule(space_id: str, items: list[dict], user: str | None = None) -> list[dict]:
    """Create one backfill per item (or an error entry for it), in the request's order, and queue
    them for the workers."""
    rules = {r.id: r for r in Rule.objects.filter(space_id=space_id, pk__in=[i["rule_id"] for i in items])}
    results, created = [], []
    runs_left = MAX_BACKFILL_RUNS
    for item in items:
        rule = rules.get(item["rule_id"])
        if rule is None:
            results.append(_error(f"Saved object [alert/{item['rule_id']}] not found", 404, item["rule_id"]))
            continue
        if not rule.enabled:
            results.append(_error(f"Rule {rule.id} is disabled", 400, rule.id, rule.name))
            continue
        try:
            supported = rule_types.get(rule.rule_type_id).supports_backfill
        except rule_types.RuleTypeNotRegistered:
            supported = False
        if not supported:
            message = f'Rule type "{rule.rule_type_id}" for rule {rule.id} is not supported'
            results.append(_error(message, 400, rule.id, rule.name))
            continue
        runs = _run_count(item["ranges"], rule.schedule_interval)
        if runs > runs_left:
            message = (
                f"Backfill would schedule {runs} runs; at most {MAX_BACKFILL_RUNS} are allowed in one request"
            )
            results.append(_error(message, 400, rule.id, rule.name))
            continue
        runs_left -= runs
        run_actions = item.get("run_actions", True)
        warnings = []
        if run_actions and not all(_supported(rule, a) for a in rule.actions):
            warnings.append(UNSUPPORTED_ACTIONS_WARNING)
        backfill = Backfill.objects.create(
            space_id=space_id,
            rule=rule,
            rule_snapshot=_snapshot(rule),
            start=min(_parse_date(r["start"]) for r in item["ranges"]),
            end=max(_parse_date(r["end"]) for r in item["ranges"]),
            run_actions=run_actions,
            schedule=_runs_for(item["ranges"], rule.schedule_interval),
            warnings=warnings,
            created_by=user,
        )
        created.append(backfill.id)
        results.append(to_api(backfill))
    if created:
        transaction.on_commit(lambda: queue_backfills(created))
    return results


def queue_backfills(backfill_ids: list[str]) -> None:
    from django_q.tasks import async_task

    for backfill_id in backfill_ids:
        async_task(
            "actions.tasks.run_backfill", backfill_id, q_options={"task_name": f"backfill-{backfill_id}"}
        )


def to_api(backfill: Backfill) -> dict:
    body = {
        "id": backfill.id,
        "created_at": iso(backfill.created_at),
        "duration": backfill.rule_snapshot.get("schedule", {}).get("interval"),
        "enabled": True,
        "space_id": backfill.space_id,
        "start": iso(backfill.start),
        "end": iso(backfill.end),
        "status": backfill.status,
        "schedule": backfill.schedule,
        "rule": backfill.rule_snapshot,
        "initiator": "user",
    }
    if backfill.warnings:
        body["warnings"] = backfill.warnings
    return body


def run_backfill(backfill_id: str) -> Backfill | None:
    """Run a backfill's pending entries in order; each is recorded as an `execute-backfill` event."""
    from actions.rule_runner import Planned, RunReport, _alerting_event, _build_runs
    from actions.rule_variables import build_variables
    from eventlog.services import record

    backfill = Backfill.objects.select_related("rule").filter(pk=backfill_id).first()
    if backfill is None or backfill.status in (Backfill.COMPLETE, Backfill.ERROR):
        return backfill
    Backfill.objects.filter(pk=backfill.pk).update(status=Backfill.RUNNING)
    rule = backfill.rule
    rule_type = rule_types.get(rule.rule_type_id)
    params = rule_type.validate_params(rule.params)
    actions = [a for a in rule.actions if _supported(rule, a)] if backfill.run_actions else []
    entries = list(backfill.schedule)
    for entry in entries:
        if entry["status"] != Backfill.PENDING:
            continue
        run_at = _parse_date(entry["run_at"])
        execution_uuid = str(uuid.uuid4())
        try:
            outcome = rule_type.run(rule_types.RunContext(rule=rule, params=params, now=run_at, state={}))
            planned = []
            for alert_id, reported in outcome.alerts.items():
                alert = Alert(
                    rule=rule, alert_id=alert_id, action_group=reported.action_group, context=reported.context
                )
                for action in actions:
                    if action.get("group") == reported.action_group and alert_id not in (
                        rule.muted_alert_ids or []
                    ):
                        variables = build_variables(
                            rule, rule_type, alert, reported.action_group, reported.context, run_at
                        )
                        planned.append(Planned(action, None, variables))
            with transaction.atomic():
                runs, _scheduled = _build_runs(rule, planned, run_at, execution_uuid, RunReport())
                queue.create_runs(runs)
            entry["status"] = Backfill.COMPLETE
            outcome_text = "success"
        except Exception as exc:  # one failed run is reported on its entry; the rest still run
            logger.warning("backfill %s run at %s failed: %s", backfill.id, entry["run_at"], exc)
            entry["status"] = Backfill.ERROR
            outcome_text = "failure"
        document = _alerting_event(
            rule,
            execution_uuid,
            "execute-backfill",
            f"rule executed: {rule.rule_type_id}:{rule.id}: '{rule.name}'",
            backfill={"id": backfill.id, "start": entry["run_at"], "interval": entry["interval"]},
        )
        document["event"]["outcome"] = outcome_text
        record(document)
        Backfill.objects.filter(pk=backfill.pk).update(schedule=entries)
    final = Backfill.COMPLETE if all(e["status"] == Backfill.COMPLETE for e in entries) else Backfill.ERROR
    Backfill.objects.filter(pk=backfill.pk).update(status=final, schedule=entries)
    backfill.refresh_from_db()
    return backfill


def find(space_id: str, *, rule_ids=None, start=None, end=None, sort_field="createdAt", sort_order="desc"):
    backfills = Backfill.objects.filter(space_id=space_id)
    if rule_ids:
        backfills = backfills.filter(rule_id__in=rule_ids)
    if start is not None:
        backfills = backfills.filter(start__gte=start)
    if end is not None:
        backfills = backfills.filter(end__lte=end)
    field = "start" if sort_field == "start" else "created_at"
    return backfills.order_by(("-" if sort_order == "desc" else "") + field, "id")
