"""Login rate limiting: failed sign-ins lock out their username and client address for a while.

One rule for the admin's login form and for the API's Basic and ApiKey credentials:

- failures are counted per (client address, username) — for API keys the key id stands in for the
  username — and per client address alone, over `connectors.security.login.window`;
- at `connectors.security.login.maxFailures` (or `maxFailuresPerAddress` for the address alone)
  further attempts are refused *without checking the credential* for
  `connectors.security.login.lockout`; the refusal says so and when to try again;
- the lockout ends by itself (bounded); a successful sign-in clears the (address, username) count.

Counters live in Django's cache (`CACHES`): Redis when REDIS_URL is set, else per process.
The client address is `REMOTE_ADDR`: forwarded headers are not trusted.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

from connectors.conf import get_config

PREFIX = "connectors:login:"


@dataclass(frozen=True)
class Lockout:
    retry_after: int  # seconds

    @property
    def message(self) -> str:
        return (
            "Too many failed login attempts. Try again in "
            f"{self.retry_after} second{'s' if self.retry_after != 1 else ''}."
        )


def _address(request) -> str:
    return (getattr(request, "META", {}) or {}).get("REMOTE_ADDR") or "unknown"


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{PREFIX}{kind}:{digest}"


def _keys(request, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
    address = _address(request)
    return (
        (_key("fail-user", address, username), _key("lock-user", address, username)),
        (_key("fail-addr", address), _key("lock-addr", address)),
    )


def check(request, username: str) -> Lockout | None:
    """The lockout in force for this username from this address, if any."""
    now = time.time()
    until = max(cache.get_many([lock for _fail, lock in _keys(request, username)]).values(), default=None)
    if until is None or until <= now:
        return None
    return Lockout(retry_after=max(1, math.ceil(until - now)))


def record_failure(request, username: str) -> Lockout | None:
    """Count one failure; returns the lockout it starts, if it reaches a limit."""
    config = get_config()
    window = max(1, math.ceil(config["connectors.security.login.window"]))
    lockout = max(1, math.ceil(config["connectors.security.login.lockout"]))
    limits = (
        config["connectors.security.login.maxFailures"],
        config["connectors.security.login.maxFailuresPerAddress"],
    )
    started = None
    for (fail_key, lock_key), limit in zip(_keys(request, username), limits, strict=True):
        cache.add(fail_key, 0, timeout=window)
        try:
            count = cache.incr(fail_key)
        except ValueError:  # expired between add and incr
            cache.set(fail_key, 1, timeout=window)
            count = 1
        if count >= limit:
            cache.set(lock_key, time.time() + lockout, timeout=lockout)
            cache.delete(fail_key)
            started = Lockout(retry_after=lockout)
    return started


def record_success(request, username: str) -> None:
    (user_fail, _user_lock), _address_keys = _keys(request, username)
    cache.delete(user_fail)


def reset_all() -> None:
    """Tests: forget every counter and lockout."""
    cache.clear()
