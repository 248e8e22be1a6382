"""`.thehive`: TheHive 5 cases (with comments) and alerts."""

from __future__ import annotations

import json
from typing import Any

from connectors import http
from connectors.base import ExecutionContext
from connectors.schemas import Array, Number, Object, String
from connectors.types.case_management import CaseConnectorMixin, comments_schema, epoch_ms_iso, now_iso
from connectors.types.sub_action_framework import SubAction, SubActionConnectorType, SubActionError
from connectors.types.url_checks import check_connector_url

INCIDENT = Object(
    {
        "title": String(label="Title"),
        "description": String(label="Description", widget="textarea"),
        "externalId": String(nullable=True, default=None, label="Case id (update)"),
        "severity": Number(minimum=1, maximum=4, nullable=True, default=2, label="Severity"),
        "tlp": Number(minimum=0, maximum=4, nullable=True, default=2, label="TLP"),
        "tags": Array(String(), nullable=True, default=None, label="Tags"),
    }
)
PUSH_PARAMS = Object({"incident": INCIDENT, "comments": comments_schema()})
ALERT_PARAMS = Object(
    {
        "title": String(label="Title"),
        "description": String(label="Description"),
        "type": String(label="Type"),
        "source": String(label="Source"),
        "sourceRef": String(label="Source reference"),
        "severity": Number(minimum=1, maximum=4, nullable=True, default=2, label="Severity"),
        "tlp": Number(minimum=0, maximum=4, nullable=True, default=2, label="TLP"),
        "tags": Array(String(), nullable=True, default=None, label="Tags"),
        "template": Number(nullable=True, default=None, label="Template"),
        "body": String(nullable=True, default=None, label="Body (JSON)", widget="code"),
    }
)


class TheHiveConnector(CaseConnectorMixin, SubActionConnectorType):
    type_id = ".thehive"
    name = "TheHive"
    description = "Create cases and alerts in TheHive."
    icon = "logoTheHive"
    minimum_license = "platinum"
    supported_feature_ids = ("alerting", "siem", "uptime", "cases")  # 9.x adds "workflows"
    config_schema = Object(
        {
            "url": String(label="URL"),
            "organisation": String(nullable=True, default=None, label="Organisation"),
        }
    )
    secrets_schema = Object({"apiKey": String(secret=True, label="API key")})
    test_params_schema = Object(
        {"subAction": String(default="pushToService", widget="hidden"), "subActionParams": PUSH_PARAMS}
    )
    sub_actions = {
        "pushToService": SubAction("push_to_service", PUSH_PARAMS),
        "createAlert": SubAction("create_alert", ALERT_PARAMS),
    }

    def check_config(self, config, settings):
        return check_connector_url(config["url"], settings)

    def response_error_message(self, response: http.Response) -> str:
        body = response.json_or_none()
        body = body if isinstance(body, dict) else {}

        def js(value):
            return "undefined" if value is None else value

        return f"API Error: {js(body.get('type'))} - {js(body.get('message'))}"

    def _url(self, ctx: ExecutionContext) -> str:
        return ctx.config["url"].rstrip("/")

    def _call(self, ctx, method: str, path: str, payload: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {ctx.secrets['apiKey']}"}
        if ctx.config.get("organisation"):
            headers["X-Organisation"] = ctx.config["organisation"]
        return self.request(
            ctx, method, f"{self._url(ctx)}{path}", json=payload, headers=headers
        ).json_or_none()

    def _case_url(self, ctx, case_id: str) -> str:
        return f"{self._url(ctx)}/cases/{case_id}/details"

    def _payload(self, incident: dict) -> dict:
        return dict(incident)  # as validated, nulls included, as Kibana sends it

    def create_incident(self, ctx, incident: dict) -> dict:
        data = self._call(ctx, "post", "/api/v1/case", self._payload(incident))
        return {
            "id": data["_id"],
            "title": data.get("title"),
            "url": self._case_url(ctx, data["_id"]),
            "pushedDate": epoch_ms_iso(data.get("_createdAt")),
        }

    def update_incident(self, ctx, incident_id: str, incident: dict) -> dict:
        self._call(ctx, "patch", f"/api/v1/case/{incident_id}", self._payload(incident))
        return {
            "id": incident_id,
            "title": incident.get("title"),
            "url": self._case_url(ctx, incident_id),
            "pushedDate": now_iso(),
        }

    def add_comment(self, ctx, incident_id: str, comment: str) -> None:
        self._call(ctx, "post", f"/api/v1/case/{incident_id}/comment", {"message": comment})

    def create_alert(self, ctx, params):
        body = params.pop("body", None)
        alert = dict(params)
        if body:
            try:
                extra = json.loads(body)
            except ValueError:
                raise SubActionError("Invalid JSON in body", retry=False, error_source="user") from None
            if isinstance(extra, dict):
                alert.update(extra)
        self._call(ctx, "post", "/api/v1/alert", alert)
        return {}
