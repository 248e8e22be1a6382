"""`.gen-ai`: OpenAI, Azure OpenAI and other OpenAI-compatible chat-completion services.

Sub-actions `run`/`test` (a raw JSON body), `invokeAI` (messages in, `{message, usage}` out), `stream`
and `invokeStream` (server-sent events passed through), `getDashboard`. The official OpenAI host can be
redirected with `connectors.serviceUrls: {".gen-ai": ...}` (tests point it at a local server).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from typing import Any

from connectors import http
from connectors.base import ExecutionContext
from connectors.exceptions import ConfigurationError
from connectors.schemas import (
    MISSING,
    Any_,
    Array,
    Boolean,
    Enum,
    Number,
    Object,
    OneOf,
    Record,
    SchemaError,
    String,
)
from connectors.tls_options import TLSOptions
from connectors.types.ai_common import (
    DASHBOARD_PARAMS,
    GenerativeAIConnectorType,
    absent,
    ai_test_params_schema,
    check_ai_url,
)
from connectors.types.sub_action_framework import SubAction, SubActionError

OPENAI = "OpenAI"
AZURE = "Azure OpenAI"
OTHER = "Other"
UNION_ORDER = (AZURE, OPENAI, OTHER)  # the order of Kibana's config oneOf
PROVIDERS = (OPENAI, AZURE, OTHER)
OPENAI_ORIGIN = "https://api.openai.com"
OPENAI_CHAT_URL = f"{OPENAI_ORIGIN}/v1/chat/completions"
OPENAI_LEGACY_COMPLETION_URL = f"{OPENAI_ORIGIN}/v1/completions"
DEFAULT_OPENAI_MODEL = "gpt-4.1"
DEFAULT_TIMEOUT_MS = 200_000
AZURE_STREAMING_PATH = re.compile(
    r"/openai/deployments/[^/]+/(chat/completions|completions|extensions/chat/completions)"
)
UNRECOGNIZED_FORMAT = "An error occurred sending your message. \n\nAPI Error: The response from OpenAI was in an unrecognized format."
TEST_BODY = '{"messages":[{"role":"user","content":"Hello world"}]}'

RUN_PARAMS = Object(
    {
        "body": String(label="Body", widget="code"),
        "signal": Any_(nullable=True, default=None),
        "timeout": Number(nullable=True, default=None),
        "telemetryMetadata": Any_(nullable=True, default=None),
    }
)
STREAM_PARAMS = Object(
    {
        "body": String(),
        "stream": Boolean(default=False),
        "signal": Any_(nullable=True, default=None),
        "timeout": Number(nullable=True, default=None),
        "telemetryMetadata": Any_(nullable=True, default=None),
    }
)
MESSAGE = Object(
    {
        "role": String(),
        "content": OneOf([String(), Array(Any_())], nullable=True, default=None),
        "name": String(nullable=True, default=None),
        "function_call": Any_(nullable=True, default=None),
        "tool_calls": Any_(nullable=True, default=None),
        "tool_call_id": String(nullable=True, default=None),
    },
    strict=False,
)
INVOKE_PARAMS = Object(
    {
        "messages": Array(MESSAGE),
        "model": String(nullable=True, default=None),
        "tools": Any_(nullable=True, default=None),
        "tool_choice": Any_(nullable=True, default=None),
        "functions": Any_(nullable=True, default=None),
        "function_call": Any_(nullable=True, default=None),
        "n": Number(nullable=True, default=None),
        "stop": Any_(nullable=True, default=None),
        "temperature": Number(nullable=True, default=None),
        "response_format": Any_(nullable=True, default=None),
        "signal": Any_(nullable=True, default=None),
        "timeout": Number(nullable=True, default=None),
        "telemetryMetadata": Any_(nullable=True, default=None),
    }
)
INTERNAL_KEYS = ("signal", "timeout", "telemetryMetadata")
RUN_RESPONSE = Object(
    {
        "usage": Object(
            {"prompt_tokens": Number(), "completion_tokens": Number(), "total_tokens": Number()}, strict=False
        ),
        "choices": Array(
            Object(
                {
                    "message": Object(
                        {"role": String(), "content": String(nullable=True, default=None)}, strict=False
                    )
                },
                strict=False,
            )
        ),
    },
    strict=False,
)


def parse_sse_usage(text: str) -> dict | None:
    """The `usage` of the last SSE chunk that has one (OpenAI sends it with include_usage)."""
    usage = None
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            continue
        if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
    return usage


class OpenAIConnector(GenerativeAIConnectorType):
    type_id = ".gen-ai"
    name = "OpenAI"
    description = "Send requests to OpenAI, Azure OpenAI or another OpenAI-compatible service."
    icon = "logoOpenAI"
    escape = "json"  # rule runs render `run`/`test` bodies as JSON
    config_schema = Object(
        {
            "apiProvider": String(
                label="Select an OpenAI provider",
                help="OpenAI, Azure OpenAI or Other",
                choices=(OPENAI, AZURE, OTHER),
            ),
            "apiUrl": String(label="URL"),
            "organizationId": String(nullable=True, default=absent, label="OpenAI Organization"),
            "projectId": String(nullable=True, default=absent, label="OpenAI Project"),
            "defaultModel": String(nullable=True, default=absent, label="Default model"),
            "headers": Record(String(), nullable=True, default=absent, label="Headers"),
            "contextWindowLength": Number(nullable=True, default=absent, label="Context window length"),
            "temperature": Number(nullable=True, default=absent, label="Temperature"),
            "verificationMode": Enum(
                ("full", "certificate", "none"), nullable=True, default=absent, label="Verification mode"
            ),
            "enableNativeFunctionCalling": Boolean(
                nullable=True, default=absent, label="Native function calling"
            ),
        }
    )
    secrets_schema = Object(
        {
            "apiKey": String(nullable=True, default=None, secret=True, label="API key"),
            "certificateData": String(
                nullable=True, default=None, secret=True, label="Certificate (base64 PEM)"
            ),
            "privateKeyData": String(
                nullable=True, default=None, secret=True, label="Private key (base64 PEM)"
            ),
            "caData": String(nullable=True, default=None, secret=True, label="CA certificate (base64 PEM)"),
        }
    )
    test_params_schema = ai_test_params_schema(TEST_BODY)
    sub_actions = {
        "run": SubAction("run_api", RUN_PARAMS),
        "test": SubAction("run_api", RUN_PARAMS),
        "stream": SubAction("stream_api", STREAM_PARAMS),
        "invokeAI": SubAction("invoke_ai", INVOKE_PARAMS),
        "invokeStream": SubAction("invoke_stream", INVOKE_PARAMS),
        # Kibana hands back the OpenAI SDK's async iterator; over HTTP the same SSE text is all there is.
        "invokeAsyncIterator": SubAction("invoke_stream", INVOKE_PARAMS),
        "getDashboard": SubAction("get_dashboard", DASHBOARD_PARAMS),
    }

    # ---- validation -------------------------------------------------------------------------------

    def validate_config(self, config, settings):
        try:
            cleaned = super().validate_config(config, settings)
        except ConfigurationError as exc:
            raise ConfigurationError(self._as_union(config, exc.message)) from None
        if cleaned["apiProvider"] == OPENAI and not cleaned.get("defaultModel"):
            cleaned["defaultModel"] = DEFAULT_OPENAI_MODEL
        return cleaned

    @staticmethod
    def _as_union(config: Any, message: str) -> str:
        """Kibana's config schema is `oneOf([azure, openai, other])`, each object with a one-literal
        `apiProvider`: a schema failure lists every option (a missing apiProvider is "expected at
        least one defined value"; another provider's option fails on its literal)."""
        prefix = "error validating action type config: "
        detail = message.removeprefix(prefix)
        provider = config.get("apiProvider", MISSING) if isinstance(config, dict) else MISSING
        lines = []
        for index, option in enumerate(UNION_ORDER):
            if provider is MISSING:
                lines.append(
                    f"- [{index}.apiProvider]: expected at least one defined value but got [undefined]"
                )
            elif provider != option:
                lines.append(f"- [{index}.apiProvider]: expected value to equal [{option}]")
            elif detail.startswith("["):
                lines.append(f"- [{index}.{detail[1:]}")
            else:
                return message  # the option's schema held; a custom check (URL, allowed hosts) spoke
        if provider is not MISSING and provider not in PROVIDERS:
            return message  # "API Provider is not supported: X" (spec §3.16)
        return prefix + "types that failed validation:\n" + "\n".join(lines)

    def check_config(self, config, settings):
        provider = config["apiProvider"]
        if provider == OTHER and not config.get("defaultModel"):  # the Other option's schema
            return "[defaultModel]: expected value of type [string] but got [undefined]"
        problem = check_ai_url("OpenAI", config["apiUrl"], settings)
        if problem:
            return problem
        if provider not in PROVIDERS:
            suffix = f": {provider}" if provider else ""
            return f"Error configuring OpenAI action: Error: API Provider is not supported{suffix}"
        return None

    def check_secrets(self, secrets, settings):
        pki = secrets.get("certificateData") or secrets.get("privateKeyData")
        if not secrets.get("apiKey") and not pki:
            return "[apiKey]: expected value of type [string] but got [undefined]"
        if pki:
            if not secrets.get("certificateData") or not secrets.get("privateKeyData"):
                return "Both certificateData and privateKeyData are required for PKI authentication"
            if "-----BEGIN CERTIFICATE-----" not in _b64(secrets["certificateData"]):
                return "Invalid certificate format: must be a PEM-encoded certificate"
            if "-----BEGIN PRIVATE KEY-----" not in _b64(secrets["privateKeyData"]):
                return "Invalid private key format: must be a PEM-encoded private key"
        return None

    def check_connector(self, config, secrets):
        if (secrets.get("certificateData") or secrets.get("privateKeyData")) and config[
            "apiProvider"
        ] != OTHER:
            return "PKI authentication is only supported for the Other provider"
        return None

    # ---- the request --------------------------------------------------------------------------------

    def response_error_message(self, response: http.Response) -> str:
        body = response.json_or_none()
        error = body.get("error") if isinstance(body, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        if response.status_code == 401:
            return f"Unauthorized API Error{f' - {detail}' if detail else ''}"
        if detail is None and isinstance(error, str):
            detail = error
        message = f"API Error: {response.reason}{f' - {detail}' if detail else ''}"
        if (
            response.status_code == 404
            and ctx_provider(response) == AZURE
            and detail
            and "Unrecognized request argument supplied: functions" in detail
        ):
            message += " \n\nFunction support with Azure OpenAI API was added in 2023-07-01-preview. Update your API version."
        return message

    def target_url(self, ctx: ExecutionContext) -> str:
        url = ctx.config["apiUrl"]
        if url.startswith(OPENAI_ORIGIN + "/") or url == OPENAI_ORIGIN:
            origin = ctx.settings.service_url(self.type_id, OPENAI_ORIGIN).rstrip("/")
            return origin + url[len(OPENAI_ORIGIN) :]
        return url

    def headers(self, ctx: ExecutionContext) -> dict[str, str]:
        config = ctx.config
        headers = dict(config.get("headers") or {})
        if config.get("organizationId"):
            headers["OpenAI-Organization"] = config["organizationId"]
        if config.get("projectId"):
            headers["OpenAI-Project"] = config["projectId"]
        api_key = ctx.secrets.get("apiKey")
        if config["apiProvider"] == AZURE:
            if api_key:
                headers["api-key"] = api_key
        elif api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        headers["Content-Type"] = "application/json"
        return headers

    def prepare_body(self, ctx: ExecutionContext, body: str, stream: bool) -> str:
        """Kibana's per-provider sanitising: force `stream`, add the default model where it applies."""
        config = ctx.config
        provider, url = config["apiProvider"], config["apiUrl"]
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        if not isinstance(parsed, dict):
            return body
        if provider == OPENAI:
            if url not in (OPENAI_CHAT_URL, OPENAI_LEGACY_COMPLETION_URL):
                return body
            self._set_stream(parsed, stream)
            parsed["model"] = parsed.get("model") or config.get("defaultModel")
            if not parsed.get("tools"):
                parsed.pop("tool_choice", None)
                parsed.pop("parallel_tool_calls", None)
            if not parsed.get("functions"):
                parsed.pop("function_call", None)
        elif provider == AZURE:
            if not AZURE_STREAMING_PATH.search(url):
                return body
            self._set_stream(parsed, stream)
            if config.get("defaultModel") and not parsed.get("model"):
                parsed["model"] = config["defaultModel"]
        else:
            self._set_stream(parsed, stream)
            if config.get("defaultModel") and not parsed.get("model"):
                parsed["model"] = config["defaultModel"]
        return json.dumps(parsed)

    @staticmethod
    def _set_stream(parsed: dict, stream: bool) -> None:
        parsed["stream"] = stream
        if stream:
            parsed["stream_options"] = {"include_usage": True}
        else:
            parsed.pop("stream_options", None)

    @contextlib.contextmanager
    def _tls(self, ctx: ExecutionContext) -> Iterator[TLSOptions | None]:
        config, secrets = ctx.config, ctx.secrets
        if config["apiProvider"] != OTHER or not secrets.get("certificateData"):
            yield None
            return
        with tempfile.TemporaryDirectory() as folder:
            paths = {}
            for name in ("certificateData", "privateKeyData"):
                paths[name] = os.path.join(folder, name)
                descriptor = os.open(paths[name], os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(_b64(secrets[name]))
            yield TLSOptions(
                verification_mode=config.get("verificationMode") or "full",
                ca_pem=_b64(secrets["caData"]) if secrets.get("caData") else None,
                client_cert_file=paths["certificateData"],
                client_key_file=paths["privateKeyData"],
            )

    def _post(
        self, ctx: ExecutionContext, body: str, timeout_ms: float | None, stream_callback=None
    ) -> http.Response:
        with self._tls(ctx) as tls:
            return self.request(
                ctx,
                "post",
                self.target_url(ctx),
                data=body.encode("utf-8"),
                headers=self.headers(ctx),
                timeout=(timeout_ms or DEFAULT_TIMEOUT_MS) / 1000,
                tls=tls,
                stream_callback=stream_callback,
            )

    # ---- sub-actions --------------------------------------------------------------------------------

    def run_api(self, ctx: ExecutionContext, params: dict) -> dict:
        response = self._post(
            ctx, self.prepare_body(ctx, params["body"], stream=False), params.get("timeout")
        )
        data = response.json_or_none()
        try:
            RUN_RESPONSE.validate(data if data is not None else {}, "")
        except SchemaError as exc:
            raise SubActionError(f"Response validation failed (Error: {exc})") from None
        return data

    def stream_api(self, ctx: ExecutionContext, params: dict) -> Any:
        if not params.get("stream"):
            return self.run_api(ctx, params)
        chunks: list[bytes] = []
        self._post(
            ctx,
            self.prepare_body(ctx, params["body"], stream=True),
            params.get("timeout"),
            stream_callback=chunks.append,
        )
        text = b"".join(chunks).decode("utf-8", errors="replace")
        usage = parse_sse_usage(text)
        if usage:
            ctx.logger.debug("gen-ai stream usage for %s: %s", ctx.connector_id, usage)
        return text

    @staticmethod
    def _invoke_body(params: dict) -> str:
        payload = {k: v for k, v in params.items() if k not in INTERNAL_KEYS and v is not None}
        payload["messages"] = [{k: v for k, v in m.items() if v is not None} for m in params["messages"]]
        return json.dumps(payload)

    def invoke_ai(self, ctx: ExecutionContext, params: dict) -> dict:
        data = self.run_api(ctx, {"body": self._invoke_body(params), "timeout": params.get("timeout")})
        usage = data.get("usage")
        choices = data.get("choices") or []
        content = choices[0].get("message", {}).get("content") if choices else None
        if content:
            return {"message": content.strip(), "usage": usage}
        return {
            "message": UNRECOGNIZED_FORMAT,
            "usage": usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def invoke_stream(self, ctx: ExecutionContext, params: dict) -> Any:
        return self.stream_api(
            ctx, {"body": self._invoke_body(params), "stream": True, "timeout": params.get("timeout")}
        )


def ctx_provider(response: http.Response) -> str:
    return AZURE if "openai.azure.com" in response.url or "/openai/deployments/" in response.url else OPENAI


def _b64(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
