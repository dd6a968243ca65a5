"""The ingest service: store an artefact, run its processor, persist its offers.

``ingest_path`` (CLI, schedules) and ``register_file`` + ``process_document``
(admin uploads, re-ingests, in a django-q2 task) share one pipeline:

    store copy -> SourceDocument -> processor yields candidates / RowErrors
    -> normalize (these two in a reader process, see ``readahead``)
    -> match products and bulk write Offer + PriceHistory (per batch, one short
       transaction each) -> extra.errors, extra.stats, status

Every rejected row is recorded with its reference and reason; one bad row
never loses the others. Batches commit one by one, so other writers (another
ingest, an upload, an admin login) never wait on a file's reading and parsing
or on more than one batch, even on SQLite; the offers stay hidden from every
reader until the document ends (``Offer.objects``: ``SourceDocument.HIDDEN_STATUSES``),
so a document's offers appear all at once. A process that ingests a document
holds its lease (``ingestion.leases``); one killed mid-file leaves a
``processing`` document whose offers are hidden, and ``recover_stale_documents``
re-runs it (discarding those offers first) or fails it.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from documents import storage
from documents.models import SourceDocument
from ingestion import intake, llm, processors
from ingestion.leases import Lease, LeaseLost, claimable, max_attempts
from ingestion.normalize import (
    NormalizationError,
    iso_currency_code,
    parse_condition,
    parse_currency,
    parse_price,
    parse_quantity,
    split_vat,
)
from ingestion.readahead import read_ahead
from ingestion.types import IngestContext, Notice, OfferCandidate, RowError
from offers.bulk import OfferRow, delete_offers, insert_offers
from offers.matching import MatchPlan, ProductRef, apply_link, match_products, plan_matches
from offers.models import Offer, Vendor
from offers.text import strip_accents, strip_control_characters
from offers.vendors import vendor_by_name, vendor_for_sender
from offers.wording import counted
from pricehub.sqlite.base import WaitingWriters
from pricehub.sqlite.checkpoints import Checkpointer, background_checkpoints

log = logging.getLogger(__name__)
# Marks the log lines that only repeat a document's recorded outcome (its failure reason): the
# ingest command, which prints that outcome itself, leaves them out (``record.document_outcome``).
OUTCOME_LOG = {"document_outcome": True}

# Offers written per batch. A writer waiting for SQLite's write lock waits at most one batch
# (about 0.2 s alone, several times that beside another ingest): the ingest commits after it
# (``_Transactions``), and while other writers keep coming (SQLite), it writes smaller batches.
BATCH_SIZE = 5000
CONTENDED_BATCH_SIZE = 1000
CONTENDED_SECONDS = 10.0  # smaller batches for this long after another writer last waited
WAITING_CHECK_ROWS = 250  # rows read between two looks for a waiting writer while a transaction is open
# On SQLite, while no other writer waits, batches share a transaction up to
# settings.INGESTION_ROWS_PER_COMMIT offers: each commit writes every index page the transaction
# changed to the log again (the price index's pages, all over the index, once per commit), which
# made 5,000-offer commits a tenth slower.
MAX_RECORDED_ERRORS = 5000
# Longest description kept; a longer one is cut, and the offer says so (extra["description_cut"]).
DESCRIPTION_MAX_CHARS = 2000
# How many times the bookkeeping of a failure is tried (on a fresh connection after the first).
BOOKKEEPING_TRIES = 3

Progress = Callable[[int, int | None], None]


class IngestError(Exception):
    """The request itself is wrong (no such file, empty or unsupported file, unknown processor,
    bad option): a user mistake, refused before anything is stored.

    ``message`` is the reason; ``filename`` the file it is about, as the user named it (empty
    when the reason is not about a file). ``str()`` gives ``"<filename>: <message>"``.
    """

    def __init__(self, message: str, *, filename: str = ""):
        super().__init__(message)
        self.message = message
        self.filename = filename

    def __str__(self) -> str:
        return f"{self.filename}: {self.message}" if self.filename else self.message


class AlreadyIngested(IngestError):
    """The same content (sha256) was already ingested for the same vendor with the same processor,
    options and currency: ingesting it again would repeat its offers. ``document`` is that earlier
    document (pending, processing, succeeded or partial; a failed one does not count). Each surface
    says how to force it (``--force``, ``force=true``, the upload form's "ingest again")."""

    def __init__(self, document: SourceDocument, *, filename: str = ""):
        ended = f", {document.finished_at:%Y-%m-%d %H:%M} UTC" if document.finished_at else ""
        super().__init__(
            f"unchanged: the same content was already ingested as document #{document.pk} "
            f"({document.status}{ended}) with the same vendor and settings; nothing new was stored",
            filename=filename,
        )
        self.document = document


def user_message(exc: BaseException, document: SourceDocument) -> str:
    """``exc``'s message for the operator, naming the user's file where it named the stored copy
    (its absolute or storage-relative path, or its sha256 name)."""
    message = str(exc) or exc.__class__.__name__
    if not document.stored_path:
        return message
    stored_name = PurePosixPath(document.stored_path).name
    try:
        absolute = str(storage.resolve(document.stored_path))
    except storage.StorageError:
        absolute = ""
    for name in sorted({absolute, document.stored_path, stored_name} - {""}, key=len, reverse=True):
        message = message.replace(name, document.original_filename)
    return message


# --------------------------------------------------------------------------- entry points


def ingest_path(
    path: str | Path,
    *,
    vendor_name: str = "",
    processor: str = "",
    options: dict[str, str] | None = None,
    currency: str = "",
    trigger: str = SourceDocument.Trigger.CLI,
    progress: Progress | None = None,
    report: Callable[[str], None] | None = None,
    force: bool = False,
    follow_symlinks: bool = False,
) -> SourceDocument:
    """Store a file from disk and ingest it now. Raises ``IngestError`` for a bad request
    (its ``filename`` is ``path`` as given): no such file, a folder, a symbolic link (unless
    ``follow_symlinks``), a special file (FIFO, device, /proc), an unreadable or empty file
    (``intake.path_refusal``); ``AlreadyIngested`` for unchanged content unless ``force``.
    Nothing is stored then."""
    given = str(path)
    reason = intake.path_refusal(given, follow_symlinks=follow_symlinks)
    if reason:
        raise IngestError(reason, filename=given)
    try:
        with intake.open_regular(given, follow_symlinks=follow_symlinks) as stream:
            document = register_file(
                stream, Path(given).name, vendor_name=vendor_name, processor=processor, options=options,
                currency=currency, trigger=trigger, force=force,
            )
    except IngestError as exc:
        if exc.filename:
            exc.filename = given
        raise
    except intake.PathRefused as exc:
        raise IngestError(str(exc), filename=given) from None
    except OSError as exc:
        raise IngestError(f"cannot be read ({exc.strerror or exc})", filename=given) from None
    return process_document(document, progress=progress, report=report)


def register_file(
    stream: BinaryIO,
    filename: str,
    *,
    vendor_name: str = "",
    processor: str = "",
    options: dict[str, str] | None = None,
    currency: str = "",
    trigger: str = SourceDocument.Trigger.UPLOAD,
    force: bool = False,
) -> SourceDocument:
    """Validate the request, store the stream and create its pending ``SourceDocument``.

    Admin and API uploads stop here (a task processes the document); ``ingest_path``
    goes on to process it at once. A bad request (unknown processor or currency,
    an empty file or one no processor reads, an option the processor does not
    take or a bad value) is an ``IngestError`` before anything is stored; content
    already ingested with the same vendor and settings is ``AlreadyIngested``
    (unless ``force``). ``stream`` must be seekable: it is read to check and hash it.
    """
    if processor:
        try:
            processors.get(processor)
        except processors.UnknownProcessor as exc:
            raise IngestError(str(exc)) from exc
    run_currency = ""
    if currency:
        run_currency = iso_currency_code(currency) or ""
        if not run_currency:
            raise IngestError(f"currency {currency!r} is not an ISO 4217 currency code (EUR, USD, INR ...)")
    options, detected = _checked_options(stream, filename, processor, options or {})
    vendor = vendor_by_name(vendor_name) if vendor_name.strip() else None
    settings_given = {"currency": run_currency, "options": options}
    if not force:
        earlier = unchanged_document(_sha256(stream), vendor, processor or detected, settings_given)
        if earlier is not None:
            raise AlreadyIngested(earlier, filename=storage.display_name(filename))
    try:
        stored = storage.store_stream(stream, filename)
    except storage.StorageError as exc:
        raise IngestError(str(exc)) from exc
    return SourceDocument.objects.create(
        original_filename=storage.display_name(filename),
        stored_path=stored.relative_path,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        processor=processor,
        vendor=vendor,
        trigger=trigger,
        options=settings_given,
    )


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.file_digest(stream, "sha256").hexdigest()
    stream.seek(0)
    return digest


def unchanged_document(sha256: str, vendor: Vendor | None, processor: str, options: dict) -> SourceDocument | None:
    """The latest document that ingested this content (``sha256``) for ``vendor`` with the same
    ``processor`` (a document whose processor is still to be detected counts) and ``options``
    (``{"currency": ..., "options": {...}}``), unless it failed; else ``None``."""
    candidates = (
        SourceDocument.objects.filter(sha256=sha256, vendor=vendor)
        .exclude(status=SourceDocument.Status.FAILED).order_by("-id")[:50]
    )
    for document in candidates:
        if document.processor in ("", processor) and document.options == options:
            return document
    return None


def _checked_options(
    stream: BinaryIO, filename: str, processor: str, options: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Refuse an empty or unsupported file; the options checked for the processor that will read
    it (the one chosen, else the one detected from the name and first bytes), and its name."""
    head = stream.read(processors.HEAD_BYTES)
    stream.seek(0)
    shown = storage.display_name(filename)
    reason = intake.refusal(head, filename, processor)
    if reason:
        raise IngestError(reason, filename=shown)
    name = processor or processors.detect_name(filename, head)
    try:
        return processors.validate_options(name, options), name
    except ValueError as exc:
        raise IngestError(str(exc), filename=shown) from None


def reingest(document: SourceDocument, *, trigger: str = SourceDocument.Trigger.REINGEST) -> SourceDocument:
    """A new pending snapshot of the same stored file, vendor, processor and options."""
    return SourceDocument.objects.create(
        original_filename=document.original_filename,
        stored_path=document.stored_path,
        sha256=document.sha256,
        size=document.size,
        content_type=document.content_type,
        processor=document.processor,
        vendor=document.vendor,
        trigger=trigger,
        options=document.options,
        previous=document,
    )


# --------------------------------------------------------------------------- processing


def process_document(document: SourceDocument, *, progress: Progress | None = None,
                     report: Callable[[str], None] | None = None) -> SourceDocument:
    """Run the pipeline on a registered document: it ends succeeded, partial or failed, its status
    and reason saved (on a fresh connection if the database was the cause).

    The document is claimed first (``Lease.claim``): one that another live process is ingesting,
    or that has ended, is returned as it is, untouched. Offers left by an earlier attempt that
    was killed are discarded before the file is read again.
    """
    started = time.perf_counter()
    try:
        lease = Lease.claim(document)
    except DatabaseError as exc:  # say so on the document rather than leave it pending unexplained
        log.warning("document %s could not be claimed: %s", document.pk, exc)
        record_failure(document, f"the database refused to start the ingest ({exc}); re-ingest it", started=started,
                       unless_claimed=True)
        return document
    if lease is None:
        return document
    try:
        with lease:
            discard_offers(document)
            path = storage.resolve(document.stored_path)
            processor = (
                processors.get(document.processor) if document.processor
                else processors.detect(path, document.original_filename)
            )
            if document.options.get("options", {}).get("prefer_llm") == "true" and not llm.enabled():
                notes_before = [Notice("", f"prefer_llm ignored: {llm.disabled_reason()}; the heuristics read it")]
            else:
                notes_before = []
            context = IngestContext(
                filename=document.original_filename,
                options=dict(document.options.get("options", {})),
                currency=document.options.get("currency", ""),
                progress=progress,
                report=report,
            )
            with _fewer_collections():
                outcome = _run(document, processor, path, context, lease)
                outcome.notes[:0] = [notice.text() for notice in notes_before]
                _finish(document, processor.name, context, outcome, started, lease)
    except LeaseLost as exc:  # another process took the document over: its outcome is theirs to record
        log.warning("ingest of document %s stopped: %s", document.pk, exc, extra=OUTCOME_LOG)
        document.refresh_from_db()
    except ValueError as exc:  # the content cannot be read (broken JSON, bad option value): no traceback
        log.warning("ingest of document %s failed: %s", document.pk, user_message(exc, document), extra=OUTCOME_LOG)
        record_failure(document, user_message(exc, document), started=started, lease=lease)
    except Exception as exc:  # the document records why; the caller gets a failed document
        log.exception("ingest of document %s failed", document.pk)
        record_failure(document, user_message(exc, document), started=started, lease=lease)
    return document


def discard_offers(document: SourceDocument, *, batch: int = BATCH_SIZE) -> int:
    """Delete a document's offers and their price-history points, a batch per transaction (an
    ingest killed mid-file left them hidden); returns how many offers."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                Offer.all_objects.filter(source_document=document).order_by("id").values_list("id", flat=True)[:batch]
            )
            if not ids:
                return deleted
            delete_offers(ids)
        deleted += len(ids)


def record_failure(document: SourceDocument, reason: str, *, started: float | None = None,
                   lease: Lease | None = None, unless_claimed: bool = False) -> bool:
    """Save ``document`` as failed with ``reason`` after discarding the offers it got so far.

    Tried ``BOOKKEEPING_TRIES`` times, on a fresh database connection after the first (the
    database may be what failed: a cut connection, a locked file); ``False`` if no try
    succeeded: the document then stays processing until its lease expires and
    ``recover_stale_documents`` ends it. With ``lease``, only while this process still owns it;
    with ``unless_claimed``, only while no process has claimed it (it is still pending).
    """
    duration = round(time.perf_counter() - started, 3) if started is not None else None
    for attempt in range(BOOKKEEPING_TRIES):
        if attempt:
            time.sleep(0.5 * attempt)
            if not connection.in_atomic_block:
                connection.close()  # the next query opens a new connection
        try:
            row = lease.ours() if lease else SourceDocument.objects.filter(pk=document.pk)
            if unless_claimed:
                row = row.filter(status=SourceDocument.Status.PENDING)
            if not row.exists():  # another process owns it now: its outcome is its own to record
                document.refresh_from_db()
                return False
            if not unless_claimed:
                discard_offers(document)
            extra = {
                **(SourceDocument.objects.filter(pk=document.pk).values_list("extra", flat=True).first() or {}),
                "failure": reason,
                "errors": [{"ref": document.original_filename, "field": "", "message": reason, "value": ""}],
                "stats": {"offers_created": 0, "errors": 1,
                          **({"duration_seconds": duration} if duration is not None else {})},
            }
            saved = row.update(status=SourceDocument.Status.FAILED, extra=extra, finished_at=timezone.now(),
                               updated_at=timezone.now(), lease_owner="", lease_expires_at=None)
            document.refresh_from_db()
            return bool(saved)
        except DatabaseError as exc:
            log.warning("document %s: recording its failure failed (try %s of %s): %s", document.pk, attempt + 1,
                        BOOKKEEPING_TRIES, exc)
    log.error("document %s: its failure (%s) could not be recorded; it is left processing until its lease "
              "expires and recover_stale_documents ends it", document.pk, reason)
    return False


def recover_stale_documents() -> list[tuple[SourceDocument, str]]:
    """Find documents whose ingest stopped without ending, and re-run or fail each.

    A ``processing`` document whose lease expired lost its process (killed, out of memory, the
    task's timeout): with attempts left it goes back to ``pending`` and is queued again (its
    hidden offers are discarded when it runs), noting when and why in ``extra["recoveries"]``;
    after ``INGESTION_MAX_ATTEMPTS`` it fails, saying so. A ``pending`` document queued longer
    than the task queue's redelivery time whose task was lost (a broker without delivery
    receipts) is queued again. WhatsApp PDFs and images kept pending by versions before the
    ``document_text`` processor are queued for it (``whatsapp.ingest.release_waiting_media``).
    Returns ``(document, what was done)`` pairs. Runs every minute in the worker
    (``ingestion.tasks.recover_stale_documents``) and from ``manage.py recover_documents``.
    """
    from ingestion.tasks import enqueue_ingest

    now = timezone.now()
    done: list[tuple[SourceDocument, str]] = []
    stale = SourceDocument.objects.filter(claimable(now), status=SourceDocument.Status.PROCESSING)
    for document in stale.order_by("id")[:100]:
        owner, attempts = document.lease_owner or "unknown", document.attempts
        what = f"re-queued: its ingest (attempt {attempts}, {owner}) stopped without ending"
        # The document keeps the trace (extra.recoveries), set with the status so no ingest overwrites it.
        recoveries = [*document.extra.get("recoveries", []), {"at": now.isoformat(), "what": what}]
        requeued = SourceDocument.objects.filter(claimable(now), pk=document.pk).update(
            status=SourceDocument.Status.PENDING, lease_owner="", lease_expires_at=None, updated_at=now,
            extra={**document.extra, "recoveries": recoveries},
        )
        if requeued:
            document.refresh_from_db()
            enqueue_ingest(document)
            done.append((document, what))
    exhausted = SourceDocument.objects.filter(
        status=SourceDocument.Status.PROCESSING, attempts__gte=max_attempts(), lease_expires_at__lt=now,
    )
    for document in exhausted.order_by("id")[:100]:
        reason = (f"the ingest stopped without ending {counted(document.attempts, 'time')} (the process was killed, "
                  "ran out of memory or hit the task timeout); the last one was "
                  f"{document.lease_owner or 'unknown'}. Check the worker's log and memory, then re-ingest it")
        if SourceDocument.objects.filter(pk=document.pk, lease_expires_at__lt=now).update(
            lease_owner="recovery", lease_expires_at=now + timedelta(minutes=5)
        ) and record_failure(document, reason):
            done.append((document, "failed: " + reason))
    from whatsapp.ingest import release_waiting_media

    for document in release_waiting_media():
        done.append((document, "queued for document_text: a WhatsApp PDF or image kept for the document processor"))
    requeue_after = now - timedelta(seconds=settings.Q_CLUSTER["retry"])
    # Not a document kept for a processor still to come (a WhatsApp PDF or image: options["awaiting"]).
    lost = SourceDocument.objects.filter(status=SourceDocument.Status.PENDING, updated_at__lt=requeue_after).exclude(
        options__has_key="awaiting")
    for document in lost.order_by("id")[:100]:
        if SourceDocument.objects.filter(pk=document.pk, status=SourceDocument.Status.PENDING,
                                         updated_at=document.updated_at).update(updated_at=now):
            enqueue_ingest(document)
            done.append((document, "queued again: pending longer than the task queue's redelivery time"))
    return done


# Allocations between two young garbage collections during an ingest (Python's default is 700).
INGEST_GC_THRESHOLD = 50_000


@contextmanager
def _fewer_collections():
    """Garbage collection for the length of an ingest, which allocates millions of short-lived
    objects (rows, their attributes, their unpickled copies) and builds no cycles of note: the
    objects older than it are left out of its collections (``gc.freeze``: a tenth of a second
    per 100,000 rows, and fewer pages copied into the reader process), and the young
    generation is collected every ``INGEST_GC_THRESHOLD`` allocations instead of every 700
    (unpickling the reader's 100,000 rows with its default thresholds took three times as
    long as without collections; on the whole ingest the gain is within run-to-run noise). The
    reader process forked inside inherits both."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(INGEST_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@dataclass(slots=True)
class _Outcome:
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    offers_created: int = 0
    rows_seen: int = 0
    currency_defaulted: int = 0
    currency_from_context: int = 0
    skipped: list[RowError] = field(default_factory=list)  # rows that are not offers, with the reason
    skipped_counts: dict[str, int] = field(default_factory=dict)  # reason ("hidden", "sold_out"...) -> rows
    changed: dict[str, int] = field(default_factory=dict)  # extra key of a changed text -> rows
    changed_refs: dict[str, list[str]] = field(default_factory=dict)  # ... -> the first REFS_NAMED of them
    notes: list[str] = field(default_factory=list)  # the processor's notices (``Notice.text``), in order


def _run(document: SourceDocument, processor, path: Path, context: IngestContext, lease: Lease) -> _Outcome:
    outcome = _Outcome()
    attribution = Attribution(document)

    def reject(error: RowError) -> None:
        outcome.error_count += 1
        if len(outcome.errors) < MAX_RECORDED_ERRORS:
            outcome.errors.append(error)

    rows: list[OfferRow] = []
    refs: list[ProductRef] = []
    prepare = partial(_prepare, currency=context.currency, observed_at=first_observed(document))
    with _Transactions() as transactions:
        # While the reader is slow to send rows (a busy machine), the open transaction is still
        # committed for a writer that waits for the lock (on_wait), not only as rows arrive.
        for row, ref, sender in read_ahead(processor.process(path, context), finish=prepare, state=context.stats,
                                           on_wait=transactions.yield_to_waiting):
            if isinstance(row, Notice):
                if len(outcome.notes) < MAX_RECORDED_ERRORS:
                    outcome.notes.append(row.text())
                continue
            outcome.rows_seen += 1
            error = row if isinstance(row, RowError) else attribution.complete(row, sender)
            if error is not None:
                if error.skipped:  # not an offer, and not an error either: recorded with its reason
                    outcome.skipped_counts[error.skipped] = outcome.skipped_counts.get(error.skipped, 0) + 1
                    if len(outcome.skipped) < MAX_RECORDED_ERRORS:
                        outcome.skipped.append(error)
                    continue
                reject(error)
                continue
            for key in CHANGED_TEXT_WARNINGS:
                if key in row.extra:
                    outcome.changed[key] = outcome.changed.get(key, 0) + 1
                    named = outcome.changed_refs.setdefault(key, [])
                    if len(named) < REFS_NAMED:
                        named.append(row.source_ref)
            source = row.extra.get("currency_source")
            if source == "default":
                outcome.currency_defaulted += 1
            elif source == "context":
                outcome.currency_from_context += 1
            rows.append(row)
            refs.append(ref)
            if len(rows) % WAITING_CHECK_ROWS == 0:
                transactions.yield_to_waiting()
            if len(rows) >= transactions.batch_size():
                outcome.offers_created += _write_batch(document, rows, refs, lease, transactions)
                rows, refs = [], []
        if rows:
            outcome.offers_created += _write_batch(document, rows, refs, lease, transactions)
    return outcome


def _write_batch(document: SourceDocument, rows: list[OfferRow], refs: list[ProductRef], lease: Lease,
                 transactions: _Transactions) -> int:
    """One batch, in the open transaction (or a new one), written only while this process owns
    the document; returns how many offers."""
    # Products are decided before the write lock is taken, unless the transaction is still open.
    plans = None if transactions.is_open else plan_offers(rows, refs)
    transactions.begin()
    lease.renew()
    created = persist_offers(document, rows, refs, plans)
    transactions.written(len(rows))
    return created


class _Transactions:
    """The ingest's write transactions, used as ``with``: a batch opens one (``begin``) unless one
    is open, and it is committed after the batch (``written``) when another writer has waited for
    SQLite's write lock since the last check (``pricehub.sqlite.base.WaitingWriters``), when it
    holds ``settings.INGESTION_ROWS_PER_COMMIT`` offers, and at the end; on PostgreSQL, or SQLite
    in memory, after every batch. Leaving the ``with`` on an exception rolls the open one back.
    While other writers keep waiting, batches are smaller (``batch_size``).

    Inside the ``with``, SQLite's checkpoints run beside the batches, one after each commit
    (``pricehub.sqlite.checkpoints``). On PostgreSQL a batch's commit does not wait for its WAL
    to reach the disk (``synchronous_commit = off``): until the document ends its offers are
    hidden, and a crash loses at most the last batches of a document that recovery ingests again
    anyway; the document's final commit is synchronous and makes every batch before it durable.
    """

    def __init__(self):
        self.checkpointer: Checkpointer | None = None
        self._checkpoints = ExitStack()
        connection.ensure_connection()
        self.waiting = WaitingWriters.of(connection) if connection.vendor == "sqlite" else None
        self._open: ExitStack | None = None
        self.rows = 0
        self._contended_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def begin(self) -> None:
        if self._open is not None:
            return
        stack = ExitStack()
        stack.enter_context(transaction.atomic())
        self._open, self.rows = stack, 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")

    def batch_size(self) -> int:
        """``BATCH_SIZE``; ``CONTENDED_BATCH_SIZE`` for ``CONTENDED_SECONDS`` after another writer
        of the SQLite database waited (a waiter then waits for a smaller batch)."""
        return min(CONTENDED_BATCH_SIZE, BATCH_SIZE) if time.monotonic() < self._contended_until else BATCH_SIZE

    def _someone_waited(self) -> bool:
        if self.waiting is not None and self.waiting.since_last():
            self._contended_until = time.monotonic() + CONTENDED_SECONDS
            return True
        return False

    def yield_to_waiting(self) -> None:
        """Commit the open transaction now if another writer has waited for the write lock: called
        while the next batch's rows are read, so a writer waits for at most a few hundred rows
        of reading, not for a whole batch of a slow reader."""
        if self._open is not None and self._someone_waited():
            self.commit()

    def written(self, count: int) -> None:
        self.rows += count
        if self.waiting is None or self.rows >= settings.INGESTION_ROWS_PER_COMMIT or self._someone_waited():
            self.commit()

    def commit(self) -> None:
        if self._open is None:
            return
        stack, self._open = self._open, None
        stack.close()
        if self.checkpointer is not None:
            self.checkpointer.nudge()

    def __enter__(self) -> _Transactions:
        self.checkpointer = self._checkpoints.enter_context(background_checkpoints())
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self.commit()
            elif self._open is not None:
                stack, self._open = self._open, None
                stack.__exit__(*exc)
        finally:
            self._checkpoints.close()


def first_observed(document: SourceDocument) -> datetime:
    """When the prices of a file without times of its own (a spreadsheet) were observed: when its
    content (same sha256) first came in for the same vendor, so that re-ingesting identical content
    repeats that observation instead of making a new one (and adds no price-history point: see
    ``offers.bulk``); else when this document came in."""
    earliest = (
        SourceDocument.objects.filter(sha256=document.sha256, vendor_id=document.vendor_id, id__lt=document.pk)
        .order_by("id").values_list("created_at", flat=True).first()
    )
    return earliest or document.created_at


def _prepare(item: OfferCandidate | RowError | Notice, *, currency: str, observed_at: datetime):
    """``(row or error or notice, product ref, sender)`` for one processor item: the pure part of the pipeline."""
    if isinstance(item, (RowError, Notice)):
        return item, None, ""
    row = normalize_candidate(item, currency=currency, observed_at=observed_at)
    if isinstance(row, RowError):
        return row, None, ""
    return row, ProductRef.of(row.sku, row.description), item.sender


class Attribution:
    """Gives each row its vendor (the run's, else the sender's) and, when the
    source named no currency, one in this order, saying which in
    ``extra["currency_source"]``: the vendor's default (``vendor``); the currency
    this vendor's rows last named in the same document (``context``: a Turkish
    list that writes ``54.999 TL`` on one line and ``82.500`` on the next); else
    ``DEFAULT_CURRENCY`` (``default``). A price that named an ambiguous currency
    (``450 kr``: ``extra["currency_options"]``) takes only one of the currencies it can
    mean, never the site default: without one the row is rejected, saying so."""

    def __init__(self, document: SourceDocument):
        self.vendor = document.vendor
        self._senders: dict[str, Vendor] = {}
        self._last_named: dict[int, str] = {}  # vendor id -> the currency its rows last named

    def complete(self, row: OfferRow, sender: str) -> RowError | None:
        vendor = self.vendor or self._sender_vendor(sender.strip())
        if vendor is None:
            return RowError(row.source_ref, "no vendor: pass --vendor (or map the sender to a vendor)", "vendor", "")
        row.vendor_id = vendor.id
        if row.currency:
            self._last_named[vendor.id] = row.currency
            return None
        allowed = row.extra.get("currency_options")  # the price named an ambiguous currency ("450 kr")
        for code, source in (
            (vendor.default_currency, "vendor"),
            (self._last_named.get(vendor.id, ""), "context"),
            ("" if allowed else settings.DEFAULT_CURRENCY, "default"),
        ):
            if code and (not allowed or code in allowed):
                row.currency, row.extra["currency_source"] = code, source
                return None
        return RowError(
            row.source_ref, f"the price's currency can be {', '.join(allowed)}: pass --currency or set the vendor's "
            "default currency", "currency", "",
        )

    def _sender_vendor(self, sender: str) -> Vendor | None:
        if not sender:
            return None
        if sender not in self._senders:
            self._senders[sender] = vendor_for_sender(sender)
        return self._senders[sender]


def normalize_candidate(candidate: OfferCandidate, *, currency: str = "", observed_at: datetime) -> OfferRow | RowError:
    """Typed values for one candidate, or the ``RowError`` saying which field is wrong.

    Control characters (NUL ...) are removed from the texts (``extra["control_characters_removed"]``
    counts them) and a description longer than ``DESCRIPTION_MAX_CHARS`` is cut
    (``extra["description_cut"]`` is its length): the document warns of both, naming the rows.

    Pure (no database): the currency is the price's own, else the candidate's
    (column, cell format or header), else ``currency`` (the run's ``--currency``), else
    left empty for the vendor's default; ``vendor_id`` is set later.

    A sold-out row is not an offer: a quantity of 0, or a quantity, price, condition or
    stock-status (``extra["status"]``) cell saying so (``sold out``, ``agotado``,
    ``esgotado``, ``нет в наличии``, ``缺货``..., see ``SOLD_OUT_WORDS``) gives a
    ``RowError`` with ``skipped="sold_out"``; one saying "available" without a number
    (``IN_STOCK_WORDS``) is a quantity not given.
    """
    extra = dict(candidate.extra)
    # A processor that knows how the number was written (e.g. a numeric
    # spreadsheet cell passed on as text) settles the separator question.
    decimal_comma = extra.pop("decimal_comma", None)
    status = extra.get("status")
    if status and is_sold_out(status):
        return _sold_out(candidate, "status", status)
    quantity_text = candidate.quantity
    if quantity_text and not quantity_text.isdigit():
        if is_sold_out(quantity_text):
            return _sold_out(candidate, "quantity", quantity_text)
        if is_in_stock(quantity_text):
            quantity_text = ""  # available, amount not given
    price_text, vat = split_vat(candidate.price)  # "£679 +VAT": the price, and VAT excluded
    if vat:
        extra["vat"] = vat
    try:
        money = parse_price(price_text, decimal_comma=decimal_comma)
    except NormalizationError as exc:
        if candidate.price and is_sold_out(candidate.price):
            return _sold_out(candidate, "price", candidate.price)
        return RowError(candidate.ref, str(exc), "price", candidate.price)

    code = money.currency
    if code is None and candidate.currency:
        code = parse_currency(candidate.currency)
        if code is None:
            return RowError(candidate.ref, f"currency {candidate.currency!r} is not known", "currency", candidate.currency)
    if code is None and currency:
        code, extra["currency_source"] = currency, "run"
    if money.options:  # "450 kr": only a currency the text can mean may settle it
        if code is None:
            extra["currency_options"] = list(money.options)
        elif code not in money.options:
            return RowError(
                candidate.ref, f"price {candidate.price!r} names a currency that can be {', '.join(money.options)}, "
                f"not {code}", "currency", candidate.price,
            )

    try:
        quantity = parse_quantity(quantity_text)
    except NormalizationError as exc:
        return RowError(candidate.ref, str(exc), "quantity", candidate.quantity)
    if quantity == 0:
        return _sold_out(candidate, "quantity", candidate.quantity)

    if not (candidate.sku.strip() or candidate.description.strip()):
        return RowError(candidate.ref, "no model/SKU or description", "description", "")

    condition = parse_condition(candidate.condition)
    if condition.code == "unknown" and condition.raw and is_sold_out(condition.raw):
        return _sold_out(candidate, "condition", condition.raw)
    ref, sku, description, condition_raw = candidate.ref, candidate.sku, candidate.description, condition.raw
    if not (ref.isprintable() and sku.isprintable() and description.isprintable() and condition_raw.isprintable()):
        # PostgreSQL refuses NUL; none of them is what the vendor meant to write
        (ref, a), (sku, b), (description, c), (condition_raw, d) = map(
            strip_control_characters, (ref, sku, description, condition_raw)
        )
        if a + b + c + d:
            extra["control_characters_removed"] = a + b + c + d
    description = description.strip()
    if len(description) > DESCRIPTION_MAX_CHARS:
        extra["description_cut"] = len(description)
        description = description[:DESCRIPTION_MAX_CHARS]
    return OfferRow(
        source_ref=ref[:120],
        vendor_id=0,
        sku=sku.strip()[:120],
        description=description,
        price=money.amount,
        currency=code or "",
        quantity=quantity,
        condition=condition.code,
        condition_grade=condition.grade[:10],
        condition_raw=condition_raw[:200],
        observed_at=candidate.observed_at or observed_at,
        extra=extra,
    )


# Cell texts meaning "none left", folded (lower case, no accents, punctuation as spaces), in the
# languages of the header synonyms (en, de, es, fr, pt, it, nl, tr, pl, ru, ar, id, zh).
SOLD_OUT_WORDS = frozenset({
    "sold out", "soldout", "sold", "out of stock", "outofstock", "oos", "no stock", "not available", "unavailable",
    "ausverkauft", "nicht verfugbar", "nicht lieferbar", "nicht auf lager", "vergriffen",
    "agotado", "agotada", "sin stock", "sin existencias", "no disponible",
    "epuise", "epuisee", "rupture", "rupture de stock", "indisponible",
    "esgotado", "esgotada", "sem estoque", "indisponivel", "em falta",
    "esaurito", "esaurita", "non disponibile",
    "uitverkocht", "niet op voorraad", "niet leverbaar", "niet beschikbaar",
    "tukendi", "stokta yok", "stok yok", "yok",
    "wyprzedane", "wyprzedany", "brak", "brak towaru", "brak w magazynie", "niedostepny",
    "нет", "нет в наличии", "нет на складе", "распродано", "продано",
    "نفذ", "نفد", "نفدت", "نفذت الكمية", "نفدت الكمية", "غير متوفر", "نفذ من المخزون",
    "habis", "stok habis", "kosong", "tidak tersedia",
    "缺货", "售罄", "无货", "已售完", "断货",
})
_SOLD_OUT_PUNCTUATION = re.compile(r"[\W_]+")
# "Available, amount not given" in the languages above, beyond what parse_quantity knows.
IN_STOCK_WORDS = frozenset({
    "in stock", "available", "yes", "ready", "var", "mevcut", "stokta var", "stokta", "em estoque", "disponivel",
    "sim", "in voorraad", "op voorraad", "beschikbaar", "disponibile", "in magazzino", "dostepny", "jest",
    "na stanie", "в наличии", "есть", "есть в наличии", "متوفر", "متاح", "tersedia", "ada", "ready stock",
    "有货", "现货", "有",
})


@lru_cache(maxsize=1024)
def is_sold_out(text: str) -> bool:
    """Whether a cell's text says the item is sold out (``"Sold out"``, ``"AGOTADO"``, ``"Нет"``)."""
    folded = " ".join(_SOLD_OUT_PUNCTUATION.sub(" ", strip_accents(text.casefold())).split())
    return folded in SOLD_OUT_WORDS


@lru_cache(maxsize=1024)
def is_in_stock(text: str) -> bool:
    """Whether a quantity cell says "available" without a number (``"Var"``, ``"Em estoque"``, ``"有货"``)."""
    folded = " ".join(_SOLD_OUT_PUNCTUATION.sub(" ", strip_accents(text.casefold())).split())
    return folded in IN_STOCK_WORDS


def _sold_out(candidate: OfferCandidate, field_name: str, value: str) -> RowError:
    return RowError(candidate.ref, f"sold out ({field_name} {value!r}): not an offer", field_name, value,
                    skipped="sold_out")


def plan_offers(offers: list[OfferRow], refs: list[ProductRef]) -> dict[int, MatchPlan]:
    """Decide the products of a batch, reading the database only: ``{vendor id: plan}`` for
    ``persist_offers``, so that the write lock is not held while lines are compared."""
    return {vendor_id: plan_matches(vendor_id, group_refs) for vendor_id, (_, group_refs) in _by_vendor(offers, refs)}


def persist_offers(document: SourceDocument, offers: list[OfferRow], refs: list[ProductRef],
                   plans: dict[int, MatchPlan] | None = None) -> int:
    """Match products (per vendor, by what the offers say of them: ``refs``; with the ``plans``
    of ``plan_offers`` when given), fill in each offer's product, colour, region and how it was
    linked, and bulk-write the offers with their price-history points. Returns how many offers."""
    for vendor_id, (group, group_refs) in _by_vendor(offers, refs):
        links = match_products(vendor_id, group_refs, plan=(plans or {}).get(vendor_id))
        for offer, ref, link in zip(group, group_refs, links):
            apply_link(offer, ref, link)
    insert_offers(offers, source_document_id=document.pk)
    return len(offers)


def _by_vendor(offers: list[OfferRow], refs: list[ProductRef]):
    """``(vendor id, (offers, refs))`` pairs, in the order vendors first appear."""
    groups: dict[int, tuple[list[OfferRow], list[ProductRef]]] = {}
    for offer, ref in zip(offers, refs):
        group = groups.setdefault(offer.vendor_id, ([], []))
        group[0].append(offer)
        group[1].append(ref)
    return groups.items()


# Texts changed on the way in, by the key the offer's extra marks them with: the warning's wording.
CHANGED_TEXT_WARNINGS = {
    "control_characters_removed": "had control characters (NUL and the like) in their text, removed "
                                  "(extra.control_characters_removed counts them)",
    "description_cut": f"had a description longer than {DESCRIPTION_MAX_CHARS:,} characters, cut to that "
                       "(extra.description_cut is its length)",
    # Not a change, a doubt: counted and named the same way.
    "ocr_low_confidence": "read by OCR with a quantity or other number it is unsure of (extra.ocr_low_confidence, "
                          "in %): check them against the page",
}
REFS_NAMED = 10


def _finish(document: SourceDocument, processor_name: str, context: IngestContext, outcome: _Outcome, started: float,
            lease: Lease):
    """Record the outcome on the document: stats, errors, skipped rows, warnings and the status.

    ``succeeded`` needs every row to be an offer or a row that is not one for a recorded
    reason (``extra.skipped``: hidden, filtered, sold out) and every offer's currency to
    come from the source, the run or the vendor. Offers whose currency was guessed (the one
    the vendor named earlier in the file, or the site's ``DEFAULT_CURRENCY``) make the
    document ``partial``, with a warning giving their count in ``extra.warnings``; rejected
    rows do too, and so do texts changed on the way in (``CHANGED_TEXT_WARNINGS``). No offers:
    ``failed``. The status is saved only while this process owns the document (``LeaseLost``
    otherwise): from then on its offers are visible.
    """
    stats = dict(sorted(context.stats.items()))
    stats.update(
        rows_seen=max(outcome.rows_seen, int(context.stats.get("rows_seen", 0))),
        offers_created=outcome.offers_created,
        rows_skipped=outcome.error_count,
        errors=outcome.error_count,
        duration_seconds=round(time.perf_counter() - started, 3),
    )
    if document.started_at and document.created_at:  # how long it waited for a worker (or a retry)
        stats["queued_seconds"] = round(max(0.0, (document.started_at - document.created_at).total_seconds()), 3)
    skipped_total = sum(outcome.skipped_counts.values())
    for reason, count in sorted(outcome.skipped_counts.items()):
        stats[f"rows_{reason}"] = count
    if skipped_total:
        stats["rows_not_offers"] = skipped_total
    if outcome.currency_defaulted:
        stats["currency_defaulted"] = outcome.currency_defaulted
    if outcome.currency_from_context:
        stats["currency_from_context"] = outcome.currency_from_context
    if outcome.error_count > len(outcome.errors):
        stats["errors_not_recorded"] = outcome.error_count - len(outcome.errors)
    warnings = []
    if outcome.currency_from_context:
        warnings.append(
            f"{counted(outcome.currency_from_context, 'offer')} named no currency and took the one the same "
            "vendor named on an earlier line of this file (extra.currency_source = context): a guess; check them, "
            "then set the vendor's default currency or re-ingest with --currency"
        )
    if outcome.currency_defaulted:
        count = outcome.currency_defaulted
        warnings.append(
            f"{counted(count, 'offer')} named no currency (none in the file: no symbol or "
            f"code with the price, no currency column, cell format or header; no --currency; no vendor default "
            f"currency): priced in {settings.DEFAULT_CURRENCY}, the site default. Check them, then set the "
            "vendor's default currency or re-ingest with --currency"
        )
    for key, count in outcome.changed.items():
        named = ", ".join(outcome.changed_refs[key])
        more = f" and {count - REFS_NAMED:,} more" if count > REFS_NAMED else ""
        warnings.append(f"{counted(count, 'offer')} {CHANGED_TEXT_WARNINGS[key]}: {named}{more}")
    extra = {
        **document.extra,
        "errors": [_clean(e.as_dict()) for e in outcome.errors],
        "skipped": [_clean({**e.as_dict(), "reason": e.skipped}) for e in outcome.skipped],
        "warnings": warnings,
        "notes": outcome.notes,
        "stats": stats,
    }
    if outcome.offers_created == 0:
        status = SourceDocument.Status.FAILED
        if outcome.error_count:
            first = outcome.errors[0]
            extra["failure"] = (
                f"no offers: {_all_rows(outcome.error_count)} rejected (first: {first.ref}: {first.message})"
            )
        elif skipped_total:
            first = outcome.skipped[0]
            extra["failure"] = (
                f"no offers: {_all_rows(skipped_total)} skipped as not offers (first: {first.ref}: {first.message})"
            )
        else:
            extra["failure"] = _why_no_offers(document.original_filename, stats)
    elif outcome.error_count or warnings:
        status = SourceDocument.Status.PARTIAL
    else:
        status = SourceDocument.Status.SUCCEEDED
    now = timezone.now()
    with transaction.atomic():
        if not lease.ours().update(processor=processor_name, status=status, extra=extra, finished_at=now,
                                   updated_at=now, lease_owner="", lease_expires_at=None):
            raise LeaseLost(f"document #{document.pk} was taken over by another process before it ended")
    document.refresh_from_db()


def _clean(error: dict[str, str]) -> dict[str, str]:
    """A recorded error or skipped row without control characters (PostgreSQL's JSON refuses NUL)."""
    return {key: strip_control_characters(value)[0] for key, value in error.items()}


def _why_no_offers(filename: str, stats: dict) -> str:
    """The reason an operator reads when a file gave no offers and rejected nothing: for a chat, how
    many messages were read, how many lines had numbers, and a few of those lines with why each was
    not an offer (``stats["not_offers_sample"]``, from the chat processors)."""
    if "messages" not in stats:
        return f"no offers found in {filename}: no row with a price"
    reason = f"no offers found in {filename}: read {counted(stats['messages'], 'message')}"
    with_numbers = stats.get("lines_not_offers", 0)
    if not with_numbers:
        return f"{reason}, and no line had a number (a price list needs prices)"
    examples = "; ".join(
        f'{line["ref"]} "{line["line"]}" ({line["reason"]})' for line in stats.get("not_offers_sample", [])[:3]
    )
    return f"{reason}; {counted(with_numbers, 'line')} had numbers but none was an offer, e.g. {examples}"


def _all_rows(count: int) -> str:
    """``"the 1 row was"`` / ``"all 12 rows were"``, for the reasons a document made no offers."""
    return "the 1 row was" if count == 1 else f"all {count:,} rows were"


def recent_documents(*, limit: int = 20, status: str = "", vendor_name: str = "") -> Iterable[SourceDocument]:
    documents = SourceDocument.objects.select_related("vendor").order_by("-id")
    if status:
        documents = documents.filter(status=status)
    if vendor_name:
        documents = documents.filter(vendor__name__iexact=vendor_name)
    return documents[:limit]
