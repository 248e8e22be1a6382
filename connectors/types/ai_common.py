"""Pieces the generative-AI types share (OpenAI, Bedrock, Gemini): their base class (license,
features, the dashboard sub-action), the URL check of their config, their `run`/`test` and
`invokeAI` params, Bedrock's and Gemini's API error words, and the Test tab's params."""

from __future__ import annotations

from connectors import egress, http
from connectors.exceptions import EgressDenied
from connectors.schemas import MISSING, Any_, Array, Boolean, Field, Number, Object, String
from connectors.types.sub_action_framework import SubActionConnectorType
from connectors.types.url_checks import assert_url

NOT_RECOGNIZED = "The requested operation is not recognized by the service."


class GenerativeAIConnectorType(SubActionConnectorType):
    """A generative-AI type: Kibana's enterprise license and the three generative-AI features."""

    minimum_license = "enterprise"
    supported_feature_ids = (
        "generativeAIForSecurity",
        "generativeAIForObservability",
        "generativeAIForSearchPlayground",
    )

    def no_response_error_message(self, failure) -> str:
        """OpenAI's, Bedrock's and Gemini's getResponseErrorMessage when axios has no response."""
        return f"Unexpected API Error: {failure.code or ''} - {failure.message or 'Unknown error'}"

    def get_dashboard(self, ctx, params: dict) -> dict:
        """`getDashboard`: there is no Kibana dashboard here; token usage lives in each run's result
        and event."""
        return {"available": False}


def absent():
    """A schema default meaning `schema.maybe(...)`: a missing key stays missing (not stored as null)."""
    return MISSING


def api_error_message(response: http.Response, message: str | None) -> str:
    """Bedrock's and Gemini's words for a failed call (their getResponseErrorMessage), after the
    type's own cases: `message` is the `message` of the JSON body, if any."""
    if response.status_code == 401:
        return f"Unauthorized API Error{f': {message}' if message else ''}"
    return f"API Error: {response.reason}{f' - {message}' if message else ''}"


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
# What every AI call may carry besides its input (the last keys of Kibana's sub-action schemas).
CALL_OPTIONS: dict[str, Field] = {
    "signal": Any_(nullable=True, default=None),
    "timeout": Number(nullable=True, default=None),
    "telemetryMetadata": Any_(nullable=True, default=None),
}


def ai_invoke_params(**own: Field) -> Object:
    """`invokeAI`/`invokeAIRaw`/`invokeStream` params of Bedrock and Gemini (Kibana declares an
    InvokeAIActionParamsSchema for each): the messages, model, temperature and stop sequences they
    share, then the type's `own` keys in order, then the call options."""
    return Object(
        {
            "messages": Array(Object({"role": String(), "content": Any_()}, strict=False)),
            "model": String(nullable=True, default=None),
            "temperature": Number(nullable=True, default=None),
            "stopSequences": Array(String(), nullable=True, default=None),
            **own,
            **CALL_OPTIONS,
        }
    )


def ai_test_params_schema(test_body: str) -> Object:
    """The Test tab of an AI type: the `test` sub-action with the type's "Hello world" body."""
    return Object(
        {
            "subAction": String(default="test", widget="hidden"),
            "subActionParams": Object({"body": String(label="Body", widget="code", default=test_body)}),
        }
    )
