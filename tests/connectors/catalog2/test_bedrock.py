"""`.bedrock` against a local server playing Bedrock's InvokeModel API; the SigV4 signature is checked
by an independent verifier written from AWS's published algorithm."""

import hashlib
import hmac
import json
from urllib.parse import quote

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "bedrock-secret-marker-6d0e"
CLAUDE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": " Hi! "}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 10, "output_tokens": 3},
}


def bedrock(make_connector, server, **config):
    return make_connector(
        ".bedrock",
        {
            "apiUrl": server.url_for("/"),
            "region": "eu-west-3",
            "defaultModel": "anthropic.claude-3-haiku:0",
            **config,
        },
        {"accessKey": ACCESS_KEY, "secret": SECRET},
    )


def expected_signature(request, body: bytes) -> str:
    """Recompute AWS SigV4 for what the server received."""
    auth = request.headers["Authorization"]
    signed_headers = auth.split("SignedHeaders=")[1].split(",")[0]
    amz_date = request.headers["X-Amz-Date"]
    day = amz_date[:8]
    path = quote(quote(request.path, safe="/~"), safe="/~")  # non-S3 services double-encode the path
    canonical_headers = "".join(
        f"{name}:{request.headers[name].strip()}\n" for name in signed_headers.split(";")
    )
    canonical = "\n".join(
        ["POST", path, "", canonical_headers, signed_headers, hashlib.sha256(body).hexdigest()]
    )
    scope = f"{day}/eu-west-3/bedrock/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (day, "eu-west-3", "bedrock", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_run_signs_the_request_with_sigv4(make_connector, run, httpserver):
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/invoke", method="POST").respond_with_json(
        CLAUDE
    )
    body = json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "Hi"}]}
    )

    result = run(
        bedrock(make_connector, httpserver),
        {"subAction": "test", "subActionParams": {"body": body}},
        secrets=[SECRET],
    )

    assert result.status == "ok", result
    assert result.data == {
        "completion": " Hi! ",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 3},
    }
    request = httpserver.log[0][0]
    assert request.get_data() == body.encode()
    assert request.headers["Accept"] == "*/*"
    assert request.headers["Content-Type"] == "application/json"
    auth = request.headers["Authorization"]
    assert auth.startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{request.headers['X-Amz-Date'][:8]}/eu-west-3/bedrock/aws4_request"
    )
    assert auth.endswith("Signature=" + expected_signature(request, request.get_data()))


def test_invoke_ai_builds_the_claude_body_and_returns_usage(make_connector, run, httpserver):
    httpserver.expect_request("/model/my-model/invoke").respond_with_json(CLAUDE)
    result = run(
        bedrock(make_connector, httpserver),
        {
            "subAction": "invokeAI",
            "subActionParams": {
                "messages": [{"role": "user", "content": "Hi"}],
                "model": "my-model",
                "system": "be brief",
                "temperature": 0,
            },
        },
    )
    assert result.data == {"message": "Hi!", "usage": {"input_tokens": 10, "output_tokens": 3}}
    assert httpserver.log[0][0].get_json() == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 8191,
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "be brief",
        "temperature": 0,
    }


def test_a_wrong_endpoint_gets_kibanas_hint(make_connector, run, httpserver):
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/invoke").respond_with_json(
        {"message": "The requested operation is not recognized by the service."}, status=400
    )
    result = run(
        bedrock(make_connector, httpserver),
        {"subAction": "run", "subActionParams": {"body": "{}"}},
        secrets=[SECRET],
    )
    assert result.service_message == (
        "Status code: 400. Message: API Error: The requested operation is not recognized by the service.\n\n"
        "The Kibana Connector in use may need to be reconfigured with an updated Amazon Bedrock endpoint, like `bedrock-runtime`."
    )


def test_a_403_names_the_status_text_and_message(make_connector, run, httpserver):
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/invoke").respond_with_json(
        {"message": "The security token included in the request is invalid."}, status=403
    )
    result = run(
        bedrock(make_connector, httpserver),
        {"subAction": "run", "subActionParams": {"body": "{}"}},
        secrets=[SECRET],
    )
    assert result.service_message == (
        "Status code: 403. Message: API Error: FORBIDDEN - The security token included in the request is invalid."
    )
    assert result.error_source == "user"


def test_raw_returns_the_response_unchanged(make_connector, run, httpserver):
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/invoke").respond_with_json({"anything": 1})
    result = run(
        bedrock(make_connector, httpserver),
        {"subAction": "run", "subActionParams": {"body": "{}", "raw": True}},
    )
    assert result.data == {"anything": 1}


def event_frame(payload: dict, message_type="event", event_type="chunk") -> bytes:
    """One AWS event-stream message, encoded from the published wire format."""
    import struct
    import zlib

    headers = b""
    for name, value in (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", message_type),
    ):
        headers += (
            bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def test_invoke_stream_decodes_the_event_stream_into_server_sent_events(make_connector, run, httpserver):
    import base64

    from werkzeug import Response

    chunks = [
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "lo"}},
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {"inputTokenCount": 5, "outputTokenCount": 2},
        },
    ]

    def stream():
        for chunk in chunks:
            yield event_frame({"bytes": base64.b64encode(json.dumps(chunk).encode()).decode()})

    httpserver.expect_request(
        "/model/anthropic.claude-3-haiku:0/invoke-with-response-stream", method="POST"
    ).respond_with_response(Response(stream(), mimetype="application/vnd.amazon.eventstream"))
    result = run(
        bedrock(make_connector, httpserver),
        {"subAction": "invokeStream", "subActionParams": {"messages": [{"role": "user", "content": "Hi"}]}},
        secrets=[SECRET],
    )
    assert result.status == "ok", result
    assert result.data == "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    request = httpserver.log[0][0]
    assert request.headers["Accept"] == "application/vnd.amazon.eventstream"
    assert request.headers["Authorization"].endswith(
        "Signature=" + expected_signature(request, request.get_data())
    )


def test_consecutive_messages_are_joined_and_system_messages_lifted(make_connector, run, httpserver):
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/invoke").respond_with_json(CLAUDE)
    run(
        bedrock(make_connector, httpserver),
        {
            "subAction": "invokeAI",
            "subActionParams": {
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "a"},
                    {"role": "user", "content": "b"},
                ]
            },
        },
    )
    assert httpserver.log[0][0].get_json() == {
        "anthropic_version": "bedrock-2023-05-31",
        "system": "be brief",
        "messages": [{"content": "a\nb", "role": "user"}],
        "max_tokens": 8191,
        "temperature": 0,
    }


def test_a_claude_2_prompt_body_gets_the_raw_answer(make_connector, run, httpserver):
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/invoke").respond_with_json(
        {"completion": "Hi", "stop_reason": "stop_sequence"}
    )
    result = run(
        bedrock(make_connector, httpserver),
        {"subAction": "run", "subActionParams": {"body": '{"prompt": "\\n\\nHuman: hi\\n\\nAssistant:"}'}},
    )
    assert result.data == {"completion": "Hi", "stop_reason": "stop_sequence"}


def test_converse_posts_the_converse_request_signed(make_connector, run, httpserver):
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
    }
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/converse", method="POST").respond_with_json(
        answer
    )
    messages = [{"role": "user", "content": [{"text": "Hello"}]}]
    result = run(
        bedrock(make_connector, httpserver),
        {
            "subAction": "converse",
            "subActionParams": {"messages": messages, "maxTokens": 100, "temperature": 0.1},
        },
        secrets=[SECRET],
    )
    assert result.status == "ok", result
    assert result.data == answer
    request = httpserver.log[0][0]
    assert request.get_json() == {
        "messages": messages,
        "inferenceConfig": {"temperature": 0.1, "maxTokens": 100},
        "toolConfig": {},
        "modelId": "anthropic.claude-3-haiku:0",
    }
    assert request.headers["Authorization"].endswith(
        "Signature=" + expected_signature(request, request.get_data())
    )


def test_converse_stream_hands_back_typed_events(make_connector, run, httpserver):
    from werkzeug import Response

    frames = [
        event_frame({"role": "assistant"}, event_type="messageStart"),
        event_frame({"contentBlockIndex": 0, "delta": {"text": "Hi"}}, event_type="contentBlockDelta"),
        event_frame(
            {"usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}}, event_type="metadata"
        ),
    ]
    httpserver.expect_request("/model/anthropic.claude-3-haiku:0/converse-stream").respond_with_response(
        Response(iter(frames), mimetype="application/vnd.amazon.eventstream")
    )
    result = run(
        bedrock(make_connector, httpserver),
        {
            "subAction": "converseStream",
            "subActionParams": {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]},
        },
    )
    assert result.status == "ok", result
    assert result.data == (
        'data: {"messageStart": {"role": "assistant"}}\n\n'
        'data: {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}}\n\n'
        'data: {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}}}\n\n'
    )
