"""The API's rate limit: ``API_RATE_LIMIT_PER_MINUTE`` requests per token (per user for a
staff session, per client address for requests without valid credentials), counted in fixed
one-minute windows in Django's cache, so every gunicorn worker and host shares the counters
(the database cache by default, Redis when ``REDIS_URL`` is set).

On the embedded SQLite default the counters live in a small SQLite file of their own beside the
database (``<SQLITE_PATH>-ratelimit``, one table, made on first use): counting then never waits
for the database's write lock, which an ingest holds for most of its run (one batch after
another). An in-memory database (the test suite's) counts in the database cache, where a
request waits at most ``API_SQLITE_WAIT_MS`` for the write lock and past it goes uncounted, with
a warning in the log.

Over the limit the answer is ``429`` with ``Retry-After``: the whole seconds until the window
ends. A fixed window lets a client send up to twice the limit around a window's edge; in
exchange a request costs one counter update.
"""

from __future__ import annotations

import logging
import math
import os
import random
import sqlite3
import threading
import time
import zlib
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import OperationalError, connections, router, transaction
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from pricehub.busy import short_sqlite_wait

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = "pricehub:api-rate"


def hit(bucket: str, *, now: float | None = None) -> tuple[int, float]:
    """Count one request in ``bucket``'s current window; return ``(requests in the window so far,
    seconds until the window ends)``. The count is atomic across processes: Redis's INCR, or on
    the database cache a read and write inside one transaction that holds SQLite's write lock
    (settings open SQLite transactions IMMEDIATE) or a PostgreSQL advisory lock on the key."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    remaining = (window + 1) * WINDOW_SECONDS - now
    key = f"{KEY_PREFIX}:{bucket}:{window}"
    timeout = WINDOW_SECONDS + 5  # outlives the window; the key names its window, so no reset is needed
    cache = caches[settings.API_RATE_LIMIT_CACHE]
    if isinstance(cache, DatabaseCache):
        counters = counter_file()
        if counters is not None:
            return _file_hit(counters, key, now + timeout), remaining
        return _database_cache_hit(cache, key, timeout), remaining
    try:
        return cache.incr(key), remaining  # the common case: the window's counter exists
    except ValueError:  # the window's first request (or its counter expired)
        if cache.add(key, 1, timeout):
            return 1, remaining
        return cache.incr(key), remaining  # another process added it first


def counter_file() -> Path | None:
    """Where the counters live on SQLite: a file beside the database (``None`` for another
    database, or a database in memory)."""
    database = connections["default"]
    name = str(database.settings_dict["NAME"])
    if database.vendor != "sqlite" or database.is_in_memory_db():
        return None
    return Path(name + "-ratelimit")


_local = threading.local()


def _file_connection(path: Path) -> sqlite3.Connection:
    """This process's (and thread's) connection to the counter file, made on first use."""
    key = (os.getpid(), str(path))  # never a connection opened before a fork
    connection = getattr(_local, "connections", {}).get(key)
    if connection is None:
        connection = sqlite3.connect(path, timeout=5, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")  # counters of a minute: a lost one is harmless
        connection.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                           "expires REAL NOT NULL)")
        _local.connections = {key: connection}
    return connection


def _file_hit(path: Path, key: str, expires: float) -> int:
    """Count one request under ``key`` in the counter file, in one statement (atomic across
    processes); now and then drop counters whose window has passed."""
    connection = _file_connection(path)
    (count,) = connection.execute(
        "INSERT INTO hits (key, count, expires) VALUES (?, 1, ?) "
        "ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count", [key, expires],
    ).fetchone()
    if random.random() < 0.01:
        connection.execute("DELETE FROM hits WHERE expires < ?", [time.time()])
    return count


def _database_cache_hit(cache: DatabaseCache, key: str, timeout: int) -> int:
    alias = router.db_for_write(cache.cache_model_class)
    connection = connections[alias]
    with short_sqlite_wait(connection):
        with transaction.atomic(using=alias):
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(key.encode())])
            count = (cache.get(key) or 0) + 1
            cache.set(key, count, timeout)
    return count


def check(bucket: str, who: str) -> None:
    """Count a request of ``bucket`` and raise ``Throttled`` (429, ``Retry-After``) when it is over
    ``API_RATE_LIMIT_PER_MINUTE``; ``who`` names the client in the message."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    try:
        count, remaining = hit(bucket)
    except (OperationalError, sqlite3.OperationalError) as exc:  # SQLite busy past its wait
        log.warning("API rate limit: request of %s not counted, the database is busy (%s)", who, exc)
        return
    if count > limit:
        raise Throttled(
            wait=max(1, math.ceil(remaining)),
            detail=f"rate limit of {limit} requests a minute reached for {who}.",
        )


def count_anonymous(request) -> None:
    """Count a request without valid credentials against its client address (DRF's
    ``NUM_PROXIES`` says how many proxies' ``X-Forwarded-For`` entries to skip)."""
    address = BaseThrottle().get_ident(request)
    check(f"ip:{address}", f"the address {address}")


class ApiRateThrottle(BaseThrottle):
    """DRF throttle: per ``ApiToken``, else per session user, else per client address. Raises
    ``Throttled`` itself, so the 429 says which limit was reached."""

    def allow_request(self, request, view) -> bool:
        from pricehub.models import ApiToken

        token = request.auth
        if isinstance(token, ApiToken):
            # By hash, not id: unique across deployments that share one Redis.
            check(f"token:{token.key_hash[:24]}", f"this token ({token.key_prefix}…)")
        elif request.user and request.user.is_authenticated:
            check(f"user:{request.user.pk}", f"the user {request.user}")
        else:
            count_anonymous(request)
        return True
