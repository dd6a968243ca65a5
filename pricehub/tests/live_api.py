"""Helpers for tests that run the API in real gunicorn workers on 127.0.0.1, sharing a database
with the test: on PostgreSQL the test database itself (rows committed by a transactional test),
on SQLite a migrated file (the suite's own SQLite is in memory)."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, key: str) -> tuple[int, dict]:
    """``GET url`` with ``Authorization: Token key`` on a new connection: ``(status, headers)``."""
    request = urllib.request.Request(url, headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def server_env(tmp_path: Path, limit: int = 600) -> dict:
    """The environment of a production-like process (``DEBUG`` off) with ``limit`` requests a
    minute; the database variables come from ``shared_database``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_URL", "SECURE_",
                                                                     "DATABASE_URL", "SQLITE_PATH"))}
    env.update(
        PRICEHUB_ENV_FILE="none", DEBUG="false", SECRET_KEY="live-api-test-" + "k3y" * 20,
        ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false", STATIC_ROOT=str(tmp_path / "static"),
        INGESTION_STORAGE_DIR=str(tmp_path / "storage"), DJANGO_SETTINGS_MODULE="pricehub.settings",
        API_RATE_LIMIT_PER_MINUTE=str(limit),
    )
    return env


def shared_database(tmp_path: Path) -> dict:
    """Database variables for processes that share the test's data. Call from a test using
    ``transactional_db``. On SQLite the file is migrated (with its cache table) and empty: make
    rows in it with ``manage``."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        return {"DATABASE_URL": f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT'] or 5432}/"
                                f"{s['NAME']}"}
    global _migrated
    if _migrated is None or not _migrated.exists():  # migrated once a session, copied for each test
        folder = tempfile.mkdtemp(prefix="pricehub-live-api-")
        atexit.register(shutil.rmtree, folder, True)
        template = Path(folder) / "db.sqlite3"
        for args in (["migrate", "--noinput"], ["createcachetable"]):
            manage(tmp_path, {"SQLITE_PATH": str(template)}, *args)
        _migrated = template
    target = tmp_path / "db.sqlite3"
    for suffix in ("", "-wal"):  # the last connection's close normally folds the WAL in
        source = Path(str(_migrated) + suffix)
        if source.exists():
            shutil.copyfile(source, str(target) + suffix)
    return {"SQLITE_PATH": str(target)}


_migrated: Path | None = None


def manage(tmp_path: Path, db_env: dict, *args: str) -> str:
    """Run ``manage.py *args`` against ``db_env``'s database; its stdout."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**server_env(tmp_path), **db_env},
                          check=True, capture_output=True, text=True, timeout=300).stdout


def make_user(tmp_path: Path, db_env: dict, username: str) -> None:
    """A user in the shared database (on PostgreSQL the test's own; else through ``manage``)."""
    if "DATABASE_URL" in db_env:
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_user(username=username, password="pw-live-12345")
    else:
        manage(tmp_path, db_env, "shell", "--no-imports", "-c", "from django.contrib.auth import get_user_model; "
               f"get_user_model().objects.create_user(username={username!r}, password='pw-live-12345')")


@contextmanager
def gunicorn(tmp_path: Path, env: dict, workers: int = 2, *extra: str):
    """A gunicorn serving the app on 127.0.0.1 with ``workers`` sync workers; yields
    ``(base_url, logs)`` where ``logs()`` is its stderr, complete once the block has ended
    (the server is stopped on leaving it)."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "pricehub.wsgi", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    captured = {"stderr": b""}
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        yield base, lambda: captured["stderr"].decode()
    finally:
        server.terminate()
        _, captured["stderr"] = server.communicate(timeout=30)
