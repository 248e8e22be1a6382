"""Export → delete → import → compare, and the Fix flow: a connector imported without its secrets
does not run until `PUT /api/actions/connector/{id}` gives them back."""

import base64

from connectors.models import Connector
from tests.saved_objects.conftest import connector_line, export, ndjson, upload

SECRET = "roundtrip-marker-51c0"


def create(api, body):
    response = api.post("/api/actions/connector", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_export_delete_import_gives_back_the_same_connectors_without_their_secrets(api, httpserver):
    hook = create(
        api,
        {
            "name": "hook",
            "connector_type_id": ".webhook",
            "config": {"url": httpserver.url_for("/hook"), "hasAuth": True},
            "secrets": {"user": "elastic", "password": SECRET},
        },
    )
    log = create(api, {"name": "log", "connector_type_id": ".server-log"})
    index = create(api, {"name": "idx", "connector_type_id": ".index", "config": {"index": "docs"}})
    before = {c["id"]: c for c in api.get("/api/actions/connectors").json()}

    exported = export(api, {"type": "action"})
    assert SECRET not in exported.content.decode()
    for connector in (hook, log, index):
        assert api.delete(f"/api/actions/connector/{connector['id']}").status_code == 204
    body = upload(api, exported.content).json()

    assert body["successCount"] == 3 and body["success"] is True
    after = {c["id"]: c for c in api.get("/api/actions/connectors").json()}
    assert set(after) == set(before)
    for connector_id, original in before.items():
        restored = after[connector_id]
        expected_missing = connector_id == hook["id"]  # only the webhook had secrets
        assert restored == {**original, "is_missing_secrets": expected_missing}
    assert Connector.objects.get(pk=hook["id"]).get_secrets() == {}


def test_fix_restores_execution_of_a_connector_imported_without_secrets(api, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    line = connector_line(
        "c0ffee00-0000-4000-8000-00000000f1c5",
        name="imported hook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "method": "post", "hasAuth": True, "headers": None},
        missing=True,
        kibana7=True,
    )
    imported = upload(api, ndjson(line)).json()
    assert imported["warnings"][0]["type"] == "action_required"
    connector_url = "/api/actions/connector/c0ffee00-0000-4000-8000-00000000f1c5"
    assert api.get(connector_url).json()["is_missing_secrets"] is True

    broken = api.post(f"{connector_url}/_execute", {"params": {"body": "hi"}}, format="json").json()
    assert broken["status"] == "error"
    assert broken["message"] == (
        'Unable to execute action because no secrets are defined for the "imported hook" connector.'
    )
    assert httpserver.log == []

    current = api.get(connector_url).json()
    fixed = api.put(
        connector_url,
        {
            "name": current["name"],
            "config": current["config"],
            "secrets": {"user": "elastic", "password": SECRET},
        },
        format="json",
    )
    assert fixed.status_code == 200
    assert fixed.json()["is_missing_secrets"] is False

    run = api.post(f"{connector_url}/_execute", {"params": {"body": "hi"}}, format="json").json()
    assert run["status"] == "ok"
    request, _ = httpserver.log[0]
    assert request.get_data(as_text=True) == "hi"
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    )
