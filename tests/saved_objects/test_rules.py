"""Rules (`alert`) through the saved-objects engine: export with their connectors, import disabled with
Kibana's warning, connector references remapped, unknown rule types and missing connectors refused."""

import json

import pytest

from actions.models import Rule
from actions.rules import create_rule
from connectors.models import Connector
from tests.actions.helpers import SECRET, make_webhook, threshold_rule_body
from tests.saved_objects.conftest import connector_line, export, export_lines, ndjson, upload

RULES_WARNING = {
    "type": "action_required",
    "message": "1 rule must be enabled after the import.",
    "actionPath": "/app/management/insightsAndAlerting/triggersActions/rules",
    "buttonLabel": "Go to rules",
}
LOG_ID = "11111111-1111-4111-8111-111111111111"
RULE_ID = "22222222-2222-4222-8222-222222222222"


def rule_line(rule_id=RULE_ID, *, connector_id=LOG_ID, type_id=".index-threshold", params=None, name="cpu"):
    params = params or {
        "index": ["metrics"],
        "timeField": "@timestamp",
        "aggType": "count",
        "thresholdComparator": ">",
        "threshold": [1],
        "timeWindowSize": 5,
        "timeWindowUnit": "m",
    }
    return {
        "type": "alert",
        "id": rule_id,
        "attributes": {
            "name": name,
            "alertTypeId": type_id,
            "consumer": "alerts",
            "enabled": False,
            "schedule": {"interval": "1m"},
            "params": params,
            "tags": ["t"],
            "notifyWhen": "onActiveAlert",
            "throttle": None,
            "actions": [
                {
                    "actionRef": "action_0",
                    "actionTypeId": ".server-log",
                    "group": "threshold met",
                    "params": {"message": "{{context.message}}"},
                }
            ],
        },
        "references": [{"id": connector_id, "name": "action_0", "type": "action"}],
    }


def test_exporting_type_alert_writes_kibanas_rewritten_rule_lines(api, default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")

    lines = export_lines(export(api, {"type": "alert"}))

    assert [(line["type"], line["id"]) for line in lines[:-1]] == [("alert", rule.id)]
    attributes = lines[0]["attributes"]
    assert attributes["enabled"] is False and attributes["apiKey"] is None
    assert attributes["executionStatus"]["status"] == "pending"
    assert lines[0]["references"] == [{"id": hook.id, "name": "action_0", "type": "action"}]
    assert lines[-1]["exportedCount"] == 1 and lines[-1]["missingRefCount"] == 0


def test_exporting_a_rule_with_references_deep_brings_its_connector_without_secrets(api, default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")

    response = export(api, {"objects": [{"type": "alert", "id": rule.id}], "includeReferencesDeep": True})
    lines = export_lines(response)

    assert [(line["type"], line["id"]) for line in lines[:-1]] == [("alert", rule.id), ("action", hook.id)]
    assert lines[-1]["exportedCount"] == 2
    assert lines[-1]["missingRefCount"] == 0
    assert SECRET not in response.content.decode()


def test_a_rule_whose_connector_is_gone_exports_with_a_missing_reference(api, default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    Connector.objects.filter(pk=hook.id).delete()

    lines = export_lines(
        export(api, {"objects": [{"type": "alert", "id": rule.id}], "includeReferencesDeep": True})
    )

    assert lines[-1]["missingRefCount"] == 1
    assert lines[-1]["missingReferences"] == [{"id": hook.id, "type": "action"}]


def test_an_imported_rule_arrives_disabled_with_kibanas_warning(api, default_space):
    body = upload(api, ndjson(connector_line(LOG_ID), rule_line())).json()

    assert body["success"] is True
    assert body["successResults"][1] == {
        "type": "alert",
        "id": RULE_ID,
        "meta": {"title": "Rule: [cpu]"},
        "managed": False,
    }
    assert body["warnings"] == [RULES_WARNING]
    rule = Rule.objects.get(pk=RULE_ID)
    assert rule.space_id == "default" and rule.enabled is False and rule.next_run_at is None
    assert rule.actions[0]["id"] == LOG_ID
    assert rule.actions[0]["params"] == {"message": "{{context.message}}"}


def test_the_rules_warning_is_pluralised(api, default_space):
    other = "33333333-3333-4333-8333-333333333333"
    body = upload(api, ndjson(connector_line(LOG_ID), rule_line(), rule_line(other, name="b"))).json()
    assert body["warnings"][-1]["message"] == "2 rules must be enabled after the import."


def test_a_rule_whose_connector_is_neither_in_the_file_nor_the_space_is_missing_references(
    api, default_space
):
    body = upload(api, ndjson(rule_line())).json()

    assert body["successCount"] == 0
    assert body["errors"] == [
        {
            "id": RULE_ID,
            "type": "alert",
            "meta": {"title": "Rule: [cpu]"},
            "error": {"type": "missing_references", "references": [{"type": "action", "id": LOG_ID}]},
        }
    ]
    assert body["warnings"] == []
    assert not Rule.objects.exists()


def test_a_rule_may_use_a_connector_that_already_exists_in_the_space(api, default_space):
    upload(api, ndjson(connector_line(LOG_ID)))
    body = upload(api, ndjson(rule_line())).json()
    assert body["success"] is True
    assert Rule.objects.get(pk=RULE_ID).actions[0]["id"] == LOG_ID


def test_a_rule_of_a_rule_type_we_do_not_have_is_unsupported_type_and_nothing_is_stored(api, default_space):
    line = rule_line(type_id="xpack.ml.anomaly_detection_alert", params={"jobSelection": {}})
    body = upload(api, ndjson(connector_line(LOG_ID), line)).json()

    assert body["successCount"] == 1
    assert body["errors"] == [
        {
            "id": RULE_ID,
            "type": "alert",
            "meta": {"title": "Rule: [cpu]"},
            "error": {"type": "unsupported_type"},
        }
    ]
    assert not Rule.objects.exists()


def test_a_rule_with_invalid_params_is_a_per_object_error(api, default_space):
    body = upload(api, ndjson(connector_line(LOG_ID), rule_line(params={"index": []}))).json()
    error = body["errors"][0]["error"]
    assert error["type"] == "unknown" and error["statusCode"] == 400
    assert error["message"].startswith("params invalid: ")
    assert not Rule.objects.exists()


def test_an_action_whose_reference_is_not_in_the_line_is_a_per_object_error(api, default_space):
    line = rule_line()
    line["references"] = []
    body = upload(api, ndjson(connector_line(LOG_ID), line)).json()
    assert (
        body["errors"][0]["error"]["message"]
        == f'Action reference "action_0" not found in alert id: {RULE_ID}'
    )


@pytest.mark.parametrize(
    "action_ref",
    [
        "x:" + LOG_ID,  # before: anything with a colon skipped the check, and its tail became the id
        "preconfigured:" + LOG_ID,  # a stored connector is not a preconfigured one
        "preconfigured:nothing-by-that-name",
        "system_action:" + LOG_ID,
        "action_1",
    ],
)
def test_an_action_ref_without_a_matching_reference_is_kibanas_per_object_error(
    api, default_space, action_ref
):
    line = rule_line()
    line["attributes"]["actions"][0]["actionRef"] = action_ref
    body = upload(api, ndjson(connector_line(LOG_ID), line)).json()

    [error] = [e for e in body["errors"] if e["type"] == "alert"]
    assert error["id"] == RULE_ID
    assert error["error"] == {
        "type": "unknown",
        "message": f'Action reference "{action_ref}" not found in alert id: {RULE_ID}',
        "statusCode": 400,
    }
    assert not Rule.objects.exists()


def test_a_rule_in_another_space_cannot_be_pointed_at_a_connector_without_a_reference(
    api, default_space, other_space
):
    elsewhere = make_webhook(other_space, "http://127.0.0.1:9/hook")
    line = rule_line()
    line["attributes"]["actions"][0]["actionRef"] = f"action:{elsewhere.id}"
    line["references"] = []

    body = upload(api, ndjson(line)).json()

    assert body["successCount"] == 0
    assert not Rule.objects.exists()


def test_create_new_copies_gives_the_rule_and_its_connector_new_ids_and_links_them(api, default_space):
    upload(api, ndjson(connector_line(LOG_ID), rule_line()))

    body = upload(api, ndjson(connector_line(LOG_ID), rule_line()), query="createNewCopies=true").json()

    assert body["success"] is True
    new_connector, new_rule = (r["destinationId"] for r in body["successResults"])
    assert new_connector != LOG_ID and new_rule != RULE_ID
    copy = Rule.objects.get(pk=new_rule)
    assert copy.actions[0]["id"] == new_connector
    assert copy.enabled is False
    assert Rule.objects.get(pk=RULE_ID).actions[0]["id"] == LOG_ID  # the original is untouched


def test_an_existing_rule_is_a_conflict_and_overwrite_replaces_it_disabled(api, default_space):
    upload(api, ndjson(connector_line(LOG_ID), rule_line()))
    Rule.objects.filter(pk=RULE_ID).update(enabled=True)

    conflict = upload(api, ndjson(rule_line(name="renamed"))).json()
    assert conflict["errors"][0]["error"] == {"type": "conflict"}
    assert Rule.objects.get(pk=RULE_ID).name == "cpu"

    replaced = upload(api, ndjson(rule_line(name="renamed")), query="overwrite=true").json()
    assert replaced["successResults"][0]["overwrite"] is True
    rule = Rule.objects.get(pk=RULE_ID)
    assert rule.name == "renamed" and rule.enabled is False


def test_a_rule_id_used_in_another_space_gets_a_new_id_there(api, default_space, other_space):
    upload(api, ndjson(connector_line(LOG_ID), rule_line()))

    body = upload(api, ndjson(rule_line(connector_id="log-m")), prefix="/s/marketing").json()
    assert body["errors"][0]["error"]["type"] == "missing_references"

    body = upload(
        api, ndjson(connector_line("log-m"), rule_line(connector_id="log-m")), prefix="/s/marketing"
    ).json()
    result = body["successResults"][1]
    assert result["createNewCopy"] is True and result["destinationId"] != RULE_ID
    copy = Rule.objects.get(pk=result["destinationId"])
    assert copy.space_id == "marketing" and copy.actions[0]["id"] == "log-m"
    assert Rule.objects.get(pk=RULE_ID).space_id == "default"


def test_rules_and_connectors_round_trip_through_export_delete_and_import(api, default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    first = create_rule(default_space, threshold_rule_body(hook.id, threshold=3), user="elastic")
    second = create_rule(
        default_space, threshold_rule_body(hook.id, name="disk", tags=["disk", "ops"]), user="elastic"
    )
    fields = ("name", "rule_type_id", "consumer", "schedule_interval", "params", "actions", "tags")
    before = {r.id: {f: getattr(r, f) for f in fields} for r in Rule.objects.all()}
    assert set(before) == {first.id, second.id}
    response = export(api, {"type": ["action", "alert"]})
    data = response.content
    assert SECRET not in data.decode()

    Rule.objects.all().delete()
    Connector.objects.all().delete()
    body = upload(api, data).json()

    assert body["success"] is True, body
    assert body["successCount"] == 3
    assert [w["message"] for w in body["warnings"]] == [
        "1 connector has sensitive information that require updates.",
        "2 rules must be enabled after the import.",
    ]
    after = {r.id: {f: getattr(r, f) for f in fields} for r in Rule.objects.all()}
    assert after == before
    assert not Rule.objects.filter(enabled=True).exists()
    assert Connector.objects.get(pk=hook.id).name == "Hook"
    again = export_lines(export(api, {"type": ["action", "alert"]}))
    original = [json.loads(line) for line in data.decode().splitlines()]
    strip = ("updated_at", "version", "created_at")

    def comparable(lines):
        out = []
        for line in lines[:-1]:
            if line["type"] != "alert":  # a connector's config comes back validated (defaults filled)
                out.append((line["id"], line["attributes"]["name"], line["attributes"]["actionTypeId"]))
                continue
            line = {k: v for k, v in line.items() if k not in strip}
            attributes = dict(line["attributes"])
            for key in ("createdAt", "updatedAt", "executionStatus"):
                attributes.pop(key, None)
            line["attributes"] = attributes
            out.append(line)
        return out

    assert comparable(again) == comparable(original)


def test_a_rule_whose_connector_in_the_file_fails_to_import_is_missing_references(api, default_space):
    broken = connector_line(LOG_ID, type_id=".not-a-type")
    body = upload(api, ndjson(broken, rule_line())).json()

    assert [e["error"]["type"] for e in body["errors"]] == ["unknown", "missing_references"]
    assert body["errors"][1]["error"]["references"] == [{"type": "action", "id": LOG_ID}]
    assert not Rule.objects.exists()


def test_a_rule_is_not_written_when_its_connector_is_refused_at_write_time(api, default_space):
    bad_id = "x" * 100  # passes the file checks, refused as a connector id
    body = upload(api, ndjson(connector_line(bad_id), rule_line(connector_id=bad_id))).json()

    assert [e["type"] for e in body["errors"]] == ["action", "alert"]
    assert body["errors"][1]["error"] == {
        "type": "missing_references",
        "references": [{"type": "action", "id": bad_id}],
    }
    assert not Rule.objects.exists()


def test_a_preconfigured_connector_is_exported_as_kibanas_preconfigured_action_ref(
    api, default_space, kibana_settings
):
    kibana_settings.set(
        {"xpack.actions.preconfigured": {"my-log": {"actionTypeId": ".server-log", "name": "Preset log"}}}
    )
    body = threshold_rule_body("my-log")
    body["actions"][0]["params"] = {"message": "{{context.message}}"}
    rule = create_rule(default_space, body, user="elastic")

    lines = export_lines(
        export(api, {"objects": [{"type": "alert", "id": rule.id}], "includeReferencesDeep": True})
    )

    assert lines[0]["attributes"]["actions"][0]["actionRef"] == "preconfigured:my-log"
    assert lines[0]["references"] == []
    assert lines[-1]["missingRefCount"] == 0 and lines[-1]["exportedCount"] == 1

    Rule.objects.all().delete()
    imported = upload(api, ndjson(lines[0])).json()
    assert imported["success"] is True, imported
    assert Rule.objects.get(pk=rule.id).actions[0]["id"] == "my-log"


def test_exporting_every_type_includes_connectors_then_rules(api, default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")

    lines = export_lines(export(api, {"type": "*"}))

    assert [(line["type"], line["id"]) for line in lines[:-1]] == [("action", hook.id), ("alert", rule.id)]


def test_rules_of_another_space_are_not_exported(api, default_space, other_space):
    hook = make_webhook(other_space, "http://127.0.0.1:9/hook")
    create_rule(other_space, threshold_rule_body(hook.id), user="elastic")

    assert export_lines(export(api, {"type": "alert"}))[-1]["exportedCount"] == 0
    assert export_lines(export(api, {"type": "alert"}, prefix="/s/marketing"))[-1]["exportedCount"] == 1


def _with(line: dict, *, action: dict | None = None, **attributes) -> dict:
    line["attributes"].update(attributes)
    if action is not None:
        line["attributes"]["actions"][0].update(action)
    return line


PREFIX = "Failed to validate actions due to the following error: "


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            _with(rule_line(), action={"group": "no such group"}),
            PREFIX + "Invalid action groups: no such group",
        ),
        (
            _with(rule_line(), action={"group": None}),
            f"Group is not defined in action {LOG_ID}",
        ),
        (
            _with(
                rule_line(),
                throttle="1h",
                notifyWhen="onThrottleInterval",
                action={"frequency": {"summary": False, "notifyWhen": "onActiveAlert", "throttle": None}},
            ),
            PREFIX + "Cannot specify per-action frequency params when notify_when or throttle are defined "
            "at the rule level: threshold met",
        ),
        (
            _with(rule_line(), notifyWhen=None, throttle=None),
            PREFIX + "Actions missing frequency parameters: threshold met",
        ),
        (
            _with(
                rule_line(),
                notifyWhen=None,
                schedule={"interval": "1h"},
                action={
                    "frequency": {"summary": False, "notifyWhen": "onThrottleInterval", "throttle": "1m"}
                },
            ),
            PREFIX
            + "Action frequency cannot be shorter than the schedule interval of 1h: threshold met (1m)",
        ),
    ],
)
def test_an_imported_rule_that_the_rule_routes_would_refuse_is_a_per_object_error_with_their_message(
    api, default_space, line, message
):
    body = upload(api, ndjson(connector_line(LOG_ID), line)).json()

    assert body["successCount"] == 1  # the connector
    assert body["errors"] == [
        {
            "id": RULE_ID,
            "type": "alert",
            "meta": {"title": "Rule: [cpu]"},
            "error": {"type": "unknown", "message": message, "statusCode": 400},
        }
    ]
    assert not Rule.objects.exists()
    assert Connector.objects.filter(pk=LOG_ID).exists()


def test_an_imported_rule_whose_connector_still_needs_its_secrets_imports_as_kibanas_does(api, default_space):
    # Connectors travel without secrets: the route's "Invalid connectors" check is not an import check.
    hook = connector_line(
        LOG_ID,
        type_id=".webhook",
        config={"url": "https://hooks.example.com/", "hasAuth": True},
        missing=True,
    )
    body = upload(api, ndjson(hook, rule_line())).json()

    assert [e["error"] for e in body.get("errors", [])] == []
    assert Connector.objects.get(pk=LOG_ID).is_missing_secrets is True
    assert Rule.objects.get(pk=RULE_ID).actions[0]["id"] == LOG_ID
