"""kibana-py's `client.connectors` (a real third-party Kibana client) against our live server."""

import base64

import pytest
from kibana import Kibana
from kibana.exceptions import (
    AuthenticationException,
    AuthorizationException,
    BadRequestError,
    ConflictError,
    NotFoundError,
    SpaceNotFoundError,
)

from connectors.models import Connector, Space
from tests.api.conftest import PASSWORD, grant, make_user, new_api_key


@pytest.fixture
def kibana(kibana):
    Space.objects.create(id="marketing", name="Marketing")
    return kibana


def server_log(kibana, **kwargs):
    return kibana.connectors.create(name="Log", connector_type_id=".server-log", **kwargs)


def test_it_creates_gets_updates_and_deletes_a_connector(kibana):
    created = server_log(kibana)
    assert created["connector_type_id"] == ".server-log"
    got = kibana.connectors.get(id=created["id"])
    assert got["name"] == "Log"
    updated = kibana.connectors.update(id=created["id"], name="Renamed", config={})
    assert updated["name"] == "Renamed"
    kibana.connectors.delete(id=created["id"])
    assert not Connector.objects.filter(id=created["id"]).exists()


def test_it_creates_a_connector_with_the_id_the_caller_chose(kibana):
    created = server_log(kibana, id="my-log")
    assert created["id"] == "my-log"


def test_it_lists_every_connector_of_the_space(kibana):
    created = server_log(kibana)
    listed = kibana.connectors.get_all()
    assert created["id"] in [connector["id"] for connector in listed]


def test_it_runs_a_connector_and_returns_kibanas_result(kibana):
    created = server_log(kibana)
    result = kibana.connectors.execute(id=created["id"], params={"message": "hello"})
    assert result["status"] == "ok"
    assert result["connector_id"] == created["id"]


def test_it_lists_connector_types_and_filters_them_by_feature(kibana):
    every = kibana.connectors.list_types()
    ids = [connector_type["id"] for connector_type in every]
    assert ".server-log" in ids
    for connector_type in every:
        assert {"id", "name", "enabled", "supported_feature_ids"} <= set(connector_type)
    cases = kibana.connectors.list_types(feature_id="cases")
    assert cases.body
    assert all("cases" in connector_type["supported_feature_ids"] for connector_type in cases)
    assert len(cases.body) < len(every.body)


def test_it_keeps_connectors_in_the_space_named_by_space_id(kibana):
    created = server_log(kibana, space_id="marketing")
    assert Connector.objects.get(id=created["id"]).space_id == "marketing"
    assert created["id"] in [c["id"] for c in kibana.connectors.get_all(space_id="marketing")]
    assert created["id"] not in [c["id"] for c in kibana.connectors.get_all()]
    assert kibana.connectors.get(id=created["id"], space_id="marketing")["name"] == "Log"
    kibana.connectors.update(id=created["id"], name="Marketing log", space_id="marketing")
    assert (
        kibana.connectors.execute(id=created["id"], params={"message": "m"}, space_id="marketing")["status"]
        == "ok"
    )
    assert kibana.connectors.list_types(space_id="marketing").body
    with pytest.raises(NotFoundError):
        kibana.connectors.get(id=created["id"])
    kibana.connectors.delete(id=created["id"], space_id="marketing")
    assert not Connector.objects.filter(id=created["id"]).exists()


def test_a_space_scoped_client_works_on_that_space_only(kibana):
    marketing = kibana.space("marketing")
    created = marketing.connectors.create(name="Marketing", connector_type_id=".server-log")
    assert [c["id"] for c in marketing.connectors.get_all() if not c.get("is_preconfigured")] == [
        created["id"]
    ]
    with pytest.raises(SpaceNotFoundError):
        kibana.space("no-such-space")


def test_an_unknown_connector_is_a_not_found_error_with_kibanas_message(kibana):
    with pytest.raises(NotFoundError) as raised:
        kibana.connectors.get(id="does-not-exist")
    assert raised.value.message == "Saved object [action/does-not-exist] not found"
    with pytest.raises(NotFoundError):
        kibana.connectors.delete(id="does-not-exist")


def test_an_invalid_config_is_a_bad_request_error_with_kibanas_message(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.connectors.create(name="Hook", connector_type_id=".webhook", config={}, secrets={})
    assert raised.value.message == (
        "error validating action type config: [url]: expected value of type [string] but got [undefined]"
    )


def test_an_unknown_connector_type_is_a_bad_request_error(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.connectors.create(name="Nope", connector_type_id=".no-such-type")
    assert 'Action type ".no-such-type" is not registered.' in raised.value.message


def test_a_user_who_may_only_read_gets_an_authorization_error_on_create(kibana, live_server):
    reader = make_user("reader")
    grant(reader, "default", "read")
    as_reader = Kibana(live_server.url, basic_auth=("reader", PASSWORD))
    assert as_reader.connectors.get_all(validate_space=False).body is not None
    with pytest.raises(AuthorizationException):
        as_reader.connectors.create(name="Log", connector_type_id=".server-log", validate_space=False)


def test_it_authenticates_with_an_api_key(kibana, live_server):
    key = new_api_key(make_user("keyholder", superuser=True))
    with Kibana(live_server.url, api_key=key) as by_key:
        created = by_key.connectors.create(name="Keyed", connector_type_id=".server-log")
        assert by_key.connectors.get(id=created["id"])["name"] == "Keyed"


def test_it_authenticates_with_an_api_key_given_as_id_and_secret(kibana, live_server):
    key_id, secret = (
        base64.b64decode(new_api_key(make_user("keyholder", superuser=True))).decode().split(":", 1)
    )
    with Kibana(live_server.url, api_key=(key_id, secret)) as by_key:
        assert by_key.connectors.list_types().body


def test_it_serves_the_oauth_callback_script_as_text(kibana):
    script = kibana.connectors.get_oauth_callback_script()
    assert isinstance(script.body, str)
    assert script.meta.headers["content-type"].startswith("application/javascript")
    assert kibana.connectors.get_oauth_callback_script(space_id="marketing").body == script.body


def test_an_oauth_callback_with_an_unknown_state_is_a_failure_page(kibana):
    page = kibana.connectors.oauth_callback(code="a-code", state="unknown-state")
    assert page.meta.status == 200
    assert "Authorization Failed" in page.body


def test_an_oauth_callback_with_a_provider_error_shows_the_error(kibana):
    page = kibana.connectors.oauth_callback(error="access_denied", error_description="The user said no")
    assert "Authorization Failed" in page.body


def test_an_oauth_callback_in_a_space_answers_the_same_page(kibana):
    page = kibana.connectors.oauth_callback(code="a-code", state="unknown-state", space_id="marketing")
    assert "Authorization Failed" in page.body


def test_running_or_updating_an_unknown_connector_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.connectors.execute(id="does-not-exist", params={"message": "m"})
    with pytest.raises(NotFoundError):
        kibana.connectors.update(id="does-not-exist", name="x")


def test_a_wrong_password_or_api_key_is_an_authentication_error(kibana, live_server):
    wrong = Kibana(live_server.url, basic_auth=("elastic", "wrong-password"))
    with pytest.raises(AuthenticationException):
        wrong.connectors.get_all(validate_space=False)
    wrong_key = Kibana(live_server.url, api_key="bm90LWEta2V5Om5vcGU=")
    with pytest.raises(AuthenticationException):
        wrong_key.connectors.get_all(validate_space=False)


def test_the_deprecated_actions_alias_reaches_the_same_connectors(kibana):
    created = server_log(kibana)
    assert kibana.actions.get(id=created["id"])["id"] == created["id"]


def test_creating_a_connector_with_a_taken_id_is_a_conflict_error(kibana):
    server_log(kibana, id="taken")
    with pytest.raises(ConflictError):
        server_log(kibana, id="taken")


def test_a_user_with_privileges_in_one_space_only_works_there_through_a_scoped_client(kibana, live_server):
    member = make_user("member")
    grant(member, "marketing", "all")
    as_member = Kibana(live_server.url, basic_auth=("member", PASSWORD))
    marketing = as_member.space("marketing")
    created = marketing.connectors.create(name="Mine", connector_type_id=".server-log")
    assert marketing.connectors.get(id=created["id"])["name"] == "Mine"
    assert [space["id"] for space in as_member.spaces.get_all()] == ["marketing"]
    with pytest.raises(AuthorizationException):
        as_member.spaces.get(id="default")
    with pytest.raises(AuthorizationException):
        as_member.connectors.create(name="Elsewhere", connector_type_id=".server-log")
