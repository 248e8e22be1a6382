"""kibana-py's `client.saved_objects` (export, import, resolve errors) and `client.spaces` against our live
server. Connectors are Kibana's `action` saved objects."""

import pytest
from kibana import Kibana
from kibana.exceptions import AuthorizationException, BadRequestError, ConflictError, NotFoundError

from connectors.models import Connector, Space
from tests.api.conftest import PASSWORD, grant, make_user


@pytest.fixture
def kibana(kibana):
    Space.objects.create(id="marketing", name="Marketing")
    return kibana


def server_log(kibana, name="Log", **kwargs):
    return kibana.connectors.create(name=name, connector_type_id=".server-log", **kwargs)


def test_it_exports_connectors_as_parsed_ndjson_with_the_summary_line(kibana):
    created = server_log(kibana)
    exported = kibana.saved_objects.export(type="action")
    *objects, summary = exported.body
    assert [(o["type"], o["id"]) for o in objects] == [("action", created["id"])]
    assert objects[0]["attributes"]["actionTypeId"] == ".server-log"
    assert summary["exportedCount"] == 1
    assert exported.meta.headers["content-type"].startswith("application/ndjson")


def test_it_exports_chosen_objects_without_the_summary_line(kibana):
    first = server_log(kibana, "First")
    server_log(kibana, "Second")
    exported = kibana.saved_objects.export(
        objects=[{"type": "action", "id": first["id"]}], exclude_export_details=True
    )
    assert [o["id"] for o in exported] == [first["id"]]


def test_exporting_an_unknown_type_is_a_bad_request_error(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.saved_objects.export(type="no-such-type")
    assert "no-such-type" in raised.value.message


def test_an_export_can_be_imported_into_another_space(kibana):
    created = server_log(kibana)
    exported = kibana.saved_objects.export(type="action", exclude_export_details=True)
    result = kibana.saved_objects.import_objects(
        file=exported.body, create_new_copies=True, space_id="marketing"
    )
    assert result["success"] is True
    assert result["successCount"] == 1
    copy_id = result["successResults"][0]["destinationId"]
    assert copy_id != created["id"]
    assert Connector.objects.get(id=copy_id).space_id == "marketing"


def test_an_import_of_raw_ndjson_bytes_reports_a_conflict_then_overwrites(kibana):
    created = server_log(kibana)
    kibana.connectors.update(id=created["id"], name="Changed")
    ndjson = (
        b'{"type":"action","id":"%s","attributes":{"actionTypeId":".server-log","name":"Imported",'
        b'"config":{},"isMissingSecrets":false},"references":[]}\n' % created["id"].encode()
    )
    result = kibana.saved_objects.import_objects(file=ndjson)
    assert result["success"] is False
    assert result["errors"][0]["error"]["type"] == "conflict"
    result = kibana.saved_objects.import_objects(file=ndjson, overwrite=True)
    assert result["success"] is True
    assert kibana.connectors.get(id=created["id"])["name"] == "Imported"


def test_an_import_conflict_is_resolved_with_a_retry_that_overwrites(kibana):
    created = server_log(kibana)
    exported = kibana.saved_objects.export(type="action", exclude_export_details=True)
    kibana.connectors.update(id=created["id"], name="Changed")
    conflict = kibana.saved_objects.import_objects(file=exported.body)
    assert conflict["errors"][0]["error"]["type"] == "conflict"
    resolved = kibana.saved_objects.resolve_import_errors(
        file=exported.body, retries=[{"type": "action", "id": created["id"], "overwrite": True}]
    )
    assert resolved["success"] is True
    assert resolved["successCount"] == 1
    assert kibana.connectors.get(id=created["id"])["name"] == "Log"


def test_an_import_with_conflicting_options_is_a_bad_request_error(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.saved_objects.import_objects(
            file=[{"type": "action", "id": "x", "attributes": {}}], create_new_copies=True, overwrite=True
        )
    assert raised.value.message == "[request query]: cannot use [overwrite] with [createNewCopies]"


def test_a_space_is_created_read_listed_updated_and_deleted(kibana):
    created = kibana.spaces.create(id="sales", name="Sales", description="The sales team", color="#aabbcc")
    assert created["id"] == "sales"
    assert kibana.spaces.get(id="sales")["description"] == "The sales team"
    assert {"default", "marketing", "sales"} <= {space["id"] for space in kibana.spaces.get_all()}
    updated = kibana.spaces.update(id="sales", name="Sales and more", initials="SM")
    assert updated["name"] == "Sales and more"
    assert kibana.spaces.get(id="sales")["initials"] == "SM"
    kibana.spaces.delete(id="sales")
    with pytest.raises(NotFoundError):
        kibana.spaces.get(id="sales")


def test_creating_a_space_twice_is_a_conflict_error(kibana):
    with pytest.raises(ConflictError):
        kibana.spaces.create(id="marketing", name="Marketing again")


def test_a_space_with_an_invalid_id_is_a_bad_request_error(kibana):
    with pytest.raises(BadRequestError):
        kibana.spaces.create(id="Not Valid", name="Bad")


def test_connectors_are_copied_to_another_space_and_a_conflict_is_resolved(kibana):
    created = server_log(kibana)
    objects = [{"type": "action", "id": created["id"]}]
    copied = kibana.spaces.copy_saved_objects(spaces=["marketing"], objects=objects, create_new_copies=False)
    assert copied["marketing"]["success"] is True
    again = kibana.spaces.copy_saved_objects(spaces=["marketing"], objects=objects, create_new_copies=False)
    assert again["marketing"]["success"] is False
    error = again["marketing"]["errors"][0]
    assert error["error"]["type"] == "conflict"
    resolved = kibana.spaces.resolve_copy_saved_objects_errors(
        retries={
            "marketing": [
                {
                    "type": "action",
                    "id": created["id"],
                    "overwrite": True,
                    "destinationId": error["error"]["destinationId"],
                }
            ]
        },
        objects=objects,
        create_new_copies=False,
    )
    assert resolved["marketing"]["success"] is True
    assert Connector.objects.filter(space_id="marketing").count() == 1


def test_copying_an_unknown_object_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError) as raised:
        kibana.spaces.copy_saved_objects(spaces=["marketing"], objects=[{"type": "action", "id": "missing"}])
    assert raised.value.message == "Saved objects not found"


def test_legacy_url_aliases_are_disabled(kibana):
    response = kibana.spaces.disable_legacy_url_aliases(
        aliases=[{"targetSpace": "marketing", "targetType": "action", "sourceId": "old-id"}]
    )
    assert response.meta.status == 204


def test_a_user_without_the_spaces_privilege_gets_an_authorization_error(kibana, live_server):
    reader = make_user("reader")
    grant(reader, "default", "read")
    as_reader = Kibana(live_server.url, basic_auth=("reader", PASSWORD))
    with pytest.raises(AuthorizationException):
        as_reader.spaces.create(id="sales", name="Sales")


def test_sharing_objects_across_spaces_is_not_served(kibana):
    with pytest.raises(NotFoundError):
        kibana.spaces.get_shareable_references(objects=[{"type": "action", "id": "x"}])
    with pytest.raises(NotFoundError):
        kibana.spaces.update_objects_spaces(
            objects=[{"type": "action", "id": "x"}], spaces_to_add=["marketing"], spaces_to_remove=[]
        )


def test_updating_a_space_keeps_omitted_fields_but_resets_disabled_features(kibana):
    kibana.spaces.create(
        id="sales", name="Sales", description="Kept", color="#aabbcc", disabled_features=["dev_tools"]
    )
    updated = kibana.spaces.update(id="sales", name="Renamed")
    assert updated["description"] == "Kept"
    assert updated["color"] == "#aabbcc"
    assert updated["disabledFeatures"] == []


def test_updating_an_unknown_space_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.spaces.update(id="nowhere", name="Nowhere")


def test_spaces_are_listed_with_the_purposes_the_user_is_authorized_for(kibana):
    spaces = kibana.spaces.get_all(include_authorized_purposes=True)
    marketing = next(space for space in spaces if space["id"] == "marketing")
    assert marketing["authorizedPurposes"]["copySavedObjectsIntoSpace"] is True
    assert {s["id"] for s in kibana.spaces.get_all(purpose="copySavedObjectsIntoSpace")} >= {
        "default",
        "marketing",
    }
    with pytest.raises(BadRequestError) as raised:
        kibana.spaces.get_all(purpose="any", include_authorized_purposes=True)
    assert raised.value.message == (
        "[request query]: include_authorized_purposes can only be false when purpose is specified"
    )


def test_a_space_scoped_client_exports_and_imports_in_its_space(kibana):
    marketing = kibana.space("marketing")
    created = marketing.connectors.create(name="Marketing", connector_type_id=".server-log")
    server_log(kibana, "Default")
    exported = marketing.saved_objects.export(type=["action"], exclude_export_details=True)
    assert [o["id"] for o in exported] == [created["id"]]
    result = marketing.saved_objects.import_objects(file=exported.body, overwrite=True)
    assert result["success"] is True


def test_an_export_can_search_by_name(kibana):
    wanted = server_log(kibana, "Wanted log")
    server_log(kibana, "Other")
    exported = kibana.saved_objects.export(type="action", search="Wanted*", exclude_export_details=True)
    assert [o["id"] for o in exported] == [wanted["id"]]


def test_an_import_in_compatibility_mode_succeeds(kibana):
    created = server_log(kibana)
    exported = kibana.saved_objects.export(type="action", exclude_export_details=True)
    kibana.connectors.delete(id=created["id"])
    result = kibana.saved_objects.import_objects(file=exported.body, compatibility_mode=True)
    assert result["success"] is True
    assert kibana.connectors.get(id=created["id"])["name"] == "Log"


def test_a_resolve_import_errors_retry_can_write_to_a_new_id(kibana):
    created = server_log(kibana)
    exported = kibana.saved_objects.export(type="action", exclude_export_details=True)
    resolved = kibana.saved_objects.resolve_import_errors(
        file=exported.body,
        retries=[{"type": "action", "id": created["id"], "destinationId": "a-new-id", "overwrite": False}],
    )
    assert resolved["success"] is True
    assert resolved["successResults"][0]["destinationId"] == "a-new-id"
    assert kibana.connectors.get(id="a-new-id")["name"] == "Log"


def test_the_deprecated_saved_object_crud_routes_are_not_served(kibana):
    created = server_log(kibana)
    with pytest.raises(NotFoundError):
        kibana.saved_objects.get(type="action", id=created["id"])
    with pytest.raises(NotFoundError):
        kibana.saved_objects.find(type="action")


def test_deleting_the_default_space_is_a_bad_request_error(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.spaces.delete(id="default")
    assert "default space" in raised.value.message.lower()


def test_copying_to_the_same_space_twice_is_a_bad_request_error(kibana):
    created = server_log(kibana)
    with pytest.raises(BadRequestError) as raised:
        kibana.spaces.copy_saved_objects(
            spaces=["marketing", "marketing"], objects=[{"type": "action", "id": created["id"]}]
        )
    assert "duplicate space ids are not allowed" in raised.value.message


def test_copying_with_overwrite_and_new_copies_is_a_bad_request_error(kibana):
    created = server_log(kibana)
    with pytest.raises(BadRequestError) as raised:
        kibana.spaces.copy_saved_objects(
            spaces=["marketing"], objects=[{"type": "action", "id": created["id"]}], overwrite=True
        )
    assert "cannot use [overwrite] with [createNewCopies]" in raised.value.message


RULE = {
    "name": "cpu",
    "rule_type_id": ".index-threshold",
    "consumer": "alerts",
    "schedule": {"interval": "1m"},
    "params": {
        "index": ["metrics"],
        "timeField": "@timestamp",
        "aggType": "count",
        "thresholdComparator": ">",
        "threshold": [1],
        "timeWindowSize": 5,
        "timeWindowUnit": "m",
    },
}


def rule_using(kibana, connector_id, space=""):
    action = {
        "id": connector_id,
        "group": "threshold met",
        "params": {"message": "m"},
        "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
    }
    return kibana.perform_request(
        "POST", f"{space}/api/alerting/rule", body={**RULE, "actions": [action]}
    ).body


def test_an_export_can_keep_only_the_rules_that_use_a_connector(kibana):
    used = server_log(kibana, "Used")
    unused = server_log(kibana, "Unused")
    for connector in (used, unused):
        rule_using(kibana, connector["id"])
    exported = kibana.saved_objects.export(
        type="alert", has_reference={"type": "action", "id": used["id"]}, exclude_export_details=True
    )
    assert [o["references"][0]["id"] for o in exported] == [used["id"]]


def test_the_encryption_key_is_rotated_once_a_decryption_only_key_is_configured(kibana, settings):
    from cryptography.fernet import Fernet

    with pytest.raises(BadRequestError) as raised:
        kibana.saved_objects.rotate_encryption_key()
    assert raised.value.message.startswith("Kibana is not configured to support encryption key rotation.")
    server_log(kibana)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), settings.FIELD_ENCRYPTION_KEY[0]]
    rotated = kibana.saved_objects.rotate_encryption_key(batch_size=100, type="action")
    assert rotated.body == {"total": 1, "successful": 1, "failed": 0}
    with pytest.raises(BadRequestError) as raised:
        kibana.saved_objects.rotate_encryption_key(batch_size=0)
    assert raised.value.message == "[request query.batch_size]: Value must be equal to or greater than [1]."


def test_a_whole_export_with_its_summary_line_imports_back(kibana):
    server_log(kibana)
    exported = kibana.saved_objects.export(type="action")
    assert "exportedCount" in exported.body[-1]
    result = kibana.saved_objects.import_objects(file=exported.body, create_new_copies=True)
    assert result["success"] is True
    assert result["successCount"] == 1


def test_a_rule_whose_connector_is_missing_is_imported_by_replacing_the_reference(kibana):
    connector = server_log(kibana)
    rule = rule_using(kibana, connector["id"])
    exported = kibana.saved_objects.export(
        objects=[{"type": "alert", "id": rule["id"]}], exclude_export_details=True
    )
    kibana.perform_request("DELETE", f"/api/alerting/rule/{rule['id']}")
    kibana.connectors.delete(id=connector["id"])
    replacement = server_log(kibana, "Replacement")

    result = kibana.saved_objects.import_objects(file=exported.body)
    assert result["errors"][0]["error"] == {
        "type": "missing_references",
        "references": [{"type": "action", "id": connector["id"]}],
    }
    resolved = kibana.saved_objects.resolve_import_errors(
        file=exported.body,
        retries=[
            {
                "type": "alert",
                "id": rule["id"],
                "overwrite": False,
                "replaceReferences": [{"type": "action", "from": connector["id"], "to": replacement["id"]}],
            }
        ],
    )
    assert resolved["success"] is True
    imported = kibana.perform_request("GET", f"/api/alerting/rule/{rule['id']}").body
    assert [action["id"] for action in imported["actions"]] == [replacement["id"]]


def test_copying_a_rule_with_its_references_brings_its_connector(kibana):
    connector = server_log(kibana)
    rule = rule_using(kibana, connector["id"])
    copied = kibana.spaces.copy_saved_objects(
        spaces=["marketing"], objects=[{"type": "alert", "id": rule["id"]}], include_references=True
    )
    assert copied["marketing"]["success"] is True
    assert copied["marketing"]["successCount"] == 2
    assert {r["type"] for r in copied["marketing"]["successResults"]} == {"alert", "action"}
    assert Connector.objects.filter(space_id="marketing").count() == 1
