"""Routes of the connector OAuth authorization-code flow (connectors/oauth_flow.py):

- `POST /internal/actions/connector/{id}/_start_oauth_flow` → `{authorizationUrl, state}`; needs the
  `all` privilege in the connector's space (the tokens it brings change the connector for everyone);
- `GET /api/actions/connector/_oauth_callback` (also the older `/internal/...` path) → an HTML page,
  or a 302 back to the flow's return URL; needs a logged-in user (the browser's session);
- `GET /api/actions/connector/_oauth_callback_script` → the page's script (CSP `script-src 'self'`);
- `POST /internal/actions/connector/{id}/_oauth_cancel` `{state}` → 204; only the flow's starter
  (403 otherwise); an unknown state is already gone (204);
- `POST /internal/actions/connector/{id}/_oauth_disconnect` → 204; forgets the connector's tokens,
  so it needs `all` like starting a flow (Kibana's are per user and need only `read`);
- `POST /internal/actions/connectors/_me/auth_status` → `{id: {user_auth_status}}`; needs `read`.

The callback paths are registered before `connector/{id}`, so they are never read as connector ids.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.http import HttpResponse, HttpResponseRedirect
from django.utils.html import escape
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.api import openapi as oas
from connectors.api.base import KibanaView, validate_body
from connectors.api.errors import KibanaError, NotFound, Unauthorized
from connectors.api.views import ConnectorOperations
from connectors.models import Connector
from connectors.oauth_flow import (
    CALLBACK_SCRIPT_PATH,
    CANCEL_NOT_AUTHENTICATED,
    DISCONNECT_NOT_AUTHENTICATED,
    CallbackOutcome,
    OAuthFlowError,
    auth_status,
    cancel_flow,
    complete_flow,
    disconnect,
    return_redirect_url,
    start_flow,
)
from connectors.preconfigured import preconfigured_connectors
from connectors.schemas import Object, String

CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'"

CALLBACK_SCRIPT = """(function () {
  var data = document.body.dataset;
  if (data.broadcast) {
    try {
      var channel = new BroadcastChannel('oauth_flow_completed');
      channel.postMessage(JSON.parse(data.broadcast));
      channel.close();
    } catch (e) {}
  }
  if (data.autoClose === 'true') {
    setTimeout(function () {
      window.close();
      var message = document.querySelector('.auto-close-message');
      if (message) { message.hidden = false; }
    }, 3000);
  }
})();
"""


def _return_url_problem(value) -> str | None:
    try:
        parts = urlsplit(value)
    except ValueError:  # `http://[::1`, a host with U+FF03 (`#` once NFKC-normalised): no URI at all
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return "expected URI with scheme [http|https]."
    return None


START_BODY = Object({"returnUrl": String(optional=True, validator=_return_url_problem)})


class StartOAuthFlowView(KibanaView):
    @oas.operation(
        "Start a connector's OAuth authorization-code flow",
        request={"type": "object", "properties": {"returnUrl": {"type": "string", "format": "uri"}}},
        response={
            "type": "object",
            "properties": {"authorizationUrl": {"type": "string"}, "state": {"type": "string"}},
        },
        error_codes=(400, 403, 404, 429),
        xsrf=True,
    )
    def post(self, request, connector_id):
        body = validate_body(START_BODY, request.data if request.data else {})
        # Only stored connectors have tokens to bring: a preconfigured id is not found.
        connector = self.connector(connector_id, "update", preconfigured=False)
        try:
            answer = start_flow(connector, request.user, body.get("returnUrl"))
        except OAuthFlowError as exc:
            raise KibanaError(exc.message, exc.status_code) from None
        return HttpResponse(json.dumps(answer), content_type="application/json")


def _page(outcome: CallbackOutcome, *, title: str, heading: str, status: int) -> HttpResponse:
    broadcast = {"connectorId": outcome.connector_id, "status": "success" if outcome.ok else "error"}
    if not outcome.ok and outcome.connector_id:
        broadcast["error"] = outcome.message
    attributes = f' data-auto-close="{"true" if outcome.ok else "false"}"'
    if outcome.connector_id:
        attributes += f" data-broadcast='{escape(json.dumps(broadcast))}'"
    message = "You can close this window." if outcome.ok else outcome.message
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        f"<body{attributes}>\n<h1>{escape(heading)}</h1>\n<p>{escape(message)}</p>\n"
        '<p class="auto-close-message" hidden>This window can be closed now.</p>\n'
        f'<script src="{CALLBACK_SCRIPT_PATH}"></script>\n</body></html>\n'
    )
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response


class OAuthCallbackView(APIView):
    """Answers with pages, not JSON: the browser lands here."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Where the OAuth provider sends the browser back (an HTML page, or a 302 to the return URL)",
        parameters=[OpenApiParameter(n, str) for n in ("code", "state", "error", "error_description")],
        responses={(200, "text/html"): OpenApiTypes.STR, 302: None, (401, "text/html"): OpenApiTypes.STR},
    )
    def get(self, request, space_id=None):
        user = request.user
        if user is None or not user.is_authenticated:
            return _page(
                CallbackOutcome(False, "You must be logged in to complete the OAuth authorization."),
                title="Authentication Required",
                heading="Authentication Required",
                status=401,
            )
        outcome = complete_flow(user, request.query_params)
        if outcome.return_url:
            return HttpResponseRedirect(return_redirect_url(outcome))
        if outcome.ok:
            return _page(
                outcome,
                title="OAuth Authorization Successful",
                heading="Authorization Successful",
                status=200,
            )
        # A failure is still a page the browser shows (200), as Kibana's; only "not logged in" is a 401.
        return _page(outcome, title="OAuth Authorization Failed", heading="Authorization Failed", status=200)


class OAuthCallbackScriptView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="The OAuth callback page's script",
        responses={(200, "application/javascript"): OpenApiTypes.STR},
    )
    def get(self, request, space_id=None):
        response = HttpResponse(CALLBACK_SCRIPT, content_type="application/javascript")
        response["Cache-Control"] = "public, max-age=86400"
        return response


CANCEL_BODY = Object({"state": String(max_length=256)})


def _signed_in(request, message: str) -> None:
    if request.user is None or not request.user.is_authenticated:
        raise Unauthorized(message)


class CancelOAuthFlowView(ConnectorOperations):
    @oas.operation(
        "Cancel an OAuth authorization flow in progress",
        request={"type": "object", "properties": {"state": {"type": "string", "maxLength": 256}}},
        status=204,
        error_codes=(400, 403, 404),
        xsrf=True,
    )
    def post(self, request, connector_id):
        body = validate_body(CANCEL_BODY, request.data)
        _signed_in(request, CANCEL_NOT_AUTHENTICATED)
        connector = self.get_connector(connector_id)
        if not connector.is_preconfigured:
            try:
                cancel_flow(connector, request.user, body["state"])
            except OAuthFlowError as exc:
                raise KibanaError(exc.message, exc.status_code) from None
        return HttpResponse(status=204)


class DisconnectOAuthView(ConnectorOperations):
    @oas.operation(
        "Forget a connector's OAuth tokens",
        status=204,
        error_codes=(403, 404),
        xsrf=True,
    )
    def post(self, request, connector_id):
        _signed_in(request, DISCONNECT_NOT_AUTHENTICATED)
        connector = self.connector(
            connector_id, "update", system_error=NotFound(f"Connector {connector_id} not found")
        )
        if not connector.is_preconfigured:
            disconnect(connector)
        return HttpResponse(status=204)


class AuthStatusView(ConnectorOperations):
    @oas.operation(
        "Whether the space's connectors are connected through OAuth",
        response={
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "user_auth_status": {
                        "type": "string",
                        "enum": ["connected", "not_connected", "not_applicable"],
                    }
                },
            },
        },
        error_codes=(403,),
        xsrf=True,
    )
    def post(self, request):
        self.require("get")
        rows = list(Connector.objects.filter(space_id=self.space_id))
        return Response(auth_status([*preconfigured_connectors().values(), *rows]))
