"""The one writer of the event log: `record()`. Documents are Kibana's event-log documents."""

import logging
from datetime import UTC, datetime

from eventlog.models import Event

logger = logging.getLogger("eventlog")

ECS_VERSION = "1.8.0"
KIBANA_VERSION = "8.18.0"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def record(document: dict) -> Event:
    """Store one event document (adds `@timestamp`, `ecs`, `event.provider` as Kibana's service does)."""
    document.setdefault("@timestamp", iso(datetime.now(UTC)))
    document.setdefault("ecs", {"version": ECS_VERSION})
    event_part = document.setdefault("event", {})
    event_part.setdefault("provider", "actions")
    kibana = document.setdefault("kibana", {})
    kibana.setdefault("version", KIBANA_VERSION)
    action = kibana.get("action", {})
    rule_objects = [so for so in kibana.get("saved_objects", []) if so.get("type") == "alert"]
    duration = event_part.get("duration")
    return Event.objects.create(
        timestamp=_parse_iso(document["@timestamp"]),
        provider=event_part["provider"],
        action=event_part.get("action", ""),
        outcome=event_part.get("outcome", ""),
        space_id=(kibana.get("space_ids") or ["default"])[0],
        connector_id=action.get("id", ""),
        connector_type_id=action.get("type_id", ""),
        execution_uuid=action.get("execution", {}).get("uuid", ""),
        source=action.get("execution", {}).get("source", ""),
        rule_id=rule_objects[0]["id"] if rule_objects else "",
        duration_ns=int(duration) if duration is not None else None,
        message=document.get("message", ""),
        document=document,
    )
