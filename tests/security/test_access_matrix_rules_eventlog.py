"""The access matrix for the rules (alerting) and event-log routes: a user holding `all`, `read` or
nothing in `default`, asked about `default` and `marketing`, with Basic, an API key or the session.
Kibana's operation classes decide: reads (get, find, rule types, health, execution logs) need `read`;
writes (create, update, delete, enable, disable, mute, snooze, runSoon, reporting alerts) need `all`."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from actions.models import Rule
from tests.api.conftest import client_for, create_connector, grant, make_user

SPACES = ("default", "marketing")
DATES = "?date_start=2020-01-01T00:00:00Z&date_end=2100-01-01T00:00:00Z"
RULE_BODY = {
    "name": "ext",
    "rule_type_id": ".external",
    "consumer": "alerts",
    "schedule": {"interval": "1m"},
    "params": {},
    "actions": [],
    "enabled": False,
}
SNOOZE = {"schedule": {"custom": {"start": "2030-03-12T12:00:00.000Z", "duration": "1h"}}}
WINDOW = {"title": "w", "schedule": {"custom": {"start": "2030-03-12T12:00:00.000Z", "duration": "1h"}}}
INTERNAL_WINDOW = {
    "title": "w",
    "duration": 3600000,
    "r_rule": {"dtstart": "2030-03-12T12:00:00.000Z", "tzid": "UTC", "freq": 2},
}
INTERNAL_MW = "{p}/internal/alerting/rules/maintenance_window"
UPDATE = {"name": "renamed", "schedule": {"interval": "1m"}, "params": {}, "actions": []}

# (label, needs, method, path, body, allowed status). {p} prefix, {rule} a fresh rule, {id} a connector.


def _hours_ago(hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds").replace("+00:00", "Z")


ROUTES = [
    ("rule create", "all", "post", "{p}/api/alerting/rule", RULE_BODY, 200),
    ("rule get", "read", "get", "{p}/api/alerting/rule/{rule}", None, 200),
    ("rule update", "all", "put", "{p}/api/alerting/rule/{rule}", UPDATE, 200),
    ("rule delete", "all", "delete", "{p}/api/alerting/rule/{rule}", None, 204),
    ("rule enable", "all", "post", "{p}/api/alerting/rule/{rule}/_enable", None, 204),
    ("rule disable", "all", "post", "{p}/api/alerting/rule/{rule}/_disable", None, 204),
    ("rule mute all", "all", "post", "{p}/api/alerting/rule/{rule}/_mute_all", None, 204),
    ("rule unmute all", "all", "post", "{p}/api/alerting/rule/{rule}/_unmute_all", None, 204),
    # The fresh rule has raised no alert "a1": skip the existence check (Kibana 9.3+ defaults it on).
    ("alert mute", "all", "post", "{p}/api/alerting/rule/{rule}/alert/a1/_mute{novalidate}", None, 204),
    ("alert unmute", "all", "post", "{p}/api/alerting/rule/{rule}/alert/a1/_unmute{novalidate}", None, 204),
    ("rule update api key", "all", "post", "{p}/api/alerting/rule/{rule}/_update_api_key", None, 204),
    (
        "rule execution log",
        "read",
        "get",
        "{p}/internal/alerting/rule/{rule}/_execution_log{dates}",
        None,
        200,
    ),
    (
        "rule execution kpi",
        "read",
        "get",
        "{p}/internal/alerting/rule/{rule}/_execution_kpi{dates}",
        None,
        200,
    ),
    ("maintenance window create", "all", "post", "{p}/api/maintenance_window", WINDOW, 200),
    ("maintenance window find", "read", "get", "{p}/api/maintenance_window/_find", None, 200),
    # Allowed callers get past authorisation to the window's not-found answer ("{rule}" is no window).
    ("maintenance window get", "read", "get", "{p}/api/maintenance_window/{rule}", None, 404),
    ("maintenance window update", "all", "patch", "{p}/api/maintenance_window/{rule}", {"title": "x"}, 404),
    ("maintenance window delete", "all", "delete", "{p}/api/maintenance_window/{rule}", None, 404),
    ("maintenance window archive", "all", "post", "{p}/api/maintenance_window/{rule}/_archive", None, 404),
    (
        "maintenance window unarchive",
        "all",
        "post",
        "{p}/api/maintenance_window/{rule}/_unarchive",
        None,
        404,
    ),
    ("internal maintenance window create", "all", "post", INTERNAL_MW, INTERNAL_WINDOW, 200),
    ("internal maintenance window find", "read", "get", INTERNAL_MW + "/_find", None, 200),
    ("internal maintenance window active", "read", "get", INTERNAL_MW + "/_active", None, 200),
    ("internal maintenance window bulk get", "read", "post", INTERNAL_MW + "/_bulk_get", {"ids": ["x"]}, 200),
    # Allowed callers get past authorisation to the window's not-found answer ("{rule}" is no window).
    ("internal maintenance window get", "read", "get", INTERNAL_MW + "/{rule}", None, 404),
    ("internal maintenance window update", "all", "post", INTERNAL_MW + "/{rule}", {"title": "x"}, 404),
    ("internal maintenance window delete", "all", "delete", INTERNAL_MW + "/{rule}", None, 404),
    (
        "internal maintenance window archive",
        "all",
        "post",
        INTERNAL_MW + "/{rule}/_archive",
        {"archive": True},
        404,
    ),
    ("internal maintenance window finish", "all", "post", INTERNAL_MW + "/{rule}/_finish", None, 404),
    ("backfill find", "read", "post", "{p}/api/alerting/rules/backfill/_find", None, 200),
    # Allowed callers get past authorisation to the per-rule result ("{rule}" is a rule, not a backfill).
    # As in Kibana, `read` finds the rules and only a found rule's write is refused (its 403 is in
    # tests/actions/test_backfill.py): a missing rule is the per-item 404 for readers too.
    (
        "backfill schedule",
        "read",
        "post",
        "{p}/api/alerting/rules/backfill/_schedule",
        [
            {
                "rule_id": "no-such-rule",
                "ranges": [{"start": _hours_ago(3), "end": _hours_ago(2)}],
            }
        ],
        200,
    ),
    # Kibana reads a backfill before it authorizes its rule type: a missing one is the same 404 for
    # every caller (FTR get_backfill.ts, delete_backfill.ts); the 403 on an existing one is in
    # tests/actions/test_backfill.py.
    ("backfill get", "anyone", "get", "{p}/api/alerting/rules/backfill/{rule}", None, 404),
    ("backfill delete", "anyone", "delete", "{p}/api/alerting/rules/backfill/{rule}", None, 404),
    # Kibana's internal twins of the backfill routes: the same views.
    ("internal backfill find", "read", "post", "{p}/internal/alerting/rules/backfill/_find", None, 200),
    (
        "internal backfill schedule",
        "read",
        "post",
        "{p}/internal/alerting/rules/backfill/_schedule",
        [{"rule_id": "no-such-rule", "ranges": [{"start": _hours_ago(3), "end": _hours_ago(2)}]}],
        200,
    ),
    ("internal backfill get", "anyone", "get", "{p}/internal/alerting/rules/backfill/{rule}", None, 404),
    (
        "bulk enqueue",
        "read",
        "post",
        "{p}/api/actions/_bulk_enqueue",
        {"actions": [{"id": "no-such-connector", "params": {}}]},
        200,
    ),
    ("report alerts", "all", "post", "{p}/api/alerting/rule/{rule}/_alerts", {"alerts": [{"id": "a1"}]}, 202),
    ("rule snooze", "all", "post", "{p}/api/alerting/rule/{rule}/snooze_schedule", SNOOZE, 200),
    # Allowed callers get past authorisation to "Rule has no snooze schedules." (the fresh rule has none).
    ("rule unsnooze", "all", "delete", "{p}/api/alerting/rule/{rule}/snooze_schedule/{schedule}", None, 400),
    ("rules find", "read", "get", "{p}/api/alerting/rules/_find", None, 200),
    ("rule types", "read", "get", "{p}/api/alerting/rule_types", None, 200),
    ("alerting health", "read", "get", "{p}/api/alerting/_health", None, 200),
    ("run soon", "all", "post", "{p}/internal/alerting/rule/{rule}/_run_soon", None, 200),
    ("enqueue", "read", "post", "{p}/api/actions/connector/{id}/_enqueue", {"params": {"message": "m"}}, 202),
    # Allowed callers get past authorisation to the run's not-found answer ("{run}" is no run id).
    ("enqueued run", "read", "get", "{p}/api/actions/connector/{id}/_enqueue/{run}", None, 404),
    ("global logs", "read", "get", "{p}/internal/actions/_global_connector_execution_logs{dates}", None, 200),
    ("global kpi", "read", "get", "{p}/internal/actions/_global_connector_execution_kpi{dates}", None, 200),
    (
        "connector logs",
        "read",
        "get",
        "{p}/internal/actions/connector/{id}/_execution_logs{dates}",
        None,
        200,
    ),
    ("connector kpi", "read", "get", "{p}/internal/actions/connector/{id}/_execution_kpi{dates}", None, 200),
    ("event log export", "read", "get", "{p}/internal/actions/_event_log/_export{dates}", None, 200),
]


# Kibana lists the rule types a caller may read: none, without privileges (200 and an empty list).
DENIED_ANSWERS = {"rule types": (200, [])}


def _prefix(space_id):
    return "" if space_id == "default" else f"/s/{space_id}"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["basic", "apikey", "session"])
@pytest.mark.parametrize("asked", SPACES)
@pytest.mark.parametrize("privilege", ["all", "read", "none"])
def test_every_rules_and_event_log_route_answers_as_the_privilege_allows(spaces, privilege, asked, method):
    user = make_user(f"r-{privilege}")
    grant(user, "default", privilege)
    client = client_for(user, method)
    held_here = asked == "default" and privilege != "none"
    wrong = []
    for label, needs, verb, path, body, ok_status in ROUTES:
        rule = Rule.objects.create(
            space_id=asked, name=f"target {label}", rule_type_id=".external", enabled=False
        )
        connector = create_connector(asked, name=f"target {label}")
        url = path.replace("{p}", _prefix(asked)).replace("{rule}", rule.id).replace("{id}", connector.id)
        url = url.replace("{dates}", DATES).replace("{novalidate}", "?validate_alerts_existence=false")
        response = getattr(client, verb)(
            url, json.loads(json.dumps(body)) if body is not None else None, format="json"
        )
        allowed = needs == "anyone" or (held_here and (privilege == "all" or needs == "read"))
        if allowed and response.status_code != ok_status:
            wrong.append((label, "should be allowed", response.status_code, response.content[:160]))
        if not allowed and label in DENIED_ANSWERS:
            if (response.status_code, response.json()) != DENIED_ANSWERS[label]:
                wrong.append(
                    (label, "should be its denied answer", response.status_code, response.content[:160])
                )
        elif not allowed and response.status_code not in (403,):
            wrong.append((label, "should be 403", response.status_code, response.content[:160]))
        if not allowed and verb != "get":
            assert Rule.objects.filter(pk=rule.pk, name=f"target {label}").exists(), label
    assert not wrong, wrong
