"""Lone surrogates (`\\ud800` to `\\udfff` escapes without their pair) in input and in what a remote
service sends back. JSON lets them through, but they have no UTF-8 form: SQLite's driver and psycopg
both raise on writing one. The API refuses them as it refuses U+0000 (a 400 in Kibana's envelope naming
the field, never a 500, nothing stored), and a service's error text holding one still lands in the
event log with it replaced.

Runs on SQLite in `make test` and on PostgreSQL through
`tests/scaleout/test_lone_surrogates_on_postgresql.py`.
"""

import io
import json
import os

import pytest
from django.db import connection

from actions.models import ActionRun, Rule
from connectors.models import Connector
from eventlog.models import Event
from tests.actions.helpers import threshold_rule_body
from tests.security.conftest import webhook

LONE = "\\ud800"  # the JSON escape: Python's own str cannot be encoded to send it raw


def _send(api, method, path, body: dict, placeholder: str = "@LONE@"):
    text = json.dumps(body).replace(placeholder, LONE)
    return getattr(api, method)(path, text, content_type="application/json")


def _assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": f"[request body.{field}]: must not contain a lone surrogate (U+D800)",
    }


@pytest.fixture
def hook(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    return webhook(default_space, httpserver.url_for("/hook"))


def test_the_module_runs_on_the_database_it_was_asked_for(db):
    assert connection.vendor == os.environ.get("CONNECTORS_EXPECT_DB_VENDOR", "sqlite")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a@LONE@b", "connector_type_id": ".server-log", "config": {}, "secrets": {}}, "name"),
        (
            {
                "name": "n",
                "connector_type_id": ".webhook",
                "secrets": {},
                "config": {"url": "http://127.0.0.1:9/", "headers": {"X-@LONE@": "a"}},
            },
            "config.headers.X-\\ud800",
        ),
        (
            {"name": "n", "connector_type_id": ".server-lo@LONE@", "config": {}, "secrets": {}},
            "connector_type_id",
        ),
    ],
    ids=["name", "header name", "type id"],
)
def test_a_connector_with_a_lone_surrogate_is_a_400_never_a_500_and_nothing_is_stored(api, body, field):
    _assert_refused(_send(api, "post", "/api/actions/connector", body), field)
    assert Connector.objects.count() == 0


def test_execute_and_enqueue_with_a_lone_surrogate_in_params_are_a_400_and_nothing_runs(
    api, hook, httpserver
):
    for route in ("_execute", "_enqueue"):
        response = _send(
            api, "post", f"/api/actions/connector/{hook.id}/{route}", {"params": {"body": "@LONE@"}}
        )
        _assert_refused(response, "params.body")
    assert len(httpserver.log) == 0
    assert ActionRun.objects.count() == 0
    assert not Event.objects.filter(connector_id=hook.id).exists()


def test_a_rule_with_a_lone_surrogate_is_a_400_and_nothing_is_stored(api, hook):
    for body, field in [
        (threshold_rule_body(hook.id, name="cpu@LONE@"), "name"),
        (threshold_rule_body(hook.id, tags=["ok", "@LONE@"]), "tags.1"),
    ]:
        _assert_refused(_send(api, "post", "/api/alerting/rule", body), field)
    assert Rule.objects.count() == 0


def test_an_import_line_with_a_lone_surrogate_is_a_per_object_error_and_the_other_lines_import(
    api, default_space
):
    def line(object_id, name):
        attributes = {"actionTypeId": ".server-log", "name": name, "config": {}, "secrets": {}}
        return json.dumps({"type": "action", "id": object_id, "attributes": attributes, "references": []})

    data = (line("good-one", "kept") + "\n" + line("bad-one", "bad@LONE@").replace("@LONE@", LONE)).encode()
    handle = io.BytesIO(data)
    handle.name = "export.ndjson"

    response = api.post("/api/saved_objects/_import", {"file": handle}, format="multipart")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["successCount"] == 1
    (error,) = body["errors"]
    assert error["error"]["message"] == (
        "Line 2 is not a valid saved object: [attributes.name]: must not contain a lone surrogate (U+D800)"
    )
    assert Connector.objects.filter(pk="good-one").exists()
    assert not Connector.objects.filter(pk="bad-one").exists()


def test_a_surrogate_pair_is_a_character_like_any_other(api):
    response = api.post(
        "/api/actions/connector",
        '{"name": "alarm \\ud83d\\udea8", "connector_type_id": ".server-log", "config": {}, "secrets": {}}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert Connector.objects.get().name == "alarm \U0001f6a8"


def test_a_service_error_with_a_lone_surrogate_is_recorded_in_the_event_log_with_it_replaced(
    api, default_space, httpserver
):
    httpserver.expect_request("/json").respond_with_data(
        b'{"message": "disk \\ud800 full"}', status=500, content_type="application/json"
    )
    connector = webhook(default_space, httpserver.url_for("/json"))

    response = api.post(
        f"/api/actions/connector/{connector.id}/_execute", {"params": {"body": "{}"}}, format="json"
    )

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["service_message"].endswith("disk \ufffd full")
    event = Event.objects.get(connector_id=connector.id, action="execute")
    assert "disk \ufffd full" in json.dumps(event.document, ensure_ascii=False)


def test_the_connector_admin_refuses_a_lone_surrogate_in_a_json_field(superuser, default_space):
    from django.test import Client

    client = Client()
    client.force_login(superuser)
    form = {
        "type": ".webhook",
        "space": default_space.id,
        "name": "admin hook",
        "config__url": "http://127.0.0.1:9/hook",
        "config__method": "post",
        "config__headers": '{"X-A": "a' + LONE + '"}',
        "_save": "Save",
    }

    response = client.post("/admin/connectors/connector/add/?type=.webhook", form)

    assert response.status_code == 400  # the connector form answers an invalid form with 400
    assert "This must not contain a lone surrogate." in response.content.decode()
    assert Connector.objects.count() == 0
