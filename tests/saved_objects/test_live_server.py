"""Over real HTTP (a live server on 127.0.0.1, ephemeral port): the multipart upload and the NDJSON
download as a Kibana client or curl sends and reads them."""

import json

import requests

from tests.saved_objects.conftest import EXPORT_714

AUTH = ("elastic", "changeme-please")


def test_the_714_file_imports_and_exports_over_http(
    live_server, transactional_db, superuser, default_space, fixture_types
):
    with EXPORT_714.open("rb") as handle:
        imported = requests.post(
            f"{live_server.url}/api/saved_objects/_import?overwrite=true",
            files={"file": ("export.ndjson", handle, "application/ndjson")},
            headers={"kbn-xsrf": "true"},
            auth=AUTH,
            timeout=30,
        )
    assert imported.status_code == 200
    assert imported.json()["successCount"] == 15  # 14 connectors and the index threshold rule

    exported = requests.post(
        f"{live_server.url}/s/default/api/saved_objects/_export",
        json={"type": "action"},
        headers={"kbn-xsrf": "true"},
        auth=AUTH,
        timeout=30,
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Type"] == "application/ndjson"
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines[-1]["exportedCount"] == 14


def test_an_oversized_upload_is_refused_before_it_is_read(
    live_server, transactional_db, superuser, default_space, kibana_settings
):
    kibana_settings.set({"savedObjects.maxImportPayloadBytes": 1000})
    response = requests.post(
        f"{live_server.url}/api/saved_objects/_import",
        files={"file": ("big.ndjson", b"{}\n" * 2000, "application/ndjson")},
        headers={"kbn-xsrf": "true"},
        auth=AUTH,
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["message"] == "Payload content length greater than maximum allowed: 1000"
