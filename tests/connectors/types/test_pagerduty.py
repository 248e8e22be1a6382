"""`.pagerduty` against a local server playing the Events API v2."""

import json

import pytest

from actions.services import execute
from connectors import registry
from connectors.exceptions import ConfigurationError
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db


def pagerduty(space, httpserver, **config):
    return make_connector(
        space,
        ".pagerduty",
        config={"apiUrl": httpserver.url_for("/v2/enqueue"), **config},
        secrets={"routingKey": SECRET},
    )


def test_a_trigger_sends_kibanas_body_with_the_routing_key_in_a_header(default_space, httpserver):
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success", "message": "Event processed", "dedup_key": "rule-1:alert-1"}, status=202
    )
    connector = pagerduty(default_space, httpserver)
    params = {
        "eventAction": "trigger",
        "dedupKey": "rule-1:alert-1",
        "summary": "CPU high",
        "severity": "critical",
        "timestamp": "2026-01-02T03:04:05.000Z",
        "component": "web",
        "group": "prod",
        "class": "cpu",
        "links": [{"href": "https://kibana.example.com", "text": "Kibana"}],
        "customDetails": {"host": "web-1"},
    }
    result = execute(connector, params)
    assert result.status == "ok"
    assert result.data["dedup_key"] == "rule-1:alert-1"
    request, _ = httpserver.log[0]
    assert request.headers["X-Routing-Key"] == SECRET
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {
        "event_action": "trigger",
        "dedup_key": "rule-1:alert-1",
        "payload": {
            "summary": "CPU high",
            "source": f"Kibana Action {connector.id}",
            "severity": "critical",
            "timestamp": "2026-01-02T03:04:05.000Z",
            "component": "web",
            "group": "prod",
            "class": "cpu",
            "custom_details": {"host": "web-1"},
        },
        "links": [{"href": "https://kibana.example.com", "text": "Kibana"}],
    }
    assert list(json.loads(request.get_data())) == ["event_action", "dedup_key", "payload", "links"]
    assert "routing_key" not in request.get_data(as_text=True)
    assert_no_secret(result)


def test_an_empty_trigger_gets_kibanas_defaults(default_space, httpserver):
    httpserver.expect_request("/v2/enqueue").respond_with_json({}, status=202)
    connector = pagerduty(default_space, httpserver)
    execute(connector, {})
    assert json.loads(httpserver.log[0][0].get_data()) == {
        "event_action": "trigger",
        "payload": {
            "summary": "No summary provided.",
            "source": f"Kibana Action {connector.id}",
            "severity": "info",
        },
    }


def test_an_epoch_millisecond_timestamp_is_converted(default_space, httpserver):
    httpserver.expect_request("/v2/enqueue").respond_with_json({}, status=202)
    execute(pagerduty(default_space, httpserver), {"timestamp": "1700000000000"})
    assert json.loads(httpserver.log[0][0].get_data())["payload"]["timestamp"] == "2023-11-14T22:13:20.000Z"


@pytest.mark.parametrize("action", ["resolve", "acknowledge"])
def test_resolve_and_acknowledge_send_only_the_action_and_dedup_key(default_space, httpserver, action):
    httpserver.expect_request("/v2/enqueue").respond_with_json({}, status=202)
    result = execute(
        pagerduty(default_space, httpserver), {"eventAction": action, "dedupKey": "k", "summary": "s"}
    )
    assert result.status == "ok"
    assert json.loads(httpserver.log[0][0].get_data()) == {"event_action": action, "dedup_key": "k"}


def test_resolve_without_a_dedup_key_is_refused(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".pagerduty").validate_params({"eventAction": "resolve"}, kibana_settings.set({}))
    assert (
        caught.value.message
        == 'error validating action params: DedupKey is required when eventAction is "resolve"'
    )


def test_a_bad_timestamp_is_refused(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".pagerduty").validate_params({"timestamp": "yesterday-ish"}, kibana_settings.set({}))
    assert caught.value.message == 'error validating action params: error parsing timestamp "yesterday-ish"'


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_ask_to_retry_later(default_space, httpserver, status):
    httpserver.expect_request("/v2/enqueue").respond_with_data("busy", status=status)
    result = execute(pagerduty(default_space, httpserver), {"summary": "x"})
    assert result.message == f"error posting pagerduty event: http status {status}, retry later"
    assert result.retry is True


def test_a_200_is_not_the_202_pagerduty_promises(default_space, httpserver):
    httpserver.expect_request("/v2/enqueue").respond_with_json({}, status=200)
    result = execute(pagerduty(default_space, httpserver), {"summary": "x"})
    assert result.message == "error posting pagerduty event: unexpected status 200"


def test_a_400_is_final(default_space, httpserver):
    httpserver.expect_request("/v2/enqueue").respond_with_json({"status": "invalid event"}, status=400)
    result = execute(pagerduty(default_space, httpserver), {"summary": "x"})
    assert result.message == "error posting pagerduty event: unexpected status 400"
    assert result.retry is False
    assert_no_secret(result)


def test_the_default_endpoint_can_be_overridden_in_the_settings_file(
    default_space, httpserver, kibana_settings
):
    kibana_settings.set({"connectors.serviceUrls": {".pagerduty": httpserver.url_for("/custom/enqueue")}})
    httpserver.expect_request("/custom/enqueue").respond_with_json({}, status=202)
    connector = make_connector(default_space, ".pagerduty", config={}, secrets={"routingKey": SECRET})
    assert execute(connector, {"summary": "x"}).status == "ok"


def test_an_api_url_outside_allowed_hosts_is_refused(kibana_settings):
    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["events.pagerduty.com"]})
    registry.get(".pagerduty").validate_config({}, settings)  # the default endpoint is allowed
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".pagerduty").validate_config({"apiUrl": "https://evil.example.com/x"}, settings)
    assert caught.value.message == (
        "error validating action type config: error configuring pagerduty action: target url "
        '"https://evil.example.com/x" is not added to the Kibana config xpack.actions.allowedHosts'
    )


def test_the_body_is_sent_as_javascript_would_serialise_it(default_space, httpserver):
    httpserver.expect_request("/v2/enqueue").respond_with_json({}, status=202)
    connector = pagerduty(default_space, httpserver)
    execute(connector, {"eventAction": "resolve", "dedupKey": "clé 1"})
    assert httpserver.log[0][0].get_data() == '{"event_action":"resolve","dedup_key":"clé 1"}'.encode()


def test_custom_details_given_as_a_json_string_are_sent_as_an_object_as_config_schema_coerces_records(
    default_space, httpserver
):
    # config-schema's recordOf parses a JSON string (older Kibana UIs sent customDetails that way).
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success"}, status=202
    )
    result = execute(
        pagerduty(default_space, httpserver), {"summary": "s", "customDetails": '{"host": "db-1"}'}
    )
    assert result.status == "ok", result
    assert json.loads(httpserver.log[0][0].get_data())["payload"]["custom_details"] == {"host": "db-1"}


def test_custom_details_that_are_not_json_fail_with_config_schemas_record_message(kibana_settings):
    with pytest.raises(ConfigurationError) as raised:
        registry.get(".pagerduty").validate_params({"customDetails": "{not json"}, kibana_settings.set({}))
    assert raised.value.message == (
        "error validating action params: [customDetails]: could not parse record value from json input"
    )


# Kibana's params are all schema.maybe (pagerduty/index.ts): absent is fine, null is refused.


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("summary", "[summary]: expected value of type [string] but got [null]"),
        ("dedupKey", "[dedupKey]: expected value of type [string] but got [null]"),
        ("links", "[links]: expected value of type [array] but got [null]"),
        (
            "severity",
            "[severity]: types that failed validation:\n"
            "- [severity.0]: expected value to equal [critical]\n"
            "- [severity.1]: expected value to equal [error]\n"
            "- [severity.2]: expected value to equal [warning]\n"
            "- [severity.3]: expected value to equal [info]",
        ),
    ],
)
def test_a_pagerduty_param_given_null_is_refused_as_kibanas_schema_maybe_refuses_it(
    kibana_settings, name, message
):
    with pytest.raises(ConfigurationError) as raised:
        registry.get(".pagerduty").validate_params({name: None}, kibana_settings.set({}))
    assert raised.value.message == f"error validating action params: {message}"


def test_pagerduty_params_left_out_are_still_accepted(kibana_settings):
    assert registry.get(".pagerduty").validate_params({}, kibana_settings.set({})) == {}
