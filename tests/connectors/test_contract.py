"""The contract every registered connector type keeps, run over `registry.all_types()`.

Each type needs one row in CASES: a minimal valid config, secrets and params, pointed at a local
server. A type registered without a row fails `test_every_registered_type_has_a_contract_case` with
a message saying what to add. Then, for every type that talks to the network, the same standard
failures are replayed (timeout, refused connection, 500, 401): each must come back as an error
*result* (never an exception), retryable for the first three and final for 401, and no marker secret
may appear in the result, its repr, the error or the event log.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from actions.services import RunInfo, execute
from connectors import registry
from connectors.base import LICENSES
from connectors.exceptions import ConfigurationError
from connectors.models import Connector
from eventlog.models import Event

SECRET = "contract-s3cret-91ad"
KNOWN_FEATURES = {
    "alerting",
    "cases",
    "uptime",
    "siem",
    "generativeAIForSecurity",
    "generativeAIForObservability",
    "generativeAIForSearchPlayground",
    "endpointSecurity",
    "federated",
    "workflows",
    "agentBuilder",
}
ESCAPES = {"none", "json", "markdown", "slack", "html"}


@dataclass
class Case:
    """How to build a working connector of one type against a local server at `base`."""

    config: Callable[[str], dict]
    secrets: Callable[[str], dict]
    params: dict
    settings: Callable[[str], dict] = field(default=lambda base: {})
    network: bool = True  # False: the type never leaves the process (server log, index)


def _sub(name: str, params: dict | None = None) -> dict:
    return {"subAction": name, "subActionParams": params or {}}


def _gcp_credentials(base: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "p",
            "private_key_id": "k",
            "private_key": pem,
            "client_email": "svc@p.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{base}/token",
        }
    )


CASES: dict[str, Case] = {
    # ---- built in ----
    ".server-log": Case(lambda b: {}, lambda b: {}, {"message": "hello", "level": "info"}, network=False),
    ".index": Case(
        lambda b: {"index": "contract-index"}, lambda b: {}, {"documents": [{"a": 1}]}, network=False
    ),
    ".webhook": Case(
        lambda b: {"url": f"{b}/hook", "method": "post", "hasAuth": True},
        lambda b: {"user": "u", "password": SECRET},
        {"body": "{}"},
    ),
    # ---- catalog I: messaging, email and paging ----
    ".email": Case(
        lambda b: {"service": "exchange_server", "from": "a@example.com", "tenantId": "t", "clientId": "c"},
        lambda b: {"clientSecret": SECRET},
        {"to": ["b@example.com"], "subject": "s", "message": "m"},
        settings=lambda b: {"xpack.actions.microsoftExchangeUrl": b, "connectors.serviceUrls": {".email": b}},
    ),
    ".slack": Case(lambda b: {}, lambda b: {"webhookUrl": f"{b}/services/{SECRET}"}, {"message": "m"}),
    ".slack_api": Case(
        lambda b: {},
        lambda b: {"token": SECRET},
        _sub("postMessage", {"channelIds": ["C1"], "text": "m"}),
        settings=lambda b: {"connectors.serviceUrls": {".slack_api": f"{b}/api/"}},
    ),
    ".teams": Case(lambda b: {}, lambda b: {"webhookUrl": f"{b}/webhook/{SECRET}"}, {"message": "m"}),
    ".pagerduty": Case(
        lambda b: {"apiUrl": f"{b}/v2/enqueue"}, lambda b: {"routingKey": SECRET}, {"summary": "s"}
    ),
    ".opsgenie": Case(
        lambda b: {"apiUrl": b}, lambda b: {"apiKey": SECRET}, _sub("createAlert", {"message": "m"})
    ),
    ".xmatters": Case(
        lambda b: {"configUrl": f"{b}/trigger", "usesBasic": True},
        lambda b: {"user": "u", "password": SECRET},
        {"severity": "high"},
    ),
    ".tines": Case(
        lambda b: {"url": b}, lambda b: {"email": "e@example.com", "token": SECRET}, _sub("stories")
    ),
    ".torq": Case(
        lambda b: {"webhookIntegrationUrl": f"{b}/v1/webhooks/x"},
        lambda b: {"token": SECRET},
        {"body": "{}"},
        settings=lambda b: {"connectors.serviceUrls": {".torq": b}},
    ),
    ".d3security": Case(
        lambda b: {"url": f"{b}/d3"}, lambda b: {"token": SECRET}, _sub("run", {"body": "{}"})
    ),
    # ---- catalog II (from the spec; adjust here if a module's shape differs) ----
    ".jira": Case(
        lambda b: {"apiUrl": b, "projectKey": "OPS"},
        lambda b: {"email": "e@example.com", "apiToken": SECRET},
        _sub("pushToService", {"incident": {"summary": "s", "issueType": "10001"}, "comments": []}),
    ),
    ".servicenow": Case(
        lambda b: {"apiUrl": b, "usesTableApi": True},
        lambda b: {"username": "u", "password": SECRET},
        _sub("pushToService", {"incident": {"short_description": "s"}, "comments": []}),
    ),
    ".servicenow-sir": Case(
        lambda b: {"apiUrl": b, "usesTableApi": True},
        lambda b: {"username": "u", "password": SECRET},
        _sub("pushToService", {"incident": {"short_description": "s"}, "comments": []}),
    ),
    ".servicenow-itom": Case(
        lambda b: {"apiUrl": b},
        lambda b: {"username": "u", "password": SECRET},
        _sub("addEvent", {"description": "d"}),
    ),
    ".resilient": Case(
        lambda b: {"apiUrl": b, "orgId": "201"},
        lambda b: {"apiKeyId": "k", "apiKeySecret": SECRET},
        _sub("pushToService", {"incident": {"name": "n"}, "comments": []}),
    ),
    ".swimlane": Case(
        lambda b: {"apiUrl": b, "appId": "app", "connectorType": "all", "mappings": {}},
        lambda b: {"apiToken": SECRET},
        _sub("pushToService", {"incident": {"ruleName": "r"}, "comments": []}),
    ),
    ".thehive": Case(
        lambda b: {"url": b},
        lambda b: {"apiKey": SECRET},
        _sub("pushToService", {"incident": {"title": "t", "description": "d"}, "comments": []}),
    ),
    ".cases-webhook": Case(
        lambda b: {
            "createIncidentUrl": f"{b}/issue",
            "createIncidentMethod": "post",
            "createIncidentJson": '{"title": {{{case.title}}}}',
            "createIncidentResponseKey": "id",
            "getIncidentUrl": f"{b}/issue/{{{{{{external.system.id}}}}}}",
            "getIncidentResponseExternalTitleKey": "key",
            "viewIncidentUrl": f"{b}/browse/{{{{{{external.system.title}}}}}}",
            "updateIncidentUrl": f"{b}/issue/{{{{{{external.system.id}}}}}}",
            "updateIncidentMethod": "put",
            "updateIncidentJson": '{"title": {{{case.title}}}}',
            "hasAuth": True,
        },
        lambda b: {"user": "u", "password": SECRET},
        _sub("pushToService", {"incident": {"title": "t", "description": "d", "tags": []}, "comments": []}),
    ),
    ".gen-ai": Case(
        lambda b: {"apiProvider": "OpenAI", "apiUrl": f"{b}/v1/chat/completions"},
        lambda b: {"apiKey": SECRET},
        # A per-call timeout (ms) as Kibana's params allow; the type's default would be minutes.
        _sub("run", {"body": json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "timeout": 300}),
    ),
    ".bedrock": Case(
        lambda b: {"apiUrl": b, "defaultModel": "anthropic.claude-3-sonnet"},
        lambda b: {"accessKey": "AKIA", "secret": SECRET},
        _sub("run", {"body": json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "timeout": 300}),
    ),
    ".gemini": Case(
        lambda b: {"apiUrl": b, "defaultModel": "gemini-2.5-pro", "gcpRegion": "r", "gcpProjectID": "p"},
        lambda b: {"credentialsJson": _gcp_credentials(b)},
        _sub("run", {"body": json.dumps({"messages": [{"role": "user", "content": "hi"}]})}),
    ),
}

ALL_TYPES = [t.type_id for t in registry.all_types()]
NETWORK_TYPES = [t for t in ALL_TYPES if t in CASES and CASES[t].network]


def test_every_registered_type_has_a_contract_case():
    missing = [type_id for type_id in ALL_TYPES if type_id not in CASES]
    assert not missing, (
        f"connector types without a contract case: {', '.join(missing)}. Add a Case(config, secrets, "
        "params) row for each to CASES in tests/connectors/test_contract.py, pointed at the local `base` URL."
    )


# ---- schema sanity ----------------------------------------------------------------------------------


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_the_type_describes_itself_sanely(type_id):
    connector_type = registry.get(type_id)
    assert type_id.startswith(".")
    assert connector_type.name
    assert connector_type.minimum_license in LICENSES
    assert set(connector_type.supported_feature_ids) <= KNOWN_FEATURES
    escape = connector_type.escape
    modes = set(escape.values()) if isinstance(escape, dict) else {escape}
    assert modes <= ESCAPES
    description = connector_type.describe()
    json.dumps(description)  # forms and the API can serialise it
    assert set(description) >= {"config", "secrets", "params", "test_params"}
    for name, info in description["secrets"].items():
        assert "default" not in info or info["default"] in (None, [], {}), (
            f"secret {name} has a default value"
        )


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_the_minimal_case_validates(type_id, kibana_settings):
    case = _case(type_id)
    base = "http://127.0.0.1:9"
    settings = kibana_settings.set(case.settings(base))
    connector_type = registry.get(type_id)
    try:
        config = connector_type.validate_config(case.config(base), settings)
        secrets = connector_type.validate_secrets(case.secrets(base), settings)
        connector_type.validate_connector(config, secrets)
        connector_type.validate_params(case.params, settings)
    except ConfigurationError as exc:
        pytest.fail(f"the CASES row for {type_id} does not validate; fix the row: {exc.message}")


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_bad_config_is_refused_with_kibanas_prefix(type_id, kibana_settings):
    settings = kibana_settings.set({})
    connector_type = registry.get(type_id)
    with pytest.raises(ConfigurationError) as caught:
        connector_type.validate_config(
            {"definitelyNotAField": 1, **_case(type_id).config("http://x")}, settings
        )
    assert caught.value.message.startswith("error validating action type config: ")
    assert SECRET not in caught.value.message


# ---- standard failures against local servers ---------------------------------------------------------


class SilentServer:
    """Accepts connections and never answers: a timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
                self.held.append(connection)
            except OSError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        for connection in self.held:
            connection.close()
        self.sock.close()


def _case(type_id: str) -> Case:
    if type_id not in CASES:
        pytest.fail(f"{type_id} has no row in CASES (see test_every_registered_type_has_a_contract_case)")
    return CASES[type_id]


def _run(type_id: str, base: str, kibana_settings, space, extra_settings=None):
    case = _case(type_id)
    kibana_settings.set({**case.settings(base), **(extra_settings or {})})
    connector = Connector(space=space, name="contract", connector_type_id=type_id, config=case.config(base))
    connector.set_secrets(case.secrets(base))
    connector.save()
    return connector, execute(connector, case.params, RunInfo(source="action"))


def _assert_secret_free(connector, result) -> None:
    outputs = [
        json.dumps(result.to_api(connector.id), default=str),
        repr(result),
        repr(connector),
        str(result.message),
        str(result.service_message),
        json.dumps(list(Event.objects.filter(connector_id=connector.id).values_list("document", flat=True))),
        json.dumps(list(Event.objects.filter(connector_id=connector.id).values_list("message", flat=True))),
    ]
    for text in outputs:
        assert SECRET not in text
        assert base64.b64encode(f"u:{SECRET}".encode()).decode() not in text


@pytest.mark.django_db
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_a_timeout_is_a_retryable_error_result(type_id, kibana_settings, default_space):
    server = SilentServer()
    try:
        connector, result = _run(
            type_id,
            f"http://127.0.0.1:{server.port}",
            kibana_settings,
            default_space,
            {"xpack.actions.responseTimeout": "300ms"},
        )
    finally:
        server.close()
    assert result.status == "error"
    assert result.message
    assert result.retry, f"{type_id}: a timeout should be retryable, got {result}"
    _assert_secret_free(connector, result)


@pytest.mark.django_db
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_a_refused_connection_is_a_retryable_error_result(type_id, kibana_settings, default_space):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    connector, result = _run(type_id, f"http://127.0.0.1:{port}", kibana_settings, default_space)
    assert result.status == "error"
    assert result.retry, f"{type_id}: a refused connection should be retryable, got {result}"
    _assert_secret_free(connector, result)


@pytest.mark.django_db
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_a_500_is_a_retryable_error_result(type_id, kibana_settings, default_space, httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"message": "boom", "error": "boom"}, status=500
    )
    connector, result = _run(type_id, httpserver.url_for("").rstrip("/"), kibana_settings, default_space)
    assert result.status == "error"
    assert result.retry, f"{type_id}: a 500 should be retryable, got {result}"
    assert len(httpserver.log) >= 1
    _assert_secret_free(connector, result)


@pytest.mark.django_db
@pytest.mark.parametrize("type_id", NETWORK_TYPES)
def test_a_401_is_a_final_error_result(type_id, kibana_settings, default_space, httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"message": "unauthorized", "error": "unauthorized"}, status=401
    )
    connector, result = _run(type_id, httpserver.url_for("").rstrip("/"), kibana_settings, default_space)
    assert result.status == "error"
    assert not result.retry, f"{type_id}: a 401 should be final, got {result}"
    _assert_secret_free(connector, result)
