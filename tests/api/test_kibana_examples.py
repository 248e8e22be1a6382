"""Kibana's own API examples (fixtures/kibana/examples) run unchanged against our server.

- `*_curl.yaml`: the curl command runs as written; only the base URL changes. Credentials come
  from a `.curlrc`, as a user's own curl configuration would hold them.
- `*_console.yaml`: the Kibana Dev Tools request is sent as written.
- `*_request.yaml` / `*_response.yaml`: each request body is sent to its route, and our answer has
  the same shape as Kibana's example answer (same keys, recursively; values differ).
Examples for connector types that are not registered here are skipped by name.
"""

import json
import re
import shlex
import subprocess

import pytest
import requests
import yaml

from connectors import registry
from connectors.models import Connector
from tests.api.conftest import PASSWORD, make_user
from tests.shared_fixtures import KIBANA_FIXTURES

EXAMPLES = KIBANA_FIXTURES / "examples"


def load(name: str):
    return yaml.safe_load((EXAMPLES / name).read_text())


def shape(value):
    """Keys (recursively) and JSON kinds; null matches any scalar."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def assert_same_shape(ours, theirs, path="body"):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{path}: expected an object, got {ours!r}"
        assert set(ours) == set(theirs), f"{path}: keys {sorted(ours)} != Kibana's {sorted(theirs)}"
        for key in theirs:
            assert_same_shape(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{path}: expected an array"
        if theirs and ours:
            assert_same_shape(ours[0], theirs[0], f"{path}[0]")
    elif theirs is not None and ours is not None:
        assert shape(ours) == shape(theirs), f"{path}: {ours!r} is not a {shape(theirs)}"


def type_of(example: str) -> str | None:
    match = re.match(r"(?:create|run)_(.+?)_connector_", example)
    if not match:
        return None
    return "." + match.group(1).replace("_", "-")


@pytest.fixture
def server(live_server, default_space):
    make_user("elastic", superuser=True)
    session = requests.Session()
    session.auth = ("elastic", PASSWORD)
    session.headers["kbn-xsrf"] = "true"
    session.base = live_server.url
    return session


def test_every_example_file_is_covered_here():
    handled = {path.name for path in EXAMPLES.glob("*.yaml")}
    assert handled == set(REQUESTS) | set(RESPONSES) | set(CODE_SAMPLES) | set(STANDALONE_RESPONSES)


REQUESTS = {
    # request example: (method, path template, response example or None)
    "create_email_connector_request.yaml": (
        "POST",
        "/api/actions/connector",
        "create_email_connector_response.yaml",
    ),
    "create_index_connector_request.yaml": (
        "POST",
        "/api/actions/connector",
        "create_index_connector_response.yaml",
    ),
    "create_webhook_connector_request.yaml": ("POST", "/api/actions/connector", None),
    "create_xmatters_connector_request.yaml": (
        "POST",
        "/api/actions/connector",
        "create_xmatters_connector_response.yaml",
    ),
    "update_index_connector_request.yaml": (
        "PUT",
        "/api/actions/connector/{id}",
        "create_index_connector_response.yaml",
    ),
    "run_cases_webhook_connector_request.yaml": (
        "POST",
        "/api/actions/connector/{id}/_execute",
        "run_cases_webhook_connector_response.yaml",
    ),
    "run_email_connector_request.yaml": ("POST", "/api/actions/connector/{id}/_execute", None),
    "run_index_connector_request.yaml": (
        "POST",
        "/api/actions/connector/{id}/_execute",
        "run_index_connector_response.yaml",
    ),
    "run_server_log_connector_request.yaml": (
        "POST",
        "/api/actions/connector/{id}/_execute",
        "run_server_log_connector_response.yaml",
    ),
    "run_servicenow_itom_connector_request.yaml": (
        "POST",
        "/api/actions/connector/{id}/_execute",
        "run_servicenow_itom_connector_response.yaml",
    ),
    "run_swimlane_connector_request.yaml": (
        "POST",
        "/api/actions/connector/{id}/_execute",
        "run_swimlane_connector_response.yaml",
    ),
}
RESPONSES = {spec[2] for spec in REQUESTS.values() if spec[2]}
STANDALONE_RESPONSES = {
    "get_connector_response.yaml",
    "get_connectors_response.yaml",
    "get_connector_types_generativeai_response.yaml",
    "run_pagerduty_connector_response.yaml",
}
CODE_SAMPLES = {"create_index_connector_curl.yaml", "create_index_connector_console.yaml"}

# A connector to run or update each run/update example against: (type, config, secrets).
TARGETS = {
    ".index": ({"index": "my-index"}, {}),
    ".server-log": ({}, {}),
}


@pytest.mark.parametrize("example", sorted(REQUESTS))
def test_a_kibana_request_example_gets_an_answer_of_kibanas_shape(server, example):
    method, template, response_example = REQUESTS[example]
    type_id = type_of(example) or ".index"
    if not registry.is_registered(type_id):
        pytest.skip(f"{type_id} is not registered here")
    if "_execute" in template and type_id not in TARGETS:
        pytest.skip(f"running {type_id} needs its remote service")
    body = load(example)["value"]
    path = template
    if "{id}" in template:
        config, secrets = TARGETS[type_id]
        created = server.post(
            server.base + "/api/actions/connector",
            json={"name": "target", "connector_type_id": type_id, "config": config, "secrets": secrets},
        )
        assert created.status_code == 200, created.text
        path = template.format(id=created.json()["id"])
    response = server.request(method, server.base + path, json=body)
    assert response.status_code == 200, response.text
    assert response.json().get("status", "ok") == "ok", response.text
    if response_example:
        assert_same_shape(response.json(), load(response_example)["value"])


def test_the_get_connector_example_has_our_shape(server):
    created = server.post(
        server.base + "/api/actions/connector",
        json={"name": "my_server_log_connector", "connector_type_id": ".server-log"},
    ).json()
    ours = server.get(f"{server.base}/api/actions/connector/{created['id']}").json()
    assert_same_shape(ours, load("get_connector_response.yaml")["value"])


def test_the_list_example_has_our_shape_for_preconfigured_and_stored_connectors(server, kibana_settings):
    kibana_settings.set(
        {
            "xpack.actions.preconfigured": {
                "preconfigured-log": {"actionTypeId": ".server-log", "name": "a-preconfigured-log"}
            }
        }
    )
    server.post(
        server.base + "/api/actions/connector",
        json={"name": "my-index-connector", "connector_type_id": ".index", "config": {"index": "test-index"}},
    )
    ours = server.get(server.base + "/api/actions/connectors").json()
    theirs = load("get_connectors_response.yaml")["value"]
    assert_same_shape(ours[0], theirs[0])
    assert_same_shape(ours[1], theirs[1])


def test_the_connector_types_example_has_our_shape(server):
    ours = server.get(server.base + "/api/actions/connector_types").json()
    theirs = load("get_connector_types_generativeai_response.yaml")["value"]
    for item in ours:
        assert_same_shape(item, theirs[0])
    feature = "generativeAIForSecurity"
    filtered = server.get(server.base + f"/api/actions/connector_types?feature_id={feature}").json()
    assert all(feature in item["supported_feature_ids"] for item in filtered)


def test_the_run_examples_all_share_the_execute_result_shape(server):
    """The PagerDuty example (no request twin) and every other run answer: connector_id, status, data."""
    for name in sorted(STANDALONE_RESPONSES | RESPONSES):
        if name.startswith("run_"):
            value = load(name)["value"]
            assert {"connector_id", "status"} <= set(value)
            assert set(value) <= {"connector_id", "status", "data", "message", "service_message", "retry"}


def test_the_console_example_runs_as_written(server):
    source = load("create_index_connector_console.yaml")["source"]
    request_line, _, body = source.partition("\n")
    method, path = request_line.split(" ", 1)
    response = server.request(
        method, f"{server.base}/{path.strip()}", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert_same_shape(response.json(), load("create_index_connector_response.yaml")["value"])


@pytest.mark.slow
def test_the_curl_example_runs_unchanged_with_only_the_base_url_changed(server, tmp_path):
    source = load("create_index_connector_curl.yaml")["source"]
    host = server.base.removeprefix("http://")
    command = source.replace("localhost:5601", host)
    assert command.replace(host, "localhost:5601") == source
    (tmp_path / ".curlrc").write_text(f'user = "elastic:{PASSWORD}"\nsilent\n')
    completed = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=30,
        env={"CURL_HOME": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    body = json.loads(completed.stdout)
    assert_same_shape(body, load("create_index_connector_response.yaml")["value"])
    connector = Connector.objects.get(pk=body["id"])
    assert connector.config["index"] == "test-index"
    assert shlex.split(command)[0] == "curl"
