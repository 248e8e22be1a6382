"""What one journal batch costs in SQL statements, and that its documents arrive intact.

These run on the test database (SQLite by default); `test_the_same_on_postgresql` runs this module
again in a child pytest against a fresh PostgreSQL database, where the event INSERT is built by hand
(actions/journal.py -> eventlog.services.record_many)."""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions import journal as journal_module
from actions import queue, worker
from actions.journal import Journal, Outcome, _Entry
from actions.models import ActionRun
from connectors.base import ExecutionResult
from eventlog.models import Event
from tests.actions.helpers import make_webhook
from tests.scaleout.conftest import ROOT, rerun_on_postgresql

TRICKY = 'it\'s "quoted" \\ back\\slash %s 100% {braces} ünïcødé 🚀 \n tab\t end'


@pytest.fixture
def hook(transactional_db):
    from connectors.models import Space

    return make_webhook(Space.ensure_default(), "http://127.0.0.1:9/hook")


def claimed_runs(connector, count: int) -> tuple[str, list[ActionRun]]:
    ActionRun.objects.bulk_create(
        [
            queue.new_run(connector, {"body": f"n{i}"}, space_id="default", source="background_task")
            for i in range(count)
        ]
    )
    return worker.claim_many(list(ActionRun.objects.values_list("pk", flat=True)))


def document(run: ActionRun, action: str, message: str) -> dict:
    return {
        "event": {"action": action, "kind": "action", "outcome": "success", "duration": "1000"},
        "kibana": {
            "saved_objects": [{"rel": "primary", "type": "action", "id": run.connector_id}],
            "space_ids": ["default"],
            "action": {
                "name": message,
                "id": run.connector_id,
                "type_id": ".webhook",
                "execution": {"uuid": run.execution_uuid, "source": "background_task", "attempt": 1},
            },
        },
        "message": message,
    }


def test_the_database_is_the_one_this_run_expects():
    assert connection.vendor == os.environ.get("CONNECTORS_EXPECT_DB_VENDOR", "sqlite")


def test_a_journal_batch_writes_all_its_events_in_one_insert_and_its_rows_in_one_update(hook):
    token, runs = claimed_runs(hook, 30)  # 60 events: within one SQLite INSERT
    now = datetime.now(UTC)
    entries = []
    for run in runs:
        entries.append(_Entry(document(run, "execute-start", "started")))
        entries.append(
            _Entry(
                document(run, "execute", "executed"),
                Outcome(run.pk, token, True, "", final=True),
                (hook.pk, ExecutionResult.success(), now),
            )
        )

    with CaptureQueriesContext(connection) as queries:
        journal_module.write(entries)

    # One INSERT run for every row (SQLite's executemany) is logged as "60 times: INSERT ...".
    statements = [re.sub(r"^\d+ times: ", "", q["sql"]) for q in queries.captured_queries]
    inserts = [sql for sql in statements if sql.startswith("INSERT") and "eventlog_event" in sql]
    updates = [sql for sql in statements if sql.startswith("UPDATE") and "actions_actionrun" in sql]
    assert len(inserts) == 1 and len(updates) == 1
    # 60 events, 30 run rows and the connector's health: BEGIN, the INSERT, two UPDATEs, COMMIT.
    assert len(statements) <= 5, statements
    assert set(ActionRun.objects.values_list("status", flat=True)) == {ActionRun.SUCCEEDED}
    assert Event.objects.filter(action="execute").count() == 30
    assert Event.objects.filter(action="execute-start").count() == 30


def test_documents_with_quotes_backslashes_percent_signs_and_unicode_are_stored_as_they_were(hook):
    token, runs = claimed_runs(hook, 3)
    entries = [
        _Entry(document(run, "execute", f"{TRICKY} #{index}"), Outcome(run.pk, token, True, "", final=True))
        for index, run in enumerate(runs)
    ]

    journal_module.write(entries)

    stored = {event.message: event for event in Event.objects.all()}
    assert sorted(stored) == sorted(f"{TRICKY} #{index}" for index in range(3))
    for index, run in enumerate(runs):
        event = stored[f"{TRICKY} #{index}"]
        assert event.document["kibana"]["action"]["name"] == f"{TRICKY} #{index}"
        assert event.execution_uuid == run.execution_uuid
        assert event.duration_ns == 1000 and event.attempt == 1 and event.timestamp is not None


def test_a_journal_reports_how_many_results_it_wrote_in_how_many_transactions(hook):
    token, runs = claimed_runs(hook, 4)
    journal = Journal()
    for run in runs:
        journal.add(document(run, "execute", "executed"), Outcome(run.pk, token, True, "", final=True))
    assert journal.flush()

    report = journal.report()
    assert report["entries_written"] == 4
    assert 1 <= report["writes"] <= 4
    assert set(ActionRun.objects.values_list("status", flat=True)) == {ActionRun.SUCCEEDED}


def test_the_same_on_postgresql():
    """This module again, in a child pytest on a fresh PostgreSQL database (skipped without one)."""
    server = os.environ.get("CONNECTORS_TEST_POSTGRES_URL")
    if not server or connection.vendor != "sqlite":
        pytest.skip("CONNECTORS_TEST_POSTGRES_URL is not set (or this is already the PostgreSQL run)")
    output = rerun_on_postgresql(str(Path(__file__).relative_to(ROOT)), server, "journal")
    assert "4 passed, 1 skipped" in output, output
