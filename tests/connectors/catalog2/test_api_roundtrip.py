"""Catalog II types through the public API: create, read back, `_execute`, and no secret anywhere."""

import json

from connectors.models import Connector

TOKEN = "api-roundtrip-secret-7c4d"


def test_a_jira_connector_is_created_and_run_through_the_api(api, httpserver):
    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes").respond_with_json(
        {"issueTypes": [{"id": "3", "name": "Task"}]}
    )
    created = api.post(
        "/api/actions/connector",
        {
            "name": "jira",
            "connector_type_id": ".jira",
            "config": {"apiUrl": httpserver.url_for("/"), "projectKey": "SEC"},
            "secrets": {"email": "me@example.com", "apiToken": TOKEN},
        },
        format="json",
    )
    assert created.status_code == 200, created.json()
    body = created.json()
    assert body["config"] == {"apiUrl": httpserver.url_for("/"), "projectKey": "SEC"}
    assert body["is_missing_secrets"] is False

    executed = api.post(
        f"/api/actions/connector/{body['id']}/_execute",
        {"params": {"subAction": "issueTypes", "subActionParams": {}}},
        format="json",
    )
    assert executed.status_code == 200
    assert executed.json() == {
        "connector_id": body["id"],
        "status": "ok",
        "data": [{"id": "3", "name": "Task"}],
    }

    listed = api.get("/api/actions/connectors")
    for response in (created, executed, listed, api.get(f"/api/actions/connector/{body['id']}")):
        assert TOKEN not in response.content.decode()


def test_a_servicenow_connector_with_bad_oauth_config_is_refused(api):
    response = api.post(
        "/api/actions/connector",
        {
            "name": "sn",
            "connector_type_id": ".servicenow",
            "config": {
                "apiUrl": "https://dev.example.com",
                "isOAuth": True,
                "clientId": "c",
                "jwtKeyId": "k",
            },
            "secrets": {"clientSecret": TOKEN, "privateKey": "pem"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "error validating action type config: userIdentifierValue must be provided when isOAuth = true",
    }
    assert not Connector.objects.filter(name="sn").exists()


def test_the_gen_ai_test_sub_action_runs_through_execute(api, httpserver):
    completion = {
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "choices": [{"message": {"role": "assistant", "content": "hi"}}],
    }
    httpserver.expect_request("/v1/chat/completions").respond_with_json(completion)
    created = api.post(
        "/api/actions/connector",
        {
            "name": "llm",
            "connector_type_id": ".gen-ai",
            "config": {
                "apiProvider": "Other",
                "apiUrl": httpserver.url_for("/v1/chat/completions"),
                "defaultModel": "m",
            },
            "secrets": {"apiKey": TOKEN},
        },
        format="json",
    ).json()
    executed = api.post(
        f"/api/actions/connector/{created['id']}/_execute",
        {"params": {"subAction": "test", "subActionParams": {"body": json.dumps({"messages": []})}}},
        format="json",
    )
    assert executed.json()["status"] == "ok"
    assert executed.json()["data"] == completion
    assert TOKEN not in executed.content.decode()
