"""`.tines` against a local server playing a Tines tenant."""

import json

import pytest

from actions.services import execute
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db


def tines(space, httpserver):
    return make_connector(
        space,
        ".tines",
        config={"url": httpserver.url_for("/").rstrip("/")},
        secrets={"email": "bot@example.com", "token": SECRET},
    )


def test_stories_are_listed_with_the_users_headers(default_space, httpserver):
    httpserver.expect_request("/api/v1/stories", query_string="per_page=500", method="GET").respond_with_json(
        {"stories": [{"id": 1, "name": "Triage", "published": True, "extra": "x"}], "meta": {"pages": 2}}
    )
    result = execute(tines(default_space, httpserver), {"subAction": "stories"})
    assert result.status == "ok", result
    assert result.data == {
        "stories": [{"id": 1, "name": "Triage", "published": True}],
        "incompleteResponse": True,
    }
    request, _ = httpserver.log[0]
    assert request.headers["x-user-email"] == "bot@example.com"
    assert request.headers["x-user-token"] == SECRET


def test_webhooks_keep_only_webhook_agents(default_space, httpserver):
    httpserver.expect_request("/api/v1/agents", query_string="story_id=7&per_page=500").respond_with_json(
        {
            "agents": [
                {
                    "id": 3,
                    "name": "In",
                    "type": "Agents::WebhookAgent",
                    "story_id": 7,
                    "options": {"path": "p", "secret": "s"},
                },
                {"id": 4, "name": "Out", "type": "Agents::HTTPRequestAgent", "story_id": 7, "options": {}},
            ],
            "meta": {"pages": 1},
        }
    )
    result = execute(
        tines(default_space, httpserver), {"subAction": "webhooks", "subActionParams": {"storyId": 7}}
    )
    assert result.data == {
        "webhooks": [{"id": 3, "name": "In", "path": "p", "secret": "s", "storyId": 7}],
        "incompleteResponse": False,
    }


def test_run_posts_the_body_to_the_webhook_path_and_secret(default_space, httpserver):
    httpserver.expect_request("/webhook/p/s", method="POST").respond_with_json({"status": "ok"})
    params = {
        "subAction": "run",
        "subActionParams": {
            "webhook": {"id": 3, "name": "In", "storyId": 7, "path": "p", "secret": "s"},
            "body": '{"a": 1}',
        },
    }
    result = execute(tines(default_space, httpserver), params)
    assert result.status == "ok"
    assert result.data == {"status": "ok"}
    request, _ = httpserver.log[0]
    assert json.loads(request.get_data()) == {"a": 1}
    assert request.headers["Content-Type"] == "application/json"
    assert "x-user-token" not in request.headers


def test_test_can_use_a_webhook_url(default_space, httpserver):
    httpserver.expect_request("/webhook/direct").respond_with_json({})
    params = {
        "subAction": "test",
        "subActionParams": {"webhookUrl": httpserver.url_for("/webhook/direct"), "body": "{}"},
    }
    assert execute(tines(default_space, httpserver), params).status == "ok"


def test_run_without_a_webhook_is_refused(default_space, httpserver):
    result = execute(
        tines(default_space, httpserver), {"subAction": "run", "subActionParams": {"body": "{}"}}
    )
    assert (
        result.service_message == "Invalid subActionsParams: [webhook] or [webhookUrl] expected but got none"
    )


def test_errors_read_api_error_and_the_status_text(default_space, httpserver):
    httpserver.expect_request("/api/v1/stories").respond_with_data("", status=401)
    result = execute(tines(default_space, httpserver), {"subAction": "stories"})
    assert result.message == "an error occurred while running the action"
    assert result.service_message == "Status code: 401. Message: API Error: UNAUTHORIZED"
    assert result.error_source == "framework"  # Kibana's Tines marks only a 429 as the user's
    assert_no_secret(result)


# Kibana's own Tines API integration tests pin these three `_execute` bodies exactly
# (x-pack/test/alerting_api_integration/.../connector_types/tines.ts).


def test_an_unknown_sub_action_is_a_retryable_framework_error_as_in_kibanas_tines_api_test(
    default_space, httpserver
):
    connector = tines(default_space, httpserver)
    result = execute(connector, {"subAction": "invalidAction"})
    assert result.to_api(str(connector.id)) == {
        "connector_id": str(connector.id),
        "status": "error",
        "retry": True,
        "message": "an error occurred while running the action",
        "errorSource": "framework",
        "service_message": f'Sub action "invalidAction" is not registered. Connector id: {connector.id}. '
        "Connector name: Tines. Connector type: .tines",
    }


def test_sub_action_params_failing_their_schema_read_request_validation_failed_error_as_in_kibanas_tines_api_test(
    default_space, httpserver
):
    connector = tines(default_space, httpserver)
    result = execute(connector, {"subAction": "webhooks", "subActionParams": {}})
    assert result.to_api(str(connector.id)) == {
        "connector_id": str(connector.id),
        "status": "error",
        "retry": True,
        "message": "an error occurred while running the action",
        "errorSource": "user",
        "service_message": "Request validation failed (Error: [storyId]: expected value of type [number] "
        "but got [undefined])",
    }
    assert not httpserver.log


def test_run_without_a_webhook_is_a_retryable_framework_error_as_in_kibanas_tines_api_test(
    default_space, httpserver
):
    connector = tines(default_space, httpserver)
    result = execute(connector, {"subAction": "run", "subActionParams": {"body": ""}})
    assert result.to_api(str(connector.id)) == {
        "connector_id": str(connector.id),
        "status": "error",
        "retry": True,
        "message": "an error occurred while running the action",
        "errorSource": "framework",
        "service_message": "Invalid subActionsParams: [webhook] or [webhookUrl] expected but got none",
    }
