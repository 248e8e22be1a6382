"""Access tokens, cached encrypted per connector (Kibana's `connector_token`): OAuth 2.0
client-credentials tokens fetched here, the tokens a type mints itself (ServiceNow's JWT bearer
grant, Google service accounts) through `cached_token` / `store_token` / `drop_tokens`, and the
authorization-code flow's tokens (connectors/oauth_flow.py), renewed here with the refresh token."""

import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.db import transaction

from connectors import http
from connectors.exceptions import ConnectorError
from connectors.models import Connector, ConnectorToken
from connectors.redaction import clip, note_minted

logger = logging.getLogger("connectors.oauth")

NOT_CONNECTED = "Connector is not authorized: complete its OAuth authorization (connect it) before running it"
RECONNECT = (
    "The connector's OAuth authorization expired or was revoked and could not be renewed: "
    "reconnect the connector (start its OAuth authorization again)"
)

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
        value = token.get_token()
        note_minted(value)  # a service that echoes it must not put it in the run's messages
        return value
    return None


def store_token(connector_id: str, value: str, expires_at: datetime) -> None:
    note_minted(value)
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
            service_message=json.dumps(body, sort_keys=True)
            if body is not None
            else clip(response.text, 500),
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


def _refresh_token(connector_id: str) -> ConnectorToken | None:
    return (
        ConnectorToken.objects.select_for_update()
        .filter(connector_id=connector_id, token_type="refresh_token", expires_at__gt=datetime.now(UTC))
        .order_by("-expires_at")
        .first()
    )


def authorization_code_header(*, connector_id: str, flow: dict, settings) -> str:
    """The `Authorization` value for a connector connected through the authorization-code flow:
    the stored access token while it is valid, else a new one from the stored refresh token (kept
    encrypted; a rotated refresh token replaces it). `flow` is the type's
    `oauth_authorization_code()` settings. A refused refresh forgets the tokens and is a final,
    user-facing error asking for a reconnection; an unreachable or failing (5xx) token endpoint may
    recover, so that one is retried and the refresh token is kept."""
    from connectors.oauth_flow import client_authentication

    cached = cached_token(connector_id)
    if cached:
        return cached
    with transaction.atomic():
        refresh = _refresh_token(connector_id)  # locked: one worker refreshes, the others wait
        cached = cached_token(connector_id)  # ... and then use what it got
        if cached:
            return cached
        if refresh is None:
            raise ConnectorError(NOT_CONNECTED, retry=False, error_source="user")
        form = {"grant_type": "refresh_token", "refresh_token": refresh.get_token()}
        headers = client_authentication(flow, form)
        try:
            response = http.send(
                "post", flow["tokenUrl"], settings=settings, headers=headers, data=urlencode(form)
            )
        except ConnectorError as exc:
            raise ConnectorError(
                "error refreshing the OAuth access token",
                service_message=exc.service_message or exc.message,
                retry=exc.retry,
                error_source=exc.error_source,
            ) from None
        body = response.json_or_none()
        if response.status_code >= 500 or response.status_code == 429:
            raise ConnectorError(
                "error refreshing the OAuth access token",
                service_message=f"token endpoint answered {response.status_code}",
                status_code=response.status_code,
                retry=http.retry_for_status(response),
            )
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return _keep_renewed(connector_id, refresh, body)
    # invalid_grant and friends: the authorization is gone for good. Forgotten after the
    # transaction, which raising inside it would roll back.
    logger.warning("OAuth refresh for connector %s refused (%s)", connector_id, response.status_code)
    drop_tokens(connector_id)
    raise ConnectorError(RECONNECT, status_code=response.status_code, retry=False, error_source="user")


def _keep_renewed(connector_id: str, refresh: ConnectorToken, body: dict) -> str:
    token_type = str(body.get("token_type") or "bearer")
    header = f"{token_type[:1].upper()}{token_type[1:]} {body['access_token']}"
    expires_in = int(body.get("expires_in") or 3600)
    ConnectorToken.objects.filter(connector_id=connector_id, token_type="access_token").delete()
    store_token(connector_id, header, datetime.now(UTC) + timedelta(seconds=expires_in))
    if body.get("refresh_token"):  # a rotated refresh token replaces the spent one
        refresh.set_token(str(body["refresh_token"]))
        if body.get("refresh_token_expires_in"):
            refresh.expires_at = datetime.now(UTC) + timedelta(seconds=int(body["refresh_token_expires_in"]))
        refresh.save()
    return header
