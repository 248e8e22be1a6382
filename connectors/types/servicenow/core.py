"""The ServiceNow client shared by ITSM, SecOps and ITOM: auth (basic or OAuth JWT bearer), the
Table and Import Set APIs, choices and fields, and Kibana's error wording."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization

from connectors import http, oauth
from connectors.base import ExecutionContext
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.remote import RemoteCallFailed, call
from connectors.schemas import Boolean, Object, String
from connectors.types.case_management import action_error, iso
from connectors.types.url_checks import check_connector_url

NAME = "ServiceNow"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Product:
    """Kibana's `snExternalServiceConfig` entry for one ServiceNow product."""

    table: str
    import_set_table: str = ""
    app_scope: str = ""
    use_import_api: bool = False
    comment_field: str = "work_notes"


OAUTH = {"isOAuth": True}
BASIC = {"isOAuth": False}


def config_schema(with_table_api: bool = True) -> Object:
    fields = {
        "apiUrl": String(label="ServiceNow instance URL"),
        "isOAuth": Boolean(default=False, label="Use OAuth authentication"),
        # (shown_when: the form asks for OAuth's fields or the username and password, as Kibana's)
        "userIdentifierValue": String(nullable=True, default=None, label="User identifier", shown_when=OAUTH),
        "clientId": String(nullable=True, default=None, label="Client ID", shown_when=OAUTH),
        "jwtKeyId": String(nullable=True, default=None, label="JWT verifier key ID", shown_when=OAUTH),
    }
    if with_table_api:
        fields["usesTableApi"] = Boolean(default=True, label="Use the Table API (deprecated)")
    return Object(fields)


SECRETS_SCHEMA = Object(
    {
        "username": String(nullable=True, default=None, label="Username", shown_when=BASIC),
        "password": String(nullable=True, default=None, secret=True, label="Password", shown_when=BASIC),
        "clientSecret": String(
            nullable=True, default=None, secret=True, label="Client secret", shown_when=OAUTH
        ),
        "privateKey": String(
            nullable=True, default=None, secret=True, label="Private key (PEM)", shown_when=OAUTH
        ),
        "privateKeyPassword": String(
            nullable=True, default=None, secret=True, label="Private key password", shown_when=OAUTH
        ),
    }
)
OAUTH_FIELDS = ("userIdentifierValue", "clientId", "jwtKeyId")


def check_config(config: dict, settings) -> str | None:
    problem = check_connector_url(config["apiUrl"], settings)
    if problem:
        return problem
    for field in OAUTH_FIELDS:
        if config.get("isOAuth") and config.get(field) is None:
            return f"{field} must be provided when isOAuth = true"
        if not config.get("isOAuth") and config.get(field) is not None:
            return f"{field} should not be provided with isOAuth = false"
    return None


def check_secrets(secrets: dict) -> str | None:
    if not any(secrets.get(k) for k in ("username", "password", "clientSecret", "privateKey")):
        return "Either basic auth or OAuth credentials must be specified"
    if (secrets.get("username") or secrets.get("password")) and not (
        secrets.get("username") and secrets.get("password")
    ):
        return "username and password must both be specified"
    if (secrets.get("clientSecret") or secrets.get("privateKey")) and not (
        secrets.get("clientSecret") and secrets.get("privateKey")
    ):
        return "clientSecret and privateKey must both be specified"
    return None


def check_connector(config: dict, secrets: dict) -> str | None:
    if config.get("isOAuth"):
        if not secrets.get("clientSecret") or not secrets.get("privateKey"):
            return "clientSecret and privateKey must be provided when isOAuth = true"
        if secrets.get("username") or secrets.get("password"):
            return "username and password should not be provided with isOAuth = true"
    else:
        if not secrets.get("username") or not secrets.get("password"):
            return "username and password must be provided when isOAuth = false"
        if secrets.get("clientSecret") or secrets.get("privateKey"):
            return "clientSecret and privateKey should not be provided with isOAuth = false"
    return None


# ---- OAuth JWT bearer ------------------------------------------------------------------------------


def jwt_assertion(config: dict, secrets: dict, now: int | None = None) -> str:
    """RS256 JWT: kid = jwtKeyId; iss = aud = clientId; sub = userIdentifierValue; exp = iat + 1h."""
    password = secrets.get("privateKeyPassword")
    key = serialization.load_pem_private_key(
        secrets["privateKey"].encode(), password=password.encode() if password else None
    )
    issued = int(now if now is not None else time.time())
    claims = {
        "aud": config["clientId"],
        "exp": issued + 3600,
        "iat": issued,
        "iss": config["clientId"],
        "sub": config["userIdentifierValue"],
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": config["jwtKeyId"]})


def access_token(ctx: ExecutionContext) -> str:
    """`<token_type> <access_token>` from `<apiUrl>/oauth_token.do`, cached per connector."""
    cached = oauth.cached_token(ctx.connector_id)
    if cached:
        return cached
    failure = RemoteCallFailed(f"Unable to retrieve access token for connectorId: {ctx.connector_id}")
    try:
        assertion = jwt_assertion(ctx.config, ctx.secrets)
    except (ValueError, TypeError, jwt.PyJWTError):
        ctx.logger.warning("ServiceNow connector %s: unable to create the JWT assertion", ctx.connector_id)
        raise failure from None
    form = {
        "assertion": assertion,
        "client_id": ctx.config["clientId"],
        "client_secret": ctx.secrets["clientSecret"],
        "grant_type": JWT_GRANT,
    }
    try:
        response = http.send(
            "post",
            f"{base_url(ctx)}/oauth_token.do",
            settings=ctx.settings,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
            data=urlencode(form),
        )
    except EgressDenied as exc:
        # Refused before it left: say why (run result and log), and never ask for a retry.
        ctx.logger.warning(
            "ServiceNow connector %s: token request refused: %s", ctx.connector_id, exc.message
        )
        failure.refused, failure.retry = exc.message, False
        raise failure from None
    except ConnectorError as exc:
        ctx.logger.warning(
            "ServiceNow connector %s: token request failed: %s",
            ctx.connector_id,
            exc.service_message or exc.message,
        )
        raise failure from None
    body = response.json_or_none()
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        ctx.logger.warning(
            "ServiceNow connector %s: token request answered %s", ctx.connector_id, response.status_code
        )
        raise failure
    header = f"{body.get('token_type', 'Bearer')} {body['access_token']}"
    expires_in = int(body.get("expires_in") or 3600)
    oauth.store_token(ctx.connector_id, header, datetime.now(UTC) + timedelta(seconds=expires_in))
    return header


# ---- the client -------------------------------------------------------------------------------------


def base_url(ctx: ExecutionContext) -> str:
    url = ctx.config["apiUrl"]
    return url[:-1] if url.endswith("/") else url


def reason(exc: RemoteCallFailed) -> str:
    """ServiceNow's `error.message[: detail]`; a plain error (no response body) has no reason,
    unless the egress policy refused the call: then that is the reason."""
    if exc.refused:
        return exc.refused
    body = exc.body() if exc.response is not None and exc.response.content else None
    if body is None:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not message:
        return "unknown: no error in error response"
    detail = error.get("detail")
    return f"{message}: {detail}" if detail else message


def endpoint_kind(url: str) -> str:
    path = url.split("?", 1)[0]
    if "/api/now/import/" in path:
        return "import_set"
    if path.endswith("/elastic_api/health"):
        return "health"
    if "/api/now/table/" in path or "/api/now/v2/table/" in path:
        return "table"
    return "other"


class ServiceNowClient:
    """One product's calls. Every method raises `[Action][ServiceNow]: <what>. Error: ... Reason: ...`."""

    def __init__(self, ctx: ExecutionContext, product: Product):
        self.ctx = ctx
        self.product = product
        self.url = base_url(ctx)
        self.use_table_api = not product.use_import_api or ctx.config.get("usesTableApi", True) is not False

    # plumbing

    def send(self, method: str, url: str, *, json: Any = None) -> Any:
        self.context = {"method": method, "endpoint": endpoint_kind(url), "status": None}
        headers = {"Content-Type": "application/json"} if json is not None else {}
        auth = None
        if self.ctx.config.get("isOAuth"):
            headers["Authorization"] = access_token(self.ctx)
        else:
            auth = (self.ctx.secrets.get("username") or "", self.ctx.secrets.get("password") or "")
        try:
            response = call(self.ctx, method, url, json=json, headers=headers, auth=auth)
        except RemoteCallFailed as exc:
            self.context["status"] = exc.status_code or exc.code
            if self.ctx.config.get("isOAuth") and exc.status_code and 400 <= exc.status_code < 500:
                oauth.drop_tokens(self.ctx.connector_id)
            raise
        self.context["status"] = response.status_code
        body = response.json_or_none()
        if response.status_code < 400 and (not isinstance(body, dict) or body.get("result") is None):
            host = self.url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
            raise RemoteCallFailed(f"There is an issue with your Service Now Instance. Please check {host}.")
        return body

    def fail(self, exc: RemoteCallFailed, what: str):
        """`[Action][ServiceNow]: <what>. Error: <error> [Reason: <reason>] [status=..] [method=..] [endpoint=..]`."""
        parts = [f"{what}.", "Error:", exc.message]
        why = reason(exc)
        if why:
            parts += ["Reason:", why]
        context = getattr(self, "context", None)
        if context:
            parts.append(f"[status={context['status'] or 'none'}]")
            parts.append(f"[method={context['method']}]")
            parts.append(f"[endpoint={context['endpoint']}]")
        error = action_error(NAME, " ".join(parts), status_code=exc.status_code, cause=exc)
        if "maxContentLength" in exc.message:  # an oversized answer is the user's to fix
            error.error_source = "user"
        return error

    @property
    def table_url(self) -> str:
        return f"{self.url}/api/now/v2/table/{self.product.table}"

    @property
    def import_set_url(self) -> str:
        return f"{self.url}/api/now/import/{self.product.import_set_table}"

    def view_url(self, sys_id: str) -> str:
        return f"{self.url}/nav_to.do?uri={self.product.table}.do?sys_id={sys_id}"

    def prepare(self, incident: dict, additional: dict | None = None) -> dict:
        if self.use_table_api:
            prepared = dict(incident)
        else:
            prepared = {f"u_{key}": value for key, value in incident.items()}
        prepared.update(additional or {})
        return prepared

    def _import_set_result(self, body: dict) -> str:
        result = body.get("result") or []
        if not result:
            raise RemoteCallFailed("Unexpected result")
        if result[0].get("status") == "error":
            raise RemoteCallFailed(result[0].get("error_message") or "")
        return result[0]["sys_id"]

    def check_application(self) -> None:
        if self.use_table_api:
            return
        try:
            body = self.send("get", f"{self.url}/api/{self.product.app_scope}/elastic_api/health")
        except RemoteCallFailed as exc:
            raise self.fail(exc, "Unable to get application version") from None
        info = body.get("result") or {}
        self.ctx.logger.debug(
            "Create incident: Application scope: %s: Application version%s",
            info.get("scope"),
            info.get("version"),
        )

    # calls

    def get_incident(self, incident_id: str) -> dict:
        try:
            return dict(self.send("get", f"{self.table_url}/{incident_id}")["result"])
        except RemoteCallFailed as exc:
            raise self.fail(exc, f"Unable to get incident with id {incident_id}") from None

    def find_incidents(self, query: str) -> list[dict]:
        try:
            body = self.send("get", f"{self.table_url}?{urlencode({'sysparm_query': query})}")
        except RemoteCallFailed as exc:
            raise self.fail(exc, "Unable to find incidents by query") from None
        return list(body["result"])

    def _pushed(self, record: dict, stamp_field: str) -> dict:
        return {
            "title": record.get("number"),
            "id": record.get("sys_id"),
            "pushedDate": iso(f"{record[stamp_field]}Z" if record.get(stamp_field) else None),
            "url": self.view_url(record.get("sys_id")),
        }

    def create_incident(self, incident: dict, additional: dict | None = None) -> dict:
        self.check_application()
        try:
            url = self.table_url if self.use_table_api else self.import_set_url
            body = self.send("post", url, json=self.prepare(incident, additional))
            sys_id = body["result"]["sys_id"] if self.use_table_api else self._import_set_result(body)
        except RemoteCallFailed as exc:
            raise self.fail(exc, "Unable to create incident") from None
        return self._pushed(self.get_incident(sys_id), "sys_created_on")

    def update_incident(self, incident_id: str, incident: dict, additional: dict | None = None) -> dict:
        self.check_application()
        try:
            if self.use_table_api:
                body = self.send(
                    "patch", f"{self.table_url}/{incident_id}", json=self.prepare(incident, additional)
                )
                sys_id = body["result"]["sys_id"]
            else:
                payload = {**self.prepare(incident, additional), "elastic_incident_id": incident_id}
                sys_id = self._import_set_result(self.send("post", self.import_set_url, json=payload))
        except RemoteCallFailed as exc:
            raise self.fail(exc, f"Unable to update incident with id {incident_id}") from None
        return self._pushed(self.get_incident(sys_id), "sys_updated_on")

    def get_fields(self) -> list:
        query = (
            f"sysparm_query=name=task^ORname={self.product.table}^internal_type=string&active=true"
            "&array=false&read_only=false&sysparm_fields=max_length,element,column_label,mandatory"
        )
        try:
            body = self.send("get", f"{self.url}/api/now/table/sys_dictionary?{query}")
        except RemoteCallFailed as exc:
            raise self.fail(exc, "Unable to get fields") from None
        return body["result"] or []

    def get_choices(self, fields: list[str]) -> list:
        elements = f"element={fields[0]}" if fields else "element="
        for field in fields[1:]:
            elements += f"^ORelement={field}"
        url = (
            f"{self.url}/api/now/table/sys_choice?sysparm_query=name=task^ORname={self.product.table}"
            f"^{elements}^language=en&sysparm_fields=label,value,dependent_value,element"
        )
        try:
            return self.send("get", url)["result"]
        except RemoteCallFailed as exc:
            raise self.fail(exc, "Unable to get choices") from None

    def post(self, what: str, url: str, payload: Any) -> Any:
        try:
            return self.send("post", url, json=payload)
        except RemoteCallFailed as exc:
            raise self.fail(exc, what) from None
