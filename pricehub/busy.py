"""A request's bookkeeping writes (rate-limit counts, a token's last use) must not stall behind
another process's long write on SQLite: they wait for the write lock at most
``API_SQLITE_WAIT_MS`` and are skipped, with a warning, past it."""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings


@contextmanager
def short_sqlite_wait(connection):
    """Within the block, ``connection`` (a Django connection) waits at most
    ``API_SQLITE_WAIT_MS`` for SQLite's write lock, then raises ``OperationalError`` ("database
    is locked"); its usual busy timeout comes back after. Other databases, and a connection
    already inside a transaction (which holds the lock it needs or never will), are left as
    they are."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (usual,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {int(settings.API_SQLITE_WAIT_MS)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(usual)}")
