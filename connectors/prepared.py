"""One-row lookups (and one-row INSERTs) whose SQL is built once per thread, for the rows every API
request reads (and the run each `_enqueue` writes: `PreparedInsert`, at the end).

Building a query's SQL is most of what the ORM spends on a one-row lookup: on this machine
`Connector.objects.get(pk=..., space_id=...)` costs about 0.5 ms of CPU, of which executing the
statement and making the instance is under 0.1 ms (docs/benchmarks-actions.md, 2026-12-06). The
statement, its converters and the row layout depend only on the lookup's shape, so `PreparedGet`
compiles the queryset once (per thread, since a compiler belongs to its thread's connection) with
placeholder values and afterwards only substitutes the values. Every call still reads the database:
nothing is cached but the SQL text, so a change made by another process is seen at once.

    _connector = PreparedGet(lambda pk, space_id: Connector.objects.filter(pk=pk, space_id=space_id))
    connector = _connector(pk="abc", space_id="default")   # a Connector, or None

The values may be `str`, `int` or aware `datetime`s compared with plain lookups (exact, gt, ...);
the queryset may use `select_related`, `only` and constant filters. Meant for unique keys: the first
row is returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import QuerySet
from django.db.models.query import get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery


def _placeholder(index: int, value):
    """A value of the same type as `value` that no real lookup uses, to find its parameter slot."""
    if isinstance(value, bool):
        raise TypeError("PreparedGet takes str, int or datetime values, not bool")
    if isinstance(value, str):
        return f"prepared-get-placeholder-{index}-7f3a9c"
    if isinstance(value, int):
        # Negative, and inside a 32-bit integer column's range: PostgreSQL's backend answers a
        # lookup outside it with an empty result instead of a statement.
        return -2_000_000_000 - index
    if isinstance(value, datetime):
        return datetime(1901, 1, 1, 0, 0, index, tzinfo=UTC)
    raise TypeError(f"PreparedGet takes str, int or datetime values, not {type(value).__name__}")


class _Compiled:
    def __init__(self, queryset: QuerySet, connection, placeholders: dict):
        compiler = queryset.query.get_compiler(connection=connection)
        self.connection = connection
        self.compiler = compiler
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.slots = {}
        for name, placeholder in placeholders.items():
            prepared = self._adapt(placeholder)
            found = [i for i, param in enumerate(self.params) if param == prepared]
            if len(found) != 1:
                raise ValueError(f"PreparedGet: the value of {name!r} is not one plain query parameter")
            self.slots[name] = found[0]
        self.types = {name: type(placeholder) for name, placeholder in placeholders.items()}
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, select, connection.alias)
        self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])

    def _adapt(self, value):
        if isinstance(value, datetime):
            return self.connection.ops.adapt_datetimefield_value(value)
        return value

    def get(self, values: dict):
        params = list(self.params)
        for name, value in values.items():
            if type(value) is not self.types[name]:
                raise TypeError(f"PreparedGet: {name!r} was compiled for {self.types[name].__name__} values")
            params[self.slots[name]] = self._adapt(value)
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if self.converters:
            row = next(iter(self.compiler.apply_converters([row], self.converters)))
        instance = self.model.from_db(self.connection.alias, self.init_list, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, instance)
        return instance


class PreparedGet:
    """`build(**values).first()` without building its SQL again: see the module's docstring."""

    def __init__(self, build: Callable[..., QuerySet], using: str = DEFAULT_DB_ALIAS):
        self.build = build
        self.using = using
        self.local = threading.local()

    def __call__(self, **values):
        connection = connections[self.using]
        compiled = getattr(self.local, "compiled", None)
        if (
            compiled is None
            or compiled.connection is not connection
            or compiled.types.keys() != values.keys()
        ):
            placeholders = {name: _placeholder(i, value) for i, (name, value) in enumerate(values.items())}
            compiled = _Compiled(self.build(**placeholders), connection, placeholders)
            self.local.compiled = compiled
        return compiled.get(values)


class _CompiledInsert:
    def __init__(self, model, connection, fields, returning_fields):
        query = InsertQuery(model)
        # A throw-away instance: the statement's text depends on the fields and the backend, not on
        # the values (fields with a `get_placeholder` of their own are refused in PreparedInsert).
        query.insert_values(fields, [model()], raw=False)
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = returning_fields
        [(self.sql, _params)] = compiler.as_sql()
        self.returning_params = tuple(getattr(compiler, "returning_params", ()))
        self.connection = connection
        self.compiler = compiler
        table = model._meta.db_table
        self.returns_columns = bool(returning_fields) and connection.features.can_return_columns_from_insert
        self.converters = compiler.get_converters([field.get_col(table) for field in returning_fields])


class PreparedInsert:
    """`instance.save(force_insert=True)` for a new row, its INSERT built once per thread.

    Django builds an INSERT's SQL on every save (about 0.35 ms of CPU for an ActionRun, most of an
    enqueue's INSERT). The statement depends only on the model and the backend, so it is built once
    per thread with the ORM's own compiler; each call converts the values with the ORM's own
    `pre_save` (auto_now_add, defaults) and `get_db_prep_save`, executes the statement, and sets the
    returned primary key, as `save()` does. Anything this does not cover goes through `save()` as it
    is: an instance with its primary key already set, an expression as a value, or a model with
    pre_save/post_save receivers (signals are not sent here, so a receiver forces the ORM path).

    Meant for plain models: an auto primary key, no parents, no relations, no `order_with_respect_to`.
    """

    def __init__(self, model, using: str = DEFAULT_DB_ALIAS):
        meta = model._meta
        if meta.parents or meta.proxy or meta.order_with_respect_to or meta.auto_field is None:
            raise TypeError(
                f"PreparedInsert takes a plain model with an auto primary key, not {model.__name__}"
            )
        self.fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
        if any(f.is_relation or hasattr(f, "get_placeholder") for f in self.fields):
            raise TypeError(f"PreparedInsert: {model.__name__} has a field it does not cover")
        self.returning_fields = meta.db_returning_fields
        # Django's own CharField and TextField save a str as it is (to_python returns it unchanged):
        # those values skip the conversion calls; anything else is converted by its field.
        self.plain_text = [type(f) in (models.CharField, models.TextField) for f in self.fields]
        self.model = model
        self.using = using
        self.local = threading.local()

    def __call__(self, instance) -> None:
        model = self.model
        if (
            type(instance) is not model
            or instance.pk is not None
            or pre_save.has_listeners(model)
            or post_save.has_listeners(model)
        ):
            instance.save(force_insert=True, using=self.using)
            return
        values = [field.pre_save(instance, True) for field in self.fields]
        if any(hasattr(value, "resolve_expression") for value in values):
            instance.save(force_insert=True, using=self.using)
            return
        connection = connections[self.using]
        compiled = getattr(self.local, "compiled", None)
        if compiled is None or compiled.connection is not connection:
            compiled = _CompiledInsert(model, connection, self.fields, self.returning_fields)
            self.local.compiled = compiled
        params = [
            value if plain and type(value) is str else field.get_db_prep_save(value, connection)
            for field, plain, value in zip(self.fields, self.plain_text, values, strict=True)
        ]
        params.extend(compiled.returning_params)
        with transaction.mark_for_rollback_on_error(using=self.using), connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            if not self.returning_fields:
                row = None
            elif compiled.returns_columns:
                row = connection.ops.fetch_returned_insert_columns(cursor, compiled.returning_params)
            else:
                pk = model._meta.auto_field
                row = (connection.ops.last_insert_id(cursor, model._meta.db_table, pk.column),)
        if row is not None:
            if compiled.converters:
                row = next(iter(compiled.compiler.apply_converters([row], compiled.converters)))
            for value, field in zip(row, self.returning_fields, strict=True):
                setattr(instance, field.attname, value)
        instance._state.db = self.using
        instance._state.adding = False
