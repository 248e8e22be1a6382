"""Per-space privileges, in two spaces, for each privilege level and each way to authenticate.

`all` may create, update, delete, run and read; `read` may read and run (as Kibana lets it);
`none` gets Kibana's 403 for everything. A space's connectors are invisible from another space.
"""

import pytest
from django.contrib.auth.models import Group

from connectors import privileges
from connectors.models import Connector
from tests.api.conftest import (
    AUTH_METHODS,
    PRIVILEGES,
    SPACES,
    client_for,
    create_connector,
    error,
    grant,
    make_user,
    prefix,
)

EXPECTED = {
    # operation: (status for all, status for read, status for none, 403 message)
    "list": (200, 200, 403, "Unauthorized to get actions"),
    "get": (200, 200, 403, "Unauthorized to get actions"),
    "execute": (200, 200, 403, "Unauthorized to execute actions"),
    "create": (200, 403, 403, 'Unauthorized to create a ".server-log" action'),
    "update": (200, 403, 403, "Unauthorized to update actions"),
    "delete": (204, 403, 403, "Unauthorized to delete actions"),
}


def call(client, operation: str, space_id: str, connector_id: str):
    base = f"{prefix(space_id)}/api/actions"
    if operation == "list":
        return client.get(f"{base}/connectors")
    if operation == "get":
        return client.get(f"{base}/connector/{connector_id}")
    if operation == "execute":
        return client.post(
            f"{base}/connector/{connector_id}/_execute", {"params": {"message": "hi"}}, format="json"
        )
    if operation == "create":
        return client.post(
            f"{base}/connector", {"name": "new", "connector_type_id": ".server-log"}, format="json"
        )
    if operation == "update":
        return client.put(f"{base}/connector/{connector_id}", {"name": "renamed"}, format="json")
    if operation == "delete":
        return client.delete(f"{base}/connector/{connector_id}")
    raise ValueError(operation)


@pytest.mark.parametrize("method", AUTH_METHODS)
@pytest.mark.parametrize("privilege", PRIVILEGES)
@pytest.mark.parametrize("space_id", SPACES)
def test_each_operation_answers_as_the_privilege_allows(spaces, space_id, privilege, method):
    connector = create_connector(space_id, name="existing")
    user = make_user(f"u-{privilege}-{method}")
    grant(user, space_id, privilege)
    client = client_for(user, method)
    column = PRIVILEGES.index(privilege)
    for operation, row in EXPECTED.items():
        response = call(client, operation, space_id, connector.id)
        assert response.status_code == row[column], (operation, response.content)
        if row[column] == 403:
            assert response.json() == error(403, row[3]), operation
    if privilege == "all":
        assert not Connector.objects.filter(pk=connector.id).exists()
        assert Connector.objects.filter(space_id=space_id, name="new").exists()
    else:
        connector.refresh_from_db()
        assert connector.name == "existing"
        assert not Connector.objects.filter(name="new").exists()


@pytest.mark.parametrize("privilege", ["all", "read"])
def test_readers_see_the_connectors_of_their_space_only(spaces, privilege):
    mine = create_connector("marketing", name="mine")
    create_connector("default", name="theirs")
    user = make_user("reader")
    grant(user, "marketing", privilege)
    client = client_for(user, "basic")
    listed = client.get("/s/marketing/api/actions/connectors").json()
    assert [c["id"] for c in listed] == [mine.id]


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_a_user_cannot_tell_whether_a_connector_exists_in_a_space_they_cannot_read(spaces, method):
    hidden = create_connector("default", name="hidden")
    user = make_user("outsider")
    grant(user, "marketing", "all")
    client = client_for(user, method)
    for operation in ("get", "execute", "update", "delete"):
        existing = call(client, operation, "default", hidden.id)
        missing = call(client, operation, "default", "no-such-connector")
        assert existing.status_code == missing.status_code == 403, operation
        assert existing.json() == missing.json(), operation
    assert client.get("/api/actions/connectors").status_code == 403
    assert Connector.objects.filter(pk=hidden.id, name="hidden").exists()


def test_a_connector_of_another_space_is_not_found_even_with_all_in_both(spaces):
    elsewhere = create_connector("default", name="elsewhere")
    user = make_user("both")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    client = client_for(user, "basic")
    response = client.get(f"/s/marketing/api/actions/connector/{elsewhere.id}")
    assert response.status_code == 404
    assert response.json() == error(404, f"Saved object [action/{elsewhere.id}] not found")
    assert client.delete(f"/s/marketing/api/actions/connector/{elsewhere.id}").status_code == 404
    assert Connector.objects.filter(pk=elsewhere.id).exists()


def test_a_group_grant_counts_and_the_highest_grant_wins(spaces):
    user = make_user("member")
    group = Group.objects.create(name="operators")
    user.groups.add(group)
    grant(group, "marketing", "all")
    grant(user, "marketing", "read")
    client = client_for(user, "basic")
    created = client.post(
        "/s/marketing/api/actions/connector", {"name": "g", "connector_type_id": ".server-log"}, format="json"
    )
    assert created.status_code == 200, created.content


def test_superusers_have_all_in_every_space(spaces):
    admin = make_user("root", superuser=True)
    client = client_for(admin, "apikey")
    for space_id in SPACES:
        created = client.post(
            f"{prefix(space_id)}/api/actions/connector",
            {"name": "s", "connector_type_id": ".server-log"},
            format="json",
        )
        assert created.status_code == 200
        assert Connector.objects.get(pk=created.json()["id"]).space_id == space_id


def test_a_space_that_does_not_exist_holds_nothing_for_superusers_and_is_403_for_others(
    spaces, kibana_settings
):
    kibana_settings.set(
        {"xpack.actions.preconfigured": {"pre": {"actionTypeId": ".server-log", "name": "pre"}}}
    )
    elsewhere = create_connector("default", name="elsewhere")
    admin = client_for(make_user("root", superuser=True), "basic")
    assert [c["id"] for c in admin.get("/s/nowhere/api/actions/connectors").json()] == ["pre"]
    assert admin.get(f"/s/nowhere/api/actions/connector/{elsewhere.id}").json() == error(
        404, f"Saved object [action/{elsewhere.id}] not found"
    )
    created = admin.post(
        "/s/nowhere/api/actions/connector", {"name": "x", "connector_type_id": ".server-log"}, format="json"
    )
    assert created.json() == error(404, "Not Found")
    user = make_user("someone")
    grant(user, "marketing", "all")
    other = client_for(user, "basic")
    assert other.get("/s/nowhere/api/actions/connectors").json() == error(403, "Unauthorized to get actions")


@pytest.mark.parametrize("privilege", PRIVILEGES)
def test_anyone_signed_in_may_list_connector_types(spaces, privilege):
    user = make_user("typer")
    grant(user, "default", privilege)
    response = client_for(user, "basic").get("/api/actions/connector_types")
    assert response.status_code == 200
    assert ".server-log" in [t["id"] for t in response.json()]


@pytest.mark.parametrize("privilege", [privileges.ALL, privileges.READ, privileges.NONE])
def test_an_operation_no_list_names_is_refused_to_every_privilege(privilege):
    # before: `read` was allowed anything not listed as needing `all` (fail open)
    assert privileges.allows(privilege, "bulkDelete") is False
    assert privileges.allows(privilege, "") is False


def test_the_listed_operations_follow_kibanas_privileges():
    assert [privileges.allows(privileges.READ, op) for op in ("get", "find", "execute", "read")] == [True] * 4
    assert [privileges.allows(privileges.READ, op) for op in ("create", "update", "delete")] == [False] * 3
    assert all(
        privileges.allows(privileges.ALL, op) for op in ("get", "execute", "create", "update", "delete")
    )
    assert not any(privileges.allows(privileges.NONE, op) for op in ("get", "execute", "create"))
