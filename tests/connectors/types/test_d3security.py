"""`.d3security` against a local server playing a D3 SOAR webhook."""

import json

import pytest

from actions.services import execute
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db


def d3(space, httpserver):
    return make_connector(
        space, ".d3security", config={"url": httpserver.url_for("/d3/hook")}, secrets={"token": SECRET}
    )


def test_run_wraps_the_body_as_d3_expects_with_the_d3key_header(default_space, httpserver):
    httpserver.expect_request("/d3/hook", method="POST").respond_with_json({"refid": "evt-1"})
    params = {
        "subAction": "run",
        "subActionParams": {"body": '{"host": "web-1"}', "severity": "high", "eventType": "alert"},
    }
    result = execute(d3(default_space, httpserver), params)
    assert result.status == "ok"
    assert result.data == {"refid": "evt-1"}
    request, _ = httpserver.log[0]
    assert request.headers["d3key"] == SECRET
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {
        "hits": {
            "hits": {
                "_source": {
                    "rawData": {"host": "web-1"},
                    "event.type": "alert",
                    "kibana.alert.severity": "high",
                }
            }
        }
    }


def test_a_body_that_is_not_json_is_sent_as_a_string(default_space, httpserver):
    httpserver.expect_request("/d3/hook").respond_with_json({"refid": "x"})
    execute(d3(default_space, httpserver), {"subAction": "test", "subActionParams": {"body": "plain text"}})
    source = json.loads(httpserver.log[0][0].get_data())["hits"]["hits"]["_source"]
    assert source == {"rawData": "plain text", "event.type": "", "kibana.alert.severity": ""}


def test_a_reply_without_refid_fails_response_validation(default_space, httpserver):
    httpserver.expect_request("/d3/hook").respond_with_json({"ok": True})
    result = execute(d3(default_space, httpserver), {"subAction": "run", "subActionParams": {}})
    assert result.status == "error"
    assert result.service_message.startswith("Response validation failed (Error: [refid]")


def test_401_and_other_errors_get_d3s_messages(default_space, httpserver):
    httpserver.expect_ordered_request("/d3/hook").respond_with_data("", status=401)
    httpserver.expect_ordered_request("/d3/hook").respond_with_data("", status=502)
    first = execute(d3(default_space, httpserver), {"subAction": "run", "subActionParams": {}})
    second = execute(d3(default_space, httpserver), {"subAction": "run", "subActionParams": {}})
    assert first.service_message == "Status code: 401. Message: Unauthorized API Error"
    assert second.service_message == "Status code: 502. Message: API Error: 502 - BAD GATEWAY"
    assert second.retry is True
    assert_no_secret(first)


def test_a_reply_without_refid_is_kibanas_thrown_response_validation_error(default_space, httpserver):
    # SubActionConnector.validateResponse throws `Response validation failed (${err})`; `${err}` of a
    # config-schema error starts "Error: ", and the framework reports a thrown error as retryable.
    httpserver.expect_request("/d3/hook").respond_with_json({"refid": 5})
    connector = d3(default_space, httpserver)
    result = execute(connector, {"subAction": "run", "subActionParams": {}})
    assert result.to_api(str(connector.id)) == {
        "connector_id": str(connector.id),
        "status": "error",
        "message": "an error occurred while running the action",
        "service_message": "Response validation failed (Error: [refid]: expected value of type [string] "
        "but got [number])",
        "retry": True,
        "errorSource": "framework",
    }
