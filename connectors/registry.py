"""The one registry of connector types, filled from settings.CONNECTOR_TYPES at start-up."""

from django.conf import settings
from django.utils.module_loading import import_string

from connectors.base import LICENSES, ConnectorType
from connectors.exceptions import AlreadyRegistered, UnknownConnectorType

_types: dict[str, ConnectorType] = {}

# Kibana's own system action types (types spec §5). Not implemented here, but every Kibana has their
# connectors (`system-connector-.cases`, ...), so the API answers for them as Kibana does (a system
# connector is never found, updated, deleted or run, and none is created) instead of "not found".
KIBANA_SYSTEM_ACTION_TYPE_IDS = frozenset({".cases", ".observability-ai-assistant", ".workflows"})


def register(type_class: type[ConnectorType]) -> ConnectorType:
    instance = type_class()
    if instance.type_id in _types:
        raise AlreadyRegistered(f"Connector type {instance.type_id!r} is registered twice")
    if instance.minimum_license not in LICENSES:
        raise ValueError(f"{instance.type_id}: unknown minimum license {instance.minimum_license!r}")
    _types[instance.type_id] = instance
    return instance


def load_from_settings() -> None:
    _types.clear()
    for dotted_path in settings.CONNECTOR_TYPES:
        register(import_string(dotted_path))


def get(type_id: str) -> ConnectorType:
    try:
        return _types[type_id]
    except KeyError:
        raise UnknownConnectorType(type_id) from None


def is_registered(type_id: str) -> bool:
    return type_id in _types


def is_system_action_type(type_id: str) -> bool:
    """Kibana's `actionTypeRegistry.isSystemActionType`, with Kibana's own system types reserved."""
    if type_id in _types:
        return _types[type_id].is_system_action_type
    return type_id in KIBANA_SYSTEM_ACTION_TYPE_IDS


def all_types() -> list[ConnectorType]:
    return sorted(_types.values(), key=lambda t: t.type_id)


def is_enabled_in_config(type_id: str, config) -> bool:
    enabled = config["xpack.actions.enabledActionTypes"]
    return "*" in enabled or type_id in enabled
