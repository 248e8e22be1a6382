"""`.tines`: list Tines stories and webhooks, and send events to a story's webhook (a sub-action connector)."""

from connectors import egress, http
from connectors.base import ExecutionContext
from connectors.exceptions import EgressDenied
from connectors.schemas import Number, Object, String
from connectors.types.sub_action_framework import SubAction, SubActionConnectorType, SubActionError

PER_PAGE = 500
WEBHOOK_AGENT = "Agents::WebhookAgent"

RUN_PARAMS = Object(
    {
        "webhook": Object(
            {
                "id": Number(),
                "name": String(),
                "storyId": Number(),
                "path": String(nullable=True),
                "secret": String(nullable=True),
            },
            nullable=True,
        ),
        "webhookUrl": String(nullable=True, label="Webhook URL"),
        "body": String(label="Body", widget="code"),
    }
)


class TinesConnector(SubActionConnectorType):
    type_id = ".tines"
    name = "Tines"
    description = "Send events to a Tines story."
    icon = "tines"
    escape = "json"
    supported_feature_ids = ("siem",)
    config_schema = Object({"url": String(label="Tines tenant URL", help="https://<tenant>.tines.com")})
    secrets_schema = Object({"email": String(label="Email"), "token": String(label="API token", secret=True)})
    sub_actions = {
        "stories": SubAction("stories"),
        "webhooks": SubAction("webhooks", Object({"storyId": Number(label="Story id")})),
        "run": SubAction("run_webhook", RUN_PARAMS),
        "test": SubAction("run_webhook", RUN_PARAMS),
    }
    test_params_schema = Object(
        {
            "subAction": String(default="test", label="Sub action"),
            "subActionParams": Object(
                {
                    "webhookUrl": String(nullable=True, label="Webhook URL"),
                    "body": String(label="Body", widget="code"),
                },
                strict=False,
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
        return f"API Error: {response.reason}"

    def request(self, ctx: ExecutionContext, *args, **kwargs) -> http.Response:
        """Kibana's Tines wrapError: only a 429 is the user's error; everything else the framework's."""
        try:
            return super().request(ctx, *args, **kwargs)
        except SubActionError as exc:
            exc.error_source = "user" if exc.status_code == 429 else "framework"
            raise

    def _auth(self, ctx: ExecutionContext) -> dict[str, str]:
        return {"x-user-email": ctx.secrets["email"], "x-user-token": ctx.secrets["token"]}

    def _base(self, ctx: ExecutionContext) -> str:
        return ctx.config["url"].rstrip("/")

    def stories(self, ctx: ExecutionContext, params: dict) -> dict:
        response = self.request(
            ctx, "get", f"{self._base(ctx)}/api/v1/stories?per_page={PER_PAGE}", headers=self._auth(ctx)
        )
        body = response.json_or_none() or {}
        stories = [
            {"id": s.get("id"), "name": s.get("name"), "published": s.get("published")}
            for s in body.get("stories") or []
        ]
        return {"stories": stories, "incompleteResponse": (body.get("meta") or {}).get("pages", 1) > 1}

    def webhooks(self, ctx: ExecutionContext, params: dict) -> dict:
        story_id = int(params["storyId"])
        response = self.request(
            ctx,
            "get",
            f"{self._base(ctx)}/api/v1/agents?story_id={story_id}&per_page={PER_PAGE}",
            headers=self._auth(ctx),
        )
        body = response.json_or_none() or {}
        webhooks = [
            {
                "id": agent.get("id"),
                "name": agent.get("name"),
                "path": (agent.get("options") or {}).get("path", ""),
                "secret": (agent.get("options") or {}).get("secret", ""),
                "storyId": agent.get("story_id"),
            }
            for agent in body.get("agents") or []
            if agent.get("type") == WEBHOOK_AGENT
        ]
        return {"webhooks": webhooks, "incompleteResponse": (body.get("meta") or {}).get("pages", 1) > 1}

    def run_webhook(self, ctx: ExecutionContext, params: dict):
        webhook, webhook_url = params.get("webhook"), params.get("webhookUrl")
        if not webhook and not webhook_url:
            # A plain Error thrown by Kibana's Tines service: the framework reports it retryable.
            raise SubActionError("Invalid subActionsParams: [webhook] or [webhookUrl] expected but got none")
        url = webhook_url or f"{self._base(ctx)}/webhook/{webhook.get('path')}/{webhook.get('secret')}"
        response = self.request(ctx, "post", url, data=params["body"].encode("utf-8"))
        return response.json_or_none()
