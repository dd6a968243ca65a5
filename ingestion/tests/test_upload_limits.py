"""Upload size limits: a body over the limit is refused before it is read, a file past the limit
stops the reading at once, in bounded memory.

In-process tests check the answers (413/411 JSON or page) and the handler on real multipart
bodies; the gunicorn tests start a real server on 127.0.0.1 (one sync worker, stopped at the
end), stream bodies to it from a thread while reading the answer, and read the worker's peak
memory (``VmHWM`` in ``/proc/<pid>/status``) before and after.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from ingestion.forms import UploadForm
from ingestion.uploads import SizeLimitUploadHandler, install_size_limit

ROOT = Path(__file__).resolve().parents[2]
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


@dataclass
class Answer:
    status: int
    headers: str
    body: bytes
    sent_before_answer: int  # bytes of the body handed to the socket when the answer's first byte came
    declared: int
    seconds: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(pid: int) -> int:
    """The process's peak resident memory in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{pid}\n" in status.read_text():
                found.append(int(status.parent.name))
        except OSError:
            pass  # a process that ended meanwhile
    return found


class Server:
    """gunicorn on 127.0.0.1 with one sync worker, a 1 MiB file limit and a 32 MiB allowance (so
    a body up to 33 MiB reaches the upload handler), and a staff session to upload with."""

    def __init__(self, tmp: Path):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "SECURE_"))}
        self.env.update(
            DJANGO_SETTINGS_MODULE="ingestion.tests.limits_settings", PRICEHUB_ENV_FILE="none", DEBUG="true",
            SECRET_KEY="limits-test-" + "k3y" * 20, ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false",
            SQLITE_PATH=str(tmp / "db.sqlite3"), INGESTION_STORAGE_DIR=str(tmp / "storage"),
            INGESTION_MAX_FILE_BYTES=str(MiB), INGESTION_UPLOAD_ALLOWANCE_BYTES=str(32 * MiB),
            DATA_UPLOAD_MAX_MEMORY_SIZE="1024",
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run(manage + ["migrate", "--noinput"], cwd=ROOT, env=self.env, check=True, capture_output=True,
                       timeout=300)
        subprocess.run(manage + ["shell", "--no-imports", "-c",
                                 "from django.contrib.auth.models import User; "
                                 "User.objects.create_superuser('op', '', 'pw-op-12345')"],
                       cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=120)
        self.port = free_port()
        gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "pricehub.wsgi", "--workers", "1",
                    "--bind", f"127.0.0.1:{self.port}", "--timeout", "120"]
        self.process = subprocess.Popen(gunicorn, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.cookies: dict[str, str] = {}
        for _ in range(300):
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not answer /healthz")
        self.worker = children(self.process.pid)[0]
        self.log_in()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body, {**({"Cookie": cookie} if cookie else {}), **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";")[0].partition("=")
            self.cookies[name] = value
        connection.close()
        return response.status, response.headers, data

    def csrf_token(self, path: str) -> str:
        _, _, page = self.request("GET", path)
        return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()

    def log_in(self):
        token = self.csrf_token("/admin/login/")
        form = urlencode({"username": "op", "password": "pw-op-12345", "csrfmiddlewaretoken": token,
                          "next": "/admin/"}).encode()
        status, _, _ = self.request("POST", "/admin/login/", form,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302 and "sessionid" in self.cookies

    def upload_parts(self, filename: str) -> tuple[bytes, bytes, dict]:
        """The multipart body around a file's bytes, and the headers, for the admin upload form."""
        token = self.csrf_token(UPLOAD)
        boundary = "----limits-test-boundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                "Content-Type: text/csv\r\n\r\n").encode()
        tail = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"new_vendor\"\r\n\r\nAcme\r\n"
                f"--{boundary}--\r\n").encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                   "Accept": "text/html,application/xhtml+xml", "Referer": f"http://127.0.0.1:{self.port}{UPLOAD}"}
        return head, tail, headers

    def stream(self, path: str, *, headers: dict, head: bytes = b"", filler: int, tail: bytes = b"",
               chunked: bool = False) -> Answer:
        """POST ``head``, ``filler`` bytes of ``x`` (no newline) and ``tail``, sent from a thread in
        64 KiB pieces until the server answers; the answer read meanwhile."""
        declared = len(head) + filler + len(tail)
        lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", *(f"{k}: {v}" for k, v in headers.items()),
                 "Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared}"]
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent, answered = [0], threading.Event()

        def pieces():
            yield head
            piece = b"x" * 65536
            for _ in range(filler // len(piece)):
                yield piece
            yield b"x" * (filler % len(piece))
            yield tail

        def send():
            try:
                for piece in pieces():
                    if answered.is_set():
                        return
                    if piece:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                        sent[0] += len(piece)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server closed the connection: what the test wants

        started = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received, sent_before = b"", None
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            if sent_before is None:
                sent_before = sent[0]
                answered.set()
            received += data
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0:
                length = re.search(rb"(?i)content-length: *(\d+)", received[:head_end])
                if length and len(received) >= head_end + 4 + int(length.group(1)):
                    break
        seconds = time.monotonic() - started
        answered.set()
        sock.close()
        sender.join(timeout=60)
        raw_headers, _, body = received.partition(b"\r\n\r\n")
        status = int(raw_headers.split()[1]) if raw_headers else 0
        return Answer(status, raw_headers.decode("latin-1"), body, sent_before or 0, declared, seconds)


UPLOAD = "/admin/documents/sourcedocument/upload/"


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
