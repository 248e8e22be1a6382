import pytest

from actions.services import execute
from connectors import registry
from connectors.models import Connector
from connectors.schemas import Object, String
from connectors.types.sub_action_framework import SubAction, SubActionConnectorType, normalise_url


class EchoConnector(SubActionConnectorType):
    type_id = ".test-echo"
    name = "Echo"
    config_schema = Object({"url": String()})
    sub_actions = {"echo": SubAction("echo", Object({"text": String()}))}

    def echo(self, ctx, params):
        response = self.request(ctx, "post", ctx.config["url"] + "//echo/", json=params)
        return response.json()


@pytest.fixture(autouse=True)
def echo_type():
    registry.register(EchoConnector)
    yield
    registry._types.pop(EchoConnector.type_id)


def _connector(space, url):
    connector = Connector(
        space=space, name="echo", connector_type_id=EchoConnector.type_id, config={"url": url}
    )
    connector.set_secrets({})
    connector.save()
    return connector


def test_a_sub_action_runs_and_returns_its_data(default_space, httpserver):
    httpserver.expect_request("/echo", method="POST", json={"text": "hi"}).respond_with_json({"said": "hi"})
    result = execute(
        _connector(default_space, httpserver.url_for("")),
        {"subAction": "echo", "subActionParams": {"text": "hi"}},
    )
    assert result.status == "ok", result
    assert result.data == {"said": "hi"}


def test_an_unknown_sub_action_has_kibanas_message(default_space, httpserver):
    connector = _connector(default_space, httpserver.url_for(""))
    result = execute(connector, {"subAction": "nope"})
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        f'Sub action "nope" is not registered. Connector id: {connector.id}. Connector name: Echo. '
        "Connector type: .test-echo"
    )


def test_invalid_sub_action_params_fail_validation(default_space, httpserver):
    result = execute(
        _connector(default_space, httpserver.url_for("")), {"subAction": "echo", "subActionParams": {}}
    )
    assert result.service_message == (
        "Request validation failed (Error: [text]: expected value of type [string] but got [undefined])"
    )


def test_http_errors_are_rewritten_with_the_status_code(default_space, httpserver):
    httpserver.expect_request("/echo").respond_with_json({"message": "nope"}, status=503)
    result = execute(
        _connector(default_space, httpserver.url_for("")),
        {"subAction": "echo", "subActionParams": {"text": "x"}},
    )
    assert result.service_message == "Status code: 503. Message: nope"
    assert result.retry is True


def test_urls_are_normalised_as_kibana_does():
    assert normalise_url("https://a.example//b//c/") == "https://a.example/b/c"


def test_null_sub_action_params_are_refused_as_kibanas_framework_schema_object_refuses_them(default_space):
    # Kibana's framework params: {subAction: string, subActionParams: schema.object({}, {unknowns: 'allow'})}
    result = execute(
        _connector(default_space, "http://127.0.0.1:9"), {"subAction": "echo", "subActionParams": None}
    )
    assert result.status == "error"
    assert result.message == (
        "error validating action params: [subActionParams]: expected a plain object value, but found [null] instead."
    )


def test_sub_action_params_left_out_are_an_empty_object_as_kibanas_framework_defaults_them(
    default_space, httpserver
):
    result = execute(_connector(default_space, httpserver.url_for("")), {"subAction": "echo"})
    assert result.service_message == (
        "Request validation failed (Error: [text]: expected value of type [string] but got [undefined])"
    )
