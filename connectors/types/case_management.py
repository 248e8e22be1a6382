"""Pieces shared by the ITSM and case-management types (Jira, ServiceNow, Swimlane, cases webhook).

These types predate Kibana's sub-action framework: their params are a union on `subAction` validated
by the params schema itself (so a bad push fails with `error validating action params: ...`), and
their failures are thrown as `[Action][<name>]: <what>. Error: <HTTP client message>. Reason: ...`,
which the framework reports as "an error occurred while running the action".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors import http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import UNEXPECTED_ERROR_MESSAGE, ConnectorError
from connectors.remote import USER_ERROR_STATUSES, RemoteCallFailed
from connectors.schemas import (
    Array,
    Enum,
    Field,
    Object,
    OneOf,
    SchemaError,
    String,
    _prefix,
)


class Literal(Field):
    """`schema.literal(value)`."""

    kind = "literal"

    def __init__(self, value: Any, **kwargs):
        super().__init__(**kwargs)
        self.value = value

    @property
    def expected(self) -> str:  # for a missing value: "expected value to equal [x]" reads better
        return str(self.value)

    def validate(self, value: Any, path: str = "") -> Any:
        if value == self.value and type(value) is type(self.value):
            return value
        raise SchemaError(f"{_prefix(path)}expected value to equal [{self.value}]")

    def describe(self):
        return {**super().describe(), "choices": [self.value]}


class SubActionUnion(Object):
    """Kibana's `schema.oneOf([schema.object({subAction: literal(x), subActionParams: ...}), ...])`.

    An Object (so forms and start-up checks see `subAction` / `subActionParams`) that validates as the
    union does: the first alternative that fits wins, else every alternative's first error is listed."""

    def __init__(self, options: dict[str, Field | None]):
        super().__init__(
            {
                "subAction": Enum(tuple(options), label="Sub action"),
                "subActionParams": Object(
                    {}, strict=False, nullable=True, default=None, label="Sub action params"
                ),
            }
        )
        alternatives = []
        for name, params in options.items():
            fields: dict[str, Field] = {"subAction": Literal(name)}
            fields["subActionParams"] = params if params is not None else Object({}, strict=False)
            alternatives.append(Object(fields))
        self.union = OneOf(alternatives)
        self.names = tuple(options)

    def check(self, value: Any, path: str) -> Any:
        return self.union.check(value, path)


def sub_action_union(options: dict[str, Field | None]) -> SubActionUnion:
    return SubActionUnion(options)


class CommentId(String):
    """`schema.string()`, but a number is let through: Kibana's own docs examples send `commentId: 1`."""

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return super().check(value, path)


class NullableArray(Array):
    """`schema.nullable(schema.arrayOf(item))`: a nullable field lists what fails inside it under
    config-schema's union, e.g. `[3.subActionParams.comments]: types that failed validation:\n
     - [subActionParams.comments.0.0.x]: ...` inside a sub-action union."""

    def __init__(self, item: Field, **kwargs):
        super().__init__(item, nullable=True, default=None, **kwargs)


def comments_schema() -> NullableArray:
    """`comments: [{comment, commentId}] | null`."""
    return NullableArray(
        # the admin asks for each comment in its own row; the id numbers them (Kibana's forms send "1")
        Object(
            {"comment": String(label="Comment", widget="textarea"), "commentId": CommentId(widget="hidden")},
            strict=False,
        ),
        label="Additional comments",
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(value: str | None) -> str:
    """`new Date(value).toISOString()` for the timestamps Jira and friends return."""
    if not value:
        return now_iso()
    text = value.strip().replace(" ", "T", 1)
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0000 -> +00:00
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- one HTTP call, failing as axios does -----------------------------------------------------------


def ensure_valid_response(
    response: http.Response, method: str, url: str, required: Iterable[str] = ()
) -> Any:
    """Kibana's `throwIfResponseIsNotValid`; returns the parsed body."""
    if response.status_code == 204:
        return response.json_or_none()
    content_type = response.header("content-type") or "undefined"
    if "application/json" not in content_type:
        raise RemoteCallFailed(
            f"Unsupported content type: {content_type} in {method} {url}. "
            "Supported content types: application/json"
        )
    body = response.json_or_none()
    if not isinstance(body, dict):
        raise RemoteCallFailed("Response is not a valid JSON")
    required = list(required)
    if required and not all(key in body for key in required):
        raise RemoteCallFailed(
            f"Response is missing at least one of the expected fields: {','.join(required)}"
        )
    return body


def action_error(
    connector_name: str,
    text: str,
    *,
    status_code: int | None = None,
    cause: RemoteCallFailed | None = None,
) -> ConnectorError:
    """`[Action][<name>]: <text>`, reported as Kibana reports an executor that throws. The shared
    retry rule applies: 5xx, 429 and network failures retry; any other 4xx is final; a call the
    egress policy refused (`cause.refused`) is final and the user's."""
    refused = cause is not None and cause.refused is not None
    final = refused or (status_code is not None and 400 <= status_code < 500 and status_code != 429)
    return ConnectorError(
        UNEXPECTED_ERROR_MESSAGE,
        service_message=f"[Action][{connector_name}]: {text}",
        retry=not final,
        error_source="user" if refused or status_code in USER_ERROR_STATUSES else "framework",
        status_code=status_code,
    )


class UnionSubActionType(ConnectorType):
    """A type whose params are a union on `subAction`; `handlers` maps each to a method name.
    Sub-actions in the schema but not in `handlers` (`handshake`) fail as Kibana's do."""

    handlers: ClassVar[dict[str, str]] = {}

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        name = ctx.params["subAction"]
        method_name = self.handlers.get(name)
        if method_name is None:  # in the schema (handshake) but not run, as in Kibana
            known = name in getattr(self.params_schema, "names", ())
            detail = f"subAction {name} not implemented." if known else f"Unsupported subAction type {name}."
            raise ConnectorError(
                UNEXPECTED_ERROR_MESSAGE, service_message=f"[Action][ExternalService] {detail}", retry=True
            )
        method: Callable[[ExecutionContext, dict], Any] = getattr(self, method_name)
        data = method(ctx, ctx.params.get("subActionParams") or {})
        return ExecutionResult.success({} if data is None else data)


def push_comments(comments: list[dict] | None, create: Callable[[dict], dict]) -> list[dict[str, Any]] | None:
    """Kibana's pushToService tail: one call per non-empty comment, `[{commentId, pushedDate}]`."""
    if not comments:
        return None
    results = []
    for comment in comments:
        if not comment.get("comment"):
            continue
        created = create(comment)
        results.append({"commentId": comment["commentId"], "pushedDate": created["pushedDate"]})
    return results


class CaseConnectorMixin:
    """Kibana's `CaseConnector` (Resilient, TheHive): `pushToService` updates when `externalId` is set,
    else creates, then adds each comment; comments carry the push date."""

    def push_to_service(self, ctx: ExecutionContext, params: dict) -> dict:
        incident = dict(params["incident"])
        external_id = incident.pop("externalId", None)
        if external_id is not None:
            result = self.update_incident(ctx, external_id, incident)
        else:
            result = self.create_incident(ctx, incident)
        comments = params.get("comments")
        if comments:
            result["comments"] = []
            for comment in comments:
                self.add_comment(ctx, result["id"], comment["comment"])
                result["comments"].append(
                    {"commentId": comment["commentId"], "pushedDate": result["pushedDate"]}
                )
        return result


def epoch_ms_iso(value: Any) -> str:
    """ISO-8601 for a JavaScript timestamp in milliseconds (or any date string `iso()` reads)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (
            datetime.fromtimestamp(value / 1000, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
    return iso(value)
