"""Kibana's rule API: routes, bodies, responses and exact error messages."""

import pytest
from django.contrib.auth.models import User

from actions.models import Alert, Rule
from connectors.models import SpacePrivilege
from tests.actions.helpers import make_webhook, threshold_rule_body
from tests.conftest import basic_auth


@pytest.fixture
def hook(default_space):
    return make_webhook(default_space, "http://127.0.0.1:9/hook")


def test_it_creates_a_rule_and_answers_kibanas_rule_object(api, hook):
    response = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["name"] == "cpu high"
    assert body["rule_type_id"] == ".index-threshold"
    assert body["enabled"] is True
    assert body["scheduled_task_id"] == body["id"]
    assert body["execution_status"]["status"] == "pending"
    assert body["params"]["groupBy"] == "all"  # defaults are written back
    assert body["actions"][0]["connector_type_id"] == ".webhook"
    assert body["actions"][0]["uuid"]
    assert body["notify_when"] is None and body["throttle"] is None
    assert body["mute_all"] is False and body["muted_alert_ids"] == []
    assert body["revision"] == 0 and body["running"] is False
    assert body["created_by"] == "elastic" and body["api_key_owner"] == "elastic"
    assert api.get(f"/api/alerting/rule/{body['id']}").json()["id"] == body["id"]


def test_a_disabled_rule_has_no_scheduled_task(api, hook):
    body = api.post("/api/alerting/rule", threshold_rule_body(hook.id, enabled=False), format="json").json()
    assert "scheduled_task_id" not in body


def test_create_with_a_uuid_id_conflicts_on_reuse(api, hook):
    rule_id = "2a9ab3c0-7f1e-4d2b-9a3c-1f2e3d4c5b6a"
    assert (
        api.post(f"/api/alerting/rule/{rule_id}", threshold_rule_body(hook.id), format="json").status_code
        == 200
    )
    again = api.post(f"/api/alerting/rule/{rule_id}", threshold_rule_body(hook.id), format="json")
    assert again.status_code == 409
    assert again.json()["message"] == f"Saved object [alert/{rule_id}] conflict"


def test_a_predefined_id_need_not_be_a_uuid_as_in_kibana_9(api, hook):
    response = api.post("/api/alerting/rule/my-rule", threshold_rule_body(hook.id), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == "my-rule"
    assert api.get("/api/alerting/rule/my-rule").json()["name"] == "cpu high"


def test_a_predefined_id_is_unique_across_spaces(api, hook, other_space):
    make_webhook(other_space, "http://127.0.0.1:9/hook", connector_id=hook.id + "-m")
    assert (
        api.post("/api/alerting/rule/my-rule", threshold_rule_body(hook.id), format="json").status_code == 200
    )
    elsewhere = api.post(
        "/s/marketing/api/alerting/rule/my-rule", threshold_rule_body(hook.id + "-m"), format="json"
    )
    assert elsewhere.status_code == 409
    assert elsewhere.json() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "Saved object [alert/my-rule] conflict",
    }


def test_a_predefined_id_longer_than_the_stored_limit_is_a_400(api, hook):
    response = api.post(f"/api/alerting/rule/{'r' * 65}", threshold_rule_body(hook.id), format="json")
    assert response.status_code == 400
    assert "maximum length of [64]" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.pop("name"), "[request body.name]: expected value of type [string] but got [undefined]"),
        (
            lambda b: b["schedule"].update(interval="10x"),
            "[request body.schedule.interval]: string is not a valid duration: 10x",
        ),
        (
            lambda b: b["schedule"].update(interval="0s"),
            "[request body.schedule.interval]: string is not a valid duration: 0s",
        ),
        (
            lambda b: b["schedule"].update(interval="1m\n"),
            "[request body.schedule.interval]: string is not a valid duration: 1m\n",
        ),
        (lambda b: b.update(rule_type_id="nope"), 'Rule type "nope" is not registered.'),
        (lambda b: b.update(foo=1), "[request body.foo]: definition for this key is missing"),
        (lambda b: b["actions"][0].pop("group"), None),
        (
            lambda b: b["params"].update(aggType="avg"),
            'params invalid: [aggField]: must have a value when [aggType] is "avg"',
        ),
        (
            lambda b: b["params"].update(timeWindowUnit="x"),
            'params invalid: [timeWindowUnit]: invalid timeWindowUnit: "x"',
        ),
        (
            lambda b: b["params"].update(threshold=[0, 1, 2]),
            "params invalid: [threshold]: array size is [3], but cannot be greater than [2]",
        ),
        (
            lambda b: b["params"].update(thresholdComparator="between"),
            'params invalid: [threshold]: must have two elements for the "between" comparator',
        ),
        (
            lambda b: b["params"].update(groupBy="top"),
            "params invalid: [termField]: termField required when [groupBy] is top",
        ),
        (
            lambda b: b["params"].pop("index"),
            "params invalid: [index]: expected at least one defined value but got [undefined]",
        ),
        (
            lambda b: b["actions"][0].update(group="default"),
            "Failed to validate actions due to the following error: Invalid action groups: default",
        ),
        (
            lambda b: b.update(notify_when="onActiveAlert"),
            "Failed to validate actions due to the following error: Cannot specify per-action frequency params "
            "when notify_when or throttle are defined at the rule level: threshold met",
        ),
        (
            lambda b: b["actions"][0].pop("frequency"),
            "Failed to validate actions due to the following error: Actions missing frequency parameters: threshold met",
        ),
        (
            lambda b: b["actions"][0].update(
                frequency={"summary": False, "notify_when": "onThrottleInterval", "throttle": "1s"}
            ),
            "Failed to validate actions due to the following error: Action frequency cannot be shorter than the "
            "schedule interval of 1m: threshold met (1s)",
        ),
        (
            lambda b: b.update(notify_when="sometimes"),
            "[request body.notify_when]: string is not a valid RuleNotifyWhenType: sometimes",
        ),
    ],
)
def test_it_rejects_bad_bodies_with_kibanas_messages(api, hook, change, message):
    body = threshold_rule_body(hook.id)
    change(body)
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 400
    expected = message or f"Group is not defined in action {hook.id}"
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": expected}
    assert not Rule.objects.exists()


def test_an_unknown_connector_fails_with_the_load_message(api, hook):
    response = api.post("/api/alerting/rule", threshold_rule_body("nope-123"), format="json")
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "Failed to load action nope-123 (404): Saved object [action/nope-123] not found"
    )


def test_several_action_problems_are_reported_together(api, hook):
    hook.is_missing_secrets = True
    hook.save()
    body = threshold_rule_body(hook.id)
    body["actions"][0]["group"] = "default"
    message = api.post("/api/alerting/rule", body, format="json").json()["message"]
    assert message == (
        "Failed to validate actions due to the following 2 errors:\n"
        "- Invalid connectors: Hook\n- Invalid action groups: default"
    )


def test_update_replaces_the_definition_and_refuses_fixed_fields(api, hook):
    rule = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()
    body = {k: v for k, v in threshold_rule_body(hook.id).items() if k not in ("rule_type_id", "consumer")}
    body["name"] = "renamed"
    body["schedule"] = {"interval": "5m"}
    response = api.put(f"/api/alerting/rule/{rule['id']}", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "renamed"
    assert response.json()["revision"] == 1
    bad = api.put(f"/api/alerting/rule/{rule['id']}", {**body, "rule_type_id": ".x"}, format="json")
    assert bad.json()["message"] == "[request body.rule_type_id]: definition for this key is missing"


def test_unknown_rules_are_not_found_on_every_route(api):
    rid = "0b0b0b0b-0000-4000-8000-000000000000"
    for method, path in [
        ("get", f"/api/alerting/rule/{rid}"),
        ("delete", f"/api/alerting/rule/{rid}"),
        ("post", f"/api/alerting/rule/{rid}/_enable"),
        ("post", f"/api/alerting/rule/{rid}/_disable"),
        ("post", f"/api/alerting/rule/{rid}/_mute_all"),
        ("post", f"/api/alerting/rule/{rid}/_unmute_all"),
        ("post", f"/api/alerting/rule/{rid}/alert/x/_mute"),
        ("post", f"/internal/alerting/rule/{rid}/_run_soon"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == 404, path
        assert response.json()["message"] == f"Saved object [alert/{rid}] not found"


def test_enable_disable_mute_and_delete_answer_204(api, hook):
    rid = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]
    for suffix in ("_disable", "_enable", "_mute_all", "_unmute_all"):
        assert api.post(f"/api/alerting/rule/{rid}/{suffix}").status_code == 204
    Alert.objects.create(rule_id=rid, alert_id="host-1")
    assert api.post(f"/api/alerting/rule/{rid}/alert/host-1/_mute").status_code == 204
    body = api.get(f"/api/alerting/rule/{rid}").json()
    assert body["muted_alert_ids"] == ["host-1"]
    assert api.post(f"/api/alerting/rule/{rid}/alert/host-1/_unmute").status_code == 204
    assert api.delete(f"/api/alerting/rule/{rid}").status_code == 204
    assert not Rule.objects.filter(pk=rid).exists()


def test_run_soon_is_internal_and_says_when_the_rule_is_disabled(api, hook):
    rid = api.post("/api/alerting/rule", threshold_rule_body(hook.id, enabled=False), format="json").json()[
        "id"
    ]
    assert api.post(f"/api/alerting/rule/{rid}/_run_soon").status_code == 404
    response = api.post(f"/internal/alerting/rule/{rid}/_run_soon")
    assert response.status_code == 200
    assert response.content.decode() == "Error running rule: rule is disabled"
    api.post(f"/api/alerting/rule/{rid}/_enable")
    assert api.post(f"/internal/alerting/rule/{rid}/_run_soon").status_code == 204


def test_find_pages_searches_and_filters_by_connector_reference(api, hook, default_space):
    other = make_webhook(default_space, "http://127.0.0.1:9/other", name="Other")
    for i in range(3):
        api.post("/api/alerting/rule", threshold_rule_body(hook.id, name=f"cpu {i}"), format="json")
    api.post("/api/alerting/rule", threshold_rule_body(other.id, name="disk", tags=["disk"]), format="json")
    page = api.get("/api/alerting/rules/_find?per_page=2&page=1&sort_field=name&sort_order=asc").json()
    assert page["total"] == 4 and page["per_page"] == 2 and len(page["data"]) == 2
    assert [r["name"] for r in page["data"]] == ["cpu 0", "cpu 1"]
    reference = '{"type":"action","id":"' + other.id + '"}'
    found = api.get(f"/api/alerting/rules/_find?has_reference={reference}").json()
    assert [r["name"] for r in found["data"]] == ["disk"]
    tagged = api.get('/api/alerting/rules/_find?filter=alert.attributes.tags:"disk"').json()
    assert tagged["total"] == 1
    searched = api.get("/api/alerting/rules/_find?search_fields=name&search=cpu*").json()
    assert searched["total"] == 3
    fields = api.get("/api/alerting/rules/_find?fields=name").json()["data"][0]
    assert set(fields) == {"id", "actions", "name"} and fields["actions"] == []
    assert api.get("/api/alerting/rules/_find?bogus=1").json()["message"] == (
        "[request query.bogus]: definition for this key is missing"
    )


def test_connectors_list_counts_rule_references(api, hook):
    api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json")
    api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json")
    listed = {c["id"]: c for c in api.get("/api/actions/connectors").json()}
    assert listed[hook.id]["referenced_by_count"] == 2


def test_rule_types_and_health_answer_kibanas_shapes(api):
    types = {t["id"]: t for t in api.get("/api/alerting/rule_types").json()}
    threshold = types[".index-threshold"]
    assert threshold["name"] == "Index threshold"
    assert threshold["action_groups"] == [
        {"id": "threshold met", "name": "Threshold met"},
        {"id": "recovered", "name": "Recovered"},
    ]
    assert threshold["recovery_action_group"] == {"id": "recovered", "name": "Recovered"}
    assert threshold["default_action_group_id"] == "threshold met"
    assert threshold["producer"] == "stackAlerts"
    assert {v["name"] for v in threshold["action_variables"]["context"]} >= {"message", "value", "group"}
    assert {".connector-failures", ".external"} <= set(types)
    health = api.get("/api/alerting/_health").json()
    assert health["alerting_framework_health"]["execution_health"]["status"] == "ok"


def test_rules_live_in_their_space(api, hook, other_space):
    rid = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]
    assert api.get(f"/s/marketing/api/alerting/rule/{rid}").status_code == 404
    assert api.get("/s/marketing/api/alerting/rules/_find").json()["total"] == 0


def test_a_read_only_user_cannot_create_rules(db, default_space, django_user_model, hook):
    from rest_framework.test import APIClient

    user = django_user_model.objects.create_user("reader", password="reader-pass-1")
    SpacePrivilege.objects.create(space=default_space, user=user, privilege="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("reader", "reader-pass-1"), HTTP_KBN_XSRF="1")
    response = client.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json")
    assert response.status_code == 403
    assert response.json()["message"] == 'Unauthorized by "alerts" to create ".index-threshold" rule'
    assert client.get("/api/alerting/rules/_find").status_code == 200


def test_enqueue_answers_202_with_the_run_id_and_404_for_unknown_connectors(api, hook):
    response = api.post(
        f"/api/actions/connector/{hook.id}/_enqueue", {"params": {"body": "x"}}, format="json"
    )
    assert response.status_code == 202
    from actions.models import ActionRun

    run = ActionRun.objects.get(pk=int(response.json()["id"]))
    assert run.connector_id == hook.id and run.status == "queued" and run.params == {"body": "x"}
    missing = api.post("/api/actions/connector/nope/_enqueue", {"params": {}}, format="json")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Saved object [action/nope] not found"


def test_find_refuses_a_sort_order_or_search_operator_that_is_not_one_of_kibanas_literals(api):
    order = api.get("/api/alerting/rules/_find?sort_field=name&sort_order=up")
    assert order.status_code == 400
    assert order.json()["message"] == (
        "[request query.sort_order]: types that failed validation:\n"
        "- [request query.sort_order.0]: expected value to equal [asc]\n"
        "- [request query.sort_order.1]: expected value to equal [desc]"
    )
    operator = api.get("/api/alerting/rules/_find?search=cpu&default_search_operator=and")
    assert operator.status_code == 400
    assert operator.json()["message"] == (
        "[request query.default_search_operator]: types that failed validation:\n"
        "- [request query.default_search_operator.0]: expected value to equal [OR]\n"
        "- [request query.default_search_operator.1]: expected value to equal [AND]"
    )
    assert (
        api.get(
            "/api/alerting/rules/_find?default_search_operator=AND&sort_order=desc&sort_field=name"
        ).status_code
        == 200
    )


def test_a_rule_created_updated_or_enabled_with_an_api_key_says_api_key_created_by_user(api, hook):
    from tests.api.conftest import client_for

    keyed = client_for(User.objects.get(username="elastic"), "apikey")
    created = keyed.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()
    assert created["api_key_owner"] == "elastic" and created["api_key_created_by_user"] is True
    rid = created["id"]
    updated = api.put(f"/api/alerting/rule/{rid}", _update_body(hook), format="json").json()
    assert updated["api_key_created_by_user"] is False  # Basic: a new key is minted for the rule
    disabled = keyed.post(
        "/api/alerting/rule", threshold_rule_body(hook.id, enabled=False), format="json"
    ).json()
    assert disabled["api_key_owner"] is None and disabled["api_key_created_by_user"] is None
    keyed.post(f"/api/alerting/rule/{disabled['id']}/_enable")  # no key yet: the caller's is used
    assert api.get(f"/api/alerting/rule/{disabled['id']}").json()["api_key_created_by_user"] is True


def _update_body(hook):
    body = threshold_rule_body(hook.id)
    return {key: body[key] for key in ("name", "tags", "schedule", "params", "actions")}


def test_an_enforced_minimum_schedule_interval_refuses_a_shorter_rule_on_create_and_update(
    api, hook, kibana_settings
):
    fast = threshold_rule_body(hook.id, schedule={"interval": "30s"})
    assert api.post("/api/alerting/rule", fast, format="json").status_code == 200  # not enforced: a warning
    kibana_settings.set({"xpack.alerting.rules.minimumScheduleInterval": {"value": "2m", "enforce": True}})
    refused = api.post("/api/alerting/rule", fast, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Error creating rule: the interval is less than the allowed minimum interval of 2m",
    }
    ok = api.post(
        "/api/alerting/rule", threshold_rule_body(hook.id, schedule={"interval": "2m"}), format="json"
    )
    assert ok.status_code == 200
    update = {**_update_body(hook), "schedule": {"interval": "1m"}}
    response = api.put(f"/api/alerting/rule/{ok.json()['id']}", update, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Error updating rule: the interval is less than the allowed minimum interval of 2m"
    )


def test_disable_refuses_an_untrack_that_is_not_a_boolean(api, hook):
    rid = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]
    response = api.post(f"/api/alerting/rule/{rid}/_disable", {"untrack": "yes"}, format="json")
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "[request body.untrack]: expected value of type [boolean] but got [string]"
    )
    assert Rule.objects.get(pk=rid).enabled is True
    assert api.post(f"/api/alerting/rule/{rid}/_disable", {"untrack": True}, format="json").status_code == 204


def test_unmute_all_clears_the_muted_alerts_and_a_muted_rule_ignores_alert_mutes(api, hook):
    rid = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]
    Alert.objects.create(rule_id=rid, alert_id="a", status=Alert.ACTIVE)
    Alert.objects.create(rule_id=rid, alert_id="b", status=Alert.ACTIVE)
    before = api.get(f"/api/alerting/rule/{rid}").json()["updated_at"]
    assert api.post(f"/api/alerting/rule/{rid}/alert/a/_mute").status_code == 204
    muted = api.get(f"/api/alerting/rule/{rid}").json()
    assert muted["muted_alert_ids"] == ["a"] and muted["updated_at"] > before
    api.post(f"/api/alerting/rule/{rid}/_mute_all")
    assert api.post(f"/api/alerting/rule/{rid}/alert/b/_mute").status_code == 204
    assert api.get(f"/api/alerting/rule/{rid}").json()["muted_alert_ids"] == []
    api.post(f"/api/alerting/rule/{rid}/_unmute_all")
    api.post(f"/api/alerting/rule/{rid}/alert/b/_mute")
    api.post(f"/api/alerting/rule/{rid}/_unmute_all")
    body = api.get(f"/api/alerting/rule/{rid}").json()
    assert body["mute_all"] is False and body["muted_alert_ids"] == []


def test_enabling_a_disabled_rule_again_reuses_its_api_key_and_shows_it_pending(api, hook, django_user_model):
    from tests.api.conftest import client_for

    rid = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()["id"]
    api.post(f"/api/alerting/rule/{rid}/_disable")
    other = django_user_model.objects.create_superuser("other", "", "another-password-1")
    assert client_for(other, "apikey").post(f"/api/alerting/rule/{rid}/_enable").status_code == 204
    body = api.get(f"/api/alerting/rule/{rid}").json()
    assert body["api_key_owner"] == "elastic" and body["api_key_created_by_user"] is False
    assert body["updated_by"] == "other"
    assert body["execution_status"]["status"] == "pending"
    assert body["execution_status"]["last_duration"] == 0


def test_next_run_is_absent_until_the_rule_runs_or_is_enabled(api, hook, default_space):
    from actions.rule_runner import run_rule

    created = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()
    assert "next_run" not in created
    disabled = api.post(
        "/api/alerting/rule", threshold_rule_body(hook.id, enabled=False), format="json"
    ).json()
    assert "next_run" not in disabled
    api.post(f"/api/alerting/rule/{disabled['id']}/_enable")
    assert api.get(f"/api/alerting/rule/{disabled['id']}").json()["next_run"]
    run_rule(created["id"])
    assert api.get(f"/api/alerting/rule/{created['id']}").json()["next_run"]
    api.post(f"/api/alerting/rule/{created['id']}/_disable")
    assert api.get(f"/api/alerting/rule/{created['id']}").json()["next_run"] is None
