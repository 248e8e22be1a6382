"""Kibana's rules `_find` query: its keys and paging (checked as the route schema checks them), and
`search`, `filter`, `has_reference`, consumers and sorting over a space's rules."""

from __future__ import annotations

import json
import re

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
# Sorts the database answers, by rule column: `name` is Kibana's `name.keyword` (lowercase normalizer).
DB_SORT_FIELDS = {
    "name": "name",
    "name.keyword": "name",
    "updatedAt": "updated_at",
    "updated_at": "updated_at",
    "createdAt": "created_at",
    "created_at": "created_at",
    "enabled": "enabled",
    "alertTypeId": "rule_type_id",
    "consumer": "consumer",
    "revision": "revision",
    "running": "running",
    "muteAll": "mute_all",
    # getSortingParams' top-level fields: the document id, and the search score (no scoring here:
    # the default order, by name).
    "_id": "id",
    "_score": "name",
}
# The other sortable attributes: the leaf fields of Kibana's `alert` saved-object mappings
# (alerting/server/saved_objects/mappings.ts) with their Elasticsearch types, read from the rule's
# attributes in Python. Kibana's saved-objects getSortingParams refuses any field the mappings lack
# (`Unknown sort field <f>`): `params` is `flattened`, so `params.<key>` is unknown except the
# `mapped_params` ones (risk_score, severity) the rules client sorts on instead.
ATTRIBUTE_SORT_FIELDS = {
    "tags": "keyword",
    "schedule.interval": "keyword",
    "legacyId": "keyword",
    "scheduledTaskId": "keyword",
    "createdBy": "keyword",
    "updatedBy": "keyword",
    "throttle": "keyword",
    "notifyWhen": "keyword",
    "mutedInstanceIds": "keyword",
    "params": "keyword",
    "executionStatus.numberOfTriggeredActions": "number",
    "executionStatus.status": "keyword",
    "executionStatus.lastExecutionDate": "date",
    "executionStatus.lastDuration": "number",
    "executionStatus.error.reason": "keyword",
    "executionStatus.error.message": "keyword",
    "executionStatus.warning.reason": "keyword",
    "executionStatus.warning.message": "keyword",
    "lastRun.outcome": "keyword",
    "lastRun.outcomeOrder": "number",
    "lastRun.alertsCount.active": "number",
    "lastRun.alertsCount.new": "number",
    "lastRun.alertsCount.recovered": "number",
    "lastRun.alertsCount.ignored": "number",
    # Saved-object root fields: the same for every rule of a space.
    "type": "keyword",
    "namespace": "keyword",
}
# Mapped fields that are not sortable leaves: objects and the `nested` actions. Elasticsearch, not
# Kibana, refuses them, and the route answers its reason as a 400.
OBJECT_SORT_FIELDS = {"schedule", "executionStatus", "executionStatus.error", "executionStatus.warning"}
OBJECT_SORT_FIELDS |= {"lastRun", "lastRun.alertsCount"}
NESTED_SORT_FIELDS = {"actions", "actions.group", "actions.actionRef", "actions.actionTypeId"}
# Kibana's mapped_params (mapped_params_utils.ts): `params.<key>` (camel or snake case) sorts on them.
MAPPED_PARAMS = {"risk_score": "number", "severity": "keyword"}
SEVERITY_ORDER = {"low": "20-low", "medium": "40-medium", "high": "60-high", "critical": "80-critical"}
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


def _snake(key: str) -> str:
    """lodash snakeCase for a params key as Kibana's mapped_params use it (`riskScore` -> `risk_score`)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def _mapped_value(key: str, value):
    """Kibana's getModifiedValue: a severity is stored as its sortable form, an unknown one as ``."""
    if key == "severity":
        return SEVERITY_ORDER.get(value, "") if isinstance(value, str) else ""
    return value


def _mapped_params(params) -> dict:
    """Kibana's getMappedParams: the rule's `risk_score` and `severity` params (camel or snake case)."""
    if not isinstance(params, dict):
        return {}
    mapped = {}
    for key, value in params.items():
        snake = _snake(str(key))
        if snake in MAPPED_PARAMS:
            mapped[snake] = _mapped_value(snake, value)
    return mapped


def _camel(value):
    """Stored snake_case keys (`last_execution_date`) as the saved object's (`lastExecutionDate`)."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): _camel(v) for k, v in value.items()}
    return value


def _attributes(rule: Rule, connector_types: dict | None = None) -> dict:
    """The rule's saved-object attributes that `search`, `filter` and `sort_field` read, under
    Kibana's camelCase names. Built from the row alone: the actions' `actionTypeId` comes from
    `connector_types` (read once per request, only when the filter names `actions`)."""
    types = connector_types or {}
    return {
        "name": rule.name,
        "tags": rule.tags,
        "alertTypeId": rule.rule_type_id,
        "consumer": rule.consumer,
        "enabled": rule.enabled,
        "muteAll": rule.mute_all,
        "mutedInstanceIds": rule.muted_alert_ids,
        "params": rule.params,
        "mapped_params": _mapped_params(rule.params),
        "actions": [
            {
                "group": action.get("group"),
                "actionRef": f"action_{i}",
                "actionTypeId": types.get(action.get("id")),
                "params": action.get("params", {}),
                **({"frequency": _camel(action["frequency"])} if action.get("frequency") else {}),
                **({"uuid": action["uuid"]} if action.get("uuid") else {}),
            }
            for i, action in enumerate(rule.actions or [])
            if isinstance(action, dict)
        ],
        "createdBy": rule.created_by,
        "updatedBy": rule.updated_by,
        "createdAt": iso(rule.created_at),
        "updatedAt": iso(rule.updated_at),
        "notifyWhen": rule.notify_when,
        "throttle": rule.throttle,
        "schedule": {"interval": rule.schedule_interval},
        "scheduledTaskId": rule.id if rule.enabled else None,
        "executionStatus": _camel(
            rule.execution_status or {"status": "pending", "last_execution_date": iso(rule.created_at)}
        ),
        "lastRun": _camel(rule.last_run),
        "revision": rule.revision,
        "running": rule.running,
        "type": "alert",
    }


# Elasticsearch's index.max_result_window: Kibana's rules `_find` is a saved-objects search, so
# `page * per_page` beyond it fails in Elasticsearch and the route answers 400 with its reason.
MAX_RESULT_WINDOW = 10000


def _array_param(query, name: str, *, one_string_allowed: bool) -> list[str] | None:
    """A config-schema array in the query string: the repeated key, or one JSON array. With
    `one_string_allowed` (Kibana's stringOrStringArraySchema) one plain string is a list of one;
    otherwise a single value that is no JSON array fails as config-schema's array does (400)."""
    values = query.getlist(name)
    if len(values) != 1:
        return values or None
    try:
        parsed = json.loads(values[0])
    except ValueError:
        parsed = None
    if one_string_allowed:
        return parsed if isinstance(parsed, list) and all(isinstance(v, str) for v in parsed) else values
    if not isinstance(parsed, list):
        raise BadRequest(f"[request query.{name}]: could not parse array value from json input")
    return [str(value) for value in parsed]


def _consumers_param(query) -> list[str] | None:
    return _array_param(query, "filter_consumers", one_string_allowed=False)


def string_or_array_param(query, name: str) -> list[str] | None:
    return _array_param(query, name, one_string_allowed=True)


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
    if kind == "nested":
        return [node[1], *(f"{node[1]}.{field}" for field in _filter_fields(node[2]))]
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
    from actions import kql

    fields = search_fields or ["name", "tags"]
    terms = [t for t in query["search"].split() if t]
    mode = all if query.get("default_search_operator") == "AND" else any

    def matches(attributes: dict, term: str) -> bool:
        pattern = term.strip('"').lower()
        values = []
        for field in fields:
            values.extend(kql.lookup(attributes, field.removeprefix("alert.attributes.")))
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


def _strip_prefix(node):
    """The parsed filter with `alert.attributes.` dropped from its field names (the names inside a
    nested group are relative to it and keep theirs)."""
    if node is None:
        return None
    kind = node[0]
    if kind in ("or", "and"):
        return (kind, [_strip_prefix(child) for child in node[1]])
    if kind == "not":
        return ("not", _strip_prefix(node[1]))
    if kind in ("field", "range", "nested"):
        return (kind, node[1].removeprefix("alert.attributes."), *node[2:])
    return node


def _to_mapped_params(node):
    """Kibana's modifyFilterKueryNode: `params.<risk_score|severity>` (camel or snake case) is
    filtered on mapped_params, and a severity value is compared in its sortable form."""
    if node is None:
        return None
    kind = node[0]
    if kind in ("or", "and"):
        return (kind, [_to_mapped_params(child) for child in node[1]])
    if kind == "not":
        return ("not", _to_mapped_params(node[1]))
    if kind in ("field", "range") and node[1].startswith("params."):
        key = _snake(node[1].removeprefix("params."))
        if key in MAPPED_PARAMS:
            field = f"mapped_params.{key}"
            if kind == "range":
                return ("range", field, node[2], _mapped_value(key, node[3]))
            return ("field", field, [(_mapped_value(key, text), quoted) for text, quoted in node[2]])
    return node


def _sort_spec(sort_field: str) -> tuple[str, str, str]:
    """`(how, path, type)` for a `sort_field`, as Kibana resolves it: `db` sorts on a rule column,
    `attribute` on a saved-object attribute path. Unknown fields are Kibana's 400."""
    if sort_field in DB_SORT_FIELDS:
        return "db", DB_SORT_FIELDS[sort_field], ""
    if sort_field.startswith("params."):
        key = _snake(sort_field.removeprefix("params."))
        if key in MAPPED_PARAMS:
            return "attribute", f"mapped_params.{key}", MAPPED_PARAMS[key]
    if sort_field in ATTRIBUTE_SORT_FIELDS:
        return "attribute", sort_field, ATTRIBUTE_SORT_FIELDS[sort_field]
    if sort_field in OBJECT_SORT_FIELDS or sort_field in NESTED_SORT_FIELDS:
        field = f"alert.{sort_field}"
        reason = (
            f"it is mandatory to set the [nested] context on the nested sort field: [{field}]."
            if sort_field in NESTED_SORT_FIELDS
            else f"No mapping found for [{field}] in order to sort on"
        )
        raise BadRequest(
            f"all shards failed: search_phase_execution_exception: [query_shard_exception] Reason: {reason}"
        )
    raise BadRequest(f"Unknown sort field {sort_field}")


def _sort_values(attributes: dict, path: str, kind: str) -> list:
    """The rule's values for the sort, as Elasticsearch compares them (keywords as strings, dates
    and numbers as numbers); empty when the rule has none (missing)."""
    from actions import kql

    found = kql.all_values(attributes["params"]) if path == "params" else kql.lookup(attributes, path)
    values = []
    for value in found:
        if value is None or isinstance(value, dict | list):
            continue
        if kind == "keyword":
            values.append(("true" if value else "false") if isinstance(value, bool) else str(value))
        elif kind == "date":
            values.append(str(value))
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if number == number:  # not NaN
                values.append(number)
    return values


def _sorted_ids(entries: list[tuple[str, list]], descending: bool) -> list[str]:
    """Rule ids ordered as Elasticsearch sorts a multi-valued field: by the smallest value ascending,
    the largest descending, rules without a value last either way; ties by id."""
    present = sorted(
        ((min(v), rid) if not descending else (max(v), rid) for rid, v in entries if v), key=lambda e: e[1]
    )
    present.sort(key=lambda e: e[0], reverse=descending)
    missing = sorted(rid for rid, values in entries if not values)
    return [rid for _, rid in present] + missing


def find_rules(space_id: str, query, *, per_page: int, page: int, consumers: list[str] | None):
    """`(total, the page's rules)`. Consumers, and sorting on a rule column, run in the database;
    `search`, `filter`, `has_reference` and sorting on other attributes (which read JSON) over the
    space's rules in Python, each rule's attributes built once and only ids and sort values kept."""
    from actions import kql
    from actions.rule_representation import connector_types_of

    search_fields = string_or_array_param(query, "search_fields")
    filter_node = None
    if query.get("filter"):
        try:
            filter_node = kql.parse_filter(query["filter"])
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
    how, path, kind = _sort_spec(sort_field) if sort_field else ("db", "name", "")
    if how == "db":
        key = Lower(path) if path == "name" else F(path)
        rules = rules.order_by(key.desc() if descending else key.asc(), "id")
    else:
        rules = rules.order_by("id")
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
    connector_types = None
    if filter_node is not None:
        node = _to_mapped_params(_strip_prefix(filter_node))
        checks.append(lambda attributes, rule: kql.matches(node, attributes))
        if any(f.removeprefix("alert.attributes.").startswith("actions") for f in _filter_fields(node)):
            ids = {cid for actions in rules.values_list("actions", flat=True) for cid in _ids(actions)}
            connector_types = connector_types_of(space_id, ids)
    if not checks and how == "db":
        total = rules.count()
        return total, list(rules[(page - 1) * per_page : page * per_page])
    entries = []
    for rule in rules.iterator(chunk_size=500):
        attributes = _attributes(rule, connector_types)
        if all(check(attributes, rule) for check in checks):
            values = [] if how == "db" else _sort_values(attributes, path, kind)
            entries.append((rule.id, values))
    ids = [rid for rid, _ in entries] if how == "db" else _sorted_ids(entries, descending)
    window = ids[(page - 1) * per_page : page * per_page]
    by_id = Rule.objects.in_bulk(window)
    return len(entries), [by_id[rid] for rid in window if rid in by_id]


def _ids(actions) -> list[str]:
    return [a["id"] for a in actions or [] if isinstance(a, dict) and isinstance(a.get("id"), str)]
