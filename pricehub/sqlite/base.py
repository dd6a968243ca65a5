"""Django's SQLite backend, with writers that wait for the write lock in small steps.

SQLite lets one writer at a time hold its write lock. A writer that finds it taken is made to
wait by SQLite's busy handler, which sleeps longer and longer between tries (1, 2, 5, 10 ... then
100 ms: ``sqliteDefaultBusyCallback`` in SQLite's ``main.c``). While an ingest commits batch after
batch with only a short gap between them (it reads the next rows meanwhile), such a waiter wakes
up mostly while a batch holds the lock, and can wait seconds, or fail with "database is locked".

A writer that finds the lock taken also says so, in the modification time of a file beside the
database (``<database>-waiting``): a long job that holds the lock in turns (an ingest) reads it
with ``WaitingWriters`` and, when someone waited, commits at its next batch instead of going on.

Here SQLite's own handler waits only ``POLL_MS``; a transaction's ``BEGIN IMMEDIATE`` and a
write outside a transaction (autocommit) are then tried again every millisecond or two until
``write_lock_timeout`` seconds have passed (``DATABASES[...]["OPTIONS"]["write_lock_timeout"]``,
default 10; the setting ``SQLITE_BUSY_TIMEOUT_MS``). A waiter thus takes the lock in the first
gap between two batches. ``connection.connection.write_lock_timeout`` (the sqlite3 connection's)
may be changed for a while (``pricehub.busy.short_sqlite_wait``). Everything else is Django's
backend.
"""

from __future__ import annotations

import os
import sqlite3
import time

from django.db.backends.sqlite3 import base

POLL_MS = 20  # SQLite's own busy handler tries at 0, 1, 3, 8 and 18 ms within this
RETRY_SECONDS = 0.002


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or "database is locked" in str(exc)


def retry_while_busy(attempt, timeout: float, marker: str | None = None):
    """``attempt()``, tried again every ``RETRY_SECONDS`` while SQLite answers SQLITE_BUSY, until
    ``timeout`` seconds have passed; then the last ``sqlite3.OperationalError`` is raised. At the
    first SQLITE_BUSY the file ``marker`` (if given) is touched: a writer is waiting."""
    deadline = time.monotonic() + timeout
    announced = marker is None
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        if not announced:
            announce_waiting(marker)
            announced = True
        time.sleep(RETRY_SECONDS)


def announce_waiting(marker: str) -> None:
    """Set the modification time of ``marker`` (created if missing) to now, to the nanosecond."""
    now = time.time_ns()
    try:
        try:
            os.utime(marker, ns=(now, now))
        except FileNotFoundError:
            with open(marker, "a"):
                pass
            os.utime(marker, ns=(now, now))
    except OSError:  # a read-only folder: the wait itself still works, the job just commits less often
        pass


class WaitingWriters:
    """``since_last()``: whether a writer of the SQLite database whose waiting ``marker`` this is
    has found the write lock taken since the previous call (or since this object was made)."""

    def __init__(self, marker: str):
        self.marker = marker
        self._seen = self._mtime()

    @classmethod
    def of(cls, connection) -> WaitingWriters | None:
        """For Django ``connection``: ``None`` unless it is an SQLite file with this backend."""
        marker = getattr(getattr(connection, "connection", None), "marker", None)
        return cls(marker) if marker else None

    def _mtime(self) -> int:
        try:
            return os.stat(self.marker).st_mtime_ns
        except OSError:
            return 0

    def since_last(self) -> bool:
        now = self._mtime()
        waited, self._seen = now != self._seen, now
        return waited


class PatientConnection(sqlite3.Connection):
    """A sqlite3 connection that knows how long its writers may wait for the write lock, and the
    file its writers touch when they find it taken (``marker``; ``None`` in memory)."""

    write_lock_timeout: float = 10.0
    marker: str | None = None


class PatientCursor(base.SQLiteCursorWrapper):
    """Django's cursor; a statement run outside a transaction waits for the write lock in small
    steps (a single statement in autocommit did nothing when it failed busy, so it is safe to
    run again). ``executemany`` is not retried: outside a transaction its rows commit one by one."""

    def execute(self, query, params=None):
        if self.connection.in_transaction:
            return super().execute(query, params)
        return retry_while_busy(lambda: super(PatientCursor, self).execute(query, params),
                                self.connection.write_lock_timeout, self.connection.marker)


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite whose writers take the write lock in the first gap another writer leaves."""

    def get_connection_params(self):
        params = super().get_connection_params()
        self.write_lock_timeout = float(params.pop("write_lock_timeout", 10))
        params["factory"] = PatientConnection
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.write_lock_timeout = self.write_lock_timeout
        if not self.is_in_memory_db():
            connection.marker = f"{self.settings_dict['NAME']}-waiting"
        connection.execute(f"PRAGMA busy_timeout = {POLL_MS}")
        return connection

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=PatientCursor)

    def _start_transaction_under_autocommit(self):
        begin = f"BEGIN {self.transaction_mode}" if self.transaction_mode else "BEGIN"
        with self.wrap_database_errors:
            retry_while_busy(lambda: self.connection.execute(begin), self.connection.write_lock_timeout,
                             self.connection.marker)
