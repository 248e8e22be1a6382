"""Access tokens a type mints itself (ServiceNow JWT bearer, Google service accounts), cached encrypted
per connector in `ConnectorToken` like `connectors.oauth` does for client credentials."""

from datetime import UTC, datetime, timedelta

from connectors.models import Connector, ConnectorToken

MARGIN = timedelta(seconds=30)


def cached(connector_id: str) -> str | None:
    token = (
        ConnectorToken.objects.filter(connector_id=connector_id, token_type="access_token")
        .order_by("-expires_at")
        .first()
    )
    if token and token.expires_at - MARGIN > datetime.now(UTC):
        return token.get_token()
    return None


def store(connector_id: str, value: str, expires_at: datetime) -> None:
    if not Connector.objects.filter(pk=connector_id).exists():  # preconfigured connectors are not rows
        return
    token = ConnectorToken(connector_id=connector_id, expires_at=expires_at)
    token.set_token(value)
    token.save()


def drop(connector_id: str) -> None:
    ConnectorToken.objects.filter(connector_id=connector_id).delete()
