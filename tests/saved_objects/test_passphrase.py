"""Beyond Kibana: with a passphrase, secrets travel encrypted in the export and come back on import."""

import base64
import json

from connectors.models import Connector
from tests.saved_objects.conftest import export, export_lines, upload

SECRET = "passphrase-marker-c4e2"
PASSPHRASE = "correct horse battery staple"


def make_hook(api, url):
    response = api.post(
        "/api/actions/connector",
        {
            "name": "hook",
            "connector_type_id": ".webhook",
            "config": {"url": url, "hasAuth": True},
            "secrets": {"user": "elastic", "password": SECRET},
        },
        format="json",
    )
    return response.json()["id"]


def test_secrets_travel_encrypted_and_an_import_with_the_passphrase_restores_them(api, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook_id = make_hook(api, httpserver.url_for("/hook"))

    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    text = exported.content.decode()
    assert SECRET not in text
    assert base64.b64encode(SECRET.encode()).decode() not in text
    [line, _summary] = export_lines(exported)
    assert line["attributes"]["secrets"] == {}  # what Kibana reads: as without a passphrase
    assert line["attributes"]["isMissingSecrets"] is True
    assert line["encryptedSecrets"]["kdf"]["name"] == "scrypt"

    api.delete(f"/api/actions/connector/{hook_id}")
    body = upload(api, exported.content, passphrase=PASSPHRASE).json()

    assert body["success"] is True
    assert body["warnings"] == []  # nothing left to fix
    connector = Connector.objects.get(pk=hook_id)
    assert connector.is_missing_secrets is False
    assert connector.get_secrets()["password"] == SECRET
    run = api.post(f"/api/actions/connector/{hook_id}/_execute", {"params": {"body": "x"}}, format="json")
    assert run.json()["status"] == "ok"
    expected = "Basic " + base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    assert httpserver.log[0][0].headers["Authorization"] == expected


def test_without_the_passphrase_the_import_is_kibanas(api):
    hook_id = make_hook(api, "https://example.com/hook")
    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    api.delete(f"/api/actions/connector/{hook_id}")

    body = upload(api, exported.content).json()

    assert body["success"] is True
    assert body["warnings"][0]["message"] == "1 connector has sensitive information that require updates."
    connector = Connector.objects.get(pk=hook_id)
    assert connector.is_missing_secrets is True
    assert connector.get_secrets() == {}


def test_a_wrong_passphrase_is_a_per_object_error_and_writes_nothing(api):
    hook_id = make_hook(api, "https://example.com/hook")
    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    api.delete(f"/api/actions/connector/{hook_id}")

    body = upload(api, exported.content, passphrase="wrong passphrase").json()

    assert body["successCount"] == 0
    [error] = body["errors"]
    assert error["error"]["type"] == "unknown"
    assert "passphrase does not open" in error["error"]["message"]
    assert SECRET not in json.dumps(body)
    assert not Connector.objects.filter(pk=hook_id).exists()


def test_encrypted_secrets_moved_onto_another_object_are_refused(api):
    hook_id = make_hook(api, "https://example.com/hook")
    [line, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    api.delete(f"/api/actions/connector/{hook_id}")
    line["id"] = "0dd0dd00-0000-4000-8000-000000000000"

    body = upload(api, (json.dumps(line) + "\n").encode(), passphrase=PASSPHRASE).json()

    assert body["errors"][0]["error"]["type"] == "unknown"
    assert not Connector.objects.exists()


def test_connectors_without_secrets_export_no_envelope(api):
    api.post("/api/actions/connector", {"name": "log", "connector_type_id": ".server-log"}, format="json")
    [line, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    assert "encryptedSecrets" not in line


def test_neither_secrets_nor_the_passphrase_reach_the_logs(api, caplog):
    caplog.set_level("DEBUG")
    hook_id = make_hook(api, "https://example.com/hook")
    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    api.delete(f"/api/actions/connector/{hook_id}")
    upload(api, exported.content, passphrase=PASSPHRASE)
    upload(api, exported.content, passphrase="wrong one")

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged
    assert PASSPHRASE not in logged and "wrong one" not in logged
