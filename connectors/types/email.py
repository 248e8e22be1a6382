"""`.email`: send email by SMTP (through `connectors.smtp`) or, for MS Exchange, the Microsoft Graph API."""

from __future__ import annotations

import json
from email.utils import getaddresses, parseaddr
from typing import Any

from markdown_it import MarkdownIt

from connectors import egress, http, smtp
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Array, Boolean, Number, Object, String

EXCHANGE = "exchange_server"
ELASTIC_CLOUD = "elastic_cloud"
JSON_TRANSPORT = "__json"
OTHER = "other"
TEST_MESSAGE = "This is a test email from Kibana"
FOOTER_DIVIDER = "\n\n---\n\n"
NO_RECIPIENTS = "At least one entry in [to], [cc], or [bcc] is required"
MAX_BODY_LENGTH = 25 * 1024 * 1024
MICROSOFT_LOGIN = "https://login.microsoftonline.com"
# `service` value -> its name in xpack.actions.email.services.enabled
SERVICE_SETTING_NAMES = {
    "gmail": "google-mail",
    "outlook365": "microsoft-outlook",
    "ses": "amazon-ses",
    ELASTIC_CLOUD: "elastic-cloud",
    EXCHANGE: "microsoft-exchange",
    OTHER: "other",
}

# The form's Service select, as Kibana's; the API takes any nodemailer service name.
SERVICE_LABELS = {
    "gmail": "Gmail",
    "outlook365": "Outlook",
    "ses": "Amazon SES",
    ELASTIC_CLOUD: "Elastic Cloud",
    EXCHANGE: "MS Exchange Server",
    OTHER: "Other (host and port)",
}
ONLY_OTHER = {"service": (OTHER,)}
ONLY_EXCHANGE = {"service": (EXCHANGE,)}
NOT_EXCHANGE = {"!service": (EXCHANGE,)}

# nodemailer's well-known services that people use with Kibana: name -> (host, port, secure).
WELL_KNOWN = {
    "gmail": ("smtp.gmail.com", 465, True),
    "googlemail": ("smtp.gmail.com", 465, True),
    "outlook365": ("smtp.office365.com", 587, False),
    "hotmail": ("smtp-mail.outlook.com", 587, False),
    "ses": ("email-smtp.us-east-1.amazonaws.com", 465, True),
    "ses-us-east-1": ("email-smtp.us-east-1.amazonaws.com", 465, True),
    "ses-us-west-2": ("email-smtp.us-west-2.amazonaws.com", 465, True),
    "ses-eu-west-1": ("email-smtp.eu-west-1.amazonaws.com", 465, True),
    "sendgrid": ("smtp.sendgrid.net", 587, False),
    "mailgun": ("smtp.mailgun.org", 465, True),
    "postmark": ("smtp.postmarkapp.com", 2525, False),
    "yahoo": ("smtp.mail.yahoo.com", 465, True),
    "zoho": ("smtp.zoho.com", 465, True),
    "fastmail": ("smtp.fastmail.com", 465, True),
    "mailjet": ("in.mailjet.com", 587, False),
    ELASTIC_CLOUD: ("dockerhost", 10025, False),
}


def service_endpoint(service: str, settings) -> tuple[str, int, bool] | None:
    """Where a named service lives; `connectors.email.services` can point any of them elsewhere."""
    override = settings["connectors.email.services"].get(service)
    if override:
        return override["host"], override["port"], override["secure"]
    return WELL_KNOWN.get(service.lower().replace(" ", ""))


# ---- addresses and the domain allow-list ----------------------------------------------------------


def _has_mustache(value: str) -> bool:
    """Kibana's MustacheInEmailRegExp: `{{` followed, anywhere later, by `}}`."""
    opening = value.find("{{")
    return opening != -1 and value.find("}}", opening + 2) != -1


def invalid_emails_message(addresses: list[str], settings, *, mustache_valid: bool = False) -> str | None:
    """Kibana's validateEmailAddresses + invalidEmailsAsMessage: only with a domain allow-list set."""
    allowlist = settings["xpack.actions.email.domain_allowlist"]
    if allowlist is None:
        return None
    allowed = {domain.lower() for domain in allowlist}
    invalid, not_allowed = [], []
    for address in addresses:
        if mustache_valid and _has_mustache(address):
            continue
        parsed = getaddresses([address])
        if not parsed or not all("@" in mail and mail.rsplit("@", 1)[1] for _name, mail in parsed):
            invalid.append(address)
            continue
        if any(mail.rsplit("@", 1)[1].lower() not in allowed for _name, mail in parsed):
            not_allowed.append(address)
    messages = []
    if invalid:
        messages.append(f"not valid emails: {', '.join(invalid)}")
    if not_allowed:
        messages.append(f"not allowed emails: {', '.join(not_allowed)}")
    return "; ".join(messages) or None


# ---- rendering --------------------------------------------------------------------------------------

# Kibana's `markdownIt({linkify: true})`: markdown-it's default preset, so raw HTML in the message is
# escaped as text (a rule's `{{context.reason}}` cannot put `<img onerror=...>` into the mail) and
# `javascript:` links are not made. "js-default" is markdown-it-py's name for that preset.
_MARKDOWN = MarkdownIt("js-default", {"html": False, "linkify": True})


def html_from_markdown(text: str) -> str:
    try:
        return _MARKDOWN.render(text)
    except Exception:  # Kibana falls back to the markdown text itself
        return text


def footer(settings, link: dict | None) -> str:
    base = settings["connectors.kibanaBaseUrl"]
    if not base:
        return "This message was sent by Elastic."
    link = link or {"path": "/", "text": "Go to Elastic"}
    path = "" if link.get("path", "/") == "/" else link.get("path", "")
    return f"This message was sent by Elastic. [{link.get('text', 'Go to Elastic')}]({base}{path})."


def trim(connector_id: str, text: str | None, limit: int = MAX_BODY_LENGTH) -> str | None:
    if not text or len(text) < limit:
        return text
    warning = (
        f"Your message's length of {len(text)} exceeded the {limit} bytes limit that is set for "
        f'the connector "{connector_id}" and was trimmed. You can modify the limit by increasing the value '
        "specified for the xpack.actions.email.maximum_body_length setting."
    )
    return f"{warning}\n\n{text[:limit]}"


# ---- the type ---------------------------------------------------------------------------------------

_RECIPIENTS = {"max_size": 100, "default": list}


class EmailConnector(ConnectorType):
    type_id = ".email"
    name = "Email"
    description = "Send email from your server."
    icon = "email"
    # Kibana 8.x; the newest versions add "workflows" and "agentBuilder".
    supported_feature_ids = ("alerting", "uptime", "siem")
    # Kibana's renderParameterTemplates: `message` is Markdown, `messageHTML` HTML, the rest as is.
    escape = {"message": "markdown", "messageHTML": "html", "*": "none"}
    config_schema = Object(
        {
            "service": String(
                default=OTHER, label="Service", choices=tuple(SERVICE_LABELS), choice_labels=SERVICE_LABELS
            ),
            "host": String(nullable=True, default=None, label="Host", shown_when=ONLY_OTHER),
            "port": Number(
                minimum=1,
                maximum=65535,
                integer=True,
                nullable=True,
                default=None,
                label="Port",
                shown_when=ONLY_OTHER,
            ),
            "secure": Boolean(
                nullable=True, default=None, label="Secure (TLS from the start)", shown_when=ONLY_OTHER
            ),
            "from": String(label="Sender", help="An address such as alerts@example.com.", widget="email"),
            "hasAuth": Boolean(default=True, label="Require authentication", shown_when=NOT_EXCHANGE),
            "tenantId": String(nullable=True, default=None, label="Tenant ID", shown_when=ONLY_EXCHANGE),
            "clientId": String(nullable=True, default=None, label="Client ID", shown_when=ONLY_EXCHANGE),
            "oauthTokenUrl": String(
                nullable=True, default=None, label="OAuth token URL", shown_when=ONLY_EXCHANGE
            ),
            "allowHtml": Boolean(nullable=True, label="Allow HTML messages"),
        }
    )
    secrets_schema = Object(
        {
            "user": String(
                nullable=True, default=None, label="Username", shown_when={**NOT_EXCHANGE, "hasAuth": True}
            ),
            "password": String(
                nullable=True,
                default=None,
                secret=True,
                label="Password",
                shown_when={**NOT_EXCHANGE, "hasAuth": True},
            ),
            "clientSecret": String(
                nullable=True, default=None, secret=True, label="Client secret", shown_when=ONLY_EXCHANGE
            ),
        }
    )
    params_schema = Object(
        {
            "to": Array(String(max_length=512), label="To", **_RECIPIENTS),
            "cc": Array(String(max_length=512), label="Cc", **_RECIPIENTS),
            "bcc": Array(String(max_length=512), label="Bcc", **_RECIPIENTS),
            "replyTo": Array(String(max_length=512), max_size=10, nullable=True, label="Reply to"),
            "subject": String(label="Subject"),
            "message": String(label="Message", widget="markdown"),
            "messageHTML": String(nullable=True, default=None, label="HTML message"),
            "kibanaFooterLink": Object(
                {"path": String(default="/"), "text": String(default="Go to Elastic")},
                default=lambda: {"path": "/", "text": "Go to Elastic"},
            ),
            "attachments": Array(
                Object(
                    {
                        "content": String(),
                        "contentType": String(optional=True),
                        "filename": String(),
                        "encoding": String(optional=True),
                    }
                ),
                optional=True,  # Kibana: schema.maybe(arrayOf(...)), as contentType and encoding
            ),
        }
    )
    test_params_schema = Object(
        {
            "to": Array(String(), label="To", **_RECIPIENTS),
            "cc": Array(String(), label="Cc", **_RECIPIENTS),
            "bcc": Array(String(), label="Bcc", **_RECIPIENTS),
            "subject": String(label="Subject"),
            "message": String(label="Message", widget="markdown"),
        }
    )
    # Kibana's email action form (email_params.tsx) asks for these too; the rule editor keeps the
    # footer link the framework fills, an HTML body, attachments and reply-to as they were stored.
    rule_params_schema = test_params_schema

    # ---- validation ---------------------------------------------------------------------------------

    def validate_config(self, config, settings):
        if isinstance(config, dict) and "service" in config and config["service"] is None:
            # 7.x saved `service: null`; Kibana's 7.16 migration made that "other".
            config = {**config, "service": OTHER}
        cleaned = super().validate_config(config, settings)
        if cleaned.get("allowHtml") is None:
            cleaned.pop("allowHtml", None)  # schema.maybe: absent unless given
        return cleaned

    def check_config(self, config, settings):
        enabled = settings["xpack.actions.email.services.enabled"]
        setting_name = SERVICE_SETTING_NAMES.get(config["service"])
        if "*" not in enabled and setting_name and setting_name not in enabled:
            return f'[service]: "{setting_name}" is not in the list of enabled email services: {",".join(enabled)}'
        problem = invalid_emails_message([config["from"]], settings)
        if problem:
            return f"[from]: {problem}"
        if config.get("allowHtml") and config["service"] == ELASTIC_CLOUD:
            return "[allowHtml]: HTML email cannot be enabled for the Elastic Cloud email service"
        token_url = config.get("oauthTokenUrl")
        if token_url:
            try:
                egress.ensure_uri_allowed(token_url, settings)
            except EgressDenied:
                return f"[oauthTokenUrl]: host name value for '{token_url}' is not in the allowedHosts configuration"
        service = config["service"]
        if service == JSON_TRANSPORT:
            return None
        if service == EXCHANGE:
            if config.get("clientId") is None and config.get("tenantId") is None:
                return "[clientId]/[tenantId] is required"
            if config.get("clientId") is None:
                return "[clientId] is required"
            if config.get("tenantId") is None:
                return "[tenantId] is required"
            return None
        if service == OTHER:
            if config.get("host") is None and config.get("port") is None:
                return "[host]/[port] is required"
            if config.get("host") is None:
                return "[host] is required"
            if config.get("port") is None:
                return "[port] is required"
            if not egress.hostname_allowed(config["host"], settings):
                return f"[host] value '{config['host']}' is not in the allowedHosts configuration"
            return None
        endpoint = service_endpoint(service, settings)
        if endpoint is None:
            return f"[service] value '{service}' is not valid"
        if not egress.hostname_allowed(endpoint[0], settings):
            return (
                f"[service] value '{service}' resolves to host '{endpoint[0]}' which is not in the "
                "allowedHosts configuration"
            )
        return None

    def check_connector(self, config, secrets):
        if config["service"] == EXCHANGE:
            if secrets.get("clientSecret") is None:
                return "[clientSecret] is required"
        elif config["hasAuth"] and (secrets.get("user") is None or secrets.get("password") is None):
            if secrets.get("user") is None:
                return "[user] is required"
            return "[password] is required"
        return None

    def check_params(self, params, settings):
        recipients = [a for a in [*params["to"], *params["cc"], *params["bcc"]] if a.strip()]
        if not recipients:
            return NO_RECIPIENTS
        addresses = recipients + list(params.get("replyTo") or [])
        problem = invalid_emails_message(addresses, settings, mustache_valid=True)
        if problem:
            labels = ["to", "cc", "bcc"] + (["replyTo"] if params.get("replyTo") else [])
            return f"[{'/'.join(labels)}]: {problem}"
        return None

    # ---- running ------------------------------------------------------------------------------------

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        config, secrets, params, settings = ctx.config, ctx.secrets, ctx.params, ctx.settings
        to, cc, bcc = ([a for a in params[k] if a.strip()] for k in ("to", "cc", "bcc"))
        if not (to or cc or bcc):
            raise ConnectorError(NO_RECIPIENTS, retry=False, error_source="user")
        problem = invalid_emails_message([*to, *cc, *bcc], settings)
        if problem:
            raise ConnectorError(f"[to/cc/bcc]: {problem}", retry=False, error_source="user")
        problem = invalid_emails_message([config["from"]], settings)
        if problem:
            raise ConnectorError(f"[from]: {problem}", retry=False, error_source="user")
        # Not in Kibana's executor: saving lets any address holding `{{...}}` through (and `_execute`
        # renders nothing), so without this a reply-to outside the allow-list reaches the message.
        problem = invalid_emails_message(list(params.get("replyTo") or []), settings)
        if problem:
            raise ConnectorError(f"[replyTo]: {problem}", retry=False, error_source="user")
        if (
            params.get("messageHTML") is not None
            and ctx.source != "notification"
            and not config.get("allowHtml")
        ):
            raise ConnectorError(
                "HTML email can only be sent when the connector is configured to allow HTML",
                retry=False,
                error_source="user",
            )
        if params.get("attachments") is not None and ctx.source != "notification":
            raise ConnectorError(
                "Email attachments can only be sent via notifications", retry=False, error_source="user"
            )

        subject, message = params["subject"], params["message"]
        if (
            ctx.source == "http_request"
            and config["service"] != JSON_TRANSPORT
            and settings["connectors.email.fixedTestMessage"]
        ):
            subject = message = TEST_MESSAGE
        limit = settings["xpack.actions.email.maximum_body_length"]
        message = trim(ctx.connector_id, message, limit)
        html_message = trim(ctx.connector_id, params.get("messageHTML"), limit)
        if settings["xpack.actions.enableFooterInEmail"]:
            message = f"{message}{FOOTER_DIVIDER}{footer(settings, params.get('kibanaFooterLink'))}"
        text = message or "no message set"
        html = html_message if html_message is not None else html_from_markdown(text)
        mail = smtp.Mail(
            sender=config["from"],
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=list(params.get("replyTo") or []),
            subject=subject,
            text=text,
            html=html,
            attachments=list(params.get("attachments") or []),
        )
        try:
            if config["service"] == EXCHANGE:
                data = self._send_graph(ctx, mail)
            elif config["service"] == JSON_TRANSPORT:
                data = self._json_transport(mail)
            else:
                data = smtp.send_mail(self._plan(config, secrets, settings), mail, settings)
        except ConnectorError as exc:
            status = exc.status_code
            http_status = (
                status is not None and 400 <= status < 600 and not isinstance(exc, smtp.SmtpRejected)
            )
            raise ConnectorError(
                "error sending email",
                service_message=exc.service_message or exc.message,
                retry=exc.retry,
                error_source="user"
                if http_status or isinstance(exc, EgressDenied | smtp.InvalidMail)
                else "framework",
            ) from None
        return ExecutionResult.success(data)

    @staticmethod
    def _plan(config: dict, secrets: dict, settings) -> smtp.SmtpPlan:
        service = config["service"]
        if service == OTHER:
            host, port = config["host"], int(config["port"])
            secure = config["secure"] if config.get("secure") is not None else port == 465
        else:
            host, port, secure = service_endpoint(service, settings)
        return smtp.plan(
            host=host,
            port=port,
            secure=secure,
            user=secrets.get("user"),
            password=secrets.get("password"),
            has_auth=config["hasAuth"],
            settings=settings,
        )

    @staticmethod
    def _json_transport(mail: smtp.Mail) -> dict[str, Any]:
        """nodemailer's jsonTransport: nothing is sent; the message comes back as data. Address lists
        are `[{address, name}]`, or null when empty (as Kibana's email API test shows for cc/bcc)."""
        message = smtp.build_message(mail)

        def addresses(values: list[str]) -> list[dict[str, str]] | None:
            listed = [{"address": parseaddr(a)[1], "name": parseaddr(a)[0]} for a in values]
            return listed or None

        envelope = {
            "from": parseaddr(mail.sender)[1],
            "to": [
                address for a in [*mail.to, *mail.cc, *mail.bcc] for address in smtp.envelope_addresses(a)
            ],
        }
        sent: dict[str, Any] = {
            "from": {"address": parseaddr(mail.sender)[1], "name": parseaddr(mail.sender)[0]},
            "to": addresses(mail.to),
            "cc": addresses(mail.cc),
            "bcc": addresses(mail.bcc),
        }
        if mail.reply_to:
            sent["replyTo"] = addresses(mail.reply_to)
        sent.update(
            {
                "subject": mail.subject,
                "text": mail.text,
                "html": mail.html,
                "headers": {},
                "messageId": message["Message-ID"],
            }
        )
        return {"envelope": envelope, "messageId": message["Message-ID"], "message": sent}

    def _login_base(self, settings) -> str:
        """xpack.actions.microsoftExchangeUrl when set; else `connectors.serviceUrls[".email"]`, so one
        override points both Graph and its token endpoint at a private or test server."""
        configured = settings["xpack.actions.microsoftExchangeUrl"]
        if configured != MICROSOFT_LOGIN:
            return configured
        return settings.service_url(self.type_id, MICROSOFT_LOGIN)

    def _send_graph(self, ctx: ExecutionContext, mail: smtp.Mail) -> Any:
        from connectors.oauth import client_credentials_header, drop_tokens

        config, settings = ctx.config, ctx.settings
        token_url = config.get("oauthTokenUrl") or (
            f"{self._login_base(settings)}/{config['tenantId']}/oauth2/v2.0/token"
        )
        authorization = client_credentials_header(
            connector_id=ctx.connector_id,
            token_url=token_url,
            client_id=config["clientId"],
            client_secret=ctx.secrets.get("clientSecret") or "",
            scope=settings["xpack.actions.microsoftGraphApiScope"],
            extra_fields={},
            settings=settings,
        )
        graph = settings.service_url(self.type_id, settings["xpack.actions.microsoftGraphApiUrl"]).rstrip("/")
        attachments = [
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": a.get("filename"),
                "contentType": a.get("contentType"),
                "contentBytes": a.get("content"),
            }
            for a in mail.attachments
        ]
        body = {
            "message": {
                "subject": mail.subject,
                "body": {"contentType": "HTML", "content": mail.html},
                "toRecipients": [{"emailAddress": {"address": a}} for a in mail.to],
                "ccRecipients": [{"emailAddress": {"address": a}} for a in mail.cc],
                "bccRecipients": [{"emailAddress": {"address": a}} for a in mail.bcc],
                "attachments": attachments,
            }
        }
        response = http.send(
            "post",
            f"{graph}/users/{config['from']}/sendMail",
            settings=settings,
            headers={"Content-Type": "application/json", "Authorization": authorization},
            json=body,
        )
        if 400 <= response.status_code < 500:
            drop_tokens(ctx.connector_id)  # Kibana's delete-token interceptor
        if response.status_code == 202:
            return response.json_or_none() if response.content else ""
        data = response.json_or_none()
        raise ConnectorError(
            "error sending email",
            service_message=json.dumps(data, separators=(",", ":")) if data is not None else response.text,
            status_code=response.status_code,
            retry=http.retry_for_status(response),
        )
