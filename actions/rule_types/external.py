"""`.external`: alerts reported by other systems through `POST /api/alerting/rule/{id}/_alerts`
(our extension). Reported alerts stay active, with their latest action group and context, until they
are reported with the action group `recovered`. This makes Connectors an alert router."""

from __future__ import annotations

from typing import Any

from actions.rule_types import ParamsInvalid, ReportedAlert, RuleType, RunContext, RunOutcome
from connectors.schemas import Object

GROUPS = [
    {"id": "default", "name": "Default"},
    {"id": "warning", "name": "Warning"},
    {"id": "critical", "name": "Critical"},
]


class ExternalRuleType(RuleType):
    type_id = ".external"
    name = "Externally reported alerts"
    producer = "alerts"
    action_groups = GROUPS
    default_action_group_id = "default"
    does_set_recovery_context = True
    action_variables = {
        "context": [
            {"name": "*", "description": "Whatever the reporting system sent as the alert's context."}
        ],
        "state": [],
        "params": [],
    }
    params_schema = Object({})  # no params: alerts arrive through the `_alerts` route

    def validate_params(self, params: Any) -> dict:
        if not isinstance(params, dict):
            raise ParamsInvalid("expected a plain object value")
        if params:
            raise ParamsInvalid(f"[{next(iter(params))}]: definition for this key is missing")
        return {}

    def run(self, ctx: RunContext) -> RunOutcome:
        reported: dict = dict(ctx.state.get("reported", {}))
        recovery = {}
        for alert_id, entry in list(reported.items()):
            if entry["action_group"] == "recovered":
                recovery[alert_id] = entry.get("context") or {}
                del reported[alert_id]
        alerts = {
            alert_id: ReportedAlert(entry["action_group"], entry.get("context") or {})
            for alert_id, entry in reported.items()
        }
        return RunOutcome(
            alerts=alerts,
            state={"reported": reported, "seen": ctx.state.get("reported", {})},
            recovery_context=recovery,
        )

    def merge_state(self, fresh: dict, outcome: dict) -> dict:
        """Keep reports that arrived during the run; drop only recoveries this run processed."""
        seen = outcome.get("seen", {})
        merged = dict(fresh.get("reported", {}))
        for alert_id, entry in seen.items():
            if entry["action_group"] == "recovered" and merged.get(alert_id) == entry:
                del merged[alert_id]
        return {"reported": merged}


def report_alerts(rule, alerts: list[dict]) -> int:
    """Merge reported alerts into the rule's state (called under a row lock by the API)."""
    state = dict(rule.state or {})
    reported = dict(state.get("reported", {}))
    for alert in alerts:
        reported[alert["id"]] = {"action_group": alert["action_group"], "context": alert.get("context") or {}}
    state["reported"] = reported
    rule.state = state
    return len(alerts)
