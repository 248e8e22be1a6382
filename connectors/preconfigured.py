"""Preconfigured connectors: declared in `xpack.actions.preconfigured`, in memory, in every space,
never editable or deletable."""

from connectors.conf import get_config
from connectors.models import Connector


def preconfigured_connectors() -> dict[str, Connector]:
    result = {}
    for connector_id, body in get_config()["xpack.actions.preconfigured"].items():
        connector = Connector(
            id=connector_id,
            name=body["name"],
            connector_type_id=body["actionTypeId"],
            config=dict(body["config"]),
        )
        connector.is_preconfigured = True
        connector.expose_config = body["exposeConfig"]
        connector._plain_secrets = dict(body["secrets"])
        result[connector_id] = connector
    return result


def get_preconfigured(connector_id: str) -> Connector | None:
    return preconfigured_connectors().get(connector_id)


def is_preconfigured(connector_id: str) -> bool:
    return connector_id in get_config()["xpack.actions.preconfigured"]
