"""One-row lookups whose SQL is built once per thread, for the rows every API request reads.

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

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


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
