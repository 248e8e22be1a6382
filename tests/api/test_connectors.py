"""Every connector route and every error row of the spec (kibana-api.md §1-5, §8), in two spaces."""

import pytest

from connectors.models import Connector, ConnectorToken
from tests.api.conftest import MARKER_SECRET, SPACES, client_for, create_connector, error, make_user, prefix

PRECONFIGURED = {
    "xpack.actions.preconfigured": {
        "my-log": {"actionTypeId": ".server-log", "name": "A preconfigured log", "secrets": {}},
        "shown-log": {
            "actionTypeId": ".server-log",
            "name": "Z shown",
            "config": {},
            "exposeConfig": True,
        },
    }
}


@pytest.fixture
def admin(spaces):
    return client_for(make_user("root", superuser=True), "basic")


def url(space_id: str, rest: str) -> str:
    return f"{prefix(space_id)}/api/actions/{rest}"


@pytest.mark.parametrize("space_id", SPACES)
class TestRoutes:
    def test_create_answers_the_connector_without_secrets(self, admin, space_id):
        response = admin.post(
            url(space_id, "connector"),
            {
                "name": "hook",
                "connector_type_id": ".webhook",
                "config": {"url": "http://127.0.0.1:9/hook"},
                "secrets": {"user": "u", "password": MARKER_SECRET},
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {
            "id",
            "name",
            "connector_type_id",
            "config",
            "is_preconfigured",
            "is_deprecated",
            "is_missing_secrets",
            "is_system_action",
        }
        assert body["is_missing_secrets"] is False
        assert body["config"]["url"] == "http://127.0.0.1:9/hook"
        assert MARKER_SECRET not in response.content.decode()
        stored = Connector.objects.get(pk=body["id"])
        assert stored.space_id == space_id
        assert stored.get_secrets()["password"] == MARKER_SECRET

    def test_create_with_an_id_uses_it(self, admin, space_id):
        response = admin.post(
            url(space_id, "connector/my-own-id"),
            {"name": "x", "connector_type_id": ".server-log"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["id"] == "my-own-id"
        assert Connector.objects.get(pk="my-own-id").space_id == space_id

    @pytest.mark.parametrize("owner", SPACES)
    def test_create_with_an_id_taken_in_any_space_is_a_409(self, admin, space_id, owner):
        create_connector(owner, name="first", id="taken")
        response = admin.post(
            url(space_id, "connector/taken"), {"name": "x", "connector_type_id": ".server-log"}, format="json"
        )
        assert response.status_code == 409
        assert response.json() == error(409, "Saved object [action/taken] conflict")
        assert Connector.objects.get(pk="taken").name == "first"

    def test_create_with_a_preconfigured_id_is_a_400(self, admin, space_id, kibana_settings):
        kibana_settings.set(PRECONFIGURED)
        response = admin.post(
            url(space_id, "connector/my-log"),
            {"name": "x", "connector_type_id": ".server-log"},
            format="json",
        )
        assert response.json() == error(400, "This my-log already exists in a preconfigured action.")
        assert not Connector.objects.filter(pk="my-log").exists()

    def test_a_system_type_under_a_preconfigured_id_is_refused_as_a_system_type_first(
        self, admin, space_id, kibana_settings
    ):
        # Kibana's create checks the system type before the preconfigured id, both before validation.
        kibana_settings.set(PRECONFIGURED)
        response = admin.post(
            url(space_id, "connector/my-log"), {"name": "x", "connector_type_id": ".cases"}, format="json"
        )
        assert response.json() == error(400, "System action creation is forbidden. Action type: .cases.")

    def test_a_preconfigured_id_is_refused_before_the_config_of_a_disabled_type_is_validated(
        self, admin, space_id, kibana_settings
    ):
        kibana_settings.set({**PRECONFIGURED, "xpack.actions.enabledActionTypes": [".server-log"]})
        response = admin.post(
            url(space_id, "connector/my-log"),
            {"name": "x", "connector_type_id": ".webhook", "config": {"url": 5}},
            format="json",
        )
        assert response.json() == error(400, "This my-log already exists in a preconfigured action.")

    def test_a_connector_id_breaking_the_rules_is_a_400(self, admin, space_id):
        response = admin.post(
            url(space_id, "connector/Not_Valid"),
            {"name": "x", "connector_type_id": ".server-log"},
            format="json",
        )
        assert response.json() == error(
            400, "Connector ID must contain only lowercase letters, numbers, and hyphens."
        )

    def test_a_connector_id_ending_in_a_newline_is_a_400_not_a_stored_id(self, admin, space_id):
        # Python's `$` also matches before a final newline: `abc\n` passed the id pattern.
        response = admin.post(
            url(space_id, "connector/abc%0A"),
            {"name": "x", "connector_type_id": ".server-log"},
            format="json",
        )
        assert response.json() == error(
            400, "Connector ID must contain only lowercase letters, numbers, and hyphens."
        )
        assert not Connector.objects.filter(pk__startswith="abc").exists()

    def test_get_answers_the_connector(self, admin, space_id):
        connector = create_connector(space_id, name="mine")
        response = admin.get(url(space_id, f"connector/{connector.id}"))
        assert response.status_code == 200
        assert response.json() == {
            "id": connector.id,
            "name": "mine",
            "connector_type_id": ".server-log",
            "config": {},
            "is_preconfigured": False,
            "is_deprecated": False,
            "is_missing_secrets": False,
            "is_system_action": False,
        }

    def test_get_of_a_preconfigured_connector_hides_its_config(self, admin, space_id, kibana_settings):
        kibana_settings.set(PRECONFIGURED)
        assert admin.get(url(space_id, "connector/my-log")).json() == {
            "id": "my-log",
            "name": "A preconfigured log",
            "connector_type_id": ".server-log",
            "is_preconfigured": True,
            "is_deprecated": False,
            "is_system_action": False,
        }
        assert admin.get(url(space_id, "connector/shown-log")).json()["config"] == {}

    def test_list_merges_preconfigured_connectors_sorted_by_name(self, admin, space_id, kibana_settings):
        kibana_settings.set(PRECONFIGURED)
        create_connector(space_id, name="m-mine")
        create_connector("marketing" if space_id == "default" else "default", name="b-not-here")
        body = admin.get(url(space_id, "connectors")).json()
        assert [c["name"] for c in body] == ["A preconfigured log", "m-mine", "Z shown"]
        assert all(c["referenced_by_count"] == 0 for c in body)
        assert "is_missing_secrets" not in body[0] and "config" not in body[0]
        assert body[1]["is_missing_secrets"] is False

    def test_list_sorts_names_as_javascripts_locale_compare_does_accents_case_and_punctuation(
        self, admin, space_id
    ):
        # Kibana sorts with `a.name.localeCompare(b.name)` (ICU); the expected order is Node's.
        names = ["Zeta", "\u00c9mile", "alpha", "Beta", "hook", "A", "a", "9x", "10x", "_under", "emile"]
        names += ["my-index", "my_index", "Stra\u00dfe", "strasse", "(paren)", "@user", "$cost"]
        for name in names:
            create_connector(space_id, name=name)
        body = admin.get(url(space_id, "connectors")).json()
        assert [c["name"] for c in body] == [
            "_under", "(paren)", "@user", "$cost", "10x", "9x", "a", "A", "alpha", "Beta", "emile",
            "\u00c9mile", "hook", "my_index", "my-index", "strasse", "Stra\u00dfe", "Zeta",
        ]  # fmt: skip

    def test_update_replaces_secrets_wholesale_and_clears_missing_secrets(self, admin, space_id):
        created = admin.post(
            url(space_id, "connector"),
            {
                "name": "hook",
                "connector_type_id": ".webhook",
                "config": {"url": "http://127.0.0.1:9/a"},
                "secrets": {"user": "u", "password": "old"},
            },
            format="json",
        ).json()
        stored = Connector.objects.get(pk=created["id"])
        stored.is_missing_secrets = True
        stored.save()
        response = admin.put(
            url(space_id, f"connector/{created['id']}"),
            {
                "name": "renamed",
                "config": {"url": "http://127.0.0.1:9/b"},
                "secrets": {"user": "u2", "password": MARKER_SECRET},
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["name"] == "renamed"
        assert response.json()["is_missing_secrets"] is False
        assert MARKER_SECRET not in response.content.decode()
        stored.refresh_from_db()
        assert stored.get_secrets()["password"] == MARKER_SECRET
        assert stored.config["url"] == "http://127.0.0.1:9/b"
        # Secrets left out of an update are gone, not merged with the old ones.
        admin.put(
            url(space_id, f"connector/{created['id']}"),
            {"name": "renamed", "config": {"url": "http://127.0.0.1:9/b", "hasAuth": False}},
            format="json",
        )
        stored.refresh_from_db()
        assert not stored.get_secrets().get("password")

    def test_update_drops_the_connectors_oauth_tokens(self, admin, space_id):
        from datetime import timedelta

        from django.utils import timezone

        connector = create_connector(space_id)
        token = ConnectorToken(connector=connector, expires_at=timezone.now() + timedelta(hours=1))
        token.set_token("t")
        token.save()
        admin.put(url(space_id, f"connector/{connector.id}"), {"name": "n"}, format="json")
        assert not ConnectorToken.objects.filter(connector=connector).exists()

    def test_delete_answers_204_with_an_empty_body(self, admin, space_id):
        connector = create_connector(space_id)
        response = admin.delete(url(space_id, f"connector/{connector.id}"))
        assert response.status_code == 204
        assert response.content == b""
        assert not Connector.objects.filter(pk=connector.id).exists()

    def test_execute_runs_now_and_answers_the_result(self, admin, space_id):
        connector = create_connector(space_id)
        response = admin.post(
            url(space_id, f"connector/{connector.id}/_execute"),
            {"params": {"message": "hello", "level": "warn"}},
            format="json",
        )
        assert response.status_code == 200
        assert response.json() == {"connector_id": connector.id, "status": "ok"}

    def test_a_failing_run_is_still_http_200_with_status_error(self, admin, space_id):
        connector = create_connector(space_id)
        response = admin.post(
            url(space_id, f"connector/{connector.id}/_execute"), {"params": {"level": "warn"}}, format="json"
        )
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "error"
        assert body["connector_id"] == connector.id
        assert body["message"].startswith("error validating action params: ")
        assert body["errorSource"] == "user"
        assert body["retry"] is False

    def test_connector_types_can_be_filtered_by_feature(self, admin, space_id):
        everything = admin.get(url(space_id, "connector_types")).json()
        server_log = next(t for t in everything if t["id"] == ".server-log")
        assert set(server_log) == {
            "id",
            "name",
            "enabled",
            "enabled_in_config",
            "enabled_in_license",
            "minimum_license_required",
            "supported_feature_ids",
            "is_system_action_type",
        }
        feature = server_log["supported_feature_ids"][0]
        filtered = admin.get(url(space_id, f"connector_types?feature_id={feature}")).json()
        assert filtered and all(feature in t["supported_feature_ids"] for t in filtered)
        assert admin.get(url(space_id, "connector_types?feature_id=no-such-feature")).json() == []


@pytest.mark.parametrize("space_id", SPACES)
class TestErrors:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"connector_type_id": ".server-log"},
                "[request body.name]: expected value of type [string] but got [undefined]",
            ),
            (
                {"name": 1, "connector_type_id": ".server-log"},
                "[request body.name]: expected value of type [string] but got [number]",
            ),
            (
                {"name": "x"},
                "[request body.connector_type_id]: expected value of type [string] but got [undefined]",
            ),
            (
                {"name": "x", "connector_type_id": ".server-log", "extra": 1},
                "[request body.extra]: definition for this key is missing",
            ),
            (
                {"name": "x", "connector_type_id": ".server-log", "config": None},
                "[request body.config]: expected value of type [object] but got [null]",
            ),
            (
                {"name": "x", "connector_type_id": ".server-log", "secrets": []},
                "[request body.secrets]: expected value of type [object] but got [Array]",
            ),
            (
                {"name": "  ", "connector_type_id": ".server-log"},
                "[request body.name]: value '' is not valid",
            ),
            (
                {"name": "x", "connector_type_id": ""},
                "[request body.connector_type_id]: value '' is not valid",
            ),
            (
                {"name": "x", "connector_type_id": ".index", "config": {"index": ""}},
                "[request body.config.index]: value '' is not valid",
            ),
            (
                {
                    "name": "x",
                    "connector_type_id": ".webhook",
                    "config": {"url": "http://127.0.0.1:9"},
                    "secrets": {"password": " "},
                },
                "[request body.secrets.password]: value '' is not valid",
            ),
            (
                {"name": "x", "connector_type_id": ".index", "config": {}},
                "error validating action type config: [index]: expected value of type [string] but got [undefined]",
            ),
            (
                {
                    "name": "x",
                    "connector_type_id": ".webhook",
                    "config": {"url": "http://127.0.0.1:9"},
                    "secrets": {"password": 5},
                },
                "error validating action type secrets: [password]: types that failed validation:\n- [password.0]: expected value of type [string] but got [number]\n- [password.1]: expected value to equal [null]",
            ),
            ({"name": "x", "connector_type_id": ".nope"}, 'Action type ".nope" is not registered.'),
        ],
    )
    def test_a_bad_create_body_is_a_400_naming_the_field(self, admin, space_id, body, message):
        response = admin.post(url(space_id, "connector"), body, format="json")
        assert response.status_code == 400
        assert response.json() == error(400, message)
        assert not Connector.objects.exists()

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({}, "[request body.name]: expected value of type [string] but got [undefined]"),
            (
                {"name": "n", "connector_type_id": ".index"},
                "[request body.connector_type_id]: definition for this key is missing",
            ),
            (
                {"name": "n", "config": None},
                "[request body.config]: expected value of type [object] but got [null]",
            ),
        ],
    )
    def test_a_bad_update_body_is_a_400_naming_the_field(self, admin, space_id, body, message):
        connector = create_connector(space_id, name="keep")
        response = admin.put(url(space_id, f"connector/{connector.id}"), body, format="json")
        assert response.json() == error(400, message)
        connector.refresh_from_db()
        assert connector.name == "keep"

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({}, "[request body.params]: expected value of type [object] but got [undefined]"),
            # Kibana's params is a recordOf, and config-schema JSON-parses text given for a record
            ({"params": "x"}, "[request body.params]: could not parse record value from json input"),
            ({"params": {}, "extra": True}, "[request body.extra]: definition for this key is missing"),
        ],
    )
    def test_a_bad_execute_body_is_a_400(self, admin, space_id, body, message):
        connector = create_connector(space_id)
        response = admin.post(url(space_id, f"connector/{connector.id}/_execute"), body, format="json")
        assert response.json() == error(400, message)

    def test_a_body_that_is_not_json_is_a_400(self, admin, space_id):
        response = admin.post(url(space_id, "connector"), "{nope", content_type="application/json")
        assert response.json() == error(400, "Invalid request payload JSON format")

    @pytest.mark.parametrize("method", ["get", "put", "delete", "post"])
    def test_an_unknown_connector_is_a_404(self, admin, space_id, method):
        if method == "get":
            response = admin.get(url(space_id, "connector/missing"))
        elif method == "put":
            response = admin.put(url(space_id, "connector/missing"), {"name": "n"}, format="json")
        elif method == "delete":
            response = admin.delete(url(space_id, "connector/missing"))
        else:
            response = admin.post(url(space_id, "connector/missing/_execute"), {"params": {}}, format="json")
        assert response.status_code == 404
        assert response.json() == error(404, "Saved object [action/missing] not found")

    def test_a_type_disabled_in_config_blocks_create_update_and_execute_but_not_get_or_delete(
        self, admin, space_id, kibana_settings
    ):
        connector = create_connector(space_id)
        kibana_settings.set({"xpack.actions.enabledActionTypes": [".index"]})
        message = (
            'action type ".server-log" is not enabled in the Kibana config xpack.actions.enabledActionTypes'
        )
        created = admin.post(
            url(space_id, "connector"), {"name": "x", "connector_type_id": ".server-log"}, format="json"
        )
        assert created.json() == error(403, message)
        updated = admin.put(url(space_id, f"connector/{connector.id}"), {"name": "x"}, format="json")
        assert updated.json() == error(403, message)
        run = admin.post(
            url(space_id, f"connector/{connector.id}/_execute"), {"params": {"message": "m"}}, format="json"
        )
        assert run.json() == error(403, message)
        types = {t["id"]: t for t in admin.get(url(space_id, "connector_types")).json()}
        assert types[".server-log"]["enabled"] is False
        assert types[".server-log"]["enabled_in_config"] is False
        assert types[".index"]["enabled"] is True
        assert admin.get(url(space_id, f"connector/{connector.id}")).status_code == 200
        assert admin.delete(url(space_id, f"connector/{connector.id}")).status_code == 204

    def test_a_preconfigured_connector_cannot_be_updated_or_deleted_but_still_runs_when_disabled(
        self, admin, space_id, kibana_settings
    ):
        kibana_settings.set({**PRECONFIGURED, "xpack.actions.enabledActionTypes": [".index"]})
        updated = admin.put(url(space_id, "connector/my-log"), {"name": "x"}, format="json")
        assert updated.json() == error(400, "Preconfigured action my-log is not allowed to update.")
        deleted = admin.delete(url(space_id, "connector/my-log"))
        assert deleted.json() == error(400, "Preconfigured action my-log is not allowed to delete.")
        run = admin.post(
            url(space_id, "connector/my-log/_execute"), {"params": {"message": "m"}}, format="json"
        )
        assert run.json() == {"connector_id": "my-log", "status": "ok"}

    def test_a_long_feature_id_is_a_400(self, admin, space_id):
        response = admin.get(url(space_id, "connector_types?feature_id=" + "x" * 101))
        assert response.json() == error(
            400,
            "[request query.feature_id]: value has length [101] but it must have a maximum length of [100].",
        )

    def test_a_missing_kbn_xsrf_header_is_a_400_and_changes_nothing(self, spaces, space_id):
        client = client_for(make_user("root", superuser=True), "basic", xsrf=False)
        connector = create_connector(space_id)
        for response in (
            client.post(
                url(space_id, "connector"), {"name": "x", "connector_type_id": ".server-log"}, format="json"
            ),
            client.put(url(space_id, f"connector/{connector.id}"), {"name": "x"}, format="json"),
            client.delete(url(space_id, f"connector/{connector.id}")),
            client.post(url(space_id, f"connector/{connector.id}/_execute"), {"params": {}}, format="json"),
        ):
            assert response.status_code == 400
            assert response.json() == error(400, "Request must contain a kbn-xsrf header.")
        assert Connector.objects.get(pk=connector.id).name == "log"
        assert client.get(url(space_id, "connectors")).status_code == 200

    def test_kbn_version_stands_in_for_kbn_xsrf(self, spaces, space_id):
        client = client_for(make_user("root", superuser=True), "basic", xsrf=False)
        response = client.post(
            url(space_id, "connector"),
            {"name": "x", "connector_type_id": ".server-log"},
            format="json",
            HTTP_KBN_VERSION="8.15.0",
        )
        assert response.status_code == 200

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_no_credentials_is_a_401(self, spaces, space_id, method):
        from rest_framework.test import APIClient

        client = APIClient()
        if method == "get":
            response = client.get(url(space_id, "connectors"))
        else:
            response = client.post(
                url(space_id, "connector"), {"name": "x", "connector_type_id": ".server-log"}, format="json"
            )
        assert response.status_code == 401
        assert response.json() == error(401, "Unauthorized")
        assert not Connector.objects.exists()


def test_secrets_never_appear_in_any_response(admin):
    responses = []
    created = admin.post(
        "/api/actions/connector",
        {
            "name": "hook",
            "connector_type_id": ".webhook",
            "config": {"url": "http://127.0.0.1:9/"},
            "secrets": {"user": "u", "password": MARKER_SECRET},
        },
        format="json",
    )
    responses.append(created)
    connector_id = created.json()["id"]
    responses.append(admin.get(f"/api/actions/connector/{connector_id}"))
    responses.append(admin.get("/api/actions/connectors"))
    responses.append(admin.get("/api/actions"))
    responses.append(admin.get(f"/api/actions/action/{connector_id}"))
    responses.append(
        admin.put(
            f"/api/actions/connector/{connector_id}",
            {
                "name": "h",
                "config": {"url": "http://127.0.0.1:9/"},
                "secrets": {"user": "u", "password": MARKER_SECRET},
            },
            format="json",
        )
    )
    responses.append(
        admin.post(f"/api/actions/connector/{connector_id}/_execute", {"params": {}}, format="json")
    )
    bad = admin.put(
        f"/api/actions/connector/{connector_id}",
        {
            "name": "h",
            "config": {"url": "http://127.0.0.1:9/"},
            "secrets": {"password": MARKER_SECRET, "bad": 1},
        },
        format="json",
    )
    responses.append(bad)
    assert bad.status_code == 400
    for response in responses:
        assert MARKER_SECRET not in response.content.decode()


def test_an_unknown_api_path_or_method_is_kibanas_json_404(admin):
    for response in (
        admin.get("/api/actions/nothing-here"),
        admin.get("/s/marketing/api/nothing"),
        admin.patch("/api/actions/connectors", {}, format="json"),
        admin.patch("/api/actions/connector/x", {}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json() == error(404, "Not Found")


def test_an_api_path_under_any_space_segment_is_kibanas_json_404(admin, client):
    # `%2F` is decoded before routing: the space segment then holds a slash and no route matches.
    for response in (
        admin.get("/s/a%2Fb/api/actions/connectors"),
        admin.get("/s/a/b/api/actions/connectors"),
        admin.get("/s//api/actions/connectors"),
        admin.post("/s/a%2Fb/api/actions/connector", {}, format="json", HTTP_KBN_XSRF="x"),
        admin.get("/s/a%2Fb/internal/nothing"),
        client.get("/s/a%2Fb/api/actions/connectors"),
    ):
        assert response.status_code == 404
        assert response.json() == error(404, "Not Found")
    # A space named validly is routed as before: its list answers (empty when it does not exist).
    assert admin.get("/s/nope/api/actions/connectors").json() == []
    assert admin.get("/s/default/api/actions/connectors").status_code == 200


def test_an_unexpected_error_is_a_500_envelope_that_tells_nothing(admin, monkeypatch):
    from connectors.api import views

    def explode(*args, **kwargs):
        raise RuntimeError(f"boom {MARKER_SECRET}")

    monkeypatch.setattr(views, "list_connectors", explode)
    admin.raise_request_exception = False
    response = admin.get("/api/actions/connectors")
    assert response.status_code == 500
    assert response.json() == error(500, "An internal server error occurred.")
    assert MARKER_SECRET not in response.content.decode()


@pytest.fixture
def system_type():
    """A system action type, registered for the test only."""
    from connectors import registry
    from connectors.base import ConnectorType

    class SystemThing(ConnectorType):
        type_id = ".test-system"
        name = "Test system action"
        is_system_action_type = True

    registry.register(SystemThing)
    yield SystemThing
    registry._types.pop(".test-system")


def test_system_connectors_are_hidden_from_the_public_api(admin, system_type):
    system_id = "system-connector-.test-system"
    assert admin.get(f"/api/actions/connector/{system_id}").json() == error(
        404, f"Connector {system_id} not found"
    )
    assert admin.put(f"/api/actions/connector/{system_id}", {"name": "x"}, format="json").json() == error(
        400, f"System action {system_id} can not be updated."
    )
    assert admin.delete(f"/api/actions/connector/{system_id}").json() == error(
        400, f"System action {system_id} is not allowed to delete."
    )
    assert admin.post(
        f"/api/actions/connector/{system_id}/_execute", {"params": {}}, format="json"
    ).json() == (error(400, "Execution of system action is not allowed"))
    created = admin.post(
        "/api/actions/connector", {"name": "x", "connector_type_id": ".test-system"}, format="json"
    )
    assert created.json() == error(400, "System action creation is forbidden. Action type: .test-system.")
    assert ".test-system" not in [t["id"] for t in admin.get("/api/actions/connector_types").json()]
    assert admin.get("/api/actions/connectors").json() == []


def test_a_body_that_is_not_declared_json_is_a_415(admin):
    response = admin.post(
        "/api/actions/connector", "name=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json() == error(415, "Unsupported Media Type")
    assert not Connector.objects.exists()


def test_a_disabled_type_with_a_bad_config_is_a_400_as_kibana_validates_first(admin, kibana_settings):
    connector = create_connector("default", name="idx", type_id=".index", config={"index": "i"})
    kibana_settings.set({"xpack.actions.enabledActionTypes": [".server-log"]})
    message = (
        "error validating action type config: [index]: expected value of type [string] but got [undefined]"
    )
    created = admin.post(
        "/api/actions/connector", {"name": "x", "connector_type_id": ".index"}, format="json"
    )
    assert created.json() == error(400, message)
    updated = admin.put(f"/api/actions/connector/{connector.id}", {"name": "x", "config": {}}, format="json")
    assert updated.json() == error(400, message)
    valid = admin.put(
        f"/api/actions/connector/{connector.id}", {"name": "x", "config": {"index": "j"}}, format="json"
    )
    assert valid.status_code == 403


def test_an_ascii_names_sort_key_from_the_tables_is_the_key_the_general_path_gives():
    # The list sorts ASCII names through two translation tables; they must agree with the per-
    # character path that accented names take, or mixed lists would sort inconsistently.
    import random

    from connectors.services import _key_of_any, locale_compare_key

    every_ascii = "".join(chr(i) for i in range(128))
    rng = random.Random(7)
    names = [every_ascii] + [
        "".join(rng.choice(every_ascii) for _ in range(rng.randint(0, 12))) for _ in range(2000)
    ]
    for name in names:
        assert locale_compare_key(name) == _key_of_any(name), repr(name)


@pytest.mark.parametrize("space_id", SPACES)
def test_the_internal_connectors_route_lists_the_public_list_plus_the_system_connectors(
    admin, system_type, space_id
):
    """Kibana's UI lists connectors at `GET /internal/actions/connectors` (get_all_system.ts): the
    public list's shape, system connectors included."""
    create_connector(space_id, name="b log")
    public = admin.get(url(space_id, "connectors")).json()

    internal = admin.get(f"{prefix(space_id)}/internal/actions/connectors")

    assert internal.status_code == 200
    system = {
        "id": "system-connector-.test-system",
        "name": "Test system action",
        "connector_type_id": ".test-system",
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_system_action": True,
        "referenced_by_count": 0,
    }
    assert sorted(internal.json(), key=lambda c: c["id"]) == sorted([*public, system], key=lambda c: c["id"])
    assert [c["name"] for c in internal.json()] == ["b log", "Test system action"]


def test_the_internal_connectors_route_needs_read_in_the_space(as_user):
    reader = as_user("read", "default")
    nobody = as_user("none", "default")

    assert reader.get("/internal/actions/connectors").status_code == 200
    assert nobody.get("/internal/actions/connectors").json() == error(403, "Unauthorized to get actions")


def test_the_internal_connector_types_route_also_lists_system_action_types(admin, system_type):
    public = admin.get("/api/actions/connector_types").json()

    internal = admin.get("/internal/actions/connector_types")

    assert internal.status_code == 200
    assert [t for t in internal.json() if t["id"] != ".test-system"] == public
    assert [t for t in internal.json() if t["id"] == ".test-system"] == [
        {
            "id": ".test-system",
            "name": "Test system action",
            "enabled": True,
            "enabled_in_config": True,
            "enabled_in_license": True,
            "minimum_license_required": system_type.minimum_license,
            "supported_feature_ids": list(system_type.supported_feature_ids),
            "is_system_action_type": True,
        }
    ]
    assert admin.get("/internal/actions/connector_types?feature_id=nope").json() == []


ALERT_HISTORY_ID = "preconfigured-alert-history-es-index"


def test_the_alert_history_setting_adds_kibanas_preconfigured_index_connector(admin, kibana_settings):
    """`xpack.actions.preconfiguredAlertHistoryEsIndex: true` adds Kibana's built-in preconfigured
    Index connector writing to `kibana-alert-history-default` (spec §8); false (the default) does not."""
    from connectors.models import IndexDocument

    assert admin.get(f"/api/actions/connector/{ALERT_HISTORY_ID}").status_code == 404
    kibana_settings.set({"xpack.actions.preconfiguredAlertHistoryEsIndex": True})

    expected = {
        "id": ALERT_HISTORY_ID,
        "name": "Alert history Elasticsearch index",
        "connector_type_id": ".index",
        "is_preconfigured": True,
        "is_deprecated": False,
        "is_system_action": False,
    }
    assert admin.get(f"/api/actions/connector/{ALERT_HISTORY_ID}").json() == expected
    assert admin.get("/s/marketing/api/actions/connectors").json() == [{**expected, "referenced_by_count": 0}]
    ran = admin.post(
        f"/api/actions/connector/{ALERT_HISTORY_ID}/_execute",
        {"params": {"documents": [{"rule": {"name": "r"}}]}},
        format="json",
    )
    assert ran.json()["status"] == "ok"
    assert [d.index for d in IndexDocument.objects.all()] == ["kibana-alert-history-default"]
    assert admin.delete(f"/api/actions/connector/{ALERT_HISTORY_ID}").json() == error(
        400, f"Preconfigured action {ALERT_HISTORY_ID} is not allowed to delete."
    )


@pytest.mark.parametrize("type_id", [".cases", ".observability-ai-assistant"])
def test_kibanas_own_system_connector_ids_answer_as_kibana_though_those_types_are_not_implemented(
    admin, type_id
):
    """Kibana always has the `.cases` (and the AI assistant's) system connector; a client that names
    one hears Kibana's system-connector answers, not "not found" or "not registered"."""
    system_id = f"system-connector-{type_id}"

    assert admin.get(f"/api/actions/connector/{system_id}").json() == error(
        404, f"Connector {system_id} not found"
    )
    assert admin.put(f"/api/actions/connector/{system_id}", {"name": "x"}, format="json").json() == error(
        400, f"System action {system_id} can not be updated."
    )
    assert admin.delete(f"/api/actions/connector/{system_id}").json() == error(
        400, f"System action {system_id} is not allowed to delete."
    )
    assert admin.post(
        f"/api/actions/connector/{system_id}/_execute", {"params": {}}, format="json"
    ).json() == error(400, "Execution of system action is not allowed")
    created = admin.post("/api/actions/connector", {"name": "x", "connector_type_id": type_id}, format="json")
    assert created.json() == error(400, f"System action creation is forbidden. Action type: {type_id}.")
    assert not Connector.objects.exists()


def test_a_write_with_no_body_at_all_is_kibanas_null_payload_400(admin):
    """hapi hands Kibana's route validation a null payload when a request has no body; config-schema
    then answers `[request body]: expected a plain object value, but found [null] instead.` (an
    empty JSON object instead is `[request body.name]: ... [undefined]`)."""
    create_connector("default", name="log").save()
    connector_id = Connector.objects.get().id
    expected = error(400, "[request body]: expected a plain object value, but found [null] instead.")
    for method, path in (
        ("POST", "/api/actions/connector"),
        ("POST", "/api/actions/connector/new-id"),
        ("PUT", f"/api/actions/connector/{connector_id}"),
        ("POST", f"/api/actions/connector/{connector_id}/_execute"),
        ("POST", "/s/marketing/api/actions/connector"),
        ("POST", "/api/actions/action"),
        ("PUT", f"/api/actions/action/{connector_id}"),
        ("POST", f"/api/actions/action/{connector_id}/_execute"),
    ):
        for content_type in ("application/json", None):
            extra = {"content_type": content_type} if content_type else {}
            response = admin.generic(method, path, "", **extra)
            assert (response.status_code, response.json()) == (400, expected), (method, path, content_type)
    assert admin.post(f"/api/actions/connector/{connector_id}/_execute", {}, format="json").json() == error(
        400, "[request body.params]: expected value of type [object] but got [undefined]"
    )
