"""`.servicenow-itom`: events into ServiceNow ITOM Event Management (`/api/global/em/jsonv2`)."""

from __future__ import annotations

from connectors.schemas import Array, Object, String
from connectors.types.case_utils import UnionSubActionType, sub_action_union
from connectors.types.servicenow import core
from connectors.types.servicenow.itsm import DEFAULT_CORRELATION_ID

EVENT_FIELDS = (
    "source",
    "event_class",
    "resource",
    "node",
    "metric_name",
    "type",
    "severity",
    "description",
    "additional_info",
)
ADD_EVENT = Object(
    {
        **{
            name: String(nullable=True, default=None, label=name.replace("_", " ").capitalize())
            for name in EVENT_FIELDS
        },
        "message_key": String(nullable=True, default=DEFAULT_CORRELATION_ID, label="Message key"),
        "time_of_event": String(nullable=True, default=None, label="Time of event"),
    }
)


class ServiceNowITOMConnector(UnionSubActionType):
    type_id = ".servicenow-itom"
    name = "ServiceNow ITOM"
    description = "Create an event in ServiceNow ITOM."
    icon = "bell"
    minimum_license = "platinum"
    supported_feature_ids = ("alerting", "siem", "workflows")
    product = core.Product(table="em_event")
    config_schema = core.config_schema(with_table_api=False)
    secrets_schema = core.SECRETS_SCHEMA
    params_schema = sub_action_union(
        {"addEvent": ADD_EVENT, "getChoices": Object({"fields": Array(String())})}
    )
    test_params_schema = Object(
        {"subAction": String(default="addEvent", widget="hidden"), "subActionParams": ADD_EVENT}
    )
    handlers = {"addEvent": "add_event", "getChoices": "get_choices"}

    def check_config(self, config, settings):
        return core.check_config(config, settings)

    def check_secrets(self, secrets, settings):
        return core.check_secrets(secrets)

    def check_connector(self, config, secrets):
        return core.check_connector(config, secrets)

    def add_event(self, ctx, params):
        client = core.ServiceNowClient(ctx, self.product)
        client.post("Unable to add event", f"{client.url}/api/global/em/jsonv2", {"records": [params]})
        return {}

    def get_choices(self, ctx, params):
        return core.ServiceNowClient(ctx, self.product).get_choices(params["fields"])
