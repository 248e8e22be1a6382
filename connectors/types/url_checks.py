"""URL checks the catalog types share: does it parse, is it allowed, and a webhook URL (itself the
credential) named only by its origin in messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from connectors import egress
from connectors.exceptions import EgressDenied
from connectors.settings_file import KibanaConfig


def parses(url: str) -> bool:
    """`new URL(url)` succeeds (we also insist on a scheme and a host, as every caller needs them)."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.hostname)


def check_webhook_url(url: str, settings: KibanaConfig, action: str) -> str | None:
    """Slack/Teams secrets check: `error configuring <action> action: ...`."""
    if not parses(url):
        return f"error configuring {action} action: unable to parse host name from webhookUrl"
    try:
        egress.ensure_uri_allowed(url, settings)
    except EgressDenied as exc:
        return f"error configuring {action} action: {without_secret_url(exc.message, url)}"
    return None


def check_connector_url(url: str, settings: KibanaConfig) -> str | None:
    """The case and sub-action types' config check of their API URL: Kibana's `error configuring
    connector action: <reason>` when allowedHosts or the address checks refuse it."""
    try:
        egress.ensure_uri_allowed(url, settings)
    except EgressDenied as exc:
        return f"error configuring connector action: {exc.message}"
    return None


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def without_secret_url(text: str, url: str) -> str:
    """A webhook URL is itself the credential: messages name only its origin (Kibana names it all)."""
    return text.replace(url, origin(url)) if url else text


def assert_url(url: str) -> str | None:
    """Kibana's sub-action `assertURL`: the problem with `url`, worded as Kibana words it, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"URL Error: Invalid URL: {url}"
    if not parts.scheme or not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*\Z", parts.scheme) or "://" not in url:
        return f"URL Error: Invalid URL: {url}"
    if not parts.hostname:
        return "URL Error: URL must contain hostname"
    if parts.scheme not in ("http", "https"):
        return "URL Error: Invalid protocol"
    return None
