"""Benchmark: what an upload over the size limit costs the web worker (issue 9, item 8).

    .venv/bin/python bench/upload_limits.py [--mb 600] [--max-file-mb 50]

Starts gunicorn on 127.0.0.1 (one sync worker, its own SQLite database, a staff user; see
ingestion/tests/gunicorn_harness.py) and posts to the admin's upload form a body of --mb
megabytes of one byte repeated, without a newline, sent from a thread while the answer is read:

  declared  its Content-Length is over the limit: refused (413) before the body is read
  chunked   sent without a Content-Length: refused (411) before the body is read
  in-body   a second server whose allowance lets the body past the Content-Length check: the
            upload handler stops the file at --max-file-mb and the form says so

For each it prints the answer's status, the seconds until the answer, the megabytes sent by then
and the growth of the worker's peak resident memory (VmHWM). Before the fix, a file stopped at
the limit made Django read the rest of the body as one "line": 600 MB held 1.4 GB for 20 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestion.tests.gunicorn_harness import UPLOAD, MiB, Server, peak_rss  # noqa: E402


def measure(server: Server, label: str, size: int, *, chunked: bool = False) -> None:
    """Post ``size`` bytes to the upload form and print the figures of one line."""
    head, tail, headers = server.upload_parts("list.csv")
    before = peak_rss(server.worker)
    answer = server.stream(UPLOAD, headers=headers, head=head, filler=size, tail=tail, chunked=chunked)
    grown = max(0, peak_rss(server.worker) - before)  # VmHWM is sampled lazily: it may read a page lower
    print(f"{label:<9} {answer.status:>6} {answer.seconds:>9.3f} {answer.sent_before_answer / MiB:>10.1f} "
          f"{answer.declared / MiB:>10.1f} {grown / MiB:>12.1f}", flush=True)


def main() -> None:
    """Parse the options, start each server, measure, stop it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=600, help="the body's size in MiB")
    parser.add_argument("--max-file-mb", type=int, default=50, help="INGESTION_MAX_FILE_BYTES in MiB")
    args = parser.parse_args()
    size, max_file = args.mb * MiB, args.max_file_mb * MiB
    print(f"a {args.mb} MiB body without a newline, file limit {args.max_file_mb} MiB, one gunicorn sync worker")
    print(f"{'case':<9} {'status':>6} {'seconds':>9} {'MiB sent':>10} {'MiB body':>10} {'peak +MiB':>12}")
    with tempfile.TemporaryDirectory(prefix="pricehub-upload-bench-") as tmp:
        for name, allowance, cases in [
            ("default", 64 * 1024, [("declared", False), ("chunked", True)]),
            ("wide", size + MiB, [("in-body", False)]),
        ]:
            folder = Path(tmp) / name
            folder.mkdir()
            server = Server(folder, max_file=max_file, allowance=allowance)
            try:
                warm_head, warm_tail, warm_headers = server.upload_parts("warm-up.csv")
                server.stream(UPLOAD, headers=warm_headers, head=warm_head, filler=0, tail=warm_tail)
                for label, chunked in cases:
                    measure(server, label, size, chunked=chunked)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
