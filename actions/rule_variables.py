"""What an action's params are rendered with: the rule's Mustache variables (`rule`, `alert`,
`context`, `date`...), the alerts-as-data document of an alert, and the `alerts` summary a summary
action gets."""

from __future__ import annotations

from datetime import datetime

from actions.models import Alert, Rule
from actions.rules import iso
from connectors.conf import get_config


def merge_docs(first: list[dict], second: list[dict]) -> list[dict]:
    seen = {doc["_id"] for doc in first}
    return [*first, *[doc for doc in second if doc["_id"] not in seen]]


def with_window(summary: dict, window: dict) -> dict:
    new = merge_docs(window["new"], summary["new"]["data"])
    new_ids = {doc["_id"] for doc in new}
    active_ids = {doc["_id"] for doc in summary["new"]["data"] + summary["ongoing"]["data"]}
    recovered = [
        d for d in merge_docs(window["recovered"], summary["recovered"]["data"]) if d["_id"] not in active_ids
    ]
    ongoing = [doc for doc in summary["ongoing"]["data"] if doc["_id"] not in new_ids]
    every = new + ongoing + recovered
    return {
        "new": {"count": len(new), "data": new},
        "ongoing": {"count": len(ongoing), "data": ongoing},
        "recovered": {"count": len(recovered), "data": recovered},
        "all": {"count": len(every), "data": every},
    }


def alert_doc(rule: Rule, alert: Alert, status: str, now: datetime) -> dict:
    """The alert as an alerts-as-data document: what summaries carry and alerts_filter queries match."""
    return {
        "_id": alert.uuid,
        "@timestamp": iso(now),
        "tags": rule.tags,
        "kibana": {
            "alert": {
                "instance": {"id": alert.alert_id},
                "uuid": alert.uuid,
                "action_group": alert.action_group if status != "recovered" else "recovered",
                "status": status,
                "reason": (alert.context or {}).get("message", ""),
                "flapping": alert.flapping,
                "maintenance_window_ids": list(alert.maintenance_window_ids or []),
                "rule": {
                    "uuid": rule.id,
                    "name": rule.name,
                    "rule_type_id": rule.rule_type_id,
                    "consumer": rule.consumer,
                    "tags": rule.tags,
                },
            }
        },
        "context": alert.context,
    }


def alerts_summary(rule, rule_type, active, new_ids, recovered, muted, now, allows) -> dict:
    new = [alert_doc(rule, a, "active", now) for a in active if id(a) in new_ids]
    ongoing = [alert_doc(rule, a, "active", now) for a in active if id(a) not in new_ids]
    done = [alert_doc(rule, a, "recovered", now) for a in recovered if a.alert_id not in muted]
    new, ongoing, done = ([doc for doc in docs if allows(doc)] for docs in (new, ongoing, done))
    every = new + ongoing + done
    return {
        "new": {"count": len(new), "data": new},
        "ongoing": {"count": len(ongoing), "data": ongoing},
        "recovered": {"count": len(done), "data": done},
        "all": {"count": len(every), "data": every},
    }


def _rule_url(rule: Rule) -> str:
    base = get_config()["connectors.kibanaBaseUrl"]
    if not base:
        return ""
    return f"{base}/admin/actions/rule/{rule.id}/change/"


def build_variables(
    rule: Rule, rule_type, alert: Alert | None, group: str | None, context: dict, now, summary=None
) -> dict:
    base = get_config()["connectors.kibanaBaseUrl"] or ""
    rule_vars = {
        "id": rule.id,
        "name": rule.name,
        "type": rule.rule_type_id,
        "spaceId": rule.space_id,
        "tags": rule.tags,
        "url": _rule_url(rule),
        "params": rule.params,
    }
    variables = {
        "alertId": rule.id,
        "alertName": rule.name,
        "spaceId": rule.space_id,
        "tags": rule.tags,
        "date": iso(now),
        "kibanaBaseUrl": base,
        "params": rule.params,
        "rule": rule_vars,
        "context": context or {},
        "state": {},
    }
    if alert is not None:
        variables["alert"] = {
            "id": alert.alert_id,
            "uuid": alert.uuid,
            "actionGroup": group,
            "actionGroupName": rule_type.group_name(group),
            "flapping": alert.flapping,
            "consecutiveMatches": alert.consecutive_matches,
        }
        variables.update(
            {
                "alertInstanceId": alert.alert_id,
                "alertActionGroup": group,
                "alertActionGroupName": rule_type.group_name(group),
            }
        )
    else:
        variables["alert"] = {
            "id": "",
            "uuid": "",
            "actionGroup": "",
            "actionGroupName": "",
            "flapping": False,
        }
    if summary is not None:
        variables["alerts"] = summary
    return variables
