"""`.xmatters`: trigger an xMatters workflow (basic auth + config URL, or a URL carrying the API key)."""

import base64

from connectors import egress, http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Boolean, Enum, Object, String
from connectors.types.url_checks import parses, without_secret_url

PAYLOAD_KEYS = ("alertActionGroupName", "signalId", "ruleName", "date", "severity", "spaceId", "tags")
SEVERITIES = ("critical", "high", "medium", "low", "minimal")


class XMattersConnector(ConnectorType):
    type_id = ".xmatters"
    name = "xMatters"
    description = "Trigger an xMatters workflow."
    icon = "xmatters"
    supported_feature_ids = ("alerting", "siem")
    config_schema = Object(
        {
            "configUrl": String(nullable=True, default=None, label="Initiation URL"),
            "usesBasic": Boolean(default=True, label="Basic authentication"),
        }
    )
    secrets_schema = Object(
        {
            "user": String(nullable=True, default=None, label="Username"),
            "password": String(nullable=True, default=None, secret=True, label="Password"),
            "secretsUrl": String(nullable=True, default=None, secret=True, label="URL with API key"),
        }
    )
    params_schema = Object(
        {
            "alertActionGroupName": String(nullable=True, label="Alert action group name"),
            "signalId": String(nullable=True, label="Signal id"),
            "ruleName": String(nullable=True, label="Rule name"),
            "date": String(nullable=True, label="Date"),
            "severity": String(label="Severity", help="critical, high, medium, low or minimal"),
            "spaceId": String(nullable=True, label="Space id"),
            "tags": String(nullable=True, label="Tags"),
        }
    )
    test_params_schema = Object(
        {
            "severity": Enum(SEVERITIES, default="high", label="Severity"),
            "tags": String(nullable=True, label="Tags"),
        }
    )

    def check_config(self, config, settings):
        url = config.get("configUrl")
        if not config["usesBasic"] or not url:
            return None
        if not parses(url):
            return "Error configuring xMatters action: unable to parse url: Invalid URL"
        try:
            egress.ensure_uri_allowed(url, settings)
        except EgressDenied as exc:
            return f"Error configuring xMatters action: {exc.message}"
        return None

    def check_secrets(self, secrets, settings):
        user, password, secrets_url = secrets.get("user"), secrets.get("password"), secrets.get("secretsUrl")
        if not secrets_url and not user and not password:
            return "Provide either secretsUrl link or user/password to authenticate"
        if secrets_url:
            if user or password:
                return (
                    "Cannot use user/password for URL authentication. Provide valid secretsUrl or use "
                    "Basic Authentication."
                )
            if not parses(secrets_url):
                return "Invalid secretsUrl: TypeError: Invalid URL"
            try:
                egress.ensure_uri_allowed(secrets_url, settings)
            except EgressDenied as exc:
                return without_secret_url(exc.message, secrets_url)
            return None
        if not user or not password:
            return "Both user and password must be specified."
        return None

    def check_connector(self, config, secrets):
        user, password, secrets_url = secrets.get("user"), secrets.get("password"), secrets.get("secretsUrl")
        if config["usesBasic"]:
            if secrets_url:
                return "secretsUrl should not be provided when usesBasic is true"
            if user is None:
                return "Provide valid Username"
            if password is None:
                return "Provide valid Password"
            if config.get("configUrl") is None:
                return "Provide valid configUrl"
        else:
            if user or password:
                return "Username and password should not be provided when usesBasic is false"
            if config.get("configUrl"):
                return "configUrl should not be provided when usesBasic is false"
            if secrets_url is None:
                return "Provide valid secretsUrl with API Key"
        return None

    @staticmethod
    def payload(params: dict) -> dict:
        data = {key: params.get(key) for key in PAYLOAD_KEYS}
        data["severity"] = params.get("severity") or "High"
        return {key: value for key, value in data.items() if value is not None}

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        uses_basic = ctx.config["usesBasic"]
        url = ctx.config.get("configUrl") if uses_basic else ctx.secrets.get("secretsUrl")
        data = self.payload(ctx.params)
        headers = {"Content-Type": "application/json"}
        user, password = ctx.secrets.get("user"), ctx.secrets.get("password")
        if uses_basic and isinstance(user, str) and isinstance(password, str):
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if not url:
            raise ConnectorError(
                "Error triggering xMatters workflow", service_message="Error: no url provided", retry=False
            )
        try:
            response = http.send("post", url, settings=ctx.settings, headers=headers, json=data)
        except EgressDenied as exc:
            raise ConnectorError(
                "Error triggering xMatters workflow",
                service_message=_without(exc.message, url) if not uses_basic else exc.message,
                retry=False,
                error_source="user",
            ) from None
        except ConnectorError as exc:
            raise ConnectorError(
                "Error triggering xMatters workflow",
                service_message=_without(exc.service_message or exc.message, url),
                retry=True,
            ) from None
        status = response.status_code
        if response.ok:
            return ExecutionResult.success(data)
        if status == 429 or status >= 500:
            raise ConnectorError(
                f"Error triggering xMatters flow: http status {status}, retry later", retry=True
            )
        raise ConnectorError(f"Error triggering xMatters flow: unexpected status {status}", retry=False)


def _without(text: str, secret_url: str) -> str:
    """The secretsUrl carries the API key: never let it into a message."""
    return without_secret_url(text, secret_url)
