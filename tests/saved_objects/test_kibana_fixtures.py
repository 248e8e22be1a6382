"""Real Kibana files: the 7.14 export of 14 connectors and 9 rules, and the kbn_archiver connector of
an unregistered type."""

import json

from actions.models import Rule
from connectors.models import Connector
from tests.saved_objects.conftest import ARCHIVER_UNSUPPORTED, EXPORT_714, upload


def _fixture_lines():
    return [json.loads(line) for line in EXPORT_714.read_text().splitlines() if line.strip()]


def test_importing_the_714_export_creates_all_14_connectors_with_kibanas_missing_secrets(api, fixture_types):
    response = upload(api, EXPORT_714.read_bytes())

    assert response.status_code == 200
    body = response.json()
    expected = {
        line["id"]: line["attributes"]["isMissingSecrets"]
        for line in _fixture_lines()
        if line.get("type") == "action"
    }
    assert len(expected) == 14
    connectors = [r for r in body["successResults"] if r["type"] == "action"]
    assert {r["id"] for r in connectors} == set(expected)
    assert all("destinationId" not in r for r in body["successResults"])
    stored = dict(Connector.objects.filter(space_id="default").values_list("id", "is_missing_secrets"))
    assert stored == expected
    assert sum(expected.values()) == 9


def test_the_714_import_warns_about_nine_connectors_and_one_rule(api, fixture_types):
    body = upload(api, EXPORT_714.read_bytes()).json()

    assert body["warnings"] == [
        {
            "type": "action_required",
            "message": "9 connectors have sensitive information that require updates.",
            "actionPath": "/app/management/insightsAndAlerting/triggersActionsConnectors",
            "buttonLabel": "Go to connectors",
        },
        {
            "type": "action_required",
            "message": "1 rule must be enabled after the import.",
            "actionPath": "/app/management/insightsAndAlerting/triggersActions/rules",
            "buttonLabel": "Go to rules",
        },
    ]


# The 7.14 export's rules by rule type (spec kibana-rules.md §7.5): only `.index-threshold` is a type
# this service has; the other eight (two more Stack types, Observability, Synthetics, ML) are not.
INDEX_THRESHOLD_RULE = "a0bfd5d0-d9a5-11eb-881a-218d2e96295d"


def test_the_714_index_threshold_rule_is_imported_disabled_with_its_nine_connectors(api, fixture_types):
    body = upload(api, EXPORT_714.read_bytes()).json()

    rules = [r for r in body["successResults"] if r["type"] == "alert"]
    assert rules == [
        {
            "type": "alert",
            "id": INDEX_THRESHOLD_RULE,
            "meta": {"title": "Rule: [index threshold rule with actions]"},
            "managed": False,
        }
    ]
    rule = Rule.objects.get(pk=INDEX_THRESHOLD_RULE)
    assert rule.space_id == "default"
    assert rule.enabled is False
    assert rule.next_run_at is None
    assert rule.rule_type_id == ".index-threshold"
    line = next(x for x in _fixture_lines() if x.get("id") == INDEX_THRESHOLD_RULE)
    refs = {ref["name"]: ref["id"] for ref in line["references"]}
    assert [a["id"] for a in rule.actions] == [refs[a["actionRef"]] for a in line["attributes"]["actions"]]
    assert len(rule.actions) == 9
    assert all(Connector.objects.filter(pk=a["id"], space_id="default").exists() for a in rule.actions)
    assert rule.params["threshold"] == [1000]
    api_rule = api.get(f"/api/alerting/rule/{INDEX_THRESHOLD_RULE}").json()
    assert api_rule["enabled"] is False
    assert api_rule["name"] == "index threshold rule with actions"


def test_the_eight_714_rules_of_types_we_do_not_have_are_unsupported_type(api, fixture_types):
    body = upload(api, EXPORT_714.read_bytes()).json()

    unsupported = [
        line["id"]
        for line in _fixture_lines()
        if line.get("type") == "alert" and line["attributes"]["alertTypeId"] != ".index-threshold"
    ]
    assert len(unsupported) == 8
    assert body["success"] is False
    assert body["successCount"] == 15
    assert [(e["type"], e["id"]) for e in body["errors"]] == [("alert", i) for i in unsupported]
    assert all(e["error"] == {"type": "unsupported_type"} for e in body["errors"])
    assert all(e["meta"]["title"].startswith("Rule: [") for e in body["errors"])
    assert list(Rule.objects.values_list("id", flat=True)) == [INDEX_THRESHOLD_RULE]


def test_714_connectors_get_kibanas_later_migrations(api, fixture_types):
    upload(api, EXPORT_714.read_bytes())

    servicenow = Connector.objects.get(pk="be5c5c40-d9a4-11eb-881a-218d2e96295d")
    assert servicenow.config["usesTableApi"] is True  # 7.16.0 migration
    email = Connector.objects.get(pk="711e30c0-d9a4-11eb-881a-218d2e96295d")
    assert email.config["service"] == "other"  # 7.16.0: a null service becomes "other"
    listed = api.get("/api/actions/connector/be5c5c40-d9a4-11eb-881a-218d2e96295d").json()
    assert listed["is_deprecated"] is True
    assert listed["is_missing_secrets"] is True


def test_the_archiver_connector_of_an_unregistered_type_gets_kibanas_unknown_type_error(api):
    response = upload(api, ARCHIVER_UNSUPPORTED.read_bytes(), filename=ARCHIVER_UNSUPPORTED.name)

    assert response.status_code == 200
    assert response.json() == {
        "successCount": 0,
        "success": False,
        "warnings": [],
        "errors": [
            {
                "id": "e6dca811-c3c1-4eca-8eb0-54c792c0b662",
                "type": "action",
                "meta": {"title": "Connector: [Invalid connector]"},
                "error": {
                    "type": "unknown",
                    "message": 'Action type ".invalid-type" is not registered.',
                    "statusCode": 400,
                },
            }
        ],
    }
    assert not Connector.objects.exists()


def test_the_archiver_connector_as_one_ndjson_line_gives_the_same_error(api):
    line = json.dumps(json.loads(ARCHIVER_UNSUPPORTED.read_text())).encode()
    body = upload(api, line).json()
    assert body["errors"][0]["error"]["message"] == 'Action type ".invalid-type" is not registered.'
