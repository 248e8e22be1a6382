"""How API callers prove who they are: HTTP Basic (cached), the admin's session, and API keys.

Django's password hasher costs about 0.3 s of CPU per check, so a verified Basic credential is
remembered for a short time, keyed by a salted fast hash of the credential and dropped when the
password changes (the stored hash is part of the key).
"""

import base64
import hashlib
import hmac
import threading
import time

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from rest_framework import authentication

BASIC_CACHE_SECONDS = 60
_basic_cache: dict[str, tuple[float, int, str]] = {}
_basic_lock = threading.Lock()


def _credential_digest(username: str, password: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256
    ).hexdigest()


class BasicAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            from rest_framework.exceptions import AuthenticationFailed

            raise AuthenticationFailed("Unauthorized") from None
        digest = _credential_digest(username, password)
        now = time.monotonic()
        cached = _basic_cache.get(digest)
        if cached and cached[0] > now:
            user = get_user_model().objects.filter(pk=cached[1], is_active=True).first()
            if user is not None and hmac.compare_digest(user.password, cached[2]):
                return (user, None)
        user = authenticate(request=request._request, username=username, password=password)
        if user is None or not user.is_active:
            from rest_framework.exceptions import AuthenticationFailed

            raise AuthenticationFailed("Unauthorized")
        with _basic_lock:
            if len(_basic_cache) > 10000:
                _basic_cache.clear()
            _basic_cache[digest] = (now + BASIC_CACHE_SECONDS, user.pk, user.password)
        return (user, None)

    def authenticate_header(self, request):
        return 'Basic realm="connectors"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The admin's session. CSRF is covered by the required `kbn-xsrf` header (see the middleware)."""

    def enforce_csrf(self, request):
        return None
