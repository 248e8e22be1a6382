"""An action's `alerts_filter`: which alerts it fires for. Its KQL query and filter pills are matched
against each alert's document (`actions.rule_variables.alert_doc`), its timeframe against the run time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from actions import kql
from actions.models import Rule

logger = logging.getLogger("actions")


def predicate(rule: Rule, action: dict, now: datetime):
    """A predicate over alert documents for the action's `alerts_filter`: its KQL query (and simple
    filters) against the alert's fields, its timeframe against the run time. No filter: all pass."""
    spec = action.get("alerts_filter") or {}
    timeframe, query = spec.get("timeframe"), spec.get("query")
    if timeframe and not in_timeframe(timeframe, now):
        return lambda doc: False
    if not query:
        return lambda doc: True
    try:
        node = kql.parse(query.get("kql") or "")
    except kql.KqlError as exc:
        logger.warning(
            'rule %s: action "%s" has an invalid alerts filter query: %s', rule.id, action["id"], exc
        )
        return lambda doc: False
    filters = [f for f in query.get("filters") or [] if not (f.get("meta") or {}).get("disabled")]
    return lambda doc: kql.matches(node, doc) and all(_filter_matches(rule, f, doc) for f in filters)


def in_timeframe(timeframe: dict, now: datetime) -> bool:
    """Kibana's timeframe: ISO weekdays (1 = Monday) and an hh:mm window in an IANA timezone; an end
    at or before the start is a window across midnight."""
    try:
        zone = ZoneInfo(timeframe["timezone"])
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        logger.warning("alerts filter timezone %r is unknown; using UTC", timeframe.get("timezone"))
        zone = UTC
    local = now.astimezone(zone)
    if local.isoweekday() not in timeframe.get("days", []):
        return False

    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    start, end = minutes(timeframe["hours"]["start"]), minutes(timeframe["hours"]["end"])
    moment = local.hour * 60 + local.minute + local.second / 60
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def _filter_matches(rule: Rule, item: dict, doc: dict) -> bool:
    """One Kibana filter pill (`{meta, query}`): match_phrase, match, term and exists queries;
    `meta.negate` inverts it. Other query types cannot be evaluated here and are ignored (logged)."""
    query = item.get("query") or {}
    negate = bool((item.get("meta") or {}).get("negate"))
    kind = next(iter(query), None)
    body = query.get(kind) or {}
    if kind == "exists":
        result = bool(kql.lookup(doc, body.get("field", "")))
    elif kind in ("match_phrase", "match", "term") and body:
        field, expected = next(iter(body.items()))
        if isinstance(expected, dict):
            expected = expected.get("query", expected.get("value"))
        result = any(str(value) == str(expected) for value in kql.lookup(doc, field))
    else:
        logger.warning("rule %s: alerts filter query %r is not supported; ignored", rule.id, kind)
        return True
    return result != negate
