"""Snooze schedules: the public routes (8.19+), `is_snoozed_until` on get/find while a rule is snoozed
(absent otherwise), and rule runs that compute alerts but send nothing while snoozed (actions
delivered to a local HTTP server)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from actions import worker
from actions.models import Rule
from actions.rule_runner import run_rule
from actions.rule_snooze import custom_to_snooze, snoozed_until
from actions.rules import iso
from tests.actions.helpers import add_documents, threshold_rule_body


@pytest.fixture
def rule_id(api, hook):
    return api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]


def stamp(moment: datetime) -> str:
    return iso(moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def snooze(api, rule_id, custom):
    return api.post(
        f"/api/alerting/rule/{rule_id}/snooze_schedule", {"schedule": {"custom": custom}}, format="json"
    )


def until_of(rule_id: str) -> str | None:
    """When the stored rule is snoozed until, as Kibana's internal get shows `is_snoozed_until`."""
    moment = snoozed_until(Rule.objects.get(pk=rule_id))
    return iso(moment) if moment else None


def test_snoozing_answers_the_schedule_and_the_rule_is_snoozed_until_its_end(api, rule_id):
    start = datetime.now(UTC) - timedelta(minutes=5)
    response = snooze(api, rule_id, {"start": stamp(start), "duration": "1h"})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "schedule": {
            "id": body["schedule"]["id"],
            "custom": {"duration": "1h", "start": stamp(start), "timezone": "UTC"},
        }
    }
    until = stamp(start + timedelta(hours=1))
    assert until_of(rule_id) == until
    rule = api.get(f"/api/alerting/rule/{rule_id}").json()
    assert rule["is_snoozed_until"] == until
    assert not {"snooze_schedule", "active_snoozes"} & set(rule)
    (found,) = api.get("/api/alerting/rules/_find").json()["data"]
    assert found["is_snoozed_until"] == until and "snooze_schedule" not in found


def test_a_rule_whose_snooze_has_not_started_is_not_snoozed(api, rule_id):
    later = datetime.now(UTC) + timedelta(days=1)
    assert snooze(api, rule_id, {"start": stamp(later), "duration": "2h"}).status_code == 200
    assert until_of(rule_id) is None
    assert "is_snoozed_until" not in api.get(f"/api/alerting/rule/{rule_id}").json()


def test_a_recurring_snooze_is_active_during_todays_occurrence(api, rule_id):
    start = datetime.now(UTC) - timedelta(days=2, minutes=10)
    custom = {
        "start": stamp(start),
        "duration": "1h",
        "timezone": "UTC",
        "recurring": {"every": "1d", "occurrences": 5},
    }
    body = snooze(api, rule_id, custom).json()
    assert body["schedule"]["custom"] == {
        "duration": "1h",
        "start": stamp(start),
        "timezone": "UTC",
        "recurring": {"every": "1d", "occurrences": 5},
    }
    assert until_of(rule_id) == stamp(start + timedelta(days=2, hours=1))


def test_recurring_snoozes_keep_their_wall_clock_time_across_a_dst_change():
    # 09:00 in Paris every day: 08:00 UTC before the switch to summer time on 29 March, 07:00 after it.
    custom = {"start": "2026-03-27T08:00:00.000Z", "duration": "1h", "timezone": "Europe/Paris"}
    rule = Rule(snooze_schedule=[custom_to_snooze({**custom, "recurring": {"every": "1d"}}, "s1")])
    assert snoozed_until(rule, datetime(2026, 3, 28, 8, 30, tzinfo=UTC)) == datetime(
        2026, 3, 28, 9, 0, tzinfo=UTC
    )
    assert snoozed_until(rule, datetime(2026, 3, 30, 7, 30, tzinfo=UTC)) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )
    assert snoozed_until(rule, datetime(2026, 3, 30, 8, 30, tzinfo=UTC)) is None


def test_weekday_recurrences_and_occurrence_counts_limit_a_snooze():
    # Mondays and Wednesdays at 12:00 UTC for 3 occurrences: 2 Mar, 4 Mar, 9 Mar 2026.
    custom = {
        "start": "2026-03-02T12:00:00.000Z",
        "duration": "2h",
        "recurring": {"every": "1w", "onWeekDay": ["MO", "WE"], "occurrences": 3},
    }
    rule = Rule(snooze_schedule=[custom_to_snooze(custom, "s1")])
    assert snoozed_until(rule, datetime(2026, 3, 4, 13, 0, tzinfo=UTC)) == datetime(
        2026, 3, 4, 14, 0, tzinfo=UTC
    )
    assert snoozed_until(rule, datetime(2026, 3, 5, 13, 0, tzinfo=UTC)) is None  # a Thursday
    assert snoozed_until(rule, datetime(2026, 3, 9, 13, 0, tzinfo=UTC)) == datetime(
        2026, 3, 9, 14, 0, tzinfo=UTC
    )
    assert snoozed_until(rule, datetime(2026, 3, 11, 13, 0, tzinfo=UTC)) is None  # past the 3 occurrences


def test_a_snoozed_rule_computes_alerts_but_sends_nothing_until_unsnoozed(api, rule_id, httpserver):
    start = datetime.now(UTC) - timedelta(minutes=1)
    schedule_id = snooze(api, rule_id, {"start": stamp(start), "duration": "1h"}).json()["schedule"]["id"]
    add_documents("metrics", [{}] * 3)
    run_rule(rule_id)
    worker.run_pending()
    rule = Rule.objects.get(pk=rule_id)
    assert rule.last_run["alerts_count"]["active"] == 1 and rule.execution_status["status"] == "active"
    assert httpserver.log == []

    response = api.delete(f"/api/alerting/rule/{rule_id}/snooze_schedule/{schedule_id}")
    assert response.status_code == 204 and response.content == b""
    run_rule(rule_id)
    worker.run_pending()
    assert len(httpserver.log) == 1
    assert until_of(rule_id) is None


def test_actions_run_again_once_the_snooze_has_ended(api, rule_id, httpserver):
    start = datetime.now(UTC) - timedelta(minutes=1)
    snooze(api, rule_id, {"start": stamp(start), "duration": "10m"})
    add_documents("metrics", [{}] * 3)
    run_rule(rule_id, now=start + timedelta(minutes=5))
    worker.run_pending()
    assert httpserver.log == []
    add_documents("metrics", [{}] * 3, at=start + timedelta(minutes=11))
    run_rule(rule_id, now=start + timedelta(minutes=12))
    worker.run_pending()
    assert [json.loads(r.get_data(as_text=True))["rule"] for r, _ in httpserver.log] == ["cpu high"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "A schedule is required"),  # schema.object: an absent schedule is {}, as Kibana defaults it
        ({"schedule": {}}, "A schedule is required"),
        (
            {"schedule": {"custom": {"start": "2030-03-12T12:00:00Z", "duration": "1h"}}},
            "[request body.schedule.custom.start]: Invalid start date format: 2030-03-12T12:00:00Z. "
            "Use ISO 8601 YYYY-MM-DDTHH:mm:ss.sssZ",
        ),
        (
            {"schedule": {"custom": {"start": "soon", "duration": "1h"}}},
            "[request body.schedule.custom.start]: Invalid snooze start date: soon",
        ),
        (
            {"schedule": {"custom": {"start": "2030-03-12T12:00:00.000Z", "duration": "an hour"}}},
            "[request body.schedule.custom.duration]: Invalid schedule duration format: an hour",
        ),
        (
            {
                "schedule": {
                    "custom": {"start": "2030-03-12T12:00:00.000Z", "duration": "1h", "timezone": "Mars/Base"}
                }
            },
            "[request body.schedule.custom.timezone]: Invalid schedule timezone: Mars/Base",
        ),
        (
            {
                "schedule": {
                    "custom": {
                        "start": "2030-03-12T12:00:00.000Z",
                        "duration": "2d",
                        "recurring": {"every": "1d"},
                    }
                }
            },
            "[request body.schedule.custom]: Recurrence every 1d must be longer than the duration 2d.",
        ),
        (
            {
                "schedule": {
                    "custom": {
                        "start": "2030-03-12T12:00:00.000Z",
                        "duration": "1h",
                        "recurring": {"every": "1w", "end": "2031-01-01T00:00:00.000Z", "occurrences": 3},
                    }
                }
            },
            "[request body.schedule.custom]: Only one of 'end' or 'occurrences' can be set for recurring schedules.",
        ),
        (
            {
                "schedule": {
                    "custom": {
                        "start": "2030-03-12T12:00:00.000Z",
                        "duration": "1h",
                        "recurring": {"every": "1w", "onWeekDay": ["MO", "XX"]},
                    }
                }
            },
            "[request body.schedule.custom.recurring.onWeekDay]: Invalid onWeekDay values in recurring schedule: XX",
        ),
    ],
)
def test_a_bad_snooze_body_is_rejected_with_kibanas_message(api, rule_id, body, message):
    response = api.post(f"/api/alerting/rule/{rule_id}/snooze_schedule", body, format="json")
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}
    assert Rule.objects.get(pk=rule_id).snooze_schedule == []


def test_a_rule_takes_at_most_five_snooze_schedules(api, rule_id):
    custom = {"start": "2030-03-12T12:00:00.000Z", "duration": "1h"}
    for _ in range(5):
        assert snooze(api, rule_id, custom).status_code == 200
    response = snooze(api, rule_id, custom)
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Rule cannot have more than 5 snooze schedules",
    }


def test_unsnoozing_names_what_is_missing(api, rule_id):
    response = api.delete(f"/api/alerting/rule/{rule_id}/snooze_schedule/nope")
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Rule has no snooze schedules.",
    }
    snooze(api, rule_id, {"start": "2030-03-12T12:00:00.000Z", "duration": "1h"})
    response = api.delete(f"/api/alerting/rule/{rule_id}/snooze_schedule/nope")
    assert response.json()["message"] == "Rule has no snooze schedule with id nope."


def test_snooze_routes_answer_404_for_an_unknown_rule(api):
    custom = {"start": "2030-03-12T12:00:00.000Z", "duration": "1h"}
    response = snooze(api, "missing", custom)
    assert response.status_code == 404
    assert response.json()["message"] == "Saved object [alert/missing] not found"
    response = api.delete("/api/alerting/rule/missing/snooze_schedule/x")
    assert response.json()["message"] == "Saved object [alert/missing] not found"


def test_create_and_update_responses_carry_no_snooze_data(api, hook, rule_id):
    created = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()
    assert "is_snoozed_until" not in created
    body = threshold_rule_body(hook.id)
    for key in ("rule_type_id", "consumer"):
        body.pop(key)
    updated = api.put(f"/api/alerting/rule/{rule_id}", body, format="json").json()
    assert "is_snoozed_until" not in updated
