"""An index the execution log's message search can use (`message`/`error.message` contain a phrase).

SQLite: an FTS5 table with the trigram tokenizer over the two columns, kept in step by triggers (it
holds only the index; the text stays in `eventlog_event`). PostgreSQL: pg_trgm GIN indexes on the
upper-cased columns, which Django's `icontains` compares. Where pg_trgm cannot be created (a role
without the right), the search still works, unindexed; `docs/eventlog.md` says so.
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger("eventlog")

SQLITE_UP = [
    "CREATE VIRTUAL TABLE eventlog_event_text USING fts5("
    "message, error_message, content='eventlog_event', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER eventlog_event_text_ai AFTER INSERT ON eventlog_event BEGIN "
    "INSERT INTO eventlog_event_text(rowid, message, error_message) "
    "VALUES (new.id, new.message, new.error_message); END",
    "CREATE TRIGGER eventlog_event_text_ad AFTER DELETE ON eventlog_event BEGIN "
    "INSERT INTO eventlog_event_text(eventlog_event_text, rowid, message, error_message) "
    "VALUES ('delete', old.id, old.message, old.error_message); END",
    "CREATE TRIGGER eventlog_event_text_au AFTER UPDATE OF message, error_message ON eventlog_event BEGIN "
    "INSERT INTO eventlog_event_text(eventlog_event_text, rowid, message, error_message) "
    "VALUES ('delete', old.id, old.message, old.error_message); "
    "INSERT INTO eventlog_event_text(rowid, message, error_message) "
    "VALUES (new.id, new.message, new.error_message); END",
    "INSERT INTO eventlog_event_text(eventlog_event_text) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS eventlog_event_text_au",
    "DROP TRIGGER IF EXISTS eventlog_event_text_ad",
    "DROP TRIGGER IF EXISTS eventlog_event_text_ai",
    "DROP TABLE IF EXISTS eventlog_event_text",
]
POSTGRES_INDEXES = [
    "CREATE INDEX IF NOT EXISTS eventlog_message_trgm ON eventlog_event USING gin (upper(message) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS eventlog_error_message_trgm "
    "ON eventlog_event USING gin (upper(error_message) gin_trgm_ops)",
]


def create(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_UP:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            try:
                with transaction.atomic(using=connection.alias):  # a savepoint: a refusal leaves the rest
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as exc:  # e.g. a role that may not create extensions
                logger.warning("message search stays unindexed: cannot create extension pg_trgm (%s)", exc)
                return
            for statement in POSTGRES_INDEXES:
                cursor.execute(statement)


def drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_DOWN:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS eventlog_message_trgm")
            cursor.execute("DROP INDEX IF EXISTS eventlog_error_message_trgm")


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0002_log_columns_covering_indexes_and_metrics_rollup")]

    operations = [migrations.RunPython(create, drop)]
