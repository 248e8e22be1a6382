"""`tests/reliability/test_lone_surrogates.py` again, on PostgreSQL (psycopg refuses a lone surrogate
as SQLite's driver does, but the refusal must not depend on the database)."""

import pytest

from tests.scaleout.conftest import rerun_on_postgresql

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(180)]

MODULE = "tests/reliability/test_lone_surrogates.py"


def test_lone_surrogates_are_refused_or_replaced_on_postgresql_too(scaleout_services):
    output = rerun_on_postgresql(MODULE, scaleout_services["postgres"], "surrogates")
    assert " passed" in output and "skipped" not in output and "deselected" not in output, output
