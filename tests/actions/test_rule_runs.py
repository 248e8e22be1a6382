"""Rule runs in-process: alerts, frequencies, recovery, summaries, circuit breakers and failures.
Actions are delivered by `actions.worker` to a real local HTTP server."""

import json
from datetime import timedelta

from django.utils import timezone

from actions import worker
from actions.models import ActionRun, Alert, Rule
from actions.rule_runner import run_rule
from actions.rules import create_rule
from eventlog.models import Event
from tests.actions.helpers import SECRET, add_documents, bodies, make_webhook, threshold_rule_body


def fire(rule, minutes=0):
    report = run_rule(rule.id, now=timezone.now() + timedelta(minutes=minutes))
    worker.run_pending()
    rule.refresh_from_db()
    return report


def test_a_rule_fires_and_the_action_delivers_the_rendered_body(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{"host": "a"}] * 3)

    fire(rule)

    (body,) = bodies(httpserver)
    assert body["rule"] == "cpu high"
    assert body["text"].startswith("alert 'cpu high' is active for group 'all documents':\n\n- Value: 3\n")
    assert "- Conditions Met: count is greater than 2 over 5m\n- Timestamp: " in body["text"]
    assert rule.execution_status["status"] == "active"
    assert rule.last_run["outcome"] == "succeeded"
    assert rule.last_run["alerts_count"] == {"active": 1, "new": 1, "recovered": 0, "ignored": 0}
    run = ActionRun.objects.get()
    assert run.status == "succeeded" and run.rule_id == rule.id
    execute = Event.objects.get(action="execute", provider="actions")
    assert execute.outcome == "success" and execute.rule_id == rule.id
    assert execute.document["kibana"]["action"]["execution"]["source"] == "alert"


def test_no_alert_means_status_ok_and_nothing_sent(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{"host": "a"}])
    fire(rule)
    assert httpserver.log == []
    assert rule.execution_status["status"] == "ok"


def test_on_active_alert_fires_on_every_run(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    fire(rule, minutes=1)
    fire(rule, minutes=2)
    assert len(httpserver.log) == 3


def test_on_action_group_change_fires_once_while_the_alert_stays_active(default_space, hook, httpserver):
    frequency = {"summary": False, "notify_when": "onActionGroupChange", "throttle": None}
    rule = create_rule(default_space, threshold_rule_body(hook.id, frequency=frequency), user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    fire(rule, minutes=1)
    assert len(httpserver.log) == 1


def test_on_throttle_interval_fires_again_only_after_the_throttle(default_space, hook, httpserver):
    frequency = {"summary": False, "notify_when": "onThrottleInterval", "throttle": "10m"}
    rule = create_rule(default_space, threshold_rule_body(hook.id, frequency=frequency), user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    add_documents("metrics", [{}] * 3, at=timezone.now() + timedelta(minutes=4))
    fire(rule, minutes=5)
    assert len(httpserver.log) == 1
    add_documents("metrics", [{}] * 3, at=timezone.now() + timedelta(minutes=10))
    fire(rule, minutes=11)
    assert len(httpserver.log) == 2


def test_legacy_rule_level_notify_when_applies_to_actions_without_frequency(default_space, hook, httpserver):
    body = threshold_rule_body(hook.id, notify_when="onActionGroupChange")
    del body["actions"][0]["frequency"]
    rule = create_rule(default_space, body, user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    fire(rule, minutes=1)
    assert len(httpserver.log) == 1


def test_a_recovered_alert_runs_the_recovered_action_once(default_space, hook, httpserver):
    body = threshold_rule_body(hook.id)
    body["actions"].append(
        {
            "group": "recovered",
            "id": hook.id,
            "params": {"body": '{"recovered": "{{alert.id}}", "text": "{{context.message}}"}'},
            "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
        }
    )
    rule = create_rule(default_space, body, user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    fire(rule, minutes=10)  # documents are out of the 5m window now
    fire(rule, minutes=11)
    sent = bodies(httpserver)
    assert len(sent) == 2
    assert sent[1]["recovered"] == "all documents"
    assert sent[1]["text"].startswith("alert 'cpu high' is recovered for group 'all documents':")
    assert "count is NOT greater than 2" in sent[1]["text"]
    assert rule.last_run["alerts_count"]["recovered"] == 0
    # The recovered alert is kept only for its flapping history; it is not active.
    assert list(Alert.objects.filter(rule=rule).values_list("status", flat=True)) == ["recovered"]


def test_a_summary_action_sends_one_message_for_all_alerts(default_space, hook, httpserver):
    frequency = {"summary": True, "notify_when": "onActiveAlert", "throttle": None}
    message = '{"count": {{alerts.all.count}}, "new": {{alerts.new.count}}}'
    body = threshold_rule_body(hook.id, frequency=frequency, group_by="host", threshold=0, message=message)
    rule = create_rule(default_space, body, user="elastic")
    add_documents("metrics", [{"host": "a"}, {"host": "b"}, {"host": "c"}])
    fire(rule)
    fire(rule, minutes=1)
    assert bodies(httpserver) == [{"count": 3, "new": 3}, {"count": 3, "new": 0}]


def test_muted_alerts_and_mute_all_skip_actions(default_space, hook, httpserver):
    rule = create_rule(
        default_space, threshold_rule_body(hook.id, group_by="host", threshold=0), user="elastic"
    )
    add_documents("metrics", [{"host": "a"}, {"host": "b"}])
    Rule.objects.filter(pk=rule.pk).update(muted_alert_ids=["a"])
    fire(rule)
    assert len(httpserver.log) == 1
    assert "group 'b'" in bodies(httpserver)[0]["text"]
    Rule.objects.filter(pk=rule.pk).update(mute_all=True)
    fire(rule, minutes=1)
    assert len(httpserver.log) == 1
    assert rule.last_run["alerts_count"]["active"] == 2


def test_a_deleted_connector_fails_the_rule_run_with_kibanas_message(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3)
    connector_id = hook.id
    hook.delete()
    fire(rule)
    message = f"Saved object [action/{connector_id}] not found"
    assert rule.execution_status["status"] == "error"
    assert rule.execution_status["error"] == {"reason": "unknown", "message": message}
    assert rule.last_run["outcome"] == "failed" and rule.last_run["outcome_msg"] == [message]
    assert not ActionRun.objects.exists()
    assert httpserver.log == []


def test_a_queued_run_whose_connector_was_deleted_fails_and_is_logged(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3)
    run_rule(rule.id)
    connector_id = hook.id
    hook.delete()
    worker.run_pending()
    run = ActionRun.objects.get()
    assert run.status == "failed"
    assert run.last_error == f"Saved object [action/{connector_id}] not found"
    event = Event.objects.get(action="execute", provider="actions")
    assert event.outcome == "failure"
    assert event.document["error"]["message"] == f"Saved object [action/{connector_id}] not found"


def test_a_connector_without_secrets_fails_the_rule_run(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    hook.is_missing_secrets = True
    hook.save()
    add_documents("metrics", [{}] * 3)
    fire(rule)
    assert rule.execution_status["error"]["message"] == (
        'Unable to execute action because no secrets are defined for the "Hook" connector.'
    )
    assert httpserver.log == []


def test_the_queue_limit_ends_the_run_with_a_max_queued_actions_warning(
    default_space, hook, httpserver, kibana_settings
):
    kibana_settings.set({"xpack.actions.queued.max": 2})
    rule = create_rule(
        default_space, threshold_rule_body(hook.id, group_by="host", threshold=0), user="elastic"
    )
    add_documents("metrics", [{"host": h} for h in "abcde"])
    run_rule(rule.id)
    rule.refresh_from_db()
    assert ActionRun.objects.count() == 2
    assert rule.execution_status["status"] == "warning"
    assert rule.execution_status["warning"] == {
        "reason": "maxQueuedActions",
        "message": "The maximum number of queued actions was reached; excess actions were not triggered.",
    }
    assert rule.last_run["outcome"] == "warning" and rule.last_run["warning"] == "maxQueuedActions"


def test_the_actions_max_circuit_breaker_warns(default_space, hook, httpserver, kibana_settings):
    kibana_settings.set({"xpack.alerting.rules.run.actions.max": 1})
    rule = create_rule(
        default_space, threshold_rule_body(hook.id, group_by="host", threshold=0), user="elastic"
    )
    add_documents("metrics", [{"host": h} for h in "abc"])
    run_rule(rule.id)
    rule.refresh_from_db()
    assert ActionRun.objects.count() == 1
    assert rule.execution_status["warning"]["reason"] == "maxExecutableActions"


def test_a_failing_action_is_retried_with_backoff_until_it_succeeds(default_space, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    hook = make_webhook(default_space, httpserver.url_for("/hook"))
    from actions.services import enqueue

    run = enqueue(hook.id, {"body": "x"})
    worker.run_pending()
    run.refresh_from_db()
    assert run.status == "queued" and run.attempts == 1
    first_delay = (run.due_at - timezone.now()).total_seconds()
    assert 25 < first_delay <= 30  # Kibana: the first retry after 30 s
    for _ in range(2):
        ActionRun.objects.filter(pk=run.pk).update(due_at=timezone.now())
        worker.run_pending()
        run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 3
    assert len(httpserver.log) == 3
    outcomes = list(Event.objects.filter(action="execute").order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["failure", "failure", "success"]


def test_attempts_come_from_the_settings_and_stop_at_the_maximum(default_space, httpserver, kibana_settings):
    kibana_settings.set({"xpack.actions.run.connectorTypeOverrides": [{"id": ".webhook", "maxAttempts": 2}]})
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    hook = make_webhook(default_space, httpserver.url_for("/hook"))
    from actions.services import enqueue

    run = enqueue(hook.id, {"body": "x"})
    assert run.max_attempts == 2
    worker.run_pending()
    ActionRun.objects.filter(pk=run.pk).update(due_at=timezone.now())
    worker.run_pending()
    run.refresh_from_db()
    assert run.status == "failed" and run.attempts == 2
    assert "error calling webhook, retry later" in run.last_error


def test_a_retry_after_header_sets_the_retry_date(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    hook = make_webhook(default_space, httpserver.url_for("/hook"))
    from actions.services import enqueue

    run = enqueue(hook.id, {"body": "x"})
    worker.run_pending()
    run.refresh_from_db()
    assert 115 < (run.due_at - timezone.now()).total_seconds() <= 120


def test_later_retries_back_off_randomly_up_to_the_cap(kibana_settings):
    from actions.queue import retry_at

    now = timezone.now()
    delays = [(retry_at(n, True, now) - now).total_seconds() for n in (1, 2, 3, 8, 12)]
    assert delays[0] == 30
    assert 30 <= delays[1] <= 300 and 30 <= delays[2] <= 600
    assert delays[3] <= 3600 and delays[4] <= 3600


def test_an_expired_lease_is_logged_as_execute_timeout_and_run_again(default_space, hook, httpserver):
    from actions.services import enqueue

    run = enqueue(hook.id, {"body": "x"})
    token = worker.claim(run.pk)
    assert token
    ActionRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert worker.recover_expired() == 1
    timeout = Event.objects.get(action="execute-timeout")
    assert timeout.message == (
        f"action: .webhook:{hook.id}: 'Hook' execution cancelled due to timeout - exceeded default timeout of \"5m\""
    )
    worker.run_pending()
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 1 and run.lost == 1  # a lost run is no attempt
    assert worker.process(run.pk, token) is None  # the old claim cannot record anything


def test_the_rate_limiter_fails_runs_over_the_limit_and_retries_them(
    default_space, hook, httpserver, kibana_settings
):
    kibana_settings.set({"connectors.rateLimits": {".webhook": {"limit": 2, "lookbackWindow": "1m"}}})
    from actions.services import enqueue

    runs = [enqueue(hook.id, {"body": str(i)}) for i in range(3)]
    worker.run_pending(max_rounds=1)
    assert len(httpserver.log) == 2
    statuses = sorted(ActionRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("status", flat=True))
    assert statuses == ["queued", "succeeded", "succeeded"]
    failed = Event.objects.filter(action="execute", outcome="failure").get()
    assert (
        "Action execution rate limit exceeded for connector: .webhook" in failed.document["error"]["message"]
    )


def test_task_arguments_and_events_never_hold_secrets(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    for event in Event.objects.all():
        assert SECRET not in json.dumps(event.document)
    for run in ActionRun.objects.all():
        assert SECRET not in json.dumps(run.params)


def test_the_external_rule_type_routes_reported_alerts(api, hook, httpserver):
    body = {
        "name": "router",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1h"},
        "actions": [
            {
                "group": "critical",
                "id": hook.id,
                "params": {"body": '{"alert": "{{alert.id}}", "host": "{{context.host}}"}'},
                "frequency": {"summary": False, "notify_when": "onActionGroupChange", "throttle": None},
            }
        ],
    }
    rule_id = api.post("/api/alerting/rule", body, format="json").json()["id"]
    report = {"alerts": [{"id": "disk-full", "action_group": "critical", "context": {"host": "db-1"}}]}
    response = api.post(f"/api/alerting/rule/{rule_id}/_alerts", report, format="json")
    assert response.status_code == 202 and response.json()["accepted"] == 1
    fire(Rule.objects.get(pk=rule_id))
    assert bodies(httpserver) == [{"alert": "disk-full", "host": "db-1"}]
    bad = api.post(
        f"/api/alerting/rule/{rule_id}/_alerts",
        {"alerts": [{"id": "x", "action_group": "nope"}]},
        format="json",
    )
    assert bad.json()["message"] == "Invalid action groups: nope"


def test_the_connector_failures_rule_fires_on_failing_connectors(default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    failing = make_webhook(default_space, httpserver.url_for("/hook"), name="Flaky")
    from actions.services import execute

    for _ in range(3):
        execute(failing, {"body": "x"})
    index = make_index_connector(default_space)
    body = {
        "name": "watch connectors",
        "rule_type_id": ".connector-failures",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "params": {"threshold": 3, "timeWindowSize": 1, "timeWindowUnit": "h"},
        "actions": [
            {
                "group": "failing",
                "id": index.id,
                "params": {
                    "documents": [{"connector": "{{context.connectorName}}", "n": "{{context.failures}}"}]
                },
                "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
            }
        ],
    }
    rule = create_rule(default_space, body, user="elastic")
    fire(rule, minutes=0)
    from connectors.models import IndexDocument

    assert IndexDocument.objects.get(index="alerts-out").document == {"connector": "Flaky", "n": "3"}


def make_index_connector(space):
    from connectors.models import Connector

    connector = Connector(space=space, name="Out", connector_type_id=".index", config={"index": "alerts-out"})
    connector.set_secrets({})
    connector.save()
    return connector


def test_the_task_carries_only_run_ids(default_space, hook, httpserver):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from actions.services import enqueue

    run = enqueue(hook.id, {"body": "x"})
    (queued,) = OrmQ.objects.all()
    task = SignedPackage.loads(queued.payload)
    assert task["func"] == "actions.tasks.run_actions"
    assert task["args"] == ([run.pk],) and task["kwargs"] == {}
    assert SECRET not in repr(task)


def test_the_queue_command_shows_counts_and_runs_due_runs(default_space, hook, httpserver):
    from io import StringIO

    from django.core.management import call_command

    from actions.services import enqueue

    enqueue(hook.id, {"body": "x"})
    out = StringIO()
    call_command("actions_queue", "--run-due", stdout=out)
    assert "ran 1 due run(s)" in out.getvalue()
    assert " succeeded: 1" in out.getvalue()
    assert len(httpserver.log) == 1


def test_a_run_of_a_type_disabled_after_queueing_fails_without_retry(
    default_space, hook, httpserver, kibana_settings
):
    from actions.services import enqueue

    run = enqueue(hook.id, {"body": "x"})
    kibana_settings.set({"xpack.actions.enabledActionTypes": [".server-log"]})
    worker.run_pending()
    run.refresh_from_db()
    assert run.status == "failed" and run.attempts == 1
    assert (
        run.last_error
        == 'action type ".webhook" is not enabled in the Kibana config xpack.actions.enabledActionTypes'
    )
    assert httpserver.log == []


def test_enqueue_refuses_disabled_types_missing_secrets_and_a_full_queue(api, hook, kibana_settings):
    url = f"/api/actions/connector/{hook.id}/_enqueue"
    kibana_settings.set({"xpack.actions.queued.max": 1})
    assert api.post(url, {"params": {"body": "1"}}, format="json").status_code == 202
    full = api.post(url, {"params": {"body": "2"}}, format="json")
    assert full.status_code == 429
    assert (
        full.json()["message"]
        == "The maximum number of queued actions was reached; excess actions were not triggered."
    )
    kibana_settings.set({"xpack.actions.enabledActionTypes": [".server-log"]})
    disabled = api.post(url, {"params": {}}, format="json")
    assert disabled.status_code == 403
    kibana_settings.set({})
    hook.is_missing_secrets = True
    hook.save()
    ActionRun.objects.all().delete()
    missing = api.post(url, {"params": {}}, format="json")
    assert missing.status_code == 400
    assert (
        missing.json()["message"]
        == 'Unable to execute action because no secrets are defined for the "Hook" connector.'
    )
    assert api.post(url, {}, format="json").json()["message"] == (
        "[request body.params]: expected value of type [object] but got [undefined]"
    )


def test_alert_delay_notifies_only_after_consecutive_matches(api, hook, httpserver):
    body = threshold_rule_body(hook.id, alert_delay={"active": 2})
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.json()["alert_delay"] == {"active": 2}
    rule = Rule.objects.get(pk=response.json()["id"])
    add_documents("metrics", [{}] * 3)
    fire(rule)
    assert httpserver.log == []
    fire(rule, minutes=1)
    assert len(httpserver.log) == 1


def test_a_legacy_rule_throttle_is_shared_by_all_its_actions(default_space, hook, httpserver):
    body = threshold_rule_body(hook.id, throttle="10m")
    body["actions"][0].pop("frequency")
    body["actions"].append({"group": "threshold met", "id": hook.id, "params": {"body": '{"second": true}'}})
    rule = create_rule(default_space, body, user="elastic")
    assert rule.notify_when == "onThrottleInterval"
    add_documents("metrics", [{}] * 3)
    fire(rule)
    assert len(httpserver.log) == 2  # both actions on the first run
    add_documents("metrics", [{}] * 3, at=timezone.now() + timedelta(minutes=4))
    fire(rule, minutes=5)
    assert len(httpserver.log) == 2


def test_a_rule_run_logs_new_alerts_and_scheduled_actions(default_space, hook, httpserver):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3)
    fire(rule)
    label = f".index-threshold:{rule.id}: 'cpu high'"
    messages = set(Event.objects.filter(provider="alerting").values_list("message", flat=True))
    assert f"{label} created new alert: 'all documents'" in messages
    assert (
        f"alert: {label} instanceId: 'all documents' scheduled actionGroup: 'threshold met' action: .webhook:{hook.id}"
        in messages
    )
    assert f"rule executed: {label}" in messages


def test_a_throttled_summary_covers_the_alerts_of_its_whole_window(default_space, hook, httpserver):
    frequency = {"summary": True, "notify_when": "onThrottleInterval", "throttle": "10m"}
    message = '{"new": {{alerts.new.count}}, "ongoing": {{alerts.ongoing.count}}, "recovered": {{alerts.recovered.count}}}'
    body = threshold_rule_body(hook.id, frequency=frequency, group_by="host", threshold=0, message=message)
    rule = create_rule(default_space, body, user="elastic")
    start = timezone.now()
    add_documents("metrics", [{"host": "a"}, {"host": "c"}], at=start)
    fire(rule)  # a and c are new: the summary fires
    add_documents("metrics", [{"host": "a"}, {"host": "b"}], at=start + timedelta(minutes=4))
    fire(rule, minutes=5)  # b is new, c recovers: throttled, kept for the window
    add_documents("metrics", [{"host": "a"}, {"host": "b"}], at=start + timedelta(minutes=10))
    fire(rule, minutes=11)  # fires again: b new in the window, a ongoing, c recovered in the window
    assert bodies(httpserver) == [
        {"new": 2, "ongoing": 0, "recovered": 0},
        {"new": 1, "ongoing": 1, "recovered": 1},
    ]


def test_an_enqueued_run_can_be_followed_until_it_is_delivered(api, hook, httpserver):
    queued = api.post(f"/api/actions/connector/{hook.id}/_enqueue", {"params": {"body": "x"}}, format="json")
    url = f"/api/actions/connector/{hook.id}/_enqueue/{queued.json()['id']}"

    before = api.get(url).json()
    assert before["status"] == "queued" and before["attempts"] == 0 and before["max_attempts"] == 3
    assert before["next_attempt_at"] is not None and before["finished_at"] is None

    worker.run_pending()

    after = api.get(url).json()
    assert after["status"] == "succeeded" and after["attempts"] == 1
    assert after["finished_at"] is not None and after["next_attempt_at"] is None
    assert after["last_error"] is None
    assert Event.objects.get(action="execute").execution_uuid == after["execution_uuid"]


def test_a_run_of_another_connector_or_space_is_not_found(api, hook, other_space, superuser):
    from tests.actions.helpers import make_webhook

    run_id = api.post(f"/api/actions/connector/{hook.id}/_enqueue", {"params": {}}, format="json").json()[
        "id"
    ]
    other = make_webhook(hook.space, "http://127.0.0.1:9/elsewhere", name="Other")

    for url in (
        f"/api/actions/connector/{other.id}/_enqueue/{run_id}",
        f"/s/{other_space.id}/api/actions/connector/{hook.id}/_enqueue/{run_id}",
        f"/api/actions/connector/{hook.id}/_enqueue/not-a-number",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["message"].startswith("Saved object [action_run/")


def test_disabling_a_rule_logs_each_active_alert_as_recovered_with_kibanas_event_fields(
    default_space, hook, httpserver
):
    from actions.rules import disable_rule

    rule = create_rule(default_space, threshold_rule_body(hook.id, group_by="host"), user="elastic")
    add_documents("metrics", [{"host": "a"}] * 3 + [{"host": "b"}] * 3)
    fire(rule)

    disable_rule(rule, "elastic")

    events = Event.objects.filter(provider="alerting", action="recovered-instance").order_by("id")
    assert [e.message for e in events] == [
        "instance 'a' has recovered due to the rule was disabled",
        "instance 'b' has recovered due to the rule was disabled",
    ]
    document = events[0].document
    assert document["event"]["category"] == ["stackAlerts"]  # the rule type's producer
    assert document["rule"] == {
        "id": rule.id,
        "name": "cpu high",
        "category": ".index-threshold",
        "license": "basic",
        "ruleset": "stackAlerts",
    }
    assert document["kibana"]["alerting"] == {"instance_id": "a", "action_group_id": "threshold met"}
    assert not Alert.objects.filter(rule=rule).exists()


def test_each_rule_run_logs_kibanas_execute_start_event_before_its_execute_event(default_space, hook):
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")

    fire(rule)

    start, execute = Event.objects.filter(provider="alerting", action__startswith="execute").order_by("id")
    assert (start.action, execute.action) == ("execute-start", "execute")
    assert start.message == f'rule execution start: "{rule.id}"'
    assert start.rule_id == rule.id and start.space_id == "default"
    uuids = [e.document["kibana"]["alert"]["rule"]["execution"]["uuid"] for e in (start, execute)]
    assert uuids[0] == uuids[1]
    assert start.document["event"]["kind"] == "alert" and "outcome" not in start.document["event"]
