"""The embedded default is configured for web and workers writing at once."""

import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions(db):
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0


def test_django_q2_never_trims_results_and_never_retries_on_its_own():
    cluster = settings.Q_CLUSTER
    assert cluster["save_limit"] == -1  # no success rows, so no trimming inside a write transaction
    assert cluster["max_attempts"] == 1  # retries are ActionRun rows, bounded by Kibana's settings
    assert cluster["timeout"] < cluster["retry"]
