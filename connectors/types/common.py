"""Small pieces several catalog types share: URL checks and Kibana's user-error statuses."""

from __future__ import annotations

from urllib.parse import urlsplit

from connectors import egress, http
from connectors.exceptions import UNEXPECTED_ERROR_MESSAGE, ConnectorError, EgressDenied
from connectors.remote import USER_ERROR_STATUSES  # noqa: F401  (the types import it from here)
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


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def without_secret_url(text: str, url: str) -> str:
    """A webhook URL is itself the credential: messages name only its origin (Kibana names it all)."""
    return text.replace(url, origin(url)) if url else text


def thrown_user_error(response: http.Response) -> ConnectorError:
    """What `createAndThrowUserError` becomes once the framework catches it: Kibana's generic message,
    the axios text as the detail, a user error. Final: a 4xx does not get better by retrying."""
    return ConnectorError(
        UNEXPECTED_ERROR_MESSAGE,
        service_message=f"Request failed with status code {response.status_code}",
        status_code=response.status_code,
        retry=False,
        error_source="user",
    )
