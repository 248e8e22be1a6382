"""A user holding `all` in `default` and nothing in `marketing` names `marketing`'s objects by id: in
the path under their own space, under `/s/marketing/`, and inside bodies (backfill items, copy and
import retries, bulk enqueue, a rule's actions, a maintenance window's bulk get). Every attempt is
refused or finds nothing, `marketing`'s objects stay as they were, and no answer holds a secret."""

import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from actions.models import Rule
from connectors.models import Connector
from tests.actions.helpers import threshold_rule_body
from tests.api.conftest import client_for, grant, make_user

MARKER = "MARKER-SECRET-cross-9c2e"
WINDOW = {"title": "w", "schedule": {"custom": {"start": "2030-03-12T12:00:00.000Z", "duration": "1h"}}}


def _stamp(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
def marketing(api, other_space):
    """A connector with secrets, a rule using it, a backfill of the rule and a window, in marketing."""
    hook = api.post(
        "/s/marketing/api/actions/connector",
        {
            "name": "m-hook",
            "connector_type_id": ".webhook",
            "config": {"url": "https://hooks.example.com/x", "hasAuth": True},
            "secrets": {"user": "u", "password": MARKER},
        },
        format="json",
    ).json()
    rule = api.post(
        "/s/marketing/api/alerting/rule", threshold_rule_body(hook["id"], name="m-rule"), format="json"
    ).json()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    (backfill,) = api.post(
        "/s/marketing/api/alerting/rules/backfill/_schedule",
        [
            {
                "rule_id": rule["id"],
                "ranges": [{"start": _stamp(start), "end": _stamp(start + timedelta(minutes=3))}],
            }
        ],
        format="json",
    ).json()
    window = api.post("/s/marketing/api/maintenance_window", WINDOW, format="json").json()
    assert "id" in hook and "id" in rule and "id" in backfill and "id" in window, (
        hook,
        rule,
        backfill,
        window,
    )
    return {"connector": hook["id"], "rule": rule["id"], "backfill": backfill["id"], "window": window["id"]}


@pytest.fixture
def alice(spaces):
    user = make_user("alice")
    grant(user, "default", "all")
    return client_for(user, "basic")


def _ndjson(*lines):
    handle = io.BytesIO(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    handle.name = "export.ndjson"
    return handle


def _connector_line(object_id):
    return {
        "attributes": {
            "actionTypeId": ".server-log",
            "config": {},
            "isMissingSecrets": False,
            "name": "mine",
            "secrets": {},
        },
        "id": object_id,
        "references": [],
        "type": "action",
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "10.1.0",
    }


def attempts(m):
    c, r, b, w = m["connector"], m["rule"], m["backfill"], m["window"]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    ranges = [{"start": _stamp(start), "end": _stamp(start + timedelta(minutes=3))}]
    for p in ("", "/s/marketing"):
        yield ("get", f"{p}/api/actions/connector/{c}", None)
        yield (
            "put",
            f"{p}/api/actions/connector/{c}",
            {"name": "pwned", "config": {"url": "https://evil.example/"}, "secrets": {}},
        )
        yield ("post", f"{p}/api/actions/connector/{c}/_execute", {"params": {"body": "{}"}})
        yield ("post", f"{p}/api/actions/connector/{c}/_enqueue", {"params": {"body": "{}"}})
        yield ("delete", f"{p}/api/actions/connector/{c}", None)
        yield ("get", f"{p}/api/actions/action/{c}", None)
        yield (
            "put",
            f"{p}/api/actions/action/{c}",
            {"name": "pwned", "config": {"url": "https://evil.example/"}, "secrets": {}},
        )
        yield ("post", f"{p}/api/actions/action/{c}/_execute", {"params": {"body": "{}"}})
        yield ("post", f"{p}/internal/actions/connector/{c}/_start_oauth_flow", {})
        yield ("post", f"{p}/internal/actions/connector/{c}/_oauth_disconnect", None)
        yield ("get", f"{p}/internal/actions/connectors", None)
        yield ("get", f"{p}/api/actions/connectors", None)
        yield ("get", f"{p}/api/actions", None)
        yield ("get", f"{p}/internal/actions/connector_types", None)
        yield ("post", f"{p}/api/actions/_bulk_enqueue", {"actions": [{"id": c, "params": {"body": "{}"}}]})
        yield ("get", f"{p}/internal/alerting/rule/{r}/_execution_log?date_start=2020-01-01T00:00:00Z", None)
        yield (
            "get",
            f"{p}/internal/actions/connector/{c}/_execution_logs?date_start=2020-01-01T00:00:00Z",
            None,
        )
        yield ("post", f"{p}/internal/alerting/rule/{r}/_run_soon", None)
        yield (
            "put",
            f"{p}/api/alerting/rule/{r}",
            {"name": "pwned", "schedule": {"interval": "1m"}, "params": {}, "actions": []},
        )
        yield ("get", f"{p}/api/alerting/rule/{r}", None)
        yield ("post", f"{p}/api/alerting/rules/backfill/_schedule", [{"rule_id": r, "ranges": ranges}])
        yield ("post", f"{p}/internal/alerting/rules/backfill/_schedule", [{"rule_id": r, "ranges": ranges}])
        yield ("get", f"{p}/api/alerting/rules/backfill/{b}", None)
        yield ("get", f"{p}/internal/alerting/rules/backfill/{b}", None)
        yield ("post", f"{p}/api/alerting/rules/backfill/_find?rule_ids={r}", None)
        yield ("post", f"{p}/internal/alerting/rules/backfill/_find?rule_ids={r}", None)
        yield ("delete", f"{p}/api/alerting/rules/backfill/{b}", None)
        yield ("delete", f"{p}/internal/alerting/rules/backfill/{b}", None)
        yield ("get", f"{p}/api/maintenance_window/{w}", None)
        yield ("patch", f"{p}/api/maintenance_window/{w}", {"title": "pwned"})
        yield ("post", f"{p}/api/maintenance_window/{w}/_archive", None)
        yield ("delete", f"{p}/api/maintenance_window/{w}", None)
        yield ("get", f"{p}/internal/alerting/rules/maintenance_window/{w}", None)
        yield ("post", f"{p}/internal/alerting/rules/maintenance_window/{w}", {"title": "pwned"})
        yield ("post", f"{p}/internal/alerting/rules/maintenance_window/{w}/_archive", {"archive": True})
        yield ("post", f"{p}/internal/alerting/rules/maintenance_window/{w}/_finish", None)
        yield ("post", f"{p}/internal/alerting/rules/maintenance_window/_bulk_get", {"ids": [w]})
        yield ("get", f"{p}/internal/alerting/rules/maintenance_window/_find", None)
        yield ("delete", f"{p}/internal/alerting/rules/maintenance_window/{w}", None)
        yield (
            "post",
            f"{p}/api/spaces/_copy_saved_objects",
            {"objects": [{"type": "action", "id": c}], "spaces": ["default"], "includeReferences": True},
        )
        yield (
            "post",
            f"{p}/api/spaces/_copy_saved_objects",
            {"objects": [{"type": "alert", "id": r}], "spaces": ["default"], "includeReferences": True},
        )
        yield (
            "post",
            f"{p}/api/spaces/_copy_saved_objects",
            {
                "objects": [{"type": "action", "id": c}],
                "spaces": ["marketing"],
                "overwrite": True,
                "createNewCopies": False,
            },
        )
        yield (
            "post",
            f"{p}/api/spaces/_resolve_copy_saved_objects_errors",
            {
                "objects": [{"type": "action", "id": c}],
                "includeReferences": True,
                "retries": {"default": [{"type": "action", "id": c, "overwrite": True}]},
            },
        )
        yield (
            "post",
            f"{p}/api/saved_objects/_export",
            {"objects": [{"type": "action", "id": c}], "includeReferencesDeep": True},
        )
        yield (
            "post",
            f"{p}/api/saved_objects/_export",
            {"objects": [{"type": "alert", "id": r}], "includeReferencesDeep": True},
        )
        yield ("import", f"{p}/api/saved_objects/_import?overwrite=true", _connector_line(c))
        yield (
            "resolve",
            f"{p}/api/saved_objects/_resolve_import_errors",
            (
                _connector_line("fresh-id-1"),
                [{"type": "action", "id": "fresh-id-1", "overwrite": True, "destinationId": c}],
            ),
        )
        yield (
            "post",
            f"{p}/api/alerting/rule",
            {
                "name": "mine",
                "rule_type_id": ".external",
                "consumer": "alerts",
                "schedule": {"interval": "1m"},
                "params": {},
                "actions": [
                    {
                        "group": "critical",
                        "id": c,
                        "params": {"body": "{}"},
                        "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
                    }
                ],
            },
        )


def _send(client, method, path, body):
    if method == "import":
        return client.post(path, {"file": _ndjson(body)}, format="multipart")
    if method == "resolve":
        line, retries = body
        return client.post(path, {"file": _ndjson(line), "retries": json.dumps(retries)}, format="multipart")
    return (
        getattr(client, method)(path, body, format="json")
        if body is not None
        else getattr(client, method)(path)
    )


def test_a_user_of_one_space_cannot_reach_another_spaces_objects_by_id(
    kibana_settings, marketing, alice, api, caplog
):
    kibana_settings.set(
        {
            "xpack.actions.preconfigured": {
                "shared-hook": {
                    "actionTypeId": ".webhook",
                    "name": "shared",
                    "config": {"url": "https://hooks.example.com/p", "hasAuth": True},
                    "secrets": {"user": "u", "password": MARKER},
                }
            }
        }
    )
    caplog.set_level(logging.DEBUG)
    before = api.get(f"/s/marketing/api/actions/connector/{marketing['connector']}").json()
    rule_before = api.get(f"/s/marketing/api/alerting/rule/{marketing['rule']}").json()
    window_before = api.get(f"/s/marketing/api/maintenance_window/{marketing['window']}").json()
    report = []
    for method, path, body in attempts(marketing):
        response = _send(alice, method, path, body)
        text = response.content.decode()
        report.append(f"{response.status_code} {method.upper()} {path}")
        assert MARKER not in text, path
        assert response.status_code < 500, (path, text)
        # Whatever answers 2xx found nothing of marketing's: no name, no rule, no window of it.
        if response.status_code < 300:
            assert "m-hook" not in text and "m-rule" not in text, (path, text)
    assert MARKER not in caplog.text
    assert api.get(f"/s/marketing/api/actions/connector/{marketing['connector']}").json() == before
    assert (
        api.get(f"/s/marketing/api/alerting/rule/{marketing['rule']}").json()["name"] == rule_before["name"]
    )
    assert api.get(f"/s/marketing/api/maintenance_window/{marketing['window']}").json() == window_before
    assert api.get(f"/s/marketing/api/alerting/rules/backfill/{marketing['backfill']}").status_code == 200
    assert Connector.objects.get(pk=marketing["connector"]).space_id == "marketing"
    assert Rule.objects.get(pk=marketing["rule"]).space_id == "marketing"
    assert Connector.objects.get(pk=marketing["connector"]).get_secrets()["password"] == MARKER
    assert Connector.objects.filter(space_id="default").exclude(name="mine").count() == 0


def test_a_copy_retry_naming_another_spaces_connector_as_its_destination_writes_a_new_copy(marketing, api):
    from connectors.models import Space

    Space.objects.create(id="sales", name="Sales")
    user = make_user("bob")
    grant(user, "default", "all")
    grant(user, "sales", "all")
    bob = client_for(user, "basic")
    own = bob.post(
        "/api/actions/connector", {"name": "own", "connector_type_id": ".server-log"}, format="json"
    ).json()
    before = api.get(f"/s/marketing/api/actions/connector/{marketing['connector']}").json()

    response = bob.post(
        "/api/spaces/_resolve_copy_saved_objects_errors",
        {
            "objects": [{"type": "action", "id": own["id"]}],
            "includeReferences": False,
            "retries": {
                "sales": [
                    {
                        "type": "action",
                        "id": own["id"],
                        "overwrite": True,
                        "destinationId": marketing["connector"],
                    }
                ]
            },
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    (result,) = response.json()["sales"]["successResults"]
    assert result["destinationId"] not in (marketing["connector"], own["id"])
    assert api.get(f"/s/marketing/api/actions/connector/{marketing['connector']}").json() == before
    assert Connector.objects.get(pk=result["destinationId"]).space_id == "sales"
    assert MARKER not in response.content.decode()
