"""``pricehub.settings`` for the gunicorn that ``test_upload_limits`` starts: a 32 MiB allowance by
default (``INGESTION_UPLOAD_ALLOWANCE_BYTES`` in the environment), so that a body well past the
file limit reaches the upload handler."""

import os

from pricehub.settings import *  # noqa: F403

INGESTION_UPLOAD_ALLOWANCE_BYTES = int(os.environ.get("INGESTION_UPLOAD_ALLOWANCE_BYTES", 32 * 1024 * 1024))
