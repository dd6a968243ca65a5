"""``pricehub.settings`` for the gunicorn that ``test_upload_limits`` starts: the request body
limit first in ``MIDDLEWARE`` (once ``pricehub/settings.py`` lists it, as
``test_the_body_limit_is_the_first_middleware`` checks, this adds nothing), and a 32 MiB
allowance by default (``INGESTION_UPLOAD_ALLOWANCE_BYTES`` in the environment), so that a body
well past the file limit reaches the upload handler."""

import os

from pricehub.settings import *  # noqa: F403

BODY_LIMIT = "pricehub.limits.RequestBodyLimitMiddleware"
if BODY_LIMIT not in MIDDLEWARE:  # noqa: F405
    MIDDLEWARE = [BODY_LIMIT, *MIDDLEWARE]  # noqa: F405

INGESTION_UPLOAD_ALLOWANCE_BYTES = int(os.environ.get("INGESTION_UPLOAD_ALLOWANCE_BYTES", 32 * 1024 * 1024))
