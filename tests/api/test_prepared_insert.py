"""`connectors.prepared.PreparedInsert`: the row `save(force_insert=True)` writes, with the INSERT
built once per thread. Run on SQLite by default and on PostgreSQL with DATABASE_URL=postgres://…"""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Upper
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from actions.models import ActionRun
from connectors.models import Connector
from connectors.prepared import PreparedInsert


def new_run(**overrides) -> ActionRun:
    values = {
        "space_id": "marketing",
        "connector_id": "c-1",
        "connector_type_id": ".webhook",
        "params": {"body": '{"id": "é"}', "nested": {"list": [1, 2.5, None, True]}},
        "max_attempts": 5,
        "due_at": datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC),
        "source": "http_request",
        "execution_uuid": "0b5f3c1e-1111-2222-3333-444455556666",
        "rule_execution_uuid": "",
    }
    return ActionRun(**{**values, **overrides})


def row(pk: int) -> dict:
    values = ActionRun.objects.filter(pk=pk).values().get()
    values.pop("id")
    return values


def test_it_writes_the_row_the_orm_writes_and_sets_the_primary_key(db):
    insert = PreparedInsert(ActionRun)
    by_orm, prepared = new_run(), new_run()

    before = timezone.now()
    by_orm.save(force_insert=True)
    insert(prepared)
    after = timezone.now()

    assert isinstance(prepared.pk, int) and prepared.pk == by_orm.pk + 1
    assert prepared._state.adding is False and prepared._state.db == "default"
    expected, written = row(by_orm.pk), row(prepared.pk)
    assert before <= expected.pop("created_at") <= written.pop("created_at") <= after
    assert written == expected
    assert prepared.created_at == ActionRun.objects.get(pk=prepared.pk).created_at


def test_defaults_and_empty_values_are_written_as_the_orm_writes_them(db):
    insert = PreparedInsert(ActionRun)
    by_orm = ActionRun(connector_id="c-2", due_at=timezone.now())
    prepared = ActionRun(connector_id="c-2", due_at=by_orm.due_at, execution_uuid=by_orm.execution_uuid)

    by_orm.save(force_insert=True)
    insert(prepared)

    expected, written = row(by_orm.pk), row(prepared.pk)
    expected.pop("created_at"), written.pop("created_at")
    assert written == expected
    assert written["params"] == {} and written["status"] == "queued" and written["lease_until"] is None


def test_the_statement_is_built_once_per_thread_and_is_one_insert(db):
    insert = PreparedInsert(ActionRun)
    insert(new_run())
    compiled = insert.local.compiled

    with CaptureQueriesContext(connection) as queries:
        insert(new_run(connector_id="c-3"))

    assert insert.local.compiled is compiled
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT INTO")
    assert ActionRun.objects.filter(connector_id="c-3").count() == 1


def test_a_failed_insert_marks_the_surrounding_transaction_for_rollback(db):
    insert = PreparedInsert(ActionRun)
    ActionRun.objects.create(connector_id="kept", due_at=timezone.now())

    with transaction.atomic():
        try:
            insert(new_run(due_at=None))  # NOT NULL: the backend's IntegrityError
        except IntegrityError:
            pass
        assert transaction.get_rollback() is True

    assert list(ActionRun.objects.values_list("connector_id", flat=True)) == ["kept"]


def test_a_run_with_its_primary_key_or_an_expression_goes_through_save(db):
    insert = PreparedInsert(ActionRun)
    with_pk = new_run(id=4242)
    with_expression = new_run(connector_id=Upper(Value("shouted")))

    insert(with_pk)
    insert(with_expression)

    assert ActionRun.objects.filter(pk=4242).exists()
    assert ActionRun.objects.get(pk=with_expression.pk).connector_id == "SHOUTED"


def test_save_receivers_are_still_called(db):
    insert = PreparedInsert(ActionRun)
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(receiver, sender=ActionRun)
    try:
        run = new_run()
        insert(run)
    finally:
        post_save.disconnect(receiver, sender=ActionRun)

    assert seen == [(run.pk, True)]


def test_a_model_with_relations_is_refused():
    with pytest.raises(TypeError):
        PreparedInsert(Connector)
