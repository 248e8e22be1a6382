"""A write with no body at all on the routes whose body is a required object (or array): hapi hands
Kibana's route validation a null payload, and config-schema answers for the whole body, not for its
first field (tests/api/test_connectors.py covers the connector routes)."""

import pytest

from actions.models import Rule
from tests.api.conftest import create_connector

NULL_OBJECT = "[request body]: expected a plain object value, but found [null] instead."


@pytest.fixture
def ids(default_space):
    connector = create_connector("default", name="log")
    connector.save()
    rule = Rule.objects.create(
        id="r1",
        space_id="default",
        name="r",
        rule_type_id=".index-threshold",
        consumer="alerts",
        schedule_interval="1m",
        params={},
        actions=[],
        enabled=False,
    )
    return {"connector": connector.id, "rule": rule.id}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/alerting/rule"),
        ("POST", "/api/alerting/rule/new-rule"),
        ("PUT", "/api/alerting/rule/{rule}"),
        ("POST", "/api/alerting/rule/{rule}/snooze_schedule"),
        ("POST", "/api/maintenance_window"),
        ("POST", "/api/spaces/space"),
        ("PUT", "/api/spaces/space/default"),
        ("POST", "/api/actions/connector/{connector}/_enqueue"),
        ("POST", "/api/actions/_bulk_enqueue"),
        ("POST", "/s/default/api/alerting/rule"),
    ],
)
@pytest.mark.parametrize("content_type", ["application/json", None])
def test_a_write_with_no_body_at_all_is_config_schemas_null_payload_400(api, ids, method, path, content_type):
    extra = {"content_type": content_type} if content_type else {}
    response = api.generic(method, path.format(**ids), "", **extra)
    assert response.status_code == 400, response.content
    assert response.json()["message"] == NULL_OBJECT
