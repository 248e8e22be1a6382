"""The admin's Import and Export pages and the helper behind the connector list's Export action."""

import io
import json
import re
from html import unescape

from connectors.admin.saved_objects import export_connectors_response
from connectors.models import Connector
from tests.saved_objects.conftest import EXPORT_714, connector_line, ndjson

SECRET = "admin-marker-0b7e"


def file_of(data: bytes, name="export.ndjson"):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def make_hook(space):
    connector = Connector(
        space=space,
        name="hook",
        connector_type_id=".webhook",
        config={"url": "https://e.example", "hasAuth": True},
    )
    connector.set_secrets({"user": "u", "password": SECRET})
    connector.save()
    return connector


def test_the_import_page_shows_a_form_behind_the_admin_login(client, superuser, default_space):
    assert client.get("/admin/saved-objects/import/").status_code == 302  # to the login page
    client.force_login(superuser)
    page = client.get("/admin/saved-objects/import/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="import-form"' in html and 'name="passphrase"' in html and 'name="mode"' in html


def test_importing_the_714_file_shows_per_object_results_and_the_warning(
    client, superuser, default_space, fixture_types
):
    client.force_login(superuser)
    page = client.post(
        "/admin/saved-objects/import/",
        {"file": file_of(EXPORT_714.read_bytes()), "space": "default", "mode": "check"},
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert "Imported 15 objects; 8 could not be imported." in html
    assert "9 connectors have sensitive information that require updates." in html
    assert "1 rule must be enabled after the import." in html
    assert html.count('class="import-ok"') == 15
    assert html.count('class="import-error"') == 8
    assert "Unsupported type: rule type .geo-containment is not available here." in html
    assert Connector.objects.count() == 14


def test_the_import_page_reports_conflicts_and_overwrites(client, superuser, default_space):
    client.force_login(superuser)
    data = ndjson(connector_line("eeeeeeee-0000-4000-8000-000000000001", name="first"))
    client.post("/admin/saved-objects/import/", {"file": file_of(data), "space": "default", "mode": "check"})

    conflict = client.post(
        "/admin/saved-objects/import/", {"file": file_of(data), "space": "default", "mode": "check"}
    ).content.decode()
    overwrite = client.post(
        "/admin/saved-objects/import/", {"file": file_of(data), "space": "default", "mode": "overwrite"}
    ).content.decode()

    assert "Conflict: an object with this id already exists." in conflict
    assert "Overwritten" in overwrite


def test_the_import_page_refuses_a_file_over_the_limit(client, superuser, default_space, kibana_settings):
    kibana_settings.set({"savedObjects.maxImportPayloadBytes": 10})
    client.force_login(superuser)
    html = client.post(
        "/admin/saved-objects/import/",
        {"file": file_of(ndjson(connector_line())), "space": "default", "mode": "check"},
    ).content.decode()
    assert "Payload content length greater than maximum allowed: 10" in html
    assert not Connector.objects.exists()


def test_the_export_page_downloads_ndjson_without_secrets(client, superuser, default_space):
    hook = make_hook(default_space)
    client.force_login(superuser)
    assert client.get("/admin/saved-objects/export/").status_code == 200

    response = client.post("/admin/saved-objects/export/", {"space": "default", "types": ["action"]})

    assert response["Content-Type"] == "application/ndjson"
    text = response.content.decode()
    assert SECRET not in text
    assert json.loads(text.splitlines()[0])["id"] == hook.id


def test_staff_without_a_space_privilege_cannot_use_the_pages(client, db, django_user_model, default_space):
    staff = django_user_model.objects.create_user("staff", password="staff-pass-1", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/saved-objects/import/").status_code == 403
    assert client.get("/admin/saved-objects/export/").status_code == 403


def test_export_connectors_response_is_kibanas_export_of_the_selection(default_space, other_space):
    hook = make_hook(default_space)
    log = Connector.objects.create(space=other_space, name="log", connector_type_id=".server-log")

    response = export_connectors_response(Connector.objects.filter(pk__in=[hook.id, log.id]))

    lines = [json.loads(line) for line in response.content.decode().splitlines()]
    assert [line["id"] for line in lines[:-1]] == [hook.id, log.id]
    assert lines[0]["attributes"]["isMissingSecrets"] is True
    assert lines[-1]["exportedCount"] == 2
    assert SECRET not in response.content.decode()
    assert response["Content-Disposition"] == 'attachment; filename="export.ndjson"'


def test_a_passphrase_carries_secrets_through_the_admin_pages(client, superuser, default_space, other_space):
    hook = make_hook(default_space)
    client.force_login(superuser)

    exported = client.post(
        "/admin/saved-objects/export/",
        {"space": "default", "types": ["action"], "passphrase": "admin pass phrase"},
    )
    assert SECRET not in exported.content.decode()
    html = client.post(
        "/admin/saved-objects/import/",
        {
            "file": file_of(exported.content),
            "space": "marketing",
            "mode": "copies",
            "passphrase": "admin pass phrase",
        },
    ).content.decode()

    assert "Imported 1 object." in html
    assert "admin pass phrase" not in html
    copy = Connector.objects.get(space_id="marketing")
    assert copy.id != hook.id
    assert copy.get_secrets()["password"] == SECRET
    assert copy.is_missing_secrets is False


def test_the_export_page_exports_a_selection_with_a_passphrase(client, superuser, default_space):
    from connectors.admin.saved_objects import export_selection_url

    hook = make_hook(default_space)
    other = make_hook(default_space)
    client.force_login(superuser)
    url = export_selection_url([hook])

    page = client.get(url).content.decode()
    assert "1 connector selected" in page and hook.id in page and other.id not in page

    response = client.post(url, {"passphrase": "selection pass"})
    lines = [json.loads(line) for line in response.content.decode().splitlines()]
    assert [line["id"] for line in lines[:-1]] == [hook.id]
    assert "encryptedSecrets" in lines[0]
    assert SECRET not in response.content.decode()


# ---- resolving conflicts per object ---------------------------------------------------------------

ID_ONE = "eeeeeeee-0000-4000-8000-000000000011"
ID_TWO = "eeeeeeee-0000-4000-8000-000000000012"
ID_THREE = "eeeeeeee-0000-4000-8000-000000000013"


def _import_with_conflicts(client, superuser, default_space):
    for connector_id, name in ((ID_ONE, "one old"), (ID_TWO, "two old"), (ID_THREE, "three old")):
        connector = Connector(
            id=connector_id, space=default_space, name=name, connector_type_id=".server-log"
        )
        connector.set_secrets({})
        connector.save()
    client.force_login(superuser)
    data = ndjson(
        connector_line(ID_ONE, name="one new"),
        connector_line(ID_TWO, name="two new"),
        connector_line(ID_THREE, name="three new"),
    )
    page = client.post(
        "/admin/saved-objects/import/", {"file": file_of(data), "space": "default", "mode": "check"}
    )
    return page.content.decode()


def test_after_conflicts_the_import_page_offers_a_choice_per_object(client, superuser, default_space):
    html = _import_with_conflicts(client, superuser, default_space)

    assert 'id="resolve-form"' in html
    for index in range(3):
        assert f'name="conflict-{index}" value="overwrite"' in html
        assert f'name="conflict-{index}" value="copy"' in html
        assert f'name="conflict-{index}" value="skip" checked' in html


def test_resolving_overwrites_copies_and_skips_only_as_chosen(client, superuser, default_space):
    import re

    html = _import_with_conflicts(client, superuser, default_space)
    token = re.search(r'name="pending" value="([^"]+)"', html).group(1)

    resolved = client.post(
        "/admin/saved-objects/import/",
        {
            "_resolve": "Resolve",
            "pending": token,
            "conflict-0": "overwrite",
            "conflict-1": "copy",
            "conflict-2": "skip",
        },
    ).content.decode()

    assert "Imported 2 objects." in resolved
    assert "Skipped 1 conflicting object." in resolved
    assert Connector.objects.get(pk=ID_ONE).name == "one new"
    assert Connector.objects.get(pk=ID_TWO).name == "two old"
    assert Connector.objects.filter(name="two new").exclude(pk=ID_TWO).count() == 1
    assert Connector.objects.get(pk=ID_THREE).name == "three old"
    assert 'id="resolve-form"' not in resolved
    # the pending import is spent: the same token does nothing again
    again = client.post(
        "/admin/saved-objects/import/", {"_resolve": "Resolve", "pending": token, "conflict-0": "copy"}
    )
    assert "no longer pending" in again.content.decode()
    assert Connector.objects.filter(name="one new").count() == 1


def test_the_pending_file_is_sealed_in_the_session(client, superuser, default_space):
    _import_with_conflicts(client, superuser, default_space)

    stored = client.session["saved_objects_pending_import"]

    assert stored["file"].startswith("gAAAAA")
    assert "one new" not in str(stored["file"])


def test_resolving_a_passphrase_file_asks_for_the_passphrase_again_and_restores_secrets(
    client, superuser, default_space
):
    import re

    hook = make_hook(default_space)
    client.force_login(superuser)
    exported = client.post(
        "/admin/saved-objects/export/",
        {"space": "default", "types": ["action"], "passphrase": "pass phrase 1"},
    ).content
    Connector.objects.filter(pk=hook.pk).update(name="renamed here")
    html = client.post(
        "/admin/saved-objects/import/",
        {"file": file_of(exported), "space": "default", "mode": "check", "passphrase": "pass phrase 1"},
    ).content.decode()
    assert 'id="id_resolve_passphrase"' in html
    assert "pass phrase 1" not in html
    token = re.search(r'name="pending" value="([^"]+)"', html).group(1)

    client.post(
        "/admin/saved-objects/import/",
        {"_resolve": "Resolve", "pending": token, "conflict-0": "overwrite", "passphrase": "pass phrase 1"},
    )

    restored = Connector.objects.get(pk=hook.pk)
    assert restored.name == "hook"
    assert restored.get_secrets()["password"] == SECRET
    assert restored.is_missing_secrets is False


def test_an_ambiguous_conflict_offers_each_copy_to_overwrite(client, superuser, default_space, other_space):
    import re

    origin = "eeeeeeee-0000-4000-8000-000000000021"
    for copy_id in ("eeeeeeee-0000-4000-8000-000000000022", "eeeeeeee-0000-4000-8000-000000000023"):
        copy = Connector(
            id=copy_id,
            space=other_space,
            name=f"copy {copy_id[-2:]}",
            connector_type_id=".server-log",
            origin_id=origin,
        )
        copy.set_secrets({})
        copy.save()
    client.force_login(superuser)
    html = client.post(
        "/admin/saved-objects/import/",
        {
            "file": file_of(ndjson(connector_line(origin, name="original"))),
            "space": "marketing",
            "mode": "check",
        },
    ).content.decode()
    assert 'value="overwrite:eeeeeeee-0000-4000-8000-000000000023"' in html
    token = re.search(r'name="pending" value="([^"]+)"', html).group(1)

    client.post(
        "/admin/saved-objects/import/",
        {
            "_resolve": "Resolve",
            "pending": token,
            "conflict-0": "overwrite:eeeeeeee-0000-4000-8000-000000000023",
        },
    )

    assert Connector.objects.get(pk="eeeeeeee-0000-4000-8000-000000000023").name == "original"
    assert Connector.objects.get(pk="eeeeeeee-0000-4000-8000-000000000022").name == "copy 22"
    assert not Connector.objects.filter(pk=origin).exists()


def test_the_import_results_link_to_the_connectors_in_the_space_they_were_imported_into(
    client, superuser, default_space, other_space
):
    client.force_login(superuser)
    client.get("/admin/connectors/connector/?space=default")  # the header's space is another one
    html = client.post(
        "/admin/saved-objects/import/",
        {"file": file_of(ndjson(connector_line(missing=True))), "space": "marketing", "mode": "check"},
    ).content.decode()

    connector = Connector.objects.get(space_id="marketing")
    (to_connector,) = re.findall(rf'href="(/admin/connectors/connector/{connector.id}/[^"]*)"', html)
    (to_list,) = re.findall(r'href="([^"]*)">Go to connectors<', html)
    client.get("/admin/connectors/connector/?space=default")
    assert client.get(unescape(to_connector), follow=True).status_code == 200
    client.get("/admin/connectors/connector/?space=default")
    listed = client.get(unescape(to_list), follow=True).content.decode()
    assert f"/admin/connectors/connector/{connector.id}/" in listed  # the list of marketing
