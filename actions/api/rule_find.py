"""Kibana's rules `_find` query: its keys and paging (checked as the route schema checks them), and
`search`, `filter`, `has_reference`, consumers and sorting over a space's rules."""

from __future__ import annotations

import json

from django.db.models import F
from django.db.models.functions import Lower

from actions.models import Rule
from actions.rules import iso
from connectors.api.base import refuse_unknown_query_keys
from connectors.api.errors import BadRequest, KibanaError
from connectors.schemas import Object, SchemaError, String

HAS_REFERENCE = Object({"type": String(), "id": String()})
FIND_KEYS = {
    "per_page",
    "page",
    "search",
    "default_search_operator",
    "search_fields",
    "sort_field",
    "sort_order",
    "has_reference",
    "fields",
    "filter",
    "filter_consumers",
}
SORT_FIELDS = {
    "name": "name",
    "updatedAt": "updated_at",
    "updated_at": "updated_at",
    "createdAt": "created_at",
    "created_at": "created_at",
    "enabled": "enabled",
    "alertTypeId": "rule_type_id",
    "rule_type_id": "rule_type_id",
    "consumer": "consumer",
}
# Kibana's fieldsToExcludeFromPublicApi (rules_client.ts): the public `_find` refuses to sort,
# search or filter on them, and never returns them.
EXCLUDED_FROM_PUBLIC_API = ("monitoring", "mapped_params", "snoozeSchedule", "activeSnoozes")
# `fields` names saved-object attributes; each attribute's key in the API's rule object.
FIELD_KEYS = {
    "name": "name",
    "tags": "tags",
    "enabled": "enabled",
    "alertTypeId": "rule_type_id",
    "consumer": "consumer",
    "schedule": "schedule",
    "actions": "actions",
    "params": "params",
    "scheduledTaskId": "scheduled_task_id",
    "createdBy": "created_by",
    "updatedBy": "updated_by",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "apiKeyOwner": "api_key_owner",
    "apiKeyCreatedByUser": "api_key_created_by_user",
    "throttle": "throttle",
    "muteAll": "mute_all",
    "notifyWhen": "notify_when",
    "mutedInstanceIds": "muted_alert_ids",
    "executionStatus": "execution_status",
    "lastRun": "last_run",
    "nextRun": "next_run",
    "revision": "revision",
    "running": "running",
    "alertDelay": "alert_delay",
    "flapping": "flapping",
}
ATTRIBUTES = {
    "name": "name",
    "tags": "tags",
    "alertTypeId": "rule_type_id",
    "consumer": "consumer",
    "enabled": "enabled",
    "muteAll": "mute_all",
    "params": "params",
    "createdBy": "created_by",
    "updatedBy": "updated_by",
    "notifyWhen": "notify_when",
    "throttle": "throttle",
    "schedule": "schedule",
    "executionStatus": "execution_status",
    "lastRun": "last_run",
}


def int_param(name: str, value: str | None, default: int, minimum: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(
            f"[request query.{name}]: expected value of type [number] but got [string]"
        ) from None
    if number < minimum:
        raise BadRequest(f"[request query.{name}]: Value must be equal to or greater than [{minimum}].")
    return number


def _attributes(rule: Rule) -> dict:
    """The rule's saved-object attributes that `search` and `filter` read. Built from the row alone:
    no connector lookups (those are only needed for the page's API shape)."""
    return {
        "name": rule.name,
        "tags": rule.tags,
        "alertTypeId": rule.rule_type_id,
        "consumer": rule.consumer,
        "enabled": rule.enabled,
        "muteAll": rule.mute_all,
        "params": rule.params,
        "createdBy": rule.created_by,
        "updatedBy": rule.updated_by,
        "notifyWhen": rule.notify_when,
        "throttle": rule.throttle,
        "schedule": {"interval": rule.schedule_interval},
        "executionStatus": rule.execution_status
        or {"status": "pending", "last_execution_date": iso(rule.created_at)},
        "lastRun": rule.last_run,
    }


# Elasticsearch's index.max_result_window: Kibana's rules `_find` is a saved-objects search, so
# `page * per_page` beyond it fails in Elasticsearch and the route answers 400 with its reason.
MAX_RESULT_WINDOW = 10000


def _consumers_param(query) -> list[str] | None:
    """`filter_consumers` as config-schema reads an array: the repeated key, or one JSON array
    string; a single plain value fails JSON parsing (400)."""
    values = query.getlist("filter_consumers")
    if not values:
        return None
    if len(values) > 1:
        return values
    try:
        parsed = json.loads(values[0])
    except ValueError:
        parsed = None
    if not isinstance(parsed, list):
        raise BadRequest("[request query.filter_consumers]: could not parse array value from json input")
    return [str(value) for value in parsed]


def string_or_array_param(query, name: str) -> list[str] | None:
    """Kibana's stringOrStringArraySchema (`oneOf([arrayOf(string), string])`): the repeated key, one
    JSON array of strings, or one plain string."""
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        return values
    try:
        parsed = json.loads(values[0])
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and all(isinstance(value, str) for value in parsed):
        return parsed
    return values


def pick_fields(body: dict, fields: list[str]) -> dict:
    """A rule object as Kibana's `_find` answers it with `fields`: the attributes named (by their
    saved-object names) are read alone, so the rule keeps its id and an empty `actions` list
    besides them; attributes kept from the public API are never returned."""
    keys = {FIELD_KEYS[field] for field in fields if field in FIELD_KEYS}
    picked = {"id": body["id"], "actions": body["actions"] if "actions" in keys else []}
    picked.update({key: value for key, value in body.items() if key in keys and key != "actions"})
    return picked


def _filter_fields(node) -> list[str]:
    """The field names of a parsed KQL filter, in Kibana's walk order (depth first, left to right)."""
    if node is None:
        return []
    kind = node[0]
    if kind in ("or", "and"):
        return [field for child in node[1] for field in _filter_fields(child)]
    if kind == "not":
        return _filter_fields(node[1])
    if kind in ("field", "range"):
        return [node[1]]
    return []


def check_public_attributes(query, search_fields: list[str] | None, filter_node) -> None:
    """Kibana's validateOperationOnAttributes for the public API: sort, search and filter on an
    attribute it keeps from the public API are refused (`Error find rules: ...`)."""

    def excluded(field: str) -> bool:
        first = field.split(".")[0]
        return any(name in first for name in EXCLUDED_FROM_PUBLIC_API)

    sort_field = query.get("sort_field")
    if sort_field and excluded(sort_field):
        raise BadRequest(f"Error find rules: Sort is not supported on this field {sort_field}")
    refused = [field for field in search_fields or [] if excluded(field)]
    if refused:
        raise BadRequest(f"Error find rules: Search field {','.join(refused)} not supported")
    for field in _filter_fields(filter_node):
        first = next((part for part in field.split(".") if part not in ("alert", "attributes")), "")
        if first in EXCLUDED_FROM_PUBLIC_API:
            raise BadRequest(f"Error find rules: Filter is not supported on this field {field}")


def _search_matcher(query, search_fields: list[str] | None):
    fields = search_fields or ["name", "tags"]
    terms = [t for t in query["search"].split() if t]
    mode = all if query.get("default_search_operator") == "AND" else any

    def matches(attributes: dict, term: str) -> bool:
        pattern = term.strip('"').lower()
        values = []
        for field in fields:
            value = attributes.get(field.replace("alert.attributes.", ""), "")
            values.extend(value if isinstance(value, list) else [value])
        texts = [str(v).lower() for v in values if v is not None]
        if pattern.endswith("*"):
            return any(word.startswith(pattern[:-1]) for t in texts for word in [t, *t.split()])
        return any(pattern == t or pattern in t.split() for t in texts)

    return lambda attributes, rule: mode(matches(attributes, t) for t in terms)


def _literal_param(query, name: str, allowed: tuple[str, ...]) -> None:
    """config-schema's `oneOf([literal(a), literal(b)])`: case-sensitive, every branch named."""
    value = query.get(name)
    if value is None or value in allowed:
        return
    branches = "\n".join(
        f"- [request query.{name}.{i}]: expected value to equal [{literal}]"
        for i, literal in enumerate(allowed)
    )
    raise BadRequest(f"[request query.{name}]: types that failed validation:\n{branches}")


def check_find_query(query) -> tuple[int, int, list[str] | None]:
    """The query's keys, paging and consumers, checked before authorization as Kibana's route schema
    does: `(per_page, page, consumers)`."""
    refuse_unknown_query_keys(query, FIND_KEYS)
    per_page = int_param("per_page", query.get("per_page"), 10, 0)
    page = int_param("page", query.get("page"), 1, 1)
    _literal_param(query, "default_search_operator", ("OR", "AND"))
    _literal_param(query, "sort_order", ("asc", "desc"))
    consumers = _consumers_param(query)
    if page * per_page > MAX_RESULT_WINDOW:
        raise BadRequest(
            "all shards failed: search_phase_execution_exception: [illegal_argument_exception] "
            "Reason: Result window is too large, from + size must be less than or equal to: "
            f"[{MAX_RESULT_WINDOW}] but was [{page * per_page}]. See the scroll api for a more "
            "efficient way to request large data sets. This limit can be set by changing the "
            "[index.max_result_window] index level setting."
        )
    return per_page, page, consumers


def find_rules(space_id: str, query, *, per_page: int, page: int, consumers: list[str] | None):
    """`(total, the page's rules)`. Consumers, sorting and paging run in the database; `search`,
    `filter` and `has_reference` (which read JSON attributes) over the space's rules in Python, each
    rule's attributes built once."""
    from actions import kql

    search_fields = string_or_array_param(query, "search_fields")
    filter_node = None
    if query.get("filter"):
        try:
            filter_node = kql.parse(query["filter"])
        except kql.KqlError as exc:
            raise BadRequest(f"KQLSyntaxError: {exc}") from None
    check_public_attributes(query, search_fields, filter_node)
    rules = Rule.objects.filter(space_id=space_id)
    if consumers is not None:
        rules = rules.filter(consumer__in=consumers)
    sort_field = query.get("sort_field")
    if query.get("sort_order") and not sort_field:
        # Kibana's saved-objects search DSL: `Boom.notAcceptable`, answered as is (406).
        raise KibanaError("sortOrder requires a sortField", 406)
    descending = query.get("sort_order") == "desc"
    if sort_field:
        attr = SORT_FIELDS.get(sort_field, "name")
        key = Lower(attr) if attr == "name" else F(attr)
        rules = rules.order_by(key.desc() if descending else key.asc(), "id")
    else:
        rules = rules.order_by("name", "id")
    checks = []
    if query.get("search"):
        checks.append(_search_matcher(query, search_fields))
    reference = query.get("has_reference")
    if reference:
        # Kibana's query schema: schema.maybe(schema.object({type, id})), which JSON-parses the text.
        try:
            ref = HAS_REFERENCE.validate(reference, "request query.has_reference")
        except SchemaError as exc:
            raise BadRequest(str(exc)) from None
        if ref.get("type") != "action":
            rules = rules.none()
        else:
            wanted = ref.get("id")
            checks.append(lambda attributes, rule: wanted in rule.connector_ids())
    if filter_node is not None:
        node = kql.parse(query["filter"].replace("alert.attributes.", ""))
        checks.append(lambda attributes, rule: kql.matches(node, attributes))
    if checks:
        matching = []
        for rule in rules:
            attributes = _attributes(rule)
            if all(check(attributes, rule) for check in checks):
                matching.append(rule)
        total = len(matching)
        window = matching[(page - 1) * per_page : page * per_page]
    else:
        total = rules.count()
        window = list(rules[(page - 1) * per_page : page * per_page])
    return total, window
