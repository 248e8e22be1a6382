"""The admin's Import and Export pages and the helper behind the connector list's Export action."""

import io
import json

from connectors.admin_saved_objects import export_connectors_response
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
    assert "Unsupported type: alert objects cannot be imported here." in html
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
    from connectors.admin_saved_objects import export_selection_url

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
