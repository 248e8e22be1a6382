"""Running a connector: the one code path for `_execute`, the admin's Test tab and queued runs.

`execute()` mirrors Kibana's ActionExecutor: log `execute-start`, check the type is enabled, open and
validate secrets and config, validate params, run the type, log `execute` with the outcome, and return
a Kibana-shaped result. Connector failures are results, never exceptions.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q

from actions.dblock import serialized_writes
from connectors import registry
from connectors.base import ExecutionContext, ExecutionResult
from connectors.conf import get_config
from connectors.exceptions import (
    UNEXPECTED_ERROR_MESSAGE,
    ActionTypeDisabled,
    ConfigurationError,
    ConnectorError,
    SecretsUnreadable,
)
from connectors.fields import open_sealed
from connectors.http import counting_request_body_bytes
from connectors.models import Connector
from connectors.prepared import PreparedGet
from connectors.redaction import run_secrets, scrub_result, scrubbed_traceback
from eventlog.services import iso, record

logger = logging.getLogger("actions")


@dataclass
class RuleContext:
    """Set when a rule triggered the run: adds the rule's saved object and fields to the events."""

    rule_id: str
    rule_type_id: str
    consumer: str = "alerts"
    execution_uuid: str = ""
    space_id: str = "default"


@dataclass
class RunInfo:
    """Where a run came from and which attempt it is (our extension to Kibana's event)."""

    source: str = "http_request"
    execution_uuid: str = ""
    user: str | None = None
    attempt: int = 1
    max_attempts: int = 1
    rule: RuleContext | None = None
    scheduled_at: datetime | None = None
    final: bool | None = None  # None: decided from the result


def type_enabled(connector: Connector) -> bool:
    if connector.is_preconfigured:
        return True  # preconfigured connectors run even when their type is disabled in config
    return registry.is_enabled_in_config(connector.connector_type_id, get_config())


def _space_of(connector: Connector, run: RunInfo) -> str:
    if connector.is_preconfigured:
        return run.rule.space_id if run.rule else getattr(connector, "run_space_id", "default")
    return connector.space_id


def _base_document(connector: Connector, run: RunInfo, action: str, space_id: str) -> dict:
    saved_object = {
        "rel": "primary",
        "type": "action",
        "id": connector.id,
        "type_id": connector.connector_type_id,
    }
    if space_id != "default":
        saved_object["namespace"] = space_id
    if connector.is_preconfigured or connector.is_system_action:
        saved_object["space_agnostic"] = True
    saved_objects = [saved_object]
    kibana: dict = {
        "saved_objects": saved_objects,
        "space_ids": [space_id],
        "action": {
            "name": connector.name,
            "id": connector.id,
            "type_id": connector.connector_type_id,
            "execution": {"uuid": run.execution_uuid, "source": run.source},
        },
    }
    if run.rule:
        rule_object = {
            "rel": "primary",
            "type": "alert",
            "id": run.rule.rule_id,
            "type_id": run.rule.rule_type_id,
        }
        if run.rule.space_id != "default":
            rule_object["namespace"] = run.rule.space_id
        saved_objects.append(rule_object)
        rule_fields = {"consumer": run.rule.consumer, "rule_type_id": run.rule.rule_type_id}
        if run.rule.execution_uuid:
            rule_fields["execution"] = {"uuid": run.rule.execution_uuid}
        kibana["alert"] = {"rule": rule_fields}
    if run.scheduled_at:
        kibana["task"] = {
            "scheduled": iso(run.scheduled_at),
            "schedule_delay": int((datetime.now(UTC) - run.scheduled_at).total_seconds() * 1e9),
        }
    document = {"event": {"action": action, "kind": "action"}, "kibana": kibana}
    if run.user:
        document["user"] = {"name": run.user}
    return document


def _error_text(result: ExecutionResult) -> str:
    """Kibana's actionErrorToMessage: the retry suffix appears only when a retry is asked for."""
    text = result.message or "unknown error running action"
    if result.service_message:
        text += f": {result.service_message}"
    if isinstance(result.retry, datetime):
        text += f"; retry at {iso(result.retry)}"
    elif result.retry:
        text += "; retry: true"
    return text


def rate_limit_of(type_id: str) -> dict | None:
    """The per-type sliding window of `connectors.rateLimits` (and Kibana 9.1's
    `xpack.actions.rateLimiter.<type>`), or None."""
    config = get_config()
    return config["connectors.rateLimits"].get(type_id) or config["xpack.actions.rateLimiter"].get(
        type_id.lstrip(".")
    )


def rate_limit_exceeded(type_id: str) -> bool:
    """Whether the type's window is full, counted over `execute-start` events of all processes."""
    limit = rate_limit_of(type_id)
    if not limit:
        return False
    from eventlog.models import Event

    since = datetime.now(UTC) - timedelta(seconds=limit["lookbackWindow"])
    started = Event.objects.filter(
        provider="actions", action="execute-start", connector_type_id=type_id, timestamp__gte=since
    ).count()
    # This run's own execute-start is already recorded, so it is over the limit only beyond it.
    return started > limit["limit"]


@functools.lru_cache(maxsize=512)
def _opened(keys: tuple, sealed: str, connector_id: str, type_id: str) -> str:
    """The secrets of one sealed token, as JSON text. Keyed by the encryption keys too, so an entry
    never outlives a key change; a connector whose secrets change has a new token."""
    return json.dumps(open_sealed(sealed, connector_id=connector_id, type_id=type_id))


def _open_secrets(connector: Connector) -> dict:
    """`connector.get_secrets()`, decrypting each stored token once per process (a worker runs the
    same connector many times). Each run gets a dict of its own."""
    if getattr(connector, "_plain_secrets", None) is not None or not connector.secrets_sealed:
        return connector.get_secrets()
    keys = tuple(django_settings.FIELD_ENCRYPTION_KEY)
    return json.loads(_opened(keys, connector.secrets_sealed, connector.id, connector.connector_type_id))


def _run_type(connector: Connector, params: dict, run: RunInfo, space_id: str) -> ExecutionResult:
    config = get_config()
    connector_type = registry.get(connector.connector_type_id)
    if not type_enabled(connector):
        return ExecutionResult.from_error(ActionTypeDisabled(connector.connector_type_id))
    if run.source != "http_request" and rate_limit_exceeded(connector.connector_type_id):
        return ExecutionResult(
            status="error",
            message=f"Action execution rate limit exceeded for connector: {connector.connector_type_id}",
            retry=True,
            error_source="framework",
        )
    if connector.is_missing_secrets and not connector.is_preconfigured:
        return ExecutionResult(
            status="error",
            message=f'Unable to execute action because no secrets are defined for the "{connector.name}" connector.',
            retry=False,
            error_source="user",
        )
    try:
        secrets = _open_secrets(connector)
        validated_config = connector_type.validate_config(connector.config, config)
        validated_secrets = connector_type.validate_secrets(secrets, config)
        connector_type.validate_connector(validated_config, validated_secrets)
    except ConfigurationError as exc:
        exc.error_source = "framework"
        return ExecutionResult.from_error(exc)
    except SecretsUnreadable as exc:
        return ExecutionResult.from_error(exc)
    try:
        validated_params = connector_type.validate_params(params, config)
    except ConfigurationError as exc:
        result = ExecutionResult.from_error(exc)
        result.retry = run.source != "http_request"  # Kibana: retry as a task, not over HTTP
        result.error_source = "user"
        return result
    ctx = ExecutionContext(
        connector_id=connector.id,
        connector_name=connector.name,
        config=validated_config,
        secrets=validated_secrets,
        params=validated_params,
        settings=config,
        space_id=space_id,
        execution_id=run.execution_uuid,
        source=run.source,
    )
    # What the run minted from the secrets (an OAuth access token) is as secret as they are.
    with run_secrets(validated_secrets) as hidden:
        try:
            result = connector_type.run(ctx)
        except ConnectorError as exc:
            result = ExecutionResult.from_error(exc)
        except Exception as exc:  # a bug in a type: still a result, and a traceback in the log
            # The traceback carries the exception's message, which may hold a secret: log it scrubbed.
            logger.error(
                "connector %s (%s) raised\n%s",
                connector.id,
                connector.connector_type_id,
                scrubbed_traceback(exc, hidden),
            )
            result = ExecutionResult(
                status="error",
                message=UNEXPECTED_ERROR_MESSAGE,
                service_message=str(exc),
                retry=True,
                error_source="framework",
            )
    # A service may echo what it was sent: no secret leaves in the result (connectors/redaction.py).
    return scrub_result(result if result is not None else ExecutionResult.success(), hidden)


class RunLog:
    """Where `execute()` writes a run's `execute-start` and `execute` events and the connector's
    health. This default writes at once (`_execute`, the Test tab, in-process draining); a worker
    process batches the same writes (actions.journal)."""

    def started(self, connector: Connector, document: dict) -> None:
        with serialized_writes():
            record(document)

    def finished(self, connector: Connector, document: dict, result: ExecutionResult, started_at) -> None:
        with serialized_writes():
            record(document)
            if not connector.is_preconfigured and connector.pk:
                update_health(connector.pk, result, started_at)


def execute(
    connector: Connector, params: dict, run: RunInfo | None = None, log: RunLog | None = None
) -> ExecutionResult:
    """Run `connector` once with `params`; log both events; update the connector's health."""
    run = run or RunInfo()
    log = log or RunLog()
    if not run.execution_uuid:
        run.execution_uuid = str(uuid.uuid4())
    space_id = _space_of(connector, run)
    label = f"{connector.connector_type_id}:{connector.id}: {connector.name}"

    start_doc = _base_document(connector, run, "execute-start", space_id)
    start_doc["message"] = f"action started: {label}"
    started_at = datetime.now(UTC)
    start_doc["event"]["start"] = iso(started_at)
    start_doc["@timestamp"] = iso(started_at)
    log.started(connector, start_doc)

    clock = time.monotonic_ns()
    with counting_request_body_bytes() as body_bytes:
        result = _run_type(connector, params, run, space_id)
    duration_ns = time.monotonic_ns() - clock

    doc = _base_document(connector, run, "execute", space_id)
    ended_at = datetime.now(UTC)
    doc["@timestamp"] = iso(ended_at)
    doc["event"].update(
        {
            "start": iso(started_at),
            "end": iso(ended_at),
            "duration": str(duration_ns),
            "outcome": "success" if result.ok else "failure",
        }
    )
    execution = doc["kibana"]["action"]["execution"]
    execution["attempt"] = run.attempt
    execution["max_attempts"] = run.max_attempts
    execution["usage"] = {"request_body_bytes": body_bytes[0]}
    if result.ok:
        doc["message"] = f"action executed: {label}"
        execution["final"] = True
    else:
        doc["message"] = f"action execution failure: {label}"
        doc["error"] = {"message": _error_text(result)}
        will_retry = bool(result.retry) and run.attempt < run.max_attempts
        execution["final"] = run.final if run.final is not None else not will_retry
    log.finished(connector, doc, result, started_at)
    return result


def update_health(connector_pk: str, result: ExecutionResult, started_at: datetime) -> None:
    """Keep the row's health current in one conditional UPDATE. The write is skipped when nothing
    would change but a timestamp less than a second old: under load this saves a database write per
    run (SQLite has one writer)."""
    error = "" if result.ok else (result.message or "")[:500]
    outcome = "success" if result.ok else "failure"
    unchanged = Q(last_outcome=outcome, last_error=error, last_run_at__gt=started_at - timedelta(seconds=1))
    Connector.objects.filter(pk=connector_pk).exclude(unchanged).update(
        last_run_at=started_at, last_outcome=outcome, last_error=error
    )


def record_missing_connector(run: RunInfo, connector_id: str, type_id: str, space_id: str) -> ExecutionResult:
    """A queued run whose connector was deleted: Kibana's not-found failure, logged like any run."""
    placeholder = Connector(id=connector_id, connector_type_id=type_id, name="", space_id=space_id)
    result = ExecutionResult(
        status="error",
        message=f"Saved object [action/{connector_id}] not found",
        retry=False,
        error_source="user",
    )
    if not run.execution_uuid:
        run.execution_uuid = str(uuid.uuid4())
    doc = _base_document(placeholder, run, "execute", space_id)
    now = iso(datetime.now(UTC))
    doc["event"].update({"start": now, "end": now, "duration": "0", "outcome": "failure"})
    doc["kibana"]["action"]["execution"].update(
        {"attempt": run.attempt, "max_attempts": run.max_attempts, "final": True}
    )
    doc["message"] = f"action execution failure: {type_id}:{connector_id}: "
    doc["error"] = {"message": _error_text(result)}
    record(doc)
    logger.error("action %s:%s failed: %s", type_id, connector_id, result.message)
    return result


def record_timeout(connector: Connector, run: RunInfo, timeout_text: str = "", *, reason: str = "") -> None:
    """Kibana's `execute-timeout` event for a run that outlived its lease (Kibana's message, with
    `timeout_text`), or, with `reason`, for a run taken back from a worker that was lost."""
    space_id = _space_of(connector, run)
    doc = _base_document(connector, run, "execute-timeout", space_id)
    head = f"action: {connector.connector_type_id}:{connector.id}: '{connector.name}'"
    doc["message"] = (
        f"{head} {reason}"
        if reason
        else f'{head} execution cancelled due to timeout - exceeded default timeout of "{timeout_text}"'
    )
    record(doc)
    logger.warning(doc["message"])


class QueueFull(Exception):
    """`xpack.actions.queued.max` reached."""

    message = "The maximum number of queued actions was reached; excess actions were not triggered."

    def __str__(self):
        return self.message


_connector_in_space = PreparedGet(lambda pk, space_id: Connector.objects.filter(pk=pk, space_id=space_id))


def enqueue(connector_id: str | Connector, params: dict, space: str = "default", *, user: str | None = None):
    """Queue one background run of a connector for an application (our extension).

    `connector_id` may be the connector itself, as the API's view passes it after looking it up
    with the caller's privilege (connectors.access). Raises `connectors.services.ConnectorNotFound`
    (Kibana's not-found message), `ActionTypeDisabled`, `ConfigurationError` (missing secrets) or
    `QueueFull`. Returns the queued `ActionRun`.
    """
    from actions import queue
    from connectors.preconfigured import get_preconfigured
    from connectors.services import ConnectorNotFound

    # find_connector()'s rules, with the row read through SQL built once: every `_enqueue` request
    # comes here, and building the statement cost more CPU than running it.
    if isinstance(connector_id, Connector):
        connector = connector_id
    elif (connector := get_preconfigured(connector_id)) is not None:
        connector.run_space_id = space
    else:
        connector = _connector_in_space(pk=connector_id, space_id=space)
        if connector is None:
            raise ConnectorNotFound(connector_id)
    if not type_enabled(connector):
        raise ActionTypeDisabled(connector.connector_type_id)
    if connector.is_missing_secrets and not connector.is_preconfigured:
        raise ConfigurationError(
            f'Unable to execute action because no secrets are defined for the "{connector.name}" connector.'
        )
    if queue.free_slots(1) < 1:
        raise QueueFull()
    # One INSERT, committed on its own; the hand-off to the workers follows the commit.
    (run,) = queue.create_runs([queue.new_run(connector, params, space_id=space, source="background_task")])
    return run


BULK_ENQUEUE_MAX = 1000  # actions per `_bulk_enqueue` request


@dataclass
class Enqueued:
    """One item of `enqueue_many`: the queued run, or why it was refused (Kibana's status and message)."""

    connector_id: str
    run: object | None = None  # the queued ActionRun
    status_code: int = 202
    message: str = ""


def enqueue_many(space: str, items: list[tuple[str, dict]], *, user: str | None = None) -> list[Enqueued]:
    """Queue many background runs in one transaction: one connector query, one INSERT, one hand-off.

    Each item is `(connector id, params)` and is judged alone, with `enqueue()`'s rules and messages:
    an unknown connector is a 404 item, a disabled type a 403, missing secrets a 400, and items past
    `xpack.actions.queued.max` a 429, while the rest are queued.
    """
    from actions import queue
    from connectors.preconfigured import get_preconfigured
    from connectors.services import ConnectorNotFound

    wanted = {connector_id for connector_id, _ in items}
    found = {c.id: c for c in Connector.objects.filter(space_id=space, pk__in=wanted)}
    results: list[Enqueued] = []
    accepted: list[tuple[Enqueued, Connector, dict]] = []
    for connector_id, params in items:
        item = Enqueued(connector_id)
        results.append(item)
        connector = get_preconfigured(connector_id) or found.get(connector_id)
        if connector is None:
            item.status_code, item.message = 404, str(ConnectorNotFound(connector_id))
        elif not type_enabled(connector):
            item.status_code, item.message = 403, ActionTypeDisabled(connector.connector_type_id).message
        elif connector.is_missing_secrets and not connector.is_preconfigured:
            item.status_code, item.message = (
                400,
                (
                    f'Unable to execute action because no secrets are defined for the "{connector.name}" connector.'
                ),
            )
        else:
            accepted.append((item, connector, params))
    room = queue.free_slots(len(accepted)) if accepted else 0
    for item, _, _ in accepted[room:]:
        item.status_code, item.message = 429, QueueFull.message
    accepted = accepted[:room]
    with serialized_writes(), transaction.atomic():
        runs = queue.create_runs(
            [queue.new_run(c, params, space_id=space, source="background_task") for _, c, params in accepted]
        )
    for (item, _, _), run in zip(accepted, runs, strict=True):
        item.run = run
    return results


def run_for_connectors_app(
    connector: Connector, params: dict, *, source: str, user: str | None
) -> ExecutionResult:
    """`_execute` and the admin's Test tab run a connector through here (connectors.extensions)."""
    return execute(connector, params, RunInfo(source=source, user=user))
