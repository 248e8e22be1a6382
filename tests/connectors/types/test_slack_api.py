"""`.slack_api` against a local server playing Slack's Web API."""

import json

import pytest
from werkzeug import Response

from actions.services import execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack_api(httpserver, kibana_settings):
    kibana_settings.set({"connectors.serviceUrls": {".slack_api": httpserver.url_for("/api/")}})
    return httpserver


def connector(space, allowed=None):
    config = {"allowedChannels": allowed} if allowed is not None else {}
    return make_connector(space, ".slack_api", config=config, secrets={"token": SECRET})


def post(channel_field, value, text="Hello"):
    return {"subAction": "postMessage", "subActionParams": {channel_field: [value], "text": text}}


def test_post_message_sends_channel_and_text_with_the_bearer_token(default_space, slack_api):
    slack_api.expect_request("/api/chat.postMessage", method="POST").respond_with_json(
        {"ok": True, "channel": "C123", "ts": "1.2"}
    )
    result = execute(connector(default_space), post("channelIds", "C123", "CPU *high*"))
    assert result.status == "ok"
    assert result.data == {"ok": True, "channel": "C123", "ts": "1.2"}
    request, _ = slack_api.log[0]
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.headers["Content-type"] == "application/json; charset=UTF-8"
    assert json.loads(request.get_data()) == {"channel": "C123", "text": "CPU *high*"}
    assert_no_secret(result)


def test_post_blockkit_sends_the_blocks(default_space, slack_api):
    slack_api.expect_request("/api/chat.postMessage").respond_with_json({"ok": True})
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    params = {
        "subAction": "postBlockkit",
        "subActionParams": {"channelNames": ["#ops"], "text": json.dumps({"blocks": blocks})},
    }
    assert execute(connector(default_space), params).status == "ok"
    assert json.loads(slack_api.log[0][0].get_data()) == {"channel": "#ops", "blocks": blocks}


def test_block_kit_without_blocks_is_refused(kibana_settings):
    params = {"subAction": "postBlockkit", "subActionParams": {"channelIds": ["C1"], "text": '{"x": 1}'}}
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".slack_api").validate_params(params, kibana_settings.set({}))
    assert 'block kit body must contain field "blocks"' in caught.value.message


def test_valid_channel_id_asks_conversations_info(default_space, slack_api):
    slack_api.expect_request(
        "/api/conversations.info", query_string="channel=C999", method="GET"
    ).respond_with_json({"ok": True, "channel": {"id": "C999", "name": "ops"}})
    result = execute(
        connector(default_space), {"subAction": "validChannelId", "subActionParams": {"channelId": "C999"}}
    )
    assert result.status == "ok"
    assert result.data["channel"]["name"] == "ops"


def test_an_empty_channel_id_is_refused_without_a_request(default_space, slack_api):
    result = execute(
        connector(default_space), {"subAction": "validChannelId", "subActionParams": {"channelId": ""}}
    )
    assert result.message == "error posting slack message"
    assert result.service_message == "The channel id is empty"
    assert slack_api.log == []


def test_channels_outside_the_allowed_list_are_refused(default_space, slack_api):
    allowed = [{"id": "C1", "name": "#ops"}]
    result = execute(connector(default_space, allowed), post("channelIds", "C2"))
    assert result.message == "error posting slack message"
    assert (
        result.service_message
        == "One or more provided channels are not included in the allowed channels list"
    )
    assert slack_api.log == []
    slack_api.expect_request("/api/chat.postMessage").respond_with_json({"ok": True})
    assert execute(connector(default_space, allowed), post("channelNames", "#ops")).status == "ok"


def test_channel_names_must_start_with_a_hash(default_space, slack_api):
    result = execute(connector(default_space), post("channelNames", "ops"))
    assert result.service_message == "Unsupported channel name. Must start with #"


def test_no_channel_at_all_is_refused(default_space, slack_api):
    result = execute(connector(default_space), {"subAction": "postMessage", "subActionParams": {"text": "x"}})
    assert (
        result.service_message
        == "One of channels, channelIds, or channelNames is required and cannot be empty"
    )


def test_ok_false_is_an_error_with_slacks_error_code(default_space, slack_api):
    slack_api.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "not_in_channel"}
    )
    result = execute(connector(default_space), post("channelIds", "C1"))
    assert result.message == "error posting slack message"
    assert result.service_message == "not_in_channel"
    assert result.retry is False


def test_a_503_asks_to_retry_later_and_a_429_at_retry_after(default_space, slack_api):
    slack_api.expect_ordered_request("/api/chat.postMessage").respond_with_data("", status=503)
    slack_api.expect_ordered_request("/api/chat.postMessage").respond_with_response(
        Response("", status=429, headers={"Retry-After": "5"})
    )
    first = execute(connector(default_space), post("channelIds", "C1"))
    second = execute(connector(default_space), post("channelIds", "C1"))
    assert first.message == "error posting a slack message, retry later"
    assert first.retry is True
    assert second.message.startswith("error posting a slack message, retry at ")


def test_a_401_is_an_unexpected_http_response(default_space, slack_api):
    slack_api.expect_request("/api/chat.postMessage").respond_with_data("", status=401)
    result = execute(connector(default_space), post("channelIds", "C1"))
    assert result.message == "unexpected http response from slack: 401 UNAUTHORIZED"
    assert result.retry is False
    assert_no_secret(result)


def test_an_unknown_sub_action_fails_params_validation(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".slack_api").validate_params({"subAction": "nope"}, kibana_settings.set({}))
    assert caught.value.message.startswith("error validating action params: types that failed validation:")
    assert "[0.subAction]: expected value to equal [validChannelId]" in caught.value.message


# Kibana's common/slack_api/schema.ts declares channels, channelIds, channelNames, channelId and the
# config's allowedChannels (and each one's id) schema.maybe: null is refused, not taken as absent.


def test_a_null_channel_ids_is_refused_under_the_post_message_option_as_kibanas_maybe_does(kibana_settings):
    params = {"subAction": "postMessage", "subActionParams": {"channelIds": None, "text": "hi"}}
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".slack_api").validate_params(params, kibana_settings.set({}))
    assert (
        "- [1.subActionParams.channelIds]: expected value of type [array] but got [null]\n"
        in caught.value.message
    )


def test_a_null_allowed_channels_is_refused_as_kibanas_maybe_does(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".slack_api").validate_config({"allowedChannels": None}, kibana_settings.set({}))
    assert caught.value.message == (
        "error validating action type config: [allowedChannels]: expected value of type [array] but got [null]"
    )
