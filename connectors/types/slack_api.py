"""`.slack_api`: post to Slack through the Web API with a bot token, optionally limited to some channels."""

import json
from typing import Any

from connectors import egress, http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Array, Field, Object, OneOf, SchemaError, String

DEFAULT_API_URL = "https://slack.com/api/"


class Literal(Field):
    """`schema.literal(value)`."""

    kind = "literal"

    def __init__(self, value: Any, **kwargs):
        super().__init__(**kwargs)
        self.value = value
        self.expected = str(value)

    def validate(self, value, path=""):
        if value != self.value:
            prefix = f"[{path}]: " if path else ""
            raise SchemaError(f"{prefix}expected value to equal [{self.value}]")
        return value

    def describe(self):
        return {**super().describe(), "required": True, "choices": [self.value]}


def _channel_fields(text_label: str, widget: str) -> dict[str, Field]:
    # Kibana's common/slack_api/schema.ts: every field here is schema.maybe (no null)
    return {
        "channels": Array(String(), max_size=1, optional=True, label="Channels (deprecated)"),
        "channelIds": Array(String(), max_size=1, optional=True, label="Channel ID"),
        "channelNames": Array(String(), optional=True, label="Channel names (#name)"),
        "text": String(min_length=1, label=text_label, widget=widget),
    }


def _check_blockkit(value: dict) -> str | None:
    try:
        parsed = json.loads(value["text"])
    except ValueError as exc:
        return f"block kit body is not valid JSON - {exc}"
    if not isinstance(parsed, dict) or "blocks" not in parsed:
        return 'block kit body must contain field "blocks"'
    return None


VALID_CHANNEL_ID = Object(
    {
        "subAction": Literal("validChannelId"),
        "subActionParams": Object({"channelId": String(optional=True, label="Channel ID")}),
    }
)
POST_MESSAGE = Object(
    {
        "subAction": Literal("postMessage"),
        "subActionParams": Object(_channel_fields("Message", "textarea")),
    }
)
POST_BLOCKKIT = Object(
    {
        "subAction": Literal("postBlockkit"),
        "subActionParams": Object(_channel_fields("Block Kit (JSON)", "code"), validator=_check_blockkit),
    }
)


class SlackApiError(ConnectorError):
    pass


class SlackApiConnector(ConnectorType):
    type_id = ".slack_api"
    name = "Slack API"
    description = "Send messages to Slack channels with a bot token."
    icon = "slack"
    escape = "slack"  # postBlockkit.text is JSON-escaped by the renderer's caller
    supported_feature_ids = ("uptime", "alerting", "siem")
    config_schema = Object(
        {
            "allowedChannels": Array(
                Object(
                    {
                        # Kibana: schema.maybe; kept nullable so rows stored with a null id still save
                        "id": String(min_length=1, nullable=True, label="Channel ID"),
                        "name": String(min_length=1, label="Channel name"),
                    }
                ),
                max_size=25,
                optional=True,
                label="Allowed channels",
            )
        }
    )
    secrets_schema = Object({"token": String(min_length=1, secret=True, label="API token")})
    # Validation uses PARAMS_UNION (a union on subAction); this describes its widest member for forms.
    params_schema = Object(
        {
            "subAction": String(label="Sub action", help="validChannelId, postMessage or postBlockkit"),
            "subActionParams": Object(_channel_fields("Text", "textarea"), strict=False),
        }
    )
    test_params_schema = Object(
        {
            "subAction": String(
                label="Message type",
                help="postMessage (text) or postBlockkit (Block Kit)",
                choices=("postMessage", "postBlockkit"),  # the form's select; validation is the union's
            ),
            "subActionParams": Object(_channel_fields("Text or Block Kit JSON", "code")),
        }
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too

    def validate_config(self, config, settings):
        cleaned = super().validate_config(config, settings)
        if cleaned.get("allowedChannels") is None:
            cleaned.pop("allowedChannels", None)  # schema.maybe: absent unless given
        return cleaned

    def api_url(self, settings) -> str:
        base = settings.service_url(self.type_id, DEFAULT_API_URL)
        return base if base.endswith("/") else base + "/"

    def validate_params(self, params, settings):
        from connectors.exceptions import ConfigurationError
        from connectors.schemas import validate_object

        try:
            return validate_object(PARAMS_UNION, params)
        except SchemaError as exc:
            raise ConfigurationError(f"error validating action params: {exc}") from None

    def check_secrets(self, secrets, settings):
        try:
            egress.ensure_uri_allowed(self.api_url(settings), settings)
        except EgressDenied as exc:
            return f"error configuring slack action: {exc.message}"
        return None

    # ---- running ---------------------------------------------------------------------------------

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        sub_action = ctx.params["subAction"]
        sub_params = ctx.params.get("subActionParams") or {}
        if sub_action == "validChannelId":
            channel_id = sub_params.get("channelId") or ""
            if not channel_id.strip():
                raise SlackApiError("error posting slack message", service_message="The channel id is empty")
            return self._call(ctx, "get", f"conversations.info?channel={channel_id}")
        if sub_action in ("postMessage", "postBlockkit"):
            try:
                channel = self._channel(ctx.config, sub_params)
            except ValueError as exc:
                raise SlackApiError("error posting slack message", service_message=str(exc)) from None
            if sub_action == "postMessage":
                body = {"channel": channel, "text": sub_params["text"]}
            else:
                body = {"channel": channel, "blocks": json.loads(sub_params["text"])["blocks"]}
            return self._call(ctx, "post", "chat.postMessage", body)
        raise SlackApiError(
            f"[Action][ExternalService] -> [Slack API] Unsupported subAction type {sub_action}.",
            retry=False,
        )

    @staticmethod
    def _channel(config: dict, params: dict) -> str:
        """Kibana's getChannelToUse: names, then ids, then the legacy list; every given name or id must
        be in allowedChannels when that list is set (a leading `#` does not count)."""
        names = params.get("channelNames") or []
        ids = params.get("channelIds") or []
        legacy = params.get("channels") or []
        for name in names:
            if not name.startswith("#"):
                raise ValueError("Unsupported channel name. Must start with #")
        if not (names or ids or legacy):
            raise ValueError("One of channels, channelIds, or channelNames is required and cannot be empty")
        allowed = config.get("allowedChannels") or []

        def check(channels: list[str], allowed_list: list[str]) -> None:
            if not channels or not allowed_list:
                return
            permitted = {a.lstrip("#") for a in allowed_list}
            if any(channel.lstrip("#") not in permitted for channel in channels):
                raise ValueError(
                    "One or more provided channels are not included in the allowed channels list"
                )

        if names:
            check(names, [a["name"] for a in allowed])
            return names[0]
        if ids:
            check(ids, [a["id"] for a in allowed if a.get("id")])
            return ids[0]
        return legacy[0]

    def _call(
        self, ctx: ExecutionContext, method: str, path: str, body: dict | None = None
    ) -> ExecutionResult:
        headers = {
            "Authorization": f"Bearer {ctx.secrets['token']}",
            "Content-type": "application/json; charset=UTF-8",
        }
        try:
            response = http.send(
                method,
                self.api_url(ctx.settings) + path,
                settings=ctx.settings,
                headers=headers,
                json=body,
            )
        except EgressDenied as exc:
            raise SlackApiError(
                "error posting slack message", service_message=exc.message, retry=False, error_source="user"
            ) from None
        except ConnectorError as exc:
            raise SlackApiError(
                "error posting slack message", service_message=exc.service_message or exc.message, retry=True
            ) from None
        status = response.status_code
        if not response.ok:
            detail = f"Request failed with status code {status}"
            if status >= 500:
                raise SlackApiError(
                    "error posting a slack message, retry later", service_message=detail, retry=True
                )
            if status == 429:
                retry_at = http.retry_after(response)
                if retry_at is not None:
                    raise SlackApiError(
                        f"error posting a slack message, retry at {http.iso_ms(retry_at)}",
                        service_message=detail,
                        retry=retry_at,
                        error_source="user",
                    )
                raise SlackApiError(
                    "error posting a slack message, retry later",
                    service_message=detail,
                    retry=True,
                    error_source="user",
                )
            raise SlackApiError(
                f"unexpected http response from slack: {status} {response.reason}",
                retry=False,
                error_source="user" if 400 <= status < 500 else "framework",
            )
        data = response.json_or_none()
        if data is None:
            raise SlackApiError("unexpected null response from slack", retry=False)
        if not isinstance(data, dict) or not data.get("ok"):
            error = data.get("error") if isinstance(data, dict) else data
            raise SlackApiError(
                "error posting slack message",
                service_message=error if isinstance(error, str) else json.dumps(error),
                retry=False,
            )
        return ExecutionResult.success(data)


PARAMS_UNION = OneOf([VALID_CHANNEL_ID, POST_MESSAGE, POST_BLOCKKIT])
