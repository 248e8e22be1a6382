"""Kibana's alerting rule API (`/api/alerting/*`, `/internal/alerting/rule/{id}/_run_soon`), the
external alert report route and `_enqueue` (our extensions)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.response import Response

from actions import queue, rule_types
from actions.api.rule_find import check_find_query, find_rules, int_param, pick_fields, string_or_array_param
from actions.models import Alert, Rule
from actions.rule_representation import connector_types_of, rule_to_api, rule_type_to_api
from actions.rule_snooze import (
    custom_schedule_problem,
    end_date_problem,
    every_problem,
    integer_problem,
    snooze_duration_problem,
    snooze_rule,
    start_date_problem,
    timezone_problem,
    unsnooze_rule,
    weekdays_problem,
)
from actions.rules import (
    ALERTS_FILTER,
    RuleError,
    check_consumer,
    check_groups,
    create_rule,
    disable_rule,
    enable_rule,
    frequency_field,
    get_rule_type,
    rule_fields,
    update_rule,
)
from actions.services import BULK_ENQUEUE_MAX, QueueFull, enqueue, enqueue_many
from connectors import privileges
from connectors.api.base import (
    KibanaView,
    query_boolean,
    refuse_unknown_query_keys,
    request_body,
    validate_body,
)
from connectors.api.errors import BadRequest, Forbidden, KibanaError, NotFound, envelope
from connectors.exceptions import ActionTypeDisabled, ConfigurationError
from connectors.schemas import Any_, Array, Boolean, Number, Object, Record, SchemaError, String

ACTION = Object(
    {
        "group": String(nullable=True),
        "id": String(),
        "params": Record(Any_(), default=dict),  # recordOf(string, maybe(any), {defaultValue: {}})
        "frequency": frequency_field("notify_when"),
        "uuid": String(nullable=True),
        "alerts_filter": ALERTS_FILTER,
        "use_alert_data_for_template": Boolean(nullable=True),
    }
)
# Kibana sets no length on this; our column does (PostgreSQL refuses a longer value with a 500, SQLite
# stores it), so the route says so first, the same on every database (a rule's own fields:
# actions.rules.rule_fields, which the saved-object import checks too).
ALERT_ID_MAX_LENGTH = 1024  # Alert.alert_id: a reported id kept in the state fails every later run
COMMON = rule_fields(ACTION)
CREATE_BODY = Object(
    {
        "name": COMMON["name"],
        "rule_type_id": String(),
        "consumer": String(),
        "enabled": Boolean(default=True),
        **{k: v for k, v in COMMON.items() if k != "name"},
    }
)
UPDATE_BODY = Object(COMMON)
REPORT_BODY = Object(
    {
        "alerts": Array(
            Object(
                {
                    "id": String(min_length=1, max_length=ALERT_ID_MAX_LENGTH),
                    "action_group": String(nullable=True),
                    "context": Record(Any_(), default=dict),
                }
            ),
            min_size=1,
        )
    }
)
SNOOZE_BODY = Object(
    {
        "schedule": Object(
            {
                "custom": Object(
                    {
                        "start": String(validator=start_date_problem),
                        "duration": String(validator=snooze_duration_problem),
                        "timezone": String(optional=True, validator=timezone_problem),
                        "recurring": Object(
                            {
                                "end": String(optional=True, validator=end_date_problem),
                                "every": String(optional=True, validator=every_problem),
                                "onWeekDay": Array(
                                    String(), min_size=1, optional=True, validator=weekdays_problem
                                ),
                                "onMonthDay": Array(
                                    Number(minimum=1, maximum=31, validator=integer_problem("onMonthDay")),
                                    min_size=1,
                                    optional=True,
                                ),
                                "onMonth": Array(
                                    Number(minimum=1, maximum=12, validator=integer_problem("onMonth")),
                                    min_size=1,
                                    optional=True,
                                ),
                                "occurrences": Number(
                                    minimum=1, optional=True, validator=integer_problem("occurrences")
                                ),
                            },
                            optional=True,
                        ),
                    },
                    optional=True,
                    validator=custom_schedule_problem,
                )
            }
        )
    }
)
ENQUEUE_BODY = Object({"params": Record(Any_())})  # as _execute's: recordOf(string, any)
RUN_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a 64-bit integer column

# Rule operations and the connectors privilege they need (rules share the per-space privilege).
NEEDS = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "enable": "update",
    "disable": "update",
    "muteAll": "update",
    "unmuteAll": "update",
    "muteAlert": "update",
    "unmuteAlert": "update",
    "get": "get",
    "runSoon": "update",  # a write operation in Kibana (WriteOperations.RunSoon)
    "snooze": "update",
    "unsnooze": "update",
    "find": "get",
    "updateApiKey": "update",
    "getExecutionLog": "get",
}


def _as_sent(value):
    """An array or object the body gave as JSON text (config-schema parses it, and so did the
    validation that already passed) as the structure it stands for."""
    return json.loads(value) if isinstance(value, str) else value


def _strip_absent(
    cleaned: dict, raw: dict, keys=("throttle", "notify_when", "alert_delay", "flapping")
) -> dict:
    for key in keys:
        if key not in raw:
            cleaned.pop(key, None)
    for action, raw_action in zip(cleaned.get("actions", []), _as_sent(raw.get("actions", [])), strict=False):
        raw_action = _as_sent(raw_action)
        for key in ("group", "frequency", "uuid", "alerts_filter", "use_alert_data_for_template"):
            if key not in raw_action:
                action.pop(key, None)
    return cleaned


class RuleView(KibanaView):
    feature_noun = "rules"

    def authorize(self, operation: str, rule_type_id: str, consumer: str) -> None:
        if not privileges.allows(self.privilege, NEEDS[operation]):
            raise Forbidden(f'Unauthorized by "{consumer}" to {operation} "{rule_type_id}" rule')

    def by_api_key(self) -> bool:
        """The caller authenticated with an API key, which Kibana then reuses for the rule
        (`api_key_created_by_user: true`)."""
        from connectors.models import ApiKey

        return isinstance(self.request.auth, ApiKey)

    def load(self, rule_id: str) -> Rule:
        rule = Rule.objects.filter(pk=rule_id, space_id=self.space_id).first()
        if rule is None:
            raise NotFound(f"Saved object [alert/{rule_id}] not found")
        return rule

    def handle_exception(self, exc):
        if isinstance(exc, RuleError):
            exc = KibanaError(exc.message, exc.status)
        return super().handle_exception(exc)


class RuleCreateView(RuleView):
    def post(self, request, rule_id=None):
        raw = request_body(request)
        body = _strip_absent(validate_body(CREATE_BODY, raw), _as_sent(raw))
        check_groups(body["actions"])
        rule_type = get_rule_type(body["rule_type_id"])
        self.authorize("create", rule_type.type_id, body["consumer"])
        check_consumer(rule_type, body["consumer"], "create")
        rule = create_rule(
            self.space, body, rule_id=rule_id, user=self.username() or None, by_api_key=self.by_api_key()
        )
        return Response(rule_to_api(rule))


class RuleDetailView(RuleCreateView):
    """`/rule/{id}`: POST (inherited) creates with that id; GET, PUT, DELETE."""

    def get(self, request, rule_id):
        rule = self.load(rule_id)
        self.authorize("get", rule.rule_type_id, rule.consumer)
        return Response(rule_to_api(rule))

    def put(self, request, rule_id):
        raw = request_body(request)
        body = _strip_absent(validate_body(UPDATE_BODY, raw), _as_sent(raw))
        check_groups(body["actions"])
        rule = self.load(rule_id)
        self.authorize("update", rule.rule_type_id, rule.consumer)
        update_rule(rule, body, user=self.username() or None, by_api_key=self.by_api_key())
        rule.refresh_from_db()
        return Response(rule_to_api(rule))

    def delete(self, request, rule_id):
        rule = self.load(rule_id)
        self.authorize("delete", rule.rule_type_id, rule.consumer)
        rule.delete()
        return Response(status=204)


DISABLE_BODY = Object({"untrack": Boolean(optional=True)})


class RuleActionView(RuleView):
    """`_enable`, `_disable`, `_mute_all`, `_unmute_all`."""

    operation = ""

    def post(self, request, rule_id):
        rule = self.load(rule_id)
        self.authorize(self.operation, rule.rule_type_id, rule.consumer)
        user = self.username() or None
        if self.operation == "enable":
            enable_rule(rule, user, by_api_key=self.by_api_key())
        elif self.operation == "disable":
            data = request.data if isinstance(request.data, dict) else {}
            unknown = [key for key in data if key != "untrack"]
            if unknown:
                raise BadRequest(f"[request body.{unknown[0]}]: definition for this key is missing")
            validate_body(DISABLE_BODY, data)  # `untrack`: a config-schema boolean
            disable_rule(rule, user)
        elif self.operation in ("muteAll", "unmuteAll"):
            # Kibana's muteAll and unmuteAll both clear the muted alerts and any snooze without a
            # schedule id, and stamp updated_by/updated_at.
            Rule.objects.filter(pk=rule.pk).update(
                mute_all=self.operation == "muteAll",
                muted_alert_ids=[],
                snooze_schedule=[s for s in rule.snooze_schedule or [] if s.get("id")],
                updated_by=user,
                updated_at=timezone.now(),
            )
        return Response(status=204)


class AlertMuteView(RuleView):
    """`_mute` / `_unmute` one alert. `validate_alerts_existence` (default true, Kibana 9.3+): the
    alert must be one the rule has raised (active or recovered), else Kibana's 404."""

    mute = True

    def post(self, request, rule_id, alert_id):
        validate = query_boolean(request.query_params, "validate_alerts_existence", True)
        rule = self.load(rule_id)
        self.authorize("muteAlert" if self.mute else "unmuteAlert", rule.rule_type_id, rule.consumer)
        if validate and not Alert.objects.filter(rule_id=rule.pk, alert_id=alert_id).exists():
            raise NotFound(f'Alert instance with id "{alert_id}" does not exist for rule with id "{rule_id}"')
        with transaction.atomic():
            rule = Rule.objects.select_for_update().get(pk=rule.pk)
            muted = list(rule.muted_alert_ids or [])
            # Kibana's muteInstance/unmuteInstance change nothing while the whole rule is muted.
            if rule.mute_all or (alert_id in muted) == self.mute:
                return Response(status=204)
            if self.mute:
                muted.append(alert_id)
            else:
                muted.remove(alert_id)
            Rule.objects.filter(pk=rule.pk).update(
                muted_alert_ids=muted, updated_by=self.username() or None, updated_at=timezone.now()
            )
        return Response(status=204)


class UpdateApiKeyView(RuleView):
    """`POST /api/alerting/rule/{id}/_update_api_key`: the caller becomes the key's owner; works on
    disabled rules too. There is no Elasticsearch API key here: the owner is what the rule reports."""

    def post(self, request, rule_id):
        rule = self.load(rule_id)
        self.authorize("updateApiKey", rule.rule_type_id, rule.consumer)
        user = self.username() or None
        Rule.objects.filter(pk=rule.pk).update(
            api_key_owner=user,
            api_key_created_by_user=self.by_api_key(),
            updated_by=user,
            updated_at=timezone.now(),
        )
        return Response(status=204)


class SnoozeView(RuleView):
    """`POST /api/alerting/rule/{id}/snooze_schedule` (public since 8.19)."""

    def post(self, request, rule_id):
        body = validate_body(SNOOZE_BODY, request_body(request))
        custom = body["schedule"].get("custom")
        if not custom:
            raise BadRequest("A schedule is required")
        rule = self.load(rule_id)
        self.authorize("snooze", rule.rule_type_id, rule.consumer)
        return Response(snooze_rule(rule, custom, user=self.username() or None))


class UnsnoozeView(RuleView):
    """`DELETE /api/alerting/rule/{ruleId}/snooze_schedule/{scheduleId}`."""

    def delete(self, request, rule_id, schedule_id):
        rule = self.load(rule_id)
        self.authorize("unsnooze", rule.rule_type_id, rule.consumer)
        unsnooze_rule(rule, schedule_id, user=self.username() or None)
        return Response(status=204)


class RunSoonView(RuleView):
    def post(self, request, rule_id):
        rule = self.load(rule_id)
        self.authorize("runSoon", rule.rule_type_id, rule.consumer)
        if not rule.enabled:
            return HttpResponse(
                "Error running rule: rule is disabled", content_type="text/plain; charset=utf-8"
            )
        if rule.running:
            return HttpResponse("Rule is already running", content_type="text/plain; charset=utf-8")
        with transaction.atomic():
            queue.queue_rule_run(rule.id)
        return Response(status=204)


class RuleFindView(RuleView):
    """`GET /api/alerting/rules/_find`: the query is `actions.api.rule_find`'s; the page's connector
    types are read in one query."""

    def get(self, request):
        query = request.query_params
        per_page, page, consumers = check_find_query(query)
        if not privileges.allows(self.privilege, "get"):
            raise Forbidden("Unauthorized to find rules for any rule types")
        total, window = find_rules(self.space_id, query, per_page=per_page, page=page, consumers=consumers)
        cache = connector_types_of(self.space_id, {cid for rule in window for cid in rule.connector_ids()})
        data = [rule_to_api(r, cache) for r in window]
        fields = string_or_array_param(query, "fields")
        if fields:
            data = [pick_fields(item, fields) for item in data]
        return Response({"page": page, "per_page": per_page, "total": total, "data": data})


class RuleTypesView(RuleView):
    def get(self, request):
        # Kibana lists the types the caller may read: none (200, []) without privileges.
        if not privileges.allows(self.privilege, "get"):
            return Response([])
        can_write = privileges.allows(self.privilege, "create")
        return Response([rule_type_to_api(t, can_write=can_write) for t in rule_types.all_types()])


class HealthView(RuleView):
    def get(self, request):
        if not privileges.allows(self.privilege, "get"):
            raise Forbidden("Unauthorized to access alerting framework health")
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        health = {"status": "ok", "timestamp": now}
        return Response(
            {
                "is_sufficiently_secure": True,
                "has_permanent_encryption_key": True,
                "alerting_framework_health": {
                    "decryption_health": dict(health),
                    "execution_health": dict(health),
                    "read_health": dict(health),
                },
            }
        )


class ReportAlertsView(RuleView):
    """`POST /api/alerting/rule/{id}/_alerts` (our extension): another system reports alerts."""

    def post(self, request, rule_id):
        from actions.rule_types.external import report_alerts

        body = validate_body(REPORT_BODY, request.data)
        rule = self.load(rule_id)
        self.authorize("update", rule.rule_type_id, rule.consumer)
        rule_type = rule_types.get(rule.rule_type_id)
        if rule.rule_type_id != ".external":
            raise BadRequest(f'Rule type "{rule.rule_type_id}" does not accept reported alerts.')
        groups = {g["id"] for g in rule_type.all_action_groups()}
        for alert in body["alerts"]:
            alert["action_group"] = alert.get("action_group") or rule_type.default_action_group_id
        bad = sorted({a["action_group"] for a in body["alerts"]} - groups)
        if bad:
            raise BadRequest(f"Invalid action groups: {', '.join(bad)}")
        with transaction.atomic():
            rule = Rule.objects.select_for_update().get(pk=rule.pk)
            accepted = report_alerts(rule, body["alerts"])
            Rule.objects.filter(pk=rule.pk).update(state=rule.state)
            if rule.enabled:
                queue.queue_rule_run(rule.id)
        return Response({"rule_id": rule.id, "accepted": accepted}, status=202)


class EnqueueView(KibanaView):
    """`POST /api/actions/connector/{id}/_enqueue` (our extension): queue one background run."""

    def post(self, request, connector_id):
        body = validate_body(ENQUEUE_BODY, request_body(request))
        connector = self.connector(connector_id, "execute")
        try:
            run = enqueue(connector, body["params"], space=self.space_id, user=self.username() or None)
        except ActionTypeDisabled as exc:
            raise Forbidden(exc.message) from None
        except ConfigurationError as exc:
            raise BadRequest(exc.message) from None
        except QueueFull as exc:
            raise KibanaError(str(exc), 429) from None
        return Response({"id": str(run.pk), "connector_id": connector_id, "status": run.status}, status=202)


BULK_ENQUEUE_BODY = Object(
    {
        "actions": Array(
            Object({"id": String(min_length=1), "params": Record(Any_())}),
            min_size=1,
            max_size=BULK_ENQUEUE_MAX,
        )
    }
)


class BulkEnqueueView(KibanaView):
    """`POST /api/actions/_bulk_enqueue` (our extension): queue many background runs in one request.

    Answers 200 with one result per action, in order, like Elasticsearch's `_bulk`: `errors` says
    whether any item was refused; a refused item carries Kibana's error envelope instead of a run id.
    """

    def post(self, request):
        body = validate_body(BULK_ENQUEUE_BODY, request_body(request))
        self.require("execute")
        results = enqueue_many(
            self.space_id,
            [(action["id"], action["params"]) for action in body["actions"]],
            user=self.username() or None,
        )
        items = []
        for result in results:
            if result.run is not None:
                items.append(
                    {"id": str(result.run.pk), "connector_id": result.connector_id, "status": "queued"}
                )
            else:
                items.append(
                    {
                        "connector_id": result.connector_id,
                        "error": envelope(result.status_code, result.message),
                    }
                )
        return Response({"errors": any("error" in item for item in items), "items": items})


def _iso_or_none(moment) -> str | None:
    return (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None
    )


class EnqueuedRunView(KibanaView):
    """`GET /api/actions/connector/{id}/_enqueue/{run_id}` (our extension): where a queued run is.
    Only this space's runs of this connector; anything else is Kibana's not-found answer."""

    def get(self, request, connector_id, run_id):
        from actions.models import ActionRun

        self.require("read")
        run = (
            ActionRun.objects.filter(
                pk=int(run_id), connector_id=connector_id, space_id=self.space_id
            ).first()
            if RUN_ID.fullmatch(run_id)  # not `isdigit()`: "²" is a digit that int() refuses
            else None
        )
        if run is None:
            raise NotFound(f"Saved object [action_run/{run_id}] not found")
        return Response(
            {
                "id": str(run.pk),
                "connector_id": run.connector_id,
                "status": run.status,
                "attempts": run.attempts,
                "max_attempts": run.max_attempts,
                "created_at": _iso_or_none(run.created_at),
                # When a queued run (a first attempt, or a retry) is due; null once it has started.
                "next_attempt_at": _iso_or_none(run.due_at) if run.status == ActionRun.QUEUED else None,
                "finished_at": _iso_or_none(run.finished_at),
                "last_error": run.last_error or None,
                "execution_uuid": run.execution_uuid,
            }
        )


def _log_window(query) -> tuple[datetime, datetime]:
    from eventlog.queries import parse_date

    if query.get("date_start") is None:
        raise BadRequest("[request query.date_start]: expected value of type [string] but got [undefined]")
    start = parse_date(query["date_start"])
    if start is None:
        raise BadRequest(f'Invalid date for parameter dateStart: "{query["date_start"]}"')
    end = datetime.now(UTC)
    if query.get("date_end"):
        end = parse_date(query["date_end"])
        if end is None:
            raise BadRequest(f'Invalid date for parameter dateEnd: "{query["date_end"]}"')
    return start, end


def _log_sort(query) -> list[tuple[str, str]]:
    from actions.rule_execution_log import SORTABLE

    text = query.get("sort")
    if not text:
        return [("timestamp", "desc")]
    try:
        items = json.loads(text)
    except ValueError:
        raise BadRequest("[request query.sort]: could not parse array value from json input") from None
    sort = []
    for index, item in enumerate(items if isinstance(items, list) else [None]):
        name = next(iter(item), None) if isinstance(item, dict) and len(item) == 1 else None
        order = ((item or {}).get(name) or {}).get("order") if name else None
        if name not in SORTABLE or order not in ("asc", "desc"):
            raise BadRequest(f"[request query.sort.{index}]: types that failed validation")
        sort.append((name, order))
    return sort


class RuleExecutionLogView(RuleView):
    """`GET /internal/alerting/rule/{id}/_execution_log` (Kibana's UI route): the rule's runs."""

    KEYS = {"date_start", "date_end", "filter", "per_page", "page", "sort"}

    def get(self, request, rule_id):
        from actions.rule_execution_log import execution_log

        query = request.query_params
        refuse_unknown_query_keys(query, self.KEYS)
        start, end = _log_window(query)
        per_page = int_param("per_page", query.get("per_page"), 10, 1)
        page = int_param("page", query.get("page"), 1, 1)
        sort = _log_sort(query)
        rule = self.load(rule_id)
        self.authorize("getExecutionLog", rule.rule_type_id, rule.consumer)
        return Response(
            execution_log(
                rule,
                start=start,
                end=end,
                filter_text=query.get("filter"),
                page=page,
                per_page=per_page,
                sort=sort,
            )
        )


class RuleExecutionKpiView(RuleView):
    """`GET /internal/alerting/rule/{id}/_execution_kpi`: counts over the rule's runs."""

    KEYS = {"date_start", "date_end", "filter"}

    def get(self, request, rule_id):
        from actions.rule_execution_log import execution_kpi

        query = request.query_params
        refuse_unknown_query_keys(query, self.KEYS)
        start, end = _log_window(query)
        rule = self.load(rule_id)
        self.authorize("getExecutionLog", rule.rule_type_id, rule.consumer)
        return Response(execution_kpi(rule, start=start, end=end, filter_text=query.get("filter")))


BACKFILL_BODY = Array(
    Object(
        {
            "rule_id": String(),
            "ranges": Array(Object({"start": String(), "end": String()})),
            "run_actions": Boolean(optional=True),
        }
    ),
    min_size=1,
    max_size=100,
)
UNAUTHORIZED_TO_FIND_RULES = "Unauthorized to find rules for any rule types"
BACKFILL_FIND_KEYS = {"rule_ids", "start", "end", "page", "per_page", "sort_field", "sort_order", "initiator"}


class BackfillView(RuleView):
    """Kibana 9.4's public backfill routes (`/api/alerting/rules/backfill/*`); see actions/backfill.py."""

    def load_backfill(self, backfill_id: str, operation: str):
        """Kibana's getBackfill/deleteBackfill: the space's backfill is read first (404 for every
        caller), then its rule's type is authorized; both errors say which backfill failed."""
        from actions.models import Backfill

        failed = f"Failed to {operation} backfill by id: {backfill_id}"
        backfill = (
            Backfill.objects.filter(pk=backfill_id, space_id=self.space_id).select_related("rule").first()
        )
        if backfill is None:
            raise NotFound(f"{failed}: Saved object [ad_hoc_run_params/{backfill_id}] not found")
        if not privileges.allows(self.privilege, NEEDS[operation]):
            rule = backfill.rule
            raise Forbidden(
                f'{failed}: Unauthorized by "{rule.consumer}" to {operation}Backfill "{rule.rule_type_id}" rule'
            )
        return backfill


class BackfillScheduleView(BackfillView):
    def post(self, request):
        from actions import backfill

        try:
            items = BACKFILL_BODY.validate(request.data, "request body")
        except SchemaError as exc:
            raise BadRequest(str(exc)) from None
        # Kibana validates each item's ranges in the item's own `validate`: the first bad item
        # answers, under its index.
        for index, item in enumerate(items):
            problems = backfill.range_problems(item["ranges"])
            if problems:
                raise BadRequest(f"[request body.{index}]: " + "\n".join(problems))
        self.authorize_schedule([item["rule_id"] for item in items])
        with transaction.atomic():
            results = backfill.schedule(self.space_id, items, user=self.username() or None)
        return Response(results)

    def authorize_schedule(self, rule_ids: list[str]) -> None:
        """Kibana's scheduleBackfill: the rules are found through the find authorization filter (no
        privilege in the space: its 403), then each found rule's type is authorized for the write."""
        if self.privilege == privileges.NONE:
            raise Forbidden(UNAUTHORIZED_TO_FIND_RULES)
        if privileges.allows(self.privilege, "update"):
            return
        found = {r.id: r for r in Rule.objects.filter(pk__in=rule_ids, space_id=self.space_id)}
        for rule_id in rule_ids:
            if rule_id in found:
                rule = found[rule_id]
                raise Forbidden(
                    f'Unauthorized by "{rule.consumer}" to scheduleBackfill "{rule.rule_type_id}" rule'
                )


class BackfillDetailView(BackfillView):
    def get(self, request, backfill_id):
        from actions.backfill import to_api

        return Response(to_api(self.load_backfill(backfill_id, "get")))

    def delete(self, request, backfill_id):
        self.load_backfill(backfill_id, "delete").delete()
        return Response(status=204)


class BackfillFindView(BackfillView):
    """`POST /api/alerting/rules/backfill/_find`: the parameters are in the query string."""

    def post(self, request):
        from actions import backfill
        from eventlog.queries import parse_date

        query = request.query_params
        refuse_unknown_query_keys(query, BACKFILL_FIND_KEYS)
        dates = {}
        for name in ("start", "end"):
            if query.get(name) is not None:
                dates[name] = parse_date(query[name])
                if dates[name] is None:
                    raise BadRequest(f"[request query]: [{name}]: query {name} must be valid date")
        per_page = int_param("per_page", query.get("per_page"), 10, 0)
        page = int_param("page", query.get("page"), 1, 1)
        sort_field = query.get("sort_field", "createdAt")
        if sort_field not in ("createdAt", "start"):
            raise BadRequest(
                "[request query.sort_field]: types that failed validation:\n"
                "- [request query.sort_field.0]: expected value to equal [createdAt]\n"
                "- [request query.sort_field.1]: expected value to equal [start]"
            )
        sort_order = query.get("sort_order", "desc")
        if sort_order not in ("asc", "desc"):
            raise BadRequest(
                "[request query.sort_order]: types that failed validation:\n"
                "- [request query.sort_order.0]: expected value to equal [asc]\n"
                "- [request query.sort_order.1]: expected value to equal [desc]"
            )
        initiator = query.get("initiator")
        if initiator is not None and initiator not in ("user", "system"):
            raise BadRequest(
                "[request query.initiator]: types that failed validation:\n"
                "- [request query.initiator.0]: expected value to equal [user]\n"
                "- [request query.initiator.1]: expected value to equal [system]"
            )
        if not privileges.allows(self.privilege, "get"):
            raise Forbidden(f"Failed to find backfills: {UNAUTHORIZED_TO_FIND_RULES}")
        rule_ids = [r for r in (query.get("rule_ids") or "").split(",") if r]
        found = backfill.find(
            self.space_id,
            rule_ids=rule_ids,
            start=dates.get("start"),
            end=dates.get("end"),
            sort_field=sort_field,
            sort_order=sort_order,
        )
        if initiator == "system":
            # Every backfill here is scheduled through the API by a user (`initiator: user`).
            found = found.none()
        total = found.count()
        window = found[(page - 1) * per_page : page * per_page]
        return Response(
            {"page": page, "per_page": per_page, "total": total, "data": [backfill.to_api(b) for b in window]}
        )
