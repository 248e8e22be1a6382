"""Calling a service through the HTTP seam, with every failure as one exception that each type family
words in its own way (Kibana's sub-action framework, the ITSM and case types)."""

from __future__ import annotations

import re
from typing import Any

from connectors import http
from connectors.base import ExecutionContext
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.tls_options import TLSOptions

# `createAndThrowUserError`: failures with these statuses are the user's, not the framework's.
USER_ERROR_STATUSES = {401, 402, 403, 407, 409, 412, 413, 417, 422, 423, 429, 451}


class RemoteCallFailed(Exception):
    """A failed call: `message` is what axios' error message would be; `response` when there is one."""

    def __init__(self, message: str, response: http.Response | None = None, *, retry: bool = True):
        super().__init__(message)
        self.message = message
        self.response = response
        self.retry = retry
        self.code: str | None = None  # axios' error.code (ECONNREFUSED, ...)
        # What the seam said, before the code prefix was taken off, and whose failure it was.
        self.detail = message
        self.error_source = "framework"
        # The egress policy's reason when the call was refused before it left: never retryable.
        self.refused: str | None = None

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def body(self) -> Any:
        return self.response.json_or_none() if self.response is not None else None


def call(
    ctx: ExecutionContext,
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    tls: TLSOptions | None = None,
    timeout: float | None = None,
    stream_callback=None,
    check_status: bool = True,
) -> http.Response:
    """Send through the seam. A failure to get an answer raises `RemoteCallFailed`; so does a
    non-2xx answer (`Request failed with status code N`) unless `check_status` is off."""
    try:
        response = http.send(
            method,
            url,
            settings=ctx.settings,
            headers=headers,
            json=json,
            data=data,
            auth=auth,
            tls=tls,
            timeout=timeout,
            stream_callback=stream_callback,
        )
    except ConnectorError as exc:
        detail = exc.service_message or exc.message
        failure = RemoteCallFailed(re.sub(r"^\[[A-Z_]+\] ", "", detail), retry=bool(exc.retry))
        code = re.match(r"^\[([A-Z_]+)\] ", detail)
        failure.code = code.group(1) if code else None
        failure.detail, failure.error_source = detail, exc.error_source
        if isinstance(exc, EgressDenied):
            failure.refused = exc.message
        raise failure from None
    if check_status and not response.ok:
        raise RemoteCallFailed(f"Request failed with status code {response.status_code}", response)
    return response
