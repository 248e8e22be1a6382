"""`.bedrock`: Amazon Bedrock's InvokeModel API, SigV4-signed by botocore (no hand-written crypto)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer, ParserError

from connectors import http
from connectors.base import ExecutionContext
from connectors.schemas import Any_, Array, Number, Object, SchemaError, String
from connectors.types.ai_common import (
    AI_RUN_PARAMS,
    CALL_OPTIONS,
    DASHBOARD_PARAMS,
    NOT_RECOGNIZED,
    GenerativeAIConnectorType,
    absent,
    ai_invoke_params,
    ai_test_params_schema,
    api_error_message,
    check_ai_url,
)
from connectors.types.sub_action_framework import SubAction, SubActionError, normalise_url

DEFAULT_URL = "https://bedrock-runtime.us-east-1.amazonaws.com"
DEFAULT_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
DEFAULT_REGION = "us-east-1"
DEFAULT_TIMEOUT_MS = 200_000
DEFAULT_TOKEN_LIMIT = 8191
ANTHROPIC_VERSION = "bedrock-2023-05-31"
TEST_BODY = json.dumps(
    {
        "anthropic_version": ANTHROPIC_VERSION,
        "messages": [{"content": "Hello world", "role": "user"}],
        "max_tokens": DEFAULT_TOKEN_LIMIT,
        "stop_sequences": ["\n\nHuman:"],
    }
)

RUN_PARAMS = AI_RUN_PARAMS
INVOKE_PARAMS = ai_invoke_params(
    system=String(nullable=True, default=None),
    maxTokens=Number(nullable=True, default=None),
    anthropicVersion=String(nullable=True, default=None),
    tools=Any_(nullable=True, default=None),
    toolChoice=Any_(nullable=True, default=None),
)
CONVERSE_PARAMS = Object(
    {
        "messages": Array(Any_()),
        "model": String(nullable=True, default=None),
        "stopSequences": Array(String(), nullable=True, default=None),
        "system": Any_(nullable=True, default=None),
        "temperature": Number(nullable=True, default=None),
        "maxTokens": Number(nullable=True, default=None),
        "tools": Any_(nullable=True, default=None),
        "toolChoice": Any_(nullable=True, default=None),
        **CALL_OPTIONS,
    }
)
LATEST_RESPONSE = Object(
    {
        "content": Array(
            Object({"type": String(), "text": String(nullable=True, default=None)}, strict=False)
        ),
        "stop_reason": String(nullable=True, default=None),
        "usage": Object({}, strict=False, nullable=True, default=None),
    },
    strict=False,
)


def region_of(config: dict) -> str:
    if config.get("region"):
        return config["region"]
    match = re.search(r"bedrock-runtime\.([a-z0-9-]+)\.amazonaws\.com", config["apiUrl"])
    return match.group(1) if match else DEFAULT_REGION


def uses_deprecated_arguments(body: str) -> bool:
    """A Claude 2 style body (`prompt`) gets the raw completion response back."""
    try:
        return "prompt" in json.loads(body)
    except (ValueError, TypeError):
        return False


def parse_content(content: list[dict]) -> str:
    texts = [part.get("text") for part in content]
    if len(content) == 1 and content[0].get("type") == "text" and texts[0]:
        return texts[0]
    return "".join(f"\n{text}" for text in texts if text) if len(content) > 1 else ""


class BedrockConnector(GenerativeAIConnectorType):
    type_id = ".bedrock"
    name = "Amazon Bedrock"
    description = "Send requests to Amazon Bedrock."
    icon = "logoAWS"
    config_schema = Object(
        {
            "apiUrl": String(default=DEFAULT_URL, label="URL"),
            "defaultModel": String(default=DEFAULT_MODEL, label="Default model"),
            "region": String(nullable=True, default=absent, label="Region"),
            "contextWindowLength": Number(nullable=True, default=absent, label="Context window length"),
        }
    )
    secrets_schema = Object(
        {"accessKey": String(secret=True, label="Access key"), "secret": String(secret=True, label="Secret")}
    )
    test_params_schema = ai_test_params_schema(TEST_BODY)
    sub_actions = {
        "run": SubAction("run_api", RUN_PARAMS),
        "test": SubAction("run_api", RUN_PARAMS),
        "invokeAI": SubAction("invoke_ai", INVOKE_PARAMS),
        "invokeAIRaw": SubAction("invoke_ai_raw", INVOKE_PARAMS),
        "invokeStream": SubAction("invoke_stream", INVOKE_PARAMS),
        "converse": SubAction("converse", CONVERSE_PARAMS),
        "converseStream": SubAction("converse_stream", CONVERSE_PARAMS),
        "getDashboard": SubAction("get_dashboard", DASHBOARD_PARAMS),
    }

    def check_config(self, config, settings):
        return check_ai_url("Amazon Bedrock", config["apiUrl"], settings)

    def response_error_message(self, response: http.Response) -> str:
        body = response.json_or_none()
        message = body.get("message") if isinstance(body, dict) else None
        if response.status_code == 400 and message == NOT_RECOGNIZED:
            return (
                f"API Error: {message}\n\nThe Kibana Connector in use may need to be reconfigured with an updated "
                "Amazon Bedrock endpoint, like `bedrock-runtime`."
            )
        return api_error_message(response, message)

    # ---- signing ----------------------------------------------------------------------------------

    def signed_post(
        self, ctx: ExecutionContext, path: str, body: str, accept: str, timeout_ms, stream_callback=None
    ) -> http.Response:
        url = normalise_url(f"{ctx.config['apiUrl']}{path}")
        headers = {"Content-Type": "application/json", "Accept": accept}
        if accept != "*/*":  # streams, as Kibana signs them
            headers["x-amzn-bedrock-accept"] = "*/*"
        aws_request = AWSRequest(method="POST", url=url, data=body.encode("utf-8"), headers=headers)
        credentials = Credentials(ctx.secrets["accessKey"], ctx.secrets["secret"])
        SigV4Auth(credentials, "bedrock", region_of(ctx.config)).add_auth(aws_request)
        signed = {key: value for key, value in aws_request.headers.items()}
        return self.request(
            ctx,
            "post",
            url,
            data=body.encode("utf-8"),
            headers=signed,
            timeout=(timeout_ms or DEFAULT_TIMEOUT_MS) / 1000,
            stream_callback=stream_callback,
        )

    @staticmethod
    def model_path(model: str) -> str:
        return quote(unquote(model), safe="")

    # ---- sub-actions --------------------------------------------------------------------------------

    def run_api(self, ctx: ExecutionContext, params: dict) -> Any:
        model = params.get("model") or ctx.config["defaultModel"]
        response = self.signed_post(
            ctx, f"/model/{self.model_path(model)}/invoke", params["body"], "*/*", params.get("timeout")
        )
        data = response.json_or_none()
        if params.get("raw") or uses_deprecated_arguments(params["body"]):
            return data
        try:
            LATEST_RESPONSE.validate(data if data is not None else {}, "")
        except SchemaError as exc:
            raise SubActionError(f"Response validation failed (Error: {exc})") from None
        return {
            "completion": parse_content(data["content"]),
            "stop_reason": data.get("stop_reason"),
            "usage": data.get("usage"),
        }

    @staticmethod
    def invoke_body(params: dict) -> str:
        """Kibana's formatBedrockBody: `system` messages lifted out, consecutive same-role string
        messages joined with a newline, temperature 0 and 8191 tokens unless given."""
        system = params.get("system") or ""
        messages: list[dict] = []
        for message in params["messages"]:
            role, content = message.get("role"), message.get("content")
            if role == "system":
                system = f"{system}\n{content}" if system else str(content)
                continue
            last = messages[-1] if messages else None
            if (
                last
                and last["role"] == role
                and isinstance(last["content"], str)
                and isinstance(content, str)
            ):
                last["content"] = f"{last['content']}\n{content}"
            elif role in ("user", "assistant"):
                messages.append({"content": content, "role": role})
        body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION}
        if system:
            body["system"] = system
        body["messages"] = messages
        body["max_tokens"] = params.get("maxTokens") or DEFAULT_TOKEN_LIMIT
        if params.get("stopSequences") is not None:
            body["stop_sequences"] = params["stopSequences"]
        body["temperature"] = params.get("temperature") or 0
        if params.get("tools") is not None:
            body["tools"] = params["tools"]
        if params.get("toolChoice") is not None:
            body["tool_choice"] = params["toolChoice"]
        return json.dumps(body)

    @staticmethod
    def raw_body(params: dict) -> str:
        """invokeAIRaw sends the messages untouched."""
        body = {
            "messages": params["messages"],
            "stop_sequences": params.get("stopSequences"),
            "system": params.get("system"),
            "temperature": params.get("temperature"),
            "max_tokens": params.get("maxTokens") or DEFAULT_TOKEN_LIMIT,
            "tools": params.get("tools"),
            "tool_choice": params.get("toolChoice"),
            "anthropic_version": params.get("anthropicVersion"),
        }
        return json.dumps({key: value for key, value in body.items() if value is not None})

    def invoke_ai(self, ctx: ExecutionContext, params: dict) -> dict:
        result = self.run_api(
            ctx,
            {
                "body": self.invoke_body(params),
                "model": params.get("model"),
                "timeout": params.get("timeout"),
            },
        )
        return {"message": result["completion"].strip(), "usage": result.get("usage")}

    def invoke_ai_raw(self, ctx: ExecutionContext, params: dict) -> Any:
        return self.run_api(
            ctx,
            {
                "body": self.invoke_body(params),
                "model": params.get("model"),
                "timeout": params.get("timeout"),
                "raw": True,
            },
        )

    def _event_stream(self, ctx: ExecutionContext, path: str, body: str, timeout_ms, to_event) -> str:
        """POST and read an AWS event stream (botocore's parser), one `data:` event per message."""
        buffer = EventStreamBuffer()
        events: list[str] = []

        def feed(data: bytes) -> None:
            buffer.add_data(data)
            for message in buffer:
                if message.headers.get(":message-type") == "exception":
                    raise SubActionError(
                        f"API Error: {message.headers.get(':exception-type')} - {message.payload.decode(errors='replace')}"
                    )
                event = to_event(message)
                if event is not None:
                    events.append(f"data: {event}\n\n")

        try:
            self.signed_post(
                ctx, path, body, "application/vnd.amazon.eventstream", timeout_ms, stream_callback=feed
            )
        except ParserError as exc:
            raise SubActionError(f"Unable to read the Amazon Bedrock event stream: {exc}") from None
        return "".join(events)

    def invoke_stream(self, ctx: ExecutionContext, params: dict) -> str:
        """`/invoke-with-response-stream`: each chunk's `bytes` handed back as `data: <chunk JSON>`."""
        model = params.get("model") or ctx.config["defaultModel"]

        def chunk(message):
            payload = json.loads(message.payload or b"{}")
            return base64.b64decode(payload["bytes"]).decode("utf-8") if "bytes" in payload else None

        return self._event_stream(
            ctx,
            f"/model/{self.model_path(model)}/invoke-with-response-stream",
            self.invoke_body(params),
            params.get("timeout"),
            chunk,
        )

    @staticmethod
    def converse_body(params: dict, model: str) -> str:
        body = {
            "messages": params["messages"],
            "inferenceConfig": {
                key: value
                for key, value in (
                    ("temperature", params.get("temperature")),
                    ("stopSequences", params.get("stopSequences")),
                    ("maxTokens", params.get("maxTokens")),
                )
                if value is not None
            },
            "toolConfig": {
                key: value
                for key, value in (("tools", params.get("tools")), ("toolChoice", params.get("toolChoice")))
                if value is not None
            },
            "system": params.get("system"),
            "modelId": model,
        }
        return json.dumps({key: value for key, value in body.items() if value is not None})

    def converse(self, ctx: ExecutionContext, params: dict) -> Any:
        """Bedrock's Converse API, `POST /model/<id>/converse`; the answer is returned as is."""
        model = params.get("model") or ctx.config["defaultModel"]
        response = self.signed_post(
            ctx,
            f"/model/{self.model_path(model)}/converse",
            self.converse_body(params, model),
            "application/vnd.amazon.eventstream",  # Kibana signs converse with its stream headers
            params.get("timeout") or DEFAULT_TIMEOUT_MS,
        )
        return response.json_or_none()

    def converse_stream(self, ctx: ExecutionContext, params: dict) -> str:
        """`/converse-stream`: each event as `data: {"<eventType>": <payload>}`, the SDK's shape."""
        model = params.get("model") or ctx.config["defaultModel"]

        def typed(message):
            kind = message.headers.get(":event-type") or "event"
            return json.dumps({kind: json.loads(message.payload or b"{}")})

        return self._event_stream(
            ctx,
            f"/model/{self.model_path(model)}/converse-stream",
            self.converse_body(params, model),
            params.get("timeout") or DEFAULT_TIMEOUT_MS,
            typed,
        )
