"""The create route's body (alerting common/routes/rule/apis/create/schemas/v1.ts) declares
`alert_delay: schema.maybe(alertDelaySchema)`, an action's `frequency: schema.maybe(...)` and
`alerts_filter: schema.maybe(...)`: null is refused there. `flapping` is
`schema.maybe(schema.nullable(flappingSchema))`: null is taken, and a failure inside it is listed under
the union config-schema makes of `nullable`."""

from tests.actions.helpers import make_webhook, threshold_rule_body
from tests.api.conftest import create_connector, error
from tests.api.test_config_schema_objects import rule_body


def test_the_create_route_refuses_a_null_alert_delay_as_kibanas_maybe_does(api, default_space):
    response = api.post("/api/alerting/rule", rule_body(alert_delay=None), format="json")
    assert response.json() == error(
        400, "[request body.alert_delay]: expected a plain object value, but found [null] instead."
    )


def test_the_create_route_refuses_a_null_action_frequency_as_kibanas_maybe_does(api, default_space):
    hook = create_connector("default")
    action = {"id": hook.id, "group": "threshold met", "params": {}, "frequency": None}
    response = api.post("/api/alerting/rule", rule_body(actions=[action]), format="json")
    assert response.json() == error(
        400, "[request body.actions.0.frequency]: expected a plain object value, but found [null] instead."
    )


def test_the_create_route_refuses_a_null_alerts_filter_as_kibanas_maybe_does(api, default_space):
    hook = create_connector("default")
    action = {"id": hook.id, "group": "threshold met", "params": {}, "alerts_filter": None}
    response = api.post("/api/alerting/rule", rule_body(actions=[action]), format="json")
    assert response.json() == error(
        400,
        "[request body.actions.0.alerts_filter]: expected a plain object value, but found [null] instead.",
    )


def test_a_flapping_window_out_of_range_is_listed_under_the_nullable_union(api, default_space):
    flapping = {"look_back_window": 1, "status_change_threshold": 2}
    response = api.post("/api/alerting/rule", rule_body(flapping=flapping), format="json")
    assert response.json() == error(
        400,
        "[request body.flapping]: types that failed validation:\n"
        "- [request body.flapping.0.look_back_window]: Value must be equal to or greater than [2].\n"
        "- [request body.flapping.1]: expected value to equal [null]",
    )


def test_a_null_flapping_is_still_taken(api, default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    body = threshold_rule_body(hook.id, flapping=None)
    response = api.post("/api/alerting/rule", body, format="json")
    assert response.status_code == 200, response.json()
