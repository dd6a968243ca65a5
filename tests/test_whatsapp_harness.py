"""scripts/whatsapp_harness.py, run as the outside client it is (a subprocess), against stub servers
on 127.0.0.1 that speak the ingest and diagnostics wire formats (docs/whatsapp-ingest.md and the
diagnostics JSON of issue 12): its exit codes 0/1/2/3, its single ALERT line, the signature the stub
checks, the report; and one slow test of ``smoke`` against a real gunicorn and qcluster.

The stub is a stdlib ``http.server`` in a thread; it checks the token and (when it has a secret) the
HMAC signature the way the server does, stores messages deduped by content, and simulates
extraction: ``instant`` (every stored message extracted when diagnostics are read), ``never``, or
``half``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "scripts" / "whatsapp_harness.py"
TOKEN = "harness-token"
SECRET = "harness-secret"


def load_harness():
    """The harness as a module (it is a script, not a package member)."""
    spec = importlib.util.spec_from_file_location("whatsapp_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = load_harness()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Stub:
    """The state of a stub PriceHub: chats, messages, counters, what it was sent."""

    def __init__(self, *, secret: str | None = SECRET, extraction: str = "instant", delay: float = 0.0,
                 refuse_first: int = 0, diagnostics_status: int = 200, diagnostics_payload=None):
        self.secret = secret
        self.extraction = extraction
        self.delay = delay
        self.refuse_first = refuse_first  # answer 429 (Retry-After: 0) to this many ingest requests first
        self.diagnostics_status = diagnostics_status
        self.diagnostics_payload = diagnostics_payload  # answered as is (200) when given
        self.lock = threading.Lock()
        self.chats: dict[tuple[str, str], dict] = {}
        self.hashes: set[str] = set()
        self.totals = {name: 0 for name in harness.COUNTERS}
        self.requests: list[dict] = []  # every ingest request: headers, body, signature verdict, status
        self.diagnostics_reads: list[dict] = []

    # -- ingest
    def ingest(self, headers, body: bytes) -> tuple[int, dict, dict]:
        request_id = uuid.uuid4().hex
        seen = {"headers": dict(headers), "body": body, "signature_ok": None}
        with self.lock:
            self.requests.append(seen)
            if headers.get("X-Ingest-Token") != TOKEN:
                self.totals["auth_failures"] += 1
                seen["status"] = 401
                return 401, {"detail": "invalid ingest token", "request_id": request_id}, {}
            if self.secret is not None:
                stamp, signature = headers.get("X-Signature-Timestamp", ""), headers.get("X-Signature", "")
                expected = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                try:
                    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
                    fresh = abs(time.time() - moment) <= 300
                except ValueError:
                    fresh = False
                seen["signature_ok"] = fresh and hmac.compare_digest(expected, signature)
                if not seen["signature_ok"]:
                    self.totals["forbidden"] += 1
                    self.totals["signature_failures"] += 1
                    seen["status"] = 403
                    return 403, {"detail": "invalid signature", "request_id": request_id}, {}
            if self.refuse_first > 0:
                self.refuse_first -= 1
                self.totals["rate_limited"] += 1
                seen["status"] = 429
                return 429, {"detail": "ingest rate limit exceeded", "request_id": request_id}, {"Retry-After": "0"}
            batch = json.loads(body)
            client = batch["client_id"]
            answer = {"request_id": request_id, "accepted": 0, "created": 0, "edited": 0, "deduped": 0,
                      "skipped": 0, "chats": [], "errors": []}
            for message in batch["messages"]:
                key = (client, message["chat_title"])
                chat = self.chats.get(key)
                if chat is None:
                    chat = self.chats[key] = {"chat_id": len(self.chats) + 1, "chat_title": message["chat_title"],
                                              "messages": 0, "pending": 0, "extracted": 0, "offers": 0, "errors": 0,
                                              "last_extracted_at": None}
                    answer["chats"].append({"chat_id": chat["chat_id"], "chat_title": chat["chat_title"],
                                            "created": True})
                digest = hashlib.sha256(f"{chat['chat_id']}|{message['text']}".encode()).hexdigest()
                answer["accepted"] += 1
                if digest in self.hashes:
                    answer["deduped"] += 1
                    continue
                self.hashes.add(digest)
                answer["created"] += 1
                chat["messages"] += 1
                chat["pending"] += 1
            for name in ("accepted", "created", "deduped"):
                self.totals[name] += answer[name]
            self.totals["messages"] += answer["created"]
            seen["status"] = 200
        if self.delay:
            time.sleep(self.delay)
        return 200, answer, {}

    # -- diagnostics
    def diagnostics(self, headers) -> tuple[int, dict]:
        with self.lock:
            self.diagnostics_reads.append(dict(headers))
            if headers.get("X-Ingest-Token") != TOKEN:
                return 401, {"detail": "authentication required"}
            if self.diagnostics_status != 200:
                return self.diagnostics_status, {"detail": "not implemented yet"}
            if self.diagnostics_payload is not None:
                return 200, self.diagnostics_payload
            for chat in self.chats.values():
                if self.extraction == "instant":
                    todo = chat["pending"]
                elif self.extraction == "half":
                    todo = max(0, chat["messages"] // 2 - chat["extracted"])
                else:  # "never"; "elsewhere": other chats' messages are extracted, not the harness's
                    todo = 0
                if todo > 0:
                    chat["pending"] -= todo
                    chat["extracted"] += todo
                    chat["offers"] += todo
                    chat["last_extracted_at"] = now_iso()
                    self.totals["extracted"] += todo
                    self.totals["offers"] += todo
            if self.extraction == "elsewhere":
                self.totals["extracted"] += 1
            self.totals["pending"] = sum(chat["pending"] for chat in self.chats.values())
            return 200, {
                "generated_at": now_iso(),
                "totals": {**self.totals, "chats": len(self.chats), "unmapped_chats": len(self.chats)},
                "lag_seconds": {"p50": 0.5, "p95": 0.9, "max": 1.0, "samples": self.totals["extracted"]},
                "chats": [{**chat, "vendor": None, "mapped": False, "extract_due_at": None, "lag_seconds": 0.5}
                          for chat in self.chats.values()],
            }


def serve(stub: Stub):
    """Start a stub server on 127.0.0.1; returns (server, base URL). Stop with ``server.shutdown()``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, payload, extra=None):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/integrations/whatsapp/ingest":
                return self.send(404, {"detail": "not found"})
            status, payload, extra = stub.ingest(self.headers, body)
            self.send(status, payload, extra)

        def do_GET(self):
            if self.path != "/chat/tools/diagnostics":
                return self.send(404, {"detail": "not found"})
            self.send(*stub.diagnostics(self.headers))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def stub_server():
    """``start(**stub options)`` -> (stub, base URL); every server started is shut down after the test."""
    started = []

    def start(**options):
        stub = Stub(**options)
        server, base = serve(stub)
        started.append(server)
        return stub, base

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def run(command: str, base: str, *args: str, env_secret: str | None = None, timeout: float = 60):
    """Run the harness as a subprocess against ``base``; returns the CompletedProcess."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    if env_secret is not None:
        env["WHATSAPP_INGEST_HMAC_SECRET"] = env_secret
    argv = [sys.executable, str(HARNESS), command, "--url", f"{base}/integrations/whatsapp/ingest",
            "--token", TOKEN, "--diagnostics-url", f"{base}/chat/tools/diagnostics", "--poll-interval", "0.1",
            *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def alerts(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ALERT")]


# --------------------------------------------------------------------------- helpers


def test_signature_matches_the_ingest_docs_test_vector():
    body = b'{"messages":[{"id":"m1","text":"hi"}]}'
    assert harness.sign("test_secret_0123456789", "1700000000", body) == (
        "594a67a9ae912bc141e5e2a810ba11e08adb58b7efc6fcd2db4ebe1085aa4092")


def test_headers_unsigned_without_a_secret_and_signed_with_one():
    body = b'{"client_id":"x","messages":[]}'
    assert "X-Signature" not in harness.ingest_headers(TOKEN, None, body)
    assert "X-Signature" not in harness.ingest_headers(TOKEN, "", body)
    headers = harness.ingest_headers(TOKEN, SECRET, body, now=1796040000)
    assert headers["X-Signature-Timestamp"] == "2026-11-30T12:00:00Z"
    assert headers["X-Signature"] == harness.sign(SECRET, "2026-11-30T12:00:00Z", body)
    assert headers["X-Ingest-Token"] == TOKEN


def test_letters_percentile_and_iso_parsing():
    assert [harness.letters(n) for n in (0, 25, 26, 27, 701)] == ["a", "z", "ba", "bb", "baz"]
    assert harness.percentile([], 95) is None
    assert harness.percentile([1, 2, 3, 4, 5], 50) == 3
    assert harness.percentile([10, 20], 95) == pytest.approx(19.5)
    assert harness.parse_iso("2026-11-30T12:00:00Z") == 1796040000
    assert harness.parse_iso("2026-11-30T12:00:00.1234Z") == pytest.approx(1796040000.1234)
    assert harness.parse_iso("2026-11-30T09:00:00-03:00") == 1796040000
    assert harness.parse_iso(None) is None and harness.parse_iso("yesterday") is None


def test_batches_are_unique_per_run_and_the_run_id_has_no_digit():
    import random

    run_id = harness.new_run_id()
    assert run_id.isalpha() and run_id.islower()
    one = harness.load_batch(run_id, 3, 30, client_id="c", rng=random.Random(1))
    texts = [m["text"] for m in one["messages"]]
    assert len(set(texts)) == 30 and all(run_id in t for t in texts)
    assert {m["chat_title"] for m in one["messages"]} == {f"Harness {run_id} batch d"}
    other = harness.load_batch(harness.new_run_id(), 3, 30, client_id="c", rng=random.Random(1))
    assert not set(texts) & {m["text"] for m in other["messages"]}
    for text in texts:  # the offer is the first line; the second has no digit for the extractor to misread
        first, second = text.split("\n")
        assert " - $" in first and not any(ch.isdigit() for ch in second)
    smoke = harness.smoke_batch(run_id, "smoke", "Smoke Chat")["messages"][0]
    assert smoke["text"] == f"Pixel 8 Pro - $750\nharness run {run_id}" and smoke["chat_title"] == "Smoke Chat"


def test_the_offer_lines_parse_as_offers_with_the_project_extractor():
    """The harness imports nothing from PriceHub; this test checks its texts against the real extractor."""
    import random

    from ingestion.text_offers import extract_offers

    batch = harness.load_batch(harness.new_run_id(), 0, len(harness.MODELS), client_id="c", rng=random.Random(2))
    messages = batch["messages"] + harness.smoke_batch(harness.new_run_id(), "smoke", "Smoke Chat")["messages"]
    for message in messages:
        offers = list(extract_offers(message["text"]))
        assert len(offers) == 1, message["text"]
        assert "harness" not in offers[0].description and "run" not in offers[0].description


# --------------------------------------------------------------------------- smoke


def test_smoke_exit_0_signed_and_report(stub_server, tmp_path):
    stub, base = stub_server()
    report_path = tmp_path / "deep" / "smoke.json"
    result = run("smoke", base, "--secret", SECRET, "--expect-created", "1", "--expect-extracted", "1",
                 "--report-file", str(report_path))
    assert result.returncode == 0, result.stderr
    assert alerts(result) == [] and "Traceback" not in result.stderr
    [posted] = stub.requests
    assert posted["signature_ok"] is True and posted["status"] == 200
    body = json.loads(posted["body"])
    report = json.loads(report_path.read_text())
    assert body["messages"][0]["text"] == f"Pixel 8 Pro - $750\nharness run {report['run_id']}"
    assert report["verdict"] == "ok" and report["exit_code"] == 0 and report["alert"] is None
    assert report["requests"][0]["status"] == 200 and len(report["requests"][0]["request_id"]) == 32
    assert report["diagnostics"]["before"]["created"] == 0
    assert report["diagnostics_delta"]["created"] == 1 and report["diagnostics_delta"]["extracted"] == 1
    assert report["target"]["signed"] is True
    assert SECRET not in report_path.read_text() and TOKEN not in report_path.read_text()
    # diagnostics were read with the ingest token
    assert all(read.get("X-Ingest-Token") == TOKEN for read in stub.diagnostics_reads)
    # a second run is new messages, not duplicates
    again = run("smoke", base, "--secret", SECRET)
    assert again.returncode == 0, again.stderr
    assert stub.totals["created"] == 2 and stub.totals["deduped"] == 0


def test_smoke_secret_from_the_environment(stub_server):
    stub, base = stub_server()
    result = run("smoke", base, env_secret=SECRET)
    assert result.returncode == 0, result.stderr
    assert stub.requests[0]["signature_ok"] is True


def test_smoke_without_a_secret_sends_no_signature_headers(stub_server):
    stub, base = stub_server(secret=None)
    result = run("smoke", base)
    assert result.returncode == 0, result.stderr
    headers = stub.requests[0]["headers"]
    assert "X-Signature" not in headers and "X-Signature-Timestamp" not in headers


def test_smoke_exit_2_when_nothing_is_extracted(stub_server, tmp_path):
    stub, base = stub_server(extraction="never")
    report_path = tmp_path / "smoke.json"
    result = run("smoke", base, "--secret", SECRET, "--timeout", "1.5", "--report-file", str(report_path))
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "totals.extracted by 0 (expected >= 1)" in alert and str(report_path) in alert
    assert "Traceback" not in result.stderr
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "expectation_failed" and report["alert"] == alert
    assert report["diagnostics"]["polls"] >= 2


def test_smoke_exit_2_when_other_traffic_moves_the_totals_but_its_own_message_stays_pending(stub_server):
    stub, base = stub_server(extraction="elsewhere")
    result = run("smoke", base, "--secret", SECRET, "--timeout", "1.5")
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "the smoke chat still has pending messages" in alert


def test_smoke_exit_2_on_a_wrong_secret_names_the_refusal(stub_server):
    stub, base = stub_server()
    result = run("smoke", base, "--secret", "not-the-secret", "--timeout", "1")
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "ingest failed: HTTP 403 invalid signature" in alert
    assert stub.requests[0]["signature_ok"] is False


def test_smoke_exit_2_when_diagnostics_are_not_there(stub_server):
    _, base = stub_server(diagnostics_status=501)
    result = run("smoke", base, "--secret", SECRET)
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "diagnostics HTTP 501 not implemented yet" in alert


def test_smoke_exit_2_when_diagnostics_answer_another_shape(stub_server):
    _, base = stub_server(diagnostics_payload=["not", "the", "diagnostics"])
    result = run("smoke", base, "--secret", SECRET)
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "diagnostics answered 200 without a JSON object holding 'totals'" in alert


def test_network_errors_are_an_alert_not_a_traceback():
    result = run("smoke", "http://127.0.0.1:9", "--timeout", "0.5")  # the discard port: nothing listens
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "cannot reach" in alert and "Traceback" not in result.stderr


def test_usage_errors_exit_1_with_an_alert():
    result = subprocess.run([sys.executable, str(HARNESS), "smoke", "--url", "http://x/"], capture_output=True,
                            text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and len(alerts(result)) == 1
    result = run("load", "http://127.0.0.1:9", "--count", "0")
    assert result.returncode == 1 and "usage error" in alerts(result)[0]


# --------------------------------------------------------------------------- load


def test_load_exit_0_figures_and_report(stub_server, tmp_path):
    stub, base = stub_server()
    report_path = tmp_path / "load.json"
    result = run("load", base, "--secret", SECRET, "--count", "6", "--batch-size", "5", "--concurrency", "3",
                 "--report-file", str(report_path))
    assert result.returncode == 0, result.stderr
    assert all(r["signature_ok"] for r in stub.requests)
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "ok"
    assert report["ingest"]["batches_ok"] == 6 and report["ingest"]["created"] == 30
    assert report["ingest"]["statuses"] == {"200": 6}
    assert report["latency_ms"]["samples"] == 6 and report["latency_ms"]["p95"] >= report["latency_ms"]["p50"]
    assert report["ratios"]["dedupe_ratio"] == 0 and report["ratios"]["skipped_ratio"] == 0
    assert report["ratios"]["extracted_ratio"] == 1 and report["ratios"]["source"].startswith("per chat")
    assert report["ingest_to_offer_seconds"]["samples"] == 6
    assert report["ingest_to_offer_seconds"]["server_lag_seconds"]["p95"] == 0.9
    # one chat per batch, clients harness-load-0..2
    assert len(stub.chats) == 6
    assert {client for client, _ in stub.chats} == {"harness-load-0", "harness-load-1", "harness-load-2"}
    assert len({r["chat_title"] for r in report["requests"]}) == 6
    # a second run is not deduplicated against the first
    again = run("load", base, "--secret", SECRET, "--count", "6", "--batch-size", "5", "--concurrency", "3")
    assert again.returncode == 0, again.stderr
    assert stub.totals["created"] == 60 and stub.totals["deduped"] == 0


def test_load_honours_429_retry_after_and_counts_them(stub_server, tmp_path):
    stub, base = stub_server(refuse_first=3)
    report_path = tmp_path / "load.json"
    result = run("load", base, "--secret", SECRET, "--count", "4", "--batch-size", "2", "--concurrency", "1",
                 "--report-file", str(report_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["ingest"]["statuses"] == {"200": 4, "429": 3} and report["ingest"]["rate_limited"] == 3
    assert report["requests"][0]["attempts"][0]["status"] == 429
    assert report["requests"][0]["attempts"][0]["retry_after"] == 0
    assert stub.totals["created"] == 8


def test_load_exit_3_when_429s_outlast_the_retries(stub_server):
    _, base = stub_server(refuse_first=2)
    result = run("load", base, "--secret", SECRET, "--count", "3", "--batch-size", "2", "--concurrency", "1",
                 "--max-retries", "0")
    assert result.returncode == 3, result.stderr
    [alert] = alerts(result)
    assert "failed batch ratio" in alert and "429" in alert


def test_load_exit_3_on_latency_and_extraction_breaches(stub_server, tmp_path):
    _, base = stub_server(extraction="half", delay=0.05)
    report_path = tmp_path / "load.json"
    result = run("load", base, "--secret", SECRET, "--count", "4", "--batch-size", "4", "--concurrency", "2",
                 "--slo-p95-ms", "1", "--timeout", "1.5", "--report-file", str(report_path))
    assert result.returncode == 3, result.stderr
    [alert] = alerts(result)
    assert "SLO breach" in alert and "p95 request latency" in alert and "extracted ratio 0.5 < 0.95" in alert
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "slo_breach" and len(report["slo"]["breaches"]) == 2
    assert report["slo"]["thresholds"] == {"p95_ms": 1.0, "max_skipped_ratio": 0.01, "min_extracted_ratio": 0.95,
                                           "max_failed_ratio": 0.0}


def test_load_exit_2_when_the_diagnostics_expectation_fails(stub_server):
    _, base = stub_server(extraction="never")
    result = run("load", base, "--secret", SECRET, "--count", "2", "--batch-size", "2", "--timeout", "1")
    assert result.returncode == 2  # an expectation failure wins over the SLO breach it comes with
    [alert] = alerts(result)
    assert "totals.extracted by 0 (expected >= 1)" in alert and "extracted ratio 0 < 0.95" in alert


def test_load_exit_2_when_every_request_is_refused(stub_server):
    _, base = stub_server()
    result = run("load", base, "--secret", "not-the-secret", "--count", "3", "--batch-size", "1")
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "every ingest request failed: HTTP 403 invalid signature" in alert


def test_diagnostics_refusing_the_token_is_exit_2(stub_server):
    """Diagnostics refuse the token: the baseline cannot be read, nothing is posted."""
    stub, base = stub_server()
    result = subprocess.run(
        [sys.executable, str(HARNESS), "load", "--url", f"{base}/integrations/whatsapp/ingest", "--token", "wrong",
         "--diagnostics-url", f"{base}/chat/tools/diagnostics"],
        capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    [alert] = alerts(result)
    assert "cannot read the diagnostics baseline: diagnostics HTTP 401 authentication required" in alert
    assert stub.requests == []


# --------------------------------------------------------------------------- live (slow)


@pytest.mark.slow
def test_smoke_against_gunicorn_and_qcluster(live, tmp_path):
    """The playbook's ``smoke`` command line against a real gunicorn (two workers) and a django-q2
    cluster on 127.0.0.1, extraction debounced 1 s: the message is stored, extracted into an offer,
    and the harness sees both counters move (exit 0)."""
    from tests import servers
    from whatsapp.models import Message

    env = live.env(WHATSAPP_INGEST_TOKEN=TOKEN, WHATSAPP_INGEST_HMAC_SECRET=SECRET,
                   WHATSAPP_EXTRACT_DEBOUNCE_SECONDS="1")
    report_path = tmp_path / "tmp" / "smoke.json"
    with servers.start_gunicorn(env, log_dir=live.logs, lifetime=240) as web, \
            servers.start_qcluster(env, log_dir=live.logs, lifetime=240) as cluster:
        result = subprocess.run(
            [sys.executable, str(HARNESS), "smoke", "--url", f"{web.url}/integrations/whatsapp/ingest",
             "--token", TOKEN, "--diagnostics-url", f"{web.url}/chat/tools/diagnostics", "--expect-created", "1",
             "--expect-extracted", "1", "--timeout", "90", "--report-file", str(report_path)],
            capture_output=True, text=True, timeout=150, cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "WHATSAPP_INGEST_HMAC_SECRET": SECRET})
        logs = f"\n--- gunicorn\n{web.log()[-3000:]}\n--- qcluster\n{cluster.log()[-3000:]}"
    assert result.returncode == 0, result.stdout + result.stderr + logs
    assert alerts(result) == []
    report = json.loads(report_path.read_text())
    assert report["diagnostics_delta"]["created"] >= 1 and report["diagnostics_delta"]["extracted"] >= 1
    message = Message.objects.get(text__contains=report["run_id"])
    assert message.extraction_state == "extracted"
    assert message.chat.title == "Smoke Chat"
