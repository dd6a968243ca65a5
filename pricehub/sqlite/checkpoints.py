"""WAL checkpoints of a long write job, run by a thread beside it instead of inside its commits.

In WAL mode every commit appends the pages it changed to the ``-wal`` file; a checkpoint copies
them back into the database file and syncs both (https://sqlite.org/wal.html#checkpointing).
SQLite runs it inside the ``COMMIT`` that takes the log past ``wal_autocheckpoint`` pages, so a
job committing batch after batch (an ingest) stops for a checkpoint every few batches. A job
that changes pages all over an index (offers by price) writes them again at every commit, and
with 20 commits for 100,000 rows these checkpoints made it a tenth slower than one transaction.

``background_checkpoints()`` turns the automatic checkpoint off for the job's connection and
has a thread, on its own connection, run a ``PASSIVE`` checkpoint whenever the job says a batch
is committed (``nudge()``). A passive checkpoint takes no lock that writers or readers wait for
(``sqlite3_wal_checkpoint_v2``); it copies what is committed while the job goes on with the next
batch. Other processes keep their own automatic checkpoints. On PostgreSQL, or an in-memory
SQLite database, it does nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

log = logging.getLogger(__name__)


class Checkpointer:
    """A thread that checkpoints the SQLite database at ``path`` each time it is nudged (nudges
    that come while it works are one checkpoint). ``stop()`` ends it after its current one."""

    def __init__(self, path: str):
        self.path = path
        self.checkpoints = 0
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Ask for a checkpoint of what is committed now; returns at once."""
        self._wanted.set()

    def stop(self) -> None:
        """End the thread: a checkpoint under way is finished first, one only asked for is not run
        (what it would copy is left to the next automatic checkpoint of any connection)."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _work(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # the job's own commits still work; only their checkpoints wait
            log.warning("no background checkpoints for %s: %s", self.path, exc)
            return
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # busy with another checkpointer: the next nudge tries again
                    log.debug("background checkpoint of %s skipped: %s", self.path, exc)
        finally:
            db.close()


@contextmanager
def background_checkpoints(using: str = "default") -> Iterator[Checkpointer | None]:
    """For the ``with`` block, the ``using`` connection's commits run no checkpoint; the yielded
    ``Checkpointer`` runs one when ``nudge()``-d (call it after each commit). Yields ``None`` (and
    changes nothing) unless the database is an SQLite file."""
    connection = connections[using]
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        yield None
        return
    connection.ensure_connection()
    raw = connection.connection
    (pages,) = raw.execute("PRAGMA wal_autocheckpoint").fetchone()
    raw.execute("PRAGMA wal_autocheckpoint = 0")
    checkpointer = Checkpointer(str(connection.settings_dict["NAME"]))
    try:
        yield checkpointer
    finally:
        checkpointer.stop()
        if connection.connection is raw:  # a connection closed meanwhile starts with the setting again
            raw.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
