"""The one outbound HTTP seam. Only this module imports `requests`.

`send()` applies `xpack.actions.responseTimeout`, checks `allowedHosts` on the URL and on every
redirect (a redirect to another origin carries no credentials; see `docs/security.md`), refuses
non-public addresses (checked on the *resolved* address at connect time, so DNS rebinding and
redirects cannot slip through), caps the body at `maxResponseContentLength`, applies proxy and TLS
settings, maps library exceptions into ConnectorTimeout / ConnectorUnreachable and
returns non-2xx responses for the type to classify. It logs one line per call at DEBUG (method,
origin, status, time; never the path, headers or body): every run is in the event log already, and a
line per delivery at INFO cost a tenth of a call's CPU. No retries here: retries are the executor's
business.

The policies it applies live beside it: where a call may go (`connectors.egress`), which TLS settings
apply (`connectors.tls_options`) and which proxy (`connectors.proxy_plan`).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import errno
import functools
import http.cookiejar
import json as _json
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectors.base import iso_ms  # noqa: F401 -- types format retry dates with http.iso_ms
from connectors.egress import (
    connect_within,
    ensure_hostname_allowed,
    ensure_proxied_target_permitted,
    ensure_uri_allowed,
    resolve_permitted,
)
from connectors.exceptions import ConnectorTimeout, ConnectorUnreachable, EgressDenied, ResponseTooLarge
from connectors.proxy_plan import ProxyPlan, proxy_plan_for
from connectors.schemas import may_hold_unstorable, replace_unstorable
from connectors.settings_file import KibanaConfig
from connectors.tls_options import TLSOptions, tls_for

logger = logging.getLogger("connectors.http")
# urllib3 logs each request line (with the URL path, which can be a secret) at DEBUG: never emit those.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
# verificationMode "none" is the operator's explicit choice; it is said once in the docs, not per call.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

USER_AGENT = "Connectors/1.0 (Kibana-compatible actions)"
MAX_REDIRECTS = 10
# The only headers a redirect to another origin carries. Everything else can be a credential: the
# types put their keys in headers of their own (`d3key`, `X-Torq-Token`, `api-key`, AWS signatures...)
# and webhook headers, secret or not, often hold tokens. Kibana's client drops only `Authorization`.
HEADERS_KEPT_ACROSS_ORIGINS = frozenset(
    {"user-agent", "accept", "accept-encoding", "accept-language", "content-type", "content-language"}
)


# ---- connections that check the resolved address ------------------------------------------------

_local = threading.local()
# The run's request-body byte counter (Kibana's ConnectorUsageCollector), while one is counting.
_body_bytes: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "connectors_request_body_bytes", default=None
)


@contextlib.contextmanager
def counting_request_body_bytes() -> Iterator[list[int]]:
    """Count the bytes of the request bodies sent inside the block (`counter[0]`), as Kibana's
    ConnectorUsageCollector does for a run's `kibana.action.execution.usage.request_body_bytes`.
    A redirect that sends the body again is not counted twice (axios counts one request)."""
    counter = [0]
    token = _body_bytes.set(counter)
    try:
        yield counter
    finally:
        _body_bytes.reset(token)


def _count_body(body: Any) -> None:
    counter = _body_bytes.get()
    if counter is not None and isinstance(body, bytes | str):
        counter[0] += len(body.encode() if isinstance(body, str) else body)


def _current_settings() -> KibanaConfig:
    return _local.settings


def _bounded_timeout(sock: socket.socket) -> None:
    """Shrink the socket timeout to what is left of this thread's whole-response deadline (set by
    `send()`): a per-read timeout alone restarts on every byte, so a service dripping its status line
    or headers would otherwise hold the call, and its worker thread, for as long as it likes."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the whole response took longer than the timeout")
    current = sock.gettimeout()
    sock.settimeout(remaining if current is None else min(current, remaining))


def _remaining(deadline: float) -> float:
    """Seconds left before `deadline`; a timeout (as a read past it would be) when none are."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise requests.exceptions.Timeout("the whole response took longer than the timeout")
    return remaining


class _DeadlineSocket(socket.socket):
    """A plain socket whose every read honours the whole-response deadline (see `_bounded_timeout`)."""

    def recv_into(self, buffer, nbytes=0, flags=0):
        _bounded_timeout(self)
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        _bounded_timeout(self)
        return super().recv(bufsize, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The same for TLS. http.client reads through `recv_into`; urllib3's `SSLTransport` (TLS to the
    service inside TLS to an https proxy) reads the proxy's socket through `recv`. The handshake reads
    inside OpenSSL, under the socket's timeout: it gets what is left of the deadline too."""

    def do_handshake(self, block=False):
        _bounded_timeout(self)
        return super().do_handshake(block)

    def recv_into(self, buffer, nbytes=None, flags=0):
        _bounded_timeout(self)
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen=1024, flags=0):
        _bounded_timeout(self)
        return super().recv(buflen, flags)


DeadlineSocket = _DeadlineSocket  # for the SMTP seam, which reads through `reads_due_by()` too


@contextlib.contextmanager
def reads_due_by(deadline: float):
    """Within the block, every read on this module's sockets (DeadlineSocket, and the TLS sockets of
    its SSL contexts) must be done by `deadline` (a `time.monotonic()` value): connectors.smtp bounds
    each reply of a mail server with it, as `send()` bounds a whole HTTP response."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


class _GuardedConnectionMixin:
    def _new_conn(self):  # urllib3 calls this to open the TCP connection
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        if getattr(self, "_tunnel_host", None) or getattr(self, "proxy", None):
            # Connecting to the configured proxy: that is the operator's choice, not the user's, so
            # no egress check. Still a deadline socket: the proxy relays what the service sends, as
            # slowly as the service sends it.
            try:
                addresses = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise requests.exceptions.ConnectionError(exc) from exc
        else:
            addresses = resolve_permitted(self._dns_host, self.port, _current_settings())
        try:
            return connect_within(
                addresses, timeout, make_socket=_DeadlineSocket, options=self.socket_options or ()
            )
        except OSError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        check_hostname: bool = True,
        proxy: ProxyPlan | None = None,
        **kwargs,
    ):
        self._ssl_context = ssl_context
        self._check_hostname = check_hostname
        self._proxy = proxy
        # pool_connections: hosts whose connections are kept; pool_maxsize: idle connections kept per
        # host (as many as a worker's threads, which share them: see _session).
        kwargs.setdefault("pool_maxsize", 64)
        super().__init__(pool_connections=256, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        if not self._check_hostname:
            kwargs["assert_hostname"] = False  # verificationMode "certificate": chain yes, name no
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)

    def build_response(self, req, resp):
        """requests' Response without the two steps `send()` has no use for: cookie extraction (the
        sessions refuse every cookie, so the jar stays empty either way) and the charset guess
        (`send()` reads bytes). Together they were a tenth of a call's CPU in a busy worker."""
        response = requests.Response()
        response.status_code = resp.status
        response.headers = requests.structures.CaseInsensitiveDict(resp.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response

    def proxy_headers(self, proxy):
        """xpack.actions.proxyHeaders go to the proxy (on CONNECT, or with each plain-HTTP request)."""
        headers = super().proxy_headers(proxy)
        if self._proxy is not None:
            headers.update(dict(self._proxy.headers))
        return headers

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        if self._ssl_context is not None:
            proxy_kwargs.setdefault("ssl_context", self._ssl_context)
            if not self._check_hostname:
                proxy_kwargs.setdefault("assert_hostname", False)
        if self._proxy is not None and urlsplit(proxy).scheme == "https":
            # Talking TLS to the proxy itself: xpack.actions.ssl.proxyVerificationMode.
            proxy_kwargs.setdefault(
                "proxy_ssl_context",
                build_ssl_context(TLSOptions(verification_mode=self._proxy.verification_mode)),
            )
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # Our connections through the proxy too: their reads honour the whole-response deadline.
        manager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }
        return manager


# ---- TLS contexts and sessions ------------------------------------------------------------------


def build_ssl_context(options: TLSOptions) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.sslsocket_class = _DeadlineSSLSocket
    if options.ca_pem:
        context.load_verify_locations(cadata=options.ca_pem)
    if options.verification_mode == "certificate":
        context.check_hostname = False
    elif options.verification_mode == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.client_cert_file:
        context.load_cert_chain(
            options.client_cert_file, options.client_key_file, password=options.client_key_password
        )
    return context


@functools.lru_cache(maxsize=64)
def _cached_ssl_context(options: TLSOptions) -> ssl.SSLContext:
    return build_ssl_context(options)


def ssl_context_for(options: TLSOptions) -> ssl.SSLContext:
    """A shared context per TLS configuration: loading the system CA store costs ~80 ms each time."""
    if options.client_cert_file:
        return build_ssl_context(options)  # per-run temporary key files: never cached
    return _cached_ssl_context(options)


_sessions: dict = {}  # (TLS options, proxy plan) -> session, for this process (see _session)
_sessions_lock = threading.Lock()
_sessions_pid = [0]


def _session(options: TLSOptions, proxy: ProxyPlan | None = None, pool_size: int = 64) -> requests.Session:
    """One pooled keep-alive session per process, TLS configuration and proxy configuration, shared
    by all its threads: urllib3's pools are thread-safe, and `send()` uses none of the session's
    per-call state (it prepares requests itself and keeps no cookies). Shared, a thread that starts
    takes an idle connection instead of building its own session and connecting again (a worker
    has up to `connectors.worker.concurrency` threads), and a service sees far fewer connections.
    A forked process starts with none (never the parent's sockets)."""
    if options.client_cert_file:  # per-run temporary key files: never cached
        return _new_session(options, proxy, pool_size)
    key = (options, proxy)
    session = _sessions.get(key) if _sessions_pid[0] == os.getpid() else None
    if session is None:
        with _sessions_lock:
            if _sessions_pid[0] != os.getpid():
                _sessions.clear()
                _sessions_pid[0] = os.getpid()
            session = _sessions.get(key)
            if session is None:
                session = _sessions[key] = _new_session(options, proxy, pool_size)
    return session


def _new_session(options: TLSOptions, proxy: ProxyPlan | None, pool_size: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    # No cookie jar: a session is shared by every connector of the process, so a cookie one service
    # set would go with another connector's call (Kibana's axios keeps no cookies either).
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = GuardedAdapter(
        ssl_context=ssl_context_for(options),
        check_hostname=options.verification_mode == "full",
        proxy=proxy,
        pool_maxsize=max(64, pool_size),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# ---- the call -------------------------------------------------------------------------------------


def _prepare(session: requests.Session, method: str, url: str, headers: dict, data, json, auth):
    """The request `session.request()` would send, without its per-call merging: the session's
    default headers under ours (a header set to None is left out, as requests does), then requests'
    own steps for the URL, headers and body, and Basic auth (from `auth` or the URL's user-info) in
    UTF-8 (`basic_authorization`). Left out because they are no-ops for our
    sessions: cookies (a session keeps none: its policy refuses every cookie), params, hooks, netrc
    and proxies from the environment (`trust_env` is off). Measured: requests' merging (isinstance
    checks against typing protocols) was the largest part of a call's CPU in a busy worker."""
    merged = requests.structures.CaseInsensitiveDict(session.headers)  # none of these is None
    for name, value in headers.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    prepared = requests.PreparedRequest()
    prepared.prepare_method(method)
    prepared.prepare_url(url, None)
    prepared.prepare_headers(merged)
    prepared.prepare_body(data, None, json)
    credentials = auth or requests.utils.get_auth_from_url(prepared.url)
    if any(credentials):
        prepared.headers["Authorization"] = basic_authorization(*credentials)
    return prepared


def basic_authorization(user: str, password: str) -> str:
    """`Basic base64(user:password)` over the UTF-8 bytes, as Node (Kibana's axios) encodes it.
    requests' own `auth=` encodes Latin-1: a password with `€` could not be sent at all, one with `ä`
    went out as other bytes than Kibana sends (and than `connectors.redaction` looks for in echoes)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# `\u0000` in JSON text, not preceded by an odd number of backslashes (`\\u0000` is literal text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


@dataclass
class Response:
    """What a type sees of a response: status, headers, the capped body."""

    status_code: int
    reason: str
    headers: dict[str, str]
    content: bytes
    url: str
    elapsed: float = 0.0
    history: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    # What a type reads of the body has U+0000 replaced by U+FFFD: service messages built from it
    # end up in the event log and on run rows, and PostgreSQL's text and jsonb cannot hold a NUL
    # (the write would fail and the event be lost). `content` keeps the bytes as they came.
    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace").replace("\x00", "\ufffd")

    def json(self) -> Any:
        import json

        content = self.content
        if b"\\u0000" in content:
            content = _NUL_ESCAPE.sub(rb"\1\\ufffd", content)
        value = json.loads(content or b"null")
        # A lone surrogate escape (`\ud800`) decodes to text no database can store: replaced too.
        return replace_unstorable(value) if may_hold_unstorable(content) else value

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


def _network_error(exc: Exception, url: str) -> ConnectorUnreachable:
    """Name the failure as Node does (`[ECONNREFUSED] connect ECONNREFUSED host:port`)."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            reason = getattr(cause, "reason", None) or str(cause)
            return ConnectorUnreachable(
                "request failed", service_message=f"[CERT] TLS handshake failed: {reason}"
            )
        if isinstance(cause, OSError) and cause.errno:
            code = errno.errorcode.get(cause.errno, str(cause.errno))
            verb = "connect" if code in ("ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH") else "read"
            return ConnectorUnreachable("request failed", service_message=f"[{code}] {verb} {code} {where}")
        cause = (
            cause.__cause__
            or cause.__context__
            or (cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None)
        )
    text = str(exc)
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower():
        return ConnectorUnreachable("request failed", service_message=f"[ECONNRESET] socket hang up {where}")
    return ConnectorUnreachable(
        "request failed", service_message=f"[ECONNERROR] connection to {where} failed"
    )


def send(
    method: str,
    url: str,
    *,
    settings: KibanaConfig,
    headers: dict[str, str] | None = None,
    data: bytes | str | dict | None = None,
    json: Any = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    tls: TLSOptions | None = None,
    follow_redirects: bool = True,
    stream_callback=None,
) -> Response:
    """Send one request through every egress check. Returns the response, 2xx or not."""
    ensure_uri_allowed(url, settings)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressDenied(f"unable to parse url: {url}", error_source="user")
    request_timeout = max(settings["xpack.actions.responseTimeout"], timeout or 0)
    max_bytes = settings["xpack.actions.maxResponseContentLength"]
    merged_headers = {"User-Agent": USER_AGENT}
    merged_headers.update(headers or {})

    _local.settings = settings
    history: list[str] = []
    started = time.monotonic()
    if json is not None:
        # JSON.stringify's bytes, as axios sends them: no spaces, non-ASCII left as UTF-8.
        data = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        json = None
        if not any(name.lower() == "content-type" for name in merged_headers):
            merged_headers["Content-Type"] = "application/json"
    current_url, current_method, body, json_body = url, method.upper(), data, json
    # The status line and headers must arrive within the timeout for every caller; streaming
    # callers (AI streams) then read the body as long as the stream lasts, everyone else must have
    # the whole response by then.
    headers_due = started + request_timeout
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            _local.deadline = headers_due  # a streamed hop's longer deadline ends with that hop
            options = tls_for(current_url, settings, tls)
            proxy = proxy_plan_for(current_url, settings)
            if proxy is not None:
                ensure_proxied_target_permitted(current_url, settings)
            session = _session(options, proxy, settings["connectors.worker.concurrency"])
            try:
                prepared = _prepare(
                    session, current_method, current_url, merged_headers, body, json_body, auth
                )
                if _hop == 0:
                    _count_body(prepared.body)
                raw = session.get_adapter(current_url).send(
                    prepared,
                    stream=True,
                    # A later hop connects within what is left of the one deadline, not a fresh timeout.
                    timeout=_remaining(headers_due),
                    verify=options.verification_mode != "none",
                    cert=None,
                    proxies={"http": proxy.url, "https": proxy.url} if proxy else {},
                )
            except EgressDenied:
                raise
            except ConnectorUnreachable:
                raise
            except requests.exceptions.Timeout as exc:
                raise ConnectorTimeout(
                    "request failed",
                    service_message=f"[ETIMEDOUT] timeout of {int(request_timeout * 1000)}ms exceeded",
                ) from exc
            except requests.exceptions.RequestException as exc:
                inner = exc.args[0] if exc.args else None
                found = _find_connector_error(exc)
                if found is not None:
                    raise found from None
                raise _network_error(
                    exc if not isinstance(inner, BaseException) else inner, current_url
                ) from None
            if stream_callback is not None:
                # Headers are in: a stream (an AI answer) may last as long as a run may
                # (`connectors.actions.runTimeout`), never forever.
                _local.deadline = started + max(request_timeout, settings["connectors.actions.runTimeout"])
            try:
                deadline = _local.deadline if stream_callback is not None else headers_due
                content = _read_capped(raw, max_bytes, stream_callback, deadline)
            except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError) as exc:
                raise ConnectorTimeout(
                    "request failed",
                    service_message=f"[ETIMEDOUT] timeout of {int(request_timeout * 1000)}ms exceeded",
                ) from exc
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise _network_error(exc, current_url) from None
            finally:
                raw.close()
            location = raw.headers.get("Location")
            if follow_redirects and raw.status_code in (301, 302, 303, 307, 308) and location:
                next_url = urljoin(current_url, location)
                ensure_hostname_allowed(urlsplit(next_url).hostname or "", settings)
                history.append(current_url)
                if raw.status_code in (301, 302, 303) and current_method not in ("GET", "HEAD"):
                    current_method, body, json_body = "GET", None, None
                    merged_headers = _without(merged_headers, {"content-type", "content-length"})
                if _origin(next_url) != _origin(current_url):
                    _check_cross_origin_redirect(raw.status_code, current_url, next_url, body)
                    merged_headers = {
                        name: value
                        for name, value in merged_headers.items()
                        if name.lower() in HEADERS_KEPT_ACROSS_ORIGINS
                    }
                    auth = None
                current_url = next_url
                continue
            response = Response(
                status_code=raw.status_code,
                reason=raw.reason or "",
                headers=dict(raw.headers),
                content=content,
                url=current_url,
                elapsed=time.monotonic() - started,
                history=history,
            )
            if logger.isEnabledFor(logging.DEBUG):
                # Scheme, host and port only: a path can be a secret (Slack and Teams webhook URLs) and
                # the netloc can carry user:password. After redirects: the method and host that answered.
                final = urlsplit(current_url)
                logger.debug(
                    "%s %s://%s%s -> %s in %.0f ms",
                    current_method,
                    final.scheme,
                    final.hostname,
                    f":{final.port}" if final.port else "",
                    raw.status_code,
                    response.elapsed * 1000,
                )
            return response
        raise ConnectorUnreachable("request failed", service_message=f"more than {MAX_REDIRECTS} redirects")
    finally:
        _local.deadline = None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"  # never the path (it can be a secret) nor user-info


def _without(headers: dict[str, str], names: set[str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in names}


def _check_cross_origin_redirect(status: int, current_url: str, next_url: str, body: Any) -> None:
    """A redirect to another origin is followed without credentials (the caller drops them); these
    are the hops that are not followed at all."""
    current, target = _origin(current_url), _origin(next_url)
    if target[0] not in ("http", "https"):
        raise EgressDenied(
            f"redirect from {_origin_text(current_url)} to a {target[0]}: URL refused", error_source="user"
        )
    if current[0] == "https" and target[0] != "https":
        raise EgressDenied(
            f"redirect from {_origin_text(current_url)} to {_origin_text(next_url)} refused: "
            "a redirect never leaves https for plain http",
            error_source="user",
        )
    if status in (307, 308) and body is not None:
        raise EgressDenied(
            f"redirect ({status}) from {_origin_text(current_url)} to {_origin_text(next_url)} refused: "
            "the request body is sent again only to the same origin",
            error_source="user",
        )


def _find_connector_error(exc: BaseException):
    seen = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, EgressDenied | ConnectorUnreachable):
            return cause
        for arg in getattr(cause, "args", ()):
            if isinstance(arg, EgressDenied | ConnectorUnreachable):
                return arg
            if isinstance(arg, BaseException):
                found = _find_connector_error(arg)
                if found is not None:
                    return found
        cause = cause.__cause__ or cause.__context__
    return None


def _chunks(raw: requests.Response, deadline: float | None):
    """The body as it arrives. With a deadline, the whole answer must be in by then (as axios's
    `timeout` in Kibana): the socket timeout alone bounds each read, so a service that drips one byte
    at a time would otherwise hold the call, and its worker, for as long as it likes."""
    if deadline is None:
        yield from raw.iter_content(chunk_size=65536)
        return
    while True:
        chunk = raw.raw.read1(65536, decode_content=True)
        if not chunk:
            return
        yield chunk
        if time.monotonic() > deadline:
            raise requests.exceptions.ReadTimeout("the whole response took longer than the timeout")


def _read_capped(
    raw: requests.Response, max_bytes: int, stream_callback=None, deadline: float | None = None
) -> bytes:
    declared = raw.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(
            "request failed", service_message=f"maxContentLength size of {max_bytes} exceeded"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in _chunks(raw, deadline):
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(
                "request failed", service_message=f"maxContentLength size of {max_bytes} exceeded"
            )
        if stream_callback is not None:
            stream_callback(chunk)
        chunks.append(chunk)
    return b"".join(chunks)


# ---- retry rules shared by every type -------------------------------------------------------------


def retry_after(response: Response) -> datetime | None:
    """Kibana reads `Retry-After` as a base-10 whole number of seconds from now."""
    value = response.header("Retry-After")
    if value is None:
        return None
    try:
        seconds = int(value.strip(), 10)
    except ValueError:
        return None
    return datetime.now(UTC) + timedelta(seconds=seconds)


def retry_for_status(response: Response) -> bool | datetime:
    """The shared rule: 5xx retry later, 429 at Retry-After (or later), any other status is final."""
    if response.status_code >= 500:
        return True
    if response.status_code == 429:
        return retry_after(response) or True
    return False
