"""Preconfigured connectors: declared in `xpack.actions.preconfigured`, in memory, in every space,
never editable or deletable."""

from connectors.conf import get_config
from connectors.models import Connector


def _build(connector_id: str, body: dict) -> Connector:
    connector = Connector(
        id=connector_id,
        name=body["name"],
        connector_type_id=body["actionTypeId"],
        config=dict(body["config"]),
    )
    connector.is_preconfigured = True
    connector.expose_config = body["exposeConfig"]
    connector._plain_secrets = dict(body["secrets"])
    return connector


def preconfigured_connectors() -> dict[str, Connector]:
    declared = get_config()["xpack.actions.preconfigured"]
    return {connector_id: _build(connector_id, body) for connector_id, body in declared.items()}


def get_preconfigured(connector_id: str) -> Connector | None:
    # Builds only the one asked for: this runs on every connector lookup.
    body = get_config()["xpack.actions.preconfigured"].get(connector_id)
    return _build(connector_id, body) if body is not None else None


def is_preconfigured(connector_id: str) -> bool:
    return connector_id in get_config()["xpack.actions.preconfigured"]
