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


def _search_matcher(query):
    fields = query.getlist("search_fields") or ["name", "tags"]
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
        checks.append(_search_matcher(query))
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
    if query.get("filter"):
        try:
            node = kql.parse(query["filter"].replace("alert.attributes.", ""))
        except kql.KqlError as exc:
            raise BadRequest(f"KQLSyntaxError: {exc}") from None
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
