"""`POST /api/saved_objects/_import`: conflict modes, bad input as per-object errors, limits."""

import json

import pytest

from connectors.models import Connector, SpacePrivilege
from tests.conftest import basic_auth
from tests.saved_objects.conftest import connector_line, ndjson, upload

ID_A = "aaaaaaaa-0000-4000-8000-000000000001"
ID_B = "bbbbbbbb-0000-4000-8000-000000000002"


def existing(space, connector_id=ID_A, name="old name"):
    connector = Connector(id=connector_id, space=space, name=name, connector_type_id=".server-log")
    connector.set_secrets({})
    connector.save()
    return connector


# ---- conflict modes ------------------------------------------------------------------------------


def test_a_new_object_is_created_with_its_own_id(api):
    body = upload(api, ndjson(connector_line(ID_A, name="new"))).json()

    assert body == {
        "successCount": 1,
        "success": True,
        "warnings": [],
        "successResults": [
            {"type": "action", "id": ID_A, "meta": {"title": "Connector: [new]"}, "managed": False}
        ],
    }
    assert Connector.objects.get(pk=ID_A).name == "new"


def test_by_default_an_existing_id_is_a_conflict_and_nothing_changes(api, default_space):
    existing(default_space)

    body = upload(api, ndjson(connector_line(ID_A, name="new"), connector_line(ID_B, name="b"))).json()

    assert body["success"] is False
    assert body["errors"] == [
        {"id": ID_A, "type": "action", "meta": {"title": "Connector: [new]"}, "error": {"type": "conflict"}}
    ]
    assert [r["id"] for r in body["successResults"]] == [ID_B]
    assert Connector.objects.get(pk=ID_A).name == "old name"


def test_overwrite_replaces_the_existing_object_and_says_so(api, default_space):
    old = existing(default_space)
    old.tokens.create(token_type="access_token", expires_at="2099-01-01T00:00:00Z", token_sealed="")

    body = upload(api, ndjson(connector_line(ID_A, name="new")), query="overwrite=true").json()

    assert body["success"] is True
    assert body["successResults"] == [
        {
            "type": "action",
            "id": ID_A,
            "meta": {"title": "Connector: [new]"},
            "overwrite": True,
            "managed": False,
        }
    ]
    connector = Connector.objects.get(pk=ID_A)
    assert connector.name == "new"
    assert not connector.tokens.exists()


def test_create_new_copies_gives_every_object_a_new_id(api, default_space):
    existing(default_space)

    body = upload(api, ndjson(connector_line(ID_A, name="copy")), query="createNewCopies=true").json()

    assert body["success"] is True
    [result] = body["successResults"]
    assert result["id"] == ID_A and result["destinationId"] != ID_A
    assert "createNewCopy" not in result
    assert Connector.objects.get(pk=result["destinationId"]).name == "copy"
    assert Connector.objects.get(pk=ID_A).name == "old name"


def test_an_id_taken_in_another_space_gets_a_new_id_as_in_kibana(api, other_space):
    existing(other_space)

    body = upload(api, ndjson(connector_line(ID_A, name="mine"))).json()

    [result] = body["successResults"]
    assert result["destinationId"] != ID_A
    assert result["createNewCopy"] is True
    assert Connector.objects.get(pk=ID_A).space_id == "marketing"
    assert Connector.objects.get(pk=result["destinationId"]).space_id == "default"


def test_compatibility_mode_imports_like_the_default_mode(api, default_space):
    existing(default_space)
    body = upload(
        api, ndjson(connector_line(ID_A), connector_line(ID_B)), query="compatibilityMode=true"
    ).json()
    assert [e["error"]["type"] for e in body["errors"]] == ["conflict"]
    assert [r["id"] for r in body["successResults"]] == [ID_B]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "overwrite=true&createNewCopies=true",
            "[request query]: cannot use [overwrite] with [createNewCopies]",
        ),
        (
            "createNewCopies=true&compatibilityMode=true",
            "[request query]: cannot use [createNewCopies] with [compatibilityMode]",
        ),
        ("overwrite=maybe", "[request query.overwrite]: expected value of type [boolean] but got [string]"),
        ("bogus=true", "[request query.bogus]: definition for this key is missing"),
    ],
)
def test_options_that_exclude_each_other_are_a_400(api, query, message):
    response = upload(api, ndjson(connector_line()), query=query)
    assert response.status_code == 400
    assert response.json()["message"] == message
    assert not Connector.objects.exists()


def test_the_missing_secrets_warning_is_given_in_every_conflict_mode(api, default_space):
    hook = connector_line(
        ID_A,
        name="hook",
        type_id=".webhook",
        config={"url": "https://h.example", "hasAuth": True},
        missing=True,
    )
    first = upload(api, ndjson(hook)).json()
    again = upload(api, ndjson(hook), query="overwrite=true").json()
    copies = upload(api, ndjson(hook), query="createNewCopies=true").json()
    compat = upload(api, ndjson(hook), query="overwrite=true&compatibilityMode=true").json()

    for body in (first, again, copies, compat):
        assert body["warnings"] == [
            {
                "type": "action_required",
                "message": "1 connector has sensitive information that require updates.",
                "actionPath": "/app/management/insightsAndAlerting/triggersActionsConnectors",
                "buttonLabel": "Go to connectors",
            }
        ]


def test_the_import_works_under_a_space_prefix(api, other_space):
    body = upload(api, ndjson(connector_line(ID_A)), prefix="/s/marketing").json()
    assert body["success"] is True
    assert Connector.objects.get(pk=ID_A).space_id == "marketing"


# ---- bad input: each a per-object error, the rest still imports ----------------------------------


def test_a_malformed_line_is_a_per_object_error_and_the_others_import(api):
    data = ndjson(connector_line(ID_A)) + b'{"type": "action", "id": \n' + ndjson(connector_line(ID_B))

    response = upload(api, data)

    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["successResults"]] == [ID_A, ID_B]
    [error] = body["errors"]
    assert error["error"]["type"] == "unknown"
    assert error["error"]["statusCode"] == 400
    assert error["error"]["message"].startswith("Line 2 is not a valid saved object")


def test_a_line_that_is_not_a_saved_object_is_a_per_object_error(api):
    body = upload(api, ndjson([1, 2], {"id": ID_B}, connector_line(ID_A))).json()
    assert [e["error"]["type"] for e in body["errors"]] == ["unknown", "unknown"]
    assert body["successCount"] == 1


def test_an_unknown_saved_object_type_is_unsupported_type(api):
    dashboard = {"type": "dashboard", "id": "d1", "attributes": {"title": "My dashboard"}, "references": []}

    body = upload(api, ndjson(dashboard, connector_line(ID_A))).json()

    assert body["errors"] == [
        {
            "id": "d1",
            "type": "dashboard",
            "meta": {"title": "My dashboard"},
            "error": {"type": "unsupported_type"},
        }
    ]
    assert body["successCount"] == 1


def test_an_unregistered_connector_type_id_is_kibanas_unknown_type_error(api):
    body = upload(api, ndjson(connector_line(ID_A, type_id=".nope"), connector_line(ID_B))).json()
    assert body["errors"][0]["error"] == {
        "type": "unknown",
        "message": 'Action type ".nope" is not registered.',
        "statusCode": 400,
    }
    assert [r["id"] for r in body["successResults"]] == [ID_B]


def test_a_duplicate_id_in_the_file_imports_neither_copy(api):
    body = upload(
        api, ndjson(connector_line(ID_A, name="one"), connector_line(ID_A, name="two"), connector_line(ID_B))
    ).json()

    assert [e["error"]["message"] for e in body["errors"]] == [
        f"Non-unique import objects detected: [action:{ID_A}]"
    ] * 2
    assert not Connector.objects.filter(pk=ID_A).exists()
    assert Connector.objects.filter(pk=ID_B).exists()


def test_an_invalid_connector_config_is_a_per_object_error(api):
    bad_index = connector_line(ID_A, type_id=".index", config={"refresh": False})

    body = upload(api, ndjson(bad_index, connector_line(ID_B))).json()

    assert body["errors"][0]["error"] == {
        "type": "unknown",
        "message": "error validating action type config: [index]: expected value of type [string] but got [undefined]",
        "statusCode": 400,
    }
    assert not Connector.objects.filter(pk=ID_A).exists()
    assert body["successCount"] == 1


def test_an_invalid_connector_id_is_a_per_object_error(api):
    body = upload(api, ndjson(connector_line("Not_A-Valid-ID"), connector_line(ID_B))).json()
    assert body["errors"][0]["error"]["message"] == (
        "Connector ID must contain only lowercase letters, numbers, and hyphens."
    )
    assert body["successCount"] == 1


def test_a_file_over_the_payload_limit_is_a_413_and_nothing_is_written(api, kibana_settings):
    kibana_settings.set({"savedObjects.maxImportPayloadBytes": 300})
    response = upload(api, ndjson(connector_line(ID_A), connector_line(ID_B)))
    assert response.status_code == 413
    assert response.json() == {
        "statusCode": 413,
        "error": "Request Entity Too Large",
        "message": "Payload content length greater than maximum allowed: 300",
    }
    assert not Connector.objects.exists()


def test_more_objects_than_the_limit_is_refused_whole(api, kibana_settings):
    kibana_settings.set({"savedObjects.maxImportExportSize": 1})
    response = upload(api, ndjson(connector_line(ID_A), connector_line(ID_B)))
    assert response.status_code == 400
    assert response.json()["message"] == "Can't import more than 1 objects"
    assert not Connector.objects.exists()


def test_a_file_with_another_extension_is_refused_as_kibana_does(api):
    response = upload(api, ndjson(connector_line()), filename="export.txt")
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid file extension .txt"


def test_a_request_without_a_file_is_a_400(api):
    response = api.post("/api/saved_objects/_import", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "[request body.file]: expected value of type [Stream] but got [undefined]"
    )


def test_binary_garbage_is_an_error_not_a_500(api):
    response = upload(api, b"\xff\xfe\x00garbage\x00" * 20)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False and body["successCount"] == 0


def test_the_export_summary_line_is_skipped(api):
    summary = {"exportedCount": 1, "missingRefCount": 0, "missingReferences": []}
    body = upload(api, ndjson(connector_line(ID_A), summary)).json()
    assert body == {
        "successCount": 1,
        "success": True,
        "warnings": [],
        "successResults": [
            {"type": "action", "id": ID_A, "meta": {"title": "Connector: [log]"}, "managed": False}
        ],
    }


def test_import_needs_the_all_privilege(client, db, django_user_model, default_space):
    user = django_user_model.objects.create_user("reader", password="reader-pass-1")
    SpacePrivilege.objects.create(space=default_space, user=user, privilege="read")
    from io import BytesIO

    handle = BytesIO(ndjson(connector_line()))
    handle.name = "export.ndjson"
    response = client.post(
        "/api/saved_objects/_import",
        {"file": handle},
        HTTP_AUTHORIZATION=basic_auth("reader", "reader-pass-1"),
        HTTP_KBN_XSRF="x",
    )
    assert response.status_code == 403
    assert response.json()["message"] == "Unable to bulk_create action"
    assert not Connector.objects.exists()


def test_a_json_body_is_not_an_import(api):
    response = api.post("/api/saved_objects/_import", {"file": "x"}, format="json")
    assert response.status_code == 415
    assert json.loads(response.content)["statusCode"] == 415


def test_a_preconfigured_connectors_id_is_never_overwritten_by_an_import(api, kibana_settings):
    kibana_settings.set(
        {
            "xpack.actions.preconfigured": {
                "my-log": {"actionTypeId": ".server-log", "name": "preconfigured log"}
            }
        }
    )
    body = upload(api, ndjson(connector_line("my-log"), connector_line(ID_B))).json()
    assert body["errors"][0]["error"]["message"] == "This my-log already exists in a preconfigured action."
    assert not Connector.objects.filter(pk="my-log").exists()


def test_plaintext_secrets_written_into_a_file_are_stored_sealed_and_never_echoed(api, httpserver):
    marker = "handwritten-secret-3e1d"
    line = connector_line(
        ID_A,
        name="hook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/h"), "hasAuth": True},
        missing=False,
    )
    line["attributes"]["secrets"] = {"user": "u", "password": marker}

    response = upload(api, ndjson(line))

    assert marker not in response.content.decode()
    connector = Connector.objects.get(pk=ID_A)
    assert marker not in connector.secrets_sealed
    assert connector.get_secrets()["password"] == marker


def test_invalid_secrets_written_into_a_file_are_a_per_object_error(api):
    line = connector_line(ID_A, type_id=".webhook", config={"url": "https://h.example", "hasAuth": True})
    line["attributes"]["secrets"] = {"user": "only-a-user"}
    body = upload(api, ndjson(line)).json()
    assert body["errors"][0]["error"]["message"].startswith("error validating action type secrets:")
    assert "only-a-user" not in json.dumps(body)


ODD_LINES = [
    {"type": "action", "id": "odd-1", "attributes": None},
    {"type": "action", "id": "odd-2", "attributes": []},
    {"type": "action", "id": "odd-3", "attributes": {"name": "x", "actionTypeId": ".index", "config": "x"}},
    {"type": "action", "id": "odd-4", "attributes": {"name": "x", "actionTypeId": ".index", "config": []}},
    {"type": "action", "id": "odd-5", "attributes": {"name": 5, "actionTypeId": ".server-log"}},
    {"type": "action", "id": "odd-6", "attributes": {"name": "x", "actionTypeId": None}},
    {
        "type": "action",
        "id": "odd-7",
        "attributes": {"name": "x", "actionTypeId": ".server-log", "secrets": "x"},
    },
    {
        "type": "action",
        "id": "odd-8",
        "attributes": {"name": "x", "actionTypeId": ".server-log"},
        "migrationVersion": "x",
    },
    {
        "type": "action",
        "id": "odd-9",
        "attributes": {"name": "x", "actionTypeId": ".server-log"},
        "migrationVersion": {"action": 5},
    },
    {
        "type": "action",
        "id": "odd-10",
        "attributes": {"name": "x", "actionTypeId": ".server-log"},
        "originId": 5,
        "references": "x",
    },
    {
        "type": "action",
        "id": "odd-11",
        "attributes": {"name": "x", "actionTypeId": ".server-log"},
        "encryptedSecrets": "garbage",
    },
    {
        "type": "action",
        "id": "odd-12",
        "attributes": {"name": "x", "actionTypeId": ".server-log"},
        "encryptedSecrets": {
            "v": 1,
            "kdf": {"name": "scrypt", "n": 2**30, "r": 8, "p": 1, "salt": "AA=="},
            "alg": "AES-256-GCM",
            "nonce": "AA==",
            "ciphertext": "AA==",
        },
    },
    {"type": "action", "id": "x" * 5000, "attributes": {"name": "x", "actionTypeId": ".server-log"}},
    {
        "type": "action",
        "id": "odd-14",
        "attributes": {"name": "x", "actionTypeId": ".server-log", "isMissingSecrets": "yes"},
    },
    {"type": 5, "id": "odd-15"},
    "just a string",
    None,
]


@pytest.mark.parametrize("query", ["", "overwrite=true", "createNewCopies=true", "compatibilityMode=true"])
def test_odd_lines_never_make_a_500_and_valid_objects_still_import(api, query):
    data = ndjson(*ODD_LINES, connector_line(ID_A)) + b"\x00\x01 not json\n{]\n"

    response = upload(api, data, query=query, passphrase="some passphrase")

    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["successResults"]][-1] == ID_A
    assert body["successCount"] + len(body["errors"]) == len(ODD_LINES) + 3
    assert all(isinstance(e["type"], str) and isinstance(e["id"], str) for e in body["errors"])
