"""`.slack` (incoming webhook) against a local server playing Slack."""

import json

import pytest
from werkzeug import Response

from actions.services import execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from tests.connectors.types.conftest import assert_no_secret, make_connector

pytestmark = pytest.mark.django_db

HOOK_PATH = "/services/T000/B000/s3cr3t-marker-7f1c"  # the webhook URL *is* the secret


def slack(space, httpserver):
    return make_connector(space, ".slack", secrets={"webhookUrl": httpserver.url_for(HOOK_PATH)})


def test_it_posts_the_message_as_json_text(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    result = execute(slack(default_space, httpserver), {"message": "CPU *high* on web-1"})
    assert result.status == "ok"
    assert result.data == {"text": "ok"}
    request, _ = httpserver.log[0]
    assert json.loads(request.get_data()) == {"text": "CPU *high* on web-1"}
    assert request.headers["Content-Type"] == "application/json"


def test_a_500_asks_to_retry_later(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_data("boom", status=500)
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message == "error posting a slack message, retry later"
    assert result.retry is True
    assert result.error_source == "framework"
    assert_no_secret(result)


def test_a_429_retries_at_the_retry_after_time(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_response(
        Response("slow", status=429, headers={"Retry-After": "30"})
    )
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message.startswith("error posting a slack message, retry at 20")
    assert result.message.endswith("Z")
    assert result.to_api("x")["retry"].startswith("20")
    assert result.error_source == "user"


def test_a_429_without_retry_after_retries_later(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_data("slow", status=429)
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message == "error posting a slack message, retry later"
    assert result.retry is True


def test_a_403_is_a_final_user_error(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_data("invalid_token", status=403)
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message == "an error occurred while running the action"
    assert result.service_message == "Request failed with status code 403"
    assert result.retry is False
    assert result.error_source == "user"


def test_an_unexpected_status_is_named(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_data("gone", status=404)
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message == "unexpected http response from slack: 404 NOT FOUND"
    assert_no_secret(result)


def test_a_reply_other_than_ok_is_an_error_with_slacks_text(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_data("channel_is_archived")
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message == "error posting slack message"
    assert result.service_message == "channel_is_archived"


def test_redirects_are_not_followed(default_space, httpserver):
    httpserver.expect_request(HOOK_PATH).respond_with_response(
        Response("", status=302, headers={"Location": "/elsewhere"})
    )
    result = execute(slack(default_space, httpserver), {"message": "x"})
    assert result.message == "unexpected http response from slack: 302 FOUND"
    assert len(httpserver.log) == 1


def test_a_refused_connection_is_retryable_and_does_not_show_the_url(default_space):
    connector = make_connector(
        default_space, ".slack", secrets={"webhookUrl": "http://127.0.0.1:9/services/s3cr3t-marker-7f1c"}
    )
    result = execute(connector, {"message": "x"})
    assert result.message == "error posting slack message"
    assert result.service_message.startswith("[ECONNREFUSED]")
    assert result.retry is True
    assert_no_secret(result)


def test_the_webhook_url_must_parse_and_be_allowed(kibana_settings):
    slack_type = registry.get(".slack")
    with pytest.raises(ConfigurationError) as caught:
        slack_type.validate_secrets({"webhookUrl": "not a url"}, kibana_settings.set({}))
    assert caught.value.message == (
        "error validating action type secrets: error configuring slack action: unable to parse host name from webhookUrl"
    )
    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["hooks.slack.com"]})
    with pytest.raises(ConfigurationError) as caught:
        slack_type.validate_secrets(
            {"webhookUrl": "https://evil.example.com/services/s3cr3t-marker-7f1c"}, settings
        )
    # The webhook URL is the credential: the message names its origin only.
    assert caught.value.message == (
        "error validating action type secrets: error configuring slack action: target url "
        '"https://evil.example.com" is not added to the Kibana config xpack.actions.allowedHosts'
    )


def test_an_empty_message_is_refused(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".slack").validate_params({"message": ""}, kibana_settings.set({}))
    assert caught.value.message == (
        "error validating action params: [message]: value has length [0] but it must have a minimum length of [1]."
    )
