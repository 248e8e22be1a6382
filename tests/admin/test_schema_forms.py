"""Forms built from schemas: every schema kind gets an input and comes back as the right JSON value."""

import pytest

from connectors.admin.forms import SchemaForm, attach_error, plain_words, specs_for, split_error
from connectors.schemas import Array, Boolean, Enum, Number, Object, OneOf, Record, String, validate_object

SCHEMA = Object(
    {
        "title": String(label="Title", help="Shown on top."),
        "token": String(secret=True, nullable=True, default=None),
        "enabled": Boolean(default=True),
        "maybe": Boolean(nullable=True, default=None),
        "count": Number(nullable=True, default=None),
        "level": Enum(("low", "high"), default="low"),
        "port": Enum((25, 465), nullable=True, default=None),
        "tags": Array(String(), nullable=True, default=None),
        "sizes": Array(Number(), nullable=True, default=None),
        "items": Array(Object({"a": Number()}), nullable=True, default=None),
        "headers": Record(String(), nullable=True, default=None),
        "extra": Object({"x": String()}, nullable=True, default=None),
        "either": OneOf([String(), Number()], nullable=True, default=None),
    }
)


def form(data, group="config"):
    built = SchemaForm(data, specs=specs_for(SCHEMA, group))
    built.is_valid()
    return built


def test_each_kind_of_field_gets_its_input():
    kinds = {spec.key: spec.input for spec in specs_for(SCHEMA, "config")}

    assert kinds == {
        "title": "text",
        "token": "password",
        "enabled": "checkbox",
        "maybe": "tristate",
        "count": "number",
        "level": "select",
        "port": "select",
        "tags": "lines",
        "sizes": "lines",
        "items": "json",
        "headers": "pairs",  # a Record of strings: one `Name: value` per line
        "extra": "json",
        "either": "json",
    }


def test_values_come_back_as_json_that_the_schema_accepts():
    built = form(
        {
            "config__title": "Hi",
            "config__token": "t0k",
            "config__maybe": "false",
            "config__count": "3",
            "config__level": "high",
            "config__port": "465",
            "config__tags": "a\n b \n\n",
            "config__sizes": "1\n2.5",
            "config__items": '[{"a": 1}]',
            "config__headers": '{"X": "y"}',
            "config__extra": '{"x": "z"}',
            "config__either": "7",
        }
    )

    values = built.values("config")

    assert not built.errors
    assert values == {
        "title": "Hi",
        "token": "t0k",
        "enabled": False,  # an unticked checkbox is an explicit false
        "maybe": False,
        "count": 3,
        "level": "high",
        "port": 465,
        "tags": ["a", "b"],
        "sizes": [1, 2.5],
        "items": [{"a": 1}],
        "headers": {"X": "y"},
        "extra": {"x": "z"},
        "either": 7,
    }
    assert validate_object(SCHEMA, values)["port"] == 465


def test_blank_inputs_are_left_out_so_defaults_apply():
    built = form({"config__title": "Hi", "config__enabled": "on"})

    values = built.values("config")

    assert values == {"title": "Hi", "enabled": True}
    assert validate_object(SCHEMA, values)["level"] == "low"


def test_unparseable_inputs_become_field_errors():
    built = form({"config__title": "Hi", "config__count": "lots", "config__headers": "{oops"})

    built.values("config")

    assert built.errors["config__headers"][0].startswith("This is not valid JSON")
    assert "config__count" in built.errors


def test_a_stored_secret_is_kept_when_left_blank_and_dropped_when_cleared():
    specs = specs_for(Object({"token": String(secret=True, nullable=True, default=None)}), "secrets")
    kept = SchemaForm({}, specs=specs, stored_secret_keys={"token"})
    kept.is_valid()
    cleared = SchemaForm({"secrets__token__clear": "on"}, specs=specs, stored_secret_keys={"token"})
    cleared.is_valid()

    assert kept.values("secrets", stored={"token": "old"}) == {"token": "old"}
    assert cleared.values("secrets", stored={"token": "old"}) == {}


def test_a_secret_input_never_renders_a_stored_value():
    specs = specs_for(
        Object(
            {
                "user": String(nullable=True, default=None),
                "token": String(secret=True, nullable=True, default=None),
            }
        ),
        "secrets",
    )
    stored = {"user": "stored-user-7", "token": "stored-tok-9"}
    built = SchemaForm(specs=specs, initial_values={"secrets": stored}, stored_secret_keys={"user", "token"})

    html = str(built["secrets__user"]) + str(built["secrets__token"])

    assert "stored-user-7" not in html
    assert "stored-tok-9" not in html


def test_a_failed_submit_never_renders_the_secrets_typed_in_it():
    # the browser puts them back (admin.js, `data-secret`): tests/admin/test_browser_audit.py
    specs = specs_for(
        Object(
            {
                "token": String(secret=True, nullable=True, default=None),
                "secretHeaders": Record(String(), nullable=True, default=None),
            }
        ),
        "secrets",
    )
    built = SchemaForm(
        {"secrets__token": "typed-tok-3", "secrets__secretHeaders": "X-Key: typed-hdr-3"}, specs=specs
    )

    html = str(built["secrets__token"]) + str(built["secrets__secretHeaders"])
    assert "typed-tok-3" not in html and "typed-hdr-3" not in html
    assert html.count("data-secret") == 2


@pytest.mark.parametrize(
    ("message", "plain"),
    [
        ("expected value of type [string] but got [undefined]", "This field is required."),
        ("expected value of type [number] but got [string]", "Enter a number, not text."),
        (
            "types that failed validation:\n- [m.0]: expected value to equal [post]\n- [m.1]: expected value to equal [put]",
            "Choose one of: post, put.",
        ),
        ("value has length [0] but it must have a minimum length of [1].", "This field is required."),
        ("value has length [9] but it must have a maximum length of [5].", "Enter at most 5 characters."),
        ("Value must be equal to or greater than [1].", "Enter a number of at least 1."),
        ("definition for this key is missing", "This key is not allowed here."),
        ("expected a plain object value, but found [Array] instead.", "Enter a JSON object, not a list."),
        ("expected a plain object value, but found [null] instead.", "This field cannot be empty."),
        ("something the type says", "something the type says"),
    ],
)
def test_kibana_messages_are_said_in_plain_words(message, plain):
    assert plain_words(message) == plain


def test_an_error_path_names_the_field():
    assert split_error(
        "error validating action type config: [url]: expected value of type [string] but got [undefined]"
    ) == (
        "url",
        "This field is required.",
    )
    assert split_error(
        "error validating action params: [tags.1]: expected value of type [string] but got [number]"
    ) == (
        "tags",
        "Item 2: Enter text, not a number.",
    )
    assert split_error(
        "error validating action type config: [headers.X-Key]: expected value of type [string] but got [number]"
    ) == (
        "headers",
        "X-Key: Enter text, not a number.",
    )


def test_a_cross_field_message_goes_on_the_one_field_it_names():
    specs = specs_for(SCHEMA, "config")
    named = SchemaForm({}, specs=specs)
    named.is_valid()
    unnamed = SchemaForm({}, specs=specs)
    unnamed.is_valid()

    attach_error(named, "config", "error validating action type config: title must not shout", specs)
    attach_error(unnamed, "config", "error validating action type config: the pair is wrong", specs)

    assert named.errors["config__title"][-1] == "title must not shout"
    assert unnamed.non_field_errors() == ["the pair is wrong"]


def test_a_sub_action_is_chosen_from_the_types_sub_actions():
    from connectors.types.sub_action_framework import SubActionConnectorType

    specs = specs_for(
        SubActionConnectorType.params_schema, "params", known_values={"subAction": ["pushToService", "test"]}
    )
    built = SchemaForm({"params__subAction": "test", "params__subActionParams": '{"a": 1}'}, specs=specs)
    built.is_valid()

    assert specs[0].input == "select"
    assert built.values("params") == {"subAction": "test", "subActionParams": {"a": 1}}
    assert '<option value="pushToService">' in str(built["params__subAction"])


def test_a_schema_that_is_not_an_object_is_edited_as_one_json_object():
    schema = OneOf([Object({"a": String()}), Object({"b": Number()})])
    specs = specs_for(schema, "config")
    built = SchemaForm({"config____whole__": '{"b": 2}'}, specs=specs)
    built.is_valid()
    stored = SchemaForm({}, specs=specs_for(schema, "secrets"), stored_secret_keys={"b"})
    stored.is_valid()

    assert [spec.input for spec in specs] == ["json"]
    assert built.values("config") == {"b": 2}
    assert stored.values("secrets", stored={"b": 3}) == {"b": 3}


def test_what_inputs_do_not_show_is_set_aside_and_put_back_at_any_depth():
    from connectors.admin.forms import round_trips, unshown, with_kept

    schema = Object(
        {
            "subAction": String(),
            "subActionParams": Object({"incident": Object({"summary": String(), "labels": Array(String())})}),
        }
    )
    specs = specs_for(schema, "params", nested=True)
    stored = {
        "subAction": "pushToService",
        "subActionParams": {"incident": {"summary": "x", "labels": [], "extra": 1}, "comments": []},
        "other": {"a": None},
    }

    kept = unshown(specs, stored)

    assert kept == {
        "subActionParams": {"incident": {"labels": [], "extra": 1}, "comments": []},
        "other": {"a": None},
    }
    assert round_trips(specs, stored)
    typed = {"subAction": "pushToService", "subActionParams": {"incident": {"summary": "y", "labels": ["a"]}}}
    assert with_kept(typed, kept) == {
        "subAction": "pushToService",
        "subActionParams": {"incident": {"summary": "y", "labels": ["a"], "extra": 1}, "comments": []},
        "other": {"a": None},
    }
    assert not round_trips(specs, {"subAction": None})  # a null an input would lose: not kept
