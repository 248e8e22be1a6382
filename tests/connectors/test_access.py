"""Authorization comes with the lookup (connectors/access.py): a view gets a connector only through
`connector_for`, which checks the space privilege first."""

import re
from pathlib import Path

import pytest

from connectors.access import AccessDenied, connector_for, connectors_for
from connectors.services import ConnectorNotFound
from tests.actions.helpers import make_webhook
from tests.api.conftest import client_for, grant, make_user

ROOT = Path(__file__).resolve().parents[2]
PRECONFIGURED = {"xpack.actions.preconfigured": {"my-log": {"actionTypeId": ".server-log", "name": "Log"}}}


@pytest.fixture
def hook(default_space, other_space):
    return make_webhook(default_space, "http://127.0.0.1:9/hook")


@pytest.mark.parametrize("need", ["read", "get", "execute"])
def test_a_read_privilege_gets_the_connector_for_reading_and_running(hook, need):
    assert connector_for("read", hook.id, space_id="default", need=need) == hook


@pytest.mark.parametrize("need", ["all", "update", "delete", "create"])
def test_a_read_privilege_is_refused_the_connector_for_changing_it(hook, need):
    with pytest.raises(AccessDenied):
        connector_for("read", hook.id, space_id="default", need=need)


@pytest.mark.parametrize("need", ["read", "all", "update"])
def test_the_all_privilege_gets_the_connector_for_any_need(hook, need):
    assert connector_for("all", hook.id, space_id="default", need=need) == hook


def test_no_privilege_is_refused_before_the_id_is_looked_at(db, default_space):
    with pytest.raises(AccessDenied):
        connector_for("none", "no-such-id", space_id="default", need="read")


def test_an_unknown_operation_is_refused_even_with_the_all_privilege(hook):
    with pytest.raises(AccessDenied):
        connector_for("all", hook.id, space_id="default", need="launch")


def test_a_connector_of_another_space_is_not_found(hook):
    with pytest.raises(ConnectorNotFound, match=rf"^Saved object \[action/{hook.id}\] not found$"):
        connector_for("all", hook.id, space_id="marketing", need="read")


def test_a_preconfigured_connector_is_found_in_every_space_unless_the_operation_excludes_it(
    db, other_space, kibana_settings
):
    kibana_settings.set(PRECONFIGURED)
    found = connector_for("read", "my-log", space_id="marketing", need="get")
    assert found.is_preconfigured and found.run_space_id == "marketing"
    with pytest.raises(ConnectorNotFound):
        connector_for("all", "my-log", space_id="marketing", need="update", preconfigured=False)


def test_connectors_for_leaves_out_other_spaces_and_refuses_a_read_privilege_for_all(hook, other_space):
    theirs = make_webhook(other_space, "http://127.0.0.1:9/other")
    assert list(connectors_for("read", [hook.id, theirs.id], space_id="default", need="read")) == [hook]
    with pytest.raises(AccessDenied):
        connectors_for("read", [hook.id], space_id="default", need="all")


def test_an_api_reader_gets_the_connector_but_a_403_for_updating_it(hook):
    user = make_user("reader")
    grant(user, "default", "read")
    client = client_for(user, "basic")
    assert client.get(f"/api/actions/connector/{hook.id}").status_code == 200
    response = client.put(f"/api/actions/connector/{hook.id}", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "Unauthorized to update actions"


def test_an_api_user_of_another_space_gets_a_404_in_their_own_space(hook):
    user = make_user("marketer")
    grant(user, "marketing", "all")
    response = client_for(user, "basic").get(f"/s/marketing/api/actions/connector/{hook.id}")
    assert response.status_code == 404
    assert response.json()["message"] == f"Saved object [action/{hook.id}] not found"


def test_an_admin_reader_sees_the_test_tab_but_gets_a_403_on_the_edit_page(client, hook):
    user = make_user("admin-reader")
    grant(user, "default", "read")
    client.force_login(user)
    assert client.get(f"/admin/connectors/connector/{hook.id}/test/").status_code == 200
    assert client.get(f"/admin/connectors/connector/{hook.id}/change/").status_code == 403
    assert client.get(f"/admin/connectors/connector/{hook.id}/fix/").status_code == 403


def test_an_admin_user_of_another_space_gets_a_404_for_the_connector(client, hook):
    user = make_user("admin-marketer")
    grant(user, "marketing", "all")
    client.force_login(user)
    assert client.get(f"/admin/connectors/connector/{hook.id}/change/?space=marketing").status_code == 404


# The modules that answer requests. None may reach a connector by id except through connector_for.
VIEW_MODULES = [
    *sorted((ROOT / "connectors" / "api").glob("*.py")),
    *sorted((ROOT / "connectors" / "admin").glob("*.py")),
    *sorted((ROOT / "actions" / "api").glob("*.py")),
    *sorted((ROOT / "eventlog" / "api").glob("*.py")),
    *sorted((ROOT / "actions").glob("admin*.py")),
]
DIRECT_LOOKUPS = re.compile(
    r"Connector\.objects\.(get|filter|select_for_update\(\)\.filter)\([^)]*\bpk="
    r"|\bfind_connector\("
    r"|\bget_preconfigured\("
    r"|\b_connector_or_404\b"
    r"|\b_connector_in_space\b"
)


def test_the_view_modules_exist_where_the_scan_looks():
    names = {path.relative_to(ROOT).as_posix() for path in VIEW_MODULES}
    assert {"connectors/api/views.py", "connectors/admin/views.py", "eventlog/api/views.py"} <= names


@pytest.mark.parametrize("path", VIEW_MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_view_looks_a_connector_up_without_the_privilege_check(path):
    found = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DIRECT_LOOKUPS.search(line)
    ]
    assert found == [], "look connectors up with connectors.access.connector_for (KibanaView.connector)"


def test_the_scan_would_catch_a_direct_lookup():
    for line in (
        "connector = Connector.objects.get(pk=connector_id, space_id=self.space_id)",
        "connector = Connector.objects.filter(pk=connector_id).first()",
        "return find_connector(self.space_id, connector_id)",
        "connector = _connector_or_404(self.space_id, connector_id)",
    ):
        assert DIRECT_LOOKUPS.search(line), line
