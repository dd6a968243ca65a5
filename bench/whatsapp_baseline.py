"""The WhatsApp performance baseline: the harness's `load` against gunicorn + qcluster + PostgreSQL.

    .venv/bin/python bench/whatsapp_baseline.py [--count 50] [--batch-size 10] [--concurrency 4]
                                               [--postgres URL] [--report-file docs/perf_baseline.json]

Starts, on a throwaway PostgreSQL database (made on the server of URL, default BENCH_POSTGRES_URL or
postgres://postgres@127.0.0.1:5432/postgres, dropped at the end), a real gunicorn (4 sync
workers) and a django-q2 cluster (3 workers) on 127.0.0.1 with the ingest token and HMAC secret
set and the playbook's defaults otherwise (rate limit 60/min, burst 20; debounce
WHATSAPP_EXTRACT_DEBOUNCE_SECONDS, default 30 s here as in production unless --debounce says
otherwise), then runs `scripts/whatsapp_harness.py load` as an outside client would and
prints its verdict. The report (p50/p95 request latency, ingest-to-offer latency, dedupe,
skipped and extracted ratios, 429 counts) is written to --report-file; copy the figures to
docs/observability/perf_baseline.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402

TOKEN = "baseline-ingest-token-" + "t" * 16
SECRET = "baseline-hmac-secret-" + "s" * 16


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--debounce", type=int, default=30, help="WHATSAPP_EXTRACT_DEBOUNCE_SECONDS (default 30)")
    parser.add_argument("--postgres", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--report-file", default=str(ROOT / "docs" / "perf_baseline.json"))
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pricehub-whatsapp-baseline-"))
    database = servers.LiveDatabase.unique_postgres(args.postgres, "pricehub_bench_baseline")
    database.create()
    try:
        storage = folder / "storage"
        storage.mkdir()
        database.migrate(storage)
        env = servers.live_env(database, storage, WHATSAPP_INGEST_TOKEN=TOKEN, WHATSAPP_INGEST_HMAC_SECRET=SECRET,
                               WHATSAPP_EXTRACT_DEBOUNCE_SECONDS=str(args.debounce), Q_WORKERS="3")
        with servers.start_gunicorn(env, log_dir=folder, workers=4, lifetime=3600) as web, \
                servers.start_qcluster(env, log_dir=folder, lifetime=3600):
            result = subprocess.run([
                sys.executable, str(ROOT / "scripts" / "whatsapp_harness.py"), "load",
                "--url", f"{web.url}/integrations/whatsapp/ingest", "--token", TOKEN, "--secret", SECRET,
                "--diagnostics-url", f"{web.url}/chat/tools/diagnostics", "--count", str(args.count),
                "--batch-size", str(args.batch_size), "--concurrency", str(args.concurrency),
                "--timeout", str(args.debounce + 180), "--report-file", args.report_file,
            ], capture_output=True, text=True, check=False)
        print(result.stdout + result.stderr)
        print(f"harness exit code {result.returncode}; report: {args.report_file}")
        return result.returncode
    finally:
        database.drop()


if __name__ == "__main__":
    sys.exit(main())
