"""Our OpenAPI description (drf-spectacular): raw schemas for Kibana's bodies, and the three ways
to authenticate. Served at `/api/schema/`, browsable at `/api/schema/docs/`."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView

ERROR = {
    "type": "object",
    "properties": {
        "statusCode": {"type": "integer", "example": 400},
        "error": {"type": "string", "example": "Bad Request"},
        "message": {"type": "string"},
    },
    "required": ["statusCode", "error", "message"],
}
OBJECT = {"type": "object", "additionalProperties": True}
CONNECTOR = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "connector_type_id": {"type": "string"},
        "config": OBJECT,
        "is_preconfigured": {"type": "boolean"},
        "is_deprecated": {"type": "boolean"},
        "is_missing_secrets": {"type": "boolean"},
        "is_system_action": {"type": "boolean"},
    },
    "required": ["id", "name", "connector_type_id", "is_preconfigured", "is_deprecated", "is_system_action"],
}
CONNECTOR_IN_LIST = {
    **CONNECTOR,
    "properties": {**CONNECTOR["properties"], "referenced_by_count": {"type": "integer"}},
    "required": [*CONNECTOR["required"], "referenced_by_count"],
}
CREATE_REQUEST = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "connector_type_id": {"type": "string", "minLength": 1},
        "config": OBJECT,
        "secrets": {**OBJECT, "writeOnly": True},
    },
    "required": ["name", "connector_type_id"],
    "additionalProperties": False,
}
UPDATE_REQUEST = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "config": OBJECT,
        "secrets": {**OBJECT, "writeOnly": True},
    },
    "required": ["name"],
    "additionalProperties": False,
}
EXECUTE_REQUEST = {
    "type": "object",
    "properties": {"params": OBJECT},
    "required": ["params"],
    "additionalProperties": False,
}
EXECUTE_RESPONSE = {
    "type": "object",
    "properties": {
        "connector_id": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "error"]},
        "message": {"type": "string"},
        "service_message": {"type": "string"},
        "data": {},
        "retry": {
            "oneOf": [{"type": "boolean"}, {"type": "string", "format": "date-time"}],
            "nullable": True,
        },
        "errorSource": {"type": "string", "enum": ["user", "framework"]},
    },
    "required": ["connector_id", "status"],
}
CONNECTOR_TYPE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "enabled_in_config": {"type": "boolean"},
        "enabled_in_license": {"type": "boolean"},
        "minimum_license_required": {
            "type": "string",
            "enum": ["basic", "standard", "gold", "platinum", "enterprise", "trial"],
        },
        "supported_feature_ids": {"type": "array", "items": {"type": "string"}},
        "is_system_action_type": {"type": "boolean"},
    },
}
SPACE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9_\\-]+$"},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "color": {"type": "string", "pattern": "^#[a-zA-Z0-9]{6}$"},
        "initials": {"type": "string", "maxLength": 2},
        "imageUrl": {"type": "string"},
        "disabledFeatures": {"type": "array", "items": {"type": "string"}},
        "_reserved": {"type": "boolean"},
        "solution": {"type": "string", "enum": ["security", "oblt", "es", "classic"]},
    },
    "required": ["id", "name"],
}

KBN_XSRF = OpenApiParameter(
    "kbn-xsrf",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Any value. Required on every request that is not GET (Kibana's CSRF rule).",
)


def errors(*codes: int) -> dict:
    return {code: ERROR for code in codes}


def operation(
    summary: str, *, request=None, response=None, status=200, error_codes=(), xsrf=False, parameters=()
):
    responses = {status: response} if status != 204 else {204: None}
    responses.update(errors(401, *error_codes))
    return extend_schema(
        summary=summary,
        request={"application/json": request} if request is not None else None,
        responses=responses,
        parameters=[*parameters, *([KBN_XSRF] if xsrf else [])],
    )


class BasicAuthScheme(OpenApiAuthenticationExtension):
    target_class = "connectors.api.authentication.BasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}


class ApiKeyAuthScheme(OpenApiAuthenticationExtension):
    target_class = "connectors.api.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ApiKey <base64(id:key)>`, the encoded value shown once when the key is created.",
        }


class SessionAuthScheme(OpenApiAuthenticationExtension):
    target_class = "connectors.api.authentication.SessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


# ---- tags and summaries for every operation ----------------------------------------------------

# The docs page groups operations by tag; the first match of the path (after any /s/{space_id})
# decides it. Routes that read the event log are listed before the connector routes they sit under.
TAGS = (
    (
        "event log",
        re.compile(
            r"^/(api|internal)/actions/(_event_log|_global_connector_execution|connector/[^/]+/_execution)|^/internal/actions/connector/[^/]+/_execution|_execution_log|_execution_kpi"
        ),
    ),
    ("connectors", re.compile(r"^/(api|internal)/actions")),
    ("rules", re.compile(r"^/(api|internal)/alerting/(?!_health)|^/api/maintenance_window")),
    ("spaces", re.compile(r"^/api/spaces/space")),
    ("saved objects", re.compile(r"^/api/(saved_objects|spaces/_|encrypted_saved_objects)")),
    ("health", re.compile(r"^/api/(status|stats|task_manager|alerting/_health)")),
)
VERBS = {"GET": "Get", "POST": "Run", "PUT": "Update", "DELETE": "Delete", "PATCH": "Update"}
# Summaries for operations whose view has no `@extend_schema(summary=...)` and whose docstring
# names a route rather than saying what it does: (method or "*", path pattern) -> summary.
SUMMARIES = (
    ("GET", r"^/api/actions$", "List connectors (legacy route)"),
    ("POST", r"^/api/actions$", "Create a connector (legacy route)"),
    ("POST", r"^/api/actions/action$", "Create a connector (legacy route)"),
    ("GET", r"^/api/actions/action/\{[^}]+\}$", "Get a connector (legacy route)"),
    ("PUT", r"^/api/actions/action/\{[^}]+\}$", "Update a connector (legacy route)"),
    ("DELETE", r"^/api/actions/action/\{[^}]+\}$", "Delete a connector (legacy route)"),
    ("POST", r"^/api/actions/action/\{[^}]+\}/_execute$", "Run a connector (legacy route)"),
    ("GET", r"^/api/actions/list_action_types$", "List connector types (legacy route)"),
    ("POST", r"/_bulk_enqueue$", "Queue runs of several connectors"),
    ("POST", r"/_enqueue$", "Queue a run of a connector"),
    ("GET", r"/_enqueue/\{[^}]+\}$", "Get a queued run"),
    ("POST", r"^/api/alerting/rule$", "Create a rule"),
    ("POST", r"^/api/alerting/rule/\{[^}]+\}$", "Create a rule with this id"),
    ("GET", r"^/api/alerting/rule/\{[^}]+\}$", "Get a rule"),
    ("PUT", r"^/api/alerting/rule/\{[^}]+\}$", "Update a rule"),
    ("DELETE", r"^/api/alerting/rule/\{[^}]+\}$", "Delete a rule"),
    ("POST", r"/_alerts$", "Report alerts for a rule"),
    ("POST", r"/rule/\{[^}]+\}/_enable$", "Enable a rule"),
    ("POST", r"/rule/\{[^}]+\}/_disable$", "Disable a rule"),
    ("POST", r"/rule/\{[^}]+\}/_mute_all$", "Mute all alerts of a rule"),
    ("POST", r"/rule/\{[^}]+\}/_unmute_all$", "Unmute all alerts of a rule"),
    ("POST", r"/_update_api_key$", "Update the API key of a rule"),
    ("POST", r"/alert/\{[^}]+\}/_mute$", "Mute one alert"),
    ("POST", r"/alert/\{[^}]+\}/_unmute$", "Unmute one alert"),
    ("POST", r"/snooze_schedule$", "Snooze a rule on a schedule"),
    ("DELETE", r"/snooze_schedule/\{[^}]+\}$", "Delete a snooze schedule"),
    ("GET", r"/rules/_find$", "Find rules"),
    ("GET", r"/rules/backfill/\{[^}]+\}$", "Get a backfill"),
    ("DELETE", r"/rules/backfill/\{[^}]+\}$", "Delete a backfill"),
    ("POST", r"/rules/backfill/_find$", "Find backfills"),
    ("POST", r"/rules/backfill/_schedule$", "Schedule backfills"),
    ("POST", r"/_run_soon$", "Run a rule soon"),
    ("POST", r"^/api/maintenance_window$", "Create a maintenance window"),
    ("GET", r"^/api/maintenance_window/_find$", "Find maintenance windows"),
    ("GET", r"^/api/maintenance_window/\{[^}]+\}$", "Get a maintenance window"),
    ("PATCH", r"^/api/maintenance_window/\{[^}]+\}$", "Update a maintenance window"),
    ("DELETE", r"^/api/maintenance_window/\{[^}]+\}$", "Delete a maintenance window"),
    ("POST", r"/_archive$", "Archive a maintenance window"),
    ("POST", r"/_unarchive$", "Unarchive a maintenance window"),
    ("*", r"/_event_log/_export$", "Export events"),
    ("*", r"/_global_connector_execution_kpi$", "Connector run counts (all connectors)"),
    ("*", r"/_global_connector_execution_logs$", "Connector execution log (all connectors)"),
    ("*", r"/connector/\{[^}]+\}/_execution_kpi$", "Run counts of a connector"),
    ("*", r"/connector/\{[^}]+\}/_execution_logs$", "Execution log of a connector"),
    ("GET", r"/rule/\{[^}]+\}/_execution_kpi$", "Run counts of a rule"),
    ("GET", r"/rule/\{[^}]+\}/_execution_log$", "Execution log of a rule"),
    ("POST", r"^/api/saved_objects/_export$", "Export saved objects"),
    ("POST", r"^/api/saved_objects/_import$", "Import saved objects"),
    ("POST", r"^/api/saved_objects/_resolve_import_errors$", "Resolve import errors"),
    ("GET", r"^/api/alerting/_health$", "Alerting framework health"),
    ("GET", r"^/api/task_manager/_health$", "Task manager health"),
    ("GET", r"^/api/alerting/rule_types$", "List rule types"),
)


def tag_for(path: str) -> str:
    path = re.sub(r"^/s/\{[^}]+\}", "", path)
    for tag, pattern in TAGS:
        if pattern.search(path):
            return tag
    return "other"


class KibanaAutoSchema(AutoSchema):
    """Our views are DRF APIViews that validate Kibana's bodies with `connectors.schemas`, not
    serializers: an operation without `@extend_schema` gets a JSON object body instead of
    drf-spectacular's "unable to guess serializer" error, a tag from its path and a summary
    from its docstring (or its class name)."""

    def get_tags(self) -> list[str]:
        return [tag_for(self.path)]

    def get_summary(self) -> str | None:
        summary = super().get_summary()
        if summary:
            return summary
        path = re.sub(r"^/s/\{[^}]+\}", "", self.path)
        for method, pattern, text in SUMMARIES:
            if method in ("*", self.method) and re.search(pattern, path):
                return text
        doc = (self.view.__class__.__doc__ or "").strip()
        if doc and not doc.startswith("`"):
            first = re.split(r"(?<=[.:])\s", " ".join(doc.split()), maxsplit=1)[0].rstrip(".:")
            if len(first) <= 90:
                return first
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", self.view.__class__.__name__.removesuffix("View")).lower()
        return f"{VERBS.get(self.method, self.method.title())} {words}"

    def _has_serializer(self) -> bool:
        view = self.view
        return isinstance(view, GenericAPIView) or any(
            hasattr(view, name) for name in ("get_serializer", "get_serializer_class", "serializer_class")
        )

    def get_request_serializer(self):
        # A request given as a dict is drf-spectacular's {media type: schema} form.
        return super().get_request_serializer() if self._has_serializer() else {"application/json": OBJECT}

    def get_response_serializers(self):
        return super().get_response_serializers() if self._has_serializer() else {200: OBJECT}
