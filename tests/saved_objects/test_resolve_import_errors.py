"""`POST /api/saved_objects/_resolve_import_errors`: only the retried objects are written, each as its
retry says (overwrite, destinationId, replaceReferences, ignoreMissingReferences); Kibana's checks."""

import io
import json

import pytest

from actions.models import Rule
from connectors.models import Connector
from tests.api.conftest import error
from tests.saved_objects.conftest import connector_line, ndjson, upload
from tests.saved_objects.test_rules import LOG_ID, RULE_ID, rule_line

ID_A = "aaaaaaaa-0000-4000-8000-000000000001"
ID_B = "bbbbbbbb-0000-4000-8000-000000000002"
ID_C = "cccccccc-0000-4000-8000-000000000003"


def resolve(api, data: bytes, retries, *, query: str = "", prefix: str = "", filename="export.ndjson"):
    handle = io.BytesIO(data)
    handle.name = filename
    return api.post(
        f"{prefix}/api/saved_objects/_resolve_import_errors{('?' + query) if query else ''}",
        {"file": handle, "retries": retries if isinstance(retries, str) else json.dumps(retries)},
        format="multipart",
    )


def existing(space, connector_id=ID_A, name="old name"):
    connector = Connector(id=connector_id, space=space, name=name, connector_type_id=".server-log")
    connector.set_secrets({})
    connector.save()
    return connector


def test_after_a_conflict_an_overwrite_retry_replaces_only_that_object(api, default_space):
    existing(default_space)
    existing(default_space, ID_B, name="b stays")
    data = ndjson(connector_line(ID_A, name="new a"), connector_line(ID_B, name="new b"))
    first = upload(api, data).json()
    assert {e["id"] for e in first["errors"]} == {ID_A, ID_B}

    body = resolve(api, data, [{"type": "action", "id": ID_A, "overwrite": True}]).json()

    assert body == {
        "successCount": 1,
        "success": True,
        "warnings": [],
        "successResults": [
            {
                "type": "action",
                "id": ID_A,
                "meta": {"title": "Connector: [new a]"},
                "overwrite": True,
                "managed": False,
            }
        ],
    }
    assert Connector.objects.get(pk=ID_A).name == "new a"
    assert Connector.objects.get(pk=ID_B).name == "b stays"  # not named in retries: skipped


def test_objects_not_in_retries_are_ignored_even_when_new(api, default_space):
    data = ndjson(connector_line(ID_A, name="a"), connector_line(ID_B, name="b"))

    body = resolve(api, data, [{"type": "action", "id": ID_B}]).json()

    assert [r["id"] for r in body["successResults"]] == [ID_B]
    assert list(Connector.objects.values_list("id", flat=True)) == [ID_B]


def test_a_retry_without_overwrite_still_conflicts(api, default_space):
    existing(default_space)

    body = resolve(api, ndjson(connector_line(ID_A, name="new")), [{"type": "action", "id": ID_A}]).json()

    assert body["success"] is False
    assert body["errors"][0]["error"] == {"type": "conflict"}
    assert Connector.objects.get(pk=ID_A).name == "old name"


def test_a_destination_id_writes_a_new_copy_under_that_id(api, default_space):
    existing(default_space)
    retries = [{"type": "action", "id": ID_A, "destinationId": ID_C, "createNewCopy": True}]

    body = resolve(api, ndjson(connector_line(ID_A, name="copy")), retries).json()

    assert body["successResults"] == [
        {
            "type": "action",
            "id": ID_A,
            "meta": {"title": "Connector: [copy]"},
            "destinationId": ID_C,
            "createNewCopy": True,
            "managed": False,
        }
    ]
    assert Connector.objects.get(pk=ID_A).name == "old name"
    assert Connector.objects.get(pk=ID_C).name == "copy"


def test_replace_references_points_a_rule_at_another_connector(api, default_space):
    existing(default_space, ID_C, name="the log connector here")
    data = ndjson(rule_line())  # references LOG_ID, which is neither in the file nor the space
    assert upload(api, data).json()["errors"][0]["error"]["type"] == "missing_references"

    retries = [
        {
            "type": "alert",
            "id": RULE_ID,
            "replaceReferences": [{"type": "action", "from": LOG_ID, "to": ID_C}],
        }
    ]
    body = resolve(api, data, retries).json()

    assert body["success"] is True, body
    assert Rule.objects.get(pk=RULE_ID).actions[0]["id"] == ID_C


def test_ignore_missing_references_writes_the_rule_disabled_with_its_missing_connector_as_kibana_does(
    api, default_space
):
    data = ndjson(rule_line())
    retries = [{"type": "alert", "id": RULE_ID, "ignoreMissingReferences": True}]

    body = resolve(api, data, retries).json()

    # The caller asked for it (say the connectors come in a later file): the rule is written as it
    # is, disabled, and uses the connector once it is in the space.
    assert body["success"] is True, body
    rule = Rule.objects.get(pk=RULE_ID)
    assert rule.enabled is False
    assert rule.actions[0]["id"] == LOG_ID
    # Without the flag the same file is still refused: the check is skipped only when asked.
    Rule.objects.all().delete()
    body = resolve(api, data, [{"type": "alert", "id": RULE_ID}]).json()
    assert body["errors"][0]["error"]["type"] == "missing_references"
    assert not Rule.objects.exists()


def test_ignore_missing_references_does_not_skip_the_rule_routes_checks(api, default_space):
    line = rule_line()
    line["attributes"]["actions"][0]["group"] = "no such group"
    retries = [{"type": "alert", "id": RULE_ID, "ignoreMissingReferences": True}]

    body = resolve(api, ndjson(line), retries).json()

    assert body["errors"][0]["error"] == {
        "type": "unknown",
        "message": "Failed to validate actions due to the following error: Invalid action groups: no such group",
        "statusCode": 400,
    }
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("retries", "message"),
    [
        (
            [{"type": "action", "id": ID_A}, {"type": "action", "id": ID_A, "overwrite": True}],
            f"Non-unique retry objects: [action:{ID_A}]",
        ),
        (
            [
                {"type": "action", "id": ID_A, "destinationId": ID_C},
                {"type": "action", "id": ID_B, "destinationId": ID_C},
            ],
            f"Non-unique retry destinations: [action:{ID_C}]",
        ),
    ],
)
def test_non_unique_retries_are_a_400_and_nothing_is_written(api, default_space, retries, message):
    data = ndjson(connector_line(ID_A), connector_line(ID_B))

    response = resolve(api, data, retries)

    assert response.status_code == 400
    assert response.json() == error(400, message)
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        (
            {"type": "connector", "to": "x"},
            "[request body.retries.0.replaceReferences.0.from]: expected value of type [string] but got [undefined]",
        ),
        (
            {"type": "connector", "from": "a", "to": "b", "extra": 1},
            "[request body.retries.0.replaceReferences.0.extra]: definition for this key is missing",
        ),
        (
            "connector:a:b",
            "[request body.retries.0.replaceReferences.0]: expected a plain object value, but found [string] instead.",
        ),
    ],
)
def test_replace_references_entries_are_validated_as_kibanas_object_schema(
    api, default_space, replacement, message
):
    retries = [{"type": "action", "id": ID_A, "replaceReferences": [replacement]}]

    response = resolve(api, ndjson(connector_line(ID_A)), retries)

    assert response.json() == error(400, message)
    assert not Connector.objects.exists()


def test_kibanas_query_and_file_checks(api, default_space):
    data = ndjson(connector_line(ID_A))
    retries = [{"type": "action", "id": ID_A}]

    both = resolve(api, data, retries, query="createNewCopies=true&compatibilityMode=true")
    overwrite = resolve(api, data, retries, query="overwrite=true")
    extension = resolve(api, data, retries, filename="export.txt")
    bad_json = resolve(api, data, "not json")

    assert both.json() == error(400, "[request query]: cannot use [createNewCopies] with [compatibilityMode]")
    assert overwrite.json() == error(400, "[request query.overwrite]: definition for this key is missing")
    assert extension.json() == error(400, "Invalid file extension .txt")
    assert bad_json.json() == error(
        400, "[request body.retries]: could not parse array value from json input"
    )


def test_only_an_ndjson_file_is_accepted_as_in_kibanas_route(api, default_space):
    # SOR/resolve_import_errors.ts: `if (fileExtension !== '.ndjson') return res.badRequest(...)`.
    data = ndjson(connector_line(ID_A))
    retries = [{"type": "action", "id": ID_A}]

    as_json = resolve(api, data, retries, filename="export.json")
    upper_case = resolve(api, data, retries, filename="EXPORT.NDJSON")

    assert as_json.json() == error(400, "Invalid file extension .json")
    assert upper_case.status_code == 200
    assert not Connector.objects.exclude(pk=ID_A).exists()


def test_an_unparsable_file_is_a_400_even_where_no_retry_names_the_bad_line(api, default_space):
    # SOR/resolve_import_errors.ts parses the whole stream first and answers its SyntaxError as a 400
    # (`_import` here keeps its documented per-line errors).
    data = ndjson(connector_line(ID_A)) + b"not json\n"

    response = resolve(api, data, [{"type": "action", "id": ID_A}])

    assert response.status_code == 400
    assert response.json()["message"].startswith("Unexpected token in JSON at line 2: ")
    assert not Connector.objects.exists()


def test_create_new_copies_gives_retried_objects_new_ids(api, default_space):
    existing(default_space)

    body = resolve(
        api,
        ndjson(connector_line(ID_A, name="c")),
        [{"type": "action", "id": ID_A}],
        query="createNewCopies=true",
    ).json()

    [result] = body["successResults"]
    assert result["destinationId"] not in (ID_A, None)
    assert Connector.objects.count() == 2


def test_the_query_flags_are_config_schema_booleans_in_any_case_and_empty_is_a_400(api, default_space):
    existing(default_space)
    line = ndjson(connector_line(ID_A, name="c"))
    retries = [{"type": "action", "id": ID_A}]

    upper = resolve(api, line, retries, query="createNewCopies=TRUE")
    bare = resolve(api, line, retries, query="createNewCopies")

    assert upper.json()["successResults"][0]["destinationId"] not in (ID_A, None)
    assert bare.json() == error(
        400, "[request query.createNewCopies]: expected value of type [boolean] but got [string]"
    )


def test_it_works_under_a_space_prefix_and_needs_the_all_privilege(
    api, default_space, other_space, django_user_model
):
    from rest_framework.test import APIClient

    from connectors.models import SpacePrivilege
    from tests.conftest import basic_auth

    body = resolve(
        api, ndjson(connector_line(ID_A)), [{"type": "action", "id": ID_A}], prefix="/s/marketing"
    ).json()
    assert body["success"] is True
    assert Connector.objects.get(pk=ID_A).space_id == "marketing"

    reader = django_user_model.objects.create_user("reader", password="pw-for-reader")
    SpacePrivilege.objects.create(space_id="default", user=reader, privilege="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("reader", "pw-for-reader"), HTTP_KBN_XSRF="true")
    denied = resolve(client, ndjson(connector_line(ID_B)), [{"type": "action", "id": ID_B}])
    assert denied.json() == error(403, "Unable to bulk_create action")
