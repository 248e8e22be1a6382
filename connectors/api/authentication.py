"""How API callers prove who they are: HTTP Basic (cached), API keys, and the admin's session.

- Basic: Django's password hasher costs about 0.3 s of CPU per check, so a verified credential is
  remembered for a short time, keyed by a salted fast hash of the credential. The cached entry holds
  the user's stored password hash, so changing the password (or deactivating the user) drops it.
- ApiKey: `Authorization: ApiKey base64(<id>:<key>)`, as Elasticsearch API keys are sent to Kibana.
  Keys carry 256 random bits, so one SHA-256 (compared in constant time) is a safe and cheap check.
  Revoked and expired keys are refused; `last_used_at` is written at most once a minute per key.
- Session: the admin's login. CSRF is covered by the required `kbn-xsrf` header (see the middleware).

Every failure is the same 401 (`Unauthorized`), whatever went wrong, so the answer tells nothing.
Repeated failures lock the username (or key id) out for a while from that address: 429 with
`Too many failed login attempts. Try again in N seconds.` (connectors/login_limits.py). Many
failures from one address lock the address out for credentials that do not verify only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed

from connectors import login_limits
from connectors.api.errors import KibanaError
from connectors.auth_backends import active_user
from connectors.prepared import PreparedGet

BASIC_CACHE_SECONDS = 60
BASIC_CACHE_MAX_ENTRIES = 10_000
API_KEY_LAST_USED_GRANULARITY = timedelta(seconds=60)
WWW_AUTHENTICATE = 'Basic realm="connectors", ApiKey'

_basic_cache: dict[str, tuple[float, int, str]] = {}
_basic_lock = threading.Lock()


def _credential_digest(username: str, password: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256
    ).hexdigest()


def _decode_pair(encoded: str) -> tuple[str, str]:
    """`base64(a:b)` -> (a, b); anything malformed is a plain 401."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("Unauthorized") from None
    first, sep, second = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("Unauthorized")
    return first, second


def _refuse_if_locked_out(request, username: str) -> None:
    """Login rate limiting (connectors/login_limits.py): a locked-out (address, username) hears 429,
    unchecked. The address's own lockout is applied in `_fail`, after the credential failed."""
    lockout = login_limits.check(request, username)
    if lockout is not None:
        raise KibanaError(lockout.message, 429)


def _fail(request, username: str):
    lockout = login_limits.record_failure(request, username)
    if lockout is not None:
        raise KibanaError(lockout.message, 429)
    raise AuthenticationFailed("Unauthorized")


# The rows every authenticated request reads, with their SQL built once (connectors/prepared.py).
_api_key_by_id = PreparedGet(lambda pk: _api_key_model().objects.select_related("user").filter(pk=pk))


def _api_key_model():
    from connectors.models import ApiKey

    return ApiKey


def clear_basic_cache() -> None:
    with _basic_lock:
        _basic_cache.clear()


class BasicAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if header[:6].lower() != "basic ":
            return None
        username, password = _decode_pair(header[6:])
        _refuse_if_locked_out(request, username)
        digest = _credential_digest(username, password)
        now = time.monotonic()
        cached = _basic_cache.get(digest)
        if cached and cached[0] > now:
            # One query per request keeps the cache honest across processes: a changed password or
            # a deactivated user stops matching at once, whichever process made the change.
            user = active_user(cached[1])
            if user is not None and hmac.compare_digest(user.password, cached[2]):
                return (user, None)
            with _basic_lock:
                _basic_cache.pop(digest, None)
        user = authenticate(request=request._request, username=username, password=password)
        if user is None or not user.is_active:
            _fail(request, username)
        login_limits.record_success(request, username)
        with _basic_lock:
            if len(_basic_cache) >= BASIC_CACHE_MAX_ENTRIES:
                _basic_cache.clear()
            _basic_cache[digest] = (now + BASIC_CACHE_SECONDS, user.pk, user.password)
        return (user, None)

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE


# ---- API keys ------------------------------------------------------------------------------------


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> tuple[str, str]:
    """A new (id, key) pair. The id is public; the key is shown once and stored only as a hash."""
    return secrets.token_hex(10), secrets.token_urlsafe(32)


def encode_api_key(key_id: str, key: str) -> str:
    """The value clients send after `ApiKey ` (Elasticsearch calls it `encoded`)."""
    return base64.b64encode(f"{key_id}:{key}".encode()).decode()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "apikey "

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if header[: len(self.keyword)].lower() != self.keyword:
            return None
        key_id, key = _decode_pair(header[len(self.keyword) :])
        limit_name = f"apikey:{key_id}"
        _refuse_if_locked_out(request, limit_name)

        api_key = _api_key_by_id(pk=key_id)
        # Hash even when the id is unknown, so timing does not tell which ids exist.
        presented = hash_api_key(key)
        stored = api_key.key_hash if api_key is not None else "0" * 64
        if api_key is None or not hmac.compare_digest(presented, stored):
            _fail(request, limit_name)
        now = timezone.now()
        if api_key.revoked_at is not None or (api_key.expires_at is not None and api_key.expires_at <= now):
            raise AuthenticationFailed("Unauthorized")
        if not api_key.user.is_active:
            raise AuthenticationFailed("Unauthorized")
        if api_key.last_used_at is None or now - api_key.last_used_at >= API_KEY_LAST_USED_GRANULARITY:
            _api_key_model().objects.filter(pk=api_key.pk).update(last_used_at=now)
        return (api_key.user, api_key)

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE


class SessionAuthentication(authentication.SessionAuthentication):
    """The admin's session. CSRF is covered by the required `kbn-xsrf` header (see the middleware)."""

    def enforce_csrf(self, request):
        return None
