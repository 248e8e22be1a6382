"""The engine through the handler contract, with a small handler that keeps notes in the document
store: references (missing, rewritten for new copies), origin conflicts, and one savepoint per object.
This is the seam the `alert` (rule) handler will use."""

import pytest

from connectors import saved_objects
from connectors.models import IndexDocument
from connectors.saved_objects import ImportedObject, ObjectError, SavedObjectHandler
from tests.saved_objects.conftest import connector_line, ndjson, upload

NOTES = "test-notes"
CONNECTOR_ID = "cccccccc-0000-4000-8000-000000000001"


class NoteHandler(SavedObjectHandler):
    type = "note"

    def prepare(self, raw, line, ctx):
        attributes = raw.get("attributes") or {}
        if attributes.get("explode"):
            raise ObjectError.unknown("this note refuses to be imported")
        return ImportedObject(
            line=line,
            type=self.type,
            id=raw["id"],
            title=attributes.get("title", ""),
            attributes=attributes,
            references=list(raw.get("references") or []),
            raw=raw,
            origin_id=raw.get("originId"),
        )

    def locate(self, space, object_id):
        document = IndexDocument.objects.filter(index=NOTES, doc_id=object_id).first()
        if document is None:
            return None
        return "here" if document.document["space"] == space.id else "elsewhere"

    def find_by_origin(self, space, origin_id):
        return [
            {"id": d.doc_id, "title": d.document["title"], "updatedAt": None}
            for d in IndexDocument.objects.filter(index=NOTES).order_by("doc_id")
            if d.document["space"] == space.id and d.document.get("originId") == origin_id
        ]

    def write(self, obj, ctx):
        IndexDocument.objects.update_or_create(
            index=NOTES,
            doc_id=obj.destination_id or obj.id,
            defaults={
                "seq_no": 0,
                "document": {
                    "space": ctx.space.id,
                    "title": obj.title,
                    "references": obj.references,
                    "originId": obj.id if obj.destination_id else obj.origin_id,
                },
            },
        )
        if obj.attributes.get("fail_after_write"):
            raise RuntimeError("disk full")


@pytest.fixture
def notes():
    handler = saved_objects.register(NoteHandler())
    yield handler
    saved_objects.unregister("note")


def note(note_id, title="n", references=(), **attributes):
    return {
        "type": "note",
        "id": note_id,
        "attributes": {"title": title, **attributes},
        "references": [{"type": t, "id": i, "name": f"ref_{n}"} for n, (t, i) in enumerate(references)],
    }


def stored(note_id):
    return IndexDocument.objects.get(index=NOTES, doc_id=note_id).document


def test_a_reference_to_nothing_is_missing_references_and_the_object_is_skipped(api, notes):
    body = upload(api, ndjson(note("n1", references=[("action", "ghost")]), note("n2"))).json()

    assert body["errors"] == [
        {
            "id": "n1",
            "type": "note",
            "meta": {"title": "n"},
            "error": {"type": "missing_references", "references": [{"type": "action", "id": "ghost"}]},
        }
    ]
    assert body["successCount"] == 1


def test_references_to_objects_in_the_file_or_the_space_are_satisfied(api, notes, default_space):
    upload(api, ndjson(connector_line(CONNECTOR_ID)))
    body = upload(
        api, ndjson(note("n1", references=[("action", CONNECTOR_ID), ("note", "n2")]), note("n2"))
    ).json()
    assert body["success"] is True and body["successCount"] == 2


def test_new_copies_rewrite_references_to_the_new_ids(api, notes):
    body = upload(
        api,
        ndjson(connector_line(CONNECTOR_ID), note("n1", references=[("action", CONNECTOR_ID)])),
        query="createNewCopies=true",
    ).json()

    new_ids = {(r["type"], r["id"]): r["destinationId"] for r in body["successResults"]}
    assert stored(new_ids[("note", "n1")])["references"][0]["id"] == new_ids[("action", CONNECTOR_ID)]


def test_one_copy_of_the_origin_is_a_conflict_with_its_destination(api, notes):
    upload(api, ndjson(note("n1")), query="createNewCopies=true")
    [copy_id] = [d.doc_id for d in IndexDocument.objects.filter(index=NOTES)]

    body = upload(api, ndjson(note("n1"))).json()
    assert body["errors"][0]["error"] == {"type": "conflict", "destinationId": copy_id}

    overwritten = upload(api, ndjson(note("n1", title="new")), query="overwrite=true").json()
    assert overwritten["successResults"][0]["destinationId"] == copy_id


def test_two_copies_of_the_origin_are_an_ambiguous_conflict(api, notes):
    upload(api, ndjson(note("n1")), query="createNewCopies=true")
    upload(api, ndjson(note("n1")), query="createNewCopies=true")
    copies = sorted(d.doc_id for d in IndexDocument.objects.filter(index=NOTES))

    body = upload(api, ndjson(note("n1"))).json()

    error = body["errors"][0]["error"]
    assert error["type"] == "ambiguous_conflict"
    assert [d["id"] for d in error["destinations"]] == copies
    # compatibilityMode skips origin matching and imports under the file's id
    compat = upload(api, ndjson(note("n1")), query="compatibilityMode=true").json()
    assert compat["success"] is True and stored("n1")


def test_a_failure_while_writing_rolls_back_that_object_only(api, notes):
    body = upload(api, ndjson(note("n1", fail_after_write=True), note("n2"))).json()

    assert body["errors"][0]["id"] == "n1"
    assert body["errors"][0]["error"] == {
        "type": "unknown",
        "message": "An internal error occurred",
        "statusCode": 500,
    }
    assert not IndexDocument.objects.filter(index=NOTES, doc_id="n1").exists()
    assert stored("n2")


def test_a_handler_error_while_preparing_is_a_per_object_error(api, notes):
    body = upload(api, ndjson(note("n1", explode=True), note("n2"))).json()
    assert body["errors"][0]["error"]["message"] == "this note refuses to be imported"
    assert body["successCount"] == 1


def test_a_type_without_a_handler_is_unsupported(api):
    dashboard = {"type": "dashboard", "id": "d1", "attributes": {"title": "board"}, "references": []}
    body = upload(api, ndjson(dashboard)).json()
    assert body["errors"][0]["error"] == {"type": "unsupported_type"}
    assert body["errors"][0]["meta"] == {"title": "board"}


def test_rules_are_registered_after_connectors():
    types = saved_objects.supported_types()
    assert "alert" in types
    assert types.index("action") < types.index("alert")


def test_objects_are_written_in_handler_registration_order(api, notes):
    body = upload(
        api, ndjson(note("n1", references=[("action", CONNECTOR_ID)]), connector_line(CONNECTOR_ID))
    ).json()
    assert [r["type"] for r in body["successResults"]] == ["action", "note"]
