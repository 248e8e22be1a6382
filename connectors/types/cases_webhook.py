"""`.cases-webhook`: "Webhook - Case Management": create, get, update and comment on cases in any REST
system, each request described in config with Mustache-templated URLs and JSON bodies."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

import chevron
from chevron.tokenizer import tokenize

from connectors import egress, http
from connectors.base import ExecutionContext
from connectors.exceptions import EgressDenied
from connectors.remote import RemoteCallFailed, call
from connectors.schemas import Array, Boolean, Enum, Object, Record, String
from connectors.types.case_management import (
    UnionSubActionType,
    action_error,
    comments_schema,
    now_iso,
    push_comments,
    sub_action_union,
)
from connectors.types.sub_action_framework import normalise_url
from connectors.types.webhook import (
    AUTH_BASIC,
    AUTH_LABELS,
    AUTH_OAUTH2,
    AUTH_SSL,
    CERT_LABELS,
    METHOD_LABELS,
    VERIFICATION_LABELS,
    WITH_AUTH,
    WITH_SSL,
    WebhookConnector,
    basic_and_certificate_secrets,
)

NAME = "Webhook - Case Management"
URL_FIELDS = (
    "createIncidentUrl",
    "createCommentUrl",
    "viewIncidentUrl",
    "getIncidentUrl",
    "updateIncidentUrl",
)
INVALID_AUTH = "must specify a secrets configuration"


def render(template: str, view: dict) -> str:
    """Mustache without any escaping (Kibana's renderMustacheStringNoEscape)."""
    tokens = [("no escape", key) if tag == "variable" else (tag, key) for tag, key in tokenize(template)]
    return chevron.render(tokens, view)


def js_string(value: Any) -> str:
    """JavaScript's `${value}`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    return str(value)


_MISSING = object()


def lodash_get(data: Any, path: str) -> Any:
    """lodash `get(data, 'a.b[0].c')`; `_MISSING` when any step is absent."""
    current = data
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def stringify_case(**values: Any) -> dict:
    return {"case": {key: json.dumps(value, separators=(",", ":")) for key, value in values.items()}}


INCIDENT = Object(
    {
        "title": String(label="Summary"),
        "description": String(nullable=True, default=None, label="Description", widget="textarea"),
        "externalId": String(nullable=True, default=None, label="External case id (update)"),
        "id": String(nullable=True, default=None, label="Case ID"),
        "severity": String(nullable=True, default=None, label="Severity"),
        "status": String(nullable=True, default=None, label="Status"),
        "tags": Array(String(), nullable=True, default=None, label="Tags"),
    }
)
PUSH_PARAMS = Object({"incident": INCIDENT, "comments": comments_schema()})


class CasesWebhookConnector(UnionSubActionType):
    type_id = ".cases-webhook"
    name = "Webhook - Case Management"
    description = "Send a request to a Case Management web service."
    icon = "logoWebhook"
    minimum_license = "gold"
    supported_feature_ids = ("cases",)
    config_schema = Object(
        {
            "createIncidentUrl": String(label="Create case URL"),
            "createIncidentMethod": Enum(
                ("post", "put"), default="post", label="Create case method", choice_labels=METHOD_LABELS
            ),
            "createIncidentJson": String(label="Create case object (JSON template)", widget="code"),
            "createIncidentResponseKey": String(label="Create case response case key"),
            "getIncidentUrl": String(label="Get case URL"),
            "getIncidentMethod": Enum(
                ("get", "post"), default="get", label="Get case method", choice_labels=METHOD_LABELS
            ),
            "getIncidentJson": String(nullable=True, default=None, label="Get case object", widget="code"),
            "getIncidentResponseExternalTitleKey": String(label="Get case response external title key"),
            "viewIncidentUrl": String(label="External case view URL"),
            "updateIncidentUrl": String(label="Update case URL"),
            "updateIncidentMethod": Enum(
                ("post", "patch", "put"),
                default="put",
                label="Update case method",
                choice_labels=METHOD_LABELS,
            ),
            "updateIncidentJson": String(label="Update case object (JSON template)", widget="code"),
            "createCommentUrl": String(nullable=True, default=None, label="Create comment URL"),
            "createCommentMethod": Enum(
                ("post", "put", "patch"),
                nullable=True,
                default="put",
                label="Create comment method",
                choice_labels=METHOD_LABELS,
            ),
            "createCommentJson": String(
                nullable=True, default=None, label="Create comment object", widget="code"
            ),
            "headers": Record(String(), nullable=True, default=None, label="HTTP headers"),
            "hasAuth": Boolean(default=True, label="Require authentication"),
            "authType": Enum(
                (AUTH_BASIC, AUTH_SSL, AUTH_OAUTH2),
                nullable=True,
                optional=True,  # Kibana: maybe(..., {defaultValue: basic}); absent means basic
                default=AUTH_BASIC,
                label="Authentication",
                choice_labels=AUTH_LABELS,
                shown_when=WITH_AUTH,
            ),
            "certType": Enum(
                ("ssl-crt-key", "ssl-pfx"),
                nullable=True,
                default=None,
                label="Certificate type",
                choice_labels=CERT_LABELS,
                shown_when=WITH_SSL,
            ),
            "ca": String(nullable=True, default=None, label="CA certificate", widget="file"),
            "verificationMode": Enum(
                ("none", "certificate", "full"),
                nullable=True,
                default=None,
                label="Verification mode",
                choice_labels=VERIFICATION_LABELS,
            ),
        }
    )
    secrets_schema = Object(
        {
            **basic_and_certificate_secrets(),
            "secretHeaders": Record(
                String(), nullable=True, default=None, secret=True, label="Secret headers"
            ),
        }
    )
    params_schema = sub_action_union({"pushToService": PUSH_PARAMS})
    test_params_schema = Object(
        {"subAction": String(default="pushToService", widget="hidden"), "subActionParams": PUSH_PARAMS}
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too
    handlers = {"pushToService": "push_to_service"}

    def check_config(self, config, settings):
        for field in URL_FIELDS:
            url = config.get(field)
            if not url:
                continue
            parts = urlsplit(url)
            if (
                not parts.scheme or not parts.netloc
            ):  # what `new URL()` rejects; the protocol is checked at run time
                return f"error configuring cases webhook action: unable to parse url: TypeError: Invalid URL: {url}"
            try:
                egress.ensure_uri_allowed(url, settings)
            except EgressDenied as exc:
                return f"error configuring cases webhook action: {exc.message}"
        if config.get("authType") == AUTH_OAUTH2:
            return "error configuring cases webhook action: OAuth 2.0 client credentials are not supported"
        return None

    def check_connector(self, config, secrets):
        if config.get("hasAuth") and not any(
            secrets.get(k) for k in ("user", "password", "crt", "key", "pfx")
        ):
            return INVALID_AUTH
        return None

    # ---- plumbing -----------------------------------------------------------------------------

    def _url(self, ctx: ExecutionContext, template: str, view: dict, name: str) -> str:
        """Kibana's validateAndNormalizeUrl: `Invalid <name>: Error: <why>`."""
        url = render(template, view)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a bad port
            problem = None
            if not parts.scheme or not parts.netloc:
                problem = "Invalid URL"
            elif parts.scheme not in ("http", "https"):
                problem = "Invalid protocol"
            elif not parts.hostname:
                problem = "URL must contain hostname"
        except ValueError:
            problem = "Invalid URL"
        if problem is None:
            try:
                egress.ensure_uri_allowed(url, ctx.settings)
            except EgressDenied as exc:
                problem = exc.message
        if problem is not None:
            raise RemoteCallFailed(f"Invalid {name}: Error: {problem}", retry=False)
        return normalise_url(url)

    @staticmethod
    def _json(template: str, view: dict, name: str) -> str:
        body = render(template, view)
        try:
            json.loads(body)
        except ValueError:
            raise RemoteCallFailed(f"JSON Error: {name} must be valid JSON") from None
        return body

    def _send(self, ctx: ExecutionContext, method: str, url: str, body: str | None, required=()) -> Any:
        config, secrets = ctx.config, ctx.secrets
        headers = {"Content-Type": "application/json"}
        headers.update(config.get("headers") or {})
        headers.update(secrets.get("secretHeaders") or {})
        auth = None
        auth_type = config.get("authType") if config.get("hasAuth", True) else None
        user_auth_header = any(name.lower() == "authorization" for name in headers)
        if config.get("hasAuth", True) and auth_type in (AUTH_BASIC, None) and secrets.get("user"):
            auth = None if user_auth_header else (secrets["user"], secrets.get("password") or "")
        data = body.encode() if body is not None else None
        with WebhookConnector()._tls(config, secrets, auth_type) as tls:
            response = call(ctx, method, url, data=data, headers=headers, auth=auth, tls=tls)
        return self._validate(response, method, url, list(required))

    @staticmethod
    def _validate(response: http.Response, method: str, url: str, required: list[str]) -> Any:
        """Kibana's throwDescriptiveErrorIfResponseIsNotValid (stricter than Jira's)."""
        content_type = response.header("content-type")
        data = response.json_or_none() if response.content else None
        if (not content_type or response.status_code == 204) and not response.content and not required:
            return data
        if not content_type:
            raise RemoteCallFailed(
                f"Missing content type header in {method} {url}. Supported content types: application/json"
            )
        if "application/json" not in content_type:
            raise RemoteCallFailed(
                f"Unsupported content type: {content_type} in {method} {url}. Supported content types: application/json"
            )
        if response.content and not isinstance(data, dict | list):
            raise RemoteCallFailed("Response is not a valid JSON")
        missing = [key for key in required if lodash_get(data, key) is _MISSING]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise RemoteCallFailed(f"Response is missing the expected field{plural}: {', '.join(missing)}")
        return data

    @staticmethod
    def _fail(exc: RemoteCallFailed, what: str) -> RemoteCallFailed:
        """Kibana's createServiceError: `[Action][...]: <what>. Error: <msg>. <response JSON> Reason: <statusText>`.
        Still a RemoteCallFailed (without a response), so a failed inner call nests as Kibana's does."""
        server = ""
        status_text = ""
        if exc.response is not None:
            status_text = exc.response.reason
            if exc.response.content:
                body = exc.response.json_or_none()
                server = json.dumps(body if body is not None else exc.response.text, separators=(",", ":"))
        reason = f"Reason: {status_text}" if status_text else ""
        failure = RemoteCallFailed(f"[Action][{NAME}]: {what}. Error: {exc.message}. {server} {reason}")
        failure.status = exc.status_code if exc.status_code is not None else getattr(exc, "status", None)
        failure.refused = exc.refused
        return failure

    # ---- the service --------------------------------------------------------------------------

    def get_incident(self, ctx: ExecutionContext, incident_id: str) -> dict:
        config = ctx.config
        try:
            url = self._url(
                ctx,
                config["getIncidentUrl"],
                {"external": {"system": {"id": quote(incident_id, safe="")}}},
                "Get case URL",
            )
            body = None
            if config.get("getIncidentMethod") == "post" and config.get("getIncidentJson"):
                body = self._json(
                    config["getIncidentJson"],
                    {"external": {"system": {"id": json.dumps(incident_id)}}},
                    "Get case JSON body",
                )
            data = self._send(
                ctx,
                config.get("getIncidentMethod") or "get",
                url,
                body,
                [config["getIncidentResponseExternalTitleKey"]],
            )
        except RemoteCallFailed as exc:
            raise self._fail(exc, f"Unable to get case with id {incident_id}") from None
        return {
            "id": incident_id,
            "title": js_string(lodash_get(data, config["getIncidentResponseExternalTitleKey"])),
        }

    def _view_url(self, ctx: ExecutionContext, incident_id: str, title: str) -> str:
        view = {"external": {"system": {"id": quote(incident_id, safe=""), "title": quote(title, safe="")}}}
        return self._url(ctx, ctx.config["viewIncidentUrl"], view, "View case URL")

    @staticmethod
    def _case_view(incident: dict) -> dict:
        return stringify_case(
            title=incident["title"],
            description=incident.get("description") or "",
            id=incident.get("id") or "",
            severity=incident.get("severity") or "",
            status=incident.get("status") or "",
            tags=incident.get("tags") or [],
        )

    def create_incident(self, ctx: ExecutionContext, incident: dict) -> dict:
        config = ctx.config
        try:
            url = self._url(ctx, config["createIncidentUrl"], {}, "Create case URL")
            body = self._json(
                config["createIncidentJson"], self._case_view(incident), "Create case JSON body"
            )
            key = config["createIncidentResponseKey"]
            data = self._send(ctx, config.get("createIncidentMethod") or "post", url, body, [key])
            external_id = js_string(lodash_get(data, key))
            created = self.get_incident(ctx, external_id)
            view_url = self._view_url(ctx, external_id, created["title"])
        except RemoteCallFailed as exc:
            raise self._fail(exc, "Unable to create case") from None
        return {"id": external_id, "title": created["title"], "url": view_url, "pushedDate": now_iso()}

    def update_incident(self, ctx: ExecutionContext, incident_id: str, incident: dict) -> dict:
        config = ctx.config
        try:
            url = self._url(
                ctx,
                config["updateIncidentUrl"],
                {"external": {"system": {"id": quote(incident_id, safe="")}}},
                "Update case URL",
            )
            view = {**self._case_view(incident), "external": {"system": {"id": json.dumps(incident_id)}}}
            body = self._json(config["updateIncidentJson"], view, "Update case JSON body")
            self._send(ctx, config.get("updateIncidentMethod") or "put", url, body)
            updated = self.get_incident(ctx, incident_id)
            view_url = self._view_url(ctx, incident_id, updated["title"])
        except RemoteCallFailed as exc:
            raise self._fail(exc, f"Unable to update case with id {incident_id}") from None
        return {"id": incident_id, "title": updated["title"], "url": view_url, "pushedDate": now_iso()}

    def create_comment(self, ctx: ExecutionContext, incident_id: str, comment: dict) -> dict:
        config = ctx.config
        try:
            url = self._url(
                ctx,
                config["createCommentUrl"],
                {"external": {"system": {"id": quote(incident_id, safe="")}}},
                "Create comment URL",
            )
            view = {
                **stringify_case(comment=comment["comment"]),
                "external": {"system": {"id": json.dumps(incident_id)}},
            }
            body = self._json(config["createCommentJson"], view, "Create comment JSON body")
            self._send(ctx, config["createCommentMethod"], url, body)
        except RemoteCallFailed as exc:
            raise self._fail(exc, f"Unable to create comment at case with id {incident_id}") from None
        return {"commentId": comment["commentId"]}

    def push_to_service(self, ctx, params):
        try:
            return self._push(ctx, params)
        except RemoteCallFailed as exc:
            status = getattr(exc, "status", None)
            raise action_error(
                NAME, exc.message.removeprefix(f"[Action][{NAME}]: "), status_code=status, cause=exc
            ) from None

    def _push(self, ctx, params):
        incident = dict(params["incident"])
        external_id = incident.pop("externalId", None)
        if external_id is not None:
            result = self.update_incident(ctx, external_id, incident)
        else:
            result = self.create_incident(ctx, incident)
        config = ctx.config
        if (
            config.get("createCommentUrl")
            and config.get("createCommentJson")
            and config.get("createCommentMethod")
        ):
            comments = push_comments(
                params.get("comments"),
                lambda c: {**self.create_comment(ctx, result["id"], c), "pushedDate": result["pushedDate"]},
            )
            if comments is not None:
                result["comments"] = comments
        return result
