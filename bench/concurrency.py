"""Benchmark: ingests, admin and API writes and API reads at the same time, on SQLite or PostgreSQL.

    .venv/bin/python bench/concurrency.py [--rows 600000] [--ingests 1|2] [--api-writes 100] [--postgres [URL]]
                                          [--redis URL] [--no-worker]

On a fresh database (a SQLite file in a temporary folder, or with --postgres a throwaway
database on the server of URL, default BENCH_POSTGRES_URL or
postgres://postgres@127.0.0.1:5432/postgres, dropped at the end), migrated, this runs at once:

- two (--ingests 1: one) `manage.py ingest` runs of generated CSV price lists of --rows rows each;
- a real gunicorn (2 workers, 127.0.0.1, a free port) serving, once an ingest is processing,
  an operator's admin login and admin upload, and --api-writes `POST /documents` (each a small
  list of its own) from a script with a write token;
- `GET /offers` (newest first) in a loop from a read token until both ingests have ended (a
  1,000-row list ingested before the clock starts gives it visible offers older than the run's),
  each followed by a `GET /healthz` (no database: what the machine's load alone costs);
- a django-q2 cluster (2 workers) that ingests the uploads (--no-worker leaves it out: they stay
  queued);

and prints each operation's outcome and latency, the API reads' p50/p95/max while a large ingest
runs (also split: while the API writes ran, each adding visible offers newer than the ingests'
rows, and after; and by quarter of the ingests: a newest-first page steps over the running
documents' hidden rows), and whether a reader ever saw part of a document being ingested (its
offers must appear all at once). Targets (issue 9): every operation succeeds; API p95 under 100 ms on SQLite.
Everything it starts stops by itself (at the end, on Ctrl+C, or when this process dies).
The API's rate limit is raised for the run (API_RATE_LIMIT_PER_MINUTE) so the read loop is not
throttled; SQLite's busy timeout is the settings' own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402

PASSWORD = "bench-operator-pw-123"
TERMINAL = ("succeeded", "partial", "failed")


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, aligned."""
    return f"{seconds * 1000:8.1f} ms"


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, on the bench's database (to create the users and check the results)."""
    for key in ("DATABASE_URL", "SQLITE_PATH"):
        os.environ.pop(key, None)
    os.environ.update(env)
    import django

    django.setup()


def close_db() -> None:
    """Close this process's connections (it must hold no lock or snapshot between its looks)."""
    from django.db import connections

    connections.close_all()


def make_users() -> tuple[str, str]:
    """An operator (superuser) and their write and read API tokens."""
    from django.contrib.auth import get_user_model

    from pricehub.tokens import issue_token

    user = get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)
    _, write_key = issue_token(user, name="bench writes", scope="write")
    _, read_key = issue_token(user, name="bench reads", scope="read")
    close_db()
    return write_key, read_key


def document_state(filename: str) -> tuple[int, str, int] | None:
    """(id, status, visible offers) of the newest document of ``filename``."""
    from documents.models import SourceDocument
    from offers.models import Offer

    document = SourceDocument.objects.filter(original_filename=filename).order_by("-id").first()
    if document is None:
        return None
    status = document.status
    visible = Offer.objects.filter(source_document_id=document.pk).count()
    after = SourceDocument.objects.filter(pk=document.pk).values_list("status", flat=True).first()
    return document.pk, status if status == after else f"{status}->{after}", visible


def main() -> int:
    """Set up, run everything at once, print the figures; 1 when an operation failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=600_000, help="rows in each of the large lists")
    parser.add_argument("--ingests", type=int, default=2, choices=[1, 2], help="large lists ingested at once")
    parser.add_argument("--api-writes", type=int, default=100, help="POST /documents during the ingests")
    parser.add_argument("--postgres", nargs="?", const=os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"), default="", metavar="URL",
        help="run on a throwaway database on this PostgreSQL server instead of SQLite")
    parser.add_argument("--redis", default="", metavar="URL",
                        help="REDIS_URL for the run (the cache, so the API's rate-limit counters, and the task "
                             "broker move to Redis), e.g. redis://127.0.0.1:6379/13")
    parser.add_argument("--no-worker", action="store_true", help="no django-q2 cluster: uploads stay queued")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pricehub-bench-concurrency-"))
    logs = folder / "logs"
    logs.mkdir()
    storage = folder / "storage"
    storage.mkdir()
    if args.postgres:
        database = servers.LiveDatabase.unique_postgres(args.postgres, "pricehub_bench_concurrency")
    else:
        database = servers.LiveDatabase("sqlite", str(folder / "bench.sqlite3"))
    print(f"database: {database.kind} ({database.name}); rows per large list: {args.rows:,}; "
          f"API writes: {args.api_writes}; worker: {'no' if args.no_worker else 'yes'}; "
          f"cache and broker: {args.redis or 'the database'}; folder: {folder}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    services: list[servers.Service] = []
    try:
        database.create()
        started = time.perf_counter()
        database.migrate(storage)
        print(f"migrated in {time.perf_counter() - started:.1f} s")
        env = servers.live_env(database, storage, API_RATE_LIMIT_PER_MINUTE="1000000", Q_WORKERS="2",
                               **({"REDIS_URL": args.redis} if args.redis else {}))
        setup_django(env)
        write_key, read_key = make_users()
        # Yesterday's list: offers visible before the run, older than every row the run writes.
        preload = servers.write_price_csv(folder / "preload.csv", 1000, prefix="PRELOAD")
        servers.manage(["ingest", str(preload), "--vendor", "Preload Vendor", "--currency", "USD"], env)

        started = time.perf_counter()
        lists = [servers.write_price_csv(folder / f"{name}.csv", args.rows, prefix=name.upper(), seed=i)
                 for i, name in enumerate(("large-a", "large-b")[:args.ingests])]
        upload = servers.write_price_csv(folder / "admin-upload.csv", 1000, prefix="ADMIN")
        small = [servers.write_price_csv(folder / f"api-{i:03d}.csv", 20, prefix=f"API{i:03d}")
                 for i in range(args.api_writes)]
        print(f"files written in {time.perf_counter() - started:.1f} s "
              f"({lists[0].stat().st_size / 1e6:.1f} MB each large list)")

        web = servers.start_gunicorn(env, log_dir=logs, workers=2, lifetime=3600)
        services.append(web)
        if not args.no_worker:
            services.append(servers.start_qcluster(env, log_dir=logs, lifetime=3600))
        print(f"gunicorn on {web.url}" + ("" if args.no_worker else ", qcluster running"))
        warm_up(web, read_key)
        baseline = [servers.Client(web.url, token=read_key).get("/offers?page_size=50") for _ in range(100)]
        idle = [r.seconds for r in baseline if r.status == 200]
        print(f"API reads (GET /offers) with nothing else running: {len(idle)}/100 answered 200; "
              f"p50 {ms(percentile(idle, .5))}  p95 {ms(percentile(idle, .95))}")

        outcomes = run_at_once(args, env, web, lists, upload, small, write_key, read_key, logs, services)
        return report(args, outcomes, lists, upload, small)
    finally:
        close_db()
        for service in reversed(services):
            service.stop()
        try:
            database.drop()
        except Exception as exc:  # noqa: BLE001 - the figures are printed; say why the drop failed
            print(f"could not drop {database.name}: {exc}")
        if not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


def warm_up(web, read_key: str) -> None:
    """A few requests of each kind before the clock starts, so that both workers have loaded the
    admin and the API (a first request's imports are not what is measured)."""
    reader = servers.Client(web.url, token=read_key)
    for _ in range(6):
        servers.Client(web.url).get("/admin/login/?next=/admin/")
        reader.get("/offers?page_size=50")
        reader.get("/documents")


def run_at_once(args, env, web, lists, upload, small, write_key, read_key, logs, services) -> dict:
    """Start the two ingests; once one is processing, the admin session, the API writes and the read
    loop; watch the large documents' visible offers until both ingests end."""
    outcomes: dict = {"reads": [], "health": [], "api": [], "partial_seen": [], "watch_polls": 0}
    stop_reading = threading.Event()

    def admin():
        client = servers.Client(web.url)
        outcomes["login"] = servers.admin_login(client, "operator", PASSWORD)
        outcomes["upload"] = servers.admin_upload(client, upload, vendor="Admin Upload Vendor")

    def api_writes():
        client = servers.Client(web.url, token=write_key)
        for path in small:
            outcomes["api"].append((path.name, servers.api_write_document(client, path, vendor="API Vendor")))
        outcomes["api_writes_done_at"] = time.perf_counter()

    def api_reads():
        client = servers.Client(web.url, token=read_key)
        plain = servers.Client(web.url)
        while not stop_reading.is_set():
            at = time.perf_counter()
            outcomes["reads"].append((at, client.get("/offers?page_size=50")))
            # No database at all: what the machine's load alone costs a request.
            outcomes["health"].append((time.perf_counter(), plain.get("/healthz")))

    ingests = []
    started = time.perf_counter()
    for path in lists:
        ingest = servers.start_ingest(path.stem, path, env, vendor=f"{path.stem} vendor", log_dir=logs, lifetime=3600)
        ingests.append(ingest)
        services.append(ingest)
    while all(i.running() for i in ingests):
        states = [document_state(path.name) for path in lists]
        if any(s and s[1] == "processing" for s in states):
            break
        time.sleep(0.05)
    close_db()
    outcomes["writes_began_after"] = time.perf_counter() - started
    threads = [threading.Thread(target=admin), threading.Thread(target=api_writes)]
    reader = threading.Thread(target=api_reads)
    for thread in [*threads, reader]:
        thread.start()
    ended = {}
    while len(ended) < len(ingests):
        for ingest in ingests:
            if ingest.name not in ended and not ingest.running():
                ended[ingest.name] = time.perf_counter()
        for path in lists:  # a reader must see none or all of a document's offers
            state = document_state(path.name)
            if state is not None:
                outcomes["watch_polls"] += 1
                doc_id, status, visible = state
                if visible not in (0, args.rows) or (visible and status == "processing"):
                    outcomes["partial_seen"].append((path.name, status, visible))
        close_db()
        time.sleep(0.5)
    outcomes["ingest_window"] = (started, max(ended.values()))
    outcomes["ingest_ends"] = {name: at - started for name, at in ended.items()}
    stop_reading.set()
    reader.join(60)
    for thread in threads:
        thread.join(600)
    outcomes["writes_ended_after"] = time.perf_counter() - started
    outcomes["ingests"] = ingests
    if not args.no_worker:  # the queued uploads, ingested by the worker
        names = [upload.name, *(p.name for p in small)]
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            states = [document_state(name) for name in names]
            close_db()
            if all(s and s[1] in TERMINAL for s in states):
                break
            time.sleep(1)
        outcomes["queued_after"] = time.perf_counter() - started
    return outcomes


def report(args, outcomes: dict, lists, upload, small) -> int:
    """Print each operation's outcome and latency and the API's percentiles; the failures' count."""
    from documents.models import SourceDocument

    failures = 0
    print("\n== operations (seconds from the ingests' start)")
    for ingest, path in zip(outcomes["ingests"], lists):
        code = ingest.wait(10)
        try:
            result = servers.ingest_result(ingest)
        except AssertionError:
            result = {"status": f"no result (exit {code})", "offers_created": 0}
        seconds = outcomes["ingest_ends"][ingest.name]
        ok = code == 0 and result.get("status") == "succeeded" and result.get("offers_created") == args.rows
        failures += not ok
        print(f"  ingest {path.name:<16} {'ok  ' if ok else 'FAIL'} {result.get('status'):<10} "
              f"{result.get('offers_created', 0):>9,} offers  {seconds:6.1f} s  "
              f"{result.get('offers_created', 0) / seconds:8,.0f} rows/s  exit {code}")
        if not ok:
            print("    " + (result.get("failure") or str(result.get("errors", ""))[:500] or ingest.log()[-800:]))
    print(f"  writes began {outcomes['writes_began_after']:.1f} s in, ended {outcomes['writes_ended_after']:.1f} s in")
    for label, key, expected in (("admin login", "login", (200, 302)), ("admin upload", "upload", (200, 302))):
        responses = outcomes.get(key)
        if not responses:
            print(f"  {label:<22} FAIL (not done)")
            failures += 1
            continue
        ok = tuple(r.status for r in responses) == expected
        failures += not ok
        print(f"  {label:<22} {'ok  ' if ok else 'FAIL'} GET {responses[0].status} {ms(responses[0].seconds)}, "
              f"POST {responses[1].status} {ms(responses[1].seconds)}")
    writes = outcomes["api"]
    bad = [(name, r.status, r.body[:200]) for name, r in writes if r.status != 202]
    failures += bool(bad) or len(writes) != args.api_writes
    seconds = [r.seconds for _, r in writes]
    print(f"  API writes (POST /documents) {'ok  ' if not bad and len(writes) == args.api_writes else 'FAIL'} "
          f"{len(writes) - len(bad)}/{args.api_writes} answered 202; latency p50 {ms(percentile(seconds, .5))}, "
          f"p95 {ms(percentile(seconds, .95))}, max {ms(max(seconds, default=0))}")
    for name, status, body in bad[:5]:
        print(f"    {name}: {status} {body!r}")

    start, end = outcomes["ingest_window"]
    reads = [(at, r) for at, r in outcomes["reads"] if start <= at <= end]
    bad_reads = [r for _, r in reads if r.status != 200]
    failures += bool(bad_reads) or not reads
    seconds = [r.seconds for _, r in reads]
    print(f"  API reads (GET /offers) {'ok  ' if reads and not bad_reads else 'FAIL'} {len(reads)} while a large "
          f"ingest ran, {len(bad_reads)} not 200"
          + (f" ({sorted({r.status for r in bad_reads})})" if bad_reads else ""))
    print(f"\n== API latency while a large ingest runs: p50 {ms(percentile(seconds, .5))}  "
          f"p95 {ms(percentile(seconds, .95))}  max {ms(max(seconds, default=0))}  "
          f"(target p95 < 100 ms on SQLite)")

    health = [r.seconds for at, r in outcomes["health"] if start <= at <= end and r.status == 200]
    print(f"   GET /healthz (no database) in the same loop: {len(health)} answered 200, "
          f"p50 {ms(percentile(health, .5))}  p95 {ms(percentile(health, .95))}")
    writes_done = outcomes.get("api_writes_done_at", end)
    for label, part in (("while the API writes ran", [r.seconds for at, r in reads if at < writes_done]),
                        ("after the API writes ended", [r.seconds for at, r in reads if at >= writes_done])):
        print(f"   {label}: {len(part)} reads, p50 {ms(percentile(part, .5))}  p95 {ms(percentile(part, .95))}")
    quarters = []
    for q in range(4):  # does the latency grow as the running documents' hidden rows pile up?
        low, high = start + (end - start) * q / 4, start + (end - start) * (q + 1) / 4
        part = [r.seconds for at, r in reads if low <= at < high]
        quarters.append(f"{len(part)} reads p50 {percentile(part, .5) * 1000:.0f} / "
                        f"p95 {percentile(part, .95) * 1000:.0f} ms")
    print("   by quarter of the ingests: " + "; ".join(quarters))

    partial = outcomes["partial_seen"]
    failures += bool(partial)
    print(f"== visibility: {outcomes['watch_polls']} polls of the large documents' offers, "
          f"{'none saw part of a document' if not partial else f'PARTIAL SNAPSHOTS SEEN: {partial[:5]}'}")

    if not args.no_worker:
        names = [upload.name, *(p.name for p in small)]
        states: dict[str, int] = {}
        for name in names:
            document = SourceDocument.objects.filter(original_filename=name).order_by("-id").first()
            status = document.status if document else "missing"
            states[status] = states.get(status, 0) + 1
        close_db()
        ok = states == {"succeeded": len(names)}
        failures += not ok
        print(f"== queued uploads ingested by the worker {'ok' if ok else 'FAIL'}: {states} "
              f"({outcomes['queued_after']:.1f} s from the ingests' start)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{'every operation succeeded' if not failures else f'{failures} operation group(s) FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
