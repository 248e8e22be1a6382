"""`.webhook`: one HTTP request to a user-given URL, with basic, client-certificate or OAuth2 auth."""

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit

from connectors import egress, http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Boolean, Enum, Object, Record, String
from connectors.tls_options import TLSOptions

AUTH_BASIC = "webhook-authentication-basic"
AUTH_SSL = "webhook-authentication-ssl"
AUTH_OAUTH2 = "webhook-oauth2-client-credentials"
METHODS = ("post", "put", "patch", "get", "delete")
USER_ERROR_STATUSES = {400, 404, 405, 406, 410, 411, 414, 428, 431}
# The form shows the fields of the chosen authentication only, as Kibana's flyout does.
WITH_AUTH = {"hasAuth": True}
WITH_BASIC = {**WITH_AUTH, "authType": (AUTH_BASIC,)}
WITH_SSL = {**WITH_AUTH, "authType": (AUTH_SSL,)}
WITH_OAUTH2 = {**WITH_AUTH, "authType": (AUTH_OAUTH2,)}
AUTH_LABELS = {AUTH_BASIC: "Basic authentication", AUTH_SSL: "SSL certificate", AUTH_OAUTH2: "OAuth 2.0"}
CERT_LABELS = {"ssl-crt-key": "CRT and KEY file", "ssl-pfx": "PFX file"}
METHOD_LABELS = {method: method.upper() for method in METHODS}
VERIFICATION_LABELS = {
    "none": "None (do not verify)",
    "certificate": "Certificate (not the host name)",
    "full": "Full (certificate and host name)",
}
CA_HELP = "The certificate authority that signed the server's certificate, if it is not a public one."
SECRETS_COMBINATIONS_MESSAGE = (
    "must specify one of the following schemas: user and password; crt and key (with optional password); "
    "pfx (with optional password); or clientSecret (for OAuth2)"
)


def status_service_message(response: http.Response) -> str:
    """`[<status>] <statusText>` plus `: <data.message>` when the body has one."""
    text = f"[{response.status_code}] {response.reason}"
    body = response.json_or_none()
    if isinstance(body, dict) and body.get("message") is not None:
        detail = body["message"]
        text += f": {detail if isinstance(detail, str) else json.dumps(detail)}"
    return text


def basic_and_certificate_secrets(*, password_help: str = "") -> dict:
    """`user`, `password`, `crt`, `key` and `pfx`, each shown for the authentication that uses it: the
    secrets `.webhook` and `.cases-webhook` share (Basic, and SSL with a certificate or a PFX file)."""
    return {
        "user": String(nullable=True, default=None, label="Username", shown_when=WITH_BASIC),
        "password": String(
            nullable=True,
            default=None,
            secret=True,
            label="Password",
            help=password_help,
            shown_when={**WITH_AUTH, "authType": (AUTH_BASIC, AUTH_SSL)},
        ),
        "crt": String(
            nullable=True,
            default=None,
            secret=True,
            label="Certificate (CRT)",
            widget="file",
            shown_when={**WITH_SSL, "certType": ("ssl-crt-key",)},
        ),
        "key": String(
            nullable=True,
            default=None,
            secret=True,
            label="Private key (KEY)",
            widget="file",
            shown_when={**WITH_SSL, "certType": ("ssl-crt-key",)},
        ),
        "pfx": String(
            nullable=True,
            default=None,
            secret=True,
            label="PFX file",
            widget="file",
            shown_when={**WITH_SSL, "certType": ("ssl-pfx",)},
        ),
    }


class WebhookConnector(ConnectorType):
    type_id = ".webhook"
    name = "Webhook"
    description = "Send a request to a web service."
    icon = "globe"
    escape = "json"
    config_schema = Object(
        {
            "url": String(label="URL"),
            "method": Enum(METHODS, default="post", label="Method", choice_labels=METHOD_LABELS),
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
                optional=True,
                label="Certificate type",
                choice_labels=CERT_LABELS,
                shown_when=WITH_SSL,
            ),
            "ca": String(nullable=True, optional=True, label="CA certificate", widget="file", help=CA_HELP),
            "verificationMode": Enum(
                ("none", "certificate", "full"),
                nullable=True,
                optional=True,
                label="Verification mode",
                choice_labels=VERIFICATION_LABELS,
            ),
            "accessTokenUrl": String(
                nullable=True, optional=True, label="Access token URL", shown_when=WITH_OAUTH2
            ),
            "clientId": String(nullable=True, optional=True, label="Client ID", shown_when=WITH_OAUTH2),
            "scope": String(nullable=True, optional=True, label="Scope", shown_when=WITH_OAUTH2),
            "additionalFields": String(
                nullable=True,
                optional=True,
                label="Additional fields",
                help="Sent with the token request.",
                widget="pairs",  # a JSON object string, asked for as `name: value` lines
                shown_when=WITH_OAUTH2,
            ),
        }
    )
    secrets_schema = Object(
        {
            **basic_and_certificate_secrets(
                password_help="For a certificate, the passphrase of its key, if it has one."
            ),
            "clientSecret": String(
                nullable=True, default=None, secret=True, label="Client secret", shown_when=WITH_OAUTH2
            ),
            "secretHeaders": Record(
                String(), nullable=True, default=None, secret=True, label="Secret headers"
            ),
        }
    )
    # Kibana's webhook ParamsSchema: body is schema.maybe(schema.string()) (null refused)
    params_schema = Object({"body": String(optional=True, label="Body", widget="code")})

    def check_config(self, config, settings):
        prefix = "error validation webhook action config: "
        try:
            parts = urlsplit(config["url"])
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"Invalid URL: {config['url']}")
        except ValueError as exc:
            return f"{prefix}unable to parse url: {exc}"
        try:
            egress.ensure_uri_allowed(config["url"], settings)
        except EgressDenied as exc:
            return f"{prefix}{exc.message}"
        if not config["hasAuth"] and config.get("authType") not in (None, AUTH_BASIC):
            # authType defaults to basic, so only an explicit other choice contradicts hasAuth=false.
            return f"{prefix}authType must be null or undefined if hasAuth is false"
        if config.get("certType") == "ssl-pfx" and not settings["xpack.actions.webhook.ssl.pfx.enabled"]:
            return f'{prefix}certType "ssl-pfx" is disabled'
        if config.get("additionalFields") is not None:
            try:
                fields = json.loads(config["additionalFields"])
            except ValueError:
                fields = None
            if not isinstance(fields, dict) or not fields:
                return f"{prefix}additionalFields must be a non-empty JSON object string"
        if config.get("authType") == AUTH_OAUTH2:
            if not config.get("accessTokenUrl") or not config.get("clientId"):
                return f"{prefix}missing Access Token URL (accessTokenUrl), Client ID (clientId) fields"
            try:
                egress.ensure_uri_allowed(config["accessTokenUrl"], settings)
            except EgressDenied as exc:
                return f"{prefix}{exc.message}"
        return None

    def check_secrets(self, secrets, settings):
        present = {
            name for name in ("user", "password", "crt", "key", "pfx", "clientSecret") if secrets.get(name)
        }
        allowed = (
            set(),
            {"user", "password"},
            {"crt", "key"},
            {"crt", "key", "password"},
            {"pfx"},
            {"pfx", "password"},
            {"clientSecret"},
        )
        if present not in allowed:
            return SECRETS_COMBINATIONS_MESSAGE
        return None

    def check_form_secrets(self, config, secrets):
        """The chosen authentication needs its secrets, as Kibana's connector form requires: without
        this, the admin saved a Basic webhook with no user or password, and an imported one was
        "fixed" by an empty form. The API follows Kibana's schema instead, which allows no secrets
        at all (the webhook then sends no credentials)."""
        if not config.get("hasAuth"):
            return None
        auth_type = config.get("authType")
        if auth_type in (AUTH_BASIC, None):
            required = ("user", "password")
        elif auth_type == AUTH_OAUTH2:
            required = ("clientSecret",)
        elif config.get("certType") == "ssl-pfx" or (secrets.get("pfx") and not secrets.get("crt")):
            required = ("pfx",)
        else:
            required = ("crt", "key")
        for name in required:
            if not secrets.get(name):
                return f"[{name}] is required"
        return None

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        config, secrets = ctx.config, ctx.secrets
        method = config.get("method") or "post"
        headers: dict[str, str] = {}
        auth = None
        auth_type = config.get("authType") if config.get("hasAuth", True) else None
        if auth_type in (AUTH_BASIC, None) and config.get("hasAuth", True) and secrets.get("user"):
            auth = (secrets["user"], secrets.get("password") or "")
        if auth_type == AUTH_OAUTH2:
            headers["Authorization"] = self._oauth_header(ctx)
        headers.update(config.get("headers") or {})
        headers.update(secrets.get("secretHeaders") or {})
        if auth and any(name.lower() == "authorization" for name in headers):
            auth = None  # a user-supplied Authorization header wins, as in Kibana
        body = ctx.params.get("body")
        data = body.encode("utf-8") if body is not None and method not in ("get", "delete") else None
        with self._tls(config, secrets, auth_type) as tls:
            try:
                response = http.send(
                    method,
                    config["url"],
                    settings=ctx.settings,
                    headers=headers,
                    data=data,
                    auth=auth,
                    tls=tls,
                )
            except EgressDenied as exc:
                raise ConnectorError(
                    "error calling webhook, request failed",
                    service_message=exc.message,
                    retry=False,
                    error_source="user",
                ) from None
            except ConnectorError as exc:
                raise ConnectorError(
                    "error calling webhook, request failed",
                    service_message=exc.service_message or exc.message,
                    retry=exc.retry,
                ) from None
        return self._result(response, body)

    def _result(self, response: http.Response, body: str | None) -> ExecutionResult:
        if response.ok:
            return ExecutionResult.success(body)
        service_message = status_service_message(response)
        if response.status_code >= 500:
            raise ConnectorError(
                "error calling webhook, retry later", service_message=service_message, retry=True
            )
        if response.status_code == 429:
            retry_at = http.retry_after(response)
            if retry_at is not None:
                iso = http.iso_ms(retry_at)
                raise ConnectorError(
                    f"error calling webhook, retry at {iso}", service_message=service_message, retry=retry_at
                )
            raise ConnectorError(
                "error calling webhook, retry later", service_message=service_message, retry=True
            )
        raise ConnectorError(
            "error calling webhook, invalid response",
            service_message=service_message,
            retry=False,
            error_source="user" if response.status_code in USER_ERROR_STATUSES else "framework",
        )

    @contextlib.contextmanager
    def _tls(self, config: dict, secrets: dict, auth_type: str | None) -> Iterator[TLSOptions | None]:
        ca = base64.b64decode(config["ca"]).decode() if config.get("ca") else None
        mode = config.get("verificationMode")
        if auth_type != AUTH_SSL or not (secrets.get("crt") or secrets.get("pfx")):
            yield TLSOptions(verification_mode=mode, ca_pem=ca) if (ca or mode) else None
            return
        if secrets.get("pfx"):
            raise ConnectorError(
                "error calling webhook, request failed",
                service_message="PFX client certificates are not supported; use crt and key",
            )
        with tempfile.TemporaryDirectory() as folder:
            cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            for path, value in ((cert_path, secrets["crt"]), (key_path, secrets["key"])):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(base64.b64decode(value))
            yield TLSOptions(
                verification_mode=mode,
                ca_pem=ca,
                client_cert_file=cert_path,
                client_key_file=key_path,
                client_key_password=secrets.get("password"),
            )

    def _oauth_header(self, ctx: ExecutionContext) -> str:
        from connectors.oauth import client_credentials_header

        config = ctx.config
        extra = json.loads(config["additionalFields"]) if config.get("additionalFields") else {}
        try:
            return client_credentials_header(
                connector_id=ctx.connector_id,
                token_url=config["accessTokenUrl"],
                client_id=config["clientId"],
                client_secret=ctx.secrets.get("clientSecret") or "",
                scope=config.get("scope"),
                extra_fields=extra,
                settings=ctx.settings,
            )
        except ConnectorError as exc:
            raise ConnectorError(
                "error calling webhook, request failed",
                service_message=f"Unable to retrieve/refresh the access token: {exc.service_message or exc.message}",
                retry=exc.retry,  # a refused address is final; a 5xx token endpoint may recover
                error_source=exc.error_source,
            ) from None
