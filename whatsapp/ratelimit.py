"""The ingest's rate limit: one token bucket per collector (``client_id``), shared by every
gunicorn worker and host.

A bucket holds up to ``WHATSAPP_INGEST_RATE_LIMIT_BURST`` requests and refills at
``WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE`` a minute; a request takes one. It is kept in its GCRA
form (the same arithmetic as a token bucket, one number a bucket): ``tat``, the time at which the
bucket would be full again. With ``T = 60 / PER_MINUTE`` seconds (one token's refill) a request
at ``now`` is let through when ``max(tat, now) + T - now <= BURST * T``, and then moves ``tat`` to
``max(tat, now) + T``; a refused one leaves it, and must wait ``max(tat, now) + T - now - BURST * T``
seconds (``Retry-After``, rounded up).

Each decision is one atomic operation of a shared store:

- Redis when ``settings.REDIS_URL`` is set: a Lua script, on Redis's clock;
- PostgreSQL: one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on ``IngestBucket``, on the
  server's clock;
- SQLite (a database file): the same statement in the side file ``<SQLITE_PATH>-ratelimit`` that
  the API's rate limit uses (``pricehub.throttling``), so a request never waits for the
  database's write lock, which an ingest may hold for seconds; an in-memory database (the test
  suite's) keeps the buckets in its ``IngestBucket`` table.

When the store cannot answer (Redis down, the side file locked past its timeout) the request is
let through, with a warning in the log: the limit protects the server from a storm, and losing a
collector's batch would be worse.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection

from pricehub import throttling
from whatsapp.models import IngestBucket

log = logging.getLogger(__name__)

REDIS_PREFIX = "pricehub:whatsapp-ingest-bucket:"
SIDE_TABLE = "whatsapp_ingest_buckets"
# Added to the bucket's depth: unix times as floats round at about 0.2 microseconds, so
# ``now + T - now`` may come out a hair over ``T``; a microsecond of slack absorbs that.
SLACK = 1e-6

# The statement of every SQL store: {now} is the time (a parameter, or the server's clock), {greatest}
# the two-argument maximum. Both SET expressions read the row as it was.
_UPSERT = """
INSERT INTO {table} (client_id, tat, allowed) VALUES ({p}, {now} + {p}, TRUE)
ON CONFLICT (client_id) DO UPDATE SET
  allowed = ({greatest}({table}.tat, {now}) + {p} - {now} <= {p}),
  tat = CASE WHEN {greatest}({table}.tat, {now}) + {p} - {now} <= {p}
             THEN {greatest}({table}.tat, {now}) + {p} ELSE {table}.tat END
RETURNING tat, allowed, {now}
"""

_LUA = """
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = tat + interval
if after - now <= capacity then
  redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.ceil((after - now) * 1000) + 1000)
  return {1, '0'}
end
return {0, string.format('%.6f', after - now - capacity)}
"""


@dataclass(frozen=True)
class Decision:
    """``allowed``, or else ``retry_after``: whole seconds (>= 1) until one request would pass."""

    allowed: bool
    retry_after: int = 0


def interval() -> float:
    """Seconds for one token to refill: ``60 / WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE``."""
    return 60.0 / max(1, int(settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE))


def capacity() -> int:
    """Requests a full bucket holds: ``WHATSAPP_INGEST_RATE_LIMIT_BURST``."""
    return max(1, int(settings.WHATSAPP_INGEST_RATE_LIMIT_BURST))


def take(client_id: str) -> Decision:
    """Take one token from ``client_id``'s bucket (made full on its first request). Raises
    nothing: a store that cannot answer lets the request through (logged)."""
    step, burst = interval(), capacity()
    try:
        if settings.REDIS_URL:
            allowed, wait = _redis_take(client_id, step, step * burst + SLACK)
        else:
            allowed, wait = _sql_take(client_id, step, step * burst + SLACK)
    except Exception as exc:  # noqa: BLE001 - any store failure: let the batch in, say so
        log.warning("WhatsApp ingest rate limit: request of client %r not counted, the store failed (%s: %s)",
                    client_id, exc.__class__.__name__, exc)
        return Decision(True)
    if allowed:
        return Decision(True)
    return Decision(False, max(1, math.ceil(round(wait, 6))))


# --------------------------------------------------------------------------- Redis

_redis_clients: dict = {}


def _redis_take(client_id: str, step: float, full: float) -> tuple[bool, float]:
    key = (os.getpid(), settings.REDIS_URL)  # never a client made before a fork
    script = _redis_clients.get(key)
    if script is None:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        script = _redis_clients[key] = client.register_script(_LUA)
    allowed, wait = script(keys=[REDIS_PREFIX + client_id], args=[repr(step), repr(full)])
    return bool(int(allowed)), float(wait)


# --------------------------------------------------------------------------- SQL


def _sql_take(client_id: str, step: float, full: float) -> tuple[bool, float]:
    side_file = throttling.counter_file()
    if side_file is not None:
        return _side_file_take(side_file, client_id, step, full)
    table = connection.ops.quote_name(IngestBucket._meta.db_table)
    if connection.vendor == "postgresql":
        sql = _UPSERT.format(table=table, p="%s", now="EXTRACT(EPOCH FROM statement_timestamp())::float8",
                             greatest="GREATEST")
        params = [client_id, step, step, full, step, full, step]
    else:
        now = time.time()
        sql = _UPSERT.format(table=table, p="%s", now="%s", greatest="MAX")
        params = _with_now(client_id, step, full, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        tat, allowed, now = cursor.fetchone()
    return bool(allowed), float(tat) + step - float(now) - full


def _with_now(client_id: str, step: float, full: float, now: float) -> list:
    """The parameters of ``_UPSERT`` when ``{now}`` is itself a parameter, in their order."""
    return [client_id, now, step,  # VALUES
            now, step, now, full,  # allowed
            now, step, now, full, now, step,  # tat
            now]  # RETURNING


def _side_file_take(path, client_id: str, step: float, full: float) -> tuple[bool, float]:
    side = throttling._file_connection(path)  # the API rate limit's file and connection: one of each
    sql = _UPSERT.format(table=SIDE_TABLE, p="?", now="?", greatest="MAX")
    now = time.time()
    try:
        try:
            row = side.execute(sql, _with_now(client_id, step, full, now)).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            side.execute(f"CREATE TABLE IF NOT EXISTS {SIDE_TABLE} (client_id TEXT PRIMARY KEY, tat REAL NOT NULL, "
                         "allowed INTEGER NOT NULL)")
            row = side.execute(sql, _with_now(client_id, step, full, now)).fetchone()
    except sqlite3.OperationalError as exc:
        raise DatabaseError(str(exc)) from exc
    tat, allowed, now = row
    return bool(allowed), float(tat) + step - float(now) - full
