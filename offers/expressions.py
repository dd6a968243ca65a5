"""Database expressions the models' constraints need, written natively per backend."""

from __future__ import annotations

from django.db.models import BooleanField, Func


class IsCurrencyCode(Func):
    """True when the column holds three capital letters ``A``-``Z`` (an ISO 4217 code).

    Django's ``__regex`` on SQLite calls a Python function for every row a
    check constraint tests; that callback holds the interpreter lock through a
    bulk insert. ``GLOB`` and ``~`` are the databases' own.
    """

    arity = 1
    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} ~ '^[A-Z]{{3}}$')", params  # PostgreSQL

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} GLOB '[A-Z][A-Z][A-Z]')", params
