"""`.teams` against a local server playing a Teams incoming webhook."""

import json

import pytest
from werkzeug import Response

from actions.services import execute
from tests.connectors.types.conftest import assert_no_secret, make_connector

pytestmark = pytest.mark.django_db

HOOK = "/webhookb2/s3cr3t-marker-7f1c"


def teams(space, httpserver):
    return make_connector(space, ".teams", secrets={"webhookUrl": httpserver.url_for(HOOK)})


def test_it_posts_the_message_as_json_text(default_space, httpserver):
    httpserver.expect_request(HOOK, method="POST").respond_with_data("1")
    result = execute(teams(default_space, httpserver), {"message": "Disk full"})
    assert result.status == "ok"
    assert result.data == {"text": "Disk full"}
    request, _ = httpserver.log[0]
    assert json.loads(request.get_data()) == {"text": "Disk full"}
    assert request.headers["Content-Type"] == "application/json"


def test_application_throttled_in_a_200_is_a_retry(default_space, httpserver):
    httpserver.expect_request(HOOK).respond_with_response(
        Response(
            "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 "
            "with ContextId tcid=0,server=msgapi,cv=xyz ErrorCode:ApplicationThrottled",
            status=200,
            headers={"Retry-After": "10"},
        )
    )
    result = execute(teams(default_space, httpserver), {"message": "x"})
    assert result.message.startswith("error posting a Microsoft Teams message, retry at ")
    assert result.service_message == "x"
    assert result.to_api("x")["retry"].startswith("20")


def test_a_502_asks_to_retry_later(default_space, httpserver):
    httpserver.expect_request(HOOK).respond_with_data("bad gateway", status=502)
    result = execute(teams(default_space, httpserver), {"message": "x"})
    assert result.message == "error posting a Microsoft Teams message, retry later"
    assert result.service_message is None
    assert result.retry is True
    assert_no_secret(result)


def test_a_400_is_an_invalid_response(default_space, httpserver):
    httpserver.expect_request(HOOK).respond_with_data("bad", status=400)
    result = execute(teams(default_space, httpserver), {"message": "x"})
    assert result.message == "error posting to Microsoft Teams, invalid response"
    assert result.service_message == "[400] BAD REQUEST"
    assert result.retry is False


def test_a_refused_connection_is_an_unexpected_error_and_retryable(default_space):
    connector = make_connector(default_space, ".teams", secrets={"webhookUrl": "http://127.0.0.1:9/x"})
    result = execute(connector, {"message": "x"})
    assert result.message == "error posting to Microsoft Teams, unexpected error"
    assert result.retry is True


def test_an_http_429_is_an_invalid_response_because_kibanas_teams_executor_only_retries_5xx_and_throttling_bodies(
    default_space, httpserver
):
    httpserver.expect_request(HOOK).respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "10"})
    )
    result = execute(teams(default_space, httpserver), {"message": "x"})
    assert result.message == "error posting to Microsoft Teams, invalid response"
    assert result.service_message == "[429] TOO MANY REQUESTS"
    assert result.retry is False
    assert_no_secret(result)
