"""Kibana's @kbn/config-schema coerces text: "true"/"false" (any case) are booleans, a string that
JavaScript's `Number()` reads is a number, and a string given for an array, object or record is
JSON-parsed (`could not parse <kind> value from json input` when it is not JSON). Our one schema
library does the same, so every route, connector type and import gets it."""

import pytest

from actions.models import MaintenanceWindow, Rule
from connectors.models import Connector
from connectors.schemas import (
    Array,
    Boolean,
    Number,
    Object,
    Record,
    SchemaError,
    String,
    number_from_text,
)
from tests.actions.helpers import make_webhook, threshold_rule_body
from tests.api.conftest import MARKER_SECRET, create_connector, error

# ---- the field types, as config-schema's own tests state them ----------------------------------


@pytest.mark.parametrize("text", ["true", "TRUE", "True", "TrUe"])
def test_a_boolean_takes_the_string_true_in_any_case_as_config_schema_does(text):
    assert Boolean().validate(text, "b") is True


@pytest.mark.parametrize("text", ["false", "FALSE", "FaLse"])
def test_a_boolean_takes_the_string_false_in_any_case_as_config_schema_does(text):
    assert Boolean().validate(text, "b") is False


@pytest.mark.parametrize("text", ["abc", "no", "1", "", "yes"])
def test_a_boolean_given_any_other_string_fails_with_the_string_type_error(text):
    with pytest.raises(SchemaError, match=r"^\[b\]: expected value of type \[boolean\] but got \[string\]$"):
        Boolean().validate(text, "b")


@pytest.mark.parametrize(
    ("text", "number"),
    [("4", 4), ("4.23", 4.23), (" 7 ", 7), ("-1e3", -1000), (".5", 0.5), ("+2", 2)],
)
def test_a_number_takes_a_decimal_string_as_config_schema_does(text, number):
    value = Number().validate(text, "n")
    assert value == number and not isinstance(value, str)


@pytest.mark.parametrize(
    "text", ["test", "4px", "1_000", "nan", "inf", "Infinity", "0x10", "", " ", "1e", "."]
)
def test_a_number_given_a_string_that_is_not_a_decimal_fails_with_the_string_type_error(text):
    assert number_from_text(text) is None
    with pytest.raises(SchemaError, match=r"^\[n\]: expected value of type \[number\] but got \[string\]$"):
        Number().validate(text, "n")


def test_a_numeric_string_for_an_integer_field_still_meets_the_fields_own_integer_and_limit_checks():
    port = Number(minimum=1, maximum=65535, integer=True)
    assert port.validate("465", "port") == 465
    with pytest.raises(SchemaError, match=r"expected value of type \[integer\] but got \[1.5\]"):
        port.validate("1.5", "port")
    with pytest.raises(SchemaError, match=r"Value must be equal to or lower than \[65535\]"):
        port.validate("70000", "port")


def test_an_array_given_as_json_text_is_parsed_and_its_items_checked():
    assert Array(String()).validate('["foo", "bar"]', "a") == ["foo", "bar"]
    with pytest.raises(SchemaError, match=r"^\[a.0\]: expected value of type \[string\] but got \[number\]$"):
        Array(String()).validate("[1, 2]", "a")


def test_an_array_given_text_that_is_not_json_fails_with_config_schemas_array_parse_message():
    with pytest.raises(SchemaError, match=r"^\[a\]: could not parse array value from json input$"):
        Array(String()).validate("test", "a")


def test_an_array_given_json_text_of_an_object_fails_with_the_array_type_error_of_what_was_parsed():
    with pytest.raises(SchemaError, match=r"^\[a\]: expected value of type \[array\] but got \[Object\]$"):
        Array(String()).validate('{"foo": "bar"}', "a")


def test_an_object_given_as_json_text_is_parsed_and_its_keys_checked():
    assert Object({"name": String()}).validate('{"name": "test"}', "o") == {"name": "test"}


def test_an_object_given_text_that_is_not_json_fails_with_config_schemas_object_parse_message():
    with pytest.raises(SchemaError, match=r"^\[o\]: could not parse object value from json input$"):
        Object({"name": String()}).validate("invalidjson", "o")


def test_a_record_given_text_that_is_not_json_fails_with_config_schemas_record_parse_message():
    with pytest.raises(SchemaError, match=r"^\[r\]: could not parse record value from json input$"):
        Record().validate("x", "r")


def test_json_text_with_nan_or_infinity_is_not_json_as_javascripts_json_parse_says():
    with pytest.raises(SchemaError, match="could not parse array value from json input"):
        Array(Number()).validate("[NaN]", "a")


def test_json_text_whose_parsed_value_holds_a_nul_is_refused_as_a_request_body_holding_one_is():
    with pytest.raises(SchemaError, match=r"^\[a.0\]: must not contain the NUL character"):
        Array(String()).validate('["a\\u0000"]', "a")


# ---- over the wire ----------------------------------------------------------------------------------


def test_a_rule_body_with_enabled_as_the_string_true_is_accepted_as_config_schema_coerces_it(
    api, default_space
):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    body = threshold_rule_body(hook.id, enabled="TRUE", tags='["cpu", "prod"]')
    body["params"]["timeWindowSize"] = "5"
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["enabled"] is True
    assert answer["tags"] == ["cpu", "prod"]
    assert answer["params"]["timeWindowSize"] == 5
    rule = Rule.objects.get(pk=answer["id"])
    assert rule.enabled is True and rule.tags == ["cpu", "prod"]


def test_a_rule_body_with_enabled_as_a_string_that_is_not_a_boolean_fails_with_the_type_error(
    api, default_space
):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    response = api.post("/api/alerting/rule", threshold_rule_body(hook.id, enabled="yes"), format="json")
    assert response.json() == error(
        400, "[request body.enabled]: expected value of type [boolean] but got [string]"
    )
    assert not Rule.objects.exists()


def test_a_rule_body_with_tags_as_text_that_is_not_json_fails_with_config_schemas_array_parse_message(
    api, default_space
):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    response = api.post("/api/alerting/rule", threshold_rule_body(hook.id, tags="cpu"), format="json")
    assert response.json() == error(400, "[request body.tags]: could not parse array value from json input")


def test_a_maintenance_window_body_with_enabled_false_as_text_and_a_recurring_schedule_as_json_text_is_accepted(
    api,
):
    body = {
        "title": "deploy",
        "enabled": "false",
        "schedule": {
            "custom": {
                "start": "2030-03-01T00:00:00.000Z",
                "duration": "1h",
                "recurring": '{"every": "1d", "occurrences": "3"}',
            }
        },
    }
    response = api.post("/api/maintenance_window", body, format="json")
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["enabled"] is False
    assert answer["schedule"]["custom"]["recurring"] == {"every": "1d", "occurrences": 3}
    assert MaintenanceWindow.objects.get(pk=answer["id"]).enabled is False


def test_an_email_connector_config_with_port_and_secure_as_text_is_stored_as_a_number_and_a_boolean(
    api, default_space
):
    body = {
        "name": "mail",
        "connector_type_id": ".email",
        "config": {"from": "a@example.com", "host": "127.0.0.1", "port": "465", "secure": "TRUE"},
        "secrets": {"user": "u", "password": MARKER_SECRET},
    }
    response = api.post("/api/actions/connector", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["config"]["port"] == 465 and response.json()["config"]["secure"] is True
    stored = Connector.objects.get(pk=response.json()["id"])
    assert stored.config["port"] == 465 and stored.config["secure"] is True


def test_a_connector_secrets_given_as_text_that_is_not_json_fail_without_echoing_the_text(api, default_space):
    body = {"name": "hook", "connector_type_id": ".webhook", "config": {"url": "http://127.0.0.1:9/h"}}
    response = api.post("/api/actions/connector", {**body, "secrets": MARKER_SECRET}, format="json")
    assert response.json() == error(
        400, "[request body.secrets]: could not parse record value from json input"
    )
    assert MARKER_SECRET not in response.content.decode()


def test_execute_params_given_as_json_text_are_the_params_as_config_schema_coerces_a_record(
    api, default_space
):
    connector = create_connector("default")
    response = api.post(
        f"/api/actions/connector/{connector.id}/_execute",
        {"params": '{"message": "hello", "level": "warn"}'},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"connector_id": connector.id, "status": "ok"}


def test_execute_params_given_as_text_that_is_not_json_fail_with_config_schemas_record_parse_message(
    api, default_space
):
    connector = create_connector("default")
    response = api.post(f"/api/actions/connector/{connector.id}/_execute", {"params": "x"}, format="json")
    assert response.json() == error(
        400, "[request body.params]: could not parse record value from json input"
    )


def test_a_rule_body_with_its_actions_given_as_json_text_keeps_each_actions_group_and_frequency(
    api, default_space
):
    import json

    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    body = threshold_rule_body(hook.id)
    body["actions"] = json.dumps(body["actions"])
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 200, response.json()
    action = response.json()["actions"][0]
    assert action["group"] == "threshold met"
    assert action["frequency"]["notify_when"] == "onActiveAlert"


def test_a_nullable_field_given_text_that_is_not_json_lists_the_parse_failure_beside_the_null_alternative():
    with pytest.raises(SchemaError) as caught:
        Object({}, nullable=True).validate("often", "flapping")
    assert str(caught.value) == (
        "[flapping]: types that failed validation:\n"
        "- [flapping.0]: could not parse object value from json input\n"
        "- [flapping.1]: expected value to equal [null]"
    )


def test_a_decimal_string_too_large_for_a_double_is_not_a_safe_number():
    with pytest.raises(SchemaError, match=r'^\[n\]: "value" must be a safe number$'):
        Number().validate("1e999", "n")
