"""Fixtures for the live tests (tests/test_concurrency.py, tests/test_faults.py): a fresh database
that real processes share with the test, on the suite's engine (SQLite, or PostgreSQL when
``DATABASE_URL`` is set), and the ``slow`` marker.

pytest-django's test database is in memory on SQLite, where no other process can see it; a live
test instead gets a database of its own (a copy of one migrated once per session: a SQLite file, or
a PostgreSQL database made from a template) and, for the test's duration, the ``default``
connection points at it, so ``Offer.objects`` and the services in the test see what the
subprocesses wrote. The test's own test database is left as it was.

On SQLite every connection of a live test (its processes' and its own) waits at most
``BUSY_TIMEOUT_MS`` for another writer, far less than the settings' 10 s, so that an ingest of a
file of 100,000 rows lasts several busy timeouts: a writer that waits for a whole ingest fails.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connections

from tests import servers

BUSY_TIMEOUT_MS = 2000


@dataclass
class Live:
    """A live test's database, storage and log folder; ``env()`` is a subprocess's environment."""

    database: servers.LiveDatabase
    storage: Path
    logs: Path
    busy_timeout_ms: int = BUSY_TIMEOUT_MS

    @property
    def kind(self) -> str:
        """``"sqlite"`` or ``"postgres"``."""
        return self.database.kind

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a process of this test (``overrides`` are more variables)."""
        busy = {"LIVE_SQLITE_BUSY_TIMEOUT_MS": str(self.busy_timeout_ms)} if self.kind == "sqlite" else {}
        from django.conf import settings

        # The test's secret key: the tasks it queues are signed with it.
        return servers.live_env(self.database, self.storage, secret_key=settings.SECRET_KEY, **busy, **overrides)


def _kind() -> str:
    return "sqlite" if connections["default"].vendor == "sqlite" else "postgres"


@pytest.fixture(scope="session")
def live_template(django_db_setup, django_db_blocker, tmp_path_factory):
    """A migrated database each live test copies; dropped at the end of the session."""
    folder = tmp_path_factory.mktemp("live-template")
    with django_db_blocker.unblock():
        base = connections["default"].settings_dict
    if _kind() == "sqlite":
        template = servers.LiveDatabase("sqlite", str(folder / "template.sqlite3"))
    else:
        template = servers.LiveDatabase.unique_postgres(servers.postgres_server_url(base), "test_pricehub_livetmpl")
    template.create()
    try:
        template.migrate(folder / "storage")
        yield template
    finally:
        template.drop()


@pytest.fixture
def live(request, live_template, django_db_blocker, tmp_path, settings):
    """A fresh migrated database for this test that subprocesses reach through ``live.env()``, with the
    ``default`` connection pointed at it (and ``INGESTION_STORAGE_DIR`` at the processes' storage).

    Not with pytest-django's ``db`` (nor a fixture using it, such as ``django_user_model``): it
    would wrap the test in a transaction the processes never see, holding SQLite's write lock."""
    wrapped = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}
    if wrapped & set(request.fixturenames) or request.node.get_closest_marker("django_db"):
        raise pytest.UsageError("a live test cannot use the db fixture (or django_user_model, django_db): the "
                                "processes would not see its writes; create rows through the models directly")
    if live_template.kind == "sqlite":
        database = servers.LiveDatabase("sqlite", str(tmp_path / "live.sqlite3"))
    else:
        database = servers.LiveDatabase("postgres", f"test_pricehub_live_{uuid.uuid4().hex[:10]}",
                                        live_template.server)
    database.create(template=live_template)
    storage = tmp_path / "storage"
    storage.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    settings.INGESTION_STORAGE_DIR = str(storage)
    from django.contrib.contenttypes.models import ContentType

    with django_db_blocker.unblock():
        suite_connection = connections["default"]
        own_settings = servers.with_busy_timeout(database.settings_dict(suite_connection.settings_dict),
                                                 BUSY_TIMEOUT_MS)
        own = suite_connection.__class__(own_settings, alias="default")
        connections["default"] = own
        ContentType.objects.clear_cache()
        try:
            yield Live(database, storage, logs)
        finally:
            own.close()
            connections["default"] = suite_connection
            ContentType.objects.clear_cache()
            database.drop()
