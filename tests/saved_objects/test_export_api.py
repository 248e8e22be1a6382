"""`POST /api/saved_objects/_export`: Kibana's 8.8+ lines, the summary line, errors and privileges."""

import json

import pytest

from connectors.models import Connector, SpacePrivilege
from tests.conftest import basic_auth
from tests.saved_objects.conftest import export, export_lines

SECRET = "export-marker-7f3a9c"


def make(space, name, type_id, config=None, secrets=None, connector_id=None):
    connector = Connector(space=space, name=name, connector_type_id=type_id, config=config or {})
    if connector_id:
        connector.id = connector_id
    connector.set_secrets(secrets or {})
    connector.save()
    return connector


@pytest.fixture
def connectors(default_space):
    return {
        "log": make(default_space, "a log", ".server-log"),
        "index": make(default_space, "an index", ".index", {"index": "x", "refresh": False}),
        "hook_auth": make(
            default_space,
            "hook with auth",
            ".webhook",
            {"url": "https://example.com", "hasAuth": True},
            {"user": "u", "password": SECRET},
        ),
        "hook_open": make(
            default_space, "hook without auth", ".webhook", {"url": "https://example.com", "hasAuth": False}
        ),
    }


def test_it_exports_connectors_in_kibanas_88_line_format_with_a_summary(api, connectors):
    lines = export_lines(export(api, {"type": "action"}))

    assert len(lines) == 5
    log_line = next(line for line in lines[:-1] if line["id"] == connectors["log"].id)
    assert sorted(log_line) == [
        "attributes",
        "coreMigrationVersion",
        "created_at",
        "id",
        "managed",
        "references",
        "type",
        "typeMigrationVersion",
        "updated_at",
        "version",
    ]
    assert log_line["attributes"] == {
        "actionTypeId": ".server-log",
        "config": {},
        "isMissingSecrets": False,
        "name": "a log",
        "secrets": {},
    }
    assert log_line["type"] == "action" and log_line["references"] == [] and log_line["managed"] is False
    assert log_line["coreMigrationVersion"] == "8.8.0"
    assert lines[-1] == {
        "excludedObjects": [],
        "excludedObjectsCount": 0,
        "exportedCount": 4,
        "missingRefCount": 0,
        "missingReferences": [],
    }


def test_the_response_is_ndjson_with_sorted_keys_and_no_secret(api, connectors):
    response = export(api, {"type": ["action"]})

    assert response["Content-Type"] == "application/ndjson"
    assert 'filename="export.ndjson"' in response["Content-Disposition"]
    text = response.content.decode()
    assert SECRET not in text
    assert text.endswith("\n")
    assert text.splitlines()[0].startswith('{"attributes":{"actionTypeId":')


def test_is_missing_secrets_is_decided_at_export_time_as_kibana_decides(api, connectors):
    lines = {line["id"]: line for line in export_lines(export(api, {"type": "*"}))[:-1]}

    # server-log and index have no secrets; webhook's are optional, so hasAuth decides.
    assert lines[connectors["log"].id]["attributes"]["isMissingSecrets"] is False
    assert lines[connectors["index"].id]["attributes"]["isMissingSecrets"] is False
    assert lines[connectors["hook_auth"].id]["attributes"]["isMissingSecrets"] is True
    assert lines[connectors["hook_open"].id]["attributes"]["isMissingSecrets"] is False


def test_it_exports_chosen_objects_and_can_leave_out_the_summary(api, connectors):
    lines = export_lines(
        export(
            api,
            {
                "objects": [{"type": "action", "id": connectors["index"].id}],
                "excludeExportDetails": True,
                "includeReferencesDeep": True,
            },
        )
    )
    assert [line["id"] for line in lines] == [connectors["index"].id]


def test_an_unknown_object_is_kibanas_fetch_error(api, connectors):
    response = export(api, {"objects": [{"type": "action", "id": "nope"}]})

    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Error fetching objects to export",
        "attributes": {
            "objects": [
                {
                    "id": "nope",
                    "type": "action",
                    "error": {
                        "statusCode": 404,
                        "error": "Not Found",
                        "message": "Saved object [action/nope] not found",
                    },
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Either `type` or `objects` are required."),
        (
            {"type": "action", "objects": [{"type": "action", "id": "x"}]},
            'Can\'t specify both "types" and "objects" properties when exporting',
        ),
        ({"type": "dashboard"}, "Trying to export non-exportable type(s): dashboard"),
        (
            {"objects": [{"type": "dashboard", "id": "d1"}]},
            "Trying to export object(s) with non-exportable types: dashboard:d1",
        ),
        ({"type": "action", "bogus": 1}, "[request body.bogus]: definition for this key is missing"),
        (
            {"type": "action", "includeReferencesDeep": "yes"},
            "[request body.includeReferencesDeep]: expected value of type [boolean] but got [string]",
        ),
    ],
)
def test_bad_export_requests_get_kibanas_400(api, body, message):
    response = export(api, body)
    assert response.status_code == 400
    assert response.json()["message"] == message


def test_the_export_only_sees_the_spaces_own_connectors(api, connectors, other_space):
    theirs = make(other_space, "marketing log", ".server-log")

    default_ids = {line["id"] for line in export_lines(export(api, {"type": "action"}))[:-1]}
    marketing_ids = {
        line["id"] for line in export_lines(export(api, {"type": "action"}, prefix="/s/marketing"))[:-1]
    }

    assert theirs.id not in default_ids
    assert marketing_ids == {theirs.id}


def test_exporting_more_objects_than_the_limit_is_refused(api, connectors, kibana_settings):
    kibana_settings.set({"savedObjects.maxImportExportSize": 2})
    response = export(api, {"type": "action"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Can't export more than 2 objects")


@pytest.fixture
def reader(db, django_user_model, default_space):
    user = django_user_model.objects.create_user("reader", password="reader-pass-1")
    SpacePrivilege.objects.create(space=default_space, user=user, privilege="read")
    return user


def test_read_privilege_can_export_but_not_with_secrets(client, reader, connectors):
    auth = {"HTTP_AUTHORIZATION": basic_auth("reader", "reader-pass-1"), "HTTP_KBN_XSRF": "x"}
    plain = client.post(
        "/api/saved_objects/_export", {"type": "action"}, content_type="application/json", **auth
    )
    with_secrets = client.post(
        "/api/saved_objects/_export",
        {"type": "action", "passphrase": "correct horse"},
        content_type="application/json",
        **auth,
    )

    assert plain.status_code == 200
    assert with_secrets.status_code == 403


def test_no_privilege_means_403(client, db, django_user_model, default_space, connectors):
    django_user_model.objects.create_user("nobody", password="nobody-pass-1")
    response = client.post(
        "/api/saved_objects/_export",
        {"type": "action"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("nobody", "nobody-pass-1"),
        HTTP_KBN_XSRF="x",
    )
    assert response.status_code == 403
    assert response.json()["statusCode"] == 403


def test_export_needs_the_kbn_xsrf_header(api, connectors):
    api.credentials(HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"])
    response = export(api, {"type": "action"})
    assert response.status_code == 400
    assert response.json()["message"] == "Request must contain a kbn-xsrf header."


def test_search_narrows_a_type_export_by_title_words(api, connectors):
    lines = export_lines(export(api, {"type": "action", "search": "hook*", "excludeExportDetails": True}))
    assert sorted(line["attributes"]["name"] for line in lines) == ["hook with auth", "hook without auth"]
    exact = export_lines(export(api, {"type": "action", "search": "index", "excludeExportDetails": True}))
    assert [line["id"] for line in exact] == [connectors["index"].id]
    partial = export_lines(export(api, {"type": "action", "search": "ind", "excludeExportDetails": True}))
    assert partial == []  # without `*` a word must match whole


def test_search_cannot_be_combined_with_objects(api, connectors):
    response = export(api, {"objects": [{"type": "action", "id": connectors["log"].id}], "search": "x"})
    assert response.status_code == 400
    assert (
        response.json()["message"] == 'Can\'t specify both "search" and "objects" properties when exporting'
    )


def test_an_export_by_type_keeps_only_objects_that_reference_has_reference(api, default_space):
    from actions.rules import create_rule
    from tests.actions.helpers import make_webhook, threshold_rule_body

    first = make_webhook(default_space, "http://127.0.0.1:9/first")
    second = make_webhook(default_space, "http://127.0.0.1:9/second")
    uses_first = create_rule(default_space, threshold_rule_body(first.id), user="elastic")
    create_rule(default_space, threshold_rule_body(second.id), user="elastic")

    single = export_lines(
        export(
            api,
            {
                "type": "alert",
                "hasReference": {"type": "action", "id": first.id},
                "excludeExportDetails": True,
            },
        )
    )
    assert [line["id"] for line in single] == [uses_first.id]
    either = export_lines(
        export(
            api,
            {
                "type": ["alert", "action"],
                "hasReference": [{"type": "action", "id": first.id}, {"type": "action", "id": second.id}],
                "excludeExportDetails": True,
            },
        )
    )
    assert sorted(line["type"] for line in either) == ["alert", "alert"]


def test_has_reference_with_objects_or_of_the_wrong_shape_is_refused_as_kibana_does(api, connectors):
    log = connectors["log"]
    response = export(
        api, {"objects": [{"type": "action", "id": log.id}], "hasReference": {"type": "action", "id": log.id}}
    )
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == 'Can\'t specify both "references" and "objects" properties when exporting'
    )
    response = export(api, {"type": "action", "hasReference": {"id": log.id}})
    assert response.status_code == 400
    assert response.json()["message"].startswith("[request body.hasReference]:")


def test_an_export_body_with_its_flags_as_the_strings_true_is_read_as_config_schema_coerces_booleans(
    api, connectors
):
    lines = export_lines(
        export(
            api,
            {
                "objects": [{"type": "action", "id": connectors["index"].id}],
                "excludeExportDetails": "TRUE",
                "includeReferencesDeep": "true",
            },
        )
    )
    assert [line["id"] for line in lines] == [connectors["index"].id]


def test_an_export_body_sent_as_json_text_is_parsed_as_config_schema_parses_an_object(api, connectors):
    """Kibana's export body is a schema.object, which JSON.parses a string given for it."""
    text = json.dumps(json.dumps({"objects": [{"type": "action", "id": connectors["index"].id}]}))
    response = api.post("/api/saved_objects/_export", text, content_type="application/json")
    assert export_lines(response)[0]["id"] == connectors["index"].id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"not json"', "[request body]: could not parse object value from json input"),
        (
            json.dumps(json.dumps(7)),
            "[request body]: expected a plain object value, but found [number] instead.",
        ),
        ("[1]", "[request body]: expected a plain object value, but found [Array] instead."),
    ],
)
def test_an_export_body_that_is_not_an_object_answers_config_schemas_object_words(api, text, message):
    response = api.post("/api/saved_objects/_export", text, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"] == message
