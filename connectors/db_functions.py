"""SQL expressions that keep Python's text semantics for the admin's connector list, so that the
database can filter, sort and page it (docs/admin.md#the-connector-list-at-scale).

- `CodePointOrder(expr)`: compares as Python compares `str`, code point by code point. SQLite's
  default (BINARY) collation already does; PostgreSQL's database collation (en_US.UTF-8 and the
  like) sorts linguistically, so there it gets `COLLATE "C"`.
- `ContainsLowered(haystack, needle)`: `needle in haystack.lower()` with `needle` already lowered.
  A plain substring test (SQLite: Python's own `in`, registered on each connection; PostgreSQL:
  `STRPOS`), never a `LIKE` pattern or a regex built from what a user typed.
"""

from django.db.models import BooleanField, Func

SQLITE_CONTAINS_LOWERED = "connectors_contains_lowered"


class CodePointOrder(Func):
    template = "(%(expressions)s)"
    arity = 1

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template='(%(expressions)s) COLLATE "C"', **extra_context)


class ContainsLowered(Func):
    arity = 2
    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        (haystack, haystack_params), (needle, needle_params) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        return f"(STRPOS(LOWER({haystack}), {needle}) > 0)", (*haystack_params, *needle_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        (haystack, haystack_params), (needle, needle_params) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        # LOWER() first (ASCII letters only, then Python lowers the rest): SQLite reads the value
        # of LOWER("name") from the list's index instead of the table (models.Connector.Meta).
        return f"{SQLITE_CONTAINS_LOWERED}(LOWER({haystack}), {needle})", (*haystack_params, *needle_params)


def _contains_lowered(haystack, needle) -> bool:
    return haystack is not None and needle is not None and needle in haystack.lower()


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver (connectors.apps): SQLite gets `ContainsLowered`'s function."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_CONTAINS_LOWERED, 2, _contains_lowered, deterministic=True
        )
