"""While the database or Redis is restarting, the API says so: 503 in Kibana's envelope with
`Retry-After`, not the 500 of a bug. (The real outages, on a private PostgreSQL and Redis, are in
tests/scaleout/test_service_restarts.py; this is the same answer without starting servers.)"""

import pytest
import redis
from django.db import InterfaceError, OperationalError


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("connection to server at 127.0.0.1 failed: Connection refused"),
        InterfaceError("connection already closed"),
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_request_that_meets_an_unavailable_database_or_redis_is_a_503(api, monkeypatch, failure):
    from connectors.api import views

    def unavailable(*args, **kwargs):
        raise failure

    monkeypatch.setattr(views, "list_connectors", unavailable)
    api.raise_request_exception = False
    response = api.get("/api/actions/connectors")
    assert response.status_code == 503
    assert response.json() == {
        "statusCode": 503,
        "error": "Service Unavailable",
        "message": "Service Unavailable",
    }
    assert response["Retry-After"] == "1"


def test_any_other_unexpected_error_is_still_a_500(api, monkeypatch):
    from connectors.api import views

    def explode(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "list_connectors", explode)
    api.raise_request_exception = False
    assert api.get("/api/actions/connectors").status_code == 500
