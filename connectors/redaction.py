"""Scrub a connector's own secrets out of what a run returns.

A remote service may repeat what it was sent in its error message (the Basic header, a token, a
webhook URL); that message then flows into the `_execute` answer, the admin's Test tab, the event
log and `last_error`. `scrub_result()` replaces every occurrence of a secret value, and of the Basic
encoding of any two secret-or-config strings, with `[REDACTED]`, before the result leaves the
executor. Values shorter than MIN_LENGTH are left alone (a username such as `u` would wreck messages).
`scrubbed_traceback()` does the same for the traceback of an exception a type raised, which carries
the exception's message (and those of its causes) into the log.
"""

from __future__ import annotations

import base64
import dataclasses
import traceback
from typing import Any

REDACTED = "[REDACTED]"
MIN_LENGTH = 6


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


def secret_needles(secrets: Any) -> list[str]:
    """The secret strings, and the Basic-auth encodings (`user:password`) built from them, longest first."""
    values = [s for s in _strings(secrets) if s]
    needles = {s for s in values if len(s) >= MIN_LENGTH}
    for user in values:
        for password in values:
            if user is not password and len(password) >= MIN_LENGTH:
                needles.add(base64.b64encode(f"{user}:{password}".encode()).decode())
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
