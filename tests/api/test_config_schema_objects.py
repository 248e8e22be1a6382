"""config-schema words a failing `schema.object` and a failing `schema.recordOf` differently:
`expected a plain object value, but found [number] instead.` for the object, `expected value of type
[object] but got [number]` for the record (object_type.ts and record_type.ts, handleError). An absent
object is `{}` (its Joi schema is `object().default().optional()`), so what fails is its first
required key; an absent record has no default and fails as `undefined`. A string given for either is
JSON-parsed, a whole request body included."""

import json

import pytest

from connectors import registry
from connectors.exceptions import ConfigurationError
from connectors.models import Connector
from connectors.schemas import Any_, Object, Record, SchemaError, String
from tests.api.conftest import create_connector, error

# ---- the schema library, as config-schema's object_type.test.ts and record_type.test.ts state it ----


def test_an_object_given_a_number_says_it_expected_a_plain_object_as_config_schemas_object_type_does():
    with pytest.raises(SchemaError) as raised:
        Object({"foo": String()}).validate(123, "config")
    assert str(raised.value) == "[config]: expected a plain object value, but found [number] instead."


def test_an_object_given_json_text_of_an_array_names_the_array_it_parsed():
    with pytest.raises(SchemaError) as raised:
        Object({"name": String()}).validate("[1,2,3]", "body")
    assert str(raised.value) == "[body]: expected a plain object value, but found [Array] instead."


def test_a_record_given_a_number_still_says_it_expected_a_value_of_type_object():
    with pytest.raises(SchemaError) as raised:
        Record(Any_()).validate(123, "params")
    assert str(raised.value) == "[params]: expected value of type [object] but got [number]"


def test_a_missing_required_object_is_checked_as_an_empty_object_and_names_its_first_missing_key():
    schema = Object({"config": Object({"foo": String(), "bar": String()})})
    with pytest.raises(SchemaError) as raised:
        schema.validate({}, "")
    assert str(raised.value) == "[config.foo]: expected value of type [string] but got [undefined]"


def test_a_missing_object_whose_keys_all_have_defaults_is_those_defaults():
    schema = Object({"foo": Object({"bar": String(default="hello world")})})
    assert schema.validate({}, "") == {"foo": {"bar": "hello world"}}


def test_a_missing_required_record_still_fails_as_undefined():
    with pytest.raises(SchemaError) as raised:
        Object({"params": Record(Any_())}).validate({}, "")
    assert str(raised.value) == "[params]: expected value of type [object] but got [undefined]"


def test_a_nullable_object_given_a_number_lists_the_plain_object_failure_beside_the_null_alternative():
    with pytest.raises(SchemaError) as raised:
        Object({"a": String()}, nullable=True).validate(5, "x")
    assert str(raised.value) == (
        "[x]: types that failed validation:\n"
        "- [x.0]: expected a plain object value, but found [number] instead.\n"
        "- [x.1]: expected value to equal [null]"
    )


# ---- routes whose Kibana bodies hold a schema.object or a schema.recordOf ------------------------


def rule_body(**fields) -> dict:
    return {
        "name": "r",
        "rule_type_id": ".index-threshold",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "params": {},
        **fields,
    }


def test_a_rule_whose_schedule_is_a_number_fails_with_the_plain_object_message(api, default_space):
    response = api.post("/api/alerting/rule", rule_body(schedule=5), format="json")
    assert response.json() == error(
        400, "[request body.schedule]: expected a plain object value, but found [number] instead."
    )


def test_a_rule_without_a_schedule_fails_on_the_schedules_interval_as_kibana_defaults_it_to_an_object(
    api, default_space
):
    body = rule_body()
    del body["schedule"]
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.json() == error(
        400, "[request body.schedule.interval]: expected value of type [string] but got [undefined]"
    )


def test_a_rule_whose_params_are_a_number_fails_with_the_record_message(api, default_space):
    response = api.post("/api/alerting/rule", rule_body(params=5), format="json")
    assert response.json() == error(
        400, "[request body.params]: expected value of type [object] but got [number]"
    )


def test_an_action_whose_params_are_an_array_fails_with_the_record_message(api, default_space):
    hook = create_connector("default")
    body = rule_body(actions=[{"id": hook.id, "group": "threshold met", "params": []}])
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.json() == error(
        400, "[request body.actions.0.params]: expected value of type [object] but got [Array]"
    )


# ---- a whole connector body sent as JSON text (hapi hands config-schema the string; it parses it) ----


def as_json_text(body) -> str:
    return json.dumps(json.dumps(body))


def test_a_connector_create_body_sent_as_json_text_creates_the_connector_as_config_schema_parses_it(
    api, default_space
):
    body = {"name": "from text", "connector_type_id": ".server-log"}
    response = api.post("/api/actions/connector", as_json_text(body), content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "from text"
    assert Connector.objects.filter(pk=response.json()["id"], name="from text").exists()


def test_a_connector_update_body_sent_as_json_text_updates_the_connector(api, default_space):
    connector = create_connector("default")
    response = api.put(
        f"/api/actions/connector/{connector.id}",
        as_json_text({"name": "renamed from text"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    connector.refresh_from_db()
    assert connector.name == "renamed from text"


def test_a_connector_body_sent_as_text_that_is_not_json_fails_with_config_schemas_object_parse_message(
    api, default_space
):
    response = api.post("/api/actions/connector", '"just a string"', content_type="application/json")
    assert response.json() == error(400, "[request body]: could not parse object value from json input")


def test_a_connector_body_sent_as_json_text_of_an_array_fails_naming_the_array_it_parsed(api, default_space):
    response = api.post("/api/actions/connector", json.dumps("[1, 2]"), content_type="application/json")
    assert response.json() == error(
        400, "[request body]: expected a plain object value, but found [Array] instead."
    )


def test_a_connector_body_sent_as_json_text_is_checked_like_the_object_it_holds(api, default_space):
    body = {"name": "x", "connector_type_id": ".server-log", "config": None}
    response = api.post("/api/actions/connector", as_json_text(body), content_type="application/json")
    assert response.json() == error(
        400, "[request body.config]: expected value of type [object] but got [null]"
    )


def test_an_index_document_that_is_not_an_object_fails_with_the_record_message(kibana_settings):
    # documents: schema.arrayOf(schema.recordOf(schema.string(), schema.any()))
    with pytest.raises(ConfigurationError) as raised:
        registry.get(".index").validate_params({"documents": [5]}, kibana_settings.set({}))
    assert raised.value.message == (
        "error validating action params: [documents.0]: expected value of type [object] but got [number]"
    )
