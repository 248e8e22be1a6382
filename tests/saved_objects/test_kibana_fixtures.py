"""Real Kibana files: the 7.14 export of 14 connectors and 9 rules, and the kbn_archiver connector of
an unregistered type."""

import json

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
    assert body["successCount"] == 14
    assert {r["id"] for r in body["successResults"]} == set(expected)
    assert all(r["type"] == "action" and "destinationId" not in r for r in body["successResults"])
    stored = dict(Connector.objects.filter(space_id="default").values_list("id", "is_missing_secrets"))
    assert stored == expected
    assert sum(expected.values()) == 9


def test_the_714_import_warns_that_nine_connectors_need_their_secrets(api, fixture_types):
    body = upload(api, EXPORT_714.read_bytes()).json()

    assert body["warnings"] == [
        {
            "type": "action_required",
            "message": "9 connectors have sensitive information that require updates.",
            "actionPath": "/app/management/insightsAndAlerting/triggersActionsConnectors",
            "buttonLabel": "Go to connectors",
        }
    ]


def test_the_nine_rules_of_the_714_export_are_reported_as_unsupported_type(api, fixture_types):
    body = upload(api, EXPORT_714.read_bytes()).json()

    rule_ids = [line["id"] for line in _fixture_lines() if line.get("type") == "alert"]
    assert len(rule_ids) == 9
    assert body["success"] is False
    assert [(e["type"], e["id"]) for e in body["errors"]] == [("alert", i) for i in rule_ids]
    assert all(e["error"] == {"type": "unsupported_type"} for e in body["errors"])


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
