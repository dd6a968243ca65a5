"""Writers that wait for SQLite's write lock say so (pricehub.sqlite.base), and an ingest's
transactions end when they do (ingestion.services._Transactions): real files, real threads."""

from __future__ import annotations

import copy
import threading

import pytest
from django.db import connection

from ingestion import services
from offers.models import Vendor
from pricehub.sqlite.base import DatabaseWrapper, WaitingWriters, announce_waiting
from tests.live import wait_for


def sqlite_file(path, alias: str) -> DatabaseWrapper:
    settings = copy.deepcopy(connection.settings_dict)
    settings.update(ENGINE="pricehub.sqlite", NAME=str(path), OPTIONS={
        "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "write_lock_timeout": 10,
    })
    return DatabaseWrapper(settings, alias=alias)


@pytest.fixture
def own_databases(django_db_blocker):
    """Connections of the test's own SQLite files, outside the test database."""
    with django_db_blocker.unblock():
        yield


def test_a_writer_that_finds_the_lock_taken_says_so_and_gets_in_after_the_commit(tmp_path, own_databases):
    path = tmp_path / "db.sqlite3"
    holder = sqlite_file(path, "holder")
    with holder.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
    waiting = WaitingWriters(f"{path}-waiting")
    assert not waiting.since_last()

    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")  # BEGIN IMMEDIATE: the write lock is held
    done = threading.Event()

    def write():
        waiter = sqlite_file(path, "waiter")  # a connection is used in the thread that made it
        with waiter.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (2)")  # autocommit: waits for the lock
        waiter.close()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    wait_for(waiting.since_last, timeout=10, what="the waiter to touch <database>-waiting")
    assert not done.is_set()
    holder.commit()
    thread.join(10)
    assert done.is_set()
    with holder.cursor() as cursor:
        cursor.execute("SELECT x FROM t ORDER BY x")
        assert cursor.fetchall() == [(1,), (2,)]
    assert not waiting.since_last()  # nobody waited since
    holder.close()


def test_an_in_memory_database_has_no_waiting_file(own_databases):
    memory = sqlite_file(":memory:", "memory")
    memory.ensure_connection()
    assert WaitingWriters.of(memory) is None
    memory.close()


@pytest.mark.django_db(transaction=True)
def test_batches_share_a_transaction_until_a_writer_waits(tmp_path, settings):
    settings.INGESTION_ROWS_PER_COMMIT = 250
    marker = str(tmp_path / "db-waiting")
    with services._Transactions() as transactions:
        transactions.waiting = WaitingWriters(marker)
        transactions.begin()
        Vendor.objects.create(name="First batch")
        transactions.written(100)
        assert connection.in_atomic_block  # nobody waits: the next batch joins this transaction
        transactions.begin()
        transactions.written(100)
        assert connection.in_atomic_block
        announce_waiting(marker)  # a login finds the lock taken
        transactions.begin()
        transactions.written(10)
        assert not connection.in_atomic_block  # committed for it
        transactions.begin()
        transactions.written(100)
        transactions.begin()
        transactions.written(150)
        assert not connection.in_atomic_block  # 250 rows: committed whoever waits
        transactions.begin()
        Vendor.objects.create(name="Last batch")
        transactions.written(1)
    assert not connection.in_atomic_block  # the end commits the open one
    assert set(Vendor.objects.values_list("name", flat=True)) == {"First batch", "Last batch"}


@pytest.mark.django_db(transaction=True)
def test_an_exception_rolls_back_the_open_transaction_only(tmp_path):
    marker = str(tmp_path / "db-waiting")
    with pytest.raises(RuntimeError):
        with services._Transactions() as transactions:
            transactions.waiting = WaitingWriters(marker)
            transactions.begin()
            Vendor.objects.create(name="Committed")
            announce_waiting(marker)
            transactions.written(10)
            transactions.begin()
            Vendor.objects.create(name="Rolled back")
            transactions.written(10)
            raise RuntimeError("the reader died")
    assert not connection.in_atomic_block
    assert list(Vendor.objects.values_list("name", flat=True)) == ["Committed"]
