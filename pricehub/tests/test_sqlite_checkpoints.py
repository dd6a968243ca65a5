"""Background WAL checkpoints (pricehub.sqlite.checkpoints) on real SQLite files."""

from __future__ import annotations

import os
import sqlite3

import pytest
from django.db import connection

from pricehub.sqlite.checkpoints import Checkpointer, background_checkpoints
from tests.live import wait_for


def wal_database(path):
    """A WAL database whose commits run no checkpoint, with 4 MB committed to its log."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (x TEXT)")
    db.execute("BEGIN")
    db.executemany("INSERT INTO t VALUES (?)", [("y" * 400,) for _ in range(10_000)])
    db.execute("COMMIT")
    return db


def test_a_nudge_copies_the_committed_log_into_the_database_file(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    db = wal_database(path)
    assert os.path.getsize(path) < 64_000  # everything written is still in the -wal file
    checkpointer = Checkpointer(path)
    checkpointer.nudge()
    wait_for(lambda: checkpointer.checkpoints == 1, timeout=10, what="the checkpoint")
    checkpointer.stop()
    assert os.path.getsize(path) > 4_000_000
    assert db.execute("SELECT count(*) FROM t").fetchone() == (10_000,)
    db.close()


def test_stop_without_a_nudge_checkpoints_nothing(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    db = wal_database(path)
    checkpointer = Checkpointer(path)
    checkpointer.stop()
    assert checkpointer.checkpoints == 0
    assert os.path.getsize(path) < 64_000
    db.close()


@pytest.mark.django_db(transaction=True)
def test_the_jobs_connection_checkpoints_nothing_inside_and_again_after():
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        with background_checkpoints() as checkpointer:
            assert checkpointer is None  # PostgreSQL, or SQLite in memory: nothing to do
        return
    connection.ensure_connection()
    before = connection.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    with background_checkpoints() as checkpointer:
        assert connection.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        checkpointer.nudge()
        wait_for(lambda: checkpointer.checkpoints == 1, timeout=10, what="the checkpoint")
    assert connection.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == before
