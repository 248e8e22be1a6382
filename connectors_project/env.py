"""Typed readers for environment variables.

Every reader raises ImproperlyConfigured naming the variable, so a bad value stops start-up with a
sentence instead of a traceback deep inside Django.
"""

import difflib
import os
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the file named by NAME_FILE (for Docker/Kubernetes secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path}: {exc.strerror}") from exc
    return env_str(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        allowed = ", ".join(schemes)
        raise ImproperlyConfigured(f"{name} must be a URL with one of the schemes {allowed}, got {value!r}")
    return value


# Every variable the service reads; a key in `.env` that is not here is a typo, named with the closest.
KNOWN_VARIABLES = (
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "CONNECTORS_BEHIND_TLS_PROXY",
    "HOST",
    "PORT",
    "DATABASE_URL",
    "REDIS_URL",
    "CONNECTORS_ENCRYPTION_KEYS",
    "CONNECTORS_ENCRYPTION_KEYS_FILE",
    "CONNECTORS_CONFIG",
    "CONNECTORS_WORKERS",
    "CONNECTORS_VAR_DIR",
    "CONNECTORS_CLUSTER_NAME",
    "CONNECTORS_TASKS_SYNC",
    "CONNECTORS_EXPORT_PASSPHRASE",
    "LOG_LEVEL",
    "DJANGO_SUPERUSER_USERNAME",
    "DJANGO_SUPERUSER_PASSWORD",
    "WEB_CONCURRENCY",
    "CONNECTORS_ENV_FILE",
    "CONNECTORS_STARTUP_REPORTED",  # set by `serve` for its children
)

# Values copied from an example file without being replaced. Refused: a key anyone can read in the
# repository protects nothing.
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "your-")


def load_env_file(path) -> str | None:
    """Read `.env` (python-dotenv) into os.environ; a variable already in the environment wins.
    Returns the path when a file was read. An unknown key stops start-up naming the closest known one."""
    from pathlib import Path

    from dotenv import dotenv_values

    if not path:
        return None
    path = Path(path)
    if not path.is_file():
        return None
    values = dotenv_values(path)
    for key in values:
        if key not in KNOWN_VARIABLES:
            close = difflib.get_close_matches(key, KNOWN_VARIABLES, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ImproperlyConfigured(f"{path}: unknown variable {key}{hint}")
    for key, value in values.items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
    return str(path)


def refuse_misspelt_variables(environ) -> None:
    """A `CONNECTORS_*` variable that is not ours but nearly is (CONNECTORS_WORKER) is a typo that
    would be ignored silently; other names (CI's, a shell's) are left alone."""
    for name in sorted(environ):
        if name.startswith("CONNECTORS_") and name not in KNOWN_VARIABLES:
            close = difflib.get_close_matches(name, KNOWN_VARIABLES, n=1, cutoff=0.85)
            if close:
                raise ImproperlyConfigured(f"unknown variable {name} (did you mean {close[0]}?)")


def refuse_placeholder(name: str, value: str | None) -> None:
    # Only a value that starts with a marker: a random key almost never does (1 in ~10^9).
    if value and value.lower().startswith(_PLACEHOLDERS):
        raise ImproperlyConfigured(
            f"{name} still holds the example's placeholder; set a real value, or leave it empty and "
            "make run generates one under var/"
        )
