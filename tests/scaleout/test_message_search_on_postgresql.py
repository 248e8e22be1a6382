"""`tests/eventlog/test_message_search.py` again, on PostgreSQL, where the message search goes
through pg_trgm GIN indexes instead of SQLite's FTS5 table (eventlog/migrations/0003)."""

import pytest

from tests.scaleout.conftest import rerun_on_postgresql

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(180)]


def test_the_message_search_finds_the_same_and_reads_its_index_on_postgresql(scaleout_services):
    output = rerun_on_postgresql(
        "tests/eventlog/test_message_search.py", scaleout_services["postgres"], "search"
    )
    # Everything ran there, the pg_trgm plan test included; only the SQLite plan test was skipped.
    assert "the FTS5 index is SQLite's" in output and " passed, 1 skipped" in output, output
