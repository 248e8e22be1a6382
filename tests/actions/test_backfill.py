"""The backfill API (Kibana 9.4 `/api/alerting/rules/backfill/*`): schedule a rule over past
windows, read, find and delete; index threshold runs replay the local documents."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from actions import backfill, worker
from actions.models import ActionRun, Backfill, Rule
from actions.rules import create_rule
from eventlog.models import Event
from tests.actions.helpers import add_documents, bodies, threshold_rule_body


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_backfill_runs_the_rule_over_past_windows_and_sends_its_actions(
    api, default_space, hook, httpserver
):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now().replace(microsecond=0) - timedelta(days=2)
    add_documents("metrics", [{}] * 3, at=start + timedelta(minutes=2))  # only the first runs see them
    body = [
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=10))}]}
    ]

    response = api.post("/api/alerting/rules/backfill/_schedule", body, format="json")

    assert response.status_code == 200, response.json()
    (created,) = response.json()
    assert created["status"] == "pending" and created["space_id"] == "default"
    assert created["rule"]["id"] == rule.id and created["rule"]["rule_type_id"] == ".index-threshold"
    assert created["duration"] == "1m" and created["initiator"] == "user" and created["enabled"] is True
    assert [e["run_at"] for e in created["schedule"]][:2] == [
        stamp(start + timedelta(minutes=1)),
        stamp(start + timedelta(minutes=2)),
    ]
    assert len(created["schedule"]) == 10

    done = backfill.run_backfill(created["id"])
    worker.run_pending()

    assert done.status == "complete"
    assert {e["status"] for e in done.schedule} == {"complete"}
    # The documents at start+2m are inside the 5m window of the runs at start+2m .. start+6m.
    assert ActionRun.objects.filter(rule_id=rule.id).count() == 5
    assert len(bodies(httpserver)) == 5
    assert Event.objects.filter(provider="alerting", action="execute-backfill").count() == 10
    rule.refresh_from_db()
    assert rule.alerts.count() == 0  # the rule's own alert state is untouched
    fetched = api.get(f"/api/alerting/rules/backfill/{created['id']}").json()
    assert fetched["status"] == "complete"


def test_backfill_without_run_actions_sends_nothing(api, default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=1)
    add_documents("metrics", [{}] * 3, at=start + timedelta(minutes=1))
    body = [
        {
            "rule_id": rule.id,
            "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=3))}],
            "run_actions": False,
        }
    ]
    (created,) = api.post("/api/alerting/rules/backfill/_schedule", body, format="json").json()
    backfill.run_backfill(created["id"])
    assert ActionRun.objects.count() == 0


def test_schedule_answers_per_item_errors_in_order(api, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    disabled = create_rule(default_space, threshold_rule_body(hook.id, enabled=False), user="elastic")
    external = create_rule(
        default_space,
        {"name": "ext", "rule_type_id": ".external", "consumer": "alerts", "schedule": {"interval": "1m"}},
    )
    start = timezone.now() - timedelta(hours=2)
    ranges = [{"start": stamp(start), "end": stamp(start + timedelta(minutes=5))}]
    body = [{"rule_id": rid, "ranges": ranges} for rid in ("missing", disabled.id, external.id, rule.id)]
    results = api.post("/api/alerting/rules/backfill/_schedule", body, format="json").json()
    assert results[0] == {
        "error": {
            "message": "Saved object [alert/missing] not found",
            "status": 404,
            "rule": {"id": "missing"},
        }
    }
    assert results[1]["error"]["message"] == f"Rule {disabled.id} is disabled"
    assert results[2]["error"]["message"] == f'Rule type ".external" for rule {external.id} is not supported'
    assert results[3]["rule"]["id"] == rule.id
    assert Backfill.objects.count() == 1


def test_schedule_validates_ranges_with_kibanas_messages(api, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    now = timezone.now()

    def attempt(start, end):
        body = [{"rule_id": rule.id, "ranges": [{"start": start, "end": end}]}]
        response = api.post("/api/alerting/rules/backfill/_schedule", body, format="json")
        assert response.status_code == 400
        return response.json()["message"]

    assert attempt(stamp(now - timedelta(days=91)), stamp(now - timedelta(days=90, hours=23))) == (
        "[request body.0]: Backfill cannot look back more than 90 days"
    )
    assert attempt("yesterday", stamp(now)) == "[request body.0]: Backfill start must be valid date"
    assert attempt(stamp(now - timedelta(hours=1)), stamp(now - timedelta(hours=2))) == (
        "[request body.0]: Backfill end must be greater than backfill start"
    )
    assert attempt(stamp(now - timedelta(hours=1)), stamp(now + timedelta(hours=1))) == (
        "[request body.0]: Backfill cannot be scheduled for the future"
    )
    empty = api.post("/api/alerting/rules/backfill/_schedule", [], format="json")
    assert empty.json()["message"] == "[request body]: array size is [0], but cannot be smaller than [1]"
    too_many = [{"rule_id": rule.id, "ranges": []}] * 101
    response = api.post("/api/alerting/rules/backfill/_schedule", too_many, format="json")
    assert (
        response.json()["message"] == "[request body]: array size is [101], but cannot be greater than [100]"
    )


def test_a_bad_range_is_reported_under_its_items_index_with_only_the_first_problem_of_each_range(
    api, default_space, hook
):
    # Kibana: an object-level `validate` on each item (`[request body.<i>]`), and
    # validateBackfillSchedule returns the first problem of a range; the item's ranges' problems
    # are joined with a newline (FTR schedule_backfill: `[request body.0]: Backfill ...`).
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    now = timezone.now()
    good = {"start": stamp(now - timedelta(hours=2)), "end": stamp(now - timedelta(hours=1))}
    ancient_and_reversed = {"start": "2020-01-02T00:00:00.000Z", "end": "2020-01-01T00:00:00.000Z"}
    reversed_recent = {"start": stamp(now - timedelta(hours=1)), "end": stamp(now - timedelta(hours=2))}
    body = [
        {"rule_id": rule.id, "ranges": [good]},
        {"rule_id": rule.id, "ranges": [ancient_and_reversed, good, reversed_recent]},
    ]
    response = api.post("/api/alerting/rules/backfill/_schedule", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "[request body.1]: Backfill cannot look back more than 90 days\n"
        "Backfill end must be greater than backfill start"
    )
    assert not Backfill.objects.exists()


def test_the_internal_backfill_routes_are_the_public_ones_twins(api, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=2)
    body = [
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=5))}]}
    ]
    scheduled = api.post("/internal/alerting/rules/backfill/_schedule", body, format="json")
    assert scheduled.status_code == 200, scheduled.json()
    (created,) = scheduled.json()
    found = api.post(f"/internal/alerting/rules/backfill/_find?rule_ids={rule.id}").json()
    assert [b["id"] for b in found["data"]] == [created["id"]]
    assert api.get(f"/internal/alerting/rules/backfill/{created['id']}").json() == created
    assert api.get(f"/s/marketing/internal/alerting/rules/backfill/{created['id']}").status_code == 404
    assert api.delete(f"/internal/alerting/rules/backfill/{created['id']}").status_code == 204
    assert api.get(f"/api/alerting/rules/backfill/{created['id']}").status_code == 404


def test_find_get_and_delete(api, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=2)
    body = [
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=5))}]}
    ]
    (created,) = api.post("/api/alerting/rules/backfill/_schedule", body, format="json").json()
    found = api.post(f"/api/alerting/rules/backfill/_find?rule_ids={rule.id}").json()
    assert found["total"] == 1 and found["data"][0]["id"] == created["id"]
    assert found["page"] == 1 and found["per_page"] == 10
    assert api.post("/api/alerting/rules/backfill/_find?rule_ids=other").json()["total"] == 0
    bad = api.post("/api/alerting/rules/backfill/_find?start=soon")
    assert (
        bad.status_code == 400
        and bad.json()["message"] == "[request query]: [start]: query start must be valid date"
    )
    assert api.get(f"/s/marketing/api/alerting/rules/backfill/{created['id']}").status_code == 404
    assert api.delete(f"/api/alerting/rules/backfill/{created['id']}").status_code == 204
    gone = api.get(f"/api/alerting/rules/backfill/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["message"] == (
        f"Failed to get backfill by id: {created['id']}: Saved object [ad_hoc_run_params/{created['id']}] not found"
    )


def test_get_and_delete_answer_kibanas_failed_by_id_messages(api, default_space, other_space, hook):
    # Kibana's getBackfill/deleteBackfill: the saved object is read first (404 for everyone), then
    # the rule type is authorized; both errors are prefixed `Failed to <op> backfill by id: <id>: `
    # (FTR get_backfill.ts / delete_backfill.ts).
    from rest_framework.test import APIClient

    from connectors.models import SpacePrivilege
    from tests.conftest import basic_auth

    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=2)
    body = [
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=5))}]}
    ]
    (created,) = api.post("/api/alerting/rules/backfill/_schedule", body, format="json").json()
    backfill_id = created["id"]

    missing = api.delete("/api/alerting/rules/backfill/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["message"] == (
        "Failed to delete backfill by id: does-not-exist: "
        "Saved object [ad_hoc_run_params/does-not-exist] not found"
    )
    elsewhere = api.get(f"/s/{other_space.id}/api/alerting/rules/backfill/{backfill_id}")
    assert elsewhere.json()["message"] == (
        f"Failed to get backfill by id: {backfill_id}: Saved object [ad_hoc_run_params/{backfill_id}] not found"
    )

    from django.contrib.auth.models import User

    outsider = User.objects.create_user("outsider", password="outsider-password-1")
    SpacePrivilege.objects.create(user=outsider, space=other_space, privilege="all")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("outsider", "outsider-password-1"), HTTP_KBN_XSRF="true")
    denied = client.get(f"/api/alerting/rules/backfill/{backfill_id}")
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        f'Failed to get backfill by id: {backfill_id}: Unauthorized by "{rule.consumer}" to getBackfill '
        f'"{rule.rule_type_id}" rule'
    )
    not_deleted = client.delete(f"/api/alerting/rules/backfill/{backfill_id}")
    assert not_deleted.json()["message"] == (
        f'Failed to delete backfill by id: {backfill_id}: Unauthorized by "{rule.consumer}" to deleteBackfill '
        f'"{rule.rule_type_id}" rule'
    )
    assert Backfill.objects.filter(pk=backfill_id).exists()


def test_schedule_and_find_refuse_with_kibanas_messages(api, default_space, other_space, hook):
    # FTR schedule_backfill.ts: no privilege in the space -> the rules find filter's 403; read only
    # -> the rule's scheduleBackfill 403. findBackfill wraps the find filter's 403 as
    # `Failed to find backfills: ...` (find_backfill.ts).
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from connectors.models import SpacePrivilege
    from tests.conftest import basic_auth

    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=2)
    body = [
        {
            "rule_id": "no-such-rule",
            "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(hours=1))}],
        },
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(hours=1))}]},
    ]

    def client(name, privilege):
        user = User.objects.create_user(name, password=f"{name}-password-1")
        if privilege:
            SpacePrivilege.objects.create(user=user, space=default_space, privilege=privilege)
        result = APIClient()
        result.credentials(HTTP_AUTHORIZATION=basic_auth(name, f"{name}-password-1"), HTTP_KBN_XSRF="true")
        return result

    nobody, reader = client("nobody", None), client("reader", "read")

    assert nobody.post("/api/alerting/rules/backfill/_schedule", body, format="json").json()["message"] == (
        "Unauthorized to find rules for any rule types"
    )
    denied = reader.post("/api/alerting/rules/backfill/_schedule", body, format="json")
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        f'Unauthorized by "{rule.consumer}" to scheduleBackfill "{rule.rule_type_id}" rule'
    )
    found = nobody.post("/api/alerting/rules/backfill/_find")
    assert found.status_code == 403
    assert (
        found.json()["message"] == "Failed to find backfills: Unauthorized to find rules for any rule types"
    )
    assert not Backfill.objects.exists()


def test_find_filters_by_initiator_and_every_backfill_here_is_a_users(api, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=2)
    body = [
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=5))}]}
    ]
    (created,) = api.post("/api/alerting/rules/backfill/_schedule", body, format="json").json()
    assert created["initiator"] == "user"
    by_user = api.post("/api/alerting/rules/backfill/_find?initiator=user").json()
    assert [b["id"] for b in by_user["data"]] == [created["id"]]
    by_system = api.post("/api/alerting/rules/backfill/_find?initiator=system").json()
    assert by_system["total"] == 0 and by_system["data"] == []
    bad = api.post("/api/alerting/rules/backfill/_find?initiator=robot")
    assert bad.status_code == 400
    assert bad.json()["message"] == (
        "[request query.initiator]: types that failed validation:\n"
        "- [request query.initiator.0]: expected value to equal [user]\n"
        "- [request query.initiator.1]: expected value to equal [system]"
    )


def test_deleting_a_rule_deletes_its_backfills(api, default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    start = timezone.now() - timedelta(hours=2)
    body = [
        {"rule_id": rule.id, "ranges": [{"start": stamp(start), "end": stamp(start + timedelta(minutes=5))}]}
    ]
    api.post("/api/alerting/rules/backfill/_schedule", body, format="json")
    Rule.objects.filter(pk=rule.pk).delete()
    assert Backfill.objects.count() == 0
