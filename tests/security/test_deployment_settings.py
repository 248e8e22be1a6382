"""Deployment hardening: settings for running behind a TLS proxy, read by a fresh interpreter
(settings are read once, at start-up), and key files that are never readable by others."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors_project import keyfiles

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django\n"
    "django.setup()\n"
    "from django.conf import settings as s\n"
    "print(json.dumps({'session': s.SESSION_COOKIE_SECURE, 'csrf': s.CSRF_COOKIE_SECURE,"
    " 'proxy': s.SECURE_PROXY_SSL_HEADER, 'hsts': s.SECURE_HSTS_SECONDS}))\n"
)


def probe(tmp_path, **variables) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CONNECTORS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
            "CONNECTORS_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "probe-secret-key",
            "CONNECTORS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            **variables,
        }
    )
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def facts(completed: subprocess.CompletedProcess) -> dict:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_behind_a_tls_proxy_cookies_are_secure_hsts_is_on_and_the_proxy_header_is_trusted(tmp_path):
    result = facts(probe(tmp_path, CONNECTORS_BEHIND_TLS_PROXY="true"))
    assert result == {
        "session": True,
        "csrf": True,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "hsts": 31536000,
    }


def test_without_the_tls_proxy_setting_plain_http_keeps_working(tmp_path):
    result = facts(probe(tmp_path))
    assert result == {"session": False, "csrf": False, "proxy": None, "hsts": 0}


def test_a_bad_tls_proxy_value_stops_start_up_naming_the_variable(tmp_path):
    completed = probe(tmp_path, CONNECTORS_BEHIND_TLS_PROXY="yes")
    assert completed.returncode != 0
    assert "CONNECTORS_BEHIND_TLS_PROXY must be 'true' or 'false'" in completed.stderr


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_generated_key_file_is_created_owner_only_not_chmodded_afterwards(
    tmp_path, monkeypatch, open_umask
):
    # With chmod a no-op, only a file *created* 0600 ends up 0600: write-then-chmod left a window
    # in which the key was readable by every local user.
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    key = keyfiles.generated_secret_key(tmp_path)
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key


def test_a_key_file_another_process_created_first_is_read_not_replaced(tmp_path, monkeypatch):
    path = tmp_path / "secret.key"
    real_exists = Path.exists

    # The other process writes its key between our existence check and our create.
    def exists_then_lose_the_race(self):
        found = real_exists(self)
        if self == path and not found:
            path.write_text("the-other-process-key\n")
        return found

    monkeypatch.setattr(Path, "exists", exists_then_lose_the_race)
    assert keyfiles.generated_secret_key(tmp_path) == "the-other-process-key"
    assert path.read_text() == "the-other-process-key\n"
