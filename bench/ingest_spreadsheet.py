"""Benchmark: a 100,000-row vendor xlsx, end to end, on SQLite and PostgreSQL.

    .venv/bin/python bench/ingest_spreadsheet.py [--rows 100000] [--db sqlite,postgres] [--repeat 3]

Prints, for the same generated file (one distinct product a row):
python-calamine's raw read time, and for each database the whole `ingest`
pipeline (read, normalize, match, persist offers and price history) in
rows/second with the share of it spent matching products (offers.matching:
deciding and creating products and aliases), first with every product new,
then for the same list again (every product known, the daily case), with the
peak RSS of that process and of the reader process it forks
(ingestion.readahead).
Each measurement runs in a fresh process on a fresh database, --repeat
times; the median is printed with the range of the runs. PostgreSQL is
taken from BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
where a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = ["New", "Refurbished A", "Used B", "Open box", "CPO"]
BRANDS = ["Apple iPhone", "Samsung Galaxy", "Google Pixel", "Xiaomi Redmi", "OnePlus Nord", "Motorola Edge"]


def generate(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(42)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Price list")
    sheet.append(["Weekly stock list"])
    sheet.append([])
    sheet.append(["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"])
    for i in range(rows):  # one distinct product a row, as in a real vendor list
        n = i // 12  # with i % 12 (brand and storage), a model no other row has: "Google Pixel KD5 256GB"
        sheet.append([
            f"SKU-{i:07d}",
            f"{BRANDS[i % len(BRANDS)]} {chr(65 + n % 26)}{chr(65 + n // 26 % 26)}{n // 676 + 2} "
            f"{[64, 128, 256, 512][i % 4]}GB",
            round(rng.uniform(50, 1500), 2),
            rng.randrange(1, 300),
            CONDITIONS[i % len(CONDITIONS)],
        ])
    workbook.save(path)


def child(args) -> None:
    """Runs in a fresh process: measure one thing, print one JSON line."""
    if args.child == "calamine":
        from python_calamine import CalamineWorkbook

        start = time.perf_counter()
        workbook = CalamineWorkbook.from_path(args.file)
        count = sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows())
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "rows": count, "maxrss_mb": maxrss_mb()}))
        return
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from ingestion import services

    # The matcher's share: time spent deciding and writing products (plan_offers before the write
    # lock, match_products inside it), measured by wrapping the two calls the ingest makes.
    matching = [0.0]

    def timed(function):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            try:
                return function(*a, **kw)
            finally:
                matching[0] += time.perf_counter() - start
        return wrapper

    services.plan_offers = timed(services.plan_offers)
    services.match_products = timed(services.match_products)
    runs, matched = [], []
    for again in (False, True):  # a first ingest (every product new), then the same list again (every product known)
        matching[0] = 0.0
        start = time.perf_counter()
        document = services.ingest_path(args.file, vendor_name="Bench Vendor", currency="USD", force=again)
        runs.append(time.perf_counter() - start)
        matched.append(matching[0])
    print(json.dumps({
        "seconds": runs[0], "again_seconds": runs[1], "match_seconds": matched[0], "again_match_seconds": matched[1],
        "status": document.status,
        "offers": document.stats.get("offers_created"), "errors": document.stats.get("errors"),
        "maxrss_mb": maxrss_mb(), "reader_maxrss_mb": maxrss_mb(resource.RUSAGE_CHILDREN),
    }))


def maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def run_child(kind: str, file: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--file", str(file)],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3, help="runs per database; the median is reported")
    parser.add_argument("--child")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="pricehub-bench-") as tmp:
        tmp = Path(tmp)
        file = tmp / "vendor-100k.xlsx"
        start = time.perf_counter()
        generate(file, args.rows)
        print(f"generated {args.rows:,} rows ({file.stat().st_size / 1e6:.1f} MB xlsx) in {time.perf_counter() - start:.1f} s")
        base_env = {  # production settings: DEBUG off (no query log)
            "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "localhost",
            "INGESTION_STORAGE_DIR": str(tmp / "storage"), "LOG_LEVEL": "WARNING",
        }

        raw = run_child("calamine", file, base_env)
        print(f"python-calamine read alone: {raw['seconds']:.2f} s ({args.rows / raw['seconds']:,.0f} rows/s)")

        for db in [d.strip() for d in args.db.split(",") if d.strip()]:
            results = [_measure(db, file, base_env, tmp / f"bench-{i}.sqlite3") for i in range(args.repeat)]
            for label, key, match in [("new products", "seconds", "match_seconds"),
                                      ("same list again", "again_seconds", "again_match_seconds")]:
                runs = sorted(result[key] for result in results)
                seconds = statistics.median(runs)
                rate = args.rows / seconds
                spread = f" (runs {args.rows / runs[-1]:,.0f}-{args.rows / runs[0]:,.0f})" if len(runs) > 1 else ""
                share = statistics.median(result[match] / result[key] for result in results)
                print(
                    f"{db:>8}, {label:<15}: {seconds:.2f} s = {rate:,.0f} rows/s{spread}, "
                    f"{rate / 5400:.1f}x django-import-export bulk, {seconds / raw['seconds']:.1f}x the raw read; "
                    f"matching products {share:.0%} of it"
                )
            last = results[-1]
            print(f"{db:>8}: status {last['status']}, {last['offers']:,} offers, {last['errors']} errors, "
                  f"peak RSS {max(r['maxrss_mb'] for r in results):.0f} MB "
                  f"+ reader process {max(r['reader_maxrss_mb'] for r in results):.0f} MB")


def _measure(db: str, file: Path, base_env: dict, sqlite_path: Path) -> dict:
    """One fresh process on one fresh database: a first ingest, then the same file again."""
    env = dict(base_env)
    dropper = None
    if db == "sqlite":
        env["SQLITE_PATH"] = str(sqlite_path)
        env.pop("DATABASE_URL", None)
    elif db == "postgres":
        env["DATABASE_URL"], dropper = postgres_database()
    else:
        raise SystemExit(f"unknown --db {db}")
    try:
        return run_child("ingest", file, env)
    finally:
        if dropper:
            dropper()


def postgres_database():
    import psycopg

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"pricehub_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


@contextlib.contextmanager
def django_database(db: str, prefix: str, **env: str | None):
    """Django set up in this process on a throwaway database: ``db`` "sqlite" (a file in a new
    temporary folder named ``prefix``...) or "postgres" (``postgres_database``, dropped at the
    end). The environment gets DEBUG on, storage in that folder, quiet logs, the test client's
    host, an API rate limit out of the way, then ``env`` (a value None removes the variable).
    Yields the temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    settings = {"DEBUG": "true", "INGESTION_STORAGE_DIR": str(tmp / "storage"), "LOG_LEVEL": "WARNING",
                "ALLOWED_HOSTS": "testserver", "API_RATE_LIMIT_PER_MINUTE": "100000000", **env}
    for name, value in settings.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    drop = None
    if db == "sqlite":
        os.environ["SQLITE_PATH"] = str(tmp / "bench.sqlite3")
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"], drop = postgres_database()
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "pricehub.settings"
    import django

    django.setup()
    try:
        yield tmp
    finally:
        from django.db import connections

        connections.close_all()
        if drop:
            drop()


if __name__ == "__main__":
    main()
