"""Turning a WhatsApp chat's stored messages into offers: debounced, claimed, idempotent.

When a chat is due
    Each accepted message pushes ``Chat.extract_due_at`` to now + ``WHATSAPP_EXTRACT_DEBOUNCE_SECONDS``
    and keeps ``Chat.first_pending_at`` (``whatsapp.ingest``). A chat is due when it is armed
    (``extract_due_at`` set) and either its chat went quiet (``extract_due_at <= now``) or it has
    waited ``WHATSAPP_EXTRACT_MAX_WAIT_SECONDS`` since its first pending message
    (``first_pending_at + max wait <= now``: a chat that never goes quiet is still extracted), and
    no live claim holds it. A chat whose claim lapsed (``extract_claimed_until`` past: its worker
    died mid-run) is due again. ``due_chats(now)`` lists them; ``next_due_at(chat)`` says when one is.

Claiming
    ``claim_chat`` is one conditional ``UPDATE``: it disarms the chat (``extract_due_at`` and
    ``first_pending_at`` to NULL) and sets a claim (``extract_claimed_until`` = now +
    ``CLAIM_LEASE_SECONDS``, ``extract_claimed_by`` = a token) only where the row is still due and
    unclaimed. Two workers on any hosts race for the row in the database: PostgreSQL re-checks the
    condition on the row the winner wrote (so the loser's ``UPDATE`` changes nothing), SQLite runs
    writers one at a time. A message that arrives after the claim arms the chat again, so a second
    run follows; ``release_claim`` ends a claim (only the claimant's, by its token).

A run (``extract_latest``, ``full_rerun``)
    The chat's pending messages (``extraction_state`` pending: new ones, edited ones, and those a
    full rerun marked) at most ``CHUNK_MESSAGES`` at a time, each chunk in one transaction that
    locks its messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's transactions are
    IMMEDIATE, so writers run one at a time): the messages' earlier offers and their price-history
    points are deleted, their text goes through the transcript files' text offer extractor
    (``ingestion.processors.whatsapp_text.message_offers`` over ``ingestion.text_offers``), the
    candidates through ``ingestion.services.normalize_candidate``, the vendor and currency
    attribution (``ingestion.services.Attribution``: the vendor's default currency, else the one
    the same vendor named earlier in the run, else ``DEFAULT_CURRENCY``), product matching
    (``offers.matching``) and the bulk writer with price history (``offers.bulk.insert_offers``),
    each offer linked to its message (``Offer.source_message``) and observed at its ``sent_at``.
    The messages' states, the chat's columns and the ``extracted``/``errors`` counters are written
    in the same transaction: a crash mid-chunk leaves nothing of it, a crash between chunks leaves
    the remaining messages pending, and a re-run replaces a message's offers rather than adding to
    them. So no run, repeated or interrupted, ever doubles an offer.

Vendors
    A message's offers go to its sender's vendor (a ``whatsapp_sender`` ``VendorAlias``, as the
    transcript import and the chat page's sender mapping use), else the chat's vendor, else, for a
    chat nobody mapped yet, a provisional vendor named after the chat (``Vendor.is_provisional``,
    kept in ``Chat.provisional_vendor``), so a fresh install's first message gives an offer. A sender
    alias to a provisional vendor (made for an attachment while the chat was unmapped) gives way to
    the chat's real vendor. Mapping the chat and running ``full_rerun`` moves the chat's offers to
    the mapped vendor.

Message states
    ``extracted`` (offers made; ``extraction_error`` lists rejected lines, if any), ``no_offers``,
    ``skipped`` (no text: an attachment only, read as a document) and ``failed`` (an exception, or
    every candidate rejected: ``extraction_error`` says why). Counters (``whatsapp.counters``, per
    chat): ``extracted`` += messages that ended extracted or no_offers, ``errors`` += failed ones.
    ``Chat.extracted_count`` is the number of offers the chat's messages have (created minus
    replaced), ``extracted_through_message_id`` the highest message id extracted,
    ``last_extracted_at`` the latest run. Each run writes one ``events`` line (kind "extraction";
    counts and timings only, never a message's text).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from ingestion.processors.whatsapp_text import TEXT, ChatMessage, message_offers
from ingestion.services import Attribution, normalize_candidate
from ingestion.types import IngestContext, OfferCandidate, RowError
from offers.bulk import OfferRow, delete_offers, insert_offers
from offers.matching import ProductRef, apply_link, match_products
from offers.models import Offer, Vendor, VendorAlias
from offers.vendors import alias_key
from whatsapp import counters, events
from whatsapp.models import Chat, IngestEvent, Message

log = logging.getLogger(__name__)

CHUNK_MESSAGES = 50  # messages per transaction (SQLite's write lock is held for one chunk at a time)
SYNC_MAX_MESSAGES = 2000  # a synchronous run (endpoint, admin) extracts at most this many; the poller does the rest
CLAIM_LEASE_SECONDS = 300  # a claim lapses this long after its last renewal (renewed every chunk)
RETRY_SECONDS = 30  # a run that failed as a whole (the database) is tried again this long after
ERROR_CHARS = 500  # of a message's extraction_error
REJECTIONS_NAMED = 3

LATEST, FULL = "latest", "full"


class ChatNotFound(LookupError):
    """No chat has this id."""


# --------------------------------------------------------------------------- settings


def debounce_seconds() -> int:
    """``WHATSAPP_EXTRACT_DEBOUNCE_SECONDS``: a chat is due this long after its latest message."""
    return int(settings.WHATSAPP_EXTRACT_DEBOUNCE_SECONDS)


def max_wait_seconds() -> int:
    """``WHATSAPP_EXTRACT_MAX_WAIT_SECONDS``: a chat is due at the latest this long after its first
    pending message, however busy it stays."""
    return int(settings.WHATSAPP_EXTRACT_MAX_WAIT_SECONDS)


# --------------------------------------------------------------------------- due chats and claims


def _claim_free(now: datetime) -> Q:
    """No live claim: never claimed, released, or lapsed."""
    return Q(extract_claimed_until__isnull=True) | Q(extract_claimed_until__lt=now)


def due_filter(now: datetime) -> Q:
    """The chats due at ``now`` (see the module's docstring), as a ``Q`` on ``Chat``."""
    ripe = Q(extract_due_at__isnull=False) & (
        Q(extract_due_at__lte=now) | Q(first_pending_at__lte=now - timedelta(seconds=max_wait_seconds()))
    )
    return _claim_free(now) & (ripe | Q(extract_claimed_until__lt=now))


def due_chats(now: datetime | None = None, *, limit: int = 100) -> list[int]:
    """The ids of the chats due at ``now`` (default: the clock), longest due first, at most ``limit``.
    Reads the partial indexes on ``extract_due_at`` and ``extract_claimed_until`` only."""
    now = now or timezone.now()
    return list(Chat.objects.filter(due_filter(now)).order_by(F("extract_due_at").asc(nulls_first=True), "id")
                .values_list("id", flat=True)[:limit])


def any_pending() -> bool:
    """Whether any chat waits for an extraction (armed, or held by a claim): one read of the
    partial indexes."""
    return Chat.objects.filter(Q(extract_due_at__isnull=False) | Q(extract_claimed_until__isnull=False)).exists()


def next_due_at(chat: Chat) -> datetime | None:
    """When ``chat`` is (or was) due: the earlier of its quiet time (``extract_due_at``) and its
    maximum wait (``first_pending_at`` + ``WHATSAPP_EXTRACT_MAX_WAIT_SECONDS``); the end of a claim
    that will lapse; ``None`` when nothing is pending for it."""
    if chat.extract_due_at is not None:
        moments = [chat.extract_due_at]
        if chat.first_pending_at is not None:
            moments.append(chat.first_pending_at + timedelta(seconds=max_wait_seconds()))
        return min(moments)
    return chat.extract_claimed_until


def new_token() -> str:
    """A claim's token: host, process and a random part (unique across hosts)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claim_chat(chat_id: int, *, now: datetime | None = None, token: str = "", force: bool = False) -> str | None:
    """Claim chat ``chat_id`` for a run, in one conditional ``UPDATE``: only while it is due at
    ``now`` (with ``force``: whenever no live claim holds it, as the endpoint and the admin's
    buttons do), disarming it. Returns the claim's token (``token``, or a new one), ``None`` when
    the chat was not claimable (not due, claimed by another worker, gone)."""
    now = now or timezone.now()
    token = token or new_token()
    rows = Chat.objects.filter(pk=chat_id).filter(_claim_free(now) if force else due_filter(now))
    claimed = rows.update(extract_due_at=None, first_pending_at=None, extract_claimed_by=token[:100],
                          extract_claimed_until=now + timedelta(seconds=CLAIM_LEASE_SECONDS))
    return token if claimed else None


def renew_claim(chat_id: int, token: str, *, now: datetime | None = None) -> bool:
    """Push the claim ``token`` holds on the chat ``CLAIM_LEASE_SECONDS`` on; False if it is not
    held (lapsed and taken by another worker)."""
    now = now or timezone.now()
    return bool(Chat.objects.filter(pk=chat_id, extract_claimed_by=token[:100])
                .update(extract_claimed_until=now + timedelta(seconds=CLAIM_LEASE_SECONDS)))


def release_claim(chat_id: int, token: str) -> bool:
    """End the claim ``token`` holds on the chat (another worker's claim is left alone)."""
    return bool(Chat.objects.filter(pk=chat_id, extract_claimed_by=token[:100])
                .update(extract_claimed_until=None, extract_claimed_by=""))


def rearm(chat_id: int, *, now: datetime | None = None, after: float = 0) -> None:
    """Make the chat due again ``after`` seconds from ``now`` unless it is armed already (a run that
    stopped on a database error, a full rerun's marked messages)."""
    now = now or timezone.now()
    Chat.objects.filter(pk=chat_id).update(
        extract_due_at=Coalesce(F("extract_due_at"), Value(now + timedelta(seconds=after))),
        first_pending_at=Coalesce(F("first_pending_at"), Value(now)),
    )


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    """What one run did: ``messages`` handled, of which ``extracted`` finished (extracted or
    no_offers), ``errors`` failed, ``skipped`` had no text; ``offers`` created, ``replaced`` earlier
    offers deleted; ``pending`` messages of the chat still pending after it (a bounded run's rest,
    or messages that came meanwhile); ``seconds`` taken."""

    chat_id: int
    scope: str = LATEST
    trigger: str = ""
    messages: int = 0
    extracted: int = 0
    errors: int = 0
    skipped: int = 0
    offers: int = 0
    replaced: int = 0
    pending: int = 0
    seconds: float = 0.0
    vendors: set[int] = field(default_factory=set)

    def summary(self) -> str:
        """The run's log line (no message text)."""
        what = "full rerun" if self.scope == FULL else "extract latest"
        line = (f"chat {self.chat_id}: {what} ({self.trigger or 'direct'}): {self.messages} message(s), "
                f"{self.extracted} extracted, {self.errors} failed, {self.skipped} skipped, {self.offers} offer(s)")
        if self.replaced:
            line += f", {self.replaced} earlier offer(s) replaced"
        if self.pending:
            line += f", {self.pending} still pending"
        return line + f" in {self.seconds * 1000:.0f} ms"


def extract_latest(chat_id: int, *, trigger: str = "", token: str = "", max_messages: int | None = None,
                   now: datetime | None = None) -> Run:
    """Extract the chat's pending messages now (see the module's docstring). ``token``: the claim
    the caller holds (the poller's); without one the chat is claimed here when no other worker
    holds it (and run anyway when one does: the message locks keep runs apart), and released at
    the end. ``max_messages`` bounds the run (the rest stays pending and the chat armed). Raises
    ``ChatNotFound``; a database error propagates after the chat is armed again."""
    return _run(chat_id, scope=LATEST, trigger=trigger, token=token, max_messages=max_messages, now=now)


def full_rerun(chat_id: int, *, trigger: str = "", max_messages: int | None = None,
               now: datetime | None = None) -> Run:
    """Re-extract every message of the chat (after a mapping change): each is marked pending and
    the chat armed (in one transaction), then extracted as ``extract_latest`` does, each message's
    earlier offers and price-history points replaced, so nothing is doubled and the offers go to
    the vendor the mapping names now. A bounded or interrupted rerun is finished by the poller."""
    with transaction.atomic():
        if not Chat.objects.filter(pk=chat_id).exists():
            raise ChatNotFound(f"no WhatsApp chat has id {chat_id}")
        Message.objects.filter(chat_id=chat_id).exclude(extraction_state=Message.Extraction.PENDING).update(
            extraction_state=Message.Extraction.PENDING, extraction_error="")
        rearm(chat_id, now=now)
    return _run(chat_id, scope=FULL, trigger=trigger, token="", max_messages=max_messages, now=now)


def _run(chat_id: int, *, scope: str, trigger: str, token: str, max_messages: int | None,
         now: datetime | None) -> Run:
    started = time.perf_counter()
    run = Run(chat_id, scope=scope, trigger=trigger)
    if not Chat.objects.filter(pk=chat_id).exists():
        raise ChatNotFound(f"no WhatsApp chat has id {chat_id}")
    own_claim = False
    if not token:
        token = claim_chat(chat_id, now=now, force=True) or ""
        own_claim = bool(token)
    upto = Message.objects.filter(chat_id=chat_id).order_by("-id").values_list("id", flat=True).first() or 0
    limit = max_messages if max_messages is not None else None
    try:
        while limit is None or run.messages < limit:
            size = CHUNK_MESSAGES if limit is None else min(CHUNK_MESSAGES, limit - run.messages)
            if not _chunk(chat_id, upto, size, run, now):
                break
            if token:
                renew_claim(chat_id, token, now=now)
    except Exception as exc:
        rearm(chat_id, now=now, after=RETRY_SECONDS)
        run.seconds = time.perf_counter() - started
        events.record("extraction", f"{run.summary()}; stopped: {type(exc).__name__}: {str(exc)[:300]}",
                      level=IngestEvent.Level.ERROR, chat_id=chat_id)
        log.exception("WhatsApp extraction of chat %s stopped", chat_id)
        raise
    finally:
        if own_claim:
            release_claim(chat_id, token)
    run.pending = Message.objects.filter(chat_id=chat_id, extraction_state=Message.Extraction.PENDING).count()
    if run.pending and limit is not None and run.messages >= limit:
        rearm(chat_id, now=now)  # the poller extracts the rest
    run.seconds = time.perf_counter() - started
    events.record("extraction", run.summary(), level=IngestEvent.Level.ERROR if run.errors else IngestEvent.Level.INFO,
                  chat_id=chat_id)
    return run


def _locked_pending(chat_id: int, upto: int, size: int) -> list[Message]:
    """Up to ``size`` pending messages of the chat (ids up to ``upto``), locked for this transaction
    (PostgreSQL: rows another run holds are skipped; SQLite: the transaction holds the write lock)."""
    rows = Message.objects.filter(chat_id=chat_id, extraction_state=Message.Extraction.PENDING, id__lte=upto)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return list(rows.order_by("id")[:size])


def _chunk(chat_id: int, upto: int, size: int, run: Run, now: datetime | None) -> bool:
    """Extract one chunk in one transaction; False when no pending message was left to take."""
    with transaction.atomic():
        messages = _locked_pending(chat_id, upto, size)
        if not messages:
            return False
        at = now or timezone.now()
        chat = Chat.objects.select_related("vendor", "provisional_vendor").get(pk=chat_id)
        earlier = list(Offer.all_objects.filter(source_message_id__in=[m.pk for m in messages])
                       .values_list("id", flat=True))
        delete_offers(earlier)
        vendors = _Vendors(chat)
        attributions: dict[int, Attribution] = {}
        written: list[tuple[Message, list[OfferRow], list[ProductRef]]] = []
        for message in messages:
            rows, refs = _message_rows(message, vendors, attributions)
            if rows:
                written.append((message, rows, refs))
        created = _persist(written)
        finished = failed = 0
        for message in messages:
            # The first extraction of what arrived (or of an edit) only: a full rerun's does not
            # count, or the diagnostics' ingest-to-extraction lag would measure the rerun.
            if message.extracted_at is None or (message.edited_at and message.edited_at > message.extracted_at):
                message.extracted_at = at
            if message.extraction_state in (Message.Extraction.EXTRACTED, Message.Extraction.NO_OFFERS):
                finished += 1
            elif message.extraction_state == Message.Extraction.FAILED:
                failed += 1
            else:
                run.skipped += 1
        Message.objects.bulk_update(messages, ["extraction_state", "extraction_error", "extracted_at"])
        Chat.objects.filter(pk=chat_id).update(
            extracted_count=Greatest(F("extracted_count") + Value(created - len(earlier)), Value(0)),
            extracted_through_message_id=Greatest(F("extracted_through_message_id"), Value(messages[-1].pk)),
            last_extracted_at=at,
        )
        counters.add({"extracted": finished, "errors": failed}, chat_id=chat_id)  # last: the totals row is shared
    run.messages += len(messages)
    run.extracted += finished
    run.errors += failed
    run.offers += created
    run.replaced += len(earlier)
    run.vendors.update(offer.vendor_id for _, rows, _ in written for offer in rows)
    return True


class _VendorOnly:
    """What ``Attribution`` reads of a document: its vendor."""

    def __init__(self, vendor: Vendor):
        self.vendor = vendor


def _message_rows(message: Message, vendors: _Vendors, attributions: dict[int, Attribution]
                  ) -> tuple[list[OfferRow], list[ProductRef]]:
    """The offers of one message (its state and error set on it): pure reading, plus the vendor."""
    message.extraction_error = ""
    if not message.text.strip():
        message.extraction_state = Message.Extraction.SKIPPED
        return [], []
    try:
        vendor = vendors.for_sender(message.sender)
        attribution = attributions.get(vendor.pk)
        if attribution is None:
            attribution = attributions[vendor.pk] = Attribution(_VendorOnly(vendor))
        rows, refs, rejected = [], [], []
        for item in message_items(message):
            row = item if isinstance(item, RowError) else normalize_candidate(
                item, observed_at=message.sent_at)
            if not isinstance(row, RowError):
                row = attribution.complete(row, "") or row
            if isinstance(row, RowError):
                if not row.skipped:
                    rejected.append(row)
                continue
            rows.append(row)
            refs.append(ProductRef.of(row.sku, row.description))
    except Exception as exc:  # one message's bug never stops the others
        log.exception("WhatsApp message %s: extraction failed", message.pk)
        message.extraction_state = Message.Extraction.FAILED
        message.extraction_error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        return [], []
    if rejected:
        named = "; ".join(f"{error.ref}: {error.message}" for error in rejected[:REJECTIONS_NAMED])
        more = f" (and {len(rejected) - REJECTIONS_NAMED} more)" if len(rejected) > REJECTIONS_NAMED else ""
        message.extraction_error = f"{len(rejected)} line(s) rejected: {named}{more}"[:ERROR_CHARS]
    if rows:
        message.extraction_state = Message.Extraction.EXTRACTED
    elif rejected:
        message.extraction_state = Message.Extraction.FAILED
    else:
        message.extraction_state = Message.Extraction.NO_OFFERS
    return rows, refs


def message_items(message: Message) -> list[OfferCandidate | RowError]:
    """The candidates (and ``RowError``s: a message over the length limits) the transcript
    files' extractor finds in one stored message: refs ``message <id> line <n>``, observed at its
    ``sent_at``, its sender as the author. Pure: reads no database."""
    context = IngestContext(filename=f"WhatsApp message {message.pk}")
    chat_message = ChatMessage(line_no=1, sent_at=message.sent_at, author=message.sender, body=message.text,
                               kind=TEXT, body_line=1, message_id=str(message.pk))
    return list(message_offers([chat_message], context))


def _persist(written: list[tuple[Message, list[OfferRow], list[ProductRef]]]) -> int:
    """Match products and write the offers of a chunk (per vendor, as ``ingestion.services.persist_offers``
    does), each linked to its message; a message whose offers cannot be written (a matching
    conflict, a value the database refuses) is retried alone and, failing again, marked failed.
    Returns how many offers were written."""
    if not written:
        return 0
    try:
        with transaction.atomic():
            return _write(written)
    except Exception:
        if len(written) == 1:
            message = written[0][0]
            log.exception("WhatsApp message %s: its offers could not be written", message.pk)
            message.extraction_state = Message.Extraction.FAILED
            message.extraction_error = "its offers could not be written (see the worker's log)"
            return 0
    return sum(_persist([one]) for one in written)


def _write(written: list[tuple[Message, list[OfferRow], list[ProductRef]]]) -> int:
    by_vendor: dict[int, list[tuple[OfferRow, ProductRef]]] = {}
    for _, rows, refs in written:
        for row, ref in zip(rows, refs):
            by_vendor.setdefault(row.vendor_id, []).append((row, ref))
    for vendor_id, pairs in by_vendor.items():
        links = match_products(vendor_id, [ref for _, ref in pairs])
        for (row, ref), link in zip(pairs, links):
            apply_link(row, ref, link)
    rows = [row for _, message_rows, _ in written for row in message_rows]
    ids = insert_offers(rows)
    position = 0
    for message, message_rows, _ in written:
        mine = ids[position:position + len(message_rows)]
        position += len(message_rows)
        Offer.all_objects.filter(id__in=mine).update(source_message_id=message.pk)
    return len(ids)


# --------------------------------------------------------------------------- vendors


class _Vendors:
    """The vendor of each sender of one chat (see the module's docstring), looked up once per run."""

    def __init__(self, chat: Chat):
        self.chat = chat
        self._by_sender: dict[str, Vendor] = {}

    def for_sender(self, sender: str) -> Vendor:
        key = alias_key(sender) if sender else ""
        if key not in self._by_sender:
            self._by_sender[key] = vendor_for_message(self.chat, sender)
        return self._by_sender[key]


def sender_vendor(sender: str) -> Vendor | None:
    """The vendor a sender is mapped to (its ``whatsapp_sender`` alias), or ``None``; creates nothing."""
    if not sender or not alias_key(sender):
        return None
    alias = (VendorAlias.objects.filter(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=alias_key(sender))
             .select_related("vendor").first())
    return alias.vendor if alias else None


def vendor_for_message(chat: Chat, sender: str) -> Vendor:
    """The vendor a message of ``chat`` from ``sender`` is attributed to: the sender's mapped vendor,
    else the chat's vendor, else the sender's provisional one, else the chat's provisional vendor
    (made now if it has none)."""
    return attributed_vendor(sender_vendor(sender), chat) or provisional_vendor(chat)


def attributed_vendor(mapped: Vendor | None, chat: Chat) -> Vendor | None:
    """The vendor of a message whose sender is mapped to ``mapped`` (or ``None``): ``mapped`` unless
    provisional, else the chat's vendor, else ``mapped``, else the chat's provisional vendor if it
    has one yet (``None`` otherwise: ``vendor_for_message`` makes it)."""
    if mapped is not None and not mapped.is_provisional:
        return mapped
    return chat.vendor if chat.vendor_id else mapped or chat.provisional_vendor


def provisional_name(chat: Chat) -> str:
    """The provisional vendor's name: the chat's title (or id) and ``(WhatsApp)``."""
    title = " ".join((chat.title or chat.external_id or f"chat {chat.pk}").split())
    return f"{title[:180]} (WhatsApp)"


def provisional_vendor(chat: Chat) -> Vendor:
    """The chat's provisional vendor (``Vendor.is_provisional``), made and stored in
    ``Chat.provisional_vendor`` on first need; named by ``provisional_name``, with the chat's id
    added when another vendor has that name. Race-free: the chat's column is set only where it is
    empty, and a run that loses the race uses the winner's vendor."""
    if chat.provisional_vendor_id and chat.provisional_vendor is not None:
        return chat.provisional_vendor
    name = provisional_name(chat)
    if Vendor.objects.filter(name__iexact=name).exists():
        name = f"{name} #{chat.pk}"
    try:
        with transaction.atomic():
            vendor = Vendor.objects.create(name=name, is_provisional=True,
                                           notes=f"Made for the unmapped WhatsApp chat #{chat.pk}: map the chat to "
                                                 "a vendor and run a full rerun to move its offers.")
    except IntegrityError:  # the same name, made meanwhile by another run of this chat
        vendor = Vendor.objects.get(name__iexact=name)
    if not Chat.objects.filter(pk=chat.pk, provisional_vendor__isnull=True).update(provisional_vendor=vendor):
        winner = Chat.objects.filter(pk=chat.pk).values_list("provisional_vendor_id", flat=True).first()
        if winner and winner != vendor.pk:
            if not vendor.offers.exists():
                vendor.delete()
            vendor = Vendor.objects.get(pk=winner)
    chat.provisional_vendor = vendor
    return vendor


# --------------------------------------------------------------------------- the poller's step


def extract_due_chats(now: datetime | None = None, *, limit: int = 100) -> list[Run]:
    """One poll: claim each chat due at ``now`` (``claim_chat``; a chat another worker claims first
    is skipped) and extract its pending messages, releasing the claim after. A run that fails on
    the database is logged and its chat armed again (``RETRY_SECONDS``); the others go on. Returns
    the runs made."""
    runs = []
    for chat_id in due_chats(now, limit=limit):
        token = claim_chat(chat_id, now=now)
        if token is None:
            continue
        try:
            runs.append(extract_latest(chat_id, trigger="auto", token=token, now=now))
        except ChatNotFound:
            pass
        except Exception:  # logged and recorded by the run; the chat is armed again
            pass
        finally:
            release_claim(chat_id, token)
    return runs
