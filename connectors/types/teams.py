"""`.teams`: post a message to a Microsoft Teams incoming webhook (or Workflows webhook)."""

from connectors import http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Object, String
from connectors.types.url_checks import check_webhook_url, without_secret_url


class TeamsConnector(ConnectorType):
    type_id = ".teams"
    name = "Microsoft Teams"
    description = "Send a message to a Microsoft Teams channel."
    icon = "teams"
    # Kibana 8.x; the newest versions add "workflows" and "agentBuilder".
    supported_feature_ids = ("alerting", "uptime", "siem")
    secrets_schema = Object({"webhookUrl": String(label="Webhook URL", secret=True)})
    params_schema = Object({"message": String(min_length=1, label="Message", widget="textarea")})

    test_params_schema = params_schema  # the Test tab asks for every param (spec §7)

    def check_secrets(self, secrets, settings):
        return check_webhook_url(secrets["webhookUrl"], settings, "teams")

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        message = ctx.params["message"]
        try:
            response = http.send(
                "post", ctx.secrets["webhookUrl"], settings=ctx.settings, json={"text": message}
            )
        except EgressDenied as exc:
            raise ConnectorError(
                "error posting to Microsoft Teams, unexpected error",
                service_message=without_secret_url(exc.message, ctx.secrets["webhookUrl"]),
                retry=False,
                error_source="user",
            ) from None
        except ConnectorError as exc:
            raise ConnectorError(
                "error posting to Microsoft Teams, unexpected error",
                service_message=exc.service_message or exc.message,
                retry=True,
            ) from None
        status = response.status_code
        if response.ok:
            if "ErrorCode:ApplicationThrottled" in response.text:
                retry_at = http.retry_after(response)
                if retry_at is not None:
                    raise ConnectorError(
                        f"error posting a Microsoft Teams message, retry at {http.iso_ms(retry_at)}",
                        service_message=message,  # Kibana puts the message being sent here
                        retry=retry_at,
                    )
                raise ConnectorError("error posting a Microsoft Teams message, retry later", retry=True)
            return ExecutionResult.success({"text": message})
        service_message = f"[{status}] {response.reason}"
        if status >= 500:  # Kibana's retryResult carries no service message
            raise ConnectorError("error posting a Microsoft Teams message, retry later", retry=True)
        # No 429 branch: Kibana's Teams executor retries only 5xx and the throttling text in a 2xx body.
        raise ConnectorError(
            "error posting to Microsoft Teams, invalid response",
            service_message=service_message,
            retry=False,
            error_source="user" if 400 <= status < 500 else "framework",
        )
