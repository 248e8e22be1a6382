import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from connectors.exceptions import SecretsUnreadable
from connectors.models import Connector

MARKER = "marker-secret-7f3a91"


@pytest.fixture
def webhook(default_space):
    connector = Connector(
        space=default_space, name="hook", connector_type_id=".webhook", config={"url": "http://x"}
    )
    connector.set_secrets({"user": "u", "password": MARKER})
    connector.save()
    return connector


def _raw_column(connector_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets_sealed FROM connectors_connector WHERE id = %s", [connector_id])
        return cursor.fetchone()[0]


def test_the_raw_database_column_never_holds_plaintext(webhook):
    raw = _raw_column(webhook.id)
    assert MARKER not in raw
    assert raw.startswith("gAAAAA")
    assert Connector.objects.get(pk=webhook.pk).get_secrets()["password"] == MARKER


def test_a_wrong_key_raises_instead_of_returning_ciphertext(webhook, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    connector = Connector.objects.get(pk=webhook.pk)  # the list still loads
    with pytest.raises(SecretsUnreadable, match="CONNECTORS_ENCRYPTION_KEYS"):
        connector.get_secrets()


def test_secrets_copied_onto_another_connector_fail_to_open(webhook, default_space):
    other = Connector(
        space=default_space, name="other", connector_type_id=".webhook", config={"url": "http://y"}
    )
    other.set_secrets({})
    other.save()
    Connector.objects.filter(pk=other.pk).update(secrets_sealed=_raw_column(webhook.id))
    with pytest.raises(SecretsUnreadable, match="another connector"):
        Connector.objects.get(pk=other.pk).get_secrets()


def test_changing_the_type_makes_the_secrets_unreadable(webhook):
    Connector.objects.filter(pk=webhook.pk).update(connector_type_id=".slack")
    with pytest.raises(SecretsUnreadable):
        Connector.objects.get(pk=webhook.pk).get_secrets()


def test_the_field_refuses_to_store_plaintext(default_space):
    connector = Connector(
        space=default_space, name="x", connector_type_id=".webhook", secrets_sealed='{"a": 1}'
    )
    with pytest.raises(ValueError, match="sealed tokens"):
        connector.save()


def test_rotation_re_encrypts_rows_under_the_first_key_and_reports_them(webhook, settings, capsys):
    old_key = settings.FIELD_ENCRYPTION_KEY[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    call_command("rotate_encryption_keys")
    assert "1 still needed an old key" in capsys.readouterr().out
    settings.FIELD_ENCRYPTION_KEY = [new_key]  # the old key is gone; the row still opens
    assert Connector.objects.get(pk=webhook.pk).get_secrets()["password"] == MARKER
    call_command("rotate_encryption_keys")
    assert "0 still needed an old key" in capsys.readouterr().out


def test_repr_never_shows_secrets(webhook):
    assert MARKER not in repr(webhook)
    assert MARKER not in str(webhook)
