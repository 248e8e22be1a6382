"""Every route with a query schema refuses a key it does not define, with Kibana's message naming the
first unknown key in sorted order (connectors.api.base.refuse_unknown_query_keys)."""

import pytest

from tests.api.conftest import client_for, make_user

ROUTES = [
    ("get", "/api/actions/connector_types"),
    ("get", "/api/alerting/rules/_find"),
    ("get", "/api/maintenance_window/_find"),
    ("post", "/api/alerting/rules/backfill/_find"),
    ("get", "/internal/alerting/rule/some-rule/_execution_log"),
    ("get", "/internal/alerting/rule/some-rule/_execution_kpi"),
    ("post", "/api/encrypted_saved_objects/_rotate_key"),
    ("post", "/api/saved_objects/_import"),
]


@pytest.fixture
def admin(spaces):
    return client_for(make_user("root", superuser=True), "basic")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_route_refuses_a_query_key_it_does_not_define(admin, method, path):
    response = getattr(admin, method)(f"{path}?zeta=1&alpha=2")
    assert response.status_code == 400
    assert response.json()["message"] == "[request query.alpha]: definition for this key is missing"
