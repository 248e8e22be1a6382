"""The admin for API keys (shown once, stored hashed, revocable, expiring) and space privileges."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from connectors.models import ApiKey, SpacePrivilege
from tests.api.conftest import make_user


@pytest.fixture
def root(spaces):
    return make_user("root", superuser=True)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_with(encoded: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {encoded}")
    return client


def add_key(client: Client, **fields) -> tuple[str, str]:
    response = client.post("/admin/connectors/apikey/add/", {"name": "ci", **fields})
    assert response.status_code == 200, response.content[:500]
    page = response.content.decode()
    encoded = re.search(r'id="api-key-encoded"[^>]*value="([^"]+)"', page).group(1)
    return encoded, page


def test_adding_a_key_shows_it_once_and_it_works(root):
    client = logged_in(root)
    encoded, page = add_key(client, user=root.pk)
    assert "shown only this once" in page
    assert api_with(encoded).get("/api/actions/connectors").status_code == 200
    key = ApiKey.objects.get()
    assert key.user == root
    for path in ("/admin/connectors/apikey/", f"/admin/connectors/apikey/{key.pk}/change/"):
        shown = client.get(path)
        assert shown.status_code == 200
        assert encoded not in shown.content.decode()
        assert key.key_hash not in shown.content.decode()


def test_revoking_a_key_in_the_admin_stops_it_at_once(root):
    client = logged_in(root)
    encoded, _ = add_key(client, user=root.pk)
    key = ApiKey.objects.get()
    response = client.post(
        "/admin/connectors/apikey/", {"action": "revoke_api_keys", "_selected_action": [key.pk]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_with(encoded).get("/api/actions/connectors").status_code == 401


def test_a_key_can_be_given_an_expiry(root):
    client = logged_in(root)
    add_key(client, user=root.pk, expires_at_0="2000-01-01", expires_at_1="00:00:00")
    assert ApiKey.objects.get().expires_at.year == 2000


def test_staff_who_are_not_superusers_make_keys_only_for_themselves(root):
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_apikey", "view_apikey", "change_apikey"])
    )
    client = logged_in(staff)
    encoded, _ = add_key(client, user=root.pk)
    assert ApiKey.objects.get().user == staff
    # The key acts as the staff user, who has no privilege in any space.
    assert api_with(encoded).get("/api/actions/connectors").status_code == 403
    root_key = ApiKey.objects.create(id="rootkey", name="root's", user=root, key_hash="0" * 64)
    assert client.get(f"/admin/connectors/apikey/{root_key.pk}/change/").status_code == 302
    assert "root&#x27;s" not in client.get("/admin/connectors/apikey/").content.decode()


def test_a_space_privilege_is_granted_in_the_admin_and_applies_to_the_api(root):
    reader = make_user("reader")
    client = logged_in(root)
    response = client.post(
        "/admin/connectors/spaceprivilege/add/",
        {"space": "marketing", "user": reader.pk, "privilege": "read"},
    )
    assert response.status_code == 302, response.content[:1000]
    assert SpacePrivilege.objects.get().privilege == "read"
    encoded, _ = add_key(client, user=reader.pk)
    assert api_with(encoded).get("/s/marketing/api/actions/connectors").status_code == 200
    assert api_with(encoded).get("/api/actions/connectors").status_code == 403


def test_a_privilege_for_both_a_user_and_a_group_is_refused(root):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="g")
    response = logged_in(root).post(
        "/admin/connectors/spaceprivilege/add/",
        {"space": "marketing", "user": root.pk, "group": group.pk, "privilege": "all"},
    )
    assert response.status_code == 200
    assert not SpacePrivilege.objects.exists()


def test_staff_cannot_grant_privileges_even_with_the_model_permissions(root):
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_spaceprivilege"))
    response = logged_in(staff).post(
        "/admin/connectors/spaceprivilege/add/", {"space": "marketing", "user": staff.pk, "privilege": "all"}
    )
    assert response.status_code == 403
    assert not SpacePrivilege.objects.exists()
