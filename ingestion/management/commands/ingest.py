"""python manage.py ingest PATH [PATH ...] [--recursive] [--follow-symlinks] [--vendor NAME]
[--processor NAME] [--option KEY=VALUE ...] [--currency CODE] [--force] [--json]

A PATH may be a folder: its supported files are ingested, sorted by name;
hidden files, sub-folders (unless --recursive), symbolic links (unless
--follow-symlinks), special files and files PriceHub does not read are
skipped, each with the reason. A file that cannot be ingested (no such file,
a symbolic link, a FIFO, a device or a /proc file, not readable, empty,
unsupported, an option its processor does not take) is refused before
anything is stored; a special file is never opened, so a FIFO cannot hang the
command. The checks are ``ingestion.intake``'s.

A file whose content was already ingested for the same vendor with the same
settings is reported ``unchanged`` (not an error) and nothing is stored;
``--force`` ingests it again.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ingestion import processors
from ingestion.intake import SourceFile, files_to_ingest
from ingestion.services import AlreadyIngested, IngestError, ingest_path
from offers.wording import counted


def _not_an_outcome(record: logging.LogRecord) -> bool:
    return not getattr(record, "document_outcome", False)


def parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--option {pair!r} is not KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


def check_option_keys(options: dict[str, str], processor: str) -> dict[str, str]:
    """Refuse, before any file is read, options the chosen processor does not take (or, with the
    processor left to detection, that no processor takes), naming the known ones. Values are
    checked per file, for the processor that reads it."""
    if processor:
        try:
            return processors.validate_options(processor, options)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=1) from None
    known = {option.name for name in processors.names() for option in processors.options_for(name)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise CommandError(
            f"unknown option {unknown[0]!r}; known options: {processors.describe_options()}", returncode=1
        )
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
            self.stream.write(f"\r{self.label} {counted(done, 'row')}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()


class Command(BaseCommand):
    help = "Ingest price lists (spreadsheets, WhatsApp transcripts, folders of them) into offers."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A file, or a folder of files.")
        parser.add_argument("--recursive", "-r", action="store_true", help="Take the files in folders in folders.")
        parser.add_argument(
            "--follow-symlinks", action="store_true",
            help="Ingest what symbolic links point to (refused, or skipped in folders, without it). FIFOs, devices "
                 "and /proc or /sys files are refused either way.",
        )
        parser.add_argument("--vendor", default="", help="Vendor name (created if new).")
        parser.add_argument(
            "--processor", default="", choices=processors.names(), help="Default: detected from the file."
        )
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                            help=f"Processor option, repeatable. Known: {processors.describe_options()}.")
        parser.add_argument("--currency", default="", help="ISO code for prices that name no currency.")
        parser.add_argument("--force", action="store_true",
                            help="Ingest a file again even if its content was already ingested with these settings.")
        parser.add_argument("--json", action="store_true", help="One JSON object per file on stdout.")

    def handle(self, *args, **kwargs):
        # Each file's outcome and reason is printed below: the service's log line saying the same is left out.
        service_log = logging.getLogger("ingestion.services")
        service_log.addFilter(_not_an_outcome)
        try:
            self._ingest(*args, **kwargs)
        finally:
            service_log.removeFilter(_not_an_outcome)

    def _ingest(self, *args, paths, recursive, follow_symlinks, vendor, processor, option, currency, force,
                json: bool, **kwargs):
        options = check_option_keys(parse_options(option), processor)
        interactive = not json and sys.stderr.isatty()
        entries = files_to_ingest(paths, recursive=recursive, processor=processor, follow_symlinks=follow_symlinks)
        attempted = [entry for entry in entries if not entry.skipped]
        refusals = []
        for entry in entries:
            if entry.skipped:
                self._report_skipped(entry, as_json=json)
                continue
            if entry.refused:
                refusals.append(entry.refused)
                self._report_refused(entry.given, entry.refused, as_json=json, alone=len(attempted) == 1)
                continue
            bar = ProgressBar(sys.stderr, entry.given) if interactive else None
            try:
                document = ingest_path(
                    entry.path, vendor_name=vendor, processor=processor, options=options, currency=currency,
                    progress=bar, report=None if json else self._reporter(entry.given, bar), force=force,
                )
            except AlreadyIngested as exc:
                self._report_unchanged(entry.given, exc, as_json=json)
                continue
            except DatabaseError as exc:  # the database refused (locked, gone): this file only, then the next
                reason = f"the database refused the write ({exc}); nothing of it was ingested: run it again"
                refusals.append(reason)
                self._report_refused(entry.given, reason, as_json=json, alone=len(attempted) == 1)
                continue
            except IngestError as exc:
                refusals.append(exc.message)
                self._report_refused(entry.given, exc.message, as_json=json, alone=len(attempted) == 1)
                continue
            finally:
                if bar:
                    bar.close()
            if document.status in (document.Status.PENDING, document.Status.PROCESSING):
                # This run stopped renewing its lease (paused, too slow) and another process took over.
                owner = document.lease_owner or "the worker"
                reason = (f"taken over: this run lost document #{document.pk} to another process ({owner}), "
                          f"which ingests it now; see GET /documents/{document.pk}")
                refusals.append(reason)
                self._report_refused(entry.given, reason, as_json=json, alone=len(attempted) == 1)
                continue
            if document.status == document.Status.FAILED:
                refusals.append("")
            self._report(entry.given, document, as_json=json)
        if not refusals:
            return
        if len(attempted) == 1 and refusals[0] and not json:  # one user mistake: one line
            raise CommandError(f"{attempted[0].given}: {refusals[0]}", returncode=1)
        self.stdout.flush()  # the summaries before the closing error, when both go to one pipe
        raise CommandError(f"{len(refusals)} of {counted(len(attempted), 'file')} failed", returncode=1)

    def _reporter(self, given: str, bar: ProgressBar | None):
        """A processor's progress lines (a PDF's or an image's pages) on stderr, each on a line
        of its own (the progress bar's line is cleared first)."""

        def report(line: str) -> None:
            if bar:
                bar.close()
            self.stderr.write(f"{given}: {line}")
            self.stderr.flush()

        return report

    def _report(self, given: str, document, *, as_json: bool) -> None:
        stats = document.stats
        if as_json:
            self.stdout.write(json_line({
                "file": given,
                "document_id": document.pk,
                "status": document.status,
                "offers_created": stats.get("offers_created", 0),
                "rows_not_offers": stats.get("rows_not_offers", 0),
                "failure": document.extra.get("failure", ""),
                "warnings": document.warnings,
                "notes": document.notes,
                "errors": document.errors,
            }))
            return
        not_offers = stats.get("rows_not_offers", 0)
        line = (
            f"{given}: {document.status} — document #{document.pk}, "
            f"{counted(stats.get('offers_created', 0), 'offer')}, {counted(stats.get('errors', 0), 'rejected row')}, "
            + (f"{counted(not_offers, 'row')} not offers (hidden, filtered or sold out), " if not_offers else "")
            + f"{counted(stats.get('rows_seen', 0), 'row')} read in {stats.get('duration_seconds', 0)} s"
        )
        style = {"succeeded": self.style.SUCCESS, "partial": self.style.WARNING}.get(document.status, self.style.ERROR)
        self.stdout.write(style(line))
        self.stdout.flush()  # before its details on stderr, when both go to one pipe
        reason = document.extra.get("failure", "")
        if reason:
            self.stderr.write(f"  reason: {reason}")
        for warning in document.warnings:
            self.stderr.write(f"  warning: {warning}")
        for note in document.notes:
            self.stderr.write(f"  note: {note}")
        for error in [e for e in document.errors if e["message"] != reason][:5]:
            self.stderr.write(f"  {error['ref']}: {error['message']}")
        if len(document.errors) > 5:
            self.stderr.write(f"  ... {stats.get('errors', 0) - 5:,} more (GET /documents/{document.pk})")

    def _report_unchanged(self, given: str, exc: AlreadyIngested, *, as_json: bool) -> None:
        """Content already ingested with these settings: nothing stored, not an error."""
        if as_json:
            self.stdout.write(json_line({
                "file": given, "document_id": exc.document.pk, "status": "unchanged", "offers_created": 0,
                "errors": [], "reason": exc.message,
            }))
        else:
            self.stdout.write(f"{given}: {exc.message} (--force ingests it again)")
            self.stdout.flush()

    def _report_refused(self, given: str, reason: str, *, as_json: bool, alone: bool) -> None:
        """A file refused before anything was stored; alone, the command's error line says it."""
        if as_json:
            self.stdout.write(json_line({
                "file": given, "document_id": None, "status": "refused", "offers_created": 0,
                "errors": [{"ref": given, "field": "", "message": reason, "value": ""}],
            }))
        elif not alone:
            self.stderr.write(self.style.ERROR(f"{given}: refused — {reason}"))

    def _report_skipped(self, entry: SourceFile, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json_line({
                "file": entry.given, "document_id": None, "status": "skipped", "offers_created": 0,
                "errors": [], "reason": entry.skipped,
            }))
        else:
            self.stderr.write(f"{entry.given}: skipped — {entry.skipped}")


def json_line(payload: dict) -> str:
    return jsonlib.dumps(payload, ensure_ascii=False, default=str)
