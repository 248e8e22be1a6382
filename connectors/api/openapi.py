"""Our OpenAPI description (drf-spectacular): raw schemas for Kibana's bodies, and the three ways
to authenticate. Served at `/api/schema/`, browsable at `/api/schema/docs/`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema

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
