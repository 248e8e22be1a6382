"""`tests/reliability/test_nul_characters.py` again, on PostgreSQL: the database whose text and jsonb
cannot hold U+0000 (SQLite can, so `make test`'s own run of that module proves less).

Django reads its database once, at start-up, so the module runs in a child pytest with DATABASE_URL
pointing at a fresh database name on the scale-out PostgreSQL (pytest-django creates `test_<name>`
and drops it at the end)."""

import pytest

from tests.scaleout.conftest import rerun_on_postgresql

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(180)]

MODULE = "tests/reliability/test_nul_characters.py"


def test_nul_characters_are_refused_or_replaced_on_postgresql_too(scaleout_services):
    output = rerun_on_postgresql(MODULE, scaleout_services["postgres"], "nul")
    # Every test of the module ran there (none skipped or deselected), the vendor check included.
    assert " passed" in output and "skipped" not in output and "deselected" not in output, output
