"""OAuth 2.0 authorization-code flow for connectors (Kibana's `_start_oauth_flow` / `_oauth_callback`).

A connector type takes part by defining `oauth_authorization_code(config, secrets)`, which returns
`{authorizationUrl, tokenUrl, clientId, clientSecret?, scope?, scopeQueryParam?, redirectUri?,
useBasicAuth?}` for a connector set up for this flow, or None. No built-in type does yet (Kibana's
users are the `@kbn/connector-specs` types: Gmail, Slack v2, ...); the routes are ready for them.

- The state is 256 random bits, handed to the caller once; only its SHA-256 is stored (OAuthState),
  bound to the user who started the flow and to the connector (so to its space), for 10 minutes and
  one use. PKCE (S256) guards the code; the verifier is sealed like secrets.
- The callback checks, in Kibana's order: user, rate limit, state present, state known and
  unexpired, same user, code present, token exchange. Tokens received are stored encrypted as the
  connector's tokens (Kibana's older per-connector `connector_token`; newer Kibana keeps them per
  user) and never returned.
- Companions: cancel a flow (only its starter, only for its connector), disconnect (forget the
  tokens), and each connector's `user_auth_status`. An expired access token is renewed with the
  refresh token when the connector runs (connectors/oauth.py).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from django.core.cache import cache
from django.db import transaction

from connectors import http, registry
from connectors.conf import get_config
from connectors.models import Connector, ConnectorToken, OAuthState

logger = logging.getLogger("connectors.oauth")

CALLBACK_PATH = "/api/actions/connector/_oauth_callback"
CALLBACK_SCRIPT_PATH = "/api/actions/connector/_oauth_callback_script"
STATE_LIFETIME = timedelta(minutes=10)
RATE_WINDOW_SECONDS = 60
MAX_STARTS_PER_WINDOW = 10
MAX_CALLBACKS_PER_WINDOW = 20
REFRESH_TOKEN_LIFETIME = timedelta(days=365)

NOT_AUTHENTICATED = "User should be authenticated to initiate OAuth authorization."
START_RATE_LIMITED = "Too many authorization attempts. Please try again later."
NO_PUBLIC_URL = "Kibana public URL not configured. Please set server.publicBaseUrl in kibana.yml"
NOT_AUTHORIZATION_CODE = "Connector does not use OAuth Authorization Code flow"
MISSING_CONFIGURATION = "Connector missing required OAuth configuration (authorizationUrl, clientId)"
CALLBACK_RATE_LIMITED = "Too many authorization attempts. Please wait before trying again."
MISSING_STATE = "Missing required OAuth state parameter."
INVALID_STATE = "Invalid or expired state parameter. The authorization session may have timed out."
OTHER_USER = "This authorization session was not initiated by you. Please start a new authorization flow."
MISSING_CODE = "Missing required OAuth authorization code"
EXCHANGE_FAILED = "OAuth authorization failed"
CANCEL_NOT_AUTHENTICATED = "User should be authenticated to cancel OAuth authorization."
DISCONNECT_NOT_AUTHENTICATED = "User should be authenticated to disconnect OAuth authorization."
NOT_YOUR_FLOW = (
    "This authorization flow was not initiated by you. Only the user who started the flow can cancel it."
)
CONNECTED, NOT_CONNECTED, NOT_APPLICABLE = "connected", "not_connected", "not_applicable"


class OAuthFlowError(Exception):
    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _rate_limited(kind: str, user_id: int, limit: int) -> bool:
    """A fixed window per user; the counter lives in the cache (shared by workers with Redis)."""
    key = f"oauth-flow:{kind}:{user_id}"
    cache.add(key, 0, RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RATE_WINDOW_SECONDS)
        count = 1
    return count > limit


def flow_settings(connector: Connector) -> dict:
    """The type's authorization-code settings for this connector; OAuthFlowError when it has none."""
    connector_type = registry.get(connector.connector_type_id)
    hook = getattr(connector_type, "oauth_authorization_code", None)
    found = hook(connector.config or {}, connector.get_secrets()) if hook else None
    if not found:
        raise OAuthFlowError(NOT_AUTHORIZATION_CODE)
    if not found.get("authorizationUrl") or not found.get("clientId"):
        raise OAuthFlowError(MISSING_CONFIGURATION)
    return found


def _pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def start_flow(connector: Connector, user, return_url: str | None) -> dict:
    """`{"authorizationUrl", "state"}` for the browser to follow; raises OAuthFlowError."""
    if user is None or not user.is_authenticated:
        raise OAuthFlowError(NOT_AUTHENTICATED, 401)
    if _rate_limited("start", user.pk, MAX_STARTS_PER_WINDOW):
        raise OAuthFlowError(START_RATE_LIMITED, 429)
    base_url = get_config()["server.publicBaseUrl"]
    if not base_url:
        raise OAuthFlowError(NO_PUBLIC_URL)
    if return_url and _origin(return_url) != _origin(base_url):
        raise OAuthFlowError(
            f"returnUrl must be same origin as Kibana. Expected: {_origin(base_url)}, Got: {_origin(return_url)}"
        )
    settings = flow_settings(connector)
    OAuthState.objects.filter(expires_at__lte=datetime.now(UTC)).delete()  # flows nobody finished
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    redirect_uri = settings.get("redirectUri") or base_url + CALLBACK_PATH
    record = OAuthState(
        state_hash=_state_hash(state),
        connector=connector,
        user=user,
        redirect_uri=redirect_uri,
        return_url=return_url or "",
        expires_at=datetime.now(UTC) + STATE_LIFETIME,
    )
    record.set_verifier(verifier)
    record.save(force_insert=True)
    query = {
        "client_id": settings["clientId"],
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": _pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if settings.get("scope"):
        query[settings.get("scopeQueryParam") or "scope"] = settings["scope"]
    url = settings["authorizationUrl"]
    return {"authorizationUrl": f"{url}{'&' if '?' in url else '?'}{urlencode(query)}", "state": state}


@dataclass
class CallbackOutcome:
    """What the callback page (or the redirect back to the return URL) reports."""

    ok: bool
    message: str = ""
    connector_id: str = ""
    return_url: str = ""
    status_code: int = 200


def client_authentication(settings: dict, form: dict) -> dict:
    """The token request's headers; the client authenticates with Basic (Kibana's default) or, with
    `useBasicAuth: false`, in the form."""
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    client_secret = settings.get("clientSecret") or ""
    if settings.get("useBasicAuth", True):
        pair = f"{settings['clientId']}:{client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form["client_id"] = settings["clientId"]
        if client_secret:
            form["client_secret"] = client_secret
    return headers


def _exchange_code(record: OAuthState, settings: dict, code: str) -> dict:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": record.redirect_uri,
        "code_verifier": record.get_verifier(),
    }
    headers = client_authentication(settings, form)
    response = http.send(
        "post", settings["tokenUrl"], settings=get_config(), headers=headers, data=urlencode(form)
    )
    body = response.json_or_none()
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        raise OAuthFlowError(EXCHANGE_FAILED)
    return body


def _store_tokens(connector: Connector, body: dict) -> None:
    now = datetime.now(UTC)
    token_type = str(body.get("token_type") or "bearer")
    header = f"{token_type[:1].upper()}{token_type[1:]} {body['access_token']}"
    expires_in = int(body.get("expires_in") or 3600)
    with transaction.atomic():
        connector.tokens.all().delete()
        access = ConnectorToken(connector=connector, expires_at=now + timedelta(seconds=expires_in))
        access.set_token(header)
        access.save()
        if body.get("refresh_token"):
            refresh_in = body.get("refresh_token_expires_in")
            refresh = ConnectorToken(
                connector=connector,
                token_type="refresh_token",
                expires_at=now
                + (timedelta(seconds=int(refresh_in)) if refresh_in else REFRESH_TOKEN_LIFETIME),
            )
            refresh.set_token(str(body["refresh_token"]))
            refresh.save()


def complete_flow(user, params) -> CallbackOutcome:
    """The provider sent the browser back: check everything, exchange the code, keep the tokens."""
    if _rate_limited("callback", user.pk, MAX_CALLBACKS_PER_WINDOW):
        return CallbackOutcome(False, CALLBACK_RATE_LIMITED, status_code=429)
    state = params.get("state")
    if not state:
        return CallbackOutcome(False, MISSING_STATE, status_code=400)
    record = (
        OAuthState.objects.select_related("connector")
        .filter(state_hash=_state_hash(state), expires_at__gt=datetime.now(UTC))
        .first()
    )
    if record is None:
        return CallbackOutcome(False, INVALID_STATE, status_code=400)
    failed = CallbackOutcome(
        False, connector_id=record.connector_id, return_url=record.return_url, status_code=400
    )
    if record.user_id != user.pk:
        failed.message = OTHER_USER
        return failed
    # From here on the state is spent: one code, one attempt.
    OAuthState.objects.filter(pk=record.pk).delete()
    code = params.get("code")
    if params.get("error") or not code:
        failed.message = MISSING_CODE
        return failed
    try:
        settings = flow_settings(record.connector)
        body = _exchange_code(record, settings, code)
    except Exception as exc:  # any refusal, the provider unreachable, the egress rules: one message
        logger.warning("OAuth token exchange for %s failed: %s", record.connector_id, type(exc).__name__)
        failed.message = EXCHANGE_FAILED
        return failed
    _store_tokens(record.connector, body)
    return CallbackOutcome(True, connector_id=record.connector_id, return_url=record.return_url)


def return_redirect_url(outcome: CallbackOutcome) -> str:
    query = {
        "oauth_authorization": "success" if outcome.ok else "error",
        "connector_id": outcome.connector_id,
    }
    if not outcome.ok:
        query["error"] = outcome.message
    url = outcome.return_url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


# ---- cancel, disconnect, status ---------------------------------------------------------------------


def cancel_flow(connector: Connector, user, state: str) -> None:
    """Kibana's `_oauth_cancel`: forget a flow so a still-open provider tab cannot finish it. An
    unknown or expired state (or one of another connector) is already gone: nothing to do."""
    record = OAuthState.objects.filter(state_hash=_state_hash(state), connector=connector).first()
    if record is None:
        return
    if record.user_id != user.pk:
        raise OAuthFlowError(NOT_YOUR_FLOW, 403)
    record.delete()


def disconnect(connector: Connector) -> None:
    """Kibana's `_oauth_disconnect`: forget the connector's access and refresh tokens."""
    ConnectorToken.objects.filter(connector=connector).delete()
    logger.info("OAuth tokens deleted for connector: %s", connector.pk)


def _takes_part(connector: Connector) -> bool:
    """Whether the connector uses the authorization-code flow (only types with the hook are asked,
    so only their secrets are opened)."""
    if not registry.is_registered(connector.connector_type_id):
        return False
    connector_type = registry.get(connector.connector_type_id)
    if getattr(connector_type, "oauth_authorization_code", None) is None:
        return False
    try:
        flow_settings(connector)
    except OAuthFlowError as exc:
        return exc.message != NOT_AUTHORIZATION_CODE  # set up for the flow, if incompletely
    return True


def auth_status(connectors) -> dict[str, dict[str, str]]:
    """`{id: {"user_auth_status"}}`: `connected` while a token is usable (an unexpired access token,
    or a refresh token to get one), `not_connected` without, `not_applicable` for connectors that
    do not use the flow (preconfigured ones included)."""
    now = datetime.now(UTC)
    flow_ids = [c.pk for c in connectors if not c.is_preconfigured and _takes_part(c)]
    usable = set(
        ConnectorToken.objects.filter(connector_id__in=flow_ids, expires_at__gt=now).values_list(
            "connector_id", flat=True
        )
    )
    status = {}
    for connector in connectors:
        if connector.pk not in flow_ids:
            status[connector.pk] = {"user_auth_status": NOT_APPLICABLE}
        else:
            status[connector.pk] = {
                "user_auth_status": CONNECTED if connector.pk in usable else NOT_CONNECTED
            }
    return status
