"""`.torq`: trigger a Torq workflow through its webhook integration."""

import json
import re
from urllib.parse import urlsplit

from connectors import egress, http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Object, String

HOST_PATTERN = re.compile(r"^hooks\.(eu\.)?torq\.io\Z")
PREFIX = "error configuring send to Torq action: "


class TorqConnector(ConnectorType):
    type_id = ".torq"
    name = "Torq"
    description = "Trigger a Torq workflow."
    icon = "torq"
    escape = "none"  # Kibana renders the body with renderMustacheObject, no escaping
    config_schema = Object({"webhookIntegrationUrl": String(label="Torq integration URL")})
    secrets_schema = Object({"token": String(label="Torq integration token", secret=True)})
    params_schema = Object({"body": String(label="Body", widget="code")})

    test_params_schema = params_schema  # the Test tab asks for every param (spec §7)

    def check_config(self, config, settings):
        url = config["webhookIntegrationUrl"]
        try:
            parts = urlsplit(url)
            if not parts.scheme or not parts.hostname:
                raise ValueError("Invalid URL")
        except ValueError:
            return f"{PREFIX}unable to parse url: TypeError: Invalid URL"  # Node's err.toString()
        try:
            egress.ensure_uri_allowed(url, settings)
        except EgressDenied as exc:
            return f"{PREFIX}{exc.message}"
        allowed_override = urlsplit(settings.service_url(self.type_id, "https://hooks.torq.io")).hostname
        hostname = parts.hostname.lower()
        if not (HOST_PATTERN.match(hostname) or hostname in ("localhost", allowed_override)):
            return f"{PREFIX}url must begin with https://hooks.torq.io or https://hooks.eu.torq.io"
        return None

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        raw = ctx.params["body"]
        try:
            body = json.loads(raw or "null")  # Kibana: JSON.parse(data || 'null')
        except ValueError as exc:
            raise ConnectorError(
                "error triggering Torq workflow, invalid body", service_message=str(exc), retry=False
            ) from None
        try:
            response = http.send(
                "post",
                ctx.config["webhookIntegrationUrl"],
                settings=ctx.settings,
                headers={"X-Torq-Token": ctx.secrets["token"], "Content-Type": "application/json"},
                # axios with a JSON content type sends `null` for an empty body
                data=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
            )
        except EgressDenied as exc:
            raise ConnectorError(
                "error triggering Torq workflow, request failed",
                service_message=exc.message,
                retry=False,
                error_source="user",
            ) from None
        except ConnectorError as exc:
            raise ConnectorError(
                "error triggering Torq workflow, request failed",
                service_message=exc.service_message or exc.message,
                retry=True,
            ) from None
        if response.ok:
            return ExecutionResult.success(raw)  # Kibana returns the body it sent
        status = response.status_code
        detail = f"[{status}] {response.reason}"
        body_json = response.json_or_none()
        if isinstance(body_json, dict) and body_json.get("message") is not None:
            detail += f": {body_json['message']}"
        if status >= 500:
            raise ConnectorError(
                "error triggering Torq workflow, retry later", service_message=detail, retry=True
            )
        if status == 429:
            retry_at = http.retry_after(response)
            raise ConnectorError(
                f"error triggering Torq workflow, retry at {http.iso_ms(retry_at)}"
                if retry_at
                else "error triggering Torq workflow, retry later",
                service_message=detail,
                retry=retry_at or True,
            )
        messages = {
            405: "error triggering Torq workflow, method is not supported",
            401: "error triggering Torq workflow, unauthorised",
            404: "error triggering Torq workflow, make sure the webhook URL is valid",
        }
        raise ConnectorError(
            messages.get(status, "error triggering Torq workflow, invalid response"),
            service_message=detail,
            retry=False,
        )
