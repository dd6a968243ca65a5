"""Real processes for the live tests and ``bench/concurrency.py``: throwaway databases, ``manage.py
ingest`` runs, a gunicorn and a django-q2 cluster on 127.0.0.1, and a small HTTP client for the
admin and the API.

Every process started here stops by itself: it runs in a process group of its own, watched by a
small watchdog process that ends the group (SIGTERM, then SIGKILL) when the process that started
it dies or when the group outlives its ``lifetime``; ``Service.stop()`` ends it at once. Nothing
here reads ``../shared`` or the developer's ``.env``.

Stdlib only (urllib, sqlite3, subprocess), plus psycopg for PostgreSQL databases.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
LIVE_SETTINGS = "tests.live_settings"
SECRET_KEY = "live-test-secret-key-" + "k" * 40

# --------------------------------------------------------------------------- files


CONDITIONS = ["New", "Refurbished A", "Used B", "Open box", "CPO"]


def write_price_csv(path: Path, rows: int, *, prefix: str = "SKU", seed: int = 0) -> Path:
    """A vendor price list as CSV (SKU, description, price, quantity, condition; one distinct product a
    row, ``prefix`` in every SKU and description so that two lists never share a product)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("SKU,Description,Price,Qty,Condition\n")
        chunk = []
        for i in range(rows):
            chunk.append(
                f"{prefix}-{i:07d},{prefix} phone {i % 40 + 8} {[64, 128, 256, 512][i % 4]}GB model {i},"
                f"{rng.uniform(50, 1500):.2f},{rng.randrange(1, 300)},{CONDITIONS[i % len(CONDITIONS)]}\n"
            )
            if len(chunk) >= 10_000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))
    return path


# --------------------------------------------------------------------------- processes

# The watchdog: ends a process group when its starter dies or the group outlives its lifetime.
_WATCHDOG = r"""
import os, signal, sys, time
starter, group, lifetime = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + lifetime
def alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while alive(group):
    if os.getppid() != starter or time.monotonic() > deadline:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            time.sleep(3)
        break
    time.sleep(0.25)
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    """Whether something listens where Redis should (tests and benchmarks that need it skip otherwise)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """The pids of ``pid``'s children, their children and so on (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class Service:
    """One child process (and whatever it forks) in a process group of its own, its output in
    ``log_path``; ended by a watchdog when this process dies or after ``lifetime`` seconds."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_dir: Path, lifetime: float):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.watchdog = subprocess.Popen(
            [PYTHON, "-c", _WATCHDOG, str(os.getpid()), str(self.popen.pid), str(lifetime)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The process's id (also its process group's)."""
        return self.popen.pid

    def log(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        """Whether it has not exited yet."""
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """Its exit code; raises ``subprocess.TimeoutExpired`` (the process left running) after ``timeout``."""
        return self.popen.wait(timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process itself (not its group)."""
        os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 10) -> int | None:
        """End the whole group: SIGTERM, then SIGKILL after ``timeout``; then the watchdog."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # children left behind by a killed leader
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.watchdog.poll() is None:
            self.watchdog.kill()
        self.watchdog.wait(5)
        self._log.close()
        return self.popen.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def live_env(database: "LiveDatabase", storage_dir: Path, *, secret_key: str = SECRET_KEY,
             **overrides: str) -> dict[str, str]:
    """The environment of a live process: the real settings (``tests.live_settings``) on ``database``
    and ``storage_dir``, production-like (``DEBUG=false``) but on plain HTTP on 127.0.0.1.
    ``secret_key`` must be the one of any process that signs what it reads (django-q2 tasks)."""
    env = {key: value for key, value in os.environ.items() if key not in (
        "DATABASE_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "INGESTION_STORAGE_DIR",
    )}
    env.update(
        DJANGO_SETTINGS_MODULE=LIVE_SETTINGS,
        PRICEHUB_ENV_FILE="none",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DEBUG="false",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_PROXY_SSL_HEADER="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        INGESTION_STORAGE_DIR=str(storage_dir),
        LOG_LEVEL="WARNING",
    )
    env.update(database.env())
    env.update(overrides)
    return env


def manage(args: list[str], env: dict[str, str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``manage.py ARGS`` to its end; raises with its output when it fails."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def start_ingest(name: str, path: Path, env: dict[str, str], *, log_dir: Path, lifetime: float = 300,
                 vendor: str = "", currency: str = "USD", args: tuple[str, ...] = ()) -> Service:
    """``manage.py ingest PATH --json [--vendor V] --currency C`` in a process of its own (its JSON
    line ends in its log)."""
    argv = [PYTHON, "manage.py", "ingest", str(path), "--json", "--currency", currency, *args]
    if vendor:
        argv += ["--vendor", vendor]
    return Service(name, argv, env=env, log_dir=log_dir, lifetime=lifetime)


def ingest_result(service: Service) -> dict:
    """The ``--json`` object an ingest run printed (raises, with its log, when there is none)."""
    for line in service.log().splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"{service.name} printed no JSON result; its output:\n{service.log()[-4000:]}")


def start_gunicorn(env: dict[str, str], *, log_dir: Path, workers: int = 2, lifetime: float = 300,
                   name: str = "gunicorn") -> Service:
    """A real gunicorn (``workers`` sync workers) on 127.0.0.1 and a free port, answering
    ``/healthz`` when this returns; its base URL is ``service.url``."""
    port = free_port()
    service = Service(name, [
        GUNICORN, "pricehub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "120",
        "--graceful-timeout", "5", "--chdir", str(ROOT),
    ], env=env, log_dir=log_dir, lifetime=lifetime)
    service.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(service.url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return service
        except (OSError, urllib.error.URLError):
            pass
        if not service.running() or time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"gunicorn did not start; its output:\n{service.log()[-4000:]}")
        time.sleep(0.2)


def start_qcluster(env: dict[str, str], *, log_dir: Path, lifetime: float = 300, name: str = "qcluster") -> Service:
    """A real django-q2 cluster (``manage.py qcluster``), running when this returns."""
    env = {**env, "LOG_LEVEL": "INFO"}  # its "running" line tells when it is up
    service = Service(name, [PYTHON, "manage.py", "qcluster"], env=env, log_dir=log_dir, lifetime=lifetime)
    deadline = time.monotonic() + 30
    while "running" not in service.log():
        if not service.running() or time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"qcluster did not start; its output:\n{service.log()[-4000:]}")
        time.sleep(0.2)
    return service


# --------------------------------------------------------------------------- databases


@dataclass
class LiveDatabase:
    """A database the live processes share: a SQLite file, or a PostgreSQL database on a server
    reached with ``server`` (a ``postgres://`` URL of its maintenance database)."""

    kind: str  # "sqlite" or "postgres"
    name: str  # the SQLite file's path, or the PostgreSQL database's name
    server: str = ""

    def url(self) -> str:
        """PostgreSQL: the database's URL."""
        parts = urllib.parse.urlsplit(self.server)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + self.name, parts.query, ""))

    def env(self) -> dict[str, str]:
        """The variables that point the settings at it."""
        if self.kind == "sqlite":
            return {"SQLITE_PATH": str(self.name)}
        return {"DATABASE_URL": self.url()}

    def _admin(self):
        import psycopg

        return psycopg.connect(self.server, autocommit=True)

    def create(self, template: "LiveDatabase | None" = None) -> "LiveDatabase":
        """Create it empty, or as a copy of ``template`` (a migrated database of the same kind)."""
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.name) + suffix).unlink(missing_ok=True)
            if template is not None:
                with sqlite3.connect(template.name) as source, sqlite3.connect(self.name) as copy:
                    source.backup(copy)
            return self
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.name}"' + (f' TEMPLATE "{template.name}"' if template else ""))
        return self

    def drop(self) -> None:
        """Remove it (PostgreSQL: ending any session still connected)."""
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.name) + suffix).unlink(missing_ok=True)
            return
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def migrate(self, storage_dir: Path) -> None:
        """Apply the migrations and create the cache table (in a ``manage.py`` subprocess)."""
        env = live_env(self, storage_dir)
        manage(["migrate", "--noinput", "-v0"], env, timeout=300)
        manage(["createcachetable"], env)

    def settings_dict(self, base: dict) -> dict:
        """Django's connection settings for it, from ``base`` (a connection's settings of the same engine)."""
        settings = {**base, "OPTIONS": dict(base.get("OPTIONS", {})), "TEST": dict(base.get("TEST", {}))}
        if self.kind == "sqlite":
            settings["NAME"] = Path(self.name)
        else:
            settings["NAME"] = self.name
        return settings

    @classmethod
    def unique_postgres(cls, server: str, prefix: str) -> "LiveDatabase":
        """A PostgreSQL database name no one uses: ``prefix`` and a random suffix."""
        return cls("postgres", f"{prefix}_{uuid.uuid4().hex[:10]}", server)


def postgres_server_url(settings: dict) -> str:
    """The ``postgres://`` URL of the maintenance database ``postgres`` on the server of ``settings``
    (a Django connection's settings)."""
    user = urllib.parse.quote(settings.get("USER") or "postgres")
    password = settings.get("PASSWORD") or ""
    auth = user + (":" + urllib.parse.quote(password) if password else "")
    return f"postgres://{auth}@{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/postgres"


def with_busy_timeout(database: dict, milliseconds: int) -> dict:
    """A copy of a SQLite connection's settings whose writers wait at most ``milliseconds`` for
    the write lock (``pricehub.sqlite``'s ``write_lock_timeout``; other engines: unchanged)."""
    if database.get("ENGINE") != "pricehub.sqlite":
        return database
    return {**database, "OPTIONS": {**database.get("OPTIONS", {}), "write_lock_timeout": milliseconds / 1000}}


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        """Never follow: the caller sees the 3xx and its Location."""
        return None


@dataclass
class Response:
    """What a request got: status, headers, body, and how long it took (seconds)."""

    status: int
    headers: dict
    body: bytes
    seconds: float

    def json(self):
        """The body, parsed as JSON."""
        return json.loads(self.body)

    @property
    def location(self) -> str:
        """The Location header of a redirect ("" without one)."""
        return self.headers.get("Location", "")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = "----pricehub" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, content_type) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Client:
    """An HTTP client for one user of the server at ``base``: keeps its cookies (an admin session),
    sends ``token`` as ``Authorization: Token`` when given, never follows redirects."""

    base: str
    token: str = ""
    timeout: float = 60
    cookies: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self):
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def request(self, method: str, path: str, *, data: bytes | None = None, content_type: str = "",
                headers: dict | None = None) -> Response:
        """One request; any status (4xx, 5xx included) is returned, never raised."""
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        start = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read()
                status, response_headers = response.status, dict(response.headers)
        except urllib.error.HTTPError as exc:
            body = exc.read()
            status, response_headers = exc.code, dict(exc.headers)
        return Response(status, response_headers, body, time.perf_counter() - start)

    def get(self, path: str) -> Response:
        """``GET path``."""
        return self.request("GET", path)

    def csrf_token(self) -> str:
        """The CSRF cookie's value, set by a page got before ("" when none was)."""
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                return cookie.value
        return ""

    def post_form(self, path: str, fields: dict[str, str], files: dict | None = None) -> Response:
        """A form POST (multipart when ``files``) with the CSRF token of the page got before."""
        fields = {"csrfmiddlewaretoken": self.csrf_token(), **fields}
        if files:
            body, content_type = multipart(fields, files)
        else:
            body = urllib.parse.urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        return self.request("POST", path, data=body, content_type=content_type,
                            headers={"Referer": self.base + path})


def admin_login(client: Client, username: str, password: str) -> list[Response]:
    """Log in through the admin's login page: the GET of the form and the POST (302 on success)."""
    form = client.get("/admin/login/?next=/admin/")
    posted = client.post_form("/admin/login/?next=/admin/", {"username": username, "password": password,
                                                             "next": "/admin/"})
    return [form, posted]


def admin_upload(client: Client, path: Path, *, vendor: str, currency: str = "USD") -> list[Response]:
    """Upload a file through the admin's upload form (a logged-in ``client``): the GET of the form and
    the POST (302 to the new document's page on success)."""
    form = client.get("/admin/documents/sourcedocument/upload/")
    posted = client.post_form(
        "/admin/documents/sourcedocument/upload/",
        {"new_vendor": vendor, "processor": "", "currency": currency, "options": ""},
        files={"file": (path.name, path.read_bytes(), "text/csv")},
    )
    return [form, posted]


def document_id_from_admin_redirect(response: Response) -> int | None:
    """The document id in the upload's redirect (``/admin/documents/sourcedocument/<id>/change/``)."""
    match = re.search(r"/sourcedocument/(\d+)/", response.location)
    return int(match.group(1)) if match else None


def api_write_document(client: Client, path: Path, *, vendor: str, currency: str = "USD") -> Response:
    """``POST /documents`` (multipart ``file``, ``vendor``, ``currency``) with the client's token."""
    body, content_type = multipart({"vendor": vendor, "currency": currency},
                                   {"file": (path.name, path.read_bytes(), "text/csv")})
    return client.request("POST", "/documents", data=body, content_type=content_type)
