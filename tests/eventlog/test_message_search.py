"""The execution log's message search (`message` / `error.message` contain a phrase) goes through an
index: an FTS5 trigram table on SQLite (migration 0003), pg_trgm on PostgreSQL. It must find exactly
what a plain case-insensitive `contains` finds, and stay in step when events are deleted."""

import pytest
from django.db import connection

from eventlog import kql
from eventlog.models import Event
from tests.eventlog.factories import run_events


@pytest.fixture
def runs(db):
    return {
        "ok": run_events(connector_id="c-ok", name="Deploy hook"),
        "down": run_events(
            connector_id="c-down", outcome="failure", error="[503] Service Unavailable; retry: true"
        ),
        "quote": run_events(connector_id="c-quote", name='say "hi" now'),
    }


def matching(text):
    return set(Event.objects.filter(kql.to_q(text), action="execute").values_list("connector_id", flat=True))


def plain_contains(phrase):
    return {
        e.connector_id
        for e in Event.objects.filter(action="execute")
        if phrase.lower() in e.message.lower() or phrase.lower() in e.error_message.lower()
    }


@pytest.mark.parametrize(
    "phrase",
    ["Service Unavailable", "service unavailable", "deploy HOOK", 'say "hi"', "503", "ok", "zz-none"],
)
def test_a_message_search_finds_what_a_plain_contains_finds(runs, phrase):
    escaped = phrase.replace('"', '\\"')
    assert matching(f'"{escaped}"') == plain_contains(phrase)
    assert plain_contains(phrase) or phrase == "zz-none"


def test_a_field_search_looks_in_that_field_only(runs):
    assert matching('error.message: "Service Unavailable"') == {"c-down"}
    assert matching('message: "Service Unavailable"') == set()
    assert matching('NOT error.message: "Unavailable"') == {"c-ok", "c-quote"}


def test_deleted_events_leave_the_index(runs):
    Event.objects.filter(connector_id="c-down").delete()
    assert matching('"Service Unavailable"') == set()
    run_events(connector_id="c-new", outcome="failure", error="[503] Service Unavailable")
    assert matching('"Service Unavailable"') == {"c-new"}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
def test_on_sqlite_the_search_reads_the_trigram_index(runs):
    queryset = Event.objects.filter(kql.to_q('"Service Unavailable"'))
    plan = queryset.explain()
    assert "eventlog_event_text VIRTUAL TABLE INDEX" in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pg_trgm indexes are PostgreSQL's")
def test_on_postgresql_the_search_reads_the_trigram_index(runs):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve
    plan = Event.objects.filter(kql.to_q('"Service Unavailable"')).explain()
    assert "eventlog_message_trgm" in plan and "eventlog_error_message_trgm" in plan, plan
