"""A real gunicorn on 127.0.0.1 to send request bodies to, for ``test_upload_limits`` and
``bench/upload_limits.py``: started with its own SQLite database and a staff user, stopped by
``stop()``. Bodies are streamed from a thread while the answer is read, so a server that
answers early is seen doing so; the worker's peak memory is read from ``/proc`` (Linux).
Standard library only: the caller needs no Django set up.
"""

from __future__ import annotations

import http.client
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

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
UPLOAD = "/admin/documents/sourcedocument/upload/"


@dataclass
class Answer:
    """A server's answer to a streamed body, and how much of the body had been sent by then."""

    status: int
    headers: str
    body: bytes
    sent_before_answer: int  # bytes of the body handed to the socket when the answer's first byte came
    declared: int
    seconds: float


def peak_rss(pid: int) -> int:
    """The process's peak resident memory in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{pid}\n" in status.read_text():
                found.append(int(status.parent.name))
        except OSError:
            pass  # a process that ended meanwhile
    return found


class Server:
    """gunicorn on 127.0.0.1 with one sync worker, settings ``ingestion.tests.limits_settings``
    (the body limit middleware first), a ``max_file`` limit and an ``allowance`` (bytes: a body
    up to their sum reaches the upload handler), and a staff session to upload with. ``tmp`` is
    a folder for its database and storage. ``worker`` is the worker's process id."""

    def __init__(self, tmp: Path, *, max_file: int = MiB, allowance: int = 32 * MiB):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "SECURE_"))}
        self.env.update(
            DJANGO_SETTINGS_MODULE="ingestion.tests.limits_settings", PRICEHUB_ENV_FILE="none", DEBUG="true",
            SECRET_KEY="limits-test-" + "k3y" * 20, ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false",
            SQLITE_PATH=str(tmp / "db.sqlite3"), INGESTION_STORAGE_DIR=str(tmp / "storage"),
            INGESTION_MAX_FILE_BYTES=str(max_file), INGESTION_UPLOAD_ALLOWANCE_BYTES=str(allowance),
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
        """Stop gunicorn and wait for it."""
        self.process.terminate()
        self.process.wait(timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """One request with the session's cookies: ``(status, headers, body)``; keeps the cookies set."""
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
        """The CSRF token of the form on the page at ``path``."""
        _, _, page = self.request("GET", path)
        return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()

    def log_in(self):
        """Log the staff user in through the admin's login form (session and CSRF cookies)."""
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
