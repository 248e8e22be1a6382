"""Beyond Kibana: a connector's secrets sealed with a passphrase in an export, opened on import.

An export made with a passphrase carries each connector's secrets encrypted (scrypt-derived key,
AES-256-GCM, bound to the object's type, id and connector type) under the top-level key
`encryptedSecrets`, which Kibana ignores; an import with the same passphrase restores them.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
# The only cost an import accepts: the one the exporter writes (32 MiB and a fraction of a second per
# derivation). A file must not choose its own (n=2^20, r=32 would be 4 GiB per derivation).
ACCEPTED_SCRYPT_PARAMETERS = frozenset({(SCRYPT_N, SCRYPT_R, SCRYPT_P)})
SALT_BYTES = 16
NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text.encode(), validate=True)


class PassphraseBox:
    """Seals and opens secrets with a key derived from a passphrase (scrypt), AES-256-GCM.

    One salt per export file; the derived key is cached so a file of many connectors costs one
    derivation. Opening accepts only the exporter's scrypt parameters and the first salt it meets,
    so one import file costs at most one derivation whatever it says. The AAD binds the ciphertext
    to `<saved-object type>:<id>:<connector type>`.
    """

    def __init__(self, passphrase: str):
        if not passphrase:
            raise ValueError("an empty passphrase cannot protect secrets")
        self._passphrase = passphrase.encode()
        self._keys: dict[tuple[bytes, int, int, int], bytes] = {}
        self._salt: bytes | None = None

    def __repr__(self) -> str:
        return "<PassphraseBox>"

    def _key(self, salt: bytes, n: int, r: int, p: int) -> bytes:
        cache_key = (salt, n, r, p)
        if cache_key not in self._keys:
            self._keys[cache_key] = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._passphrase)
        return self._keys[cache_key]

    def seal(self, secrets: dict, aad: str) -> dict:
        if self._salt is None:
            self._salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        key = self._key(self._salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        plaintext = json.dumps(secrets, sort_keys=True).encode()
        return {
            "v": 1,
            "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(self._salt)},
            "alg": "AES-256-GCM",
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(key).encrypt(nonce, plaintext, aad.encode())),
        }

    def open(self, envelope: Any, aad: str) -> dict:
        """The secrets, or ValueError with a sentence that names no secret."""
        try:
            kdf = envelope["kdf"]
            if envelope.get("v") != 1 or kdf.get("name") != "scrypt" or envelope.get("alg") != "AES-256-GCM":
                raise ValueError
            n, r, p = kdf["n"], kdf["r"], kdf["p"]
            salt, nonce, ciphertext = (
                _unb64(kdf["salt"]),
                _unb64(envelope["nonce"]),
                _unb64(envelope["ciphertext"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("the encrypted secrets in the file are malformed") from None
        if any(type(value) is not int for value in (n, r, p)) or (n, r, p) not in ACCEPTED_SCRYPT_PARAMETERS:
            raise ValueError(
                f"the encrypted secrets use scrypt parameters this server does not accept "
                f"(only n={SCRYPT_N}, r={SCRYPT_R}, p={SCRYPT_P}, as its exports write)"
            )
        if self._salt is None:
            self._salt = salt
        elif salt != self._salt:
            raise ValueError(
                "the encrypted secrets use a different salt from the file's first ones (one salt per file)"
            )
        try:
            plaintext = AESGCM(self._key(salt, n, r, p)).decrypt(nonce, ciphertext, aad.encode())
        except (InvalidTag, ValueError):
            raise ValueError(
                "the passphrase does not open the encrypted secrets of this object "
                "(wrong passphrase, or the line was altered)"
            ) from None
        secrets = json.loads(plaintext)
        if not isinstance(secrets, dict):
            raise ValueError("the encrypted secrets in the file are malformed")
        return secrets
