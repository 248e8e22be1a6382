"""`tests/reliability/test_long_values.py` again, on PostgreSQL: the database that enforces column
lengths (SQLite stores a longer value)."""

import pytest

from tests.scaleout.conftest import rerun_on_postgresql

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(180)]

MODULE = "tests/reliability/test_long_values.py"


def test_long_values_are_refused_on_postgresql_too(scaleout_services):
    output = rerun_on_postgresql(MODULE, scaleout_services["postgres"], "longvalues")
    assert " passed" in output and "skipped" not in output and "deselected" not in output, output
