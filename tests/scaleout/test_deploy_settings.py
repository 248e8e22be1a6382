"""Settings the scale-out profile relies on, read by a fresh interpreter (settings are read once, at
start-up). These need neither PostgreSQL nor Redis to be running."""

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.scaleout.conftest import ROOT

pytestmark = [pytest.mark.slow]

PROBE = (
    "import json, django\n"
    "django.setup()\n"
    "from django.conf import settings\n"
    "db = settings.DATABASES['default']\n"
    "print(json.dumps({'engine': db['ENGINE'], 'max_age': db['CONN_MAX_AGE'],"
    " 'health': db['CONN_HEALTH_CHECKS'], 'options': db.get('OPTIONS', {}),"
    " 'q': {k: v for k, v in settings.Q_CLUSTER.items() if k in ('name', 'redis', 'orm')},"
    " 'keys': settings.FIELD_ENCRYPTION_KEY}))\n"
)


def probe(tmp_path, **variables) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CONNECTORS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
            "CONNECTORS_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "probe-secret-key",
            "CONNECTORS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
    )
    env.update(variables)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def facts(completed: subprocess.CompletedProcess) -> dict:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_postgresql_url_gets_persistent_health_checked_connections_and_a_connect_timeout(tmp_path):
    result = facts(probe(tmp_path, DATABASE_URL="postgres://connectors:pw@db.internal:5432/connectors"))
    assert result["engine"] == "django.db.backends.postgresql"
    assert result["max_age"] == 60
    assert result["health"] is True
    assert result["options"] == {"connect_timeout": 10}


def test_redis_url_switches_the_cluster_to_the_redis_broker_under_its_cluster_name(tmp_path):
    result = facts(
        probe(tmp_path, REDIS_URL="redis://cache.internal:6379/3", CONNECTORS_CLUSTER_NAME="prod-eu")
    )
    assert result["q"] == {"name": "prod-eu", "redis": "redis://cache.internal:6379/3"}


def test_without_redis_url_the_cluster_uses_the_database_broker(tmp_path):
    result = facts(probe(tmp_path))
    assert result["q"] == {"name": "connectors", "orm": "default"}


def test_a_bad_cluster_name_stops_start_up_naming_the_variable(tmp_path):
    completed = probe(tmp_path, CONNECTORS_CLUSTER_NAME="prod eu")
    assert completed.returncode != 0
    assert "CONNECTORS_CLUSTER_NAME may hold only letters, digits" in completed.stderr


def test_encryption_keys_can_come_from_the_file_named_by_connectors_encryption_keys_file(tmp_path):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    key_file = tmp_path / "encryption-keys"
    key_file.write_text(f"{first},{second}\n")
    result = facts(
        probe(tmp_path, CONNECTORS_ENCRYPTION_KEYS=None, CONNECTORS_ENCRYPTION_KEYS_FILE=str(key_file))
    )
    assert result["keys"] == [first, second]
    assert not (tmp_path / "var" / "encryption.key").exists()  # no generated key beside the given ones


def test_an_unreadable_encryption_keys_file_stops_start_up_naming_the_variable(tmp_path):
    completed = probe(
        tmp_path, CONNECTORS_ENCRYPTION_KEYS=None, CONNECTORS_ENCRYPTION_KEYS_FILE=str(tmp_path / "missing")
    )
    assert completed.returncode != 0
    assert "CONNECTORS_ENCRYPTION_KEYS_FILE: cannot read" in completed.stderr
