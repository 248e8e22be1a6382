"""The one writer of the event log, `record()`, plus what other areas read from it: per-connector
health and retention. Documents are Kibana's event-log documents (spec §11)."""

from __future__ import annotations

import logging
import socket
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import Count

from connectors.redaction import scrub, secret_needles
from eventlog.metrics import advance_rollup
from eventlog.models import Event

logger = logging.getLogger("eventlog")

ECS_VERSION = "1.8.0"
# The Kibana release whose API this service follows: eventlog.api.status reports the same number.
KIBANA_VERSION = "9.4.0"
PROVIDER = "actions"
RETENTION_TASK = "eventlog.tasks.purge_expired_events"
RETENTION_SCHEDULE_NAME = "Event log retention"
LAST_ERROR_MAX = 200


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@cache
def server_uuid() -> str:
    """This instance's id (Kibana's `kibana.server_uuid` and the health API's `id`): stable for a host
    and data directory, different between instances of a scale-out deployment."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"connectors://{socket.gethostname()}/{settings.VAR_DIR}"))


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def secret_strings(secrets) -> list[str]:
    """The strings to redact for a secrets mapping: the executor's own rule (connectors.redaction)."""
    return secret_needles(secrets)


def _secrets_of_connector(document: dict):
    """The secrets of the connector a failure event names, to redact them from its error text.
    Only failure events pay for this (one row read and one decryption)."""
    connector_id = ((document.get("kibana") or {}).get("action") or {}).get("id")
    if not connector_id:
        return None
    from connectors.models import Connector
    from connectors.preconfigured import get_preconfigured

    try:
        connector = get_preconfigured(connector_id) or Connector.objects.filter(pk=connector_id).first()
        return connector.get_secrets() if connector is not None else None
    except Exception:  # unreadable secrets cannot be echoed by a service that never received them
        return None


def build_event(document: dict, *, secrets=None) -> Event:
    """The unsaved `Event` row for one document, with what Kibana's event-log service adds
    (`@timestamp`, `ecs.version`, `event.provider`, `kibana.server_uuid`, `kibana.version`).

    Secret values found in `error` (connectors.redaction's rule) are replaced by `[REDACTED]`, so
    a service that echoes a credential in its error text cannot put it in the log. `secrets` is the
    connector's secrets mapping (or a list of strings) when the caller has it open; otherwise, for
    failure events only, the named connector's secrets are opened here.
    """
    if secrets is None and document.get("error"):
        secrets = _secrets_of_connector(document)
    if secrets and document.get("error"):
        # Only the error text carries what a service sent back; the rest is built from our own data
        # (and a Kibana user named like a connector's basic-auth user must keep `user.name`).
        document = {**document, "error": scrub(document["error"], secret_strings(secrets))}
    if "@timestamp" in document:
        timestamp = _parse_iso(document["@timestamp"])
    else:
        timestamp = datetime.now(UTC)
        document["@timestamp"] = iso(timestamp)
    document.setdefault("ecs", {"version": ECS_VERSION})
    event_part = document.setdefault("event", {})
    event_part.setdefault("provider", PROVIDER)
    kibana = document.setdefault("kibana", {})
    kibana.setdefault("server_uuid", server_uuid())
    kibana.setdefault("version", KIBANA_VERSION)
    action = kibana.get("action") or {}
    execution = action.get("execution") or {}
    rule_ids = [so.get("id", "") for so in kibana.get("saved_objects") or () if so.get("type") == "alert"]
    return Event(
        timestamp=timestamp,
        provider=event_part["provider"],
        action=event_part.get("action", ""),
        outcome=event_part.get("outcome", ""),
        space_id=(kibana.get("space_ids") or ["default"])[0],
        connector_id=action.get("id", ""),
        connector_type_id=action.get("type_id", ""),
        execution_uuid=execution.get("uuid", ""),
        source=execution.get("source", ""),
        rule_id=rule_ids[0] if rule_ids else "",
        duration_ns=_int_or_none(event_part.get("duration")),
        schedule_delay_ns=_int_or_none((kibana.get("task") or {}).get("schedule_delay")),
        attempt=_int_or_none(execution.get("attempt")),
        message=document.get("message", ""),
        error_message=(document.get("error") or {}).get("message") or "",
        document=document,
    )


def record(document: dict, *, secrets=None) -> Event | None:
    """Store one event document (see `build_event` for what is added and redacted).

    One INSERT, no read: measured in benchmarks/eventlog_write.py. A failing write is logged and
    swallowed, as Kibana's event logger never fails the action it describes.
    """
    event = build_event(document, secrets=secrets)
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a failed write must not poison the caller's transaction
                event.save(force_insert=True)
        else:
            event.save(force_insert=True)
    except DatabaseError:
        logger.exception("could not write %s event for %s", event.action, event.connector_id or "-")
        return None
    return event


def record_many(events: list[Event]) -> None:
    """Store events built by `build_event` in one INSERT (the worker's batched journal). Unlike
    `record()`, a failure propagates: the caller keeps the batch and writes it again."""
    if not events:
        return
    if connection.vendor == "sqlite" and len(events) > 1:
        # bulk_create builds a placeholder and converts a value per field per row in Python (half a
        # batch's CPU); one statement run for every row by sqlite3's executemany does neither.
        fields = _insert_fields()
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO {} ({}) VALUES ({})".format(
                    connection.ops.quote_name(Event._meta.db_table),
                    ", ".join(connection.ops.quote_name(field.column) for field, _ in fields),
                    ", ".join(["%s"] * len(fields)),
                ),
                [
                    [
                        _db_value(field, plain, getattr(event, field.attname), connection)
                        for field, plain in fields
                    ]
                    for event in events
                ],
            )
        return
    if connection.vendor != "postgresql" or len(events) == 1:
        Event.objects.bulk_create(events)
        return
    # Django's bulk_create on PostgreSQL sends each column as one array (INSERT ... UNNEST), and
    # psycopg escapes every quote of every JSON document into that array's text in Python: about
    # half of a batch's CPU. Plain VALUES rows instead, each quoted with the same short template
    # (psycopg parses a long statement's placeholders on every call; a short one once).
    from psycopg import ClientCursor

    database = connections[DEFAULT_DB_ALIAS]
    fields = _insert_fields()
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with database.cursor() as cursor:
        quoting = ClientCursor(cursor.connection)
        rows = [
            quoting.mogrify(
                row,
                [_db_value(field, plain, getattr(event, field.attname), database) for field, plain in fields],
            )
            for event in events
        ]
        cursor.execute(
            "INSERT INTO {} ({}) VALUES {}".format(
                database.ops.quote_name(Event._meta.db_table),
                ", ".join(database.ops.quote_name(field.column) for field, _ in fields),
                ", ".join(rows),
            )
        )


@cache
def _insert_fields() -> list[tuple]:
    """The columns of an event INSERT, each with the Python type it takes as is: a str for the text
    columns, an int for the integer ones (anything else goes through Django's own conversion)."""
    plain = {"CharField": str, "TextField": str, "BigIntegerField": int, "PositiveIntegerField": int}
    return [
        (field, plain.get(field.get_internal_type()))
        for field in Event._meta.concrete_fields
        if not field.primary_key
    ]


def _db_value(field, plain: type | None, value, database):
    if (value is None and field.null) or (plain is not None and type(value) is plain):
        return value
    return field.get_db_prep_save(value, database)


# ---- per-connector health -------------------------------------------------------------------------


def _short_error(text: str) -> str:
    """The first line of an error, at most LAST_ERROR_MAX characters. Built from the result's
    `message` (our own wording), never from a service's response body."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= LAST_ERROR_MAX else line[: LAST_ERROR_MAX - 1] + "…"


def _error_head(error_message: str) -> str:
    """From an event's `error.message` (`<message>: <serviceMessage>; retry: ...`) keep `<message>`."""
    return (error_message or "").split(": ", 1)[0].split("; retry", 1)[0]


def connector_health(connector_ids, now: datetime | None = None) -> dict[str, dict]:
    """`{connector_id: {last_run_at, last_outcome, last_error, failures_last_24h}}` for each id,
    from the newest `execute` event and the failures in the 24 hours before `now`.

    `last_run_at` is an ISO string or None; `last_outcome` "success", "failure" or None; `last_error`
    a short line (no service response text) or None. Ids without runs get the empty entry.
    One grouped query for the failures, then one index lookup (newest `execute` by connector, time) per
    id: callers pass a page of ids, not a whole space. Works for preconfigured connectors (no row needed).
    """
    ids = [str(i) for i in dict.fromkeys(connector_ids)]
    now = now or datetime.now(UTC)
    health = {
        cid: {"last_run_at": None, "last_outcome": None, "last_error": None, "failures_last_24h": 0}
        for cid in ids
    }
    if not ids:
        return health
    executes = Event.objects.filter(action="execute", provider="actions", connector_id__in=ids)
    failures = (
        executes.filter(outcome="failure", timestamp__gte=now - timedelta(hours=24))
        .values("connector_id")
        .annotate(n=Count("id"))
    )
    for row in failures:
        health[row["connector_id"]]["failures_last_24h"] = row["n"]
    for cid in ids:
        last = (
            executes.filter(connector_id=cid)
            .order_by("-timestamp", "-id")
            .values("outcome", "document__event__start", "timestamp", "error_message")
            .first()
        )
        if last is None:
            continue
        health[cid]["last_run_at"] = last["document__event__start"] or iso(last["timestamp"])
        health[cid]["last_outcome"] = last["outcome"] or None
        if last["outcome"] == "failure":
            health[cid]["last_error"] = _short_error(_error_head(last["error_message"]))
    return health


# ---- retention ------------------------------------------------------------------------------------


def retention_seconds() -> float:
    from connectors.conf import get_config

    return float(get_config().get("connectors.eventLog.retention"))


def purge_expired_events(now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete events older than `connectors.eventLog.retention`, in batches (short write locks on
    SQLite). Returns how many were deleted. The /metrics rollup is folded first, so no run is lost
    from the counters however long ago a worker last folded."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=retention_seconds())
    advance_rollup()
    deleted = 0
    # Per event action, so each batch is a range on the (action, timestamp, ...) index.
    for action in list(Event.objects.order_by().values_list("action", flat=True).distinct()):
        while True:
            ids = list(
                Event.objects.filter(action=action, timestamp__lt=cutoff).values_list("id", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                break
            count, _ = Event.objects.filter(id__in=ids).delete()
            deleted += count
            if len(ids) < batch_size:
                break
    if deleted:
        logger.info("event log retention: deleted %d events older than %s", deleted, iso(cutoff))
    return deleted


def ensure_retention_schedule() -> bool:
    """Register the hourly retention task with django-q2 once. Idempotent: returns True when created."""
    from django_q.models import Schedule

    existing = Schedule.objects.filter(func=RETENTION_TASK)
    if existing.exists():
        return False
    Schedule.objects.create(
        name=RETENTION_SCHEDULE_NAME,
        func=RETENTION_TASK,
        schedule_type=Schedule.HOURLY,
        repeats=-1,
    )
    return True


def failures_last_24h(connector_ids=None, now: datetime | None = None, *, space_ids=None) -> dict[str, int]:
    """Failed runs per connector in the last 24 hours, in one grouped query (all connectors when
    `connector_ids` is None, which is cheaper than a huge IN list for whole-space listings).

    `space_ids` keeps the runs of those spaces only: a connector id deleted in one space can be
    taken in another, and the old connector's runs must not be counted as the new one's."""
    now = now or datetime.now(UTC)
    failures = Event.objects.filter(
        action="execute", provider="actions", outcome="failure", timestamp__gte=now - timedelta(hours=24)
    )
    if space_ids is not None:
        failures = failures.filter(space_id__in=list(space_ids))
    if connector_ids is not None:
        failures = failures.filter(connector_id__in=list(connector_ids))
    return {row["connector_id"]: row["n"] for row in failures.values("connector_id").annotate(n=Count("id"))}
