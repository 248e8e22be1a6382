"""`.servicenow`: ServiceNow ITSM incidents through the Elastic app's Import Set API (or, for deprecated
connectors, the Table API), with basic auth or OAuth JWT bearer."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from connectors.base import ExecutionContext
from connectors.exceptions import UNEXPECTED_ERROR_MESSAGE, ConnectorError
from connectors.schemas import Array, Field, Object, SchemaError, String, _prefix
from connectors.types.case_management import UnionSubActionType, comments_schema, sub_action_union
from connectors.types.servicenow import core

DEFAULT_CORRELATION_ID = "{{rule.id}}:{{alert.id}}"
MAX_ADDITIONAL_FIELDS = 50
DEPRECATED_ADDITIONAL_FIELDS = "ServiceNow additional fields are not supported for deprecated connectors."
COMMON_FIELDS = (
    "short_description",
    "description",
    "externalId",
    "category",
    "subcategory",
    "correlation_id",
    "correlation_display",
)


class AdditionalFields(Field):
    """A record of extra fields, given as an object or as a JSON string of one."""

    kind = "record"
    expected = "object"

    def __init__(self, reserved: tuple[str, ...], **kwargs):
        super().__init__(
            nullable=True, default=None, label="Additional fields (JSON)", widget="code", **kwargs
        )
        self.reserved = reserved

    def check(self, value: Any, path: str) -> dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise SchemaError(f"{_prefix(path)}could not parse record value from json input") from None
        if not isinstance(value, dict):
            raise self.type_error(value, path)
        if len(value) > MAX_ADDITIONAL_FIELDS:
            raise SchemaError(
                f"{_prefix(path)}A maximum of {MAX_ADDITIONAL_FIELDS} additional_fields can be defined at a time."
            )
        clashes = [key for key in value if key in self.reserved]
        if clashes:
            raise SchemaError(
                f"{_prefix(path)}The following properties cannot be defined inside additional_fields: {', '.join(clashes)}."
            )
        return value


def nullable_string(label: str = "") -> String:
    return String(nullable=True, default=None, label=label)


def common_incident_fields() -> dict[str, Field]:
    return {
        "short_description": String(label="Short description"),
        "description": nullable_string("Description"),
        "externalId": nullable_string("Incident id (update)"),
        "category": nullable_string("Category"),
        "subcategory": nullable_string("Subcategory"),
        "correlation_id": String(nullable=True, default=DEFAULT_CORRELATION_ID, label="Correlation ID"),
        "correlation_display": nullable_string("Correlation display"),
    }


ITSM_INCIDENT_FIELDS = {
    **common_incident_fields(),
    "severity": nullable_string("Severity"),
    "urgency": nullable_string("Urgency"),
    "impact": nullable_string("Impact"),
}
ITSM_INCIDENT = Object(
    {**ITSM_INCIDENT_FIELDS, "additional_fields": AdditionalFields(tuple(ITSM_INCIDENT_FIELDS))}
)
CLOSE_PARAMS = Object(
    {
        "incident": Object(
            {
                "externalId": nullable_string(),
                "correlation_id": String(nullable=True, default=DEFAULT_CORRELATION_ID),
            }
        )
    }
)


class ServiceNowBase(UnionSubActionType):
    """What ITSM and SecOps share: config, secrets, push with comments, fields, choices."""

    product: ClassVar[core.Product]
    minimum_license = "platinum"
    config_schema = core.config_schema()
    secrets_schema = core.SECRETS_SCHEMA
    handlers = {
        "pushToService": "push_to_service",
        "getFields": "get_fields",
        "getIncident": "get_incident",
        "getChoices": "get_choices",
    }

    def check_config(self, config, settings):
        return core.check_config(config, settings)

    def check_secrets(self, secrets, settings):
        return core.check_secrets(secrets)

    def check_connector(self, config, secrets):
        return core.check_connector(config, secrets)

    def client(self, ctx: ExecutionContext) -> core.ServiceNowClient:
        return core.ServiceNowClient(ctx, self.product)

    def prepare_push(self, client: core.ServiceNowClient, incident: dict) -> dict:
        """Hook for product-specific incident shaping (SecOps observables)."""
        return incident

    def after_push(self, client: core.ServiceNowClient, incident: dict, result: dict) -> None:
        """Hook run after the create/update (SecOps posts observables here)."""

    def push_to_service(self, ctx, params):
        client = self.client(ctx)
        incident = dict(params["incident"])
        external_id = incident.pop("externalId", None)
        additional = incident.pop("additional_fields", None)
        if additional and client.use_table_api and ctx.config.get("usesTableApi", True) is not False:
            raise ConnectorError(
                UNEXPECTED_ERROR_MESSAGE,
                service_message=DEPRECATED_ADDITIONAL_FIELDS,
                retry=False,
                error_source="user",
            )
        original = dict(incident)
        incident = self.prepare_push(client, incident)
        if external_id is not None:
            result = client.update_incident(external_id, incident, additional)
        else:
            username = ctx.secrets.get("username")
            result = client.create_incident(
                {**incident, "caller_id": username, "opened_by": username}, additional
            )
        self.after_push(client, original, result)
        comments = params.get("comments")
        if comments:
            result["comments"] = []
            for comment in comments:
                updated = client.update_incident(
                    result["id"], {**incident, self.product.comment_field: comment["comment"]}, additional
                )
                result["comments"].append(
                    {"commentId": comment["commentId"], "pushedDate": updated["pushedDate"]}
                )
        return result

    def get_fields(self, ctx, params):
        return self.client(ctx).get_fields()

    def get_incident(self, ctx, params):
        return self.client(ctx).get_incident(params["externalId"])

    def get_choices(self, ctx, params):
        return self.client(ctx).get_choices(params["fields"])


class ServiceNowITSMConnector(ServiceNowBase):
    type_id = ".servicenow"
    name = "ServiceNow ITSM"
    description = "Create an incident in ServiceNow ITSM."
    icon = "ticket"
    supported_feature_ids = ("alerting", "cases", "uptime", "siem")
    product = core.Product(
        table="incident",
        import_set_table="x_elas2_inc_int_elastic_incident",
        app_scope="x_elas2_inc_int",
        use_import_api=True,
        comment_field="work_notes",
    )
    params_schema = sub_action_union(
        {
            "getFields": None,
            "getIncident": Object({"externalId": String()}),
            "handshake": None,
            "pushToService": Object({"incident": ITSM_INCIDENT, "comments": comments_schema()}),
            "getChoices": Object({"fields": Array(String())}),
            "closeIncident": CLOSE_PARAMS,
        }
    )
    test_params_schema = Object(
        {
            "subAction": String(default="pushToService", widget="hidden"),
            "subActionParams": Object({"incident": ITSM_INCIDENT, "comments": comments_schema()}),
        }
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too
    handlers = {**ServiceNowBase.handlers, "closeIncident": "close_incident"}

    def close_incident(self, ctx, params):
        client = self.client(ctx)
        external_id = params["incident"].get("externalId")
        correlation_id = params["incident"].get("correlation_id")
        try:
            if external_id is None and correlation_id is None:
                raise ConnectorError(
                    UNEXPECTED_ERROR_MESSAGE,
                    service_message="[Action][ServiceNow]: Unable to close incident. Error: No correlationId or incidentId found. Reason: unknown: errorResponse was null",
                    retry=False,
                )
            if external_id:
                incident = client.get_incident(external_id)
            else:
                found = client.find_incidents(f"ORDERBYDESCsys_created_on^correlation_id={correlation_id}")
                incident = found[0] if found else None
        except ConnectorError as exc:
            if exc.status_code == 404:
                ctx.logger.warning(
                    "[ServiceNow][CloseIncident] No incident found: %s", external_id or correlation_id
                )
                return None
            raise
        if incident is None:
            ctx.logger.warning(
                "[ServiceNow][CloseIncident] No incident found with correlation_id: %s", correlation_id
            )
            return None
        if incident.get("state") == "7":
            ctx.logger.warning(
                "[ServiceNow][CloseIncident] Incident %s is already closed", incident.get("sys_id")
            )
            return client._pushed(incident, "sys_updated_on")
        return client.update_incident(
            incident["sys_id"],
            {"state": "7", "close_code": "Closed/Resolved by Caller", "close_notes": "Closed by Caller"},
        )
