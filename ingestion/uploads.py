"""Upload size limits: a request body too large is refused before it is read, a file over the
limit is stopped at the limit, and nothing of it is kept.

Why (issue 9, item 8): when an upload handler stops an upload with
``StopUpload(connection_reset=False)``, Django's ``MultiPartParser`` reads the rest of the
body to discard it (``exhaust(self._input_data)`` in ``django/http/multipartparser.py``).
Exhausting iterates the request stream, and iterating a stream reads it *line by line*: a body
without newlines is one line, read whole into memory (a 600 MB upload held 1.4 GB in a gunicorn
worker for 20 s) before the view could answer. So:

- ``pricehub.limits.RequestBodyLimitMiddleware`` refuses, before anything reads the body, a
  request whose ``Content-Length`` is over ``max_body_bytes()`` (413) or that has no length
  (a chunked body, 411: Django under WSGI would read it as empty), with ``body_refusal``;
- ``SizeLimitUploadHandler`` stops a file at its limit with ``StopUpload(connection_reset=True)``:
  the parser returns at once without reading on, and the server closes the connection after
  the answer (gunicorn's sync worker always does, draining at most 64 KiB).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict

# Bytes a request may carry beyond the largest file: the multipart boundaries and part headers,
# the CSRF token and the form's other fields (vendor, processor, currency, options).
DEFAULT_ALLOWANCE_BYTES = 64 * 1024


def max_file_bytes() -> int:
    """The largest file an upload may hold, in bytes (``settings.INGESTION_MAX_FILE_BYTES``)."""
    return int(settings.INGESTION_MAX_FILE_BYTES)


def allowance_bytes() -> int:
    """Bytes a request may carry beyond its file (``settings.INGESTION_UPLOAD_ALLOWANCE_BYTES``,
    default ``DEFAULT_ALLOWANCE_BYTES``)."""
    return int(getattr(settings, "INGESTION_UPLOAD_ALLOWANCE_BYTES", DEFAULT_ALLOWANCE_BYTES))


def max_body_bytes() -> int:
    """The largest request body this server reads, in bytes: the largest upload
    (``INGESTION_MAX_FILE_BYTES``) or the largest other body Django reads
    (``DATA_UPLOAD_MAX_MEMORY_SIZE``, JSON API writes), whichever is larger, plus
    ``allowance_bytes()``."""
    other = getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or 0
    return max(max_file_bytes(), int(other)) + allowance_bytes()


def size(n: int) -> str:
    """``n`` bytes for people: ``"50.0 MB"`` (binary units, as the upload page shows the limit)."""
    return str(filesizeformat(n)).replace("\xa0", " ")


def too_large_message(limit: int, filename: str = "") -> str:
    """The operator's message for a file over ``limit`` bytes; names the file when known. It
    contains ``"larger than the {limit:,}-byte limit"``."""
    subject = filename or "the file"
    return (f"{subject} is larger than the {limit:,}-byte limit ({size(limit)}); nothing of it was kept. "
            "Upload a smaller file, or split the price list into several files.")


def body_refusal(meta: dict) -> tuple[int, str] | None:
    """``(status, message)`` when a request must be refused before its body is read, else
    ``None``. ``meta`` is ``request.META`` (the WSGI environ): only its headers are looked at.

    - 411 for a body sent without ``Content-Length`` (``Transfer-Encoding: chunked``): Django's
      WSGI request reads such a body as empty, which would drop what the user sent;
    - 400 for a ``Content-Length`` that is not a number of bytes;
    - 413 for a ``Content-Length`` over ``max_body_bytes()``, naming the limit.
    """
    raw = meta.get("CONTENT_LENGTH") or ""
    if not raw.strip():
        if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            return 411, ("This server reads a request body only with its length (a Content-Length header); the "
                         "body was sent in chunks without one, so nothing of it was read. Send the file with its "
                         "length, as browsers and `curl -F file=@list.xlsx` do.")
        return None
    try:
        length = int(raw)
    except ValueError:
        length = -1
    if length < 0:
        return 400, f"The Content-Length header {raw!r} is not a number of bytes; nothing of the body was read."
    limit = max_body_bytes()
    if length > limit:
        return 413, (f"The request is {length:,} bytes ({size(length)}); this server takes files up to "
                     f"{max_file_bytes():,} bytes ({size(max_file_bytes())}), a request up to {limit:,} bytes with "
                     "the form's fields. Nothing of it was read or kept: upload a smaller file, or split the price "
                     "list into several files.")
    return None


class SizeLimitUploadHandler(FileUploadHandler):
    """Put first in ``request.upload_handlers`` (``install_size_limit``) before the body is read.

    ``limit`` is in bytes, for each file of the request. A request whose declared length
    (``Content-Length``) is over ``limit`` plus ``allowance_bytes()`` is not read at all
    (empty ``POST`` and ``FILES``); a file that passes ``limit`` bytes is stopped there with
    ``StopUpload(connection_reset=True)``: the parser reads no further, nothing of the file is
    kept, and the server closes the connection after the answer. Either way ``exceeded`` is
    true and ``message`` says so for the operator, naming the file when its part was reached.
    """

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.limit + allowance_bytes():
            self.exceeded = True
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None

    @property
    def message(self) -> str:
        """Why the file is missing, for the operator (``too_large_message``)."""
        return too_large_message(self.limit, getattr(self, "file_name", "") or "")


def install_size_limit(request, limit: int | None = None) -> SizeLimitUploadHandler:
    """A ``SizeLimitUploadHandler`` for ``limit`` bytes (default ``INGESTION_MAX_FILE_BYTES``),
    put first in ``request.upload_handlers``; call before anything reads ``request.POST`` or
    ``request.FILES`` (a view that does is ``csrf_exempt`` and checks CSRF after)."""
    handler = SizeLimitUploadHandler(request, max_file_bytes() if limit is None else limit)
    request.upload_handlers.insert(0, handler)
    return handler
