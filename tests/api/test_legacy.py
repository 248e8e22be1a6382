"""The legacy 7.x routes: same operations and privileges, camelCase bodies."""

import pytest

from connectors.models import Connector
from tests.api.conftest import SPACES, client_for, create_connector, error, grant, make_user, prefix


@pytest.fixture
def admin(spaces):
    return client_for(make_user("root", superuser=True), "apikey")


@pytest.mark.parametrize("space_id", SPACES)
def test_the_legacy_routes_create_read_update_run_and_delete(admin, space_id):
    base = f"{prefix(space_id)}/api/actions"
    created = admin.post(
        f"{base}/action", {"name": "old style", "actionTypeId": ".server-log", "config": {}}, format="json"
    )
    assert created.status_code == 200, created.content
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "old style",
        "actionTypeId": ".server-log",
        "config": {},
        "isPreconfigured": False,
        "isDeprecated": False,
        "isMissingSecrets": False,
        "isSystemAction": False,
    }
    assert Connector.objects.get(pk=body["id"]).space_id == space_id
    assert admin.get(f"{base}/action/{body['id']}").json() == body
    listed = admin.get(base).json()
    assert listed == [{**body, "referencedByCount": 0}]
    updated = admin.put(f"{base}/action/{body['id']}", {"name": "renamed"}, format="json")
    assert updated.json()["name"] == "renamed"
    run = admin.post(f"{base}/action/{body['id']}/_execute", {"params": {"message": "hi"}}, format="json")
    assert run.json() == {"status": "ok", "actionId": body["id"]}
    failed = admin.post(f"{base}/action/{body['id']}/_execute", {"params": {}}, format="json").json()
    assert failed["status"] == "error" and failed["actionId"] == body["id"]
    assert "serviceMessage" in failed or "message" in failed
    assert admin.delete(f"{base}/action/{body['id']}").status_code == 204
    assert not Connector.objects.exists()


def test_legacy_list_action_types_is_camel_case(admin):
    types = {t["id"]: t for t in admin.get("/api/actions/list_action_types").json()}
    assert set(types[".server-log"]) == {
        "id",
        "name",
        "enabled",
        "enabledInConfig",
        "enabledInLicense",
        "minimumLicenseRequired",
        "supportedFeatureIds",
        "isSystemActionType",
    }


def test_legacy_errors_match_the_8x_routes(admin):
    assert admin.get("/api/actions/action/missing").json() == error(
        404, "Saved object [action/missing] not found"
    )
    missing_type = admin.post("/api/actions/action", {"name": "x"}, format="json")
    assert missing_type.json() == error(
        400, "[request body.actionTypeId]: expected value of type [string] but got [undefined]"
    )
    snake = admin.post(
        "/api/actions/action", {"name": "x", "connector_type_id": ".server-log"}, format="json"
    )
    assert snake.status_code == 400


def test_legacy_routes_apply_the_same_privileges(spaces):
    connector = create_connector("default")
    reader = make_user("reader")
    grant(reader, "default", "read")
    client = client_for(reader, "basic")
    assert client.get("/api/actions").status_code == 200
    assert client.delete(f"/api/actions/action/{connector.id}").json() == error(
        403, "Unauthorized to delete actions"
    )
    assert client.post(
        "/api/actions/action", {"name": "x", "actionTypeId": ".server-log"}, format="json"
    ).json() == (error(403, 'Unauthorized to create a ".server-log" action'))


def test_legacy_create_is_also_accepted_at_the_collection_path(admin):
    response = admin.post("/api/actions", {"name": "x", "actionTypeId": ".server-log"}, format="json")
    assert response.status_code == 200
    assert response.json()["actionTypeId"] == ".server-log"
