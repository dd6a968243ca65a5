"""Settings for the real servers the live tests and bench/concurrency.py start (gunicorn, qcluster,
``manage.py ingest`` in subprocesses): the real settings, everything from the environment, with two
changes that need no collected static files or slow password hashing to run a throwaway instance:

- static files are served from the apps (no manifest, so ``DEBUG=false`` pages render without
  ``collectstatic``);
- an MD5 password hash (the test suite's hasher) is accepted beside the real ones, so users the
  tests create log in; new hashes stay the real default.

``LIVE_SQLITE_BUSY_TIMEOUT_MS``, when set, replaces SQLite's busy timeout (the settings' 10 s), so
that a test's ingest of a file of modest size lasts several busy timeouts.
"""

import os

from pricehub.settings import *  # noqa: F403
from tests.servers import with_busy_timeout

if os.environ.get("LIVE_SQLITE_BUSY_TIMEOUT_MS"):
    _busy_ms = int(os.environ["LIVE_SQLITE_BUSY_TIMEOUT_MS"])
    DATABASES["default"] = with_busy_timeout(DATABASES["default"], _busy_ms)  # noqa: F405

STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
