"""`tests/reliability/test_nul_characters.py` again, on PostgreSQL: the database whose text and jsonb
cannot hold U+0000 (SQLite can, so `make test`'s own run of that module proves less).

Django reads its database once, at start-up, so the module runs in a child pytest with DATABASE_URL
pointing at a fresh database name on the scale-out PostgreSQL (pytest-django creates `test_<name>`
and drops it at the end)."""

import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.scaleout.conftest import ROOT

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(180)]

MODULE = "tests/reliability/test_nul_characters.py"


def test_nul_characters_are_refused_or_replaced_on_postgresql_too(scaleout_services):
    admin = urlsplit(scaleout_services["postgres"])
    database_url = urlunsplit(admin._replace(path=f"/connectors_nul_{uuid.uuid4().hex[:12]}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CONNECTORS_"))}
    env.update({"DATABASE_URL": database_url, "CONNECTORS_EXPECT_DB_VENDOR": "postgresql"})
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", MODULE, "-q", "--no-header", "-rfE"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    output = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    # Every test of the module ran there (none skipped or deselected), the vendor check included.
    assert " passed" in output and "skipped" not in output and "deselected" not in output, output
