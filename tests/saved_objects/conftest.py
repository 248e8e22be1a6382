"""Shared helpers for saved-object tests: uploads, NDJSON lines, and the Kibana fixture files."""

import io
import json

import pytest

from connectors import registry
from connectors.base import ConnectorType
from connectors.schemas import Object
from tests.shared_fixtures import KIBANA_FIXTURES

FIXTURES = KIBANA_FIXTURES
EXPORT_714 = FIXTURES / "export-7.14-alerts-actions.ndjson"
ARCHIVER_UNSUPPORTED = FIXTURES / "kbn-archiver-unsupported-connector-type.json"

# Types the 7.14 fixture uses. Until every catalog type is merged, a missing one is stood in for by a
# type that accepts any config and requires secrets (what import needs to know: nothing is run).
FIXTURE_TYPE_IDS = (
    ".server-log",
    ".email",
    ".resilient",
    ".index",
    ".webhook",
    ".servicenow",
    ".servicenow-sir",
    ".pagerduty",
    ".jira",
    ".teams",
    ".slack",
)


@pytest.fixture
def fixture_types():
    added = []
    for type_id in FIXTURE_TYPE_IDS:
        if registry.is_registered(type_id):
            continue
        stand_in = type(
            f"StandIn{type_id.replace('.', '_').replace('-', '_')}",
            (ConnectorType,),
            {
                "type_id": type_id,
                "name": f"stand-in for {type_id}",
                "config_schema": Object({}, strict=False),
                "secrets_schema": Object({}, strict=False),
            },
        )
        registry.register(stand_in)
        added.append(type_id)
    yield added
    for type_id in added:
        registry._types.pop(type_id, None)


def ndjson(*objects) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objects).encode()


def connector_line(
    connector_id="11111111-1111-4111-8111-111111111111",
    *,
    name="log",
    type_id=".server-log",
    config=None,
    missing=False,
    kibana7=False,
    **extra,
):
    line = {
        "attributes": {
            "actionTypeId": type_id,
            "config": config or {},
            "isMissingSecrets": missing,
            "name": name,
        },
        "id": connector_id,
        "references": [],
        "type": "action",
    }
    if kibana7:
        line.update(coreMigrationVersion="7.14.0", migrationVersion={"action": "7.14.0"})
    else:
        line["attributes"]["secrets"] = {}
        line.update(coreMigrationVersion="8.8.0", typeMigrationVersion="10.1.0", managed=False)
    line.update(extra)
    return line


def upload(api, data: bytes, *, query: str = "", filename: str = "export.ndjson", prefix: str = "", **fields):
    handle = io.BytesIO(data)
    handle.name = filename
    return api.post(
        f"{prefix}/api/saved_objects/_import{('?' + query) if query else ''}",
        {"file": handle, **fields},
        format="multipart",
    )


def export(api, body: dict, prefix: str = ""):
    return api.post(f"{prefix}/api/saved_objects/_export", body, format="json")


def export_lines(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return [json.loads(line) for line in response.content.decode().splitlines()]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Basic auth checks the password on every request; a fast hasher keeps these tests quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
