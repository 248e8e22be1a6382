"""Secrets never leave: for every registered connector type, a connector is created with marker
secrets, run (success and failure), exported (plain and with a passphrase), imported, and shown on
every admin page and API answer; then every answer, page, log line (DEBUG), event-log document and
every text column of every table in the raw database is searched for the markers.

The per-type minimal config and secrets come from the contract suite's table
(tests/connectors/test_contract.py `CASES`), so a new type gets one row there, not here.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from actions.services import RunInfo, execute
from connectors import registry
from connectors.models import Connector
from eventlog.models import Event

try:  # the contract suite's table of minimal configs (every registered type has a row there)
    from tests.connectors.test_contract import CASES, SECRET
except ImportError:  # pragma: no cover - before the contract suite is merged

    @dataclass
    class _Case:
        config: Any
        secrets: Any
        params: dict
        settings: Any = field(default=lambda base: {})
        network: bool = True

    SECRET = "contract-s3cret-91ad"
    CASES = {
        ".server-log": _Case(
            lambda b: {}, lambda b: {}, {"message": "hello", "level": "info"}, network=False
        ),
        ".index": _Case(
            lambda b: {"index": "sec-index"}, lambda b: {}, {"documents": [{"a": 1}]}, network=False
        ),
        ".webhook": _Case(
            lambda b: {"url": f"{b}/hook", "method": "post", "hasAuth": True},
            lambda b: {"user": "u", "password": SECRET},
            {"body": "{}"},
        ),
    }

ALL_TYPES = sorted(t.type_id for t in registry.all_types())
PASSPHRASE = "a passphrase for the export"


def markers_for(secrets: dict) -> set[str]:
    """The contract marker, its Basic-auth encoding, and a slice of every long secret value."""
    found = {SECRET, base64.b64encode(f"u:{SECRET}".encode()).decode()}

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) >= 16:
            middle = len(value) // 2
            found.add(value[middle - 8 : middle + 8])  # a PEM key or JSON credential: its middle

    walk(secrets)
    strings = [v for v in secrets.values() if isinstance(v, str) and v]
    found.update(
        base64.b64encode(f"{a}:{b}".encode()).decode() for a in strings for b in strings if a is not b
    )
    return found


def raw_database_text() -> str:
    """Every value of every column of every table, read with SQL (no model decoding)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                chunks.append(f"{table}: " + " | ".join(str(v) for v in row))
    return "\n".join(chunks)


def _success_body(request):
    return {"id": "1", "key": "K-1", "ok": True, "status": "ok", "result": "success", "data": {}}


@pytest.fixture
def debug_logs(caplog):
    for name in (None, "connectors", "actions", "eventlog", "django", "urllib3", "django_q"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_every_registered_type_has_a_row_in_the_cases_table():
    missing = [type_id for type_id in ALL_TYPES if type_id not in CASES]
    assert not missing, (
        f"connector types with no minimal config: {', '.join(missing)}. Add a Case row for each to CASES "
        "in tests/connectors/test_contract.py; the secrets sweep (tests/security) uses the same table."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_marker_secrets_appear_nowhere_in_clear(
    type_id, api, superuser, default_space, other_space, kibana_settings, httpserver, debug_logs
):
    if type_id not in CASES:
        pytest.fail(f"{type_id} has no row in CASES (tests/connectors/test_contract.py)")
    case = CASES[type_id]
    base = httpserver.url_for("").rstrip("/")
    kibana_settings.set(case.settings(base))
    secrets = case.secrets(base)
    markers = markers_for(secrets)
    outputs: list[tuple[str, str]] = []

    def keep(label, response):
        body = getattr(response, "content", response)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        outputs.append((label, text))
        return response

    # Create through the API, then read it back every way the API offers.
    created = keep(
        "create",
        api.post(
            "/api/actions/connector",
            {
                "name": f"secret sweep {type_id}",
                "connector_type_id": type_id,
                "config": case.config(base),
                "secrets": secrets,
            },
            format="json",
        ),
    )
    assert created.status_code == 200, created.content
    connector_id = created.json()["id"]
    keep("get", api.get(f"/api/actions/connector/{connector_id}"))
    keep("list", api.get("/api/actions/connectors"))
    keep("legacy get", api.get(f"/api/actions/action/{connector_id}"))
    keep("legacy list", api.get("/api/actions"))
    keep(
        "update",
        api.put(
            f"/api/actions/connector/{connector_id}",
            {"name": "renamed", "config": case.config(base), "secrets": secrets},
            format="json",
        ),
    )

    # Run it: success, then failure (500), through `_execute` and the executor.
    httpserver.expect_request(re.compile(".*")).respond_with_json(_success_body(None))
    keep(
        "execute ok",
        api.post(f"/api/actions/connector/{connector_id}/_execute", {"params": case.params}, format="json"),
    )
    httpserver.clear()
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"message": "boom", "error": "boom"}, status=500
    )
    connector = Connector.objects.get(pk=connector_id)
    failed = execute(connector, case.params, RunInfo(source="action"))
    keep(
        "failed result", json.dumps(failed.to_api(connector_id), default=str) + repr(failed) + repr(connector)
    )
    keep(
        "legacy execute",
        api.post(f"/api/actions/action/{connector_id}/_execute", {"params": case.params}, format="json"),
    )

    # Queued in the background: the django-q2 task's arguments, then a worker's run (a failure here).
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from actions import worker

    queued = keep(
        "enqueue",
        api.post(f"/api/actions/connector/{connector_id}/_enqueue", {"params": case.params}, format="json"),
    )
    assert queued.status_code == 202, queued.content
    tasks = [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]
    assert tasks, "the enqueue queued a task"
    keep("task arguments", repr(tasks))
    assert worker.run_pending() >= 1

    # Export (plain and under a passphrase) and import both into another space.
    plain = keep("export", api.post("/api/saved_objects/_export", {"type": ["action"]}, format="json"))
    sealed = keep(
        "export with passphrase",
        api.post("/api/saved_objects/_export", {"type": ["action"], "passphrase": PASSPHRASE}, format="json"),
    )
    assert plain.status_code == 200 and sealed.status_code == 200
    for label, data, extra in (
        ("import", plain.content, {}),
        ("import with passphrase", sealed.content, {"passphrase": PASSPHRASE}),
    ):
        upload = io.BytesIO(data)
        upload.name = "export.ndjson"
        keep(
            label,
            api.post(
                f"/s/{other_space.id}/api/saved_objects/_import?createNewCopies=true",
                {"file": upload, **extra},
                format="multipart",
            ),
        )

    # Every admin page of the connector, and the saved-objects pages.
    admin = Client()
    admin.force_login(superuser)
    page_root = f"/admin/connectors/connector/{connector_id}"
    for page in ("", "/change", "/fix", "/test", "/logs", "/rules", "/delete"):
        shown = keep(f"admin {page or 'view'}", admin.get(f"{page_root}{page}/", follow=True))
        assert shown.status_code == 200, (page, shown.status_code)
    keep("admin list", admin.get("/admin/connectors/connector/"))
    keep("admin type form", admin.get(f"/admin/connectors/connector/add/?type={type_id}"))
    keep("admin export page", admin.get(f"/admin/saved-objects/export/?ids={connector_id}"))
    keep("admin export download", admin.post(f"/admin/saved-objects/export/?ids={connector_id}", {}))
    keep("admin import page", admin.get("/admin/saved-objects/import/"))
    keep("admin event log", admin.get("/admin/eventlog/event/"))

    # The event log as the API and the admin serve it.
    dates = "date_start=2020-01-01T00:00:00Z&date_end=2100-01-01T00:00:00Z"
    for label, path in (
        ("execution log", f"/internal/actions/connector/{connector_id}/_execution_logs?{dates}"),
        ("global execution log", f"/internal/actions/_global_connector_execution_logs?{dates}"),
        ("event log export", f"/internal/actions/_event_log/_export?{dates}"),
    ):
        served = api.get(path)
        assert served.status_code == 200, (label, served.status_code)
        body = b"".join(served.streaming_content) if served.streaming else served.content
        keep(label, body)

    # And then everything else that was written.
    # werkzeug is the fake remote service's own request log (it was sent the secret): not ours.
    ours = [r for r in debug_logs.records if not r.name.startswith("werkzeug")]
    keep("logs", "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in ours))
    keep("event log", json.dumps(list(Event.objects.values()), default=str))
    keep("database", raw_database_text())

    # The search itself works: what is not secret is found where it was written.
    everything = "\n".join(text for _label, text in outputs)
    assert connector_id in everything and connector_id in dict(outputs)["database"]
    assert Connector.objects.filter(space=other_space).count() == 2, "both imports wrote a connector"
    leaks = [(label, marker) for label, text in outputs for marker in markers if marker in text]
    assert not leaks, f"{type_id}: marker secrets found in clear: {leaks}"


def _echo(request):
    """A hostile or careless service: its error message repeats what it was sent."""
    from werkzeug import Response

    echoed = (
        request.full_path
        + " "
        + " ".join(f"{k}: {v}" for k, v in request.headers.items())
        + " "
        + request.get_data(as_text=True)
    )
    return Response(
        json.dumps({"message": echoed, "error": echoed}), status=500, content_type="application/json"
    )


NETWORK_TYPES = [t for t in ALL_TYPES if t in CASES and CASES[t].network]


@pytest.mark.django_db
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_a_service_that_echoes_the_secret_back_does_not_put_it_in_the_result_or_event_log(
    type_id, default_space, kibana_settings, httpserver, debug_logs
):
    case = CASES[type_id]
    base = httpserver.url_for("").rstrip("/")
    kibana_settings.set(case.settings(base))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_echo)
    connector = Connector(
        space=default_space, name="echo", connector_type_id=type_id, config=case.config(base)
    )
    secrets = case.secrets(base)
    connector.set_secrets(secrets)
    connector.save()
    result = execute(connector, case.params, RunInfo(source="action"))
    assert httpserver.log, "the service was called"
    sent = httpserver.log[0][0]
    sent_text = (
        sent.full_path + " ".join(f"{k}: {v}" for k, v in sent.headers.items()) + sent.get_data(as_text=True)
    )
    markers = {m for m in markers_for(secrets) if m in sent_text}
    if not markers:
        pytest.skip(f"{type_id} sends no marker secret on this request (e.g. it signs with it)")
    outputs = {
        "result": json.dumps(result.to_api(connector.id), default=str) + repr(result),
        "event log": json.dumps(list(Event.objects.values()), default=str),
        "connector row": f"{connector.last_error} {Connector.objects.get(pk=connector.pk).last_error}",
        "logs": "\n".join(
            f"{r.name}: {r.getMessage()} {r.exc_text or ''}"
            for r in debug_logs.records
            if not r.name.startswith("werkzeug")  # the fake service's own request log
        ),
    }
    leaks = [(label, m) for label, text in outputs.items() for m in markers if m in text]
    assert not leaks, f"{type_id}: an echoed secret came back out: {leaks}"
