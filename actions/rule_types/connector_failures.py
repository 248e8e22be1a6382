"""`.connector-failures`: self-monitoring. Fires for each connector whose failed runs in the event log
over a time window reach a threshold (our rule type; Kibana has no equivalent)."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from django.db.models import Count

from actions.rule_types import ParamsInvalid, ReportedAlert, RuleType, RunContext, RunOutcome
from actions.rule_types.index_threshold import TIME_UNIT_WORDS, TIME_UNITS, _number, _string
from connectors.schemas import Array, Enum, Number, Object, String

KEYS = ("connectorIds", "threshold", "timeWindowSize", "timeWindowUnit")


class ConnectorFailuresRuleType(RuleType):
    type_id = ".connector-failures"
    name = "Connector failures"
    producer = "actions"
    action_groups = [{"id": "failing", "name": "Failing"}]
    default_action_group_id = "failing"
    does_set_recovery_context = True
    action_variables = {
        "context": [
            {"name": "connectorId", "description": "The id of the failing connector."},
            {"name": "connectorName", "description": "The name of the failing connector."},
            {"name": "failures", "description": "Failed runs in the window."},
            {"name": "lastError", "description": "The error of the last failed run."},
            {"name": "message", "description": "A pre-constructed message for the alert."},
            {"name": "title", "description": "A pre-constructed title for the alert."},
            {"name": "date", "description": "The end of the window."},
        ],
        "state": [],
        "params": [{"name": key, "description": key} for key in KEYS],
    }
    params_schema = Object(
        {
            "connectorIds": Array(
                String(), default=list, label="Connector ids", help="Empty: every connector."
            ),
            "threshold": Number(default=1, minimum=1, label="Failures at least"),
            "timeWindowSize": Number(minimum=1, label="For the last"),
            "timeWindowUnit": Enum(tuple(TIME_UNITS), label="Time unit", choice_labels=TIME_UNIT_WORDS),
        }
    )

    def validate_params(self, params: Any) -> dict:
        if not isinstance(params, dict):
            raise ParamsInvalid("expected a plain object value")
        out: dict[str, Any] = {}
        ids = params.get("connectorIds", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ParamsInvalid("[connectorIds]: expected value of type [array] of non-empty strings")
        out["connectorIds"] = ids
        out["threshold"] = _number("threshold", params.get("threshold", 1), minimum=1)
        out["timeWindowSize"] = _number("timeWindowSize", params.get("timeWindowSize"), minimum=1)
        unit = _string("timeWindowUnit", params.get("timeWindowUnit"), min_length=0)
        if unit not in TIME_UNITS:
            raise ParamsInvalid(f'[timeWindowUnit]: invalid timeWindowUnit: "{unit}"')
        out["timeWindowUnit"] = unit
        unknown = [key for key in params if key not in KEYS]
        if unknown:
            raise ParamsInvalid(f"[{unknown[0]}]: definition for this key is missing")
        return out

    def run(self, ctx: RunContext) -> RunOutcome:
        from connectors.models import Connector
        from eventlog.models import Event

        params = ctx.params
        window = timedelta(seconds=params["timeWindowSize"] * TIME_UNITS[params["timeWindowUnit"]])
        failures = Event.objects.filter(
            provider="actions",
            action="execute",
            outcome="failure",
            space_id=ctx.rule.space_id,
            timestamp__gte=ctx.now - window,
            timestamp__lt=ctx.now,
        )
        if params["connectorIds"]:
            failures = failures.filter(connector_id__in=params["connectorIds"])
        counts = dict(
            failures.values_list("connector_id").annotate(n=Count("id")).values_list("connector_id", "n")
        )
        # The rule's space only: an id deleted here may since have been taken in another space.
        names = dict(
            Connector.objects.filter(pk__in=list(counts), space_id=ctx.rule.space_id).values_list(
                "id", "name"
            )
        )
        date = ctx.now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        window_text = f"{int(params['timeWindowSize'])}{params['timeWindowUnit']}"
        alerts = {}
        for connector_id, count in counts.items():
            if count < params["threshold"]:
                continue
            last = failures.filter(connector_id=connector_id).order_by("-timestamp").first()
            last_error = (last.document.get("error") or {}).get("message", "") if last else ""
            name = names.get(connector_id, connector_id)
            alerts[connector_id] = ReportedAlert(
                "failing",
                {
                    "connectorId": connector_id,
                    "connectorName": name,
                    "failures": count,
                    "lastError": last_error,
                    "date": date,
                    "title": f"connector {name} is failing",
                    "message": f"connector '{name}' failed {count} times over {window_text}: {last_error}",
                },
            )
        recovery = {
            cid: {
                "connectorId": cid,
                "connectorName": names.get(cid, cid),
                "failures": counts.get(cid, 0),
                "date": date,
                "title": f"connector {names.get(cid, cid)} recovered",
                "message": f"connector '{names.get(cid, cid)}' failed {counts.get(cid, 0)} times over {window_text}",
            }
            for cid in ctx.state.get("active", [])
            if cid not in alerts
        }
        return RunOutcome(alerts=alerts, state={"active": sorted(alerts)}, recovery_context=recovery)
