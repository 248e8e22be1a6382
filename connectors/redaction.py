"""Scrub a connector's own secrets out of what a run returns.

A remote service may repeat what it was sent in its error message (the Basic header, a token, a
webhook URL), or the access token minted from them; that message then flows into the `_execute`
answer, the admin's Test tab, the event log and `last_error`. `scrub_result()` replaces every occurrence of a secret value, and of the Basic
encoding of any two secret-or-config strings (and the base64 forms SMTP AUTH sends them in, which a
mail server may quote in its refusal), with `[REDACTED]`, before the result leaves the
executor. Values shorter than MIN_LENGTH are left alone (a username such as `u` would wreck messages).

An echo is rarely verbatim, so each secret is also looked for in the shapes it takes on the way back:
JSON-escaped (a type re-encodes the body it got), percent-encoded (a form or URL it was sent in) and,
for a secret URL (a Slack or Teams webhook, xMatters' `secretsUrl`), its path and query, each query
value and the password of its user-info, which a service quotes without the rest of the URL.
`scrubbed_traceback()` does the same for the traceback of an exception a type raised, which carries
the exception's message (and those of its causes) into the log. Text from a service is never cut
before it is scrubbed: a type that shortens it uses `clip()`, which scrubs first.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

REDACTED = "[REDACTED]"
MIN_LENGTH = 6

# What the running connector must not let out: its secrets, and what a run minted from them.
_hidden: ContextVar[list | None] = ContextVar("connectors_run_secrets", default=None)


@contextlib.contextmanager
def run_secrets(secrets: Any) -> Iterator[list]:
    """For the run inside: its connector's (validated) secrets, and the credentials minted from them
    (OAuth access tokens, reported by `connectors.oauth` through `note_minted`), which are secrets of
    the run as well. Yields both, as `scrub_result()` takes them; `clip()` reads them from here."""
    hidden: list = [secrets, []]
    reset = _hidden.set(hidden)
    try:
        yield hidden
    finally:
        _hidden.reset(reset)


def note_minted(value: Any) -> None:
    """Count `value` (an `Authorization` value such as `Bearer <token>`, or a bare token) among the
    running connector's secrets; the token alone too, since a service may quote only that."""
    hidden = _hidden.get()
    if hidden is None or not isinstance(value, str) or not value:
        return
    found = hidden[1]
    found.append(value)
    _scheme, _space, token = value.partition(" ")
    if token:
        found.append(token)


def clip(text: str, limit: int) -> str:
    """`text` (what a remote service said) cut to `limit` characters, the running connector's secrets
    redacted first. The one way to shorten a service's words: cut before `scrub_result()` sees them,
    a secret split by the cut keeps its first characters, which no needle matches any more."""
    hidden = _hidden.get()
    if hidden is not None:
        text = scrub(text, secret_needles(hidden))
    return text[:limit]


def _strings(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(_strings(item))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(_strings(item))
    return found


def _url_parts(value: str) -> list[str]:
    """What a service may quote of a secret URL on its own: path and query, path, query, each query
    value, the user-info's password. Empty when `value` is not an http(s) URL."""
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return []
    except ValueError:
        return []
    found = [parts.path, parts.query, parts.password or ""]
    if parts.query:
        found.append(f"{parts.path}?{parts.query}")
        for raw in parts.query.split("&"):  # as sent, and decoded as a service reads it
            found.append(raw.partition("=")[2])
        found.extend(item for _name, item in parse_qsl(parts.query, keep_blank_values=True))
    if parts.password:
        found.append(unquote(parts.password))
    return found


def _shapes(value: str) -> set[str]:
    """`value` as it may come back: as sent, JSON-escaped (ASCII-only or not) and percent-encoded."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        quote(value, safe="!#$%&'()*+,/:;=?@[]~"),  # a URL as requests re-quotes it
    }


def _base64(value: str) -> str:
    """Without the padding, which a server quoting it may drop."""
    return base64.b64encode(value.encode()).decode().rstrip("=")


def secret_needles(secrets: Any) -> list[str]:
    """The secret strings in every shape an echo gives them (see the module's docstring), and the
    Basic-auth (`user:password`) and SMTP AUTH (each value; `\\0user\\0password`) encodings built
    from them, longest first."""
    values = [s for s in _strings(secrets) if s]
    needles: set[str] = set()
    for value in values:
        for piece in (value, *_url_parts(value)):
            if len(piece) >= MIN_LENGTH:
                needles.update(_shapes(piece))
        if len(value) >= MIN_LENGTH:  # SMTP AUTH LOGIN sends each value in base64 on its own line
            needles.add(_base64(value))
    for user in values:
        for password in values:
            if user is not password and len(password) >= MIN_LENGTH:
                needles.add(base64.b64encode(f"{user}:{password}".encode()).decode())
                needles.add(_base64(f"\0{user}\0{password}"))  # SMTP AUTH PLAIN's argument
    return sorted(needles, key=len, reverse=True)


def scrub(value: Any, needles: list[str]) -> Any:
    """`value` (a string, or dicts and lists of them) with every needle replaced by REDACTED."""
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, needles) for item in value]
    return value


def scrub_result(result, secrets: Any):
    """The result with every secret value in message, service_message and data replaced."""
    needles = secret_needles(secrets)
    if not needles or result is None:
        return result
    return dataclasses.replace(
        result,
        message=scrub(result.message, needles),
        service_message=scrub(result.service_message, needles),
        data=scrub(result.data, needles),
    )


def scrubbed_traceback(exc: BaseException, secrets: Any) -> str:
    """The exception's traceback, causes and context included, with every secret value replaced."""
    text = "".join(traceback.format_exception(exc))
    return scrub(text, secret_needles(secrets))
