"""Maintenance windows: Kibana's public API (`/api/maintenance_window`, bodies from Kibana's docs)
and their effect on rule runs (alerts carry the window's id; their per-alert actions are not sent)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from actions import worker
from actions.models import ActionRun, Alert, MaintenanceWindow
from actions.rule_runner import run_rule
from actions.rules import create_rule
from connectors.models import SpacePrivilege
from tests.actions.helpers import add_documents, bodies, threshold_rule_body
from tests.conftest import basic_auth

# Kibana's documented example (get_maintenance_window_response.yaml), starting next week: a
# recurring window's events are generated up to a year from now.
NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).replace(hour=8, minute=0, second=0, microsecond=0)
WEEKLY = {
    "title": "Weekly Maintenance Window",
    "enabled": True,
    "schedule": {
        "custom": {
            "start": NEXT_WEEK.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "duration": "2h",
            "timezone": "Europe/Amsterdam",
            "recurring": {"every": "1w", "onWeekDay": ["MO", "WE"], "occurrences": 10},
        }
    },
    "scope": {"alerting": {"query": {"kql": 'kibana.alert.tags: "infra"'}}},
}


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window_body(start: datetime, duration: str = "10m", **extra) -> dict:
    return {"title": "deploy", "schedule": {"custom": {"start": stamp(start), "duration": duration}}, **extra}


def test_it_creates_a_window_and_answers_kibanas_object(api):
    response = api.post("/api/maintenance_window", WEEKLY, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "Weekly Maintenance Window"
    assert body["enabled"] is True
    assert body["status"] == "upcoming"
    assert body["schedule"] == WEEKLY["schedule"]
    assert body["scope"] == WEEKLY["scope"]
    assert body["created_by"] == "elastic" and body["updated_by"] == "elastic"
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert api.get(f"/api/maintenance_window/{body['id']}").json() == body
    window = MaintenanceWindow.objects.get(pk=body["id"])
    assert len(window.events) == 10  # `occurrences`
    first = datetime.fromisoformat(window.events[0]["gte"])
    assert NEXT_WEEK <= first < NEXT_WEEK + timedelta(days=7)
    amsterdam = ZoneInfo("Europe/Amsterdam")
    local = first.astimezone(amsterdam)
    assert local.strftime("%a") in ("Mon", "Wed")
    assert local.time() == NEXT_WEEK.astimezone(amsterdam).time()  # the start's wall-clock time
    assert datetime.fromisoformat(window.events[0]["lte"]) - first == timedelta(hours=2)


def test_enabled_defaults_to_true_and_scope_is_optional(api):
    body = api.post("/api/maintenance_window", window_body(timezone.now()), format="json").json()
    assert body["enabled"] is True and "scope" not in body
    assert body["status"] == "running"


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        (
            {"start": "2030-13-01T00:00:00.000Z", "duration": "1h"},
            "[request body.schedule.custom.start]: Invalid schedule start date: 2030-13-01T00:00:00.000Z",
        ),
        (
            {"start": "2030-03-01T00:00:00Z", "duration": "1h"},
            "[request body.schedule.custom.start]: Invalid schedule start date format: 2030-03-01T00:00:00Z. "
            "Use ISO 8601 YYYY-MM-DDTHH:mm:ss.sssZ",
        ),
        (
            {"start": "2030-03-01T00:00:00.000Z", "duration": "1x"},
            "[request body.schedule.custom.duration]: Invalid schedule duration format: 1x",
        ),
        (
            {"start": "2030-03-01T00:00:00.000Z", "duration": "1h", "timezone": "Mars/Olympus"},
            "[request body.schedule.custom.timezone]: Invalid schedule timezone: Mars/Olympus",
        ),
        (
            {"start": "2030-03-01T00:00:00.000Z", "duration": "1h", "recurring": {"every": "1h"}},
            "[request body.schedule.custom.recurring.every]: 'every' string of recurring schedule is not valid : 1h",
        ),
        (
            {"start": "2030-03-01T00:00:00.000Z", "duration": "1h", "recurring": {"onWeekDay": ["XX"]}},
            "[request body.schedule.custom.recurring.onWeekDay]: Invalid onWeekDay values in recurring schedule: XX",
        ),
        (
            {"start": "2030-03-01T00:00:00.000Z", "duration": "2d", "recurring": {"every": "1d"}},
            "[request body.schedule.custom]: Recurrence every 1d must be longer than the duration 2d.",
        ),
        (
            {
                "start": "2030-03-01T00:00:00.000Z",
                "duration": "1h",
                "recurring": {"every": "1d", "end": "2031-01-01T00:00:00.000Z", "occurrences": 3},
            },
            "[request body.schedule.custom]: Only one of 'end' or 'occurrences' can be set for recurring schedules.",
        ),
    ],
)
def test_schedule_validation_uses_kibanas_messages(api, custom, message):
    response = api.post(
        "/api/maintenance_window", {"title": "t", "schedule": {"custom": custom}}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


def test_a_missing_title_and_a_bad_kql_scope_are_400s(api):
    missing = api.post("/api/maintenance_window", {"schedule": WEEKLY["schedule"]}, format="json")
    assert (
        missing.json()["message"]
        == "[request body.title]: expected value of type [string] but got [undefined]"
    )
    bad = api.post(
        "/api/maintenance_window",
        {**WEEKLY, "scope": {"alerting": {"query": {"kql": "tags: ("}}}},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("Error validating create maintenance window data - ")


def test_patch_changes_only_what_is_sent_and_cannot_remove_the_scope(api):
    created = api.post("/api/maintenance_window", WEEKLY, format="json").json()
    response = api.patch(
        f"/api/maintenance_window/{created['id']}",
        {"title": "renamed", "scope": {"alerting": {"query": {"kql": ""}}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "renamed"
    assert body["schedule"] == WEEKLY["schedule"] and body["scope"] == WEEKLY["scope"]
    disabled = api.patch(f"/api/maintenance_window/{created['id']}", {"enabled": False}, format="json").json()
    assert disabled["status"] == "disabled"


def test_archive_unarchive_and_editing_an_archived_window(api):
    created = api.post("/api/maintenance_window", WEEKLY, format="json").json()
    archived = api.post(f"/api/maintenance_window/{created['id']}/_archive")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    refused = api.patch(f"/api/maintenance_window/{created['id']}", {"title": "x"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        f"Failed to update maintenance window by id: {created['id']}, Error: Cannot edit archived maintenance windows"
    )
    unarchived = api.post(f"/api/maintenance_window/{created['id']}/_unarchive").json()
    assert unarchived["status"] == "upcoming"


def test_delete_answers_204_then_404(api):
    created = api.post("/api/maintenance_window", WEEKLY, format="json").json()
    assert api.delete(f"/api/maintenance_window/{created['id']}").status_code == 204
    gone = api.get(f"/api/maintenance_window/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["message"] == f"Saved object [maintenance-window/{created['id']}] not found"


def test_find_filters_by_status_pages_and_uses_kibanas_key(api):
    api.post("/api/maintenance_window", WEEKLY, format="json")
    running = api.post("/api/maintenance_window", window_body(timezone.now()), format="json").json()
    everything = api.get("/api/maintenance_window/_find").json()
    assert everything["total"] == 2 and everything["page"] == 1 and everything["per_page"] == 10
    assert len(everything["maintenanceWindows"]) == 2
    only_running = api.get("/api/maintenance_window/_find?status=running").json()
    assert [w["id"] for w in only_running["maintenanceWindows"]] == [running["id"]]
    both = api.get('/api/maintenance_window/_find?status=["running","upcoming"]').json()
    assert both["total"] == 2
    assert api.get("/api/maintenance_window/_find?title=Weekly").json()["total"] == 1
    too_big = api.get("/api/maintenance_window/_find?per_page=101")
    assert too_big.status_code == 400
    assert (
        too_big.json()["message"] == "[request query.per_page]: Value must be equal to or lower than [100]."
    )


def test_find_refuses_a_repeated_single_valued_key_as_config_schema_does(api):
    # `title`, `created_by` (schema.string) and `page`/`per_page` (schema.number): a repeated query key
    # reaches the schema as an array.
    title = api.get("/api/maintenance_window/_find?title=a&title=b")
    page = api.get("/api/maintenance_window/_find?page=1&page=2")

    assert title.status_code == 400
    assert title.json()["message"] == "[request query.title]: expected value of type [string] but got [Array]"
    assert page.json()["message"] == "[request query.page]: expected value of type [number] but got [Array]"


def test_windows_live_in_their_space(api, other_space):
    created = api.post("/s/marketing/api/maintenance_window", WEEKLY, format="json").json()
    assert api.get(f"/api/maintenance_window/{created['id']}").status_code == 404
    assert api.get(f"/s/marketing/api/maintenance_window/{created['id']}").status_code == 200
    assert api.get("/api/maintenance_window/_find").json()["total"] == 0


def test_a_read_only_user_can_read_but_not_write(api, default_space, django_user_model):
    from rest_framework.test import APIClient

    reader = django_user_model.objects.create_user("reader", password="reader-password-1")
    SpacePrivilege.objects.create(user=reader, space=default_space, privilege="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("reader", "reader-password-1"), HTTP_KBN_XSRF="true")
    created = api.post("/api/maintenance_window", WEEKLY, format="json").json()
    assert client.get(f"/api/maintenance_window/{created['id']}").status_code == 200
    denied = client.post("/api/maintenance_window", WEEKLY, format="json")
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        "API [POST /api/maintenance_window] is unauthorized for user, "
        "this action is granted by the Kibana privileges [write-maintenance-window]"
    )


def test_the_403_names_the_path_without_the_space_prefix_and_with_the_query_as_kibana_does(
    api, other_space, django_user_model
):
    # Kibana's route authorization prints `request.url.pathname + search` after the spaces plugin
    # has rewritten `/s/{space}` away (FTR find_maintenance_windows: `space_1_all at space2`).
    from rest_framework.test import APIClient

    django_user_model.objects.create_user("stranger", password="stranger-password-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("stranger", "stranger-password-1"), HTTP_KBN_XSRF="true")
    found = client.get(f"/s/{other_space.id}/api/maintenance_window/_find?page=1&per_page=1")
    assert found.status_code == 403
    assert found.json()["message"] == (
        "API [GET /api/maintenance_window/_find?page=1&per_page=1] is unauthorized for user, "
        "this action is granted by the Kibana privileges [read-maintenance-window]"
    )
    deleted = client.delete(f"/s/{other_space.id}/api/maintenance_window/abc")
    assert deleted.json()["message"] == (
        "API [DELETE /api/maintenance_window/abc] is unauthorized for user, "
        "this action is granted by the Kibana privileges [write-maintenance-window]"
    )


def test_writes_need_the_kbn_xsrf_header(api):
    api.credentials(HTTP_AUTHORIZATION=basic_auth("elastic", "changeme-please"))
    response = api.post("/api/maintenance_window", WEEKLY, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Request must contain a kbn-xsrf header."


# ---- effect on rule runs ---------------------------------------------------------------------------


def fire(rule, at):
    run_rule(rule.id, now=at)
    worker.run_pending()
    rule.refresh_from_db()


def test_alerts_raised_during_a_window_carry_its_id_and_send_nothing(api, default_space, hook, httpserver):
    now = timezone.now()
    window = api.post(
        "/api/maintenance_window", window_body(now - timedelta(minutes=1)), format="json"
    ).json()
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))

    fire(rule, now)

    alert = Alert.objects.get(rule=rule)
    assert alert.maintenance_window_ids == [window["id"]]
    assert ActionRun.objects.count() == 0 and httpserver.log == []
    assert rule.execution_status["status"] == "active"  # the alert is still computed and counted


def test_notifications_resume_after_the_window_ends(api, default_space, hook, httpserver):
    now = timezone.now()
    api.post("/api/maintenance_window", window_body(now - timedelta(minutes=1), "5m"), format="json")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    assert httpserver.log == []

    later = now + timedelta(minutes=6)  # the window ended at now + 4m
    add_documents("metrics", [{}] * 3, at=later - timedelta(seconds=30))
    fire(rule, later)

    assert Alert.objects.get(rule=rule).maintenance_window_ids == []
    assert len(bodies(httpserver)) == 1


def test_an_alert_active_before_the_window_keeps_notifying(api, default_space, hook, httpserver):
    now = timezone.now()
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    api.post("/api/maintenance_window", window_body(now), format="json")
    add_documents("metrics", [{}] * 3, at=now + timedelta(minutes=1))
    fire(rule, now + timedelta(minutes=1, seconds=30))
    assert Alert.objects.get(rule=rule).maintenance_window_ids == []
    assert len(httpserver.log) == 2


def test_a_scoped_window_covers_only_matching_alerts(api, default_space, hook, httpserver):
    now = timezone.now()
    api.post(
        "/api/maintenance_window",
        window_body(now - timedelta(minutes=1), scope={"alerting": {"query": {"kql": 'tags: "infra"'}}}),
        format="json",
    )
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")  # tagged "cpu"
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    assert Alert.objects.get(rule=rule).maintenance_window_ids == []
    assert len(httpserver.log) == 1


def test_a_disabled_or_archived_window_suppresses_nothing(api, default_space, hook, httpserver):
    now = timezone.now()
    disabled = window_body(now - timedelta(minutes=1), enabled=False)
    api.post("/api/maintenance_window", disabled, format="json")
    archived = api.post(
        "/api/maintenance_window", window_body(now - timedelta(minutes=1)), format="json"
    ).json()
    api.post(f"/api/maintenance_window/{archived['id']}/_archive")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now + timedelta(seconds=1))
    assert Alert.objects.get(rule=rule).maintenance_window_ids == []
    assert len(httpserver.log) == 1


def test_a_window_in_another_space_does_not_apply(api, default_space, other_space, hook, httpserver):
    now = timezone.now()
    api.post("/s/marketing/api/maintenance_window", window_body(now - timedelta(minutes=1)), format="json")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    assert len(httpserver.log) == 1


def test_summary_actions_leave_out_alerts_in_a_window(api, default_space, hook, httpserver):
    now = timezone.now()
    api.post("/api/maintenance_window", window_body(now - timedelta(minutes=1)), format="json")
    frequency = {"summary": True, "notify_when": "onActiveAlert", "throttle": None}
    rule = create_rule(default_space, threshold_rule_body(hook.id, frequency=frequency), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    assert httpserver.log == []  # the only alert is in the window: an empty summary is not sent


def test_the_rule_execution_event_lists_the_running_windows(api, default_space, hook):
    from eventlog.models import Event

    now = timezone.now()
    window = api.post(
        "/api/maintenance_window", window_body(now - timedelta(minutes=1)), format="json"
    ).json()
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    fire(rule, now)
    event = Event.objects.get(provider="alerting", action="execute")
    assert event.document["kibana"]["alert"]["maintenance_window_ids"] == [window["id"]]
