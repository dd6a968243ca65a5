"""Upload size limits: a body over the limit is refused before it is read, a file past the limit
stops the reading at once, in bounded memory.

In-process tests check the answers (413/411 JSON or page) and the handler on real multipart
bodies; the gunicorn tests start a real server on 127.0.0.1 (one sync worker, stopped at the
end), stream bodies to it from a thread while reading the answer, and read the worker's peak
memory (``VmHWM`` in ``/proc/<pid>/status``) before and after.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from ingestion.forms import UploadForm
from ingestion.tests.gunicorn_harness import UPLOAD, Server, peak_rss
from ingestion.uploads import SizeLimitUploadHandler, install_size_limit

BODY_LIMIT = "pricehub.limits.RequestBodyLimitMiddleware"
MiB = 1024 * 1024


@pytest.fixture
def limits(settings):
    """A 1 MiB file limit, the default allowance, and the middleware first (as settings.py will
    list it)."""
    settings.INGESTION_MAX_FILE_BYTES = MiB
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    if BODY_LIMIT not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [BODY_LIMIT, *settings.MIDDLEWARE]
    return settings


def test_the_body_limit_is_the_first_middleware():
    from django.conf import settings

    assert settings.MIDDLEWARE[0] == BODY_LIMIT, f"add {BODY_LIMIT!r} first in MIDDLEWARE (pricehub/settings.py)"


# --------------------------------------------------------------------------- answers, in process


@pytest.mark.django_db
def test_a_declared_length_over_the_limit_is_refused_with_json_before_reading(client, limits):
    response = client.post("/documents", data=b"{}", content_type="application/json",
                           CONTENT_LENGTH=str(600 * MiB))  # the body is 2 bytes: reading more would fail
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request is 629,145,600 bytes (600.0 MB); this server takes files up to 1,048,576 bytes "
                  "(1.0 MB), a request up to 1,114,112 bytes with the form's fields. Nothing of it was read or "
                  "kept: upload a smaller file, or split the price list into several files.",
        "max_file_bytes": MiB, "max_body_bytes": MiB + 64 * 1024, "content_length": 600 * MiB,
    }


@pytest.mark.django_db
def test_a_browser_gets_a_page_naming_the_limit_with_a_link_back(client, limits):
    upload_page = "http://testserver/admin/documents/sourcedocument/upload/"
    response = client.generic("POST", "/admin/documents/sourcedocument/upload/", b"--x",
                              content_type=MULTIPART_CONTENT, CONTENT_LENGTH=str(60 * MiB),
                              HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8", HTTP_REFERER=upload_page)
    assert response.status_code == 413
    page = response.content.decode()
    assert "<h1>File too large</h1>" in page
    assert "The request is 62,914,560 bytes (60.0 MB); this server takes files up to 1,048,576 bytes" in page
    assert "Largest file: 1.0 MB (1,048,576 bytes)." in page
    assert f'<a href="{upload_page}">Go back</a>' in page
    response = client.generic("POST", "/documents", b"--x", content_type=MULTIPART_CONTENT,
                              CONTENT_LENGTH=str(60 * MiB), HTTP_ACCEPT="text/html",
                              HTTP_REFERER="https://elsewhere.example/")
    assert '<a href="/">Go back</a>' in response.content.decode()  # never a link to another site


@pytest.mark.django_db
def test_a_chunked_body_or_a_bad_length_is_refused_saying_why(client, limits):
    response = client.generic("POST", "/documents", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411
    assert response.json()["detail"].startswith("This server reads a request body only with its length")
    response = client.post("/documents", data=b"{}", content_type="application/json", CONTENT_LENGTH="12abc")
    assert response.status_code == 400
    assert response.json()["detail"] == ("The Content-Length header '12abc' is not a number of bytes; nothing of "
                                         "the body was read.")


@pytest.mark.django_db
def test_a_request_within_the_limit_passes(client, limits):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.post("/documents", data=b"{}", content_type="application/json")
    assert response.status_code != 413 and response.status_code < 500


# --------------------------------------------------------------------------- the handler and the form


def multipart_request(file_bytes: bytes, *, name="list.csv", declared: int | None = None, limit: int = 1024):
    body = encode_multipart(BOUNDARY, {"csrfmiddlewaretoken": "t" * 32, "file": SimpleUploadedFile(name, file_bytes),
                                       "new_vendor": "Acme"})
    request = RequestFactory().generic("POST", "/upload", body, content_type=MULTIPART_CONTENT,
                                       **({"CONTENT_LENGTH": str(declared)} if declared else {}))
    return request, install_size_limit(request, limit), len(body)


def test_a_file_past_the_limit_stops_the_parser_there_and_keeps_nothing(limits):
    request, handler, _ = multipart_request(b"x" * 60_000)  # the body is within 1 KiB + the 64 KiB allowance
    assert request.POST["csrfmiddlewaretoken"] == "t" * 32  # the fields before the file were read
    assert handler.exceeded and "file" not in request.FILES
    assert "new_vendor" not in request.POST  # nothing after the file: the parser stopped at the limit
    assert handler.message == ("list.csv is larger than the 1,024-byte limit (1.0 KB); nothing of it was kept. "
                               "Upload a smaller file, or split the price list into several files.")


def test_a_declared_length_over_the_limit_is_not_read_at_all(limits):
    request, handler, _ = multipart_request(b"x" * 10, declared=1024 + 64 * 1024 + 1)
    assert not request.POST and not request.FILES
    assert handler.exceeded and not request.environ["wsgi.input"].read_started
    assert handler.message.startswith("the file is larger than the 1,024-byte limit (1.0 KB)")


def test_a_file_within_the_limit_is_kept(limits):
    request, handler, _ = multipart_request(b"MODEL,PRICE\nX1,500\n", limit=MiB)
    assert not handler.exceeded
    assert request.FILES["file"].read() == b"MODEL,PRICE\nX1,500\n" and request.POST["new_vendor"] == "Acme"


def test_the_upload_form_has_one_error_on_the_file_when_it_was_stopped(limits):
    request, handler, _ = multipart_request(b"x" * 5000)
    form = UploadForm(request.POST, request.FILES, size_limit=handler)
    assert not form.is_valid()
    assert form.errors == {"file": [handler.message]}
    assert isinstance(handler, SizeLimitUploadHandler) and handler.limit == 1024  # the API's constructor too


# --------------------------------------------------------------------------- a real gunicorn




@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("limits"))
    try:
        head, tail, headers = running.upload_parts("warm-up.csv")  # the multipart code loaded before measuring
        running.stream(UPLOAD, headers=headers, head=head, filler=0, tail=tail)
        yield running
    finally:
        running.stop()


def test_gunicorn_refuses_a_600_mb_declared_upload_at_once_in_bounded_memory(server):
    before = peak_rss(server.worker)
    head, tail, headers = server.upload_parts("huge.csv")
    answer = server.stream(UPLOAD, headers=headers, head=head, filler=600 * MiB, tail=tail)
    grown = peak_rss(server.worker) - before
    assert answer.status == 413, answer.headers
    assert b"File too large" in answer.body and b"this server takes files up to 1,048,576 bytes" in answer.body
    figures = f"{answer.sent_before_answer:,} of {answer.declared:,} bytes sent before the answer; peak memory +{grown:,}"
    assert answer.sent_before_answer < 64 * MiB < answer.declared, figures  # answered long before the body was sent
    assert grown < 16 * MiB, figures


def test_gunicorn_answers_json_to_an_api_client(server):
    answer = server.stream("/documents", headers={"Content-Type": "application/octet-stream",
                                                  "Accept": "application/json"}, filler=600 * MiB)
    assert answer.status == 413
    assert json.loads(answer.body)["max_file_bytes"] == MiB
    assert answer.sent_before_answer < 64 * MiB


def test_gunicorn_stops_reading_a_file_as_soon_as_it_passes_the_limit(server):
    """The body (30 MiB, within the 33 MiB the server reads) gets past the Content-Length check;
    the upload handler stops the file at 1 MiB and the form says so."""
    before = peak_rss(server.worker)
    head, tail, headers = server.upload_parts("list.csv")
    answer = server.stream(UPLOAD, headers=headers, head=head, filler=30 * MiB, tail=tail)
    grown = peak_rss(server.worker) - before
    assert answer.status == 200, answer.headers
    assert b"larger than the 1,048,576-byte limit" in answer.body
    figures = f"{answer.sent_before_answer:,} of {answer.declared:,} bytes sent before the answer; peak memory +{grown:,}"
    assert answer.sent_before_answer < 20 * MiB < answer.declared, figures
    assert grown < 16 * MiB, figures
    assert not any((Path(server.env["INGESTION_STORAGE_DIR"])).rglob("list*"))


def test_gunicorn_refuses_a_chunked_body_at_once(server):
    head, tail, headers = server.upload_parts("list.csv")
    answer = server.stream(UPLOAD, headers=headers, head=head, filler=200 * MiB, tail=tail, chunked=True)
    assert answer.status == 411
    assert b"This server reads a request body only with its length" in answer.body
    assert answer.sent_before_answer < 64 * MiB
