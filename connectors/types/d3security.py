"""`.d3security`: send an event to a D3 Security SOAR webhook (a sub-action connector)."""

import json

from connectors import egress, http
from connectors.base import ExecutionContext
from connectors.exceptions import EgressDenied
from connectors.schemas import Object, String, type_name
from connectors.types.sub_action_framework import SubAction, SubActionConnectorType, SubActionError

RUN_PARAMS = Object(
    {
        "body": String(nullable=True, label="Body", widget="code"),
        "severity": String(default="", label="Severity"),
        "eventType": String(default="", label="Event type"),
    }
)


class D3SecurityConnector(SubActionConnectorType):
    type_id = ".d3security"
    name = "D3 Security"
    description = "Create an event or trigger a playbook workflow in D3 SOAR."
    icon = "d3security"
    escape = "json"
    supported_feature_ids = ("alerting", "siem")  # 9.x adds "workflows" and "agentBuilder"
    config_schema = Object({"url": String(label="D3 Security URL")})
    secrets_schema = Object({"token": String(label="Token", secret=True)})
    sub_actions = {"run": SubAction("send", RUN_PARAMS), "test": SubAction("send", RUN_PARAMS)}
    test_params_schema = Object(
        {
            "subAction": String(default="test", label="Sub action"),
            "subActionParams": Object(
                {
                    "body": String(nullable=True, label="Body", widget="code"),
                    "severity": String(default="", label="Severity"),
                    "eventType": String(default="", label="Event type"),
                }
            ),
        }
    )

    def check_config(self, config, settings):
        try:
            egress.ensure_uri_allowed(config["url"], settings)
        except EgressDenied as exc:
            return f"error validating url: {exc.message}"  # the sub-action framework's urlAllowListValidator
        return None

    def response_error_message(self, response: http.Response) -> str:
        if response.status_code == 401:
            return "Unauthorized API Error"
        return f"API Error: {response.status_code} - {response.reason}"

    @staticmethod
    def payload(params: dict) -> dict:
        body = params.get("body") or ""
        try:
            raw = json.loads(body)
        except ValueError:
            raw = body  # Kibana sends a body that is not JSON as a string
        return {
            "hits": {
                "hits": {
                    "_source": {
                        "rawData": raw,
                        "event.type": params.get("eventType") or "",
                        "kibana.alert.severity": params.get("severity") or "",
                    }
                }
            }
        }

    def send(self, ctx: ExecutionContext, params: dict) -> dict:
        response = self.request(
            ctx, "post", ctx.config["url"], json=self.payload(params), headers={"d3key": ctx.secrets["token"]}
        )
        body = response.json_or_none()
        if not isinstance(body, dict) or not isinstance(body.get("refid"), str):
            got = type_name(body.get("refid")) if isinstance(body, dict) and "refid" in body else "undefined"
            # Kibana's validateResponse: `Response validation failed (${err})`, thrown, so retryable.
            raise SubActionError(
                f"Response validation failed (Error: [refid]: expected value of type [string] but got [{got}])"
            )
        return {"refid": body["refid"]}
