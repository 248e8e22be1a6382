"""Start-up says what it does, once (issue 15 §4): a bad variable, settings key or `.env` line is one
line naming it and a non-zero exit; `.env` is read (the environment wins); placeholders are refused;
a wrong CONNECTORS_ENCRYPTION_KEYS is noticed at once (start-up, /readyz, Task Manager health, the
admin list, rotate_encryption_keys) and nothing is overwritten while it is wrong."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from connectors.management.commands.serve import Command as ServeCommand
from connectors.models import Connector, Space

ROOT = Path(__file__).resolve().parents[2]
READ_SETTING = "from django.conf import settings; print('LOG_LEVEL=' + settings.LOG_LEVEL)"


def manage(tmp_path: Path, *args: str, env_file: str = "", **variables: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PORT", "LOG_LEVEL", "CONNECTORS_WORKERS", "CONNECTORS_CONFIG", "SECRET_KEY"}
    }
    env.update({"CONNECTORS_VAR_DIR": str(tmp_path / "var"), "CONNECTORS_ENV_FILE": env_file, **variables})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    lines = [line for line in completed.stderr.splitlines() if not line.startswith("WARNING: CONNECTORS_ENC")]
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("Configuration error: ")
    return lines[0]


def test_a_bad_environment_variable_is_one_line_naming_it(tmp_path):
    line = one_error_line(manage(tmp_path, "check", PORT="eighty"))
    assert "PORT must be a whole number, got 'eighty'" in line


def test_a_bad_web_concurrency_is_one_line_naming_it_not_a_traceback(tmp_path):
    line = one_error_line(manage(tmp_path, "serve", "--help", WEB_CONCURRENCY="two"))
    assert "WEB_CONCURRENCY must be a whole number, got 'two'" in line


def test_a_misspelt_variable_in_the_environment_names_the_closest_known_one(tmp_path):
    line = one_error_line(manage(tmp_path, "check", CONNECTORS_WORKER="3"))
    assert "unknown variable CONNECTORS_WORKER (did you mean CONNECTORS_WORKERS?)" in line


def test_a_misspelt_settings_key_is_one_line_naming_it_and_the_closest_key(tmp_path):
    config = tmp_path / "connectors.yml"
    config.write_text('xpack.actions.allowedHost: ["example.com"]\n')
    line = one_error_line(manage(tmp_path, "check", CONNECTORS_CONFIG=str(config)))
    assert "xpack.actions.allowedHost" in line
    assert "xpack.actions.allowedHosts" in line


def test_dot_env_is_read_and_the_environment_wins_over_it(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=WARNING\nCONNECTORS_WORKERS=3\n")
    read = manage(tmp_path, "shell", "-c", READ_SETTING, env_file=str(env_file))
    assert read.returncode == 0, read.stderr
    assert "LOG_LEVEL=WARNING" in read.stdout
    overridden = manage(tmp_path, "shell", "-c", READ_SETTING, env_file=str(env_file), LOG_LEVEL="ERROR")
    assert "LOG_LEVEL=ERROR" in overridden.stdout


def test_a_bad_value_in_dot_env_names_the_variable(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=LOUD\n")
    line = one_error_line(manage(tmp_path, "check", env_file=str(env_file)))
    assert "LOG_LEVEL must be one of" in line


def test_an_unknown_key_in_dot_env_names_the_closest_known_variable(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("CONNECTORS_WORKER=3\n")
    line = one_error_line(manage(tmp_path, "check", env_file=str(env_file)))
    assert "unknown variable CONNECTORS_WORKER (did you mean CONNECTORS_WORKERS?)" in line


def test_dot_env_example_copied_as_it_is_starts(tmp_path):
    """`.env.example` says "copy to .env": doing exactly that must work."""
    env_file = tmp_path / ".env"
    env_file.write_text((ROOT / ".env.example").read_text())
    completed = manage(tmp_path, "check", env_file=str(env_file))
    assert completed.returncode == 0, completed.stderr


def test_connectors_behind_tls_proxy_set_in_dot_env_is_read(tmp_path):
    """The README says every variable may be set in `.env`; this one was refused as unknown."""
    env_file = tmp_path / ".env"
    env_file.write_text("CONNECTORS_BEHIND_TLS_PROXY=true\n")
    read = "from django.conf import settings; print('SECURE', settings.SESSION_COOKIE_SECURE)"
    completed = manage(tmp_path, "shell", "-c", read, env_file=str(env_file))
    assert completed.returncode == 0, completed.stderr
    assert "SECURE True" in completed.stdout


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SECRET_KEY", "change-me-to-a-long-random-string"),
        ("CONNECTORS_ENCRYPTION_KEYS", "changeme-changeme-changeme-changeme-123"),
    ],
)
def test_a_placeholder_secret_is_refused(tmp_path, variable, value):
    line = one_error_line(manage(tmp_path, "check", **{variable: value}))
    assert f"{variable} still holds the example's placeholder" in line
    assert value not in line  # the value itself is never printed


# ---- a wrong CONNECTORS_ENCRYPTION_KEYS ---------------------------------------------------------------


@pytest.fixture
def sealed_connector(db, default_space):
    connector = Connector(
        space=Space.ensure_default(),
        name="sealed hook",
        connector_type_id=".webhook",
        config={"url": "https://example.com/hook", "method": "post", "hasAuth": True},
    )
    connector.set_secrets({"user": "u", "password": "sealed-password-1"})
    connector.save()
    return connector


@pytest.fixture
def wrong_key(settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]


def test_readyz_and_task_manager_health_say_when_the_keys_do_not_open_the_secrets(
    api, sealed_connector, client, settings
):
    assert client.get("/readyz").status_code == 200
    assert api.get("/api/task_manager/_health").json()["stats"]["connector_secrets"]["status"] == "OK"

    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "CONNECTORS_ENCRYPTION_KEYS does not open the stored secrets" in ready.json()["checks"]["secrets"]
    health = api.get("/api/task_manager/_health").json()
    assert health["status"] == "error"
    assert health["stats"]["connector_secrets"]["value"]["unreadable"] == 1
    assert "sealed-password-1" not in ready.content.decode() + str(health)


def test_the_admin_list_flags_connectors_whose_secrets_cannot_be_opened(
    admin_client, sealed_connector, settings
):
    url = reverse("admin:connectors_connector_changelist")
    assert "Secrets unreadable" not in admin_client.get(url).content.decode()
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    page = admin_client.get(url).content.decode()
    assert "Secrets unreadable" in page


def test_serve_reports_unreadable_secrets_at_start(sealed_connector, wrong_key):
    command = ServeCommand(stdout=io.StringIO(), stderr=io.StringIO())
    command._report_configuration()
    assert (
        "ERROR: CONNECTORS_ENCRYPTION_KEYS does not open the stored secrets" in command.stderr._out.getvalue()
    )


def test_rotate_with_a_wrong_key_is_one_clear_error_and_changes_nothing(sealed_connector, wrong_key):
    before = Connector.objects.get(pk=sealed_connector.pk).secrets_sealed
    with pytest.raises(
        CommandError, match="open with none of the keys in CONNECTORS_ENCRYPTION_KEYS; nothing"
    ):
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert Connector.objects.get(pk=sealed_connector.pk).secrets_sealed == before
