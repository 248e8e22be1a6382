"""Login rate limiting: failed sign-ins lock out their username and client address for a while.

One rule for the admin's login form and for the API's Basic and ApiKey credentials:

- failures are counted per (client address, username) — for API keys the key id stands in for the
  username — and per client address alone, over `connectors.security.login.window`;
- at `connectors.security.login.maxFailures` further attempts for that (address, username) are
  refused *without checking the credential* for `connectors.security.login.lockout`;
- at `maxFailuresPerAddress` the address is locked out too, but only for credentials that do not
  verify: a right password or API key still gets in, so one noisy client behind a shared address
  cannot lock everyone else out;
- the lockout ends by itself (bounded); a successful sign-in clears the (address, username) count.

Counters live in Django's cache (`CACHES`): Redis when REDIS_URL is set, else per process.
The client address is `REMOTE_ADDR`, or, when that is one of `connectors.security.trustedProxies`,
the `X-Forwarded-For` entry `connectors.security.forwardedForHops` places from its right end.
"""

from __future__ import annotations

import hashlib
import ipaddress
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
        if self.retry_after < 60:
            wait = f"{self.retry_after} second{'s' if self.retry_after != 1 else ''}"
        else:
            minutes = -(-self.retry_after // 60)  # rounded up: "try in 15 minutes", not 900 seconds
            wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        return f"Too many failed login attempts. Try again in {wait}."


def client_address(request) -> str:
    """Who is signing in. Behind a trusted proxy, the address that proxy saw (each trusted proxy
    appends the address it received the request from to `X-Forwarded-For`, so the entry `hops`
    from the right was written by ours; entries further left are whatever the client sent)."""
    meta = getattr(request, "META", {}) or {}
    remote = meta.get("REMOTE_ADDR") or "unknown"
    config = get_config()
    proxies = config["connectors.security.trustedProxies"]
    if not proxies or not _in_networks(remote, proxies):
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    hops = config["connectors.security.forwardedForHops"]
    candidate = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address: the proxy did not write it; count it on the proxy
        return remote


def _in_networks(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in networks)


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{PREFIX}{kind}:{digest}"


def _keys(request, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
    address = client_address(request)
    return (
        (_key("fail-user", address, username), _key("lock-user", address, username)),
        (_key("fail-addr", address), _key("lock-addr", address)),
    )


def _lockout(lock_key: str) -> Lockout | None:
    now = time.time()
    until = cache.get(lock_key)
    if until is None or until <= now:
        return None
    return Lockout(retry_after=max(1, math.ceil(until - now)))


def check(request, username: str) -> Lockout | None:
    """The lockout in force for this username from this address, if any: refuse unchecked."""
    (_user_fail, user_lock), _address_keys = _keys(request, username)
    return _lockout(user_lock)


def check_address(request) -> Lockout | None:
    """The lockout in force for the whole address, if any: it refuses only credentials that do
    not verify, so callers check the credential first and ask this on failure."""
    _user_keys, (_address_fail, address_lock) = _keys(request, "")
    return _lockout(address_lock)


def record_failure(request, username: str) -> Lockout | None:
    """Count one failure; returns the lockout that now refuses it (one it starts, or the address's)."""
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
    return started or check_address(request)


def record_success(request, username: str) -> None:
    (user_fail, _user_lock), _address_keys = _keys(request, username)
    cache.delete(user_fail)


def reset_all() -> None:
    """Tests: forget every counter and lockout."""
    cache.clear()
