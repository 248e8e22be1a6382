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


# Kibana's built-in preconfigured Index connector (`getAlertHistoryEsIndex`), added when
# `xpack.actions.preconfiguredAlertHistoryEsIndex` is true.
ALERT_HISTORY_CONNECTOR_ID = "preconfigured-alert-history-es-index"
ALERT_HISTORY_CONNECTOR = {
    "name": "Alert history Elasticsearch index",
    "actionTypeId": ".index",
    "config": {"index": "kibana-alert-history-default"},
    "secrets": {},
    "exposeConfig": False,
}


def _declared(connector_id: str | None = None):
    """The declared connectors (with the alert-history one when enabled); with an id, that one's
    body or None."""
    config = get_config()
    declared = config["xpack.actions.preconfigured"]
    if connector_id is not None:
        body = declared.get(connector_id)
        if body is None and connector_id == ALERT_HISTORY_CONNECTOR_ID:
            return (
                ALERT_HISTORY_CONNECTOR if config["xpack.actions.preconfiguredAlertHistoryEsIndex"] else None
            )
        return body
    if config["xpack.actions.preconfiguredAlertHistoryEsIndex"]:
        return {ALERT_HISTORY_CONNECTOR_ID: ALERT_HISTORY_CONNECTOR, **declared}
    return declared


def preconfigured_connectors() -> dict[str, Connector]:
    return {connector_id: _build(connector_id, body) for connector_id, body in _declared().items()}


def get_preconfigured(connector_id: str) -> Connector | None:
    # Builds only the one asked for: this runs on every connector lookup.
    body = _declared(connector_id)
    return _build(connector_id, body) if body is not None else None


def is_preconfigured(connector_id: str) -> bool:
    return _declared(connector_id) is not None
