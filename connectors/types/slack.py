"""`.slack`: post a message to a Slack incoming webhook."""

from connectors import http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import UNEXPECTED_ERROR_MESSAGE, ConnectorError, EgressDenied
from connectors.remote import USER_ERROR_STATUSES
from connectors.schemas import Object, String
from connectors.types.url_checks import check_webhook_url, without_secret_url


class SlackConnector(ConnectorType):
    type_id = ".slack"
    name = "Slack"
    description = "Send a message to a Slack channel or user."
    icon = "slack"
    escape = "slack"
    secrets_schema = Object(
        {"webhookUrl": String(label="Webhook URL", secret=True, help="Slack incoming webhook URL")}
    )
    params_schema = Object({"message": String(min_length=1, label="Message", widget="textarea")})

    test_params_schema = params_schema  # the Test tab asks for every param (spec §7)

    def check_secrets(self, secrets, settings):
        return check_webhook_url(secrets["webhookUrl"], settings, "slack")

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        try:
            # The Slack SDK disables redirects.
            response = http.send(
                "post",
                ctx.secrets["webhookUrl"],
                settings=ctx.settings,
                json={"text": ctx.params["message"]},
                follow_redirects=False,
            )
        except EgressDenied as exc:
            raise ConnectorError(
                "error posting slack message",
                service_message=without_secret_url(exc.message, ctx.secrets["webhookUrl"]),
                retry=False,
                error_source="user",
            ) from None
        except ConnectorError as exc:
            raise ConnectorError(
                "error posting slack message", service_message=exc.service_message or exc.message, retry=True
            ) from None
        status = response.status_code
        if not response.ok:
            detail = f"An HTTP protocol error occurred: statusCode = {status}"
            if status >= 500:
                raise ConnectorError(
                    "error posting a slack message, retry later",
                    service_message=detail,
                    retry=True,
                    error_source="framework",
                )
            if status == 429:
                retry_at = http.retry_after(response)
                if retry_at is not None:
                    raise ConnectorError(
                        f"error posting a slack message, retry at {http.iso_ms(retry_at)}",
                        service_message=detail,
                        retry=retry_at,
                        error_source="user",
                    )
                raise ConnectorError(
                    "error posting a slack message, retry later",
                    service_message=detail,
                    retry=True,
                    error_source="user",
                )
            if status in USER_ERROR_STATUSES:
                raise thrown_user_error(response)
            raise ConnectorError(
                f"unexpected http response from slack: {status} {response.reason}", retry=False
            )
        text = response.text
        if text != "ok":
            raise ConnectorError("error posting slack message", service_message=text, retry=False)
        return ExecutionResult.success({"text": text})


def thrown_user_error(response: http.Response) -> ConnectorError:
    """What `createAndThrowUserError` becomes once the framework catches it: Kibana's generic message,
    the axios text as the detail, a user error. Final: a 4xx does not get better by retrying."""
    return ConnectorError(
        UNEXPECTED_ERROR_MESSAGE,
        service_message=f"Request failed with status code {response.status_code}",
        status_code=response.status_code,
        retry=False,
        error_source="user",
    )
