"""U+0000 (NUL) in input and in what a remote service sends back. PostgreSQL's text and jsonb cannot
hold it, SQLite can: the API answers the same on both (a 400 in Kibana's envelope naming the field,
never a 500, nothing stored), and a NUL-bearing error text from a service still lands in the event
log and on the run row (the NUL replaced).

This module runs on the test database of the process: SQLite in `make test`, and PostgreSQL through
`tests/scaleout/test_nul_on_postgresql.py`, which runs it again with DATABASE_URL pointing there.
"""

import io
import json
import os

import pytest
from django.db import connection

from actions import worker
from actions.models import ActionRun, Rule
from connectors.models import Connector
from eventlog.models import Event
from tests.actions.helpers import threshold_rule_body
from tests.raw_server import RawServer
from tests.security.conftest import webhook

NUL = "\x00"


@pytest.fixture
def hook(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    return webhook(default_space, httpserver.url_for("/hook"))


def test_the_module_runs_on_the_database_it_was_asked_for(db):
    """`test_nul_on_postgresql.py` sets this; without it the run is the SQLite one."""
    assert connection.vendor == os.environ.get("CONNECTORS_EXPECT_DB_VENDOR", "sqlite")


def _connector_body(**changes) -> dict:
    body = {
        "name": "nul hook",
        "connector_type_id": ".webhook",
        "config": {
            "url": "http://127.0.0.1:9/hook",
            "method": "post",
            "hasAuth": True,
            "headers": {"X-A": "a"},
        },
        "secrets": {"user": "hook-user", "password": "hook-password"},
    }
    for dotted, value in changes.items():
        node = body
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return body


def _assert_nul_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": f"[request body.{field}]: must not contain the NUL character (U+0000)",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": f"a{NUL}b"}, "name"),
        ({"config__url": f"http://127.0.0.1:9/{NUL}"}, "config.url"),
        ({"config__headers": {"X-A": f"a{NUL}"}}, "config.headers.X-A"),
        ({"config__headers": {f"X-{NUL}": "a"}}, "config.headers.X-\\u0000"),
        ({"secrets__password": f"pass{NUL}word"}, "secrets.password"),
    ],
)
def test_a_connector_with_a_nul_anywhere_is_a_400_and_nothing_is_stored(api, change, field):
    assert api.post("/api/actions/connector", _connector_body(), format="json").status_code == 200
    before = Connector.objects.count()

    response = api.post("/api/actions/connector", _connector_body(**change), format="json")

    _assert_nul_refused(response, field)
    assert Connector.objects.count() == before


def test_renaming_a_connector_to_a_name_with_a_nul_is_a_400_and_changes_nothing(api, hook):
    response = api.put(
        f"/api/actions/connector/{hook.id}", {"name": f"x{NUL}", "config": hook.config}, format="json"
    )
    _assert_nul_refused(response, "name")
    hook.refresh_from_db()
    assert hook.name == "hook"


def test_execute_with_a_nul_in_params_is_a_400_and_nothing_runs(api, hook, httpserver):
    path = f"/api/actions/connector/{hook.id}/_execute"
    assert api.post(path, {"params": {"body": "{}"}}, format="json").json()["status"] == "ok"
    assert len(httpserver.log) == 1

    response = api.post(path, {"params": {"body": f'{{"a": "{NUL}"}}'}}, format="json")

    _assert_nul_refused(response, "params.body")
    assert len(httpserver.log) == 1
    assert Event.objects.filter(connector_id=hook.id, action="execute").count() == 1


def test_enqueue_with_a_nul_in_params_is_a_400_and_queues_nothing(api, hook):
    path = f"/api/actions/connector/{hook.id}/_enqueue"
    assert api.post(path, {"params": {"body": "{}"}}, format="json").status_code == 202
    assert ActionRun.objects.count() == 1

    response = api.post(path, {"params": {"body": NUL}}, format="json")

    _assert_nul_refused(response, "params.body")
    assert ActionRun.objects.count() == 1


def test_a_rule_with_a_nul_is_a_400_and_nothing_is_stored(api, hook):
    assert api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").status_code == 200
    before = Rule.objects.count()

    for body, field in [
        (threshold_rule_body(hook.id, name=f"cpu{NUL}"), "name"),
        (threshold_rule_body(hook.id, tags=["ok", f"t{NUL}"]), "tags.1"),
        (threshold_rule_body(hook.id, message=f"{NUL}"), "actions.0.params.body"),
    ]:
        _assert_nul_refused(api.post("/api/alerting/rule", body, format="json"), field)
    assert Rule.objects.count() == before


def _import_line(object_id: str, name: str) -> str:
    return json.dumps(
        {
            "type": "action",
            "id": object_id,
            "attributes": {"actionTypeId": ".server-log", "name": name, "config": {}, "secrets": {}},
            "references": [],
        }
    )


def test_an_import_line_with_a_nul_is_a_per_object_error_and_the_other_lines_import(api, default_space):
    data = (_import_line("good-one", "kept") + "\n" + _import_line("bad-one", f"bad{NUL}") + "\n").encode()
    handle = io.BytesIO(data)
    handle.name = "export.ndjson"

    response = api.post("/api/saved_objects/_import", {"file": handle}, format="multipart")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["successCount"] == 1
    assert body["success"] is False
    (error,) = body["errors"]
    assert error["meta"]["title"] == "Line 2"
    assert error["error"]["message"] == (
        "Line 2 is not a valid saved object: [attributes.name]: must not contain the NUL character (U+0000)"
    )
    assert Connector.objects.filter(pk="good-one", name="kept").exists()
    assert not Connector.objects.filter(pk="bad-one").exists()


@pytest.fixture
def nul_error_service(httpserver):
    """A service whose answers carry NUL: `\\u0000` in a JSON 500 (the webhook type quotes its
    `message`) and a raw NUL byte in a text answer (the Slack type quotes a text other than `ok`)."""
    httpserver.expect_request("/json").respond_with_data(
        b'{"message": "disk \\u0000 full"}', status=500, content_type="application/json"
    )
    httpserver.expect_request("/text").respond_with_data(b"disk \x00 full", status=200)
    return httpserver


def _slack(space, url: str) -> Connector:
    connector = Connector(space=space, name="nul slack", connector_type_id=".slack", config={})
    connector.set_secrets({"webhookUrl": url})
    connector.save()
    return connector


@pytest.mark.parametrize(
    ("make", "path", "params"),
    [
        (webhook, "/json", {"body": "{}"}),
        (_slack, "/text", {"message": "hello"}),
    ],
)
def test_a_service_error_with_nul_bytes_is_recorded_in_the_event_log_without_them(
    api, default_space, nul_error_service, make, path, params
):
    connector = make(default_space, nul_error_service.url_for(path))
    response = api.post(f"/api/actions/connector/{connector.id}/_execute", {"params": params}, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["service_message"].endswith("disk \ufffd full")  # the text is kept, the NUL replaced
    event = Event.objects.get(connector_id=connector.id, action="execute")
    assert event.outcome == "failure"
    assert "disk \ufffd full" in event.error_message
    assert NUL not in json.dumps(event.document, ensure_ascii=False)


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_against_a_nul_error_service_finishes_with_its_error_recorded(
    default_space, nul_error_service, kibana_settings
):
    from actions.services import enqueue

    kibana_settings.set({"xpack.actions.run.maxAttempts": 1})
    connector = webhook(default_space, nul_error_service.url_for("/json"))
    run = enqueue(connector.id, {"body": "{}"})

    worker.run_pending(max_rounds=1)

    run.refresh_from_db()
    assert run.status == ActionRun.FAILED
    assert "disk \ufffd full" in run.last_error
    events = Event.objects.filter(connector_id=connector.id, action="execute")
    assert [(e.outcome, e.execution_uuid) for e in events] == [("failure", run.execution_uuid)]


# ---- the admin: Django refuses a raw NUL in a form field itself; the JSON fields need our check ----


def _admin(superuser):
    from django.test import Client

    client = Client()
    client.force_login(superuser)
    return client


def test_the_rule_admin_refuses_a_nul_in_its_json_fields_and_stores_nothing(superuser, default_space, hook):
    from tests.actions.rule_editor_forms import editor_form, editor_url

    client = _admin(superuser)
    ok = client.post(editor_url(threshold_rule_body(hook.id)), editor_form(threshold_rule_body(hook.id)))
    assert ok.status_code == 302, ok.content.decode()[:2000]

    body = threshold_rule_body(hook.id, message=f"a{NUL}")
    response = client.post(editor_url(body), editor_form(body))  # the rule editor: refused on the field

    assert response.status_code == 400
    assert (
        'id="id_action-0-params__body_error"><li>Null characters are not allowed.'
        in response.content.decode()
    )
    assert Rule.objects.count() == 1


def test_the_connector_admin_refuses_a_nul_in_a_json_field_or_a_text_field(superuser, default_space):
    client = _admin(superuser)
    form = {
        "type": ".webhook",
        "space": default_space.id,
        "name": "admin hook",
        "config__url": "http://127.0.0.1:9/hook",
        "config__method": "post",
        "config__headers": '{"X-A": "a"}',
        "_save": "Save",
    }
    ok = client.post("/admin/connectors/connector/add/?type=.webhook", form)
    assert ok.status_code == 302, ok.content.decode()[:3000]
    before = Connector.objects.count()

    json_nul = client.post(
        "/admin/connectors/connector/add/?type=.webhook", {**form, "config__headers": '{"X-A": "a\\u0000"}'}
    )
    text_nul = client.post("/admin/connectors/connector/add/?type=.webhook", {**form, "name": f"a{NUL}b"})

    assert json_nul.status_code == 400  # the connector form answers an invalid form with 400
    assert "This must not contain the NUL character (U+0000)." in json_nul.content.decode()
    assert text_nul.status_code == 400
    assert "Null characters are not allowed." in text_nul.content.decode()
    assert Connector.objects.count() == before


@pytest.mark.parametrize(
    ("method", "path", "where"),
    [
        ("get", "/api/actions/connector/a%00b", "request params"),
        ("delete", "/api/actions/connector/a%00b", "request params"),
        ("get", "/s/sp%00ace/api/actions/connectors", "request params"),
        ("get", "/api/alerting/rules/_find?search=cpu%00", "request query.search"),
        ("get", "/internal/actions/_global_connector_execution_logs?filter=%00", "request query.filter"),
    ],
)
def test_a_nul_in_the_path_or_query_is_a_400_in_the_envelope(api, hook, method, path, where):
    response = getattr(api, method)(path)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": f"[{where}]: must not contain the NUL character (U+0000)",
    }
    assert Connector.objects.filter(pk=hook.pk).exists()


def _smtp_rejecting_with_nul(connection, stop):
    """An SMTP server that greets, accepts EHLO and refuses the sender with a NUL in its reply."""
    connection.sendall(b"220 mail.test ready\r\n")
    stream = connection.makefile("rb")
    while not stop.is_set():
        line = stream.readline()
        if not line:
            return
        verb = line.split(b" ", 1)[0].strip().upper()
        if verb in (b"EHLO", b"HELO"):
            connection.sendall(b"250 mail.test\r\n")
        elif verb == b"QUIT":
            connection.sendall(b"221 bye\r\n")
            return
        else:
            connection.sendall(b"550 mailbox \x00 unavailable\r\n")


def test_an_smtp_reply_with_a_nul_is_recorded_in_the_event_log_without_it(api, default_space):
    server = RawServer(_smtp_rejecting_with_nul, read_request=False)  # SMTP: the server speaks first
    try:
        connector = Connector(
            space=default_space,
            name="nul mail",
            connector_type_id=".email",
            config={
                "service": "other",
                "from": "a@example.com",
                "host": "127.0.0.1",
                "port": server.port,
                "secure": False,
                "hasAuth": False,
            },
        )
        connector.set_secrets({})
        connector.save()
        response = api.post(
            f"/api/actions/connector/{connector.id}/_execute",
            {"params": {"to": ["b@example.com"], "subject": "s", "message": "m"}},
            format="json",
        )
    finally:
        server.close()

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "error"
    assert "mailbox \ufffd unavailable" in response.json()["service_message"]
    event = Event.objects.get(connector_id=connector.id, action="execute")
    assert "mailbox \ufffd unavailable" in event.error_message
