"""kibana-py's `client.alerting` (rules, backfills, health, rule types) against our live server.

Each test calls the third-party kibana exactly as a user of it would; only the base URL is ours.
"""

from datetime import UTC, datetime, timedelta

import pytest
from kibana.exceptions import (
    ApiError,
    AuthorizationException,
    BadRequestError,
    ConflictError,
    NotFoundError,
    SpaceNotFoundError,
)

from actions.models import Alert, Rule
from connectors.models import Space

THRESHOLD_PARAMS = {
    "index": ["metrics"],
    "timeField": "@timestamp",
    "aggType": "count",
    "thresholdComparator": ">",
    "threshold": [2],
    "timeWindowSize": 5,
    "timeWindowUnit": "m",
}


def create_threshold_rule(kibana, **extra):
    fields = {
        "name": "cpu high",
        "consumer": "alerts",
        "rule_type_id": ".index-threshold",
        "schedule": {"interval": "1m"},
        "params": THRESHOLD_PARAMS,
        "tags": ["cpu"],
        "enabled": False,
    }
    fields.update(extra)
    return kibana.alerting.rule.create(**fields).body


def test_create_returns_the_rule_and_get_reads_it_back(kibana):
    rule = create_threshold_rule(kibana)
    assert rule["name"] == "cpu high" and rule["rule_type_id"] == ".index-threshold"
    assert rule["enabled"] is False and rule["tags"] == ["cpu"]
    fetched = kibana.alerting.rule.get(id=rule["id"]).body
    assert fetched["id"] == rule["id"] and fetched["params"]["threshold"] == [2]


def test_create_with_a_caller_chosen_id_uses_that_id(kibana):
    rule = create_threshold_rule(kibana, id="my-rule-id", enabled=True)
    assert rule["id"] == "my-rule-id" and rule["enabled"] is True
    assert kibana.alerting.rule.get(id="my-rule-id").body["name"] == "cpu high"


def test_create_with_an_unknown_rule_type_is_a_bad_request_with_kibanas_message(kibana):
    with pytest.raises(BadRequestError) as raised:
        create_threshold_rule(kibana, rule_type_id=".nope")
    assert raised.value.meta.status == 400
    assert raised.value.body["message"] == 'Rule type ".nope" is not registered.'


def test_create_with_invalid_params_is_a_bad_request(kibana):
    with pytest.raises(BadRequestError) as raised:
        create_threshold_rule(kibana, params={"index": ["metrics"]})
    assert raised.value.body["message"].startswith("params invalid:")


def test_a_read_only_user_gets_a_403_when_creating_a_rule(reader_kibana):
    with pytest.raises(AuthorizationException) as raised:
        create_threshold_rule(reader_kibana)
    assert raised.value.meta.status == 403
    assert raised.value.body["message"] == 'Unauthorized by "alerts" to create ".index-threshold" rule'


def test_get_of_an_unknown_rule_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError) as raised:
        kibana.alerting.rule.get(id="nope")
    assert raised.value.body["message"] == "Saved object [alert/nope] not found"


def test_update_changes_the_rule_and_leaves_its_type(kibana):
    rule = create_threshold_rule(kibana)
    updated = kibana.alerting.rule.update(
        id=rule["id"],
        name="cpu very high",
        schedule={"interval": "5m"},
        params={**THRESHOLD_PARAMS, "threshold": [9]},
        tags=["cpu", "prod"],
        actions=[],
    ).body
    assert updated["name"] == "cpu very high" and updated["schedule"] == {"interval": "5m"}
    assert updated["params"]["threshold"] == [9] and updated["tags"] == ["cpu", "prod"]
    assert updated["rule_type_id"] == ".index-threshold"
    assert kibana.alerting.rule.get(id=rule["id"]).body["name"] == "cpu very high"


def test_update_of_an_unknown_rule_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.update(id="nope", name="x", schedule={"interval": "1m"}, params=THRESHOLD_PARAMS)


def test_delete_answers_an_empty_204_and_the_rule_is_gone(kibana):
    rule = create_threshold_rule(kibana)
    response = kibana.alerting.rule.delete(id=rule["id"])
    assert response.meta.status == 204 and not response.body
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.get(id=rule["id"])
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.delete(id=rule["id"])


def test_find_filters_sorts_and_pages_rules(kibana):
    create_threshold_rule(kibana, name="beta", tags=["prod"])
    create_threshold_rule(kibana, name="alpha", tags=["dev"])
    create_threshold_rule(kibana, name="gamma", tags=["prod"], consumer="stackAlerts")
    everything = kibana.alerting.rule.find().body
    assert everything["total"] == 3 and everything["page"] == 1 and everything["per_page"] == 10
    ordered = kibana.alerting.rule.find(sort_field="name", sort_order="asc", per_page=2, page=1).body
    assert [r["name"] for r in ordered["data"]] == ["alpha", "beta"] and ordered["total"] == 3
    prod = kibana.alerting.rule.find(filter="alert.attributes.tags:prod").body
    assert sorted(r["name"] for r in prod["data"]) == ["beta", "gamma"]
    searched = kibana.alerting.rule.find(search="alpha", search_fields=["name"]).body
    assert [r["name"] for r in searched["data"]] == ["alpha"]
    consumers = kibana.alerting.rule.find(filter_consumers=["stackAlerts"]).body
    assert [r["name"] for r in consumers["data"]] == ["gamma"]
    only_names = kibana.alerting.rule.find(fields=["name"], search="beta", search_fields=["name"]).body
    assert only_names["data"][0]["name"] == "beta"


def test_find_with_a_sort_order_but_no_sort_field_is_kibanas_406(kibana):
    with pytest.raises(ApiError) as raised:
        kibana.alerting.rule.find(sort_order="asc")
    assert raised.value.meta.status == 406
    assert raised.value.body == {
        "statusCode": 406,
        "error": "Not Acceptable",
        "message": "sortOrder requires a sortField",
    }


def test_enable_and_disable_answer_204_and_flip_the_rule(kibana):
    rule = create_threshold_rule(kibana)
    assert kibana.alerting.rule.enable(id=rule["id"]).meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["enabled"] is True
    assert kibana.alerting.rule.disable(id=rule["id"]).meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["enabled"] is False
    kibana.alerting.rule.enable(id=rule["id"])
    assert kibana.alerting.rule.disable(id=rule["id"], untrack=True).meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["enabled"] is False


def test_enable_of_an_unknown_rule_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.enable(id="nope")
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.disable(id="nope")


def test_mute_all_and_unmute_all_flip_mute_all(kibana):
    rule = create_threshold_rule(kibana)
    assert kibana.alerting.rule.mute_all(id=rule["id"]).meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["mute_all"] is True
    assert kibana.alerting.rule.unmute_all(id=rule["id"]).meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["mute_all"] is False
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.mute_all(id="nope")


def test_mute_alert_and_unmute_alert_change_the_muted_alert_ids(kibana):
    rule = create_threshold_rule(kibana)
    Alert.objects.create(rule_id=rule["id"], alert_id="host-1", status=Alert.RECOVERED)
    assert kibana.alerting.rule.mute_alert(rule_id=rule["id"], alert_id="host-1").meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["muted_alert_ids"] == ["host-1"]
    assert kibana.alerting.rule.unmute_alert(rule_id=rule["id"], alert_id="host-1").meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["muted_alert_ids"] == []


def test_mute_alert_of_an_alert_never_raised_is_a_not_found_error_unless_validation_is_off(kibana):
    rule = create_threshold_rule(kibana)
    with pytest.raises(NotFoundError) as raised:
        kibana.alerting.rule.mute_alert(rule_id=rule["id"], alert_id="ghost")
    assert raised.value.body["message"] == (
        f'Alert instance with id "ghost" does not exist for rule with id "{rule["id"]}"'
    )
    kibana.alerting.rule.mute_alert(rule_id=rule["id"], alert_id="ghost", validate_alerts_existence=False)
    assert Rule.objects.get(pk=rule["id"]).muted_alert_ids == ["ghost"]


def test_snooze_returns_the_schedule_and_unsnooze_removes_it(kibana):
    rule = create_threshold_rule(kibana)
    snoozed = kibana.alerting.rule.snooze(
        id=rule["id"], schedule={"custom": {"duration": "1h", "start": "2030-01-01T00:00:00.000Z"}}
    ).body
    schedule_id = snoozed["schedule"]["id"]
    assert snoozed["schedule"]["custom"]["duration"] == "1h"
    # Kibana keeps `snooze_schedule` out of the public get; the stored rule holds it.
    assert [s["id"] for s in Rule.objects.get(pk=rule["id"]).snooze_schedule] == [schedule_id]
    response = kibana.alerting.rule.unsnooze(rule_id=rule["id"], schedule_id=schedule_id)
    assert response.meta.status == 204 and not response.body
    assert Rule.objects.get(pk=rule["id"]).snooze_schedule == []


def test_snooze_with_an_invalid_schedule_is_a_bad_request(kibana):
    rule = create_threshold_rule(kibana)
    with pytest.raises(BadRequestError):
        kibana.alerting.rule.snooze(id=rule["id"], schedule={"custom": {"duration": "soon"}})


def test_unsnooze_of_an_unknown_rule_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.unsnooze(rule_id="nope", schedule_id="x")


def test_update_api_key_answers_204_and_makes_the_caller_the_owner(kibana):
    rule = create_threshold_rule(kibana)
    Rule.objects.filter(pk=rule["id"]).update(api_key_owner="someone-else")
    assert kibana.alerting.rule.update_api_key(id=rule["id"]).meta.status == 204
    assert kibana.alerting.rule.get(id=rule["id"]).body["api_key_owner"] == "elastic"
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.update_api_key(id="nope")


def test_health_reports_the_framework_as_ok(kibana):
    health = kibana.alerting.health().body
    assert health["alerting_framework_health"]["execution_health"]["status"] == "ok"
    assert {"is_sufficiently_secure", "has_permanent_encryption_key"} <= set(health)


def test_rule_types_lists_our_rule_types(kibana):
    types = {t["id"]: t for t in kibana.alerting.rule_types().body}
    assert {".index-threshold", ".external", ".connector-failures"} <= set(types)
    assert types[".index-threshold"]["default_action_group_id"] == "threshold met"


def test_rules_live_in_the_space_the_client_names(kibana):
    Space.objects.create(id="marketing", name="Marketing")
    rule = create_threshold_rule(kibana, space_id="marketing")
    assert kibana.alerting.rule.get(id=rule["id"], space_id="marketing").body["id"] == rule["id"]
    with pytest.raises(NotFoundError):
        kibana.alerting.rule.get(id=rule["id"])
    assert kibana.alerting.rule.find(space_id="marketing").body["total"] == 1
    assert kibana.alerting.rule.find().body["total"] == 0


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


RANGE = {
    "start": _iso(datetime.now(UTC) - timedelta(hours=3)),
    "end": _iso(datetime.now(UTC) - timedelta(hours=2)),
}


def test_backfill_schedule_get_find_and_delete(kibana):
    rule = create_threshold_rule(kibana, enabled=True)
    scheduled = kibana.alerting.backfill.schedule(
        backfills=[{"rule_id": rule["id"], "ranges": [RANGE], "run_actions": False}]
    ).body
    assert len(scheduled) == 1 and scheduled[0]["rule"]["id"] == rule["id"]
    backfill_id = scheduled[0]["id"]
    assert kibana.alerting.backfill.get(id=backfill_id).body["id"] == backfill_id
    found = kibana.alerting.backfill.find(rule_ids=rule["id"], sort_field="createdAt", sort_order="desc").body
    assert found["total"] == 1 and found["data"][0]["id"] == backfill_id
    assert kibana.alerting.backfill.find(rule_ids="other").body["total"] == 0
    response = kibana.alerting.backfill.delete(id=backfill_id)
    assert response.meta.status == 204
    with pytest.raises(NotFoundError):
        kibana.alerting.backfill.get(id=backfill_id)


def test_backfill_of_a_rule_type_that_cannot_backfill_is_a_per_item_error(kibana):
    rule = kibana.alerting.rule.create(
        name="reported", consumer="alerts", rule_type_id=".external", schedule={"interval": "1m"}, params={}
    ).body
    scheduled = kibana.alerting.backfill.schedule(backfills=[{"rule_id": rule["id"], "ranges": [RANGE]}]).body
    assert scheduled[0]["error"]["message"] == f'Rule type ".external" for rule {rule["id"]} is not supported'


def test_backfill_get_and_delete_of_an_unknown_backfill_are_not_found_errors(kibana):
    with pytest.raises(NotFoundError):
        kibana.alerting.backfill.get(id="nope")
    with pytest.raises(NotFoundError):
        kibana.alerting.backfill.delete(id="nope")


def test_backfill_schedule_with_a_reversed_range_is_a_bad_request(kibana):
    rule = create_threshold_rule(kibana, enabled=True)
    with pytest.raises(BadRequestError):
        kibana.alerting.backfill.schedule(
            backfills=[{"rule_id": rule["id"], "ranges": [{"start": RANGE["end"], "end": RANGE["start"]}]}]
        )


def test_backfill_find_filters_by_dates_and_initiator(kibana):
    rule = create_threshold_rule(kibana, enabled=True)
    backfill_id = kibana.alerting.backfill.schedule(
        backfills=[{"rule_id": rule["id"], "ranges": [RANGE]}]
    ).body[0]["id"]
    week_ago = _iso(datetime.now(UTC) - timedelta(days=7))
    found = kibana.alerting.backfill.find(start=week_ago, end=_iso(datetime.now(UTC)), initiator="user").body
    assert [b["id"] for b in found["data"]] == [backfill_id]
    assert kibana.alerting.backfill.find(initiator="system").body["total"] == 0
    paged = kibana.alerting.backfill.find(page=1, per_page=1, sort_field="start", sort_order="asc").body
    assert paged["page"] == 1 and paged["per_page"] == 1 and paged["total"] == 1


def test_backfill_find_with_an_invalid_start_is_a_bad_request_with_kibanas_message(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.alerting.backfill.find(start="yesterday")
    assert "query start must be valid date" in raised.value.body["message"]


def test_backfill_find_with_an_unknown_initiator_is_a_bad_request(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.alerting.backfill.find(initiator="robot")
    assert raised.value.body["message"].startswith("[request query.initiator]: types that failed validation")


def test_create_with_an_id_already_taken_is_a_conflict_error(kibana):
    create_threshold_rule(kibana, id="fixed")
    with pytest.raises(ConflictError) as raised:
        create_threshold_rule(kibana, id="fixed")
    assert raised.value.body["message"] == "Saved object [alert/fixed] conflict"


def test_a_read_only_user_reads_rules_but_gets_a_403_for_every_change(kibana, reader_kibana):
    rule = create_threshold_rule(kibana)
    assert reader_kibana.alerting.rule.get(id=rule["id"]).body["id"] == rule["id"]
    assert reader_kibana.alerting.rule.find().body["total"] == 1
    assert reader_kibana.alerting.rule_types().body
    assert reader_kibana.alerting.backfill.find().body["total"] == 0
    changes = {
        "delete": lambda: reader_kibana.alerting.rule.delete(id=rule["id"]),
        "enable": lambda: reader_kibana.alerting.rule.enable(id=rule["id"]),
        "muteAll": lambda: reader_kibana.alerting.rule.mute_all(id=rule["id"]),
        "snooze": lambda: reader_kibana.alerting.rule.snooze(
            id=rule["id"], schedule={"custom": {"duration": "1h", "start": "2030-01-01T00:00:00.000Z"}}
        ),
    }
    for operation, change in changes.items():
        with pytest.raises(AuthorizationException) as raised:
            change()
        assert (
            raised.value.body["message"] == f'Unauthorized by "alerts" to {operation} ".index-threshold" rule'
        )


def test_unsnooze_of_an_unknown_schedule_is_a_bad_request_with_kibanas_message(kibana):
    rule = create_threshold_rule(kibana)
    with pytest.raises(BadRequestError) as raised:
        kibana.alerting.rule.unsnooze(rule_id=rule["id"], schedule_id="zzz")
    assert raised.value.body["message"] == "Rule has no snooze schedules."
    kibana.alerting.rule.snooze(
        id=rule["id"],
        schedule={
            "custom": {
                "duration": "1h",
                "start": "2030-01-01T00:00:00.000Z",
                "timezone": "Europe/Paris",
                "recurring": {"every": "1w", "occurrences": 3},
            }
        },
    )
    with pytest.raises(BadRequestError) as raised:
        kibana.alerting.rule.unsnooze(rule_id=rule["id"], schedule_id="zzz")
    assert raised.value.body["message"] == "Rule has no snooze schedule with id zzz."


def test_a_space_that_does_not_exist_is_the_clients_space_not_found_error(kibana):
    with pytest.raises(SpaceNotFoundError):
        kibana.alerting.rule.find(space_id="nowhere")


def test_backfill_of_an_unknown_or_disabled_rule_is_a_per_item_error(kibana):
    rule = create_threshold_rule(kibana, enabled=False)
    unknown, disabled = kibana.alerting.backfill.schedule(
        backfills=[{"rule_id": "nope", "ranges": [RANGE]}, {"rule_id": rule["id"], "ranges": [RANGE]}]
    ).body
    assert unknown["error"] == {
        "message": "Saved object [alert/nope] not found",
        "status": 404,
        "rule": {"id": "nope"},
    }
    assert disabled["error"]["message"] == f"Rule {rule['id']} is disabled"
    assert disabled["error"]["status"] == 400
