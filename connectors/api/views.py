"""Kibana's public connectors API: `/api/actions/connector*` and `/api/actions/connector_types`."""

from rest_framework.response import Response

from actions.services import RunInfo, execute
from connectors import registry
from connectors.api.base import KibanaView, validate_body
from connectors.api.errors import BadRequest, Conflict, Forbidden, NotFound
from connectors.conf import get_config
from connectors.exceptions import ActionTypeDisabled, ConfigurationError, UnknownConnectorType
from connectors.models import Connector, validate_connector_id
from connectors.schemas import Object, String
from connectors.services import (
    ConnectorConflict,
    ConnectorNotFound,
    PreconfiguredConflict,
    create_connector,
    delete_connector,
    find_connector,
    list_connectors,
    referenced_by_counts,
    update_connector,
)

CREATE_BODY = Object(
    {
        "name": String(),
        "connector_type_id": String(),
        "config": Object({}, strict=False, default=dict),
        "secrets": Object({}, strict=False, default=dict),
    }
)
UPDATE_BODY = Object(
    {
        "name": String(),
        "config": Object({}, strict=False, default=dict),
        "secrets": Object({}, strict=False, default=dict),
    }
)
EXECUTE_BODY = Object({"params": Object({}, strict=False)})
FEATURE_ID_BODY = Object({"feature_id": String(max_length=100, default=None)})


def connector_to_api(connector: Connector, referenced_by_count: int | None = None) -> dict:
    """Kibana's `transformConnectorResponse`. Secrets never appear."""
    body = {"id": connector.id, "name": connector.name, "connector_type_id": connector.connector_type_id}
    if not connector.is_preconfigured or getattr(connector, "expose_config", False):
        body["config"] = connector.config
    body["is_preconfigured"] = connector.is_preconfigured
    body["is_deprecated"] = is_connector_deprecated(connector)
    if not connector.is_preconfigured:
        body["is_missing_secrets"] = connector.is_missing_secrets
    body["is_system_action"] = connector.is_system_action
    if referenced_by_count is not None:
        body["referenced_by_count"] = referenced_by_count
    return body


def is_connector_deprecated(connector: Connector) -> bool:
    if connector.connector_type_id not in (".servicenow", ".servicenow-sir"):
        return False
    return connector.config.get("usesTableApi", True) is not False


def reject_empty_strings(data: dict, prefix: str = "request body") -> None:
    """Kibana's validateEmptyStrings: empty or whitespace-only strings are invalid everywhere."""
    for key, value in data.items():
        path = f"{prefix}.{key}"
        if isinstance(value, str) and not value.strip():
            raise BadRequest(f"[{path}]: value '{value}' is not valid")
        if isinstance(value, dict):
            reject_empty_strings(value, path)


def _connector_or_404(space_id: str, connector_id: str) -> Connector:
    try:
        return find_connector(space_id, connector_id)
    except ConnectorNotFound as exc:
        raise NotFound(str(exc)) from None


def _raise_for_validation(exc: Exception):
    if isinstance(exc, ActionTypeDisabled):
        raise Forbidden(exc.message)
    if isinstance(exc, UnknownConnectorType):
        raise BadRequest(str(exc))
    if isinstance(exc, ConfigurationError):
        raise BadRequest(exc.message)
    if isinstance(exc, PreconfiguredConflict):
        raise BadRequest(str(exc))
    if isinstance(exc, ConnectorConflict):
        raise Conflict(str(exc))
    raise exc


class ConnectorCreateView(KibanaView):
    def post(self, request, connector_id=None):
        body = validate_body(CREATE_BODY, request.data)
        reject_empty_strings(body)
        self.require("create", f'Unauthorized to create a "{body["connector_type_id"]}" action')
        if connector_id is not None:
            try:
                validate_connector_id(connector_id)
            except Exception as exc:
                raise BadRequest(exc.messages[0]) from None
        try:
            connector = create_connector(
                self.space,
                name=body["name"],
                type_id=body["connector_type_id"],
                config=body["config"],
                secrets=body["secrets"],
                connector_id=connector_id,
                user=self.username(),
            )
        except (
            ActionTypeDisabled,
            UnknownConnectorType,
            ConfigurationError,
            PreconfiguredConflict,
            ConnectorConflict,
        ) as exc:
            _raise_for_validation(exc)
        return Response(connector_to_api(connector))


class ConnectorView(ConnectorCreateView):
    """`/connector/{id}`: POST (inherited) creates with that id; GET, PUT, DELETE."""

    def get(self, request, connector_id):
        self.require("get")
        return Response(connector_to_api(_connector_or_404(self.space_id, connector_id)))

    def put(self, request, connector_id):
        body = validate_body(UPDATE_BODY, request.data)
        reject_empty_strings(body)
        self.require("update")
        connector = _connector_or_404(self.space_id, connector_id)
        try:
            update_connector(
                connector,
                name=body["name"],
                config=body["config"],
                secrets=body["secrets"],
                user=self.username(),
            )
        except (ActionTypeDisabled, ConfigurationError, PreconfiguredConflict) as exc:
            _raise_for_validation(exc)
        return Response(connector_to_api(connector))

    def delete(self, request, connector_id):
        self.require("delete")
        connector = _connector_or_404(self.space_id, connector_id)
        try:
            delete_connector(connector)
        except PreconfiguredConflict as exc:
            raise BadRequest(str(exc)) from None
        return Response(status=204)


class ConnectorListView(KibanaView):
    def get(self, request):
        self.require("get")
        connectors = list_connectors(self.space_id)
        counts = referenced_by_counts(self.space_id, [c.id for c in connectors if not c.is_preconfigured])
        return Response([connector_to_api(c, counts.get(c.id, 0)) for c in connectors])


class ConnectorExecuteView(KibanaView):
    def post(self, request, connector_id):
        body = validate_body(EXECUTE_BODY, request.data)
        self.require("execute")
        connector = _connector_or_404(self.space_id, connector_id)
        if not connector.is_preconfigured and not registry.is_enabled_in_config(
            connector.connector_type_id, get_config()
        ):
            raise Forbidden(ActionTypeDisabled(connector.connector_type_id).message)
        result = execute(connector, body["params"], RunInfo(source="http_request", user=self.username()))
        return Response(result.to_api(connector.id))


class ConnectorTypesView(KibanaView):
    def get(self, request):
        feature_id = request.query_params.get("feature_id")
        if feature_id is not None and len(feature_id) > 100:
            raise BadRequest(
                f"[request query.feature_id]: value has length [{len(feature_id)}] but it must have a maximum length of [100]."
            )
        unknown = set(request.query_params) - {"feature_id"}
        if unknown:
            raise BadRequest(f"[request query.{sorted(unknown)[0]}]: definition for this key is missing")
        self.require("get")
        return Response(
            [
                connector_type_to_api(t)
                for t in registry.all_types()
                if not t.is_system_action_type
                and (feature_id is None or feature_id in t.supported_feature_ids)
            ]
        )


def connector_type_to_api(connector_type) -> dict:
    enabled_in_config = registry.is_enabled_in_config(connector_type.type_id, get_config())
    return {
        "id": connector_type.type_id,
        "name": connector_type.name,
        "enabled": enabled_in_config,
        "enabled_in_config": enabled_in_config,
        "enabled_in_license": True,
        "minimum_license_required": connector_type.minimum_license,
        "supported_feature_ids": list(connector_type.supported_feature_ids),
        "is_system_action_type": connector_type.is_system_action_type,
    }
