"""Request bodies sent with `Transfer-Encoding: chunked` (no Content-Length), as curl, Go's and Java's
HTTP clients send a streamed body, reach the views through the real web server (gunicorn, as
`manage.py serve` runs it): Kibana's Node server reads them like any other body.

Django's test client and live server always know the length, so only gunicorn shows the problem.
"""

import json
import os

import pytest
import yaml
from django.db import connection

from connectors.models import Connector, Space
from tests.reliability.harness import Web

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

USER = ("chunked-admin", "chunked-password-1")


@pytest.fixture
def web(transactional_db, tmp_path, django_user_model):
    django_user_model.objects.create_superuser(USER[0], "", USER[1])
    Space.objects.get_or_create(id="default", defaults={"name": "Default"})
    config = tmp_path / "connectors.yml"
    config.write_text(yaml.safe_dump({"savedObjects.maxImportPayloadBytes": 4096}))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "CONNECTORS_CONFIG": str(config),
        "PYTHONUNBUFFERED": "1",
    }
    server = Web(env, tmp_path, USER)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _chunks(data: bytes, size: int = 7):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_json_body_creates_the_connector_it_describes(web):
    import requests

    body = json.dumps({"name": "streamed", "connector_type_id": ".server-log"}).encode()
    answer = requests.post(
        f"{web.url}/api/actions/connector/streamed",
        data=_chunks(body),  # a generator: requests sends it chunked, without Content-Length
        auth=USER,
        headers={"kbn-xsrf": "true", "Content-Type": "application/json"},
        timeout=10,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "streamed"
    assert Connector.objects.filter(id="streamed").exists()


def test_a_chunked_body_over_the_limit_is_refused_with_413_in_the_envelope(web):
    import requests

    params = {"message": "x" * 3_000_000}  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
    answer = requests.post(
        f"{web.url}/api/actions/connector/nope/_execute",
        data=_chunks(json.dumps({"params": params}).encode(), 65536),
        auth=USER,
        headers={"kbn-xsrf": "true", "Content-Type": "application/json"},
        timeout=30,
    )

    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "Request Entity Too Large"


def test_a_chunked_multipart_import_is_read_and_its_size_limit_still_applies(web):
    import requests

    line = json.dumps(
        {
            "type": "action",
            "id": "imported-log",
            "attributes": {"name": "imported", "actionTypeId": ".server-log", "config": {}, "secrets": {}},
            "references": [],
        }
    ).encode()
    small = requests.Request("POST", "http://x/", files={"file": ("export.ndjson", line + b"\n")}).prepare()
    answer = requests.post(
        f"{web.url}/api/saved_objects/_import",
        data=_chunks(small.body, 64),
        auth=USER,
        headers={"kbn-xsrf": "true", "Content-Type": small.headers["Content-Type"]},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["successCount"] == 1

    big = requests.Request(
        "POST", "http://x/", files={"file": ("export.ndjson", (line + b"\n") * 50)}
    ).prepare()
    answer = requests.post(
        f"{web.url}/api/saved_objects/_import",
        data=_chunks(big.body, 64),
        auth=USER,
        headers={"kbn-xsrf": "true", "Content-Type": big.headers["Content-Type"]},
        timeout=10,
    )
    assert answer.status_code == 413, answer.text
