"""python manage.py ingest PATH [PATH ...] [--vendor NAME] [--processor NAME]
[--option KEY=VALUE ...] [--currency CODE] [--json]"""

from __future__ import annotations

import json as jsonlib
import sys

from django.core.management.base import BaseCommand, CommandError

from ingestion import processors
from ingestion.services import IngestError, ingest_path


def parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--option {pair!r} is not KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


class ProgressBar:
    """A one-line progress bar on a terminal; silent elsewhere."""

    def __init__(self, stream, label: str):
        self.stream, self.label, self.last = stream, label, -1

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            percent = min(100, done * 100 // total)
            if percent == self.last:
                return
            self.last = percent
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{self.label} [{bar:<25}] {percent:3d}% ({done:,}/{total:,})")
        else:
            self.stream.write(f"\r{self.label} {done:,} rows")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()


class Command(BaseCommand):
    help = "Ingest price lists (spreadsheets, WhatsApp transcripts) into offers."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--vendor", default="", help="Vendor name (created if new).")
        parser.add_argument(
            "--processor", default="", choices=[""] + processors.names(), help="Default: detected from the file."
        )
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                            help="Processor option, e.g. prefer_llm=true, day_first=false. Repeatable.")
        parser.add_argument("--currency", default="", help="ISO code for prices that name no currency.")
        parser.add_argument("--json", action="store_true", help="One JSON object per file on stdout.")

    def handle(self, *args, paths, vendor, processor, option, currency, json: bool, **kwargs):
        options = parse_options(option)
        interactive = not json and sys.stderr.isatty()
        failed = 0
        for path in paths:
            bar = ProgressBar(sys.stderr, path) if interactive else None
            try:
                document = ingest_path(
                    path, vendor_name=vendor, processor=processor, options=options, currency=currency, progress=bar
                )
            except IngestError as exc:
                failed += 1
                self._report_rejected(path, str(exc), as_json=json)
                continue
            finally:
                if bar:
                    bar.close()
            if document.status == document.Status.FAILED:
                failed += 1
            self._report(document, as_json=json)
        if failed:
            raise CommandError(f"{failed} of {len(paths)} file(s) failed", returncode=1)

    def _report(self, document, *, as_json: bool) -> None:
        stats = document.stats
        if as_json:
            self.stdout.write(json_line({
                "document_id": document.pk,
                "status": document.status,
                "offers_created": stats.get("offers_created", 0),
                "errors": document.errors,
            }))
            return
        line = (
            f"{document.original_filename}: {document.status} — document #{document.pk}, "
            f"{stats.get('offers_created', 0):,} offers, {stats.get('errors', 0):,} errors, "
            f"{stats.get('rows_seen', 0):,} rows in {stats.get('duration_seconds', 0)} s"
        )
        style = {"succeeded": self.style.SUCCESS, "partial": self.style.WARNING}.get(document.status, self.style.ERROR)
        self.stdout.write(style(line))
        reason = document.extra.get("failure", "")
        if reason:
            self.stderr.write(f"  reason: {reason}")
        for error in [e for e in document.errors if e["message"] != reason][:5]:
            self.stderr.write(f"  {error['ref']}: {error['message']}")
        if len(document.errors) > 5:
            self.stderr.write(f"  ... {stats.get('errors', 0) - 5:,} more (GET /documents/{document.pk})")

    def _report_rejected(self, path: str, reason: str, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json_line({
                "document_id": None, "status": "failed", "offers_created": 0,
                "errors": [{"ref": path, "field": "", "message": reason, "value": ""}],
            }))
        else:
            self.stderr.write(self.style.ERROR(f"{path}: failed — {reason}"))


def json_line(payload: dict) -> str:
    return jsonlib.dumps(payload, ensure_ascii=False, default=str)
