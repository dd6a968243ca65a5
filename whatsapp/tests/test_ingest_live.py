"""The ingest against a real gunicorn with two workers on 127.0.0.1 (on the suite's engine: a SQLite
file, or PostgreSQL): the playbook's smoke test (section 7.5) run with curl, one collector's bucket
shared by both workers (database, and Redis when one answers), and the same batch posted at once
from several clients."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from tests import servers
from tests.conftest import live, live_template  # noqa: F401 - the live database fixtures
from whatsapp.tests.test_auth import iso, signature

pytestmark = pytest.mark.slow

TOKEN = "test-token"
SECRET = "super-secret"
PATH = "/integrations/whatsapp/ingest"

# The playbook's section 7.5, as written there; only the URL's host and port are replaced.
PLAYBOOK_SMOKE_TEST = r"""SECRET="super-secret"
TOKEN="test-token"
BODY='{"client_id":"smoke","messages":[{"chat_title":"Smoke Chat","text":"Pixel 8 Pro - $750"}]}'
TS=$(date -u +"%Y-%m-%dT%H:%M:%SZ")
SIG=$(python - <<'PY'
import hashlib, hmac, os
secret = os.getenv("SECRET")
ts = os.getenv("TS")
body = os.getenv("BODY").encode("utf-8")
message = ts.encode("utf-8") + b"." + body
print(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest())
PY
)
curl -X POST http://localhost:8000/integrations/whatsapp/ingest   -H "Content-Type: application/json"   -H "X-Ingest-Token: $TOKEN"   -H "X-Signature: $SIG"   -H "X-Signature-Timestamp: $TS"   -d "$BODY"
"""


def server_env(live, **overrides) -> dict:
    return live.env(WHATSAPP_INGEST_TOKEN=TOKEN, WHATSAPP_INGEST_HMAC_SECRET=SECRET, **overrides)


def signed_post(client: servers.Client, body: bytes) -> servers.Response:
    stamp = iso(time.time())
    return client.request("POST", PATH, data=body, content_type="application/json", headers={
        "X-Ingest-Token": TOKEN, "X-Signature": signature(body, stamp, SECRET), "X-Signature-Timestamp": stamp,
    })


def at_once(count: int, action) -> list:
    """``action()`` from ``count`` threads released together; the results in thread order."""
    results: list = [None] * count
    start = threading.Barrier(count)

    def run(position: int):
        start.wait()
        results[position] = action()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_playbook_smoke_test_with_curl_creates_one_message(live):
    from whatsapp.models import Chat, Message

    web = servers.start_gunicorn(server_env(live), log_dir=live.logs, workers=2, lifetime=120)
    try:
        script = PLAYBOOK_SMOKE_TEST.replace("http://localhost:8000", web.url)
        assert script.count(web.url) == 1
        # The block assigns SECRET, TS and BODY without exporting them, yet its Python reads them from
        # the environment: run as is, in a shell that exports what it assigns (bash -a), as an
        # operator's shell with those variables already exported would.
        env = {**os.environ, "PATH": f"{servers.ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        result = subprocess.run(["bash", "-a", "-c", script], env=env, capture_output=True, text=True, timeout=60)
        answer = json.loads(result.stdout)
        assert answer["created"] == 1 and answer["accepted"] == 1, (result.stdout, result.stderr, web.log()[-3000:])
        assert len(answer["request_id"]) == 32
        assert answer["chats"][0]["chat_title"] == "Smoke Chat" and answer["chats"][0]["created"] is True
        message = Message.objects.get()
        assert (message.text, message.client_id) == ("Pixel 8 Pro - $750", "smoke")
        assert Chat.objects.get().title == "Smoke Chat"
        # Run again within the TTL: the same message is deduped, nothing new is stored.
        again = subprocess.run(["bash", "-a", "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert json.loads(again.stdout)["deduped"] == 1 and Message.objects.count() == 1
    finally:
        web.stop()


@pytest.mark.parametrize("store", ["database", "redis"])
def test_one_collectors_bucket_is_shared_by_both_workers(live, store):
    from whatsapp import counters

    extra = {}
    if store == "redis":
        if not servers.redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379")
        extra["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    env = server_env(live, WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE="1", WHATSAPP_INGEST_RATE_LIMIT_BURST="5", **extra)
    web = servers.start_gunicorn(env, log_dir=live.logs, workers=2, lifetime=120)
    try:
        collector = f"bucket-{store}-{time.time_ns()}"
        bodies = [json.dumps({"client_id": collector, "messages": [{"chat_title": "Deals", "text": f"m{i}"}]}).encode()
                  for i in range(14)]
        position = iter(range(14))
        lock = threading.Lock()

        def one():
            with lock:
                body = bodies[next(position)]
            return signed_post(servers.Client(web.url), body)

        responses = at_once(14, one)
        statuses = sorted(response.status for response in responses)
        # Five tokens in the bucket, one more a minute: five batches pass whichever worker serves
        # them; per-process buckets would have let up to ten through.
        assert statuses == [200] * 5 + [429] * 9, [(r.status, r.body[:200]) for r in responses]
        for response in responses:
            if response.status == 429:
                assert response.json()["detail"] == "ingest rate limit exceeded"
                assert response.headers["Retry-After"].isdigit() and 50 <= int(response.headers["Retry-After"]) <= 60
        assert counters.totals()["rate_limited"] == 9
        pids = set(servers.descendants(web.pid))
        assert len(pids) >= 2  # the two workers
    finally:
        web.stop()


def test_the_same_batch_posted_at_once_to_both_workers_is_stored_once(live):
    from whatsapp import counters
    from whatsapp.models import Message

    web = servers.start_gunicorn(server_env(live), log_dir=live.logs, workers=2, lifetime=120)
    try:
        body = json.dumps({"client_id": "race", "messages": [
            {"chat_title": "Deals", "text": f"offer {i} ${100 + i}", "sender": "Ana"} for i in range(10)]}).encode()
        responses = at_once(6, lambda: signed_post(servers.Client(web.url), body))
        assert [response.status for response in responses] == [200] * 6, [r.body[:300] for r in responses]
        answers = [response.json() for response in responses]
        assert sum(answer["created"] for answer in answers) == 10
        assert sum(answer["deduped"] for answer in answers) == 50
        assert Message.objects.count() == 10
        totals = counters.totals()
        assert (totals["accepted"], totals["created"], totals["deduped"]) == (60, 10, 50)
    finally:
        web.stop()
