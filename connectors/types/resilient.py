"""`.resilient`: IBM Resilient (IBM Security QRadar SOAR) incidents, with comments and metadata."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from connectors import http
from connectors.base import ExecutionContext
from connectors.schemas import MISSING, Any_, Array, Number, Object, Record, String, type_name
from connectors.types.case_management import CaseConnectorMixin, comments_schema, epoch_ms_iso
from connectors.types.sub_action_framework import SubAction, SubActionConnectorType, SubActionError
from connectors.types.url_checks import check_connector_url

INCIDENT = Object(
    {
        "name": String(label="Name"),
        "description": String(nullable=True, default=None, label="Description", widget="textarea"),
        "externalId": String(nullable=True, default=None, label="Incident id (update)"),
        "incidentTypes": Array(Number(), nullable=True, default=None, label="Incident types"),
        "severityCode": Number(nullable=True, default=None, label="Severity"),
        "additionalFields": Record(
            Any_(),
            nullable=True,
            default=None,
            validator=lambda v: _check_additional(v),
            label="Additional fields (JSON)",
        ),
    }
)
PUSH_PARAMS = Object({"incident": INCIDENT, "comments": comments_schema()})
FIELD_NAMES = {"incidentTypes": "incident_type_ids", "severityCode": "severity_code"}
MAX_ADDITIONAL_FIELDS = 50
RESERVED_KEYS = ("name", "description", "externalId", "incidentTypes", "severityCode", "additionalFields")


def _check_additional(fields: dict) -> str | None:
    if len(fields) > MAX_ADDITIONAL_FIELDS:
        return f"A maximum of {MAX_ADDITIONAL_FIELDS} additionalFields can be defined at a time."
    clashes = [key for key in fields if key in RESERVED_KEYS]
    if clashes:
        return f"The following properties cannot be defined inside additionalFields: {', '.join(clashes)}."
    return None


def _old_value(name: str, value: Any) -> dict:
    if name == "description":
        content = value.get("content") if isinstance(value, dict) else value
        return {"textarea": {"format": "html", "content": content or ""}}
    if name == "incident_type_ids":
        return {"ids": value or []}
    if name == "severity_code":
        return {"id": value}
    return {"text": value}


def _new_value(name: str, value: Any) -> dict:
    if name == "description":
        return {"textarea": {"format": "html", "content": value or ""}}
    if name == "incident_type_ids":
        return {"ids": value or []}
    if name == "severity_code":
        return {"id": value}
    return {"text": value}


class ResilientConnector(CaseConnectorMixin, SubActionConnectorType):
    type_id = ".resilient"
    name = "IBM Resilient"
    description = "Create an incident in IBM Resilient."
    icon = "logoIBM"
    minimum_license = "platinum"
    supported_feature_ids = ("alerting", "cases", "siem")
    config_schema = Object({"apiUrl": String(label="URL"), "orgId": String(label="Organization ID")})
    secrets_schema = Object(
        {"apiKeyId": String(label="API key ID"), "apiKeySecret": String(secret=True, label="API key secret")}
    )
    test_params_schema = Object(
        {"subAction": String(default="pushToService", widget="hidden"), "subActionParams": PUSH_PARAMS}
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too
    sub_actions = {
        "pushToService": SubAction("push_to_service", PUSH_PARAMS),
        "incidentTypes": SubAction("incident_types"),
        "severity": SubAction("severity"),
        "getFields": SubAction("get_fields"),
    }

    def check_config(self, config, settings):
        return check_connector_url(config["apiUrl"], settings)

    def response_error_message(self, response: http.Response) -> str:
        if response.status_code == 401:
            return "Unauthorized API Error"
        if not response.status_code:
            return "Unknown API Error"
        body = response.json_or_none()
        message = body.get("message") if isinstance(body, dict) else None
        return f"API Error: {message or response.reason}"

    # ---- plumbing -----------------------------------------------------------------------------

    def _url(self, ctx: ExecutionContext) -> str:
        return ctx.config["apiUrl"].rstrip("/")

    def _org(self, ctx: ExecutionContext) -> str:
        return f"{self._url(ctx)}/rest/orgs/{ctx.config['orgId']}"

    def _call(self, ctx, method: str, url: str, payload: Any = None) -> Any:
        auth = (ctx.secrets["apiKeyId"], ctx.secrets["apiKeySecret"])
        return self.request(ctx, method, url, json=payload, auth=auth).json_or_none()

    def _view(self, ctx, incident_id: str) -> str:
        return f"{self._url(ctx)}/#incidents/{incident_id}"

    # ---- the case connector ---------------------------------------------------------------------
    # Each call is wrapped as Kibana's: `[Action][IBM Resilient]: <what>. Error: <framework error>.`

    @contextmanager
    def _failing_as(self, what: str):
        try:
            yield
        except SubActionError as exc:
            raise SubActionError(
                f"[Action][{self.name}]: {what}. Error: {exc.service_message}.",
                retry=bool(exc.retry),
                error_source=exc.error_source,
                status_code=exc.status_code,
            ) from None

    @staticmethod
    def _require_numbers(data: Any, keys: tuple[str, ...]) -> None:
        """Kibana's response schema for a created incident (`{id: number, create_date: number}`):
        `Response validation failed (Error: [id]: expected value of type [number] but got [undefined])`."""
        for key in keys:
            value = data.get(key, MISSING) if isinstance(data, dict) else MISSING
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SubActionError(
                    f"Response validation failed (Error: [{key}]: expected value of type [number] "
                    f"but got [{type_name(value)}])"
                )

    def create_incident(self, ctx, incident: dict) -> dict:
        with self._failing_as("Unable to create incident"):
            payload: dict[str, Any] = {"name": incident["name"], "discovered_date": int(time.time() * 1000)}
            if incident.get("description"):
                payload["description"] = {"format": "html", "content": incident["description"]}
            if incident.get("incidentTypes"):
                payload["incident_type_ids"] = [{"id": int(t)} for t in incident["incidentTypes"]]
            if incident.get("severityCode"):
                payload["severity_code"] = {"id": int(incident["severityCode"])}
            payload.update(incident.get("additionalFields") or {})
            data = self._call(
                ctx, "post", f"{self._org(ctx)}/incidents?text_content_output_format=objects_convert", payload
            )
            self._require_numbers(data, ("id", "create_date"))
            incident_id = js_id(data["id"])
            return {
                "title": incident_id,
                "id": incident_id,
                "pushedDate": epoch_ms_iso(data.get("create_date")),
                "url": self._view(ctx, incident_id),
            }

    def get_incident(self, ctx, incident_id: str) -> dict:
        with self._failing_as(f"Unable to get incident with id {incident_id}"):
            data = self._call(
                ctx,
                "get",
                f"{self._org(ctx)}/incidents/{incident_id}?text_content_output_format=objects_convert",
            )
            return data if isinstance(data, dict) else {}

    def update_incident(self, ctx, incident_id: str, incident: dict) -> dict:
        with self._failing_as(f"Unable to update incident with id {incident_id}"):
            current = self.get_incident(ctx, incident_id)
            changes = []
            present = {k: v for k, v in incident.items() if v is not None and k != "additionalFields"}
            for key, value in present.items():
                name = FIELD_NAMES.get(key, key)
                changes.append(
                    {
                        "field": {"name": name},
                        "old_value": _old_value(name, current.get(name)),
                        "new_value": _new_value(name, value),
                    }
                )
            for key, value in (incident.get("additionalFields") or {}).items():
                changes.append(
                    {
                        "field": {"name": key},
                        "old_value": {"text": current.get(key)},
                        "new_value": {"text": value},
                    }
                )
            result = self._call(
                ctx, "patch", f"{self._org(ctx)}/incidents/{incident_id}", {"changes": changes}
            )
            if not isinstance(result, dict) or not result.get("success"):
                message = result.get("message") if isinstance(result, dict) else None
                raise SubActionError(
                    f"Error while updating incident: {message if message is not None else 'null'}"
                )
            updated = self.get_incident(ctx, incident_id)
            updated_id = js_id(updated.get("id", incident_id))
            return {
                "title": updated_id,
                "id": updated_id,
                "pushedDate": epoch_ms_iso(updated.get("inc_last_modified_date")),
                "url": self._view(ctx, updated_id),
            }

    def add_comment(self, ctx, incident_id: str, comment: str) -> None:
        with self._failing_as(f"Unable to create comment at incident with id {incident_id}"):
            self._call(
                ctx,
                "post",
                f"{self._org(ctx)}/incidents/{incident_id}/comments",
                {"text": {"format": "text", "content": comment}},
            )

    def _values(self, ctx, field: str) -> list[dict]:
        data = self._call(ctx, "get", f"{self._org(ctx)}/types/incident/fields/{field}")
        return [
            {"id": js_id(v.get("value")), "name": v.get("label")} for v in (data or {}).get("values") or []
        ]

    def incident_types(self, ctx, params):
        with self._failing_as("Unable to get incident types"):
            return self._values(ctx, "incident_type_ids")

    def severity(self, ctx, params):
        with self._failing_as("Unable to get severity"):
            return self._values(ctx, "severity_code")

    def get_fields(self, ctx, params):
        with self._failing_as("Unable to get fields"):
            data = self._call(ctx, "get", f"{self._org(ctx)}/types/incident/fields")
            keys = ("name", "input_type", "read_only", "required", "text", "prefix", "values")
            return [{key: field.get(key) for key in keys} for field in data or [] if isinstance(field, dict)]


def js_id(value: Any) -> str:
    """`${id}` in JavaScript: numbers without a trailing `.0`."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
