"""The API's rate limit: per token, per address without credentials, 429 with Retry-After, and
counters shared by real gunicorn workers through the database cache and through Redis."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from pricehub import throttling
from pricehub.tests import live_api
from pricehub.tokens import issue_token
from tests.servers import redis_answers


def fresh_window(needed_seconds: float = 15) -> None:
    """Sleep into the next one-minute window when fewer than ``needed_seconds`` are left of this one,
    so the requests of a test are counted in one window."""
    left = throttling.WINDOW_SECONDS - time.time() % throttling.WINDOW_SECONDS
    if left < needed_seconds:
        time.sleep(left + 0.05)


def client_for(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_counter_file_counts_per_key_and_drops_passed_windows(tmp_path, monkeypatch):
    path = tmp_path / "db.sqlite3-ratelimit"
    assert [throttling._file_hit(path, "a", time.time() + 60) for _ in range(3)] == [1, 2, 3]
    assert throttling._file_hit(path, "b", time.time() - 1) == 1  # already passed
    monkeypatch.setattr(throttling.random, "random", lambda: 0.0)  # the next hit cleans up
    assert throttling._file_hit(path, "a", time.time() + 60) == 4
    import sqlite3

    with sqlite3.connect(path) as check:
        assert check.execute("SELECT key, count FROM hits ORDER BY key").fetchall() == [("a", 4)]


@pytest.mark.django_db
def test_hit_counts_in_one_minute_windows():
    start = 1_800_000_000 - 1_800_000_000 % 60  # a window's first second
    assert throttling.hit("test:w", now=start + 1) == (1, 59)
    assert throttling.hit("test:w", now=start + 30) == (2, 30)
    assert throttling.hit("test:w", now=start + 59.5) == (3, 0.5)
    assert throttling.hit("test:w", now=start + 60) == (1, 60)  # the next window starts again
    assert throttling.hit("test:other", now=start + 30) == (1, 30)


@pytest.mark.django_db
def test_a_token_over_the_limit_gets_429_with_retry_after(settings, django_user_model):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    user = django_user_model.objects.create_user(username="bi", password="pw-bi-12345")
    token, key = issue_token(user, name="busy")
    _, other_key = issue_token(user, name="quiet")
    fresh_window()
    client = client_for(key)
    assert [client.get("/vendors").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/vendors")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "rate limit of 3 requests a minute reached for this token" in response.json()["detail"]
    assert token.key_prefix in response.json()["detail"]
    assert client_for(other_key).get("/vendors").status_code == 200  # each token has its own count


@pytest.mark.django_db
def test_requests_without_valid_credentials_are_limited_per_address(settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    fresh_window()
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    statuses = [client.get("/offers").status_code for _ in range(2)]
    statuses.append(client.get("/offers", HTTP_AUTHORIZATION="Token phk_guessed").status_code)
    assert statuses == [401, 401, 401]
    response = client.get("/offers", HTTP_AUTHORIZATION="Token phk_guessed-again")
    assert response.status_code == 429 and "the address 203.0.113.7" in response.json()["detail"]
    assert client.get("/offers").status_code == 429
    assert APIClient(REMOTE_ADDR="203.0.113.8").get("/offers").status_code == 401  # another address


@pytest.mark.django_db
def test_x_forwarded_for_is_trusted_only_for_the_configured_proxies(settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    fresh_window()
    client = APIClient(REMOTE_ADDR="198.51.100.1")
    assert client.get("/offers", HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 401
    # NUM_PROXIES 0: a forged X-Forwarded-For does not give a new count.
    assert client.get("/offers", HTTP_X_FORWARDED_FOR="10.0.0.2").status_code == 429


# ----------------------------------------------------------------------------- real gunicorn workers


@pytest.fixture
def database_env(tmp_path, transactional_db):
    """``(database variables, a write token's key)`` for gunicorn processes sharing the test's data."""
    db_env = live_api.shared_database(tmp_path)
    live_api.make_user(tmp_path, db_env, "bi")
    if "DATABASE_URL" in db_env:
        from django.contrib.auth import get_user_model

        _, key = issue_token(get_user_model().objects.get(username="bi"), name="gunicorn test", scope="write")
    else:
        key = live_api.manage(tmp_path, db_env, "create_api_token", "bi", "--scope", "write").strip()
    return db_env, key


@pytest.mark.parametrize("cache", ["database", "redis"])
def test_two_gunicorn_workers_share_one_limit(tmp_path, database_env, cache):
    if cache == "redis" and not redis_answers():
        pytest.skip("no Redis on 127.0.0.1:6379")
    limit, requests = 10, 30
    db_env, key = database_env
    env = {**live_api.server_env(tmp_path, limit), **db_env}
    if cache == "redis":
        env["REDIS_URL"] = "redis://127.0.0.1:6379/13"
    access_log = tmp_path / "access.log"
    with live_api.gunicorn(tmp_path, env, 2, "--access-logfile", str(access_log), "--access-logformat",
                           "%(p)s %(s)s %(U)s") as (base, logs):
        fresh_window(needed_seconds=25)
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: live_api.get(base + "/vendors", key), range(requests)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * limit + [429] * (requests - limit), logs()[-2000:]
    waits = [int(headers["Retry-After"]) for status, headers in answers if status == 429]
    assert all(1 <= wait <= 60 for wait in waits)
    served = [line.split()[:2] for line in access_log.read_text().splitlines() if line.endswith(" /vendors")]
    pids = {pid for pid, _ in served}
    # Both workers answered; had each counted alone, one of them would have let more than
    # `limit` through between them (30 requests: one worker saw at least 15).
    assert len(served) == requests and len(pids) == 2, served


def test_api_reads_do_not_stall_behind_another_process_holding_the_sqlite_write_lock(tmp_path, database_env):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single write lock; PostgreSQL writers do not block these rows")
    import sqlite3

    db_env, key = database_env
    env = {**live_api.server_env(tmp_path, 100), **db_env}
    writer = sqlite3.connect(db_env["SQLITE_PATH"], isolation_level=None, timeout=30)
    try:
        with live_api.gunicorn(tmp_path, env, 1) as (base, logs):
            writer.execute("BEGIN IMMEDIATE")  # another process's long write (an ingest's batch, say)
            writer.execute("UPDATE offers_vendor SET name = name")
            status, _ = live_api.get(base + "/vendors", key)
            writer.execute("ROLLBACK")
            after, _ = live_api.get(base + "/vendors", key)
    finally:
        writer.close()
    log = logs()
    assert (status, after) == (200, 200), log[-3000:]
    # The counters live in a file of their own: counting never waited for the held lock.
    assert "not counted" not in log and (tmp_path / "db.sqlite3-ratelimit").exists()
    assert "last use not recorded" in log
