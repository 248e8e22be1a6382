"""Durations of any length: Kibana's duration syntax (`^[1-9][0-9]*[smhd]$`) sets no upper bound, but
a datetime cannot go past the year 9999. A rule scheduled every 999999999999999 days used to make the
worker's poller raise `OverflowError` on every round, so no rule and no queued action of any space
ran again; a per-action throttle that long failed the rule's every run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from actions import backfill, worker
from actions.models import ActionRun, Backfill, Rule
from actions.rule_runner import run_rule
from actions.rule_snooze import snoozed_until
from actions.rule_types.external import report_alerts
from actions.rules import create_rule
from tests.actions.helpers import threshold_rule_body
from tests.security.conftest import webhook

FOREVER = "999999999999999d"


@pytest.mark.django_db
def test_a_rule_scheduled_every_trillion_days_does_not_stop_the_poller_for_every_other_rule(
    api, default_space
):
    hook = webhook(default_space, "http://127.0.0.1:9/hook")
    normal = api.post("/api/alerting/rule", threshold_rule_body(hook.id, name="normal"), format="json")
    huge = api.post(
        "/api/alerting/rule", threshold_rule_body(hook.id, schedule={"interval": FOREVER}), format="json"
    )
    assert (normal.status_code, huge.status_code) == (200, 200)  # Kibana's syntax: any number of digits
    now = timezone.now()

    claimed = worker.claim_due_rules(now)

    assert sorted(claimed) == sorted([normal.json()["id"], huge.json()["id"]])
    assert Rule.objects.get(pk=normal.json()["id"]).next_run_at == now + timedelta(minutes=1)
    assert Rule.objects.get(pk=huge.json()["id"]).next_run_at.year > now.year + 900  # not in our lifetime


@pytest.mark.django_db
def test_a_rule_with_a_trillion_day_action_throttle_runs_and_sends_once(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook = webhook(default_space, httpserver.url_for("/hook"))
    frequency = {"summary": False, "notify_when": "onThrottleInterval", "throttle": FOREVER}
    body = {
        "name": "throttled",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "actions": [{"group": "critical", "id": hook.id, "params": {"body": "{}"}, "frequency": frequency}],
    }
    rule = create_rule(default_space, body, user="elastic")
    now = timezone.now()

    for minute in range(3):
        rule.refresh_from_db()
        report_alerts(rule, [{"action_group": "critical", "id": "host-1"}])
        Rule.objects.filter(pk=rule.pk).update(state=rule.state)
        run_rule(rule.id, now=now + timedelta(minutes=minute))
        rule.refresh_from_db()
        assert rule.execution_status["status"] == "active", rule.execution_status

    assert ActionRun.objects.count() == 1


def _stamp(moment) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.django_db
def test_a_backfill_of_millions_of_runs_is_refused_per_item_before_any_is_built(api, default_space):
    # A `1s` rule over the 90 days Kibana lets a backfill look back is 7.8 million runs per range,
    # and the ranges are not counted: a single request used to build them all in the web process.
    hook = webhook(default_space, "http://127.0.0.1:9/hook")
    fast = api.post(
        "/api/alerting/rule", threshold_rule_body(hook.id, schedule={"interval": "1s"}), format="json"
    )
    normal = api.post("/api/alerting/rule", threshold_rule_body(hook.id, name="normal"), format="json")
    now = timezone.now()
    days = [{"start": _stamp(now - timedelta(days=89)), "end": _stamp(now - timedelta(minutes=1))}]
    body = [
        {"rule_id": fast.json()["id"], "ranges": days * 10},
        {
            "rule_id": normal.json()["id"],
            "ranges": [{"start": days[0]["start"], "end": _stamp(now - timedelta(days=88))}],
        },
    ]

    response = api.post("/api/alerting/rules/backfill/_schedule", body, format="json")

    assert response.status_code == 200, response.content[:300]
    refused, accepted = response.json()
    assert refused == {
        "error": {
            "message": f"Backfill would schedule 76895400 runs; at most {backfill.MAX_BACKFILL_RUNS} are "
            "allowed in one request",
            "status": 400,
            "rule": {"id": fast.json()["id"], "name": "cpu high"},
        }
    }
    assert len(accepted["schedule"]) == 24 * 60
    assert Backfill.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "duration"),
    [("past", "99999999999999d"), ("past", "1h"), ("9999-12-31T23:00:00.000Z", "2h")],
    ids=["a trillion days", "an ordinary hour (control)", "an hour past the year 9999"],
)
def test_a_maintenance_window_of_any_length_is_created_never_a_500(api, start, duration):
    if start == "past":
        start = _stamp(timezone.now() - timedelta(minutes=1))
    body = {"title": "t", "schedule": {"custom": {"start": start, "duration": duration, "timezone": "UTC"}}}

    response = api.post("/api/maintenance_window", body, format="json")

    assert response.status_code == 200, response.content[:300]
    assert response.json()["schedule"]["custom"]["duration"] == duration  # the text is kept as sent
    assert api.get("/internal/alerting/rules/maintenance_window/_active").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("duration", ["1" + "0" * 30, "1e300"])
def test_the_internal_maintenance_window_route_takes_a_duration_of_any_size_never_a_500(api, duration):
    dtstart = _stamp(timezone.now() - timedelta(minutes=1))
    text = f'{{"title": "t", "duration": {duration}, "r_rule": {{"dtstart": "{dtstart}", "tzid": "UTC"}}}}'

    response = api.post("/internal/alerting/rules/maintenance_window", text, content_type="application/json")

    assert response.status_code == 200, response.content[:300]
    assert response.json()["status"] == "running"


@pytest.mark.django_db
@pytest.mark.parametrize("duration", ["99999999999999d", "1h"], ids=["a trillion days", "an hour (control)"])
def test_a_rule_snoozed_for_any_length_still_lists_reads_and_runs(api, default_space, duration):
    hook = webhook(default_space, "http://127.0.0.1:9/hook")
    snoozed = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]
    other = api.post("/api/alerting/rule", threshold_rule_body(hook.id, name="other"), format="json").json()[
        "id"
    ]
    custom = {"start": _stamp(timezone.now() - timedelta(minutes=1)), "duration": duration}
    created = api.post(
        f"/api/alerting/rule/{snoozed}/snooze_schedule", {"schedule": {"custom": custom}}, format="json"
    )
    assert created.status_code == 200, created.content[:300]

    found = api.get("/api/alerting/rules/_find")
    read = api.get(f"/api/alerting/rule/{snoozed}")
    run_rule(snoozed)

    assert found.status_code == 200, found.content[:300]  # one snooze used to make the space's list a 500
    assert sorted(r["id"] for r in found.json()["data"]) == sorted([snoozed, other])
    assert read.status_code == 200 and snoozed_until(Rule.objects.get(pk=snoozed)) is not None
    assert Rule.objects.get(pk=snoozed).execution_status["status"] == "ok"
