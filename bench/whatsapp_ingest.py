"""Benchmark: the signed WhatsApp ingest against gunicorn, next to the stack's ceiling.

    .venv/bin/python bench/whatsapp_ingest.py [--seconds 20] [--clients 8] [--batch 10] [--workers 4]
                                             [--postgres [URL] | --sqlite]

Starts a real gunicorn (--workers sync workers, 127.0.0.1, a free port) on a throwaway database
(PostgreSQL by default: a database made on the server of URL, default BENCH_POSTGRES_URL or
postgres://postgres@127.0.0.1:5432/postgres, dropped at the end; --sqlite: a file in a temporary
folder), then for --seconds each, from --clients concurrent clients (threads in two client
processes, so that the client side is not one interpreter's lock):

1. the ceiling: ``GET /api/whoami`` with an API token, the cheapest authenticated DRF answer;
2. ``POST /integrations/whatsapp/ingest``: batches of --batch messages, each message new (a run
   id and a counter in its text, so nothing is deduped), signed (``X-Ingest-Token``,
   ``X-Signature`` over ``timestamp + "." + body``, ``X-Signature-Timestamp``), over a few
   chats; the rate limit is raised out of the way.

Prints requests/s, p50/p95/max latency and errors of each, and the ingest's share of the
ceiling's throughput. Targets (issue 11): at least 150 batches/s with p95 under 100 ms, and the
ingest at least 40% of the ceiling's throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402

INGEST_TOKEN = "bench-ingest-token-" + "t" * 20
HMAC_SECRET = "bench-hmac-secret-" + "s" * 20
CHATS = ("Bench Phones", "Bench Wholesale", "Bench Tablets", "Bench Consoles")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def signed_batch(client_id: str, run: str, start: int, size: int) -> tuple[bytes, dict[str, str]]:
    """One batch of ``size`` new messages and its headers, signed as a collector signs it."""
    messages = [
        {"chat_title": CHATS[(start + i) % len(CHATS)], "sender": f"Vendor {(start + i) % 7}",
         "message_id": f"{run}-{start + i}", "text": f"iPhone 15 Pro 256GB ${700 + (start + i) % 300} ({run} #{start + i})"}
        for i in range(size)
    ]
    body = json.dumps({"client_id": client_id, "messages": messages}).encode()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = hmac.new(HMAC_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Ingest-Token": INGEST_TOKEN,
                  "X-Signature": signature, "X-Signature-Timestamp": stamp}


def _client_process(kind: str, url: str, api_key: str, threads: int, seconds: float, batch: int,
                    number: int, out) -> None:
    """In a client process: ``threads`` threads sending requests one after another for ``seconds``;
    puts ``(latencies, errors)`` on ``out``."""
    parsed = urllib.parse.urlsplit(url)
    run = secrets.token_hex(4)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(thread: int) -> None:
        count = 0
        mine: list[float] = []
        failed: list[str] = []
        while time.monotonic() < deadline:
            if kind == "ingest":
                body, headers = signed_batch(f"bench-{number}-{thread}", f"{run}-{number}-{thread}", count * batch, batch)
                method, path = "POST", "/integrations/whatsapp/ingest"
            else:
                body, headers = None, {"Authorization": f"Token {api_key}"}
                method, path = "GET", "/api/whoami"
            count += 1
            start = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                connection.close()
                if response.status != 200 or (kind == "ingest" and json.loads(payload)["created"] != batch):
                    failed.append(f"{response.status} {payload[:200]!r}")
            except OSError as exc:
                failed.append(f"{exc.__class__.__name__}: {exc}")
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    out.put((latencies, errors[:20], len(errors)))


def load(kind: str, url: str, api_key: str, *, clients: int, seconds: float, batch: int) -> dict:
    """Run ``kind`` ("ceiling" or "ingest") from ``clients`` threads over two processes."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    split = [clients // 2 + clients % 2, clients // 2]
    processes = [context.Process(target=_client_process, args=(kind, url, api_key, n, seconds, batch, i, out))
                 for i, n in enumerate(split) if n]
    start = time.perf_counter()
    for process in processes:
        process.start()
    latencies, samples, failures = [], [], 0
    for _ in processes:
        mine, some, count = out.get()
        latencies += mine
        samples += some
        failures += count
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "per_second": len(latencies) / elapsed, "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95), "max": max(latencies, default=float("nan")),
            "errors": failures, "error_samples": samples[:5]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", nargs="?", const=os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"), default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    where.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pricehub-bench-whatsapp-"))
    if args.sqlite:
        database = servers.LiveDatabase("sqlite", str(folder / "bench.sqlite3"))
    else:
        database = servers.LiveDatabase.unique_postgres(args.postgres, "pricehub_bench_whatsapp")
    database.create()
    try:
        storage = folder / "storage"
        storage.mkdir()
        database.migrate(storage)
        env = servers.live_env(
            database, storage, API_RATE_LIMIT_PER_MINUTE="100000000", WHATSAPP_INGEST_TOKEN=INGEST_TOKEN,
            WHATSAPP_INGEST_HMAC_SECRET=HMAC_SECRET, WHATSAPP_INGEST_RATE_LIMIT_PER_MINUTE="100000000",
            WHATSAPP_INGEST_RATE_LIMIT_BURST="100000000",
        )
        api_key = _api_key(env)
        with servers.start_gunicorn(env, log_dir=folder, workers=args.workers, lifetime=3600) as web:
            load("ceiling", web.url, api_key, clients=args.clients, seconds=2, batch=args.batch)  # warm up
            load("ingest", web.url, api_key, clients=args.clients, seconds=2, batch=args.batch)
            results = {kind: load(kind, web.url, api_key, clients=args.clients, seconds=args.seconds, batch=args.batch)
                       for kind in ("ceiling", "ingest")}
        print(f"gunicorn {args.workers} sync workers on {database.kind}, {args.clients} clients, {args.seconds:.0f} s each")
        for kind, label in (("ceiling", "GET /api/whoami (ceiling)"),
                            ("ingest", f"POST ingest, {args.batch} messages a batch")):
            r = results[kind]
            print(f"  {label:<34} {r['per_second']:7.1f} req/s  p50 {r['p50'] * 1000:6.1f} ms  "
                  f"p95 {r['p95'] * 1000:6.1f} ms  max {r['max'] * 1000:7.1f} ms  errors {r['errors']}")
            for sample in r["error_samples"]:
                print(f"    e.g. {sample}")
        share = results["ingest"]["per_second"] / results["ceiling"]["per_second"]
        ingest = results["ingest"]
        print(f"  ingest: {ingest['per_second'] * args.batch:,.0f} messages/s; {share:.0%} of the ceiling's throughput "
              f"(targets: >= 150 batches/s, p95 < 100 ms, >= 40%)")
        return 0 if not ingest["errors"] else 1
    finally:
        database.drop()


def _api_key(env: dict[str, str]) -> str:
    """A read token of a new user ``bench``, made with the project's own command."""
    code = ("from django.contrib.auth import get_user_model; "
            "get_user_model().objects.create_user('bench', password=None)")
    servers.manage(["shell", "-c", code], env)
    return servers.manage(["create_api_token", "bench", "--scope", "read", "--name", "bench"], env).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
