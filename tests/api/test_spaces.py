"""Kibana's spaces API: bodies, codes and messages; only superusers manage spaces."""

import pytest

from connectors.models import Connector, Space, SpacePrivilege
from tests.api.conftest import AUTH_METHODS, client_for, create_connector, error, grant, make_user


@pytest.fixture
def admin(spaces):
    return client_for(make_user("root", superuser=True), "basic")


def test_listing_spaces_answers_kibanas_shapes(admin):
    assert admin.get("/api/spaces/space").json() == [
        {
            "id": "default",
            "name": "Default",
            "description": "This is your default space!",
            "color": "#00bfb3",
            "disabledFeatures": [],
            "_reserved": True,
        },
        {"id": "marketing", "name": "Marketing", "disabledFeatures": []},
    ]


def test_creating_a_space_answers_200_with_the_space(admin):
    body = {
        "id": "sales",
        "name": "Sales",
        "description": "a description",
        "color": "#5c5959",
        "initials": "SA",
        "disabledFeatures": [],
    }
    response = admin.post("/api/spaces/space", body, format="json")
    assert response.status_code == 200
    assert response.json() == body
    assert Space.objects.get(pk="sales").initials == "SA"
    assert admin.get("/api/spaces/space/sales").json() == body


def test_connectors_can_be_created_in_a_new_space_at_once(admin):
    admin.post("/api/spaces/space", {"id": "ops", "name": "Ops"}, format="json")
    created = admin.post(
        "/s/ops/api/actions/connector", {"name": "l", "connector_type_id": ".server-log"}, format="json"
    )
    assert created.status_code == 200
    assert Connector.objects.get().space_id == "ops"


def test_creating_a_space_with_a_taken_id_is_a_409(admin):
    response = admin.post("/api/spaces/space", {"id": "marketing", "name": "Again"}, format="json")
    assert response.json() == error(409, "A space with the identifier marketing already exists.")
    assert Space.objects.get(pk="marketing").name == "Marketing"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x"}, "[request body.id]: expected value of type [string] but got [undefined]"),
        ({"id": 5, "name": "x"}, "[request body.id]: expected value of type [string] but got [number]"),
        (
            {"id": "Bad Id", "name": "x"},
            "[request body.id]: must be lower case, a-z, 0-9, '_', and '-' are allowed",
        ),
        ({"id": "ok"}, "[request body.name]: expected value of type [string] but got [undefined]"),
        (
            {"id": "ok", "name": ""},
            "[request body.name]: value has length [0] but it must have a minimum length of [1].",
        ),
        (
            {"id": "ok", "name": "x", "color": "red"},
            "[request body.color]: must be a 6 digit hex color, starting with a #",
        ),
        (
            {"id": "ok", "name": "x", "initials": "ABC"},
            "[request body.initials]: value has length [3] but it must have a maximum length of [2].",
        ),
        (
            {"id": "ok", "name": "x", "imageUrl": "http://x"},
            "[request body.imageUrl]: must start with 'data:image'",
        ),
        (
            {"id": "ok", "name": "x", "disabledFeatures": "a"},
            "[request body.disabledFeatures]: could not parse array value from json input",
        ),
        (
            {"id": "ok", "name": "x", "unknown": 1},
            "[request body.unknown]: definition for this key is missing",
        ),
    ],
)
def test_a_bad_space_body_is_a_400_naming_the_field(admin, body, message):
    response = admin.post("/api/spaces/space", body, format="json")
    assert response.json() == error(400, message)
    assert not Space.objects.filter(pk="ok").exists()


def test_updating_a_space_answers_200_with_the_space(admin):
    response = admin.put(
        "/api/spaces/space/marketing",
        {"id": "marketing", "name": "Marketing team", "color": "#aabbcc", "disabledFeatures": ["dev_tools"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": "marketing",
        "name": "Marketing team",
        "color": "#aabbcc",
        "disabledFeatures": ["dev_tools"],
    }
    assert Space.objects.get(pk="marketing").name == "Marketing team"


def test_updating_or_getting_or_deleting_a_missing_space_is_a_404(admin):
    assert admin.get("/api/spaces/space/nope").json() == error(404, "Not Found")
    assert admin.put("/api/spaces/space/nope", {"id": "nope", "name": "n"}, format="json").json() == error(
        404, "Not Found"
    )
    assert admin.delete("/api/spaces/space/nope").json() == error(404, "Not Found")
    assert not Space.objects.filter(pk="nope").exists()


def test_deleting_a_space_answers_204_and_deletes_its_connectors_only(admin):
    doomed = create_connector("marketing", name="doomed")
    kept = create_connector("default", name="kept")
    response = admin.delete("/api/spaces/space/marketing")
    assert response.status_code == 204
    assert response.content == b""
    assert not Space.objects.filter(pk="marketing").exists()
    assert not Connector.objects.filter(pk=doomed.id).exists()
    assert Connector.objects.filter(pk=kept.id).exists()


def test_the_default_space_cannot_be_deleted(admin):
    response = admin.delete("/api/spaces/space/default")
    assert response.json() == error(400, "The default space cannot be deleted because it is reserved.")
    assert Space.objects.filter(pk="default").exists()


@pytest.mark.parametrize("method", AUTH_METHODS)
@pytest.mark.parametrize("privilege", ["all", "read", "none"])
def test_only_superusers_manage_spaces(spaces, privilege, method):
    user = make_user("u")
    grant(user, "marketing", privilege)
    client = client_for(user, method)
    created = client.post("/api/spaces/space", {"id": "x", "name": "x"}, format="json")
    assert created.json() == error(403, "Unauthorized to create spaces")
    updated = client.put("/api/spaces/space/marketing", {"id": "marketing", "name": "y"}, format="json")
    assert updated.json() == error(403, "Unauthorized to update spaces")
    deleted = client.delete("/api/spaces/space/marketing")
    assert deleted.json() == error(403, "Unauthorized to delete spaces")
    assert Space.objects.get(pk="marketing").name == "Marketing"
    assert not Space.objects.filter(pk="x").exists()


@pytest.mark.parametrize("privilege", ["all", "read"])
def test_users_see_and_get_the_spaces_they_have_a_privilege_in(spaces, privilege):
    user = make_user("u")
    grant(user, "marketing", privilege)
    client = client_for(user, "basic")
    assert [s["id"] for s in client.get("/api/spaces/space").json()] == ["marketing"]
    assert client.get("/api/spaces/space/marketing").status_code == 200
    hidden = client.get("/api/spaces/space/default")
    missing = client.get("/api/spaces/space/nope")
    assert hidden.json() == error(403, "Unauthorized to get default space")
    assert missing.json() == error(403, "Unauthorized to get nope space")


def test_a_user_without_any_space_is_forbidden_to_list(spaces):
    client = client_for(make_user("nobody"), "basic")
    assert client.get("/api/spaces/space").json() == error(403, "Forbidden")


def test_authorized_purposes_are_listed_on_request(spaces):
    user = make_user("u")
    grant(user, "marketing", "read")
    listed = client_for(user, "basic").get("/api/spaces/space?include_authorized_purposes=true").json()
    assert listed[0]["authorizedPurposes"] == {
        "any": True,
        "copySavedObjectsIntoSpace": False,
        "findSavedObjects": True,
        "shareSavedObjectsIntoSpace": False,
    }


def test_an_unknown_purpose_is_a_400(admin):
    response = admin.get("/api/spaces/space?purpose=everything")
    assert response.status_code == 400
    assert response.json()["message"].startswith("[request query.purpose]: types that failed validation:")


def test_deleting_a_space_deletes_its_privileges(admin):
    user = make_user("u")
    grant(user, "marketing", "all")
    admin.delete("/api/spaces/space/marketing")
    assert not SpacePrivilege.objects.exists()


def test_the_spaces_api_needs_kbn_xsrf_for_changes(spaces):
    client = client_for(make_user("root", superuser=True), "basic", xsrf=False)
    response = client.post("/api/spaces/space", {"id": "x", "name": "x"}, format="json")
    assert response.json() == error(400, "Request must contain a kbn-xsrf header.")


@pytest.mark.parametrize("space", ["Marketing", "sales!", "caf%C3%A9", "a%20b", "a.b", "sales%0A"])
def test_every_space_route_answers_kibanas_404_for_a_space_id_kibana_would_not_route(admin, space):
    # Kibana takes the space from `/s/([a-z0-9_-]+)` only; any other segment leaves the path
    # unrouted, so hapi answers 404 Not Found whatever the route and method.
    from tests.api.test_routes import api_routes, sample_path

    prefix = "s/<str:space_id>/"
    routes = [r for r in api_routes() if r.startswith((f"{prefix}api/", f"{prefix}internal/"))]
    assert len(routes) > 20
    answers = {}
    for route in routes:
        path = sample_path(route).replace("space_id-sample", space, 1)
        for method in (admin.get, admin.post, admin.delete):
            response = method(path, {}, format="json")
            if response.status_code != 404 or response.json() != error(404, "Not Found"):
                answers[f"{method.__name__.upper()} {path}"] = response.status_code
    assert answers == {}
    assert Connector.objects.count() == 0
    # The same space id, spelt validly, is routed as before.
    assert admin.get("/s/marketing/api/actions/connectors").status_code == 200


def test_a_space_id_or_color_ending_in_a_newline_is_refused_as_kibanas_regex_refuses_it(admin):
    # Python's `$` also matches before a final newline; JavaScript's, in Kibana's schema, does not.
    from django.core.exceptions import ValidationError

    from connectors.models import validate_space_id

    response = admin.post("/api/spaces/space", {"id": "sales\n", "name": "x"}, format="json")
    assert response.json() == error(
        400, "[request body.id]: must be lower case, a-z, 0-9, '_', and '-' are allowed"
    )
    response = admin.post(
        "/api/spaces/space", {"id": "sales", "name": "x", "color": "#aabbcc\n"}, format="json"
    )
    assert response.json() == error(
        400, "[request body.color]: must be a 6 digit hex color, starting with a #"
    )
    assert not Space.objects.filter(pk__startswith="sales").exists()
    with pytest.raises(ValidationError):
        validate_space_id("sales\n")
