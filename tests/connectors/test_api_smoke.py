"""The connectors API end to end through Django: the foundation's routes and envelope."""

from connectors.models import Connector


def test_create_get_execute_delete_a_server_log_connector(api):
    created = api.post(
        "/api/actions/connector", {"name": "log", "connector_type_id": ".server-log"}, format="json"
    )
    assert created.status_code == 200, created.content
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "log",
        "connector_type_id": ".server-log",
        "config": {},
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_missing_secrets": False,
        "is_system_action": False,
    }
    assert api.get(f"/api/actions/connector/{body['id']}").json()["name"] == "log"
    run = api.post(
        f"/api/actions/connector/{body['id']}/_execute", {"params": {"message": "hi"}}, format="json"
    )
    assert run.json() == {"connector_id": body["id"], "status": "ok"}
    assert api.delete(f"/api/actions/connector/{body['id']}").status_code == 204
    assert not Connector.objects.filter(pk=body["id"]).exists()


def test_a_missing_kbn_xsrf_header_is_a_400_with_kibanas_message(api):
    api.credentials(HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"])
    response = api.post(
        "/api/actions/connector", {"name": "x", "connector_type_id": ".server-log"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Request must contain a kbn-xsrf header.",
    }


def test_an_unknown_connector_is_a_404_with_kibanas_message(api):
    response = api.get("/api/actions/connector/nope")
    assert response.status_code == 404
    assert response.json()["message"] == "Saved object [action/nope] not found"


def test_the_index_connector_answers_like_a_bulk_request(api):
    created = api.post(
        "/api/actions/connector",
        {"name": "idx", "connector_type_id": ".index", "config": {"index": "test-index"}},
        format="json",
    ).json()
    run = api.post(
        f"/api/actions/connector/{created['id']}/_execute",
        {"params": {"documents": [{"a": 1}, {"b": 2}]}},
        format="json",
    ).json()
    assert run["status"] == "ok"
    items = run["data"]["items"]
    assert [item["create"]["_seq_no"] for item in items] == [0, 1]
    assert items[0]["create"]["_index"] == "test-index"
    assert items[0]["create"]["status"] == 201
    assert run["data"]["errors"] is False


def test_unauthenticated_calls_get_401(db, default_space, client):
    response = client.get("/api/actions/connectors")
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
