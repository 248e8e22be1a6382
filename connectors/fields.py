"""Encrypted, bound connector secrets.

The column holds a Fernet token of `{"v": 1, "id": ..., "type": ..., "secrets": {...}}`. Opening it
checks `id` and `type` against the row, so ciphertext copied onto another connector (or a changed
type) fails: the role Kibana's AAD plays. The stock django-encrypted-model-fields field hands back the
stored ciphertext when decryption fails; ours raises SecretsUnreadable, and only when the secrets are
opened, so lists still load and only the run fails. Keys are read at call time, not at import.
"""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from encrypted_model_fields.fields import EncryptedTextField

from connectors.exceptions import SecretsUnreadable

ENVELOPE_VERSION = 1


def _keys() -> list[Fernet]:
    return [Fernet(key) for key in settings.FIELD_ENCRYPTION_KEY]


def _crypter() -> MultiFernet:
    return MultiFernet(_keys())


def seal(secrets: dict, *, connector_id: str, type_id: str) -> str:
    envelope = {"v": ENVELOPE_VERSION, "id": connector_id, "type": type_id, "secrets": secrets}
    return _crypter().encrypt(json.dumps(envelope, sort_keys=True).encode()).decode()


def open_sealed(token: str, *, connector_id: str, type_id: str) -> dict:
    try:
        envelope = json.loads(_crypter().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise SecretsUnreadable(
            "Unable to decrypt the connector's secrets: none of the keys in CONNECTORS_ENCRYPTION_KEYS "
            "opens them (was the key changed?)"
        ) from None
    if envelope.get("id") != connector_id or envelope.get("type") != type_id:
        raise SecretsUnreadable(
            "The connector's stored secrets belong to another connector or connector type and were refused"
        )
    return envelope["secrets"]


def needs_rotation(token: str) -> bool:
    """True when the first (current) key cannot open the token."""
    try:
        _keys()[0].decrypt(token.encode())
        return False
    except InvalidToken:
        return True


def rotate(token: str) -> str:
    return _crypter().rotate(token.encode()).decode()


class SecretsField(EncryptedTextField):
    """Holds a sealed token as it is; sealing and opening happen on the model, which knows the id
    and type that the envelope is bound to. Refuses to store anything that is not a Fernet token."""

    def to_python(self, value):
        return value

    def from_db_value(self, value, *args, **kwargs):
        return value

    def get_db_prep_save(self, value, connection):
        if value in (None, ""):
            return value
        if not isinstance(value, str) or not value.startswith("gAAAAA"):
            raise ValueError("SecretsField stores only sealed tokens; use Connector.set_secrets()")
        return value


def opens_with_configured_keys(token: str) -> bool:
    """True when one of the configured keys opens the token (its envelope is not checked)."""
    try:
        _crypter().decrypt(token.encode())
        return True
    except (InvalidToken, ValueError):
        return False
