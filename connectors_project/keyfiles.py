"""Keys for the embedded default: generated once into var/ so `make run` works out of the box.

Production sets SECRET_KEY and CONNECTORS_ENCRYPTION_KEYS; the warning says so once per start-up
(`warn`: the processes `serve` starts do not repeat it).
"""

import base64
import hashlib
import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# `serve` sets this in its children's environment: it has printed the start-up warnings already.
STARTUP_REPORTED_VARIABLE = "CONNECTORS_STARTUP_REPORTED"


def warn(message: str) -> None:
    """A start-up warning, printed once per start: not again by the processes `serve` starts."""
    if os.environ.get(STARTUP_REPORTED_VARIABLE) != "1":
        print(message, file=sys.stderr)  # noqa: T201 -- logging is not configured yet


def _read_or_create(path: Path, make) -> tuple[str, bool]:
    """Created owner-only from the start (never world-readable, even for an instant), and only if
    absent: when two processes start at once, the second reads the first one's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    value = make()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value, True


def generated_secret_key(var_dir: Path) -> str:
    value, _ = _read_or_create(var_dir / "secret.key", lambda: secrets.token_urlsafe(50))
    return value


def generated_encryption_key(var_dir: Path) -> str:
    path = var_dir / "encryption.key"
    value, created = _read_or_create(path, lambda: Fernet.generate_key().decode())
    verb = "generated" if created else "using the generated"
    warn(
        f"WARNING: CONNECTORS_ENCRYPTION_KEYS is not set; {verb} key in {path}. "
        "Set CONNECTORS_ENCRYPTION_KEYS in production and keep the key safe: without it, "
        "stored connector secrets cannot be read."
    )
    return value


def normalise_fernet_keys(keys: list[str], variable: str) -> list[str]:
    """Accept Fernet keys as they are, and any other string of 32+ characters (a Kibana-style
    encryption key) by deriving a Fernet key from it with SHA-256."""
    result = []
    for key in keys:
        try:
            Fernet(key)
            result.append(key)
            continue
        except ValueError:
            pass
        if len(key) < 32:
            raise ImproperlyConfigured(
                f"{variable}: every key must be a Fernet key or a string of at least 32 characters"
            )
        result.append(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode())
    return result
