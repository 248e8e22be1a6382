"""Rules and connectors whose attributes have the wrong shape (not only the wrong length): each is its
own per-object error in Kibana's import shape, worded as the create route words it, with no ERROR log
line or traceback, and every other object of the file still imports."""

import logging

import pytest

from actions.models import Rule
from connectors.models import Connector
from tests.saved_objects.conftest import connector_line, ndjson, upload
from tests.saved_objects.test_rules import LOG_ID, rule_line

KEPT_RULE_ID = "33333333-3333-4333-8333-333333333333"
BAD_RULE_ID = "44444444-4444-4444-8444-444444444444"


def _imported_with_one_error(api, caplog, lines) -> dict:
    caplog.set_level(logging.INFO)
    response = upload(api, ndjson(*lines))
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    (entry,) = body["errors"]
    assert body["successCount"] == len(lines) - 1, body
    return entry["error"]


def _unknown(message: str) -> dict:
    return {"type": "unknown", "message": message, "statusCode": 400}


def _either_or_null(path: str, expected: str, got: str) -> str:
    return _or_null(path, f"expected value of type [{expected}] but got [{got}]")


def _or_null(path: str, problem: str) -> str:
    return f"[{path}]: types that failed validation:\n- [{path}.0]: {problem}\n- [{path}.1]: expected value to equal [null]"


# config-schema JSON-parses text given for an array, object or record (`Type`'s coercion in
# `internals/index.ts`): text that is not JSON fails with the parse message of that type.
def _unparsable(kind: str) -> str:
    return f"could not parse {kind} value from json input"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"flapping": {"statusChangeThreshold": 4}},
            # maybe(nullable(flappingSchema)): a failure inside is listed under the nullable union
            "[attributes.flapping]: types that failed validation:\n"
            "- [attributes.flapping.0.lookBackWindow]: expected value of type [number] but got [undefined]\n"
            "- [attributes.flapping.1]: expected value to equal [null]",
        ),
        (
            {"flapping": {"lookBackWindow": 3, "statusChangeThreshold": 4}},
            _or_null(
                "attributes.flapping",
                "lookBackWindow (3) must be equal to or greater than statusChangeThreshold (4)",
            ),
        ),
        ({"flapping": "often"}, _or_null("attributes.flapping", _unparsable("object"))),
        ({"tags": "t"}, f"[attributes.tags]: {_unparsable('array')}"),
        ({"tags": [1]}, "[attributes.tags.0]: expected value of type [string] but got [number]"),
        ({"actions": {"a": 1}}, "[attributes.actions]: expected value of type [array] but got [Object]"),
        ({"actions": ["a"]}, f"[attributes.actions.0]: {_unparsable('object')}"),
        (
            {"actions": [{"actionRef": "action_0", "group": "threshold met", "params": []}]},
            "[attributes.actions.0.params]: expected value of type [object] but got [Array]",
        ),
        (
            {
                "actions": [
                    {
                        "actionRef": "action_0",
                        "group": "threshold met",
                        "frequency": {"summary": False, "notifyWhen": "sometimes", "throttle": None},
                    }
                ]
            },
            "[attributes.actions.0.frequency.notifyWhen]: types that failed validation:\n"
            "- [attributes.actions.0.frequency.notifyWhen.0]: expected value to equal [onActiveAlert]\n"
            "- [attributes.actions.0.frequency.notifyWhen.1]: expected value to equal [onThrottleInterval]\n"
            "- [attributes.actions.0.frequency.notifyWhen.2]: expected value to equal [onActionGroupChange]",
        ),
        ({"params": []}, "[attributes.params]: expected value of type [object] but got [Array]"),
        ({"params": "p"}, f"[attributes.params]: {_unparsable('record')}"),
        (
            {"schedule": {}},
            "[attributes.schedule.interval]: expected value of type [string] but got [undefined]",
        ),
        (
            {"schedule": {"interval": 60}},
            "[attributes.schedule.interval]: expected value of type [string] but got [number]",
        ),
        (
            {"schedule": {"interval": "soon"}},
            "[attributes.schedule.interval]: string is not a valid duration: soon",
        ),
        ({"enabled": "yes"}, "[attributes.enabled]: expected value of type [boolean] but got [string]"),
        (
            {"notifyWhen": "sometimes"},
            "[attributes.notifyWhen]: string is not a valid RuleNotifyWhenType: sometimes",
        ),
        ({"throttle": 5}, _either_or_null("attributes.throttle", "string", "number")),
        (
            {"mapped_params": "m"},
            f"[attributes.mapped_params]: {_unparsable('object')}",
        ),
        # rawRuleSchema: snoozeSchedule is maybe(arrayOf(...)), mutedInstanceIds arrayOf(string): no null
        (
            {"snoozeSchedule": {}},
            "[attributes.snoozeSchedule]: expected value of type [array] but got [Object]",
        ),
        (
            {"snoozeSchedule": ["s"]},
            f"[attributes.snoozeSchedule.0]: {_unparsable('object')}",
        ),
        ({"muteAll": "no"}, "[attributes.muteAll]: expected value of type [boolean] but got [string]"),
        ({"mutedInstanceIds": "a"}, f"[attributes.mutedInstanceIds]: {_unparsable('array')}"),
        (
            {"mutedInstanceIds": [1]},
            "[attributes.mutedInstanceIds.0]: expected value of type [string] but got [number]",
        ),
        (
            {"alertDelay": {"active": 0}},
            "[attributes.alertDelay.active]: Value must be equal to or greater than [1].",
        ),
        ({"consumer": 7}, "[attributes.consumer]: expected value of type [string] but got [number]"),
        ({"createdBy": 7}, _either_or_null("attributes.createdBy", "string", "number")),
        ({"name": 7}, "[attributes.name]: expected value of type [string] but got [number]"),
    ],
    ids=[
        "flapping-without-look-back-window",
        "flapping-window-below-threshold",
        "flapping-not-an-object",
        "tags-not-a-list",
        "tags-not-strings",
        "actions-not-a-list",
        "actions-not-objects",
        "action-params-not-an-object",
        "action-frequency-unknown-notify-when",
        "params-a-list",
        "params-a-string",
        "schedule-without-interval",
        "interval-a-number",
        "interval-not-a-duration",
        "enabled-not-a-boolean",
        "notify-when-unknown",
        "throttle-a-number",
        "mapped-params-not-an-object",
        "snooze-schedule-not-a-list",
        "snooze-schedule-not-objects",
        "mute-all-not-a-boolean",
        "muted-instance-ids-not-a-list",
        "muted-instance-ids-not-strings",
        "alert-delay-below-one",
        "consumer-a-number",
        "created-by-a-number",
        "name-a-number",
    ],
)
def test_a_malformed_rule_attribute_is_a_clean_per_object_error_and_the_rest_imports(
    api, default_space, caplog, changes, message
):
    bad = rule_line(BAD_RULE_ID, name="bad")
    bad["attributes"].update(changes)

    error = _imported_with_one_error(api, caplog, [connector_line(LOG_ID), rule_line(KEPT_RULE_ID), bad])

    assert error == _unknown(message)
    assert Connector.objects.filter(pk=LOG_ID).exists()
    assert list(Rule.objects.values_list("id", flat=True)) == [KEPT_RULE_ID]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"config": []},
            "error validating action type config: expected a plain object value, but found [Array] instead.",
        ),
        (
            {"config": "c"},
            f"error validating action type config: {_unparsable('object')}",
        ),
        # rawConnectorSchema's schema.string(): a wrong type in config-schema's words; an empty or
        # blank name is refused too (Kibana's saved-object schema would let it through)
        ({"name": 7}, "[attributes.name]: expected value of type [string] but got [number]"),
        ({"actionTypeId": 7}, "[attributes.actionTypeId]: expected value of type [string] but got [number]"),
        ({"name": " "}, "[attributes.name]: expected a non-empty string"),
        (
            {"isMissingSecrets": "no"},
            "[attributes.isMissingSecrets]: expected value of type [boolean] but got [string]",
        ),
    ],
    ids=["config-list", "config-string", "name", "type", "blank-name", "missing-secrets"],
)
def test_a_malformed_connector_attribute_is_a_clean_per_object_error_and_the_rest_imports(
    api, default_space, caplog, changes, message
):
    bad = connector_line("bad-one")
    bad["attributes"].update(changes)

    error = _imported_with_one_error(api, caplog, [connector_line("kept-one"), bad])

    assert error == _unknown(message)
    assert list(Connector.objects.values_list("id", flat=True)) == ["kept-one"]


# Kibana validates an imported object against its type's saved-object schema, whose `attributes` is
# a schema.object (rawConnectorSchema, rawRuleSchema) and whose connector `secrets` is a recordOf.
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ([1], "[attributes]: expected a plain object value, but found [Array] instead."),
        (7, "[attributes]: expected a plain object value, but found [number] instead."),
        ("not json", f"[attributes]: {_unparsable('object')}"),
    ],
    ids=["list", "number", "text"],
)
def test_a_connector_whose_attributes_are_not_an_object_answers_config_schemas_object_words(
    api, default_space, caplog, attributes, message
):
    bad = connector_line("bad-one")
    bad["attributes"] = attributes

    error = _imported_with_one_error(api, caplog, [connector_line("kept-one"), bad])

    assert error == _unknown(message)


@pytest.mark.django_db
def test_a_connector_whose_secrets_are_not_an_object_answers_config_schemas_record_words(
    api, default_space, caplog
):
    bad = connector_line("bad-one")
    bad["attributes"]["secrets"] = 5

    error = _imported_with_one_error(api, caplog, [connector_line("kept-one"), bad])

    assert error == _unknown("[attributes.secrets]: expected value of type [object] but got [number]")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ([1], "[attributes]: expected a plain object value, but found [Array] instead."),
        (None, "[attributes]: expected a plain object value, but found [null] instead."),
    ],
    ids=["list", "null"],
)
def test_a_rule_whose_attributes_are_not_an_object_answers_config_schemas_object_words(
    api, default_space, caplog, attributes, message
):
    bad = rule_line(BAD_RULE_ID, name="bad")
    bad["attributes"] = attributes

    error = _imported_with_one_error(api, caplog, [connector_line(LOG_ID), rule_line(KEPT_RULE_ID), bad])

    assert error == _unknown(message)
    assert list(Rule.objects.values_list("id", flat=True)) == [KEPT_RULE_ID]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"schedule": None},
            "[attributes.schedule]: expected a plain object value, but found [null] instead.",
        ),
        (
            {"snoozeSchedule": None},
            "[attributes.snoozeSchedule]: expected value of type [array] but got [null]",
        ),
        (
            {"mutedInstanceIds": None},
            "[attributes.mutedInstanceIds]: expected value of type [array] but got [null]",
        ),
        (
            {"alertDelay": None},
            "[attributes.alertDelay]: expected a plain object value, but found [null] instead.",
        ),
    ],
    ids=["schedule", "snooze-schedule", "muted-instance-ids", "alert-delay"],
)
def test_a_rule_attribute_kibanas_raw_rule_schema_does_not_let_be_null_is_refused_as_null(
    api, default_space, caplog, changes, message
):
    bad = rule_line(BAD_RULE_ID, name="bad")
    bad["attributes"].update(changes)

    error = _imported_with_one_error(api, caplog, [connector_line(LOG_ID), rule_line(KEPT_RULE_ID), bad])

    assert error == _unknown(message)
