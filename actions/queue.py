"""Creating durable action runs and handing them to django-q2 (only the row id travels).

Rows are written in the caller's transaction; the task is queued on commit, so a rolled-back rule
run queues nothing and a committed one can never lose its runs (a lost task is found by polling).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from actions.models import ActionRun
from connectors import registry
from connectors.conf import get_config

logger = logging.getLogger("actions")
DEFAULT_MAX_ATTEMPTS = 3
TASK = "actions.tasks.run_action"


def max_attempts_for(type_id: str) -> int:
    """Kibana's getMaxAttempts: type override, then run.maxAttempts, then the type's own, then 3."""
    config = get_config()
    for override in config["xpack.actions.run.connectorTypeOverrides"]:
        if override["id"] == type_id and override.get("maxAttempts"):
            return override["maxAttempts"]
    if config["xpack.actions.run.maxAttempts"]:
        return config["xpack.actions.run.maxAttempts"]
    if registry.is_registered(type_id) and registry.get(type_id).max_attempts:
        return registry.get(type_id).max_attempts
    return DEFAULT_MAX_ATTEMPTS


def retry_at(attempts: int, retry: bool | datetime, now: datetime | None = None) -> datetime:
    """When to try again after `attempts` failed tries: a date from the result is used as is; else
    the first retry waits 30 s, later ones a random delay up to 5m x 2^(attempts-2), capped at 1 h."""
    now = now or timezone.now()
    if isinstance(retry, datetime):
        return retry
    config = get_config()
    first = config["connectors.actions.firstRetryDelay"]
    if attempts <= 1:
        return now + timedelta(seconds=first)
    cap = min(
        config["connectors.actions.backoffBase"] * 2 ** (attempts - 2),
        config["connectors.actions.backoffMax"],
    )
    return now + timedelta(seconds=random.uniform(min(first, cap), cap))


def pending_count() -> int:
    return ActionRun.objects.filter(status__in=(ActionRun.QUEUED, ActionRun.RUNNING)).count()


def free_slots(wanted: int) -> int:
    """How many of `wanted` new runs fit under `xpack.actions.queued.max`."""
    limit = get_config()["xpack.actions.queued.max"]
    return max(0, min(wanted, limit - pending_count()))


def new_run(
    connector,
    params: dict,
    *,
    space_id: str,
    source: str,
    rule=None,
    rule_execution_uuid: str = "",
) -> ActionRun:
    type_id = connector.connector_type_id
    dedup_key = ""
    if registry.is_registered(type_id):
        dedup_key = (registry.get(type_id).dedup_key(params) or "")[:255]
    return ActionRun(
        space_id=space_id,
        connector_id=connector.id,
        connector_type_id=type_id,
        params=params,
        max_attempts=max_attempts_for(type_id),
        due_at=timezone.now(),
        source=source,
        rule_id=rule.id if rule else "",
        rule_type_id=rule.rule_type_id if rule else "",
        rule_consumer=rule.consumer if rule else "",
        rule_execution_uuid=rule_execution_uuid,
        dedup_key=dedup_key,
    )


def create_runs(runs: list[ActionRun]) -> list[ActionRun]:
    """Insert the rows now and queue one task per row when the surrounding transaction commits."""
    if not runs:
        return []
    created = ActionRun.objects.bulk_create(runs)
    ids = [run.pk for run in created]
    if _broker_shares_the_database() and not transaction.get_autocommit():
        # django-q2's ORM broker writes its queue row in our database: inside this transaction the
        # run rows and their tasks commit (or roll back) together, in one write transaction.
        _push(ids)
    else:
        transaction.on_commit(lambda: queue_tasks(ids))
    return created


def _broker_shares_the_database() -> bool:
    cluster = settings.Q_CLUSTER
    return bool(cluster.get("orm")) and not cluster.get("sync")


def _push(ids: list[int]) -> None:
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    broker = get_broker()
    for run_id in ids:
        async_task(TASK, run_id, q_options={"broker": broker, "task_name": f"action-run-{run_id}"})


def queue_tasks(ids: list[int]) -> None:
    """Hand run ids to django-q2 after commit. A failure here loses nothing: polling picks the rows
    up after `connectors.actions.lostTaskGrace`."""
    try:
        _push(ids)
    except Exception:
        logger.exception("could not queue action runs %s; polling will pick them up", ids[:10])


def queue_rule_run(rule_id: str) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("actions.tasks.run_rule", rule_id, q_options={"task_name": f"rule-run-{rule_id}"})
    )
