"""The README's REST API curl examples run against a live server and every call succeeds."""

import re
import subprocess
from pathlib import Path

import pytest

from connectors.models import Connector, Space
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
