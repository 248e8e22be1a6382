"""`.servicenow-itom`: events into ServiceNow ITOM Event Management (`/api/global/em/jsonv2`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from connectors.schemas import Array, Object, String
from connectors.types.case_management import UnionSubActionType, sub_action_union
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


def format_time_of_event(value: str | None) -> str | None:
    """Epoch milliseconds or an ISO date, as `yyyy-MM-dd HH:mm:ss` in GMT; anything else is dropped."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if re.fullmatch(r"-?\d+", text):
            moment = datetime.fromtimestamp(int(text) / 1000, UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def prepare_event(params: dict) -> dict:
    """Kibana's prepareParams: the time of event formatted, then every null left out."""
    event = {**params, "time_of_event": format_time_of_event(params.get("time_of_event"))}
    return {key: value for key, value in event.items() if value is not None}


class ServiceNowITOMConnector(UnionSubActionType):
    type_id = ".servicenow-itom"
    name = "ServiceNow ITOM"
    description = "Create an event in ServiceNow ITOM."
    icon = "bell"
    minimum_license = "platinum"
    supported_feature_ids = ("alerting", "siem")  # 9.x adds "workflows"
    product = core.Product(table="em_event")
    config_schema = core.config_schema(with_table_api=False)
    secrets_schema = core.SECRETS_SCHEMA
    params_schema = sub_action_union(
        {"addEvent": ADD_EVENT, "getChoices": Object({"fields": Array(String())})}
    )
    test_params_schema = Object(
        {"subAction": String(default="addEvent", widget="hidden"), "subActionParams": ADD_EVENT}
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too
    handlers = {"addEvent": "add_event", "getChoices": "get_choices"}

    def check_config(self, config, settings):
        return core.check_config(config, settings)

    def check_secrets(self, secrets, settings):
        return core.check_secrets(secrets)

    def check_connector(self, config, secrets):
        return core.check_connector(config, secrets)

    def add_event(self, ctx, params):
        client = core.ServiceNowClient(ctx, self.product)
        client.post(
            "Unable to add event", f"{client.url}/api/global/em/jsonv2", {"records": [prepare_event(params)]}
        )
        return {}

    def get_choices(self, ctx, params):
        return core.ServiceNowClient(ctx, self.product).get_choices(params["fields"])
