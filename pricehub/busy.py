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
    connection.ensure_connection()
    raw = connection.connection  # pricehub.sqlite's connection: how long its writers wait for the lock
    usual = raw.write_lock_timeout
    raw.write_lock_timeout = settings.API_SQLITE_WAIT_MS / 1000
    try:
        yield
    finally:
        raw.write_lock_timeout = usual
