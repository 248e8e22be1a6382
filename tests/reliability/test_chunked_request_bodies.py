"""Request bodies sent with `Transfer-Encoding: chunked` (no Content-Length), as curl, Go's and Java's
HTTP clients send a streamed body, reach the views through the real web server (gunicorn, as
`manage.py serve` runs it): Kibana's Node server reads them like any other body.

Django's test client and live server always know the length, so only gunicorn shows the problem.
The same holds for a body that ends before its Content-Length (the client disconnected, or lied):
gunicorn hands Django the short read, so it is checked where the chunked bodies are read.
"""

import json
import os
import socket

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


def _send_short(web, path: str, body: bytes, declared: int, content_type: str) -> tuple[int, bytes]:
    """Send `body` under a Content-Length of `declared`, then close our half of the connection
    (as a client that disconnects does), and read what the server answers."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {declared}\r\nkbn-xsrf: true\r\nConnection: close\r\n"
    )
    import base64

    token = base64.b64encode(f"{USER[0]}:{USER[1]}".encode()).decode()
    head += f"Authorization: Basic {token}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_a_body_that_ends_before_its_content_length_is_refused_with_400_and_creates_nothing(web):
    # Valid JSON as far as it goes: processed as it arrived, it would create the connector.
    body = json.dumps({"name": "half", "connector_type_id": ".server-log"}).encode()

    status, answer = _send_short(web, "/api/actions/connector/half", body, len(body) + 40, "application/json")

    assert status == 400, answer
    assert json.loads(answer)["error"] == "Bad Request"
    assert "prematurely" in json.loads(answer)["message"]
    assert not Connector.objects.filter(id="half").exists()


def test_a_short_body_in_a_space_is_refused_too_and_a_complete_one_still_works(web):
    Space.objects.create(id="sales", name="Sales")
    body = json.dumps({"name": "whole", "connector_type_id": ".server-log"}).encode()

    status, _ = _send_short(
        web, "/s/sales/api/actions/connector/cut", body, len(body) + 1, "application/json"
    )
    assert status == 400
    status, answer = _send_short(
        web, "/s/sales/api/actions/connector/whole", body, len(body), "application/json"
    )
    assert status == 200, answer
    assert list(Connector.objects.values_list("id", flat=True)) == ["whole"]


def test_a_short_admin_form_is_refused_with_400(web):
    status, _ = _send_short(
        web, "/admin/login/", b"username=a&password=b", 500, "application/x-www-form-urlencoded"
    )

    assert status == 400


def test_a_large_body_cut_short_is_refused_too(web):
    # Past 1 MiB the body is spooled rather than read into memory: the same check applies.
    body = json.dumps({"name": "big", "connector_type_id": ".server-log"}).encode() + b" " * 1_500_000

    status, answer = _send_short(web, "/api/actions/connector/big", body, 2_000_000, "application/json")

    assert status == 400, answer
    assert json.loads(answer)["message"] == (
        f"Payload stream closed prematurely: {len(body)} of 2000000 bytes received"
    )
    assert not Connector.objects.filter(id="big").exists()
