"""The catalog II types as `GET /api/actions/connector_types` lists them (spec §2)."""

import pytest

GENAI = ["generativeAIForSecurity", "generativeAIForObservability", "generativeAIForSearchPlayground"]
CATALOG = {
    ".jira": ("Jira", "gold", ["alerting", "cases", "uptime", "siem"]),
    ".servicenow": ("ServiceNow ITSM", "platinum", ["alerting", "cases", "uptime", "siem"]),
    ".servicenow-sir": ("ServiceNow SecOps", "platinum", ["alerting", "cases", "siem"]),
    ".servicenow-itom": ("ServiceNow ITOM", "platinum", ["alerting", "siem"]),
    ".swimlane": ("Swimlane", "gold", ["alerting", "cases", "siem"]),
    ".resilient": ("IBM Resilient", "platinum", ["alerting", "cases", "siem"]),
    ".thehive": ("TheHive", "platinum", ["alerting", "siem", "uptime", "cases"]),
    ".cases-webhook": ("Webhook - Case Management", "gold", ["cases"]),
    ".gen-ai": ("OpenAI", "enterprise", GENAI),
    ".bedrock": ("Amazon Bedrock", "enterprise", [*GENAI]),
    ".gemini": ("Google Gemini", "enterprise", [*GENAI]),
}


def test_every_catalog_ii_type_is_listed_with_kibanas_identity(api):
    response = api.get("/api/actions/connector_types")
    assert response.status_code == 200
    listed = {t["id"]: t for t in response.json()}
    for type_id, (name, license_, features) in CATALOG.items():
        entry = listed[type_id]
        assert entry["name"] == name
        assert entry["minimum_license_required"] == license_
        assert sorted(entry["supported_feature_ids"]) == sorted(features)
        assert entry["is_system_action_type"] is False


@pytest.mark.parametrize("feature", GENAI)
def test_the_generative_ai_features_list_exactly_the_ai_types(api, feature):
    response = api.get(f"/api/actions/connector_types?feature_id={feature}")
    assert response.status_code == 200
    assert sorted(t["id"] for t in response.json()) == [".bedrock", ".gemini", ".gen-ai"]


def test_the_cases_feature_lists_the_case_management_types(api):
    ids = {t["id"] for t in api.get("/api/actions/connector_types?feature_id=cases").json()}
    assert {
        ".jira",
        ".servicenow",
        ".servicenow-sir",
        ".swimlane",
        ".resilient",
        ".thehive",
        ".cases-webhook",
    } <= ids
    assert not ids & {".gen-ai", ".bedrock", ".gemini", ".servicenow-itom"}


def test_the_uptime_feature_leaves_out_types_without_it(api):
    ids = {t["id"] for t in api.get("/api/actions/connector_types?feature_id=uptime").json()}
    assert {".jira", ".servicenow", ".thehive"} <= ids
    assert not ids & {".servicenow-sir", ".servicenow-itom", ".swimlane", ".resilient", ".cases-webhook"}


def test_a_deprecated_servicenow_connector_is_flagged(api):
    created = api.post(
        "/api/actions/connector",
        {
            "name": "old sn",
            "connector_type_id": ".servicenow",
            "config": {"apiUrl": "https://dev.example.com", "usesTableApi": True},
            "secrets": {"username": "a", "password": "b"},
        },
        format="json",
    )
    assert created.status_code == 200, created.json()
    assert created.json()["is_deprecated"] is True
    assert "secrets" not in created.json()
    fresh = api.post(
        "/api/actions/connector",
        {
            "name": "new sn",
            "connector_type_id": ".servicenow",
            "config": {"apiUrl": "https://dev.example.com", "usesTableApi": False},
            "secrets": {"username": "a", "password": "b"},
        },
        format="json",
    )
    assert fresh.json()["is_deprecated"] is False


def test_the_start_up_checks_accept_every_catalog_ii_type():
    from django.core import checks

    errors = [e for e in checks.run_checks(tags=["connectors"]) if e.id == "connectors.E001"]
    assert errors == []


def test_an_openai_connector_stores_only_the_given_config_plus_the_default_model(api):
    response = api.post(
        "/api/actions/connector",
        {
            "name": "A genAi action",
            "connector_type_id": ".gen-ai",
            "config": {"apiProvider": "OpenAI", "apiUrl": "https://api.openai.com/v1/chat/completions"},
            "secrets": {"apiKey": "sk-catalog-marker"},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {
        "apiProvider": "OpenAI",
        "apiUrl": "https://api.openai.com/v1/chat/completions",
        "defaultModel": "gpt-4.1",
    }
    assert "sk-catalog-marker" not in response.content.decode()
