"""Pieces the generative-AI types share (OpenAI, Bedrock, Gemini): the URL check of their config,
their `run`/`test` params, the dashboard sub-action and the Test tab's params."""

from __future__ import annotations

from connectors import egress
from connectors.exceptions import EgressDenied
from connectors.schemas import MISSING, Any_, Boolean, Number, Object, String
from connectors.types.url_checks import assert_url


def absent():
    """A schema default meaning `schema.maybe(...)`: a missing key stays missing (not stored as null)."""
    return MISSING


def check_ai_url(product: str, url: str, settings) -> str | None:
    """The generative-AI config validator: `Error configuring <product> action: Error: <problem>`."""
    problem = assert_url(url)
    if problem is None:
        try:
            egress.ensure_uri_allowed(url, settings)
        except EgressDenied as exc:
            problem = f"error validating url: {exc.message}"
    return f"Error configuring {product} action: Error: {problem}" if problem else None


# ---- schemas shared by the generative-AI types ----------------------------------------------------

# `run`/`test` params of Bedrock and Gemini (Kibana declares the same schema for each).
AI_RUN_PARAMS = Object(
    {
        "body": String(label="Body", widget="code"),
        "model": String(nullable=True, default=None),
        "signal": Any_(nullable=True, default=None),
        "timeout": Number(nullable=True, default=None),
        "raw": Boolean(nullable=True, default=None),
        "telemetryMetadata": Any_(nullable=True, default=None),
    }
)
DASHBOARD_PARAMS = Object({"dashboardId": String()})


def ai_test_params_schema(test_body: str) -> Object:
    """The Test tab of an AI type: the `test` sub-action with the type's "Hello world" body."""
    return Object(
        {
            "subAction": String(default="test", widget="hidden"),
            "subActionParams": Object({"body": String(label="Body", widget="code", default=test_body)}),
        }
    )
