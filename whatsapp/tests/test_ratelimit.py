"""The ingest's per-collector token bucket (whatsapp.ratelimit) on each of its stores: the test
database (SQLite in memory, or PostgreSQL), the side SQLite file, and Redis; and its 429 through
the endpoint. The bucket across two gunicorn workers is in test_ingest_live.py."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from tests.servers import redis_answers
from whatsapp import counters, ratelimit
from whatsapp.tests.test_auth import BODY, assert_refused, configured, headers, post  # noqa: F401

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["database", "side_file", "redis"])
def store(request, settings, tmp_path, monkeypatch):
    """Each store the bucket may live in, with the bucket's settings at their defaults."""
    settings.REDIS_URL = ""
    if request.param == "redis":
        if not redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379")
        settings.REDIS_URL = REDIS_URL
    elif request.param == "side_file":
        monkeypatch.setattr(ratelimit.throttling, "counter_file", lambda: tmp_path / "db.sqlite3-ratelimit")
    return request.param


def client_id() -> str:
    return f"collector-{uuid.uuid4().hex[:12]}"


def test_a_full_bucket_lets_the_burst_through_then_says_how_long_to_wait(settings, store):
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 1  # one token a minute: nothing refills during the test
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 3
    who = client_id()
    assert [ratelimit.take(who).allowed for _ in range(3)] == [True, True, True]
    refused = ratelimit.take(who)
    assert not refused.allowed and refused.retry_after in (59, 60)  # the minute, less the test's own time
    assert ratelimit.take(client_id()).allowed  # another collector has its own bucket


@pytest.mark.parametrize("per_minute, expected_wait", [(60, 1), (120, 1), (20, 3), (7, 9)])
def test_retry_after_is_the_real_wait_rounded_up(settings, store, per_minute, expected_wait):
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = per_minute
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 1
    who = client_id()
    assert ratelimit.take(who).allowed
    refused = ratelimit.take(who)
    assert not refused.allowed
    # 60 / per_minute seconds for one token, less the few milliseconds since the first request.
    assert refused.retry_after == expected_wait


def test_the_bucket_refills_at_the_configured_rate(settings, store):
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 600  # a token every 0.1 s
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 2
    who = client_id()
    assert [ratelimit.take(who).allowed for _ in range(3)] == [True, True, False]
    time.sleep(0.25)  # two tokens back, not more than the burst
    assert [ratelimit.take(who).allowed for _ in range(3)] == [True, True, False]


def test_a_refused_request_takes_no_token(settings, store):
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 300  # a token every 0.2 s
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 1
    who = client_id()
    assert ratelimit.take(who).allowed
    for _ in range(20):  # hammering while empty does not push the next token further away
        ratelimit.take(who)
    time.sleep(0.25)
    assert ratelimit.take(who).allowed


def test_concurrent_requests_take_exactly_the_burst(settings, store):
    if store == "database" and connection.vendor == "sqlite":
        pytest.skip("the in-memory test database is one connection; the side file and Redis are shared")
    settings.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 1
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 5
    who = client_id()
    results, start = [], threading.Barrier(12)

    def hit():
        start.wait()
        try:
            for _ in range(3):
                results.append(ratelimit.take(who).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 36 and results.count(True) == 5


def test_the_endpoint_answers_429_with_retry_after_and_counts_it(client, configured, store):
    configured.WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE = 30  # a token every 2 s
    configured.WHATSAPP_INGEST_RATE_LIMIT_BURST = 2
    if store == "redis":
        configured.REDIS_URL = REDIS_URL
    body = BODY.replace(b'"smoke"', f'"{client_id()}"'.encode())
    assert [post(client, body, **headers(body)).status_code for _ in range(2)] == [200, 200]
    response = post(client, body, **headers(body))
    assert_refused(response, 429, "ingest rate limit exceeded")
    assert response["Retry-After"] == "2"
    assert counters.totals()["rate_limited"] == 1
    failure = counters.recent_failures()[0]
    assert failure["status"] == 429 and failure["client_id"].startswith("collector-")
    # Another collector is not held back.
    other = BODY.replace(b'"smoke"', f'"{client_id()}"'.encode())
    assert post(client, other, **headers(other)).status_code == 200


def test_a_store_that_cannot_answer_lets_the_batch_in(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.WHATSAPP_INGEST_RATE_LIMIT_BURST = 1
    assert ratelimit.take("c").allowed and ratelimit.take("c").allowed
    assert "not counted" in caplog.text
