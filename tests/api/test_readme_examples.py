"""The README's REST API curl examples run against a live server and every call succeeds."""

import ipaddress
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from connectors.management.commands.bootstrap import DEFAULT_PASSWORD, DEFAULT_USERNAME
from connectors.models import Connector, Space
from connectors.settings_file import parse_config_dict
from tests.api.conftest import make_user, new_api_key

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_script() -> str:
    text = README.read_text()
    match = re.search(r"```sh\n(BASE=http://127\.0\.0\.1:8000\n.*?)```", text, re.S)
    assert match, "the REST API section's curl block is missing"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_curl_examples_all_succeed(live_server, default_space, tmp_path):
    key = new_api_key(make_user("admin", superuser=True))
    script = readme_script().replace("BASE=http://127.0.0.1:8000", f"BASE={live_server.url}")
    # Make every curl report its status code and fail the script on an HTTP error.
    script = script.replace("curl ", 'curl -sS --fail-with-body -o /dev/null -w "%{http_code}\\n" ')
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CONNECTORS_API_KEY": key},
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    statuses = completed.stdout.split()
    assert statuses and set(statuses) <= {"200", "204"}
    assert statuses.count("204") == 2  # the connector delete and the space delete
    assert not Space.objects.filter(pk="marketing").exists()
    assert not Connector.objects.filter(pk="my-log").exists()
    assert Connector.objects.filter(name="my-index").exists()


# ---- every example runs as printed after `make run` ------------------------------------------------


def readme_blocks() -> list[str]:
    return re.findall(r"```(?:sh|bash)\n(.*?)```", README.read_text(), re.S)


def quick_start_settings() -> dict:
    match = re.search(r"```yaml\n(# connectors\.yml: quick start.*?)```", README.read_text(), re.S)
    assert match, "the quick-start settings file is missing"
    return yaml.safe_load(match.group(1))


def test_every_readme_example_logs_in_as_the_user_make_run_creates():
    """`make run` creates `admin` (bootstrap's defaults); an example as `elastic:…` fails as printed."""
    make_run_user = f"{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}"
    credentials = [c for block in readme_blocks() for c in re.findall(r"-u\s+(\S+)", block)]
    assert credentials, "no example with -u"
    assert set(credentials) == {make_run_user}, credentials


def test_the_quick_start_settings_let_a_webhook_reach_this_machine():
    config = parse_config_dict(quick_start_settings(), source="README quick start")
    allowed = config["connectors.network.allowPrivateAddresses"]
    assert allowed is True or any(
        ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network(n) for n in allowed
    )


def _run_as_printed(block: str, live_url: str, tmp_path, sink_url: str | None = None):
    script = block.replace("http://127.0.0.1:8000", live_url).replace("localhost:8000", live_url)
    if sink_url:
        script = script.replace("http://127.0.0.1:9000", sink_url)
    script = script.replace("curl ", "curl -sS --fail-with-body ")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )


@pytest.mark.slow
def test_the_extension_and_saved_object_examples_run_as_printed(
    live_server, default_space, tmp_path, kibana_settings, httpserver
):
    """With the user `make run` creates and the quick-start settings file, as printed."""
    make_user(DEFAULT_USERNAME, superuser=True)
    get_user_model().objects.filter(username=DEFAULT_USERNAME).update(
        password=make_password(DEFAULT_PASSWORD)
    )
    kibana_settings.set(quick_start_settings())
    httpserver.expect_request("/hook").respond_with_data("ok")
    sink = httpserver.url_for("").rstrip("/")
    extensions = next(b for b in readme_blocks() if "_enqueue" in b)
    saved_objects = next(b for b in readme_blocks() if "saved_objects/_export" in b and "curl" in b)

    completed = _run_as_printed(extensions, live_server.url, tmp_path, sink)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert Connector.objects.filter(pk="my-hook", connector_type_id=".webhook").exists()
    assert '"status"' in completed.stdout  # the follow-up of the queued run answered

    completed = _run_as_printed(saved_objects, live_server.url, tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert '"success":true' in completed.stdout.replace(" ", "")
    assert "my-hook" in (tmp_path / "export.ndjson").read_text()
