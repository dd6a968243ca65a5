"""The production shape, for real: gunicorn from the Procfile on loopback, WhiteNoise, Redis."""

import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "SECURE_", "REDIS_URL"))}
    env.update(
        DEBUG="false",
        SECRET_KEY="gunicorn-test-" + "k3y" * 20,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        STATIC_ROOT=str(tmp_path / "static"),
        INGESTION_STORAGE_DIR=str(tmp_path / "storage"),
        DJANGO_SETTINGS_MODULE="pricehub.settings",
    )
    return env


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_procfile_web_process_serves_the_app_and_static_files(tmp_path):
    env = production_env(tmp_path)
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput"], ["createcachetable"], ["collectstatic", "--noinput"]):
        subprocess.run(manage + args, cwd=ROOT, env=env, check=True, capture_output=True, timeout=180)

    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    command = shlex.split(procfile["web"].replace("${WEB_CONCURRENCY:-3}", "2"))
    assert command[0] == "gunicorn"
    port = free_port()
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), *command[1:], "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status, _, body = get(base + "/healthz")
                break
            except (ConnectionError, urllib.error.URLError):
                time.sleep(0.1)
        assert status == 200 and body == b'{"status": "ok"}'
        status, headers, _ = get(base + "/offers")
        assert status == 401 and headers["WWW-Authenticate"] == "Token"
        status, _, page = get(base + "/admin/login/")
        assert status == 200
        css = page.decode().split('href="/static/admin/css/base.')[1].split('"')[0]
        status, headers, _ = get(f"{base}/static/admin/css/base.{css}")
        assert status == 200 and "immutable" in headers["Cache-Control"]  # WhiteNoise, hashed name
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_redis_url_gives_a_working_shared_cache(tmp_path):
    env = production_env(tmp_path)
    env.update(DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/14")
    script = (
        "from django.core.cache import cache; import uuid; key = uuid.uuid4().hex; "
        "cache.set(key, 'shared', 30); print(cache.get(key)); "
        "from django_q.brokers import get_broker; print(type(get_broker()).__name__)"
    )
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["shared", "Redis"]
