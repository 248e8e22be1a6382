"""`.opsgenie` against a local server playing Opsgenie's Alert API."""

import hashlib
import json

import pytest

from actions.services import execute
from connectors import registry
from tests.connectors.types.conftest import SECRET, assert_no_secret, make_connector

pytestmark = pytest.mark.django_db

OK = {"took": 0.1, "requestId": "req-1", "result": "Request will be processed"}


def opsgenie(space, httpserver):
    return make_connector(
        space, ".opsgenie", config={"apiUrl": httpserver.url_for("/")}, secrets={"apiKey": SECRET}
    )


def test_create_alert_posts_every_param_with_the_genie_key(default_space, httpserver):
    httpserver.expect_request("/v2/alerts", method="POST").respond_with_json(OK, status=202)
    params = {
        "message": "CPU high",
        "alias": "rule-1:alert-1",
        "priority": "P2",
        "tags": ["prod"],
        "responders": [{"name": "sre", "type": "team"}],
    }
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": params}
    )
    assert result.status == "ok"
    assert result.data == OK
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"GenieKey {SECRET}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == params
    assert_no_secret(result)


def test_a_long_message_is_cut_to_130_characters_and_a_long_alias_is_hashed(default_space, httpserver):
    httpserver.expect_request("/v2/alerts").respond_with_json(OK, status=202)
    alias = "a" * 600
    params = {"message": "m" * 200, "alias": alias}
    execute(opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": params})
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["message"] == "m" * 130
    assert sent["alias"] == "sha-" + hashlib.sha256(alias.encode()).hexdigest()


def test_close_alert_posts_to_the_alias_without_it_in_the_body(default_space, httpserver):
    httpserver.expect_request(
        "/v2/alerts/rule-1:alert-1/close", query_string="identifierType=alias", method="POST"
    ).respond_with_json(OK, status=202)
    params = {"alias": "rule-1:alert-1", "note": "recovered", "user": "kibana"}
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "closeAlert", "subActionParams": params}
    )
    assert result.status == "ok", result
    assert json.loads(httpserver.log[0][0].get_data()) == {"note": "recovered", "user": "kibana"}


def test_a_whitespace_message_fails_request_validation(default_space, httpserver):
    result = execute(
        opsgenie(default_space, httpserver),
        {"subAction": "createAlert", "subActionParams": {"message": "  "}},
    )
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        "Request validation failed (Error: [message]: must be populated with a value other than just whitespace)"
    )
    assert httpserver.log == []


def test_an_error_response_is_rewritten_with_opsgenies_message_and_errors(default_space, httpserver):
    httpserver.expect_request("/v2/alerts").respond_with_json(
        {
            "message": "Request body is not processable",
            "took": 0.0,
            "requestId": "r",
            "errors": {"message": "too long"},
        },
        status=422,
    )
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": {"message": "x"}}
    )
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        'Status code: 422. Message: Request body is not processable: {"message":"too long"}'
    )
    assert result.retry is False
    assert result.error_source == "user"
    assert_no_secret(result)


def test_a_500_is_retryable(default_space, httpserver):
    httpserver.expect_request("/v2/alerts").respond_with_json({"message": "oops"}, status=500)
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": {"message": "x"}}
    )
    assert result.service_message == "Status code: 500. Message: oops"
    assert result.retry is True


def test_an_unknown_sub_action_is_named(default_space, httpserver):
    connector = opsgenie(default_space, httpserver)
    result = execute(connector, {"subAction": "deleteAlert", "subActionParams": {}})
    assert result.service_message == (
        f'Sub action "deleteAlert" is not registered. Connector id: {connector.id}. '
        "Connector name: Opsgenie. Connector type: .opsgenie"
    )


def test_an_api_url_outside_allowed_hosts_is_refused_as_the_framework_words_it(kibana_settings):
    from connectors.exceptions import ConfigurationError

    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["api.opsgenie.com"]})
    registry.get(".opsgenie").validate_config({"apiUrl": "https://api.opsgenie.com"}, settings)
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".opsgenie").validate_config({"apiUrl": "https://evil.example.com"}, settings)
    assert caught.value.message == (
        'error validating action type config: error validating url: target url "https://evil.example.com" '
        "is not added to the Kibana config xpack.actions.allowedHosts"
    )


def test_a_reply_without_a_message_falls_back_to_the_http_error_text(default_space, httpserver):
    httpserver.expect_request("/v2/alerts").respond_with_data("<html>bad gateway</html>", status=502)
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": {"message": "x"}}
    )
    assert result.service_message == "Status code: 502. Message: Request failed with status code 502"
    assert result.retry is True


def test_close_alert_keeps_a_slash_in_the_alias_as_a_path_separator_as_kibanas_url_join_does(
    default_space, httpserver
):
    # Kibana builds `new URL("v2/alerts/<alias>/close", apiUrl)`: WHATWG escapes a space but keeps "/".
    httpserver.expect_request("/v2/alerts/team/web-1 disk/close", method="POST").respond_with_json(
        OK, status=202
    )
    params = {"alias": "team/web-1 disk"}
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "closeAlert", "subActionParams": params}
    )
    assert result.status == "ok", result
    request, _ = httpserver.log[0]
    assert request.environ["RAW_URI"] == "/v2/alerts/team/web-1%20disk/close?identifierType=alias"


# The next two are `_execute` bodies from Kibana's Opsgenie API integration test: config-schema indents
# a union nested in a union by one space and leaves the outer option index out of the nested paths.


def test_a_responder_of_an_unknown_type_lists_the_nested_union_as_kibana_does(default_space, httpserver):
    connector = opsgenie(default_space, httpserver)
    params = {"message": "hello", "responders": [{"name": "sam", "type": "invalidType"}]}
    result = execute(connector, {"subAction": "createAlert", "subActionParams": params})
    assert result.to_api(str(connector.id)) == {
        "connector_id": str(connector.id),
        "status": "error",
        "retry": True,
        "message": "an error occurred while running the action",
        "errorSource": "user",
        "service_message": "Request validation failed (Error: [responders.0]: types that failed validation:\n"
        "- [responders.0.0.type]: types that failed validation:\n"
        " - [responders.0.type.0]: expected value to equal [team]\n"
        " - [responders.0.type.1]: expected value to equal [user]\n"
        " - [responders.0.type.2]: expected value to equal [escalation]\n"
        " - [responders.0.type.3]: expected value to equal [schedule]\n"
        "- [responders.0.1.id]: expected value of type [string] but got [undefined]\n"
        "- [responders.0.2.username]: expected value of type [string] but got [undefined])",
    }
    assert not httpserver.log


def test_visible_to_a_user_by_name_fails_on_the_literal_team_type_as_kibana_does(default_space, httpserver):
    connector = opsgenie(default_space, httpserver)
    params = {"message": "hello", "visibleTo": [{"name": "sam", "type": "user"}]}
    result = execute(connector, {"subAction": "createAlert", "subActionParams": params})
    assert result.service_message == (
        "Request validation failed (Error: [visibleTo.0]: types that failed validation:\n"
        "- [visibleTo.0.0.type]: expected value to equal [team]\n"
        "- [visibleTo.0.1.id]: expected value of type [string] but got [undefined]\n"
        "- [visibleTo.0.2.id]: expected value of type [string] but got [undefined]\n"
        "- [visibleTo.0.3.username]: expected value of type [string] but got [undefined])"
    )


def test_a_reply_without_took_and_request_id_fails_opsgenies_response_schema(default_space, httpserver):
    # Kibana validates the reply against oneOf([{took, requestId, result}, {took, requestId, ...}]).
    httpserver.expect_request("/v2/alerts", method="POST").respond_with_json({"result": "ok"}, status=202)
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": {"message": "m"}}
    )
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        "Response validation failed (Error: types that failed validation:\n"
        "- [0.took]: expected value of type [number] but got [undefined]\n"
        "- [1.took]: expected value of type [number] but got [undefined])"
    )
    assert result.retry is True
    assert_no_secret(result)


# Kibana's CreateAlertParamsSchema and CloseAlertParamsSchema (server/connector_types/opsgenie/
# schema.ts) declare every optional field `schema.maybe(...)`: absent is fine, null is refused, and a
# failure inside the field is not listed under a null alternative.


@pytest.mark.parametrize(
    ("sub_action", "params", "message"),
    [
        (
            "createAlert",
            {"message": "m", "tags": None},
            "[tags]: expected value of type [array] but got [null]",
        ),
        (
            "createAlert",
            {"message": "m", "responders": None},
            "[responders]: expected value of type [array] but got [null]",
        ),
        (
            "createAlert",
            {"message": "m", "alias": None},
            "[alias]: expected value of type [string] but got [null]",
        ),
        (
            "createAlert",
            {"message": "m", "details": None},
            "[details]: expected value of type [object] but got [null]",
        ),
        (
            "closeAlert",
            {"alias": "a", "note": None},
            "[note]: expected value of type [string] but got [null]",
        ),
    ],
)
def test_opsgenie_refuses_null_for_a_maybe_field_as_kibana_does(
    default_space, httpserver, sub_action, params, message
):
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": sub_action, "subActionParams": params}
    )
    assert result.service_message == f"Request validation failed (Error: {message})"
    assert httpserver.log == []


def test_opsgenie_reports_a_wrong_tag_plainly_as_a_maybe_field(default_space, httpserver):
    params = {"message": "m", "tags": ["ok", 1]}
    result = execute(
        opsgenie(default_space, httpserver), {"subAction": "createAlert", "subActionParams": params}
    )
    assert result.service_message == (
        "Request validation failed (Error: [tags.1]: expected value of type [string] but got [number])"
    )
