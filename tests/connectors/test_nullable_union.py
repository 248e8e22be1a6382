"""config-schema's `schema.nullable(x)` is `oneOf([x, literal(null)])` (nullable_type.ts), and a union
lists whatever failed inside an option under that option's index (union_type.ts, handleError): not
only a wrong type, but a failure anywhere inside `x`. `schema.maybe(x)` is no union: it takes an
absent value and refuses null, and what fails inside `x` reads plainly."""

import pytest

from connectors.schemas import Array, Boolean, Object, SchemaError, String
from connectors.types.case_management import NullableArray


def _failure(schema, value, path=""):
    with pytest.raises(SchemaError) as raised:
        schema.validate(value, path)
    return str(raised.value)


# ---- as nullable_type.test.ts states it ----------------------------------------------------------


def test_a_nullable_string_too_long_at_the_top_level_lists_the_length_under_index_0():
    assert _failure(String(max_length=1, nullable=True), "foo") == (
        "types that failed validation:\n"
        "- [0]: value has length [3] but it must have a maximum length of [1].\n"
        "- [1]: expected value to equal [null]"
    )


def test_a_nullable_string_too_long_in_an_object_lists_the_length_under_its_union():
    schema = Object({"foo": String(max_length=1, nullable=True), "bar": Boolean(nullable=True)})
    assert _failure(schema, {"foo": "ab"}) == (
        "[foo]: types that failed validation:\n"
        "- [foo.0]: value has length [2] but it must have a maximum length of [1].\n"
        "- [foo.1]: expected value to equal [null]"
    )


def test_a_nullable_string_still_takes_null_and_absent_as_null():
    schema = Object({"foo": String(max_length=1, nullable=True), "bar": Boolean(nullable=True)})
    assert schema.validate({"foo": None}, "") == {"foo": None, "bar": None}
    assert schema.validate({}, "") == {"foo": None, "bar": None}


# ---- deeper failures keep their path under the option index ---------------------------------------


def test_a_missing_key_inside_a_nullable_object_is_listed_under_option_0_with_its_own_path():
    schema = Object({"x": Object({"to": String()}, nullable=True)})
    assert _failure(schema, {"x": {}}) == (
        "[x]: types that failed validation:\n"
        "- [x.0.to]: expected value of type [string] but got [undefined]\n"
        "- [x.1]: expected value to equal [null]"
    )


def test_a_wrong_item_inside_a_nullable_array_is_listed_under_option_0_with_its_index():
    schema = Object({"tags": Array(String(), nullable=True)})
    assert _failure(schema, {"tags": ["a", 1]}) == (
        "[tags]: types that failed validation:\n"
        "- [tags.0.1]: expected value of type [string] but got [number]\n"
        "- [tags.1]: expected value to equal [null]"
    )


def test_a_validator_on_a_nullable_field_fails_inside_the_union_as_configs_validate_option_does():
    schema = Object({"x": String(nullable=True, validator=lambda v: "no" if v == "bad" else None)})
    assert _failure(schema, {"x": "bad"}) == (
        "[x]: types that failed validation:\n- [x.0]: no\n- [x.1]: expected value to equal [null]"
    )


def test_a_nullable_array_inside_a_nullable_object_nests_the_inner_union_one_space_deeper():
    schema = Object({"x": Object({"tags": Array(String(), nullable=True)}, nullable=True)})
    assert _failure(schema, {"x": {"tags": [1]}}) == (
        "[x]: types that failed validation:\n"
        "- [x.0.tags]: types that failed validation:\n"
        " - [x.tags.0.0]: expected value of type [string] but got [number]\n"
        " - [x.tags.1]: expected value to equal [null]\n"
        "- [x.1]: expected value to equal [null]"
    )


def test_the_case_types_nullable_array_reads_as_any_nullable_array():
    assert _failure(Object({"labels": NullableArray(String())}), {"labels": [1]}) == _failure(
        Object({"labels": Array(String(), nullable=True)}), {"labels": [1]}
    )


def test_text_the_database_cannot_store_inside_a_nullable_record_names_the_field_itself():
    schema = Object({"x": Object({}, strict=False, nullable=True)})
    assert _failure(schema, {"x": '{"a": "\\u0000"}'}) == (
        "[x.a]: must not contain the NUL character (U+0000)"
    )


# ---- schema.maybe: no union -----------------------------------------------------------------------


def test_a_maybe_array_refuses_null_and_reports_a_wrong_item_plainly():
    schema = Object({"tags": Array(String(), optional=True)})
    assert schema.validate({}, "") == {}
    assert _failure(schema, {"tags": None}) == "[tags]: expected value of type [array] but got [null]"
    assert _failure(schema, {"tags": [1]}) == "[tags.0]: expected value of type [string] but got [number]"
