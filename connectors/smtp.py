"""The one SMTP seam: every email that leaves by SMTP goes through `send_mail()` here.

It plans the connection as Kibana's email connector plans its nodemailer transport
(`getTransportConfig`): implicit TLS when `secure`, otherwise STARTTLS whenever the server offers it;
`customHostSettings` for `smtp://host:port` can add CA certificates, change the verification mode and
set `smtp.ignoreTLS` / `smtp.requireTLS`; without a proxy, a server reached with `secure: false` and no
credentials is not asked for a valid certificate (Kibana's special case for test relays). Through
`xpack.actions.proxyUrl` the connection is tunnelled with HTTP CONNECT, as nodemailer's `proxy` does.

Failures come back as ConnectorError with nodemailer's wording (`Invalid login: 535 ...`,
`connect ECONNREFUSED host:port`); SMTP 4xx replies and network failures are retryable, 5xx are not.
"""

from __future__ import annotations

import base64
import email.charset
import email.utils
import logging
import re
import smtplib
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from connectors import egress, http
from connectors.exceptions import ConnectorError, ConnectorTimeout, ConnectorUnreachable
from connectors.proxy_plan import ProxyPlan, proxy_plan_for
from connectors.settings_file import KibanaConfig
from connectors.tls_options import TLSOptions, custom_host, custom_host_ca_pem

logger = logging.getLogger("connectors.smtp")


@dataclass(frozen=True)
class SmtpPlan:
    """How to reach one SMTP server. Credentials are kept out of `repr`."""

    host: str
    port: int
    secure: bool = False
    ignore_tls: bool = False
    require_tls: bool = False
    tls: TLSOptions = field(default_factory=TLSOptions)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    proxy: ProxyPlan | None = None

    def __repr__(self) -> str:
        return (
            f"SmtpPlan({self.host}:{self.port}, secure={self.secure}, "
            f"tls={self.tls.verification_mode}, auth={'yes' if self.user else 'no'})"
        )


@dataclass
class Mail:
    sender: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


def plan(
    *,
    host: str,
    port: int,
    secure: bool,
    user: str | None,
    password: str | None,
    has_auth: bool,
    settings: KibanaConfig,
) -> SmtpPlan:
    """Kibana's getTransportConfig for a host/port transport."""
    with_auth = has_auth and user is not None and password is not None
    proxy = proxy_plan_for(f"smtp://{host}:{port}", settings)
    if proxy is not None:
        mode = proxy.verification_mode
    elif not secure and user is None and password is None:
        mode = "none"  # Kibana: simple relays without auth rarely have valid certificates
    else:
        mode = settings["xpack.actions.ssl.verificationMode"]
        if settings["xpack.actions.rejectUnauthorized"] is False and mode == "full":
            mode = "none"
    ca_pem = None
    ignore_tls = require_tls = False
    entry = custom_host(f"smtp://{host}:{port}", settings)
    if entry is not None:
        mode = entry["ssl.verificationMode"]
        ca_pem = custom_host_ca_pem(entry)
        ignore_tls = entry["smtp.ignoreTLS"]
        require_tls = not ignore_tls and entry["smtp.requireTLS"]
    return SmtpPlan(
        host=host,
        port=int(port),
        secure=bool(secure),
        ignore_tls=ignore_tls,
        require_tls=require_tls,
        tls=TLSOptions(verification_mode=mode, ca_pem=ca_pem),
        user=user if with_auth else None,
        password=password if with_auth else None,
        proxy=proxy,
    )


# ---- the connection -------------------------------------------------------------------------------


class _Client(smtplib.SMTP):
    """smtplib with our socket: egress-checked, optionally tunnelled, optionally TLS from the start."""

    def __init__(self, smtp_plan: SmtpPlan, settings: KibanaConfig, timeout: float):
        self._plan = smtp_plan
        self._settings = settings
        self._context = http.ssl_context_for(smtp_plan.tls)
        # nodemailer greets with os.hostname(); smtplib's default getfqdn() costs a DNS lookup per send.
        super().__init__(timeout=timeout, local_hostname=socket.gethostname() or "localhost")

    def _get_socket(self, host, port, timeout):
        self._host = host  # starttls() names the server by it (SNI and the hostname check)
        if self._plan.proxy is not None:
            sock = _tunnel(self._plan.proxy, host, port, timeout, self._settings)
        else:
            sock = _connect_direct(host, port, timeout, self._settings)
        if self._plan.secure:
            sock = self._context.wrap_socket(sock, server_hostname=host)
        return sock

    def upgrade(self) -> None:
        self.starttls(context=self._context)

    def getreply(self):
        """smtplib's, with each reply bounded: whole within the response timeout (a read timeout alone
        restarts on every byte, so a server dripping its reply held the worker for ever) and no longer
        than `xpack.actions.maxResponseContentLength` (smtplib gathers a multi-line reply for as long
        as it lasts)."""
        if not isinstance(self.file, _ReplyReader):
            self.file = _ReplyReader(
                self.sock.makefile("rb"), self._settings["xpack.actions.maxResponseContentLength"]
            )
        self.file.used = 0
        deadline = time.monotonic() + self.timeout
        try:
            with http.reads_due_by(deadline):
                return super().getreply()
        except smtplib.SMTPServerDisconnected:
            if time.monotonic() >= deadline:
                raise TimeoutError("timed out") from None
            raise
        finally:
            if self.sock is not None:  # the deadline shrank it; the next command has the full timeout
                self.sock.settimeout(self.timeout)


class ReplyTooLong(ConnectorError):
    def __init__(self, limit: int):
        text = f"The server's reply is longer than {limit} bytes (xpack.actions.maxResponseContentLength)"
        super().__init__(text, service_message=text, retry=False)


class _ReplyReader:
    """The socket's file as smtplib reads replies from it, counting the bytes of the current reply."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.used = raw, limit, 0

    def readline(self, size: int = -1) -> bytes:
        line = self.raw.readline(size)
        self.used += len(line)
        if self.used > self.limit:
            raise ReplyTooLong(self.limit)
        return line

    def close(self) -> None:
        self.raw.close()


def _connect_direct(host: str, port: int, timeout: float, settings: KibanaConfig) -> socket.socket:
    addresses = egress.resolve_permitted(host, port, settings)
    return egress.connect_within(addresses, timeout, make_socket=http.DeadlineSocket)


def _tunnel(proxy: ProxyPlan, host: str, port: int, timeout: float, settings: KibanaConfig) -> socket.socket:
    """HTTP CONNECT through xpack.actions.proxyUrl (nodemailer's `proxy` option). The proxy would
    reach any address, so the target is resolved and checked here first."""
    egress.ensure_proxied_host_permitted(host, port, settings)
    parts = urlsplit(proxy.url)
    proxy_port = parts.port or (443 if parts.scheme == "https" else 80)
    # The operator's proxy: not egress-checked; a DeadlineSocket so that getreply() bounds the replies.
    addresses = socket.getaddrinfo(parts.hostname, proxy_port, type=socket.SOCK_STREAM)
    sock = egress.connect_within(addresses, timeout, make_socket=http.DeadlineSocket)
    if parts.scheme == "https":
        context = http.ssl_context_for(TLSOptions(verification_mode=proxy.verification_mode))
        sock = context.wrap_socket(sock, server_hostname=parts.hostname)
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in proxy.headers]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    # Byte by byte: the SMTP greeting may follow the proxy's reply at once and must stay unread.
    # recv_into, which the deadline sockets bound: a proxy dripping its answer must not hold the run.
    reply, byte = b"", bytearray(1)
    with http.reads_due_by(time.monotonic() + timeout):
        while not reply.endswith(b"\r\n\r\n") and len(reply) < 65536:
            if not sock.recv_into(byte):
                break
            reply += bytes(byte)
    sock.settimeout(timeout)
    status_line = reply.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or fields[1] != "200":
        sock.close()
        raise ConnectorUnreachable(
            "request failed", service_message=f"Proxy refused the connection: {status_line or 'no reply'}"
        )
    return sock


def _authenticate(client: _Client, user: str, password: str) -> None:
    """One attempt, as nodemailer makes it: AUTH PLAIN when offered, else AUTH LOGIN."""
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = client.esmtp_features["auth"].upper().split()
    # In UTF-8, as nodemailer encodes them: smtplib's auth() encodes as ASCII and fails on `ä`.
    if "PLAIN" in offered or "LOGIN" not in offered:
        code, reply = client.docmd("AUTH", "PLAIN " + _b64(f"\0{user}\0{password}"))
    else:
        code, reply = client.docmd("AUTH", "LOGIN")
        if code == 334:
            code, reply = client.docmd(_b64(user))
        if code == 334:
            code, reply = client.docmd(_b64(password))
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# ---- the message ----------------------------------------------------------------------------------


# Every line break `str.splitlines()` knows: the email package refuses a header value holding one.
_LINE_BREAKS = re.compile("\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def header_text(value: str) -> str:
    """A free-text header value (the subject) as nodemailer writes it: line breaks become spaces.
    The email package decodes any RFC 2047 word it is given (`=?utf-8?q?a=0D=0ABcc:...?=`) and,
    before Python 3.11.10, wrote what it decodes to, line breaks included, into the header: a rule's
    rendered subject could add headers or start the body. Such text is handed over as one encoded
    word of itself, which decodes back to the text as given."""
    text = _LINE_BREAKS.sub(" ", value)
    if "=?" in text:
        text = email.charset.Charset("utf-8").header_encode(text)
    return text


def build_message(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    if mail.to:
        message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    if mail.reply_to:
        message["Reply-To"] = ", ".join(mail.reply_to)
    message["Subject"] = header_text(mail.subject)
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    domain = email.utils.parseaddr(mail.sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{uuid.uuid4()}@{domain}>"
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        content = attachment.get("content", "")
        data = (
            base64.b64decode(content)
            if attachment.get("encoding") == "base64"
            else str(content).encode("utf-8")
        )
        maintype, _, subtype = (attachment.get("contentType") or "application/octet-stream").partition("/")
        message.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.get("filename")
        )
    return message


def _address(value: str) -> str:
    return email.utils.parseaddr(value)[1] or value


def envelope_addresses(value: str) -> list[str]:
    """Every address of one entry, which may be a list (`a@x.com, B <b@x.com>`), as nodemailer reads it."""
    return [address for _name, address in email.utils.getaddresses([value]) if "@" in address] or [
        _address(value)
    ]


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # U+0000 cannot be stored by PostgreSQL (event log, run rows): replaced, as connectors.http does.
    return f"{code} {text}".strip().replace("\x00", "\ufffd")


class SmtpRejected(ConnectorError):
    """The server answered with an error reply: 4xx is transient, 5xx is final."""

    def __init__(self, text: str, code: int):
        super().__init__(text, service_message=text, status_code=code, retry=400 <= code < 500)


class InvalidMail(ConnectorError):
    """The message or an address cannot be written (a line break or non-ASCII text in an address):
    the action's parameters are at fault, so it is the user's error and is not retried."""

    def __init__(self, reason: Exception):
        text = f"Invalid message: {reason}"
        super().__init__(text, service_message=text, retry=False)


def send_mail(smtp_plan: SmtpPlan, mail: Mail, settings: KibanaConfig) -> dict[str, Any]:
    """Send one message. Returns nodemailer's SentMessageInfo shape; raises ConnectorError."""
    egress.ensure_hostname_allowed(smtp_plan.host, settings)
    timeout = settings["xpack.actions.responseTimeout"]
    try:
        message = build_message(mail)
    except ValueError as exc:  # the email package refuses a line break in an address
        raise InvalidMail(exc) from None
    envelope_from = _address(mail.sender)
    recipients = [
        address for entry in [*mail.to, *mail.cc, *mail.bcc] for address in envelope_addresses(entry)
    ]
    started = time.monotonic()
    where = f"{smtp_plan.host}:{smtp_plan.port}"
    client: _Client | None = None
    try:
        client = _Client(smtp_plan, settings, timeout)
        code, reply = client.connect(smtp_plan.host, smtp_plan.port)
        if code != 220:
            raise SmtpRejected(f"Greeting never received: {_reply_text(code, reply)}", code)
        client.ehlo_or_helo_if_needed()
        if not smtp_plan.secure and not smtp_plan.ignore_tls:
            if client.has_extn("starttls"):
                client.upgrade()
                client.ehlo()
            elif smtp_plan.require_tls:
                raise SmtpRejected("Failed to upgrade connection: STARTTLS is required", 530)
        if smtp_plan.user is not None:
            try:
                _authenticate(client, smtp_plan.user, smtp_plan.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise SmtpRejected(
                    f"Invalid login: {_reply_text(exc.smtp_code, exc.smtp_error)}", 535
                ) from None
            except smtplib.SMTPNotSupportedError:
                raise SmtpRejected("Invalid login: the server does not offer authentication", 530) from None
        options: list[str] = []
        international = [a for a in [envelope_from, *recipients] if not a.isascii()]
        if international:  # nodemailer's useSmtpUtf8
            if not client.has_extn("smtputf8"):
                raise InvalidMail(
                    ValueError(
                        f"{international[0]} is not an ASCII address and the server does not offer SMTPUTF8"
                    )
                )
            options.append("SMTPUTF8")
        envelope_time = time.monotonic()
        code, reply = client.mail(envelope_from, options)
        if code != 250:
            raise SmtpRejected(f"Mail command failed: {_reply_text(code, reply)}", code)
        accepted, rejected, last_rejection = [], [], (550, b"")
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code in (250, 251):
                accepted.append(recipient)
            else:
                rejected.append(recipient)
                last_rejection = (code, reply)
        if not accepted:
            raise SmtpRejected(
                f"Can't send mail - all recipients were rejected: {_reply_text(*last_rejection)}",
                last_rejection[0],
            )
        # With SMTPUTF8 the headers carry the addresses in UTF-8 (RFC 6532), not as encoded words.
        payload = message.as_bytes(policy=message.policy.clone(utf8=True)) if options else message.as_bytes()
        message_started = time.monotonic()
        code, reply = client.data(payload)
        if code != 250:
            raise SmtpRejected(f"Message failed: {_reply_text(code, reply)}", code)
        finished = time.monotonic()
        response = _reply_text(code, reply)
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
    except ConnectorError:
        raise
    except smtplib.SMTPDataError as exc:
        raise SmtpRejected(
            f"Message failed: {_reply_text(exc.smtp_code, exc.smtp_error)}", exc.smtp_code
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise SmtpRejected(_reply_text(exc.smtp_code, exc.smtp_error), exc.smtp_code) from None
    except (ssl.SSLError, ssl.CertificateError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if getattr(exc, "verify_message", None):
            reason = f"{reason}: {exc.verify_message}"
        raise ConnectorUnreachable(f"[CERT] TLS handshake failed: {reason}", retry=False) from None
    except ValueError as exc:  # after the TLS errors (some are ValueErrors): a line break or
        # non-ASCII text in an address, which smtplib refuses to send as a command
        raise InvalidMail(exc) from None
    except TimeoutError:
        raise ConnectorTimeout("Connection timeout", service_message="Connection timeout") from None
    except ConnectionRefusedError:
        text = f"connect ECONNREFUSED {where}"
        raise ConnectorUnreachable(text, service_message=text) from None
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib reports a read timeout as a disconnect
            raise ConnectorTimeout("Connection timeout", service_message="Connection timeout") from None
        text = f"Connection closed unexpectedly ({exc})" if str(exc) else "Connection closed unexpectedly"
        raise ConnectorUnreachable(text, service_message=text) from None
    except smtplib.SMTPException as exc:
        raise ConnectorError(str(exc), service_message=str(exc)) from None
    except OSError as exc:
        text = f"{exc.strerror or exc} {where}".strip()
        raise ConnectorUnreachable(text, service_message=text) from None
    finally:
        if client is not None and client.sock is not None:
            try:
                client.close()
            except OSError:
                pass
    logger.info("SMTP %s -> %s in %.0f ms", where, response.split(" ", 1)[0], (finished - started) * 1000)
    return {
        "accepted": accepted,
        "rejected": rejected,
        "envelopeTime": int((message_started - envelope_time) * 1000),
        "messageTime": int((finished - message_started) * 1000),
        "messageSize": len(payload),
        "response": response,
        "envelope": {"from": envelope_from, "to": recipients},
        "messageId": message["Message-ID"],
    }


__all__ = [
    "InvalidMail",
    "Mail",
    "SmtpPlan",
    "SmtpRejected",
    "build_message",
    "envelope_addresses",
    "plan",
    "send_mail",
]
