"""`.gemini`: Google Gemini on Vertex AI, authorised with a service account through google-auth.

google-auth builds and signs the JWT grant; its token request goes through `connectors.http` (a small
transport adapter below), to the credentials' `token_uri` unless `connectors.serviceUrls[".gemini"]`
names another token endpoint (tests point it at a local server).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
import google.auth.transport
from google.oauth2 import service_account

from connectors import http, oauth
from connectors.base import ExecutionContext
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Any_, Array, Number, Object, SchemaError, String
from connectors.types.ai_common import (
    AI_RUN_PARAMS,
    DASHBOARD_PARAMS,
    NOT_RECOGNIZED,
    GenerativeAIConnectorType,
    absent,
    ai_invoke_params,
    ai_test_params_schema,
    api_error_message,
    check_ai_url,
)
from connectors.types.sub_action_framework import SubAction, SubActionError

DEFAULT_URL = "https://us-central1-aiplatform.googleapis.com"
DEFAULT_MODEL = "gemini-2.5-pro"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
DEFAULT_TIMEOUT_MS = 60_000
TEST_BODY = json.dumps(
    {
        "contents": [{"role": "user", "parts": [{"text": "Hello world"}]}],
        "generation_config": {"temperature": 0, "maxOutputTokens": 8192},
    }
)

RUN_PARAMS = AI_RUN_PARAMS
INVOKE_PARAMS = ai_invoke_params(
    systemInstruction=String(nullable=True, default=None),
    maxOutputTokens=Number(nullable=True, default=None),
    toolConfig=Any_(nullable=True, default=None),
    tools=Any_(nullable=True, default=None),
)
RUN_RESPONSE = Object(
    {
        "candidates": Array(
            Object(
                {"content": Object({"parts": Array(Object({"text": String()}, strict=False))}, strict=False)},
                strict=False,
            )
        ),
        "usageMetadata": Object({}, strict=False, nullable=True, default=None),
    },
    strict=False,
)


class _TransportResponse(google.auth.transport.Response):
    def __init__(self, response: http.Response):
        self._response = response

    @property
    def status(self):
        return self._response.status_code

    @property
    def headers(self):
        return self._response.headers

    @property
    def data(self):
        return self._response.content


class TokenRequestRefused(google.auth.exceptions.GoogleAuthError):
    """The egress policy refused the token endpoint: final, unlike a TransportError."""


class SeamRequest(google.auth.transport.Request):
    """google-auth's transport interface, carried by `connectors.http.send`."""

    def __init__(self, settings):
        self.settings = settings

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            response = http.send(
                method, url, settings=self.settings, headers=headers, data=body, timeout=timeout
            )
        except EgressDenied as exc:
            raise TokenRequestRefused(exc.message) from None
        except ConnectorError as exc:
            raise google.auth.exceptions.TransportError(exc.service_message or exc.message) from None
        return _TransportResponse(response)


class GeminiConnector(GenerativeAIConnectorType):
    type_id = ".gemini"
    name = "Google Gemini"
    description = "Send requests to Google Gemini."
    icon = "logoGoogleG"
    config_schema = Object(
        {
            "apiUrl": String(default=DEFAULT_URL, label="URL"),
            "defaultModel": String(default=DEFAULT_MODEL, label="Default model"),
            "gcpRegion": String(label="GCP region"),
            "gcpProjectID": String(label="GCP project ID"),
            "contextWindowLength": Number(nullable=True, default=absent, label="Context window length"),
            "temperature": Number(nullable=True, default=absent, label="Temperature"),
        }
    )
    secrets_schema = Object(
        {"credentialsJson": String(secret=True, label="Credentials JSON", widget="textarea")}
    )
    test_params_schema = ai_test_params_schema(TEST_BODY)
    sub_actions = {
        "run": SubAction("run_api", RUN_PARAMS),
        "test": SubAction("run_api", RUN_PARAMS),
        "invokeAI": SubAction("invoke_ai", INVOKE_PARAMS),
        "invokeAIRaw": SubAction("invoke_ai_raw", INVOKE_PARAMS),
        "invokeStream": SubAction("invoke_stream", INVOKE_PARAMS),
        "getDashboard": SubAction("get_dashboard", DASHBOARD_PARAMS),
    }

    def check_config(self, config, settings):
        return check_ai_url("Google Gemini", config["apiUrl"], settings)

    def response_error_message(self, response: http.Response) -> str:
        body = response.json_or_none()
        body = body if isinstance(body, dict) else {}
        error = body.get("error")
        message = body.get("message")
        if error:
            error = error if isinstance(error, dict) else {}
            status = f"{error['status']}: " if error.get("status") else ""
            return f"API Error: {status}{error.get('message') or ''}"
        if response.status_code == 400 and message == NOT_RECOGNIZED:
            return f"API Error: {message}"
        return api_error_message(response, message)

    # ---- auth ---------------------------------------------------------------------------------------

    def access_token(self, ctx: ExecutionContext) -> str:
        cached = oauth.cached_token(ctx.connector_id)
        if cached:
            return cached
        try:
            info = json.loads(ctx.secrets["credentialsJson"])
            if not isinstance(info, dict):
                raise ValueError
        except ValueError:
            raise SubActionError(
                "Failed to parse credentials JSON file: Invalid JSON format", retry=False, error_source="user"
            ) from None
        token_uri = ctx.settings.service_url(self.type_id, info.get("token_uri") or DEFAULT_TOKEN_URI)
        try:
            credentials = service_account.Credentials.from_service_account_info(
                {**info, "token_uri": token_uri}, scopes=SCOPES
            )
            credentials.refresh(SeamRequest(ctx.settings))
        except (ValueError, KeyError) as exc:
            raise SubActionError(
                f"Unable to create access token: invalid service account credentials ({type(exc).__name__})",
                retry=False,
                error_source="user",
            ) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            detail = exc.args[0] if exc.args else type(exc).__name__
            # Network failures and 5xx are worth a retry; a refused grant (401/400) is final.
            retry = isinstance(exc, google.auth.exceptions.TransportError) or bool(
                getattr(exc, "retryable", False)
            )
            raise SubActionError(
                f"Unable to retrieve access token: {detail}",
                retry=retry,
                error_source="framework" if retry else "user",
            ) from None
        expiry = credentials.expiry.replace(tzinfo=UTC) if credentials.expiry else None
        oauth.store_token(
            ctx.connector_id, credentials.token, expiry or datetime.now(UTC) + timedelta(seconds=3000)
        )
        return credentials.token

    # ---- requests -----------------------------------------------------------------------------------

    def model_url(self, ctx: ExecutionContext, model: str | None, method: str) -> str:
        config = ctx.config
        return (
            f"{config['apiUrl'].rstrip('/')}/v1/projects/{config['gcpProjectID']}/locations/{config['gcpRegion']}"
            f"/publishers/google/models/{model or config['defaultModel']}:{method}"
        )

    def _post(self, ctx, url: str, body: str, timeout_ms, stream_callback=None) -> http.Response:
        token = self.access_token(ctx)
        return self.request(
            ctx,
            "post",
            url,
            data=body.encode("utf-8"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=(timeout_ms or DEFAULT_TIMEOUT_MS) / 1000,
            stream_callback=stream_callback,
        )

    def run_api(self, ctx: ExecutionContext, params: dict) -> Any:
        url = self.model_url(ctx, params.get("model"), "generateContent")
        data = self._post(ctx, url, params["body"], params.get("timeout")).json_or_none()
        if params.get("raw"):
            return data
        try:
            RUN_RESPONSE.validate(data if data is not None else {}, "")
        except SchemaError as exc:
            raise SubActionError(f"Response validation failed (Error: {exc})") from None
        return {
            "completion": data["candidates"][0]["content"]["parts"][0]["text"],
            "usageMetadata": data.get("usageMetadata"),
        }

    def invoke_body(self, ctx: ExecutionContext, params: dict, with_tools: bool = False) -> str:
        """Kibana's formatGeminiPayload: roles mapped (assistant -> model), consecutive user turns
        joined into one, pre-formatted `parts` rows passed through."""
        payload: dict[str, Any] = {
            "contents": [],
            "generation_config": {"temperature": params.get("temperature") or 0},
        }
        if params.get("maxOutputTokens") is not None:
            payload["generation_config"]["maxOutputTokens"] = params["maxOutputTokens"]
        if params.get("systemInstruction"):
            payload["system_instruction"] = {"parts": [{"text": params["systemInstruction"]}]}
        tool_config = params.get("toolConfig")
        if tool_config:
            calling = {"mode": tool_config.get("mode")}
            if tool_config.get("allowedFunctionNames") is not None:
                calling["allowed_function_names"] = tool_config["allowedFunctionNames"]
            payload["tool_config"] = {"function_calling_config": calling}
        payload["safety_settings"] = [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}
        ]
        previous = None
        for row in params["messages"]:
            role = "model" if row["role"] == "assistant" else "user"
            if row.get("parts"):
                payload["contents"].append(row)
            elif role == "user" and previous == "user":
                payload["contents"][-1]["parts"][0]["text"] += f" {row.get('content')}"
            else:
                payload["contents"].append({"role": role, "parts": [{"text": row.get("content")}]})
            previous = role
        if with_tools and params.get("tools") is not None:
            payload["tools"] = params["tools"]
        return json.dumps(payload)

    def invoke_ai(self, ctx: ExecutionContext, params: dict) -> dict:
        result = self.run_api(
            ctx,
            {
                "body": self.invoke_body(ctx, params),
                "model": params.get("model"),
                "timeout": params.get("timeout"),
            },
        )
        return {"message": result["completion"], "usageMetadata": result.get("usageMetadata")}

    def invoke_ai_raw(self, ctx: ExecutionContext, params: dict) -> Any:
        return self.run_api(
            ctx,
            {
                "body": self.invoke_body(ctx, params, with_tools=True),
                "model": params.get("model"),
                "timeout": params.get("timeout"),
                "raw": True,
            },
        )

    def invoke_stream(self, ctx: ExecutionContext, params: dict) -> str:
        url = self.model_url(ctx, params.get("model"), "streamGenerateContent") + "?alt=sse"
        chunks: list[bytes] = []
        self._post(
            ctx, url, self.invoke_body(ctx, params), params.get("timeout"), stream_callback=chunks.append
        )
        return b"".join(chunks).decode("utf-8", errors="replace")
