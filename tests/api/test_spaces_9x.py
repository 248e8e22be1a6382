"""Kibana 9.x spaces behaviour: PUT keeps omitted fields, `purpose` validation, legacy URL aliases,
copy to space (connectors and rules, through the saved-objects registry) and its conflict retries."""

import io
import json

import pytest

from actions.models import Rule
from actions.rules import create_rule
from connectors.models import Connector, Space
from tests.actions.helpers import SECRET, make_webhook, threshold_rule_body
from tests.api.conftest import client_for, create_connector, error, grant, make_user


@pytest.fixture
def admin(spaces):
    return client_for(make_user("root", superuser=True), "basic")


# ---- PUT /api/spaces/space/{id} -----------------------------------------------------------------


def test_put_keeps_omitted_optional_fields_and_resets_disabled_features(admin):
    Space.objects.filter(pk="marketing").update(
        description="kept", color="#aabbcc", initials="MK", solution="oblt", disabled_features=["dev_tools"]
    )

    response = admin.put("/api/spaces/space/marketing", {"id": "marketing", "name": "Renamed"}, format="json")

    assert response.json() == {
        "id": "marketing",
        "name": "Renamed",
        "description": "kept",
        "color": "#aabbcc",
        "initials": "MK",
        "disabledFeatures": [],
        "solution": "oblt",
    }


def test_put_blanks_a_field_sent_as_an_empty_string(admin):
    Space.objects.filter(pk="marketing").update(description="old")

    body = admin.put(
        "/api/spaces/space/marketing", {"id": "marketing", "name": "M", "description": ""}, format="json"
    ).json()

    assert "description" not in body


def test_put_with_an_empty_solution_is_kibanas_400(admin):
    response = admin.put(
        "/api/spaces/space/marketing", {"id": "marketing", "name": "M", "solution": ""}, format="json"
    )

    assert response.status_code == 400


# ---- GET /api/spaces/space --------------------------------------------------------------------


def test_purpose_with_include_authorized_purposes_is_kibanas_400(admin):
    response = admin.get("/api/spaces/space?purpose=any&include_authorized_purposes=true")

    assert response.json() == error(
        400, "[request query]: include_authorized_purposes can only be false when purpose is specified"
    )
    assert admin.get("/api/spaces/space?purpose=any&include_authorized_purposes=false").status_code == 200


def test_include_authorized_purposes_is_a_boolean_in_any_case(admin):
    listed = admin.get("/api/spaces/space?include_authorized_purposes=TRUE")
    assert listed.status_code == 200
    assert all("authorizedPurposes" in space for space in listed.json())
    assert admin.get("/api/spaces/space?include_authorized_purposes=yes").json() == error(
        400, "[request query.include_authorized_purposes]: expected value of type [boolean] but got [string]"
    )


def test_put_without_an_id_is_kibanas_string_type_error(admin):
    # Kibana's space schema: `id: schema.string({validate})`, validated though the path names the space.
    response = admin.put("/api/spaces/space/marketing", {"name": "Marketing"}, format="json")

    assert response.json() == error(
        400, "[request body.id]: expected value of type [string] but got [undefined]"
    )


def test_the_copy_purpose_lists_only_spaces_the_caller_may_write_to(spaces):
    user = make_user("u")
    grant(user, "default", "read")
    grant(user, "marketing", "all")
    client = client_for(user, "basic")

    assert [s["id"] for s in client.get("/api/spaces/space").json()] == ["default", "marketing"]
    listed = client.get("/api/spaces/space?purpose=copySavedObjectsIntoSpace").json()
    assert [s["id"] for s in listed] == ["marketing"]


def test_find_saved_objects_is_not_a_purpose_to_filter_by(admin):
    assert admin.get("/api/spaces/space?purpose=findSavedObjects").status_code == 400


# ---- POST /api/spaces/_disable_legacy_url_aliases ---------------------------------------------


def test_disabling_legacy_url_aliases_answers_204(admin):
    body = {"aliases": [{"targetSpace": "marketing", "targetType": "action", "sourceId": "old-id"}]}

    response = admin.post("/api/spaces/_disable_legacy_url_aliases", body, format="json")

    assert response.status_code == 204
    assert response.content == b""


def test_disabling_legacy_url_aliases_validates_and_needs_all_in_the_target(spaces):
    user = make_user("u")
    grant(user, "marketing", "read")
    client = client_for(user, "basic")
    alias = {"targetSpace": "marketing", "targetType": "action", "sourceId": "old-id"}

    bad = client.post(
        "/api/spaces/_disable_legacy_url_aliases", {"aliases": [{**alias, "targetSpace": "A"}]}, format="json"
    )
    denied = client.post("/api/spaces/_disable_legacy_url_aliases", {"aliases": [alias]}, format="json")

    assert bad.json() == error(
        400, "[request body.aliases.0.targetSpace]: must be lower case, a-z, 0-9, '_', and '-' are allowed"
    )
    assert denied.json() == error(403, "Unable to bulk_update legacy-url-alias")


# ---- copy to space ----------------------------------------------------------------------------


def test_copying_a_connector_creates_a_new_copy_without_its_secrets(admin, spaces):
    hook = make_webhook(spaces["default"], "http://127.0.0.1:9/hook")
    body = {"spaces": ["marketing"], "objects": [{"type": "action", "id": hook.id}]}

    response = admin.post("/api/spaces/_copy_saved_objects", body, format="json")

    assert response.status_code == 200
    [result] = response.json()["marketing"]["successResults"]
    assert response.json()["marketing"]["success"] is True
    assert result["id"] == hook.id and result["destinationId"] != hook.id
    copy = Connector.objects.get(pk=result["destinationId"])
    assert copy.space_id == "marketing"
    assert copy.is_missing_secrets is True  # flagged as in an import: secrets never travel
    assert copy.get_secrets() == {}
    assert SECRET not in response.content.decode()


def test_copying_a_rule_with_references_brings_its_connector_and_links_them(admin, spaces):
    hook = make_webhook(spaces["default"], "http://127.0.0.1:9/hook")
    rule = create_rule(spaces["default"], threshold_rule_body(hook.id), user="root")
    body = {"spaces": ["marketing"], "objects": [{"type": "alert", "id": rule.id}], "includeReferences": True}

    answer = admin.post("/api/spaces/_copy_saved_objects", body, format="json").json()["marketing"]

    assert answer["successCount"] == 2
    ids = {r["type"]: r["destinationId"] for r in answer["successResults"]}
    copied = Rule.objects.get(pk=ids["alert"])
    assert copied.space_id == "marketing"
    assert copied.actions[0]["id"] == ids["action"]


def test_a_copy_that_overwrites_conflicts_first_then_resolves_with_an_overwrite_retry(admin, spaces):
    source = create_connector("default", name="source")
    body = {
        "spaces": ["marketing"],
        "objects": [{"type": "action", "id": source.id}],
        "createNewCopies": False,
    }
    admin.post("/api/spaces/_copy_saved_objects", body, format="json")
    Connector.objects.filter(space_id="marketing").update(name="edited in marketing")
    [copied] = Connector.objects.filter(space_id="marketing")

    again = admin.post("/api/spaces/_copy_saved_objects", body, format="json").json()["marketing"]
    assert again["success"] is False
    assert again["errors"][0]["error"]["type"] == "conflict"
    assert again["errors"][0]["error"] == {"type": "conflict", "destinationId": copied.id}
    assert Connector.objects.filter(space_id="marketing").count() == 1
    destination = copied.id

    resolved = admin.post(
        "/api/spaces/_resolve_copy_saved_objects_errors",
        {
            "objects": [{"type": "action", "id": source.id}],
            "createNewCopies": False,
            "retries": {
                "marketing": [
                    {"type": "action", "id": source.id, "overwrite": True, "destinationId": destination}
                ]
            },
        },
        format="json",
    ).json()

    assert resolved["marketing"]["success"] is True, resolved
    assert Connector.objects.get(pk=copied.id).name == "source"


def _copy_rule(admin, rule_id, *, space="marketing", **options):
    body = {"spaces": [space], "objects": [{"type": "alert", "id": rule_id}], "includeReferences": True}
    return admin.post("/api/spaces/_copy_saved_objects", {**body, **options}, format="json").json()[space]


def _rule_results(answer, key):
    return [entry for entry in answer.get(key, []) if entry["type"] == "alert"]


def test_copying_a_rule_twice_is_a_conflict_with_the_first_copy_not_a_second_rule(admin, spaces):
    # Without actions nothing else of the copy conflicts: only the rule's origin can stop a duplicate.
    rule = create_rule(spaces["default"], threshold_rule_body("unused", actions=[]), user="root")
    [first] = _rule_results(_copy_rule(admin, rule.id, createNewCopies=False), "successResults")

    again = _copy_rule(admin, rule.id, createNewCopies=False)

    assert again["success"] is False
    [error_entry] = _rule_results(again, "errors")
    assert error_entry["error"] == {"type": "conflict", "destinationId": first["destinationId"]}
    assert list(Rule.objects.filter(space_id="marketing").values_list("id", flat=True)) == [
        first["destinationId"]
    ]
    assert Rule.objects.get(pk=first["destinationId"]).origin_id == rule.id


def test_copying_a_rule_again_with_overwrite_replaces_the_first_copy(admin, spaces):
    hook = make_webhook(spaces["default"], "http://127.0.0.1:9/hook")
    rule = create_rule(spaces["default"], threshold_rule_body(hook.id), user="root")
    [first] = _rule_results(_copy_rule(admin, rule.id, createNewCopies=False), "successResults")
    Rule.objects.filter(pk=rule.id).update(name="renamed at the source")

    again = _copy_rule(admin, rule.id, createNewCopies=False, overwrite=True)

    assert again["success"] is True, again
    [result] = _rule_results(again, "successResults")
    assert result["destinationId"] == first["destinationId"] and result["overwrite"] is True
    [copy] = Rule.objects.filter(space_id="marketing")
    assert copy.id == first["destinationId"]
    assert copy.name == "renamed at the source" and copy.origin_id == rule.id


def test_copying_a_rule_as_new_copies_makes_a_new_rule_each_time_without_an_origin(admin, spaces):
    hook = make_webhook(spaces["default"], "http://127.0.0.1:9/hook")
    rule = create_rule(spaces["default"], threshold_rule_body(hook.id), user="root")

    answers = [_copy_rule(admin, rule.id, createNewCopies=True) for _ in range(2)]

    assert all(answer["success"] is True for answer in answers), answers
    copies = Rule.objects.filter(space_id="marketing")
    assert len(copies) == 2 and rule.id not in {copy.id for copy in copies}
    assert [copy.origin_id for copy in copies] == ["", ""]
    exported = admin.post(
        "/s/marketing/api/saved_objects/_export", {"type": ["alert"]}, format="json"
    ).content.decode()
    lines = [json.loads(line) for line in exported.splitlines()]
    assert [("originId" in line) for line in lines if line.get("type") == "alert"] == [False, False]


def test_an_exported_rule_copy_carries_its_origin_and_a_second_import_elsewhere_finds_the_first(
    admin, spaces
):
    Space.objects.create(id="ops", name="Ops")
    hook = make_webhook(spaces["default"], "http://127.0.0.1:9/hook")
    rule = create_rule(spaces["default"], threshold_rule_body(hook.id), user="root")
    [copied] = _rule_results(_copy_rule(admin, rule.id, createNewCopies=False), "successResults")
    exported = admin.post(
        "/s/marketing/api/saved_objects/_export",
        {"objects": [{"type": "alert", "id": copied["destinationId"]}], "includeReferencesDeep": True},
        format="json",
    ).content
    lines = [json.loads(line) for line in exported.decode().splitlines()]
    [rule_line] = [line for line in lines if line.get("type") == "alert"]
    assert rule_line["originId"] == rule.id

    def import_into_ops():
        handle = io.BytesIO(exported)
        handle.name = "export.ndjson"
        return admin.post(
            "/s/ops/api/saved_objects/_import?createNewCopies=false", {"file": handle}, format="multipart"
        ).json()

    [first] = _rule_results(import_into_ops(), "successResults")
    again = import_into_ops()

    assert Rule.objects.get(pk=first["destinationId"]).origin_id == rule.id
    [error_entry] = _rule_results(again, "errors")
    assert error_entry["error"] == {"type": "conflict", "destinationId": first["destinationId"]}
    assert Rule.objects.filter(space_id="ops").count() == 1


def test_copy_option_rules_are_kibanas(admin):
    objects = [{"type": "action", "id": "a"}]
    overwrite = admin.post(
        "/api/spaces/_copy_saved_objects",
        {"spaces": ["marketing"], "objects": objects, "overwrite": True},
        format="json",
    )
    duplicates = admin.post(
        "/api/spaces/_copy_saved_objects",
        {"spaces": ["marketing", "marketing"], "objects": objects},
        format="json",
    )
    bad_key = admin.post(
        "/api/spaces/_resolve_copy_saved_objects_errors",
        {"objects": objects, "retries": {"Bad!": []}},
        format="json",
    )

    assert overwrite.json() == error(400, "[request body]: cannot use [overwrite] with [createNewCopies]")
    assert duplicates.json() == error(400, "[request body.spaces]: duplicate space ids are not allowed")
    assert bad_key.json() == error(400, '[request body.retries.key("Bad!")]: Invalid space id: Bad!')


def test_copy_and_resolve_copy_word_the_compatibility_mode_conflict_in_their_own_orders(admin):
    """Kibana's copy_to_space.ts: the copy route says `[compatibilityMode] with [createNewCopies]`,
    the resolve route (like the import routes) `[createNewCopies] with [compatibilityMode]`."""
    objects = [{"type": "action", "id": "a"}]
    copy = admin.post(
        "/api/spaces/_copy_saved_objects",
        {"spaces": ["marketing"], "objects": objects, "compatibilityMode": True},
        format="json",
    )
    resolve = admin.post(
        "/api/spaces/_resolve_copy_saved_objects_errors",
        {"objects": objects, "retries": {"marketing": []}, "compatibilityMode": True},
        format="json",
    )

    assert copy.json() == error(400, "[request body]: cannot use [compatibilityMode] with [createNewCopies]")
    assert resolve.json() == error(
        400, "[request body]: cannot use [createNewCopies] with [compatibilityMode]"
    )


def test_copying_no_objects_succeeds_with_nothing_copied(admin):
    # Kibana's copy schema has no minimum size: exportByObjects of [] is an empty stream, and each
    # space's import of it succeeds with nothing in it.
    response = admin.post(
        "/api/spaces/_copy_saved_objects", {"spaces": ["marketing"], "objects": []}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"marketing": {"success": True, "successCount": 0}}


def test_copying_a_missing_object_is_kibanas_404(admin):
    body = {"spaces": ["marketing"], "objects": [{"type": "action", "id": "nope"}]}

    response = admin.post("/api/spaces/_copy_saved_objects", body, format="json")

    assert response.status_code == 404
    assert response.json()["message"] == "Saved objects not found"
    assert response.json()["attributes"] == {"objects": [{"id": "nope", "type": "action"}]}


def test_a_target_space_the_caller_cannot_write_fails_alone(spaces):
    Space.objects.create(id="ops", name="Ops")
    user = make_user("u")
    grant(user, "default", "all")
    grant(user, "marketing", "read")
    grant(user, "ops", "all")
    source = create_connector("default")
    body = {"spaces": ["marketing", "ops"], "objects": [{"type": "action", "id": source.id}]}

    answer = client_for(user, "basic").post("/api/spaces/_copy_saved_objects", body, format="json").json()

    assert answer["marketing"] == {
        "success": False,
        "successCount": 0,
        "errors": [{"statusCode": 403, "error": "Forbidden", "message": "Unable to bulk_create action"}],
    }
    assert answer["ops"]["success"] is True
    assert not Connector.objects.filter(space_id="marketing").exists()


def test_the_source_is_the_space_of_the_url_and_needs_a_privilege_there(spaces):
    user = make_user("u")
    grant(user, "default", "all")
    marketing_connector = create_connector("marketing")
    body = {"spaces": ["default"], "objects": [{"type": "action", "id": marketing_connector.id}]}

    response = client_for(user, "basic").post(
        "/s/marketing/api/spaces/_copy_saved_objects", body, format="json"
    )

    assert response.json() == error(
        403,
        # The path as Kibana's route authorization prints it: the spaces plugin has rewritten the
        # `/s/marketing` prefix away before then.
        "API [POST /api/spaces/_copy_saved_objects] is unauthorized for user, this action is "
        "granted by the Kibana privileges [copySavedObjectsToSpaces]",
    )


def test_more_than_100_disabled_features_is_kibanas_400(admin):
    body = {"id": "marketing", "name": "M", "disabledFeatures": [f"f{i}" for i in range(101)]}

    response = admin.put("/api/spaces/space/marketing", body, format="json")

    assert response.json() == error(
        400, "[request body.disabledFeatures]: array size is [101], but cannot be greater than [100]"
    )


def test_copying_from_a_space_prefix_copies_that_spaces_objects(admin, spaces):
    source = create_connector("marketing", name="from marketing")
    body = {"spaces": ["default"], "objects": [{"type": "action", "id": source.id}]}

    answer = admin.post("/s/marketing/api/spaces/_copy_saved_objects", body, format="json").json()

    assert answer["default"]["success"] is True
    assert Connector.objects.filter(space_id="default", name="from marketing").count() == 1


def test_a_copy_imported_back_into_its_source_space_is_a_conflict_with_the_original(admin, spaces):
    """Kibana's origin check searches `id` as well as `originId`: the copy meets the object it came
    from (for connectors and rules alike), instead of becoming a second copy beside it."""
    hook = make_webhook(spaces["default"], "http://127.0.0.1:9/hook")
    rule = create_rule(spaces["default"], threshold_rule_body(hook.id), user="root")
    copied = _copy_rule(admin, rule.id, createNewCopies=False)["successResults"]
    copies = {entry["type"]: entry["destinationId"] for entry in copied}
    before = (
        Rule.objects.filter(space_id="default").count(),
        Connector.objects.filter(space_id="default").count(),
    )
    exported = admin.post(
        "/s/marketing/api/saved_objects/_export",
        {"objects": [{"type": "alert", "id": copies["alert"]}], "includeReferencesDeep": True},
        format="json",
    ).content
    handle = io.BytesIO(exported)
    handle.name = "export.ndjson"

    answer = admin.post(
        "/api/saved_objects/_import?createNewCopies=false", {"file": handle}, format="multipart"
    ).json()

    errors = {entry["type"]: entry["error"] for entry in answer["errors"]}
    assert errors == {
        "action": {"type": "conflict", "destinationId": hook.id},
        "alert": {"type": "conflict", "destinationId": rule.id},
    }
    after = (
        Rule.objects.filter(space_id="default").count(),
        Connector.objects.filter(space_id="default").count(),
    )
    assert after == before
