"""Kibana's legacy 7.x connectors routes (deprecated in 7.13, still called by 8.x clients):
`POST /api/actions/action`, `GET|PUT|DELETE /api/actions/action/{id}`, `GET /api/actions`,
`GET /api/actions/list_action_types`, `POST /api/actions/action/{id}/_execute`.

Same operations, privileges and errors as the 8.x routes; bodies are camelCase (`actionTypeId`,
`isPreconfigured`, `referencedByCount`, `actionId`, `serviceMessage`).
"""

from datetime import datetime

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response

from connectors import registry
from connectors.api import openapi as oas
from connectors.api.base import KibanaView, collector_paused, request_body, validate_body
from connectors.api.views import (
    EXECUTE_BODY,
    ConnectorOperations,
    _non_empty_string,
    _record_without_empty_strings,
    connector_to_api,
    connector_type_to_api,
)
from connectors.schemas import Object
from connectors.services import CONNECTOR_NAME_MAX_LENGTH

LEGACY_CREATE_BODY = Object(
    {
        "name": _non_empty_string(CONNECTOR_NAME_MAX_LENGTH),
        "actionTypeId": _non_empty_string(),
        "config": _record_without_empty_strings(),
        "secrets": _record_without_empty_strings(),
    }
)
LEGACY_UPDATE_BODY = Object(
    {
        "name": _non_empty_string(CONNECTOR_NAME_MAX_LENGTH),
        "config": _record_without_empty_strings(),
        "secrets": _record_without_empty_strings(),
    }
)

_CAMEL = {
    "connector_type_id": "actionTypeId",
    "is_preconfigured": "isPreconfigured",
    "is_deprecated": "isDeprecated",
    "is_missing_secrets": "isMissingSecrets",
    "is_system_action": "isSystemAction",
    "referenced_by_count": "referencedByCount",
    "enabled_in_config": "enabledInConfig",
    "enabled_in_license": "enabledInLicense",
    "minimum_license_required": "minimumLicenseRequired",
    "supported_feature_ids": "supportedFeatureIds",
    "is_system_action_type": "isSystemActionType",
}


def _camel(body: dict) -> dict:
    return {_CAMEL.get(key, key): value for key, value in body.items()}


def legacy_connector(connector, referenced_by_count=None) -> dict:
    return _camel(connector_to_api(connector, referenced_by_count))


def legacy_result(connector_id: str, result) -> dict:
    """The 7.x execute body: the executor result as is, camelCase, with `actionId`."""
    body = {"status": result.status, "actionId": connector_id}
    if result.data is not None:
        body["data"] = result.data
    if result.message is not None:
        body["message"] = result.message
    if result.service_message is not None:
        body["serviceMessage"] = result.service_message
    if result.status == "error" and result.retry is not None:
        body["retry"] = result.retry.isoformat() if isinstance(result.retry, datetime) else result.retry
    if result.status == "error" and result.error_source is not None:
        body["errorSource"] = result.error_source
    return body


class LegacyCreateView(ConnectorOperations):
    def post(self, request):
        body = validate_body(LEGACY_CREATE_BODY, request_body(request))
        connector = self.create(
            name=body["name"], type_id=body["actionTypeId"], config=body["config"], secrets=body["secrets"]
        )
        return Response(legacy_connector(connector))


class LegacyActionView(ConnectorOperations):
    def get(self, request, connector_id):
        return Response(legacy_connector(self.get_connector(connector_id)))

    def put(self, request, connector_id):
        body = validate_body(LEGACY_UPDATE_BODY, request_body(request))
        connector = self.update(
            connector_id, name=body["name"], config=body["config"], secrets=body["secrets"]
        )
        return Response(legacy_connector(connector))

    def delete(self, request, connector_id):
        self.destroy(connector_id)
        return Response(status=204)


class LegacyListView(ConnectorOperations):
    def get(self, request):
        with collector_paused():
            return Response([legacy_connector(c, count) for c, count in self.list_with_counts()])

    def post(self, request):
        """Kibana's 8.x OpenAPI file lists the legacy create at `POST /api/actions` as well."""
        return LegacyCreateView.post(self, request)


class LegacyExecuteView(ConnectorOperations):
    def post(self, request, connector_id):
        body = validate_body(EXECUTE_BODY, request_body(request))
        connector, result = self.run(connector_id, body["params"])
        return Response(legacy_result(connector.id, result))


class LegacyTypesView(KibanaView):
    needs_space = False

    def get(self, request):
        return Response(
            [_camel(connector_type_to_api(t)) for t in registry.all_types() if not t.is_system_action_type]
        )


# The legacy routes are documented as deprecated, with free-form bodies (lists answer arrays, delete
# answers 204 with no body).
_ARRAY = {"type": "array", "items": oas.OBJECT}


def _legacy_responses(view, method):
    if method == "delete":
        return {204: None}
    if view in (LegacyListView, LegacyTypesView):
        return {200: _ARRAY}
    return {200: oas.OBJECT}


for _view in (LegacyCreateView, LegacyActionView, LegacyListView, LegacyExecuteView, LegacyTypesView):
    extend_schema_view(
        **{
            method: extend_schema(
                deprecated=True,
                request={"application/json": oas.OBJECT},
                responses=_legacy_responses(_view, method),
            )
            for method in ("get", "post", "put", "delete")
            if hasattr(_view, method)
        }
    )(_view)
