"""A worker decrypts a connector's secrets once, not on every run, and never past a key change or a
change of the secrets themselves. Runs go to a real local HTTP server that checks basic auth."""

import base64

import pytest
from cryptography.fernet import Fernet

from actions import services
from actions.services import execute
from connectors.models import Connector
from tests.actions.helpers import SECRET, make_webhook


@pytest.fixture
def hook(db, httpserver, kibana_settings):
    from connectors.models import Space

    kibana_settings.set({"connectors.network.allowPrivateAddresses": ["127.0.0.0/8", "::1/128"]})
    services._opened.cache_clear()
    return make_webhook(Space.ensure_default(), httpserver.url_for("/hook"))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def decryptions(monkeypatch):
    calls = []
    real = services.open_sealed

    def counting(*args, **kwargs):
        calls.append(kwargs["connector_id"])
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "open_sealed", counting)
    return calls


def test_many_runs_of_one_connector_decrypt_its_secrets_once(hook, httpserver, decryptions):
    httpserver.expect_request("/hook", headers={"Authorization": basic("elastic", SECRET)}).respond_with_data(
        "ok"
    )

    results = [execute(Connector.objects.get(pk=hook.pk), {"body": f"run {i}"}) for i in range(5)]

    assert [result.status for result in results] == ["ok"] * 5
    assert len(httpserver.log) == 5
    assert decryptions == [hook.pk]


def test_new_secrets_are_used_at_the_next_run(hook, httpserver, decryptions):
    httpserver.expect_request("/hook", headers={"Authorization": basic("elastic", SECRET)}).respond_with_data(
        "ok"
    )
    assert execute(Connector.objects.get(pk=hook.pk), {"body": "old"}).ok

    hook.set_secrets({"user": "elastic", "password": "a-new-password"})
    hook.save()
    httpserver.clear()
    httpserver.expect_request(
        "/hook", headers={"Authorization": basic("elastic", "a-new-password")}
    ).respond_with_data("ok")

    assert execute(Connector.objects.get(pk=hook.pk), {"body": "new"}).ok
    assert len(decryptions) == 2


def test_after_a_key_change_the_secrets_are_opened_again_and_a_foreign_key_fails_the_run(
    hook, httpserver, settings
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    assert execute(Connector.objects.get(pk=hook.pk), {"body": "with the right key"}).ok

    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    result = execute(Connector.objects.get(pk=hook.pk), {"body": "with a key that cannot open it"})

    assert not result.ok
    assert "Unable to decrypt the connector's secrets" in result.message
    assert len(httpserver.log) == 1
