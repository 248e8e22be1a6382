"""`.torq` against a local server playing a Torq webhook integration."""

import json

import pytest
from werkzeug import Response

from actions.services import execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db


def torq(space, httpserver):
    return make_connector(
        space,
        ".torq",
        config={"webhookIntegrationUrl": httpserver.url_for("/v1/webhooks/abc")},
        secrets={"token": SECRET},
    )


def test_it_posts_the_parsed_body_with_the_torq_token(default_space, httpserver):
    httpserver.expect_request("/v1/webhooks/abc", method="POST").respond_with_data("accepted")
    result = execute(torq(default_space, httpserver), {"body": '{"alert": {"id": "a1"}}'})
    assert result.status == "ok"
    assert result.data == '{"alert": {"id": "a1"}}'  # Kibana returns the body it sent
    request, _ = httpserver.log[0]
    assert request.headers["X-Torq-Token"] == SECRET
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {"alert": {"id": "a1"}}


def test_an_invalid_body_is_refused_without_a_request(default_space, httpserver):
    result = execute(torq(default_space, httpserver), {"body": "{not json"})
    assert result.message == "error triggering Torq workflow, invalid body"
    assert result.service_message
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "error triggering Torq workflow, unauthorised"),
        (404, "error triggering Torq workflow, make sure the webhook URL is valid"),
        (405, "error triggering Torq workflow, method is not supported"),
        (400, "error triggering Torq workflow, invalid response"),
        (500, "error triggering Torq workflow, retry later"),
    ],
)
def test_statuses_get_kibanas_messages(default_space, httpserver, status, message):
    httpserver.expect_request("/v1/webhooks/abc").respond_with_json({"message": "nope"}, status=status)
    result = execute(torq(default_space, httpserver), {"body": "{}"})
    assert result.message == message
    assert result.service_message.startswith(f"[{status}] ")
    assert result.service_message.endswith(": nope")
    assert result.retry is (status == 500)
    assert_no_secret(result)


def test_a_429_retries_at_retry_after(default_space, httpserver):
    httpserver.expect_request("/v1/webhooks/abc").respond_with_response(
        Response("", status=429, headers={"Retry-After": "60"})
    )
    result = execute(torq(default_space, httpserver), {"body": "{}"})
    assert result.message.startswith("error triggering Torq workflow, retry at ")


def test_only_torq_hosts_are_accepted(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".torq").validate_config(
            {"webhookIntegrationUrl": "https://hooks.example.com/x"}, kibana_settings.set({})
        )
    assert caught.value.message == (
        "error validating action type config: error configuring send to Torq action: url must begin with "
        "https://hooks.torq.io or https://hooks.eu.torq.io"
    )
    registry.get(".torq").validate_config(
        {"webhookIntegrationUrl": "https://hooks.eu.torq.io/v1/webhooks/x"}, kibana_settings.set({})
    )


def test_an_empty_body_is_sent_as_json_null(default_space, httpserver):
    httpserver.expect_request("/v1/webhooks/abc").respond_with_data("ok")
    execute(torq(default_space, httpserver), {"body": ""})
    assert httpserver.log[0][0].get_data() == b"null"
