"""`.gen-ai` against a local server playing OpenAI's chat-completions API (JSON and SSE streams)."""

import json

import pytest
from werkzeug import Response

API_KEY = "sk-openai-marker-8e21"
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4.1",
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "  Hello there  "}, "finish_reason": "stop"}
    ],
}


def openai(make_connector, kibana_settings, httpserver, **config):
    kibana_settings.set({"connectors.serviceUrls": {".gen-ai": httpserver.url_for("/")}})
    return make_connector(
        ".gen-ai",
        {"apiProvider": "OpenAI", "apiUrl": "https://api.openai.com/v1/chat/completions", **config},
        {"apiKey": API_KEY},
    )


def test_run_sends_the_sanitised_body_to_the_official_endpoint(
    make_connector, run, httpserver, kibana_settings
):
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(COMPLETION)
    connector = openai(
        make_connector, kibana_settings, httpserver, organizationId="org-1", headers={"X-Extra": "1"}
    )
    body = {"messages": [{"role": "user", "content": "Hello world"}], "stream": True, "tool_choice": "auto"}

    result = run(
        connector, {"subAction": "test", "subActionParams": {"body": json.dumps(body)}}, secrets=[API_KEY]
    )

    assert result.status == "ok", result
    assert result.data == COMPLETION
    request = httpserver.log[0][0]
    assert request.get_json() == {
        "messages": [{"role": "user", "content": "Hello world"}],
        "stream": False,
        "model": "gpt-4.1",
    }
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["OpenAI-Organization"] == "org-1"
    assert request.headers["X-Extra"] == "1"
    assert request.headers["Content-Type"] == "application/json"


def test_azure_uses_the_api_key_header(make_connector, run, httpserver):
    url = httpserver.url_for("/openai/deployments/gpt4/chat/completions") + "?api-version=2024-02-01"
    httpserver.expect_request("/openai/deployments/gpt4/chat/completions").respond_with_json(COMPLETION)
    connector = make_connector(".gen-ai", {"apiProvider": "Azure OpenAI", "apiUrl": url}, {"apiKey": API_KEY})
    result = run(
        connector, {"subAction": "run", "subActionParams": {"body": '{"messages": []}'}}, secrets=[API_KEY]
    )
    assert result.status == "ok", result
    request = httpserver.log[0][0]
    assert request.headers["api-key"] == API_KEY
    assert "Authorization" not in request.headers
    assert request.args["api-version"] == "2024-02-01"
    assert request.get_json() == {"messages": [], "stream": False}


def test_other_providers_get_the_default_model(make_connector, run, httpserver):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(COMPLETION)
    connector = make_connector(
        ".gen-ai",
        {
            "apiProvider": "Other",
            "apiUrl": httpserver.url_for("/v1/chat/completions"),
            "defaultModel": "llama3",
        },
        {"apiKey": API_KEY},
    )
    run(connector, {"subAction": "run", "subActionParams": {"body": '{"messages": []}'}})
    assert httpserver.log[0][0].get_json() == {"messages": [], "stream": False, "model": "llama3"}


def test_invoke_ai_returns_the_message_and_token_usage(make_connector, run, httpserver, kibana_settings):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(COMPLETION)
    connector = openai(make_connector, kibana_settings, httpserver)
    result = run(
        connector,
        {
            "subAction": "invokeAI",
            "subActionParams": {
                "messages": [{"role": "user", "content": "Hi"}],
                "temperature": 0.2,
                "timeout": 5000,
            },
        },
    )
    assert result.data == {"message": "Hello there", "usage": COMPLETION["usage"]}
    assert httpserver.log[0][0].get_json() == {
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.2,
        "stream": False,
        "model": "gpt-4.1",
    }


def test_invoke_ai_without_content_says_the_format_is_unrecognised(
    make_connector, run, httpserver, kibana_settings
):
    empty = {**COMPLETION, "choices": [{"message": {"role": "assistant", "content": None}}]}
    httpserver.expect_request("/v1/chat/completions").respond_with_json(empty)
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {"subAction": "invokeAI", "subActionParams": {"messages": []}},
    )
    assert result.data["message"].endswith(
        "API Error: The response from OpenAI was in an unrecognized format."
    )


def test_streaming_passes_server_sent_events_through(make_connector, run, httpserver, kibana_settings):
    events = [
        {"choices": [{"delta": {"content": "Hel"}}]},
        {"choices": [{"delta": {"content": "lo"}}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
    ]

    def generate():
        for event in events:
            yield f"data: {json.dumps(event)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    httpserver.expect_request("/v1/chat/completions").respond_with_response(
        Response(generate(), mimetype="text/event-stream")
    )
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {"subAction": "invokeStream", "subActionParams": {"messages": [{"role": "user", "content": "Hi"}]}},
        secrets=[API_KEY],
    )
    assert result.status == "ok", result
    assert result.data.count("data: ") == 4
    assert '"content": "Hel"' in result.data and result.data.rstrip().endswith("data: [DONE]")
    sent = httpserver.log[0][0].get_json()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_stream_false_behaves_like_run(make_connector, run, httpserver, kibana_settings):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(COMPLETION)
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {"subAction": "stream", "subActionParams": {"body": "{}"}},
    )
    assert result.data == COMPLETION


def test_a_401_is_an_unauthorized_api_error(make_connector, run, httpserver, kibana_settings):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "Incorrect API key provided"}}, status=401
    )
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {"subAction": "test", "subActionParams": {"body": "{}"}},
        secrets=[API_KEY],
    )
    assert result.message == "an error occurred while running the action"
    assert (
        result.service_message
        == "Status code: 401. Message: Unauthorized API Error - Incorrect API key provided"
    )
    assert result.error_source == "user"


def test_a_400_carries_the_status_text_and_detail(make_connector, run, httpserver, kibana_settings):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "bad model"}}, status=400
    )
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {"subAction": "test", "subActionParams": {"body": "{}"}},
    )
    assert result.service_message == "Status code: 400. Message: API Error: BAD REQUEST - bad model"
    assert result.retry is False


def test_a_response_without_usage_fails_validation_with_the_error_text_kibana_interpolates(
    make_connector, run, httpserver, kibana_settings
):
    httpserver.expect_request("/v1/chat/completions").respond_with_json({"choices": []})
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {"subAction": "run", "subActionParams": {"body": "{}"}},
    )
    assert result.service_message == (
        "Response validation failed (Error: [usage.prompt_tokens]: expected value of type [number] but got [undefined])"
    )
    assert result.retry is True  # thrown by Kibana's SubActionConnector.request, so the framework retries


def test_an_unsupported_provider_is_rejected(kibana_settings):
    from connectors import registry
    from connectors.exceptions import ConfigurationError

    try:
        registry.get(".gen-ai").validate_config(
            {"apiProvider": "Cohere", "apiUrl": "https://x.example"}, kibana_settings.set({})
        )
    except ConfigurationError as exc:
        assert exc.message == (
            "error validating action type config: Error configuring OpenAI action: Error: API Provider is not supported: Cohere"
        )
    else:
        raise AssertionError("expected a ConfigurationError")


def test_a_missing_api_key_is_rejected(kibana_settings):
    from connectors import registry
    from connectors.exceptions import ConfigurationError

    try:
        registry.get(".gen-ai").validate_secrets({}, kibana_settings.set({}))
    except ConfigurationError as exc:
        assert (
            exc.message
            == "error validating action type secrets: [apiKey]: expected value of type [string] but got [undefined]"
        )
    else:
        raise AssertionError("expected a ConfigurationError")


def test_config_url_problems_are_worded_as_kibana_does(kibana_settings):
    from connectors import registry
    from connectors.exceptions import ConfigurationError

    openai = registry.get(".gen-ai")
    cases = [
        ({"apiUrl": "example.com/do-something"}, "Error: URL Error: Invalid URL: example.com/do-something"),
        (
            {"apiUrl": "http://genAi.mynonexistent.com"},
            'Error: error validating url: target url "http://genAi.mynonexistent.com" is not added to the Kibana config xpack.actions.allowedHosts',
        ),
        (
            {"apiUrl": "https://api.openai.com/v1/chat/completions", "apiProvider": ""},
            "Error: API Provider is not supported",
        ),
    ]
    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["api.openai.com", "example.com"]})
    for config, detail in cases:
        try:
            openai.validate_config({"apiProvider": "OpenAI", **config}, settings)
        except ConfigurationError as exc:
            assert (
                exc.message
                == f"error validating action type config: Error configuring OpenAI action: {detail}"
            )
        else:
            raise AssertionError(config)


def test_other_provider_authenticates_with_a_client_certificate(make_connector, run):
    """PKI: the server asks for a client certificate signed by its CA; the connector presents one."""
    import base64
    import ssl

    import trustme
    from pytest_httpserver import HTTPServer

    ca = trustme.CA()
    client = ca.issue_cert("elastic-client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    try:
        server.expect_request("/v1/chat/completions").respond_with_json(COMPLETION)
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
        key_pem = key.private_bytes(  # Kibana wants PKCS#8 ("BEGIN PRIVATE KEY")
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        connector = make_connector(
            ".gen-ai",
            {
                "apiProvider": "Other",
                "apiUrl": server.url_for("/v1/chat/completions").replace("127.0.0.1", "localhost"),
                "defaultModel": "local-model",
                "verificationMode": "full",
            },
            {
                "certificateData": base64.b64encode(client.cert_chain_pems[0].bytes()).decode(),
                "privateKeyData": base64.b64encode(key_pem).decode(),
                "caData": base64.b64encode(ca.cert_pem.bytes()).decode(),
            },
        )
        result = run(connector, {"subAction": "test", "subActionParams": {"body": '{"messages": []}'}})
        assert result.status == "ok", result
        assert len(server.log) == 1

        without_certificate = make_connector(
            ".gen-ai",
            {**connector.config, "verificationMode": "none"},
            {"apiKey": API_KEY},
            name="no client certificate",
        )
        refused = run(
            without_certificate, {"subAction": "test", "subActionParams": {"body": "{}"}}, secrets=[API_KEY]
        )
        assert refused.status == "error"
        assert len(server.log) == 1  # the TLS handshake failed before any request
    finally:
        server.clear()
        server.stop()


def test_invoke_async_iterator_streams_like_invoke_stream(make_connector, run, httpserver, kibana_settings):
    httpserver.expect_request("/v1/chat/completions").respond_with_response(
        Response(
            iter([b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n', b"data: [DONE]\n\n"]),
            mimetype="text/event-stream",
        )
    )
    result = run(
        openai(make_connector, kibana_settings, httpserver),
        {
            "subAction": "invokeAsyncIterator",
            "subActionParams": {"messages": [{"role": "user", "content": "Hi"}]},
        },
    )
    assert result.data.endswith("data: [DONE]\n\n")
    assert httpserver.log[0][0].get_json()["stream"] is True


# Kibana's config schema is a oneOf of three objects (Azure OpenAI, OpenAI, Other), each with a
# literal apiProvider; its OpenAI API integration test pins these two 400 messages.


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"apiUrl": "https://api.openai.com/v1/chat/completions"},
            "error validating action type config: types that failed validation:\n"
            "- [0.apiProvider]: expected at least one defined value but got [undefined]\n"
            "- [1.apiProvider]: expected at least one defined value but got [undefined]\n"
            "- [2.apiProvider]: expected at least one defined value but got [undefined]",
        ),
        (
            {"apiProvider": "OpenAI"},
            "error validating action type config: types that failed validation:\n"
            "- [0.apiProvider]: expected value to equal [Azure OpenAI]\n"
            "- [1.apiUrl]: expected value of type [string] but got [undefined]\n"
            "- [2.apiProvider]: expected value to equal [Other]",
        ),
        (
            {"apiProvider": "Other", "apiUrl": "https://llm.example/v1/chat/completions"},
            "error validating action type config: types that failed validation:\n"
            "- [0.apiProvider]: expected value to equal [Azure OpenAI]\n"
            "- [1.apiProvider]: expected value to equal [OpenAI]\n"
            "- [2.defaultModel]: expected value of type [string] but got [undefined]",
        ),
    ],
)
def test_a_config_failing_every_provider_lists_the_union_as_kibanas_openai_api_test_shows(
    config, message, api
):
    response = api.post(
        "/api/actions/connector",
        {
            "name": "A genAi action",
            "connector_type_id": ".gen-ai",
            "config": config,
            "secrets": {"apiKey": "k"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


def test_a_refused_connection_is_kibanas_unexpected_api_error_with_an_undefined_status(
    make_connector, run, httpserver, kibana_settings
):
    """Kibana's sub-action request rewrites every axios error, one without a response included:
    `Status code: undefined. Message: ` + OpenAI's `Unexpected API Error: <code> - <message>`."""
    connector = openai(make_connector, kibana_settings, httpserver)
    port = httpserver.port
    httpserver.stop()
    try:
        result = run(connector, {"subAction": "test", "subActionParams": {"body": "{}"}}, secrets=[API_KEY])
    finally:
        httpserver.start()
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        f"Status code: undefined. Message: Unexpected API Error: ECONNREFUSED - connect ECONNREFUSED {httpserver.host}:{port}"
    )
    assert result.retry is True
