"""A request whose Host header is not in ALLOWED_HOSTS (the service reached under another name, or a
forged Host) is refused by Django before any view runs. On an API path the answer must still be
Kibana's JSON envelope, which clients parse, not Django's HTML "Bad Request (400)" page."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/actions/connectors", "/s/default/api/actions/connector/x", "/internal/actions/connectors"]
)
def test_an_api_request_with_a_host_not_allowed_is_a_json_400_in_kibanas_envelope(client, path):
    answer = client.get(path, HTTP_HOST="not-allowed.example")

    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"statusCode": 400, "error": "Bad Request", "message": "Bad Request"}


@pytest.mark.django_db
def test_an_admin_request_with_a_host_not_allowed_keeps_djangos_page(client):
    answer = client.get("/admin/", HTTP_HOST="not-allowed.example")

    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("text/html")
