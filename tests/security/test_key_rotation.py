"""Key rotation never loses an update made while it runs (compare-and-swap on the ciphertext).

The concurrent writer is real: another thread, hence another database connection, saves new secrets
between the command's read of a row and its write, at the moment the command computes the new
ciphertext (the real `rotate`, wrapped).
"""

import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from connectors.fields import needs_rotation
from connectors.management.commands import rotate_encryption_keys
from connectors.models import Connector, Space

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = "password-before-rotation"
DURING = "password-saved-during-rotation"


@pytest.fixture
def keys(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [old_key]
    return settings, old_key, new_key


def make_hook(name: str) -> Connector:
    connector = Connector(
        space=Space.ensure_default(), name=name, connector_type_id=".webhook", config={"url": "http://x"}
    )
    connector.set_secrets({"user": "u", "password": BEFORE})
    connector.save()
    return connector


def in_another_connection(work) -> None:
    failures = []

    def run():
        try:
            work()
        except Exception as exc:  # reported in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the concurrent writer is still blocked"
    assert not failures, failures


def save_secrets_meanwhile(monkeypatch, connector_id: str, *, keys_of_the_writer=None, settings=None):
    """Wrap the real `rotate` so that, the first time, another connection saves new secrets first."""
    real_rotate = rotate_encryption_keys.rotate
    calls = []

    def save_new_secrets():
        current = settings.FIELD_ENCRYPTION_KEY if settings else None
        if keys_of_the_writer:  # a process not yet given the new key
            settings.FIELD_ENCRYPTION_KEY = keys_of_the_writer
        try:
            connector = Connector.objects.get(pk=connector_id)
            connector.set_secrets({"user": "u", "password": DURING})
            connector.save()
        finally:
            if keys_of_the_writer:
                settings.FIELD_ENCRYPTION_KEY = current

    def rotate_after_a_concurrent_save(token):
        if not calls:
            in_another_connection(save_new_secrets)
        calls.append(token)
        return real_rotate(token)

    monkeypatch.setattr(rotate_encryption_keys, "rotate", rotate_after_a_concurrent_save)
    return calls


def test_secrets_saved_between_the_read_and_the_write_of_rotation_are_kept(keys, monkeypatch):
    settings, old_key, new_key = keys
    hook = make_hook("hook")
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    calls = save_secrets_meanwhile(monkeypatch, hook.id)

    call_command("rotate_encryption_keys")

    assert len(calls) == 1  # the row changed under the command, which did not write over it
    assert Connector.objects.get(pk=hook.id).get_secrets()["password"] == DURING
    settings.FIELD_ENCRYPTION_KEY = [new_key]
    assert Connector.objects.get(pk=hook.id).get_secrets()["password"] == DURING


def test_a_row_rewritten_under_the_old_key_meanwhile_is_read_again_and_rotated(keys, monkeypatch):
    settings, old_key, new_key = keys
    hook = make_hook("hook")
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    calls = save_secrets_meanwhile(monkeypatch, hook.id, keys_of_the_writer=[old_key], settings=settings)

    call_command("rotate_encryption_keys")

    assert len(calls) == 2  # the first swap failed; the row was read again and rotated
    sealed = Connector.objects.get(pk=hook.id).secrets_sealed
    assert not needs_rotation(sealed)
    settings.FIELD_ENCRYPTION_KEY = [new_key]
    assert Connector.objects.get(pk=hook.id).get_secrets()["password"] == DURING


def test_a_row_deleted_during_rotation_is_skipped_and_the_others_are_rotated(keys, monkeypatch):
    settings, old_key, new_key = keys
    doomed, kept = make_hook("doomed"), make_hook("kept")
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    real_rotate = rotate_encryption_keys.rotate
    deleted = []

    def rotate_after_a_concurrent_delete(token):
        if not deleted:
            in_another_connection(lambda: Connector.objects.filter(pk=doomed.id).delete())
            deleted.append(True)
        return real_rotate(token)

    monkeypatch.setattr(rotate_encryption_keys, "rotate", rotate_after_a_concurrent_delete)

    call_command("rotate_encryption_keys")

    settings.FIELD_ENCRYPTION_KEY = [new_key]
    # whichever row was read first, `doomed` is gone and `kept` is rotated
    assert list(Connector.objects.values_list("name", flat=True)) == ["kept"]
    assert Connector.objects.get(pk=kept.id).get_secrets()["password"] == BEFORE


def test_rotation_reads_in_batches_so_a_concurrent_write_does_not_break_it(keys, monkeypatch):
    # With one cursor open over every row, SQLite refuses the command's write once another
    # connection has written (its read snapshot is stale): with `.iterator(chunk_size=2)` in place of
    # the batches this test fails with "database is locked".
    settings, old_key, new_key = keys
    monkeypatch.setattr(rotate_encryption_keys, "BATCH_SIZE", 2)
    hooks = [make_hook(f"hook-{n}") for n in range(5)]
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    save_secrets_meanwhile(monkeypatch, hooks[-1].id)

    call_command("rotate_encryption_keys")

    settings.FIELD_ENCRYPTION_KEY = [new_key]
    passwords = {c.name: c.get_secrets()["password"] for c in Connector.objects.all()}
    assert passwords == {f"hook-{n}": BEFORE for n in range(4)} | {"hook-4": DURING}
