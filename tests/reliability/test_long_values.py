"""Values longer than their column: Kibana sets no length on a rule's name, schedule or throttle, or a
space's id or name, but our columns do. PostgreSQL refused the write with a 500 (`value too long for
type character varying`), SQLite stored it: the routes now answer the same 400 on both, naming the
field, and store nothing. A saved-object import gives the same message as that object's error (on
PostgreSQL it was an internal error with a logged traceback) and imports the other objects.

Runs on SQLite in `make test` and on PostgreSQL through `tests/scaleout/test_long_values_on_postgresql.py`.
"""

import logging
import os

import pytest
from django.db import connection

from actions.models import Rule
from connectors.models import Connector, Space
from tests.actions.helpers import threshold_rule_body
from tests.saved_objects.conftest import connector_line, ndjson, upload
from tests.saved_objects.test_rules import LOG_ID, rule_line
from tests.security.conftest import webhook


def test_the_module_runs_on_the_database_it_was_asked_for(db):
    assert connection.vendor == os.environ.get("CONNECTORS_EXPECT_DB_VENDOR", "sqlite")


# Fields declared nullable: config-schema lists a failure inside one under its `oneOf([type, null])`.
NULLABLE_FIELDS = {"throttle", "originId", "notifyWhen", "createdBy", "updatedBy"}


def _too_long(path: str, length: int, maximum: int) -> str:
    problem = f"value has length [{length}] but it must have a maximum length of [{maximum}]."
    if path.rsplit(".", 1)[-1] not in NULLABLE_FIELDS:
        return f"[{path}]: {problem}"
    return (
        f"[{path}]: types that failed validation:\n- [{path}.0]: {problem}\n"
        f"- [{path}.1]: expected value to equal [null]"
    )


def _refused(response, field: str, length: int, maximum: int) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": _too_long(f"request body.{field}", length, maximum),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "length", "maximum"),
    [
        ({"name": "n" * 1025}, "name", 1025, 1024),
        ({"schedule": {"interval": "1" * 40 + "m"}}, "schedule.interval", 41, 32),
    ],
    ids=["name", "interval"],
)
def test_a_rule_value_longer_than_its_column_is_a_400_on_every_database(
    api, default_space, changes, field, length, maximum
):
    hook = webhook(default_space, "http://127.0.0.1:9/hook")

    _refused(
        api.post("/api/alerting/rule", threshold_rule_body(hook.id, **changes), format="json"),
        field,
        length,
        maximum,
    )
    assert Rule.objects.count() == 0


@pytest.mark.django_db
def test_a_legacy_rule_throttle_longer_than_its_column_is_a_400(api, default_space):
    hook = webhook(default_space, "http://127.0.0.1:9/hook")
    body = threshold_rule_body(hook.id, throttle="1" * 40 + "m", notify_when="onThrottleInterval")
    del body["actions"][0]["frequency"]

    _refused(api.post("/api/alerting/rule", body, format="json"), "throttle", 41, 32)


@pytest.mark.django_db
def test_a_rule_name_at_the_column_length_is_stored(api, default_space):
    hook = webhook(default_space, "http://127.0.0.1:9/hook")
    response = api.post("/api/alerting/rule", threshold_rule_body(hook.id, name="n" * 1024), format="json")
    assert response.status_code == 200, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "length", "maximum"),
    [
        ({"id": "s" * 256, "name": "s"}, "id", 256, 255),
        ({"id": "ok", "name": "n" * 1025}, "name", 1025, 1024),
    ],
    ids=["id", "name"],
)
def test_a_space_value_longer_than_its_column_is_a_400_on_every_database(api, body, field, length, maximum):
    _refused(api.post("/api/spaces/space", body, format="json"), field, length, maximum)
    assert not Space.objects.exclude(pk="default").exists()


@pytest.mark.django_db
def test_a_reported_alert_id_longer_than_its_column_is_a_400_and_the_rule_keeps_running(api, default_space):
    # Stored in the rule's state, an over-long id failed every later run of the rule on PostgreSQL.
    hook = webhook(default_space, "http://127.0.0.1:9/hook")
    body = {
        "name": "external",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "actions": [
            {
                "group": "critical",
                "id": hook.id,
                "params": {"body": "{}"},
                "frequency": {"summary": False, "notify_when": "onActionGroupChange", "throttle": None},
            }
        ],
    }
    rule_id = api.post("/api/alerting/rule", body, format="json").json()["id"]

    response = api.post(
        f"/api/alerting/rule/{rule_id}/_alerts", {"alerts": [{"id": "h" * 1025}]}, format="json"
    )

    _refused(response, "alerts.0.id", 1025, 1024)
    assert not (Rule.objects.get(pk=rule_id).state or {}).get("reported")


def _imported_with_one_error(api, caplog, lines) -> dict:
    caplog.set_level(logging.INFO)
    response = upload(api, ndjson(*lines))
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["successCount"] == len(lines) - 1, body
    (entry,) = body["errors"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    return entry["error"]


def _max_length(field: str, length: int, maximum: int) -> dict:
    return {
        "type": "unknown",
        "message": _too_long(field, length, maximum),
        "statusCode": 400,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "length", "maximum"),
    [
        ({"name": "n" * 1025}, "attributes.name", 1025, 255),
        ({"name": "n" * 256}, "attributes.name", 256, 255),
        ({"originId": "o" * 256}, "originId", 256, 255),
    ],
    ids=["name-over-the-column", "name-over-the-route-limit", "origin"],
)
def test_an_imported_connector_value_longer_than_its_column_is_a_clean_per_object_error(
    api, default_space, caplog, changes, field, length, maximum
):
    line = connector_line("long-one")
    line["attributes"].update({k: v for k, v in changes.items() if k != "originId"})
    line.update({k: v for k, v in changes.items() if k == "originId"})

    error = _imported_with_one_error(api, caplog, [connector_line("kept-one"), line])

    assert error == _max_length(field, length, maximum)
    assert Connector.objects.filter(pk="kept-one").exists()
    assert not Connector.objects.filter(pk="long-one").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "length", "maximum"),
    [
        ({"name": "n" * 1025}, "attributes.name", 1025, 1024),
        ({"schedule": {"interval": "1" * 40 + "m"}}, "attributes.schedule.interval", 41, 32),
        ({"throttle": "1" * 40 + "m"}, "attributes.throttle", 41, 32),
        ({"notifyWhen": "w" * 33}, "attributes.notifyWhen", 33, 32),
        ({"consumer": "c" * 129}, "attributes.consumer", 129, 128),
        ({"createdBy": "u" * 151}, "attributes.createdBy", 151, 150),
        ({"updatedBy": "u" * 151}, "attributes.updatedBy", 151, 150),
        ({"originId": "o" * 256}, "originId", 256, 255),
    ],
    ids=["name", "interval", "throttle", "notify-when", "consumer", "created-by", "updated-by", "origin"],
)
def test_an_imported_rule_value_longer_than_its_column_is_a_clean_per_object_error(
    api, default_space, caplog, changes, field, length, maximum
):
    line = rule_line()
    line["attributes"].update({k: v for k, v in changes.items() if k != "originId"})
    line.update({k: v for k, v in changes.items() if k == "originId"})

    error = _imported_with_one_error(api, caplog, [connector_line(LOG_ID), line])

    assert error == _max_length(field, length, maximum)
    assert Connector.objects.filter(pk=LOG_ID).exists()
    assert not Rule.objects.exists()
