"""`.opsgenie`: create and close Opsgenie alerts (a sub-action connector)."""

import hashlib
import json
from urllib.parse import quote, urljoin

from connectors import egress, http
from connectors.base import ExecutionContext
from connectors.exceptions import EgressDenied
from connectors.schemas import Any_, Array, Enum, Number, Object, OneOf, Record, SchemaError, String
from connectors.types.case_management import Literal
from connectors.types.sub_action_framework import SubAction, SubActionConnectorType, SubActionError

MAX_MESSAGE = 130
# What WHATWG URL parsing leaves unescaped in a path: Kibana joins `v2/alerts/<alias>/close` onto the
# API URL with `new URL`, so a "/" in the alias stays a path separator.
PATH_SAFE = "!$&'()*+,;=:@~%[]|^/"
MAX_ALIAS = 512


def _not_blank(value: str) -> str | None:
    if not value.strip():
        return "must be populated with a value other than just whitespace"
    return None


RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
RESPONDER = OneOf(
    [
        Object({"name": String(), "type": Enum(RESPONDER_TYPES)}),
        Object({"id": String(), "type": Enum(RESPONDER_TYPES)}),
        Object({"username": String(), "type": Literal("user")}),
    ]
)
VISIBLE_TO = OneOf(
    [
        Object({"name": String(), "type": Literal("team")}),
        Object({"id": String(), "type": Literal("team")}),
        Object({"id": String(), "type": Literal("user")}),
        Object({"username": String(), "type": Literal("user")}),
    ]
)
CREATE_ALERT = Object(
    {
        "message": String(min_length=1, max_length=15000, validator=_not_blank, label="Message"),
        "alias": String(optional=True, label="Alias"),
        "description": String(max_length=15000, optional=True, label="Description", widget="textarea"),
        "responders": Array(RESPONDER, max_size=50, optional=True, label="Responders"),
        "visibleTo": Array(VISIBLE_TO, max_size=50, optional=True, label="Visible to"),
        "actions": Array(String(max_length=50), max_size=10, optional=True, label="Actions"),
        "tags": Array(String(max_length=50), max_size=20, optional=True, label="Tags"),
        "details": Record(String(), optional=True, label="Details"),
        "entity": String(max_length=512, optional=True, label="Entity"),
        "source": String(max_length=100, optional=True, label="Source"),
        "priority": Enum(("P1", "P2", "P3", "P4", "P5"), optional=True, label="Priority"),
        "user": String(max_length=100, optional=True, label="User"),
        "note": String(max_length=25000, optional=True, label="Note"),
    }
)
CLOSE_ALERT = Object(
    {
        "alias": String(label="Alias"),
        "user": String(max_length=100, optional=True, label="User"),
        "source": String(max_length=100, optional=True, label="Source"),
        "note": String(max_length=25000, optional=True, label="Note"),
    }
)


# Kibana's `Response`: oneOf([success, failure]); both need `took` and `requestId`.
RESPONSE = OneOf(
    [
        Object({"took": Number(), "requestId": String(), "result": String()}, strict=False),
        Object(
            {
                "took": Number(),
                "requestId": String(),
                "message": String(optional=True),
                "result": String(optional=True),
                "errors": Any_(optional=True),
            },
            strict=False,
        ),
    ]
)


def hashed_alias(alias: str) -> str:
    """Opsgenie caps alias at 512 characters; Kibana replaces longer ones by their SHA-256."""
    if len(alias) <= MAX_ALIAS:
        return alias
    return "sha-" + hashlib.sha256(alias.encode("utf-8")).hexdigest()


class OpsgenieConnector(SubActionConnectorType):
    type_id = ".opsgenie"
    name = "Opsgenie"
    description = "Create or close an alert in Opsgenie."
    icon = "opsgenie"
    minimum_license = "platinum"
    # Kibana 8.x; the newest versions add "workflows" and "agentBuilder".
    supported_feature_ids = ("alerting", "uptime", "siem")
    config_schema = Object(
        {"apiUrl": String(label="URL", help="https://api.opsgenie.com or https://api.eu.opsgenie.com")}
    )
    secrets_schema = Object({"apiKey": String(label="API key", secret=True)})
    sub_actions = {
        "createAlert": SubAction("create_alert", CREATE_ALERT),
        "closeAlert": SubAction("close_alert", CLOSE_ALERT),
    }
    test_params_schema = Object(
        {
            "subAction": Enum(("createAlert", "closeAlert"), default="createAlert", label="Action"),
            "subActionParams": Object(
                {
                    "message": String(nullable=True, label="Message (create)"),
                    "alias": String(nullable=True, label="Alias"),
                    "entity": String(nullable=True, label="Entity"),
                    "source": String(nullable=True, label="Source"),
                    "priority": Enum(("P1", "P2", "P3", "P4", "P5"), nullable=True, label="Priority"),
                    "tags": Array(String(), nullable=True, label="Tags"),
                    "description": String(nullable=True, label="Description", widget="textarea"),
                    "user": String(nullable=True, label="User"),
                    "note": String(nullable=True, label="Note"),
                },
                strict=False,
            ),
        }
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too

    def check_config(self, config, settings):
        try:
            egress.ensure_uri_allowed(config["apiUrl"], settings)
        except EgressDenied as exc:
            return f"error validating url: {exc.message}"  # the sub-action framework's urlAllowListValidator
        return None

    def response_error_message(self, response: http.Response) -> str:
        body = response.json_or_none()
        axios_message = f"Request failed with status code {response.status_code}"
        if not isinstance(body, dict):
            return axios_message
        message = body["message"] if body.get("message") is not None else axios_message
        if body.get("errors"):
            message += f": {json.dumps(body['errors'], separators=(',', ':'))}"
        return message

    def _headers(self, ctx: ExecutionContext) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"GenieKey {ctx.secrets['apiKey']}"}

    def _result(self, response: http.Response) -> dict:
        body = response.json_or_none()
        try:
            RESPONSE.validate(body if body is not None else {}, "")
        except SchemaError as exc:  # SubActionConnector.validateResponse
            raise SubActionError(f"Response validation failed (Error: {exc})") from None
        return body

    def create_alert(self, ctx: ExecutionContext, params: dict) -> dict:
        body = {key: value for key, value in params.items() if value is not None}
        if len(body["message"]) > MAX_MESSAGE:
            ctx.logger.warning("Opsgenie message truncated to %s characters", MAX_MESSAGE)
            body["message"] = body["message"][:MAX_MESSAGE]
        if body.get("alias"):
            body["alias"] = hashed_alias(body["alias"])
        response = self.request(
            ctx, "post", urljoin(ctx.config["apiUrl"], "v2/alerts"), json=body, headers=self._headers(ctx)
        )
        return self._result(response)

    def close_alert(self, ctx: ExecutionContext, params: dict) -> dict:
        alias = hashed_alias(params["alias"])
        body = {key: value for key, value in params.items() if key != "alias" and value is not None}
        url = urljoin(
            ctx.config["apiUrl"], f"v2/alerts/{quote(alias, safe=PATH_SAFE)}/close?identifierType=alias"
        )
        response = self.request(ctx, "post", url, json=body, headers=self._headers(ctx))
        return self._result(response)
