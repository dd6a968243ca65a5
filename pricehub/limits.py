"""Request body limits, applied before anything reads the body.

``RequestBodyLimitMiddleware`` goes first in ``MIDDLEWARE``. It looks only at the request's
headers (``ingestion.uploads.body_refusal``): a ``Content-Length`` over the largest body this
server reads is refused with 413, a body without a length (chunked) with 411, before a byte of
the body is read, so a 600 MB upload costs the worker nothing. The answer is JSON
(``{"detail": ..., "max_file_bytes": ..., "max_body_bytes": ..., "content_length": ...}``) for
API clients, and a page saying the same for browsers (an ``Accept`` header naming
``text/html``). The server closes the connection after it (gunicorn's sync worker always does).
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from ingestion import uploads

TITLES = {400: "Bad request length", 411: "Length required", 413: "File too large"}


class RequestBodyLimitMiddleware:
    """Refuse a request whose body is too large, or has no length, before it is read (see the
    module's docstring). Other requests pass untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        refusal = uploads.body_refusal(request.META)
        if refusal is None:
            return self.get_response(request)
        return refusal_response(request, *refusal)


def refusal_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """The answer to a refused request: JSON, or an HTML page for a browser (its ``Accept``
    names ``text/html``), with a link back to the page it came from when that is this site."""
    details = {
        "detail": message,
        "max_file_bytes": uploads.max_file_bytes(),
        "max_body_bytes": uploads.max_body_bytes(),
        "content_length": _declared_length(request),
    }
    if "text/html" not in request.headers.get("Accept", ""):
        return _with_length(JsonResponse(details, status=status))
    back = request.headers.get("Referer", "")
    try:
        host = request.get_host()
    except DisallowedHost:
        host = ""
    if not host or not url_has_allowed_host_and_scheme(back, allowed_hosts={host}):
        back = "/"
    page = render_to_string("pricehub/request_refused.html", {
        **details, "title": TITLES.get(status, "Request refused"), "back": back,
        "max_file": uploads.size(details["max_file_bytes"]), "max_file_bytes_text": f"{details['max_file_bytes']:,}",
    })
    return _with_length(HttpResponse(page, status=status))


def _with_length(response: HttpResponse) -> HttpResponse:
    """The response with its Content-Length (the middlewares that would add it do not run)."""
    response["Content-Length"] = str(len(response.content))
    return response


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
