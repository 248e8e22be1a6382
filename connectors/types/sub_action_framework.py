"""Kibana's sub-action framework, written once for every sub-action connector type.

Params are `{subAction, subActionParams}`; each sub-action declares its own params schema and a
method. Errors come out as Kibana's do: an unknown sub-action or invalid sub-action params, and HTTP
failures rewritten to `Status code: N. Message: ...`, all surface as "an error occurred while running
the action" with the detail in `service_message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from connectors import egress, http, remote
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import UNEXPECTED_ERROR_MESSAGE, ConnectorError, EgressDenied
from connectors.remote import USER_ERROR_STATUSES
from connectors.schemas import Object, SchemaError, String
from connectors.tls_options import TLSOptions


@dataclass(frozen=True)
class SubAction:
    """One sub-action: the method that runs it and the schema of its `subActionParams`."""

    method: str
    params_schema: Object = field(default_factory=lambda: Object({}, strict=False))


class SubActionError(ConnectorError):
    """A failure inside a sub-action: Kibana's executor reports it as an unexpected error."""

    def __init__(self, detail: str, *, retry=True, error_source: str = "framework", status_code=None):
        super().__init__(
            UNEXPECTED_ERROR_MESSAGE,
            service_message=detail,
            retry=retry,
            error_source=error_source,
            status_code=status_code,
        )


class SubActionConnectorType(ConnectorType):
    """Subclass, fill `sub_actions`, and implement one method per sub-action: `method(ctx, params)`
    returning the data for the result (None becomes `{}`)."""

    sub_actions: ClassVar[dict[str, SubAction]] = {}
    params_schema = Object(
        {
            "subAction": String(label="Sub action"),
            # schema.object({}, {unknowns: 'allow'}): absent is {}, null is refused
            "subActionParams": Object({}, strict=False, default=dict, label="Sub action params"),
        }
    )

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        name = ctx.params["subAction"]
        sub_action = self.sub_actions.get(name)
        if sub_action is None:
            raise SubActionError(
                f'Sub action "{name}" is not registered. Connector id: {ctx.connector_id}. '
                f"Connector name: {self.name}. Connector type: {self.type_id}",
            )  # a plain Error in Kibana's executor: retry true, errorSource framework
        try:
            params = sub_action.params_schema.validate(ctx.params.get("subActionParams") or {}, "")
        except SchemaError as exc:
            # Kibana: createTaskRunError(new Error(`Request validation failed (${err})`), USER), and
            # `${err}` of a config-schema error reads "Error: <message>". Thrown, so retry is true.
            raise SubActionError(f"Request validation failed (Error: {exc})", error_source="user") from None
        method: Callable[[ExecutionContext, dict], Any] = getattr(self, sub_action.method)
        data = method(ctx, params)
        return ExecutionResult.success({} if data is None else data)

    # ---- HTTP for sub-actions ---------------------------------------------------------------------

    def response_error_message(self, response: http.Response) -> str:
        """What follows `Message:` in a rewritten HTTP error. Override for each service's body shape."""
        body = response.json_or_none()
        if isinstance(body, dict):
            for key in ("message", "error", "errorMessage"):
                value = body.get(key)
                if isinstance(value, str):
                    return value
                if isinstance(value, dict) and isinstance(value.get("message"), str):
                    return value["message"]
        return response.reason or "Unknown error"

    def no_response_error_message(self, failure: remote.RemoteCallFailed) -> str | None:
        """What follows `Message:` when the call got no answer (refused, reset, timed out), for the
        types whose Kibana getResponseErrorMessage words that case; None keeps the seam's own
        `[CODE] message`."""
        return None

    def request(
        self,
        ctx: ExecutionContext,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        tls: TLSOptions | None = None,
        stream_callback=None,
    ) -> http.Response:
        """Kibana's SubActionConnector.request: check and normalise the URL, send, rewrite errors."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SubActionError(f"URL Error: Invalid URL: {url}", retry=False, error_source="user")
        try:
            egress.ensure_uri_allowed(url, ctx.settings)
        except EgressDenied as exc:
            raise SubActionError(
                f"error configuring connector action: {exc.message}", retry=False, error_source="user"
            ) from None
        url = normalise_url(url)
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        if json is None and data is None and method.lower() in ("post", "put", "patch"):
            json = {}
        try:
            response = remote.call(
                ctx,
                method,
                url,
                headers=merged,
                json=json,
                data=data,
                auth=auth,
                timeout=timeout,
                tls=tls,
                stream_callback=stream_callback,
                check_status=False,
            )
        except remote.RemoteCallFailed as exc:
            unanswered = None if exc.refused else self.no_response_error_message(exc)
            if unanswered is not None:  # axios' error without a response: its status is undefined
                raise SubActionError(
                    f"Status code: undefined. Message: {unanswered}",
                    retry=exc.retry,
                    error_source=exc.error_source,
                ) from None
            raise SubActionError(exc.detail, retry=exc.retry, error_source=exc.error_source) from None
        if not response.ok:
            retry = http.retry_for_status(response)
            raise SubActionError(
                f"Status code: {response.status_code}. Message: {self.response_error_message(response)}",
                retry=retry,
                error_source="user" if response.status_code in USER_ERROR_STATUSES else "framework",
                status_code=response.status_code,
            )
        return response


def normalise_url(url: str) -> str:
    """Strip one trailing slash and collapse `//` outside the scheme, as Kibana does."""
    scheme, rest = url.split("://", 1)
    rest = re.sub(r"/{2,}", "/", rest)
    if rest.endswith("/"):
        rest = rest[:-1]
    return f"{scheme}://{rest}"
