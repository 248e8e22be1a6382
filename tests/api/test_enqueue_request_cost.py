"""What one `POST /api/actions/connector/{id}/_enqueue` costs the web tier (issue 21): a bounded
number of SQL statements, no SELECT built again once a thread has built it, no session row for
Basic or API-key callers, and every authorization rule still read from the database each time."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from actions import queue
from actions.models import ActionRun
from connectors.models import ApiKey
from tests.actions.helpers import make_webhook
from tests.api.conftest import AUTH_METHODS, client_for, grant, make_user

# The connector's row, the user's (Basic) or key's (ApiKey, with its user), the space's, and the
# run's INSERT; the session's row for the admin's session; plus django-q2's queue row when the
# request runs inside a transaction (as every test does).
MAX_STATEMENTS = {"basic": 5, "apikey": 5, "session": 6}


@pytest.fixture(autouse=True)
def _capacity_counted_once(monkeypatch):
    """The queue-capacity COUNT is taken once a second, not per request (actions.queue's
    _PendingEstimate): keep it out of the counts, whatever the clock does during a test."""
    monkeypatch.setattr(queue._estimate, "ttl", 3600.0)


@pytest.fixture
def connector(spaces):
    return make_webhook(spaces["default"], "http://127.0.0.1:9/hook")


def enqueue(client, connector_id, space=""):
    prefix = f"/s/{space}" if space else ""
    return client.post(
        f"{prefix}/api/actions/connector/{connector_id}/_enqueue",
        {"params": {"body": "hello"}},
        format="json",
    )


@pytest.mark.parametrize("method", AUTH_METHODS)
def test_an_enqueue_request_runs_a_bounded_number_of_sql_statements(
    method, connector, django_assert_max_num_queries
):
    client = client_for(make_user("writer", superuser=True), method)
    assert enqueue(client, connector.id).status_code == 202

    with django_assert_max_num_queries(MAX_STATEMENTS[method]):
        response = enqueue(client, connector.id)

    assert response.status_code == 202


class CompileCounter:
    """The models of the SELECTs whose SQL the ORM builds (the real compiler runs; it is only watched)."""

    def __init__(self, monkeypatch):
        self.models = []
        original = SQLCompiler.as_sql

        def as_sql(compiler, *args, **kwargs):
            if type(compiler) is SQLCompiler:
                self.models.append(compiler.query.model)
            return original(compiler, *args, **kwargs)

        monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)


@pytest.mark.parametrize("method", ["basic", "apikey"])
def test_a_repeated_enqueue_request_builds_no_select_again(method, connector, monkeypatch):
    client = client_for(make_user("writer", superuser=True), method)
    assert enqueue(client, connector.id).status_code == 202
    counter = CompileCounter(monkeypatch)

    response = enqueue(client, connector.id)

    assert response.status_code == 202
    assert counter.models == []


@pytest.mark.parametrize("method", ["basic", "apikey"])
def test_basic_and_api_key_requests_write_no_session(method, connector):
    client = client_for(make_user("writer", superuser=True), method)

    responses = [enqueue(client, connector.id) for _ in range(3)]

    assert [response.status_code for response in responses] == [202] * 3
    assert Session.objects.count() == 0
    assert all("sessionid" not in response.cookies for response in responses)


def test_a_key_revoked_after_a_request_is_refused_on_the_next(connector):
    user = make_user("writer", superuser=True)
    client = client_for(user, "apikey")
    assert enqueue(client, connector.id).status_code == 202

    ApiKey.objects.filter(user=user).update(revoked_at=timezone.now())

    assert enqueue(client, connector.id).status_code == 401
    assert ActionRun.objects.count() == 1


def test_a_key_that_expired_after_a_request_is_refused_on_the_next(connector):
    user = make_user("writer", superuser=True)
    client = client_for(user, "apikey")
    assert enqueue(client, connector.id).status_code == 202

    ApiKey.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert enqueue(client, connector.id).status_code == 401


@pytest.mark.parametrize("method", ["basic", "apikey"])
def test_a_user_deactivated_after_a_request_is_refused_on_the_next(method, connector):
    user = make_user("writer", superuser=True)
    client = client_for(user, method)
    assert enqueue(client, connector.id).status_code == 202

    type(user).objects.filter(pk=user.pk).update(is_active=False)

    assert enqueue(client, connector.id).status_code == 401


@pytest.mark.parametrize("method", ["basic", "apikey"])
def test_a_superuser_demoted_after_a_request_loses_the_space_at_once(method, connector):
    user = make_user("writer", superuser=True)
    client = client_for(user, method)
    assert enqueue(client, connector.id).status_code == 202

    type(user).objects.filter(pk=user.pk).update(is_superuser=False)

    response = enqueue(client, connector.id)
    assert response.status_code == 403
    assert response.json()["message"] == "Unauthorized to execute actions"


@pytest.mark.parametrize("method", ["basic", "apikey"])
def test_a_reader_cannot_enqueue_and_a_writer_can(method, spaces, connector):
    reader, writer = make_user("reader"), make_user("writer")
    grant(reader, "default", "read")
    grant(writer, "default", "all")

    assert enqueue(client_for(reader, method), connector.id).status_code == 202
    # `read` allows execute, as in Kibana (connectors privileges): the one without any privilege
    # is refused.
    nobody = make_user("nobody")
    response = enqueue(client_for(nobody, method), connector.id)
    assert response.status_code == 403
    assert enqueue(client_for(writer, method), connector.id).status_code == 202


def test_a_connector_disabled_after_a_request_is_seen_at_once(connector):
    client = client_for(make_user("writer", superuser=True), "basic")
    assert enqueue(client, connector.id).status_code == 202

    type(connector).objects.filter(pk=connector.pk).update(is_missing_secrets=True)

    response = enqueue(client, connector.id)
    assert response.status_code == 400
    assert "no secrets are defined" in response.json()["message"]


def test_another_spaces_connector_and_a_missing_space_are_not_found(spaces, connector):
    client = client_for(make_user("writer", superuser=True), "basic")
    assert enqueue(client, connector.id).status_code == 202

    other = enqueue(client, connector.id, space="marketing")
    assert other.status_code == 404
    assert other.json()["message"] == f"Saved object [action/{connector.id}] not found"

    spaces["marketing"].delete()
    missing = enqueue(client, connector.id, space="marketing")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found"


def test_a_session_request_does_not_build_the_sessions_select_again(connector, monkeypatch):
    client = client_for(make_user("writer", superuser=True), "session")
    assert enqueue(client, connector.id).status_code == 202
    counter = CompileCounter(monkeypatch)

    response = enqueue(client, connector.id)

    assert response.status_code == 202
    # Only django.contrib.auth's own lookup of the session's user is left to the ORM, if any.
    assert Session not in counter.models
    assert set(counter.models) <= {User}


def test_a_session_ended_elsewhere_is_refused_at_once(connector):
    client = client_for(make_user("writer", superuser=True), "session")
    assert enqueue(client, connector.id).status_code == 202

    Session.objects.all().delete()

    assert enqueue(client, connector.id).status_code == 401


def test_an_expired_session_is_refused(connector):
    client = client_for(make_user("writer", superuser=True), "session")
    assert enqueue(client, connector.id).status_code == 202

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    assert enqueue(client, connector.id).status_code == 401
