"""Access tokens, cached encrypted per connector (Kibana's `connector_token`): OAuth 2.0
client-credentials tokens fetched here, and the tokens a type mints itself (ServiceNow's JWT bearer
grant, Google service accounts) through `cached_token` / `store_token` / `drop_tokens`."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from connectors import http
from connectors.exceptions import ConnectorError
from connectors.models import Connector, ConnectorToken

# Refresh a little early so a token never expires in flight.
EXPIRY_MARGIN = timedelta(seconds=30)


def cached_token(connector_id: str) -> str | None:
    """The connector's access token (an `Authorization` value) while it is valid for a while yet."""
    token = (
        ConnectorToken.objects.filter(connector_id=connector_id, token_type="access_token")
        .order_by("-expires_at")
        .first()
    )
    if token and token.expires_at - EXPIRY_MARGIN > datetime.now(UTC):
        return token.get_token()
    return None


def store_token(connector_id: str, value: str, expires_at: datetime) -> None:
    if not Connector.objects.filter(pk=connector_id).exists():  # preconfigured connectors are not rows
        return
    token = ConnectorToken(connector_id=connector_id, expires_at=expires_at)
    token.set_token(value)
    token.save()


def drop_tokens(connector_id: str) -> None:
    """Forget a connector's tokens: after a 4xx from the service, and when the connector changes."""
    ConnectorToken.objects.filter(connector_id=connector_id).delete()


def request_client_credentials_token(
    *, token_url: str, client_id: str, client_secret: str, scope: str | None, extra_fields: dict, settings
) -> tuple[str, int]:
    form = {"client_id": client_id, "client_secret": client_secret}
    if scope:
        form["scope"] = scope
    form["grant_type"] = "client_credentials"
    form.update({key: str(value) for key, value in (extra_fields or {}).items()})
    response = http.send(
        "post",
        token_url,
        settings=settings,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        data=urlencode(form),
    )
    body = response.json_or_none()
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise ConnectorError(
            "error requesting OAuth token",
            service_message=json.dumps(body, sort_keys=True) if body is not None else response.text[:500],
            status_code=response.status_code,
            retry=http.retry_for_status(response),  # a 5xx token endpoint may recover; a 4xx will not
        )
    header = f"{body.get('token_type', 'Bearer')} {body['access_token']}"
    return header, int(body.get("expires_in") or 3600)


def client_credentials_header(
    *,
    connector_id: str,
    token_url: str,
    client_id: str,
    client_secret: str,
    scope: str | None,
    extra_fields: dict,
    settings,
) -> str:
    """The `Authorization` value to send: a cached token, or a fresh one (then cached)."""
    cached = cached_token(connector_id)
    if cached:
        return cached
    header, expires_in = request_client_credentials_token(
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        extra_fields=extra_fields,
        settings=settings,
    )
    store_token(connector_id, header, datetime.now(UTC) + timedelta(seconds=expires_in))
    return header
