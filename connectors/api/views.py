"""Kibana's public connectors API: `/api/actions/connector*` and `/api/actions/connector_types`."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from rest_framework.response import Response

from connectors import extensions, registry
from connectors.api import openapi as oas
from connectors.api.base import (
    SYSTEM_CONNECTOR_PREFIX,
    KibanaView,
    collector_paused,
    refuse_unknown_query_keys,
    request_body,
    validate_body,
)
from connectors.api.errors import BadRequest, Conflict, Forbidden, NotFound
from connectors.base import iso_ms
from connectors.conf import get_config
from connectors.exceptions import ActionTypeDisabled, ConfigurationError, UnknownConnectorType
from connectors.models import Connector, validate_connector_id
from connectors.schemas import Any_, Object, Record, String
from connectors.services import (
    CONNECTOR_NAME_MAX_LENGTH,
    ConnectorConflict,
    ConnectorSummary,
    PreconfiguredConflict,
    create_connector,
    delete_connector,
    list_connectors,
    locale_compare_key,
    referenced_by_counts,
    update_connector,
)


def _empty_string_problem(value) -> str | None:
    """Kibana's validateEmptyStrings: an empty or whitespace-only string anywhere inside the value."""
    if isinstance(value, str):
        return "value '' is not valid" if not value.strip() else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        problem = _empty_string_problem(item)
        if problem:
            return problem
    return None


def _non_empty_string(max_length: int | None = None) -> String:
    return String(validator=_empty_string_problem, max_length=max_length)


def _record_without_empty_strings() -> Record:
    """`schema.recordOf(schema.string(), schema.any({validate: validateEmptyStrings}), {defaultValue: {}})`."""
    return Record(Any_(validator=_empty_string_problem), default=dict)


CREATE_BODY = Object(
    {
        "name": _non_empty_string(CONNECTOR_NAME_MAX_LENGTH),
        "connector_type_id": _non_empty_string(),
        "config": _record_without_empty_strings(),
        "secrets": _record_without_empty_strings(),
    }
)
UPDATE_BODY = Object(
    {
        "name": _non_empty_string(CONNECTOR_NAME_MAX_LENGTH),
        "config": _record_without_empty_strings(),
        "secrets": _record_without_empty_strings(),
    }
)
EXECUTE_BODY = Object({"params": Record(Any_())})


def connector_to_api(
    connector: Connector,
    referenced_by_count: int | None = None,
    failures_last_24h: int | None = None,
    *,
    with_health: bool = False,
) -> dict:
    """Kibana's `transformConnectorResponse`. Secrets never appear. With `with_health` (the GET
    routes with `?include_health=true`, our extension), stored connectors also carry health fields;
    without it every body is exactly Kibana's."""
    body = {"id": connector.id, "name": connector.name, "connector_type_id": connector.connector_type_id}
    in_memory = connector.is_preconfigured or connector.is_system_action
    if not in_memory or getattr(connector, "expose_config", False):
        body["config"] = connector.config
    body["is_preconfigured"] = connector.is_preconfigured
    body["is_deprecated"] = is_connector_deprecated(connector)
    if not in_memory:
        body["is_missing_secrets"] = connector.is_missing_secrets
    body["is_system_action"] = connector.is_system_action
    if referenced_by_count is not None:
        body["referenced_by_count"] = referenced_by_count
    if with_health and not connector.is_preconfigured and connector.pk:
        if failures_last_24h is None:
            failures_last_24h = extensions.failures_last_24h(
                [connector.id], space_ids=[connector.space_id]
            ).get(connector.id, 0)
        body["last_run_at"] = iso_ms(connector.last_run_at) if connector.last_run_at else None
        body["last_outcome"] = connector.last_outcome or None
        body["last_error"] = connector.last_error or None
        body["failures_last_24h"] = failures_last_24h
    return body


def wants_health(request) -> bool:
    """`?include_health=true`: our extension, so Kibana clients get exactly Kibana's bodies."""
    return request.query_params.get("include_health") == "true"


def is_connector_deprecated(connector: Connector) -> bool:
    if connector.connector_type_id not in (".servicenow", ".servicenow-sir"):
        return False
    return connector.config.get("usesTableApi", True) is not False


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


class ConnectorOperations(KibanaView):
    """The connector operations, each with its privilege check (the ones on one connector get it
    through `self.connector()`, which checks as it looks up); the 8.x routes and the legacy 7.x
    routes (connectors.api.legacy) differ only in how bodies are spelled.

    As in Kibana, a space that does not exist holds no connectors: reads answer "not found" (or only
    the preconfigured connectors), but nothing can be created there.
    """

    needs_space = False

    def create(self, *, name, type_id, config, secrets, connector_id=None) -> Connector:
        self.require("create", f'Unauthorized to create a "{type_id}" action')
        if self.space is None:
            raise NotFound("Not Found")
        if connector_id is not None:
            try:
                validate_connector_id(connector_id)
            except ValidationError as exc:
                raise BadRequest(exc.messages[0]) from None
        try:
            return create_connector(
                self.space,
                name=name,
                type_id=type_id,
                config=config,
                secrets=secrets,
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

    def get_connector(self, connector_id) -> Connector:
        return self.connector(
            connector_id, "get", system_error=NotFound(f"Connector {connector_id} not found")
        )

    def update(self, connector_id, *, name, config, secrets) -> Connector:
        connector = self.connector(
            connector_id,
            "update",
            system_error=BadRequest(f"System action {connector_id} can not be updated."),
        )
        try:
            return update_connector(
                connector, name=name, config=config, secrets=secrets, user=self.username()
            )
        except (ActionTypeDisabled, ConfigurationError, PreconfiguredConflict) as exc:
            _raise_for_validation(exc)

    def destroy(self, connector_id) -> None:
        connector = self.connector(
            connector_id,
            "delete",
            system_error=BadRequest(f"System action {connector_id} is not allowed to delete."),
        )
        try:
            delete_connector(connector)
        except PreconfiguredConflict as exc:
            raise BadRequest(str(exc)) from None

    def list_with_counts(
        self, *, with_health: bool = False
    ) -> list[tuple[Connector | ConnectorSummary, int]]:
        self.require("get")
        connectors = list_connectors(self.space_id, with_health=with_health)
        counts = referenced_by_counts(self.space_id, [c.id for c in connectors if not c.is_preconfigured])
        return [(c, counts.get(c.id, 0)) for c in connectors]

    def run(self, connector_id, params):
        connector = self.connector(
            connector_id, "execute", system_error=BadRequest("Execution of system action is not allowed")
        )
        if not connector.is_preconfigured and not registry.is_enabled_in_config(
            connector.connector_type_id, get_config()
        ):
            raise Forbidden(ActionTypeDisabled(connector.connector_type_id).message)
        return connector, extensions.run_connector(
            connector, params, source="http_request", user=self.username()
        )


class ConnectorCreateView(ConnectorOperations):
    @oas.operation(
        "Create a connector",
        request=oas.CREATE_REQUEST,
        response=oas.CONNECTOR,
        error_codes=(400, 403, 404, 409),
        xsrf=True,
    )
    def post(self, request, connector_id=None):
        body = validate_body(CREATE_BODY, request_body(request))
        connector = self.create(
            name=body["name"],
            type_id=body["connector_type_id"],
            config=body["config"],
            secrets=body["secrets"],
            connector_id=connector_id,
        )
        return Response(connector_to_api(connector))


class ConnectorView(ConnectorCreateView):
    """`/connector/{id}`: POST (inherited) creates with that id; GET, PUT, DELETE."""

    @oas.operation("Get a connector", response=oas.CONNECTOR, error_codes=(403, 404))
    def get(self, request, connector_id):
        connector = self.get_connector(connector_id)
        return Response(connector_to_api(connector, with_health=wants_health(request)))

    @oas.operation(
        "Update a connector",
        request=oas.UPDATE_REQUEST,
        response=oas.CONNECTOR,
        error_codes=(400, 403, 404),
        xsrf=True,
    )
    def put(self, request, connector_id):
        body = validate_body(UPDATE_BODY, request_body(request))
        connector = self.update(
            connector_id, name=body["name"], config=body["config"], secrets=body["secrets"]
        )
        return Response(connector_to_api(connector))

    @oas.operation("Delete a connector", status=204, error_codes=(400, 403, 404), xsrf=True)
    def delete(self, request, connector_id):
        self.destroy(connector_id)
        return Response(status=204)


class ConnectorListView(ConnectorOperations):
    @oas.operation(
        "List the space's connectors",
        response={"type": "array", "items": oas.CONNECTOR_IN_LIST},
        error_codes=(403, 404),
    )
    def get(self, request):
        with collector_paused():
            listed = self.list_with_counts(with_health=wants_health(request))
            if not wants_health(request):
                return Response([connector_to_api(c, count) for c, count in listed])
            # One grouped query; for a large space, grouping over every failure is cheaper than an IN list.
            failures = extensions.failures_last_24h(
                [c.id for c, _ in listed] if len(listed) <= 500 else None, space_ids=[self.space_id]
            )
            return Response(
                [connector_to_api(c, count, failures.get(c.id, 0), with_health=True) for c, count in listed]
            )


@dataclass(frozen=True, slots=True)
class SystemConnector:
    """Kibana's in-memory `system-connector-<typeId>` of a system action type (createSystemConnectors):
    empty config, never stored, listed only by the internal route."""

    id: str
    name: str
    connector_type_id: str
    config: dict = field(default_factory=dict)
    is_preconfigured: bool = False
    is_system_action: bool = True
    is_missing_secrets: bool = False

    @classmethod
    def of(cls, connector_type) -> "SystemConnector":
        return cls(
            SYSTEM_CONNECTOR_PREFIX + connector_type.type_id, connector_type.name, connector_type.type_id
        )


class InternalConnectorListView(ConnectorOperations):
    """`GET /internal/actions/connectors` (Kibana's get_all_system.ts, what its UI calls): the public
    list with the system connectors merged in, in the same name order."""

    @oas.operation(
        "List the space's connectors, system connectors included (Kibana's internal route)",
        response={"type": "array", "items": oas.CONNECTOR_IN_LIST},
        error_codes=(403, 404),
    )
    def get(self, request):
        with collector_paused():
            listed = self.list_with_counts() + [
                (SystemConnector.of(t), 0) for t in registry.all_types() if t.is_system_action_type
            ]
            listed.sort(key=lambda pair: locale_compare_key(pair[0].name))
            return Response([connector_to_api(c, count) for c, count in listed])


class ConnectorExecuteView(ConnectorOperations):
    @oas.operation(
        "Run a connector",
        request=oas.EXECUTE_REQUEST,
        response=oas.EXECUTE_RESPONSE,
        error_codes=(400, 403, 404),
        xsrf=True,
    )
    def post(self, request, connector_id):
        body = validate_body(EXECUTE_BODY, request_body(request))
        connector, result = self.run(connector_id, body["params"])
        return Response(result.to_api(connector.id))


class ConnectorTypesView(KibanaView):
    needs_space = False
    # The internal route (Kibana's list_types_system.ts, what its UI calls) lists system types too.
    include_system_types = False

    @oas.operation(
        "List connector types",
        response={"type": "array", "items": oas.CONNECTOR_TYPE},
        error_codes=(400,),
        parameters=[oas.OpenApiParameter("feature_id", str, description="e.g. alerting, cases, siem")],
    )
    def get(self, request):
        feature_id = request.query_params.get("feature_id")
        if feature_id is not None and len(feature_id) > 100:
            raise BadRequest(
                f"[request query.feature_id]: value has length [{len(feature_id)}] but it must have a maximum length of [100]."
            )
        refuse_unknown_query_keys(request.query_params, {"feature_id"})
        # Listing types needs no feature privilege (Kibana's client runs no authorization check here).
        return Response(
            [
                connector_type_to_api(t)
                for t in registry.all_types()
                if (self.include_system_types or not t.is_system_action_type)
                and (feature_id is None or feature_id in t.supported_feature_ids)
            ]
        )


class InternalConnectorTypesView(ConnectorTypesView):
    include_system_types = True


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
