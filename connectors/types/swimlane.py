"""`.swimlane`: create and update Swimlane records (alerts or cases) with mapped fields, plus comments."""

from __future__ import annotations

from typing import Any

from connectors.base import ExecutionContext
from connectors.remote import RemoteCallFailed, call
from connectors.schemas import Enum, Object, String
from connectors.types.case_management import (
    UnionSubActionType,
    action_error,
    comments_schema,
    ensure_valid_response,
    iso,
    now_iso,
    sub_action_union,
)
from connectors.types.url_checks import check_connector_url

NAME = "Swimlane"
MAPPED_PARAMS = {
    "alertIdConfig": "alertId",
    "ruleNameConfig": "ruleName",
    "caseIdConfig": "caseId",
    "caseNameConfig": "caseName",
    "severityConfig": "severity",
    "descriptionConfig": "description",
}


def _mapping(label: str, used_by: tuple[str, ...]) -> Object:
    # (the admin shows a mapping for the connector types that use it, as Kibana's form does)
    return Object(
        {
            "id": String(label="Field ID"),
            "key": String(label="Key"),
            "name": String(label="Name"),
            "fieldType": String(label="Field type"),
        },
        nullable=True,
        default=None,
        label=label,
        shown_when={"connectorType": ("all", *used_by)},
    )


MAPPINGS = Object(
    {
        "ruleNameConfig": _mapping("Rule name field", ("alerts",)),
        "alertIdConfig": _mapping("Alert id field", ("alerts",)),
        "caseIdConfig": _mapping("Case id field", ("cases",)),
        "caseNameConfig": _mapping("Case name field", ("cases",)),
        "commentsConfig": _mapping("Comments field", ("alerts", "cases")),
        "severityConfig": _mapping("Severity field", ("alerts",)),
        "descriptionConfig": _mapping("Description field", ("cases",)),
    },
    label="Field mappings",
)
INCIDENT = Object(
    {
        name: String(nullable=True, default=None, label=name)
        for name in ("alertId", "ruleName", "caseId", "caseName", "severity", "description", "externalId")
    }
)
PUSH_PARAMS = Object({"incident": INCIDENT, "comments": comments_schema()})


def js_number(value: str) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if number != number:  # NaN
        return 0
    return int(number) if number.is_integer() else number


def swimlane_reason(body: Any) -> str:
    if isinstance(body, dict) and body.get("Argument") is not None and body.get("ErrorCode") is not None:
        return f"{body['Argument']} ({body['ErrorCode']})"
    return "unknown"


class SwimlaneConnector(UnionSubActionType):
    type_id = ".swimlane"
    name = "Swimlane"
    description = "Create a record in Swimlane."
    icon = "logoSwimlane"
    minimum_license = "gold"
    supported_feature_ids = ("alerting", "cases", "siem")  # 9.x adds "workflows"
    config_schema = Object(
        {
            "apiUrl": String(label="API URL"),
            "appId": String(label="Application ID"),
            "connectorType": Enum(("all", "alerts", "cases"), label="Connector type"),
            "mappings": MAPPINGS,
        }
    )
    secrets_schema = Object({"apiToken": String(secret=True, label="API token")})
    params_schema = sub_action_union({"pushToService": PUSH_PARAMS})
    test_params_schema = Object(
        {"subAction": String(default="pushToService", widget="hidden"), "subActionParams": PUSH_PARAMS}
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too
    handlers = {"pushToService": "push_to_service"}

    def check_config(self, config, settings):
        return check_connector_url(config["apiUrl"], settings)

    # ---- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _url(ctx: ExecutionContext) -> str:
        return ctx.config["apiUrl"].rstrip("/")

    def _api(self, ctx: ExecutionContext) -> str:
        url = self._url(ctx)
        return url if url.endswith("api") else f"{url}/api"

    def _send(self, ctx, what: str, method: str, url: str, payload: dict, required=(), validate=True) -> Any:
        try:
            response = call(
                ctx,
                method,
                url,
                json=payload,
                headers={"Content-Type": "application/json", "Private-Token": ctx.secrets["apiToken"]},
            )
            return ensure_valid_response(response, method, url, required) if validate else None
        except RemoteCallFailed as exc:
            status = exc.status_code if exc.status_code is not None else 500
            raise action_error(
                NAME,
                f"{what}. Status: {status}. Error: {exc.message}. Reason: {swimlane_reason(exc.body())}",
                status_code=exc.status_code,
                cause=exc,
            ) from None

    def _body(self, ctx: ExecutionContext, incident: dict, record_id: str | None = None) -> dict:
        mappings = ctx.config.get("mappings") or {}
        values: dict[str, Any] = {}
        for mapping_key, param in MAPPED_PARAMS.items():
            mapping = mappings.get(mapping_key)
            value = incident.get(param)
            if mapping and value:
                values[mapping["id"]] = js_number(value) if mapping["fieldType"] == "numeric" else value
        body: dict[str, Any] = {"applicationId": ctx.config["appId"]}
        if record_id:
            body["id"] = record_id
        body["values"] = values
        return body

    def _record_url(self, ctx: ExecutionContext, record_id: str) -> str:
        return f"{self._url(ctx)}/record/{ctx.config['appId']}/{record_id}"

    # ---- the service --------------------------------------------------------------------------

    def push_to_service(self, ctx, params):
        app_id = ctx.config["appId"]
        incident = params["incident"]
        external_id = incident.get("externalId")
        records = f"{self._api(ctx)}/app/{app_id}/record"
        if external_id:
            data = self._send(
                ctx,
                f"Unable to update record in application with id {app_id}",
                "patch",
                f"{records}/{external_id}",
                self._body(ctx, incident, external_id),
                ("id", "name", "modifiedDate"),
            )
            pushed = data["modifiedDate"]
        else:
            data = self._send(
                ctx,
                f"Unable to create record in application with id {app_id}",
                "post",
                records,
                self._body(ctx, incident),
                ("id", "name", "createdDate"),
            )
            pushed = data["createdDate"]
        result: dict[str, Any] = {
            "id": data["id"],
            "title": data["name"],
            "url": self._record_url(ctx, data["id"]),
            "pushedDate": iso(pushed),
        }
        comments_field = (ctx.config.get("mappings") or {}).get("commentsConfig")
        comments = params.get("comments")
        if comments and comments_field:
            result["comments"] = []
            created = now_iso()  # one date for the whole push, as Kibana's
            for comment in comments:
                self._send(
                    ctx,
                    f"Unable to create comment in application with id {app_id}",
                    "post",
                    f"{records}/{data['id']}/{comments_field['id']}/comment",
                    {
                        "createdDate": created,
                        "fieldId": comments_field["id"],
                        "isRichText": True,
                        "message": comment["comment"],
                    },
                    validate=False,  # Swimlane answers comments without a body
                )
                result["comments"].append({"commentId": comment["commentId"], "pushedDate": created})
        return result
