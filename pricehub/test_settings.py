"""Settings for the test suite: the real settings, with test-friendly defaults.

The environment still decides the database: ``DATABASE_URL`` unset runs the
suite on SQLite, set runs it on PostgreSQL.
"""

import os
import tempfile

# The suite never reads the developer's local .env (nor do the subprocesses it starts, which
# inherit this): tests run on the settings below and the real environment only.
os.environ["PRICEHUB_ENV_FILE"] = "none"
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("INGESTION_STORAGE_DIR", tempfile.mkdtemp(prefix="pricehub-test-storage-"))

from pricehub.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
STATIC_ROOT = tempfile.mkdtemp(prefix="pricehub-test-static-")
