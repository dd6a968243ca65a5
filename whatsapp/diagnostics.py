"""The WhatsApp diagnostics (``GET /chat/tools/diagnostics``): one snapshot of the ingest's and the
extraction's figures for the UI and the synthetic harness, as JSON or a CSV download, and the
recent log lines (``whatsapp.events``) as a text download.

Where each figure comes from:

- ``totals.accepted``, ``created``, ``deduped``, ``extracted``, ``errors``, ``media_failed``,
  ``auth_failures``, ``forbidden``, ``rate_limited``, ``signature_failures``: the counters
  (``whatsapp.counters.totals()``), which only ever grow: ``extracted`` counts messages whose
  extraction finished (state extracted or no_offers), ``errors`` those whose extraction failed;
- ``totals.messages``, ``pending``, ``offers``, ``chats``, ``unmapped_chats``: counted from the
  tables now (``offers``: offers linked to a message; ``unmapped_chats``: chats with no vendor);
- per chat (the ``CHATS_LISTED`` most recently seen chats; ``chats_total`` counts them all):
  ``messages``, ``pending``, ``extracted`` (messages in state extracted or no_offers), ``errors``
  (messages in state failed) and ``offers`` (offers whose message is in the chat) are the chat's
  rows now, grouped by chat in the database; ``lag_seconds`` is how long the chat's oldest pending
  message has waited (now - ``Chat.first_pending_at``), ``None`` when nothing is pending;
- ``lag_seconds``: the ingest-to-extraction latency of the messages extracted in the last
  ``LAG_WINDOW`` (``extracted_at`` minus when the message last arrived: ``received_at``, or
  ``edited_at`` for a message a collector edited), over the ``LAG_SAMPLE`` most recently
  extracted of them: ``p50``, ``p95`` (nearest rank), ``max`` and ``samples`` (how many it is
  computed over); ``None`` values and ``samples`` 0 when none.

A snapshot costs ``QUERIES`` database queries whatever the number of chats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db.models import Count, F, Min, Q
from django.utils import timezone

from offers.models import Offer
from whatsapp import counters, events
from whatsapp.metrics import iso
from whatsapp.models import Chat, IngestEvent, Message

CHATS_LISTED = 500  # the most recently seen chats a snapshot lists
LAG_WINDOW = timedelta(hours=1)  # messages extracted this recently make the lag percentiles
LAG_SAMPLE = 10_000  # at most this many of them (the most recently extracted)
QUERIES = 8  # database queries a snapshot costs, whatever the number of chats
LOG_LINES = events.RECENT_EVENTS  # the log download's lines (the most recent, newest last)

FINISHED = (Message.Extraction.EXTRACTED, Message.Extraction.NO_OFFERS)
TOTAL_NAMES = ("messages", "pending", "extracted", "errors", "offers", "chats", "unmapped_chats", "accepted",
               "created", "deduped", "media_failed", "auth_failures", "forbidden", "rate_limited",
               "signature_failures")


@dataclass(frozen=True)
class ChatDiagnostics:
    """One listed chat: PriceHub's ``chat_id`` (the Chat's pk), its title, its vendor's name
    (``None`` when unmapped), its messages (all, pending, extracted or no_offers, failed), the
    offers made from them, when it was last extracted and is next due (``None``: never / not
    due) and ``lag_seconds`` (how long its oldest pending message has waited; ``None`` when none
    is pending)."""

    chat_id: int
    title: str
    vendor: str | None
    messages: int
    pending: int
    extracted: int
    errors: int
    offers: int
    last_extracted_at: datetime | None
    extract_due_at: datetime | None
    lag_seconds: float | None

    @property
    def mapped(self) -> bool:
        """Whether an operator mapped the chat to a vendor."""
        return self.vendor is not None


@dataclass(frozen=True)
class Lag:
    """Ingest-to-extraction latency in seconds (``p50``, ``p95``: nearest rank; ``max``), over
    ``samples`` messages; the three are ``None`` when ``samples`` is 0."""

    p50: float | None
    p95: float | None
    max: float | None
    samples: int


@dataclass(frozen=True)
class Snapshot:
    """The diagnostics at ``generated_at`` (aware, UTC): ``totals`` (``{name: n}`` for every name
    of ``TOTAL_NAMES``), ``lag``, the listed ``chats`` (most recently seen first, at most
    ``CHATS_LISTED``) and ``chats_total`` (every chat)."""

    generated_at: datetime
    totals: dict[str, int]
    lag: Lag
    chats: list[ChatDiagnostics]
    chats_total: int


def percentile(ordered: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` in (0, 1]) of the ascending ``ordered`` values;
    ``None`` when there are none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _seconds(delta: timedelta) -> float:
    return round(max(delta.total_seconds(), 0.0), 3)  # a clock step back never makes a negative lag


def lag_of(durations: list[float]) -> Lag:
    """``Lag`` of ``durations`` (seconds, any order)."""
    ordered = sorted(durations)
    return Lag(p50=percentile(ordered, 0.50), p95=percentile(ordered, 0.95), max=ordered[-1] if ordered else None,
               samples=len(ordered))


def collect(*, now: datetime | None = None, chats_listed: int = CHATS_LISTED) -> Snapshot:
    """Read a ``Snapshot`` as of ``now`` (aware; default the clock) in ``QUERIES`` queries (fewer
    when there is no chat), listing the ``chats_listed`` most recently seen chats (a chat never
    seen sorts last; among equals, the newest first)."""
    now = now or timezone.now()
    counted = counters.totals()  # 1
    chat_figures = Chat.objects.aggregate(  # 2
        chats=Count("id"), unmapped_chats=Count("id", filter=Q(vendor__isnull=True)))
    message_figures = Message.objects.aggregate(  # 3
        messages=Count("id"), pending=Count("id", filter=Q(extraction_state=Message.Extraction.PENDING)))
    offers = Offer.all_objects.filter(source_message__isnull=False).count()  # 4
    listed = list(  # 5
        Chat.objects.select_related("vendor")
        .only("id", "title", "last_seen_at", "first_pending_at", "last_extracted_at", "extract_due_at",
              "vendor__name")
        .order_by(F("last_seen_at").desc(nulls_last=True), "-id")[:chats_listed]
    )
    by_chat: dict[int, dict] = {}
    offers_by_chat: dict[int, int] = {}
    if listed:
        ids = [chat.pk for chat in listed]
        for row in (  # 6
            Message.objects.filter(chat_id__in=ids).order_by().values("chat_id").annotate(
                messages=Count("id"),
                pending=Count("id", filter=Q(extraction_state=Message.Extraction.PENDING)),
                extracted=Count("id", filter=Q(extraction_state__in=FINISHED)),
                errors=Count("id", filter=Q(extraction_state=Message.Extraction.FAILED)),
                oldest_pending=Min("received_at", filter=Q(extraction_state=Message.Extraction.PENDING)),
            )
        ):
            by_chat[row["chat_id"]] = row
        offers_by_chat = dict(  # 7
            Offer.all_objects.filter(source_message__chat_id__in=ids).order_by()
            .values("source_message__chat_id").annotate(n=Count("id"))
            .values_list("source_message__chat_id", "n")
        )
    recent = list(  # 8
        Message.objects.filter(extraction_state__in=FINISHED, extracted_at__gte=now - LAG_WINDOW,
                               extracted_at__lte=now)
        .order_by("-extracted_at").values_list("received_at", "edited_at", "extracted_at")[:LAG_SAMPLE]
    )
    lag = lag_of([_seconds(extracted - max(received, edited or received)) for received, edited, extracted in recent])

    chats = []
    for chat in listed:
        row = by_chat.get(chat.pk, {})
        pending = row.get("pending", 0)
        waiting_since = chat.first_pending_at or row.get("oldest_pending")
        chats.append(ChatDiagnostics(
            chat_id=chat.pk, title=chat.title, vendor=chat.vendor.name if chat.vendor_id else None,
            messages=row.get("messages", 0), pending=pending, extracted=row.get("extracted", 0),
            errors=row.get("errors", 0), offers=offers_by_chat.get(chat.pk, 0),
            last_extracted_at=chat.last_extracted_at, extract_due_at=chat.extract_due_at,
            lag_seconds=_seconds(now - waiting_since) if pending and waiting_since else None,
        ))
    totals = {**counted, "messages": message_figures["messages"], "pending": message_figures["pending"],
              "offers": offers, "chats": chat_figures["chats"], "unmapped_chats": chat_figures["unmapped_chats"]}
    return Snapshot(generated_at=now, totals={name: totals[name] for name in TOTAL_NAMES}, lag=lag, chats=chats,
                    chats_total=chat_figures["chats"])


# --------------------------------------------------------------------------- JSON


def as_json(snapshot: Snapshot) -> dict:
    """The JSON answer: ``{"generated_at", "totals": {name: n for TOTAL_NAMES}, "lag_seconds":
    {"p50", "p95", "max", "samples"}, "chats_total", "chats_listed_max", "chats": [{"chat_id",
    "chat_title", "vendor", "mapped", "messages", "pending", "extracted", "offers", "errors",
    "last_extracted_at", "extract_due_at", "lag_seconds"}]}`` (times ISO 8601 UTC ending ``Z``,
    lags in seconds)."""
    return {
        "generated_at": iso(snapshot.generated_at),
        "totals": dict(snapshot.totals),
        "lag_seconds": {"p50": snapshot.lag.p50, "p95": snapshot.lag.p95, "max": snapshot.lag.max,
                        "samples": snapshot.lag.samples},
        "chats_total": snapshot.chats_total,
        "chats_listed_max": CHATS_LISTED,
        "chats": [
            {"chat_id": chat.chat_id, "chat_title": chat.title, "vendor": chat.vendor, "mapped": chat.mapped,
             "messages": chat.messages, "pending": chat.pending, "extracted": chat.extracted, "offers": chat.offers,
             "errors": chat.errors, "last_extracted_at": iso(chat.last_extracted_at),
             "extract_due_at": iso(chat.extract_due_at), "lag_seconds": chat.lag_seconds}
            for chat in snapshot.chats
        ],
    }


# --------------------------------------------------------------------------- CSV

CHAT_COLUMNS = ("chat_id", "chat_title", "vendor", "mapped", "messages", "pending", "extracted", "offers", "errors",
                "last_extracted_at", "extract_due_at", "lag_seconds")
# Filled on the TOTAL row only: the figures that exist for every chat at once.
TOTAL_ONLY_COLUMNS = ("chats", "unmapped_chats", "accepted", "created", "deduped", "media_failed", "auth_failures",
                      "forbidden", "rate_limited", "signature_failures", "lag_p50", "lag_p95", "lag_max",
                      "lag_samples", "chats_listed", "generated_at")
CSV_COLUMNS = CHAT_COLUMNS + TOTAL_ONLY_COLUMNS
TOTAL_ROW = "TOTAL"


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def csv_rows(snapshot: Snapshot) -> list[list]:
    """The CSV's rows under ``CSV_COLUMNS`` (not yet neutralised; ``offers.views.csv_response``
    does it): first the ``TOTAL`` row (``chat_id`` "TOTAL"; messages, pending, extracted,
    offers and errors from ``totals``; every ``TOTAL_ONLY_COLUMNS`` cell filled, ``lag_*`` the
    latency percentiles, ``chats_listed`` the chats listed below), then one row per
    listed chat with its ``CHAT_COLUMNS`` (the total-only cells empty). ``None`` is an empty
    cell, booleans ``true``/``false``, times ISO 8601 UTC."""
    totals, lag = snapshot.totals, snapshot.lag
    total_row = [TOTAL_ROW, "", "", "", totals["messages"], totals["pending"], totals["extracted"],
                 totals["offers"], totals["errors"], "", "", ""]
    total_row += [totals[name] for name in TOTAL_ONLY_COLUMNS[:10]]
    total_row += [lag.p50, lag.p95, lag.max, lag.samples, len(snapshot.chats), iso(snapshot.generated_at)]
    rows = [total_row]
    blanks = [""] * len(TOTAL_ONLY_COLUMNS)
    for chat in snapshot.chats:
        rows.append([chat.chat_id, chat.title, chat.vendor, chat.mapped, chat.messages, chat.pending,
                     chat.extracted, chat.offers, chat.errors, iso(chat.last_extracted_at),
                     iso(chat.extract_due_at), chat.lag_seconds, *blanks])
    return [[_cell(value) for value in row] for row in rows]


def csv_filename(snapshot: Snapshot) -> str:
    """``whatsapp-diagnostics-<UTC stamp>.csv``, the stamp ``YYYYMMDDTHHMMSSZ`` of ``generated_at``."""
    return f"whatsapp-diagnostics-{_stamp(snapshot.generated_at)}.csv"


def _stamp(moment: datetime) -> str:
    return iso(moment.replace(microsecond=0)).replace("-", "").replace(":", "")


# --------------------------------------------------------------------------- log lines

LOG_FIELDS = ("time_utc", "level", "kind", "chat_id", "request_id", "message")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def log_field(value) -> str:
    """One field of a log line: ``-`` when empty or ``None``; a backslash, tab, line feed and
    carriage return written ``\\\\``, ``\\t``, ``\\n``, ``\\r``; any other control or line- or
    paragraph-separator character written ``\\uXXXX``; so a field never splits its line or the
    line's fields."""
    text = "" if value is None else str(value)
    if not text:
        return "-"
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or char in "\u2028\u2029\u0085":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def log_line(event: IngestEvent) -> str:
    """``event`` as one line (no line feed): ``LOG_FIELDS`` separated by tabs, each through
    ``log_field``; the time ISO 8601 UTC with milliseconds."""
    moment = event.created_at.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return "\t".join(log_field(value) for value in (moment, event.level, event.kind, event.chat_id,
                                                       event.request_id, event.message))


def log_text(*, limit: int = LOG_LINES) -> str:
    """The log download: a header line (``#`` then ``LOG_FIELDS`` tab-separated), then the latest
    ``limit`` lines of ``whatsapp.events.recent``, newest last, each ending with a line feed."""
    lines = ["#" + "\t".join(LOG_FIELDS)]
    lines += [log_line(event) for event in reversed(events.recent(limit))]
    return "\n".join(lines) + "\n"


def log_filename(now: datetime) -> str:
    """``whatsapp-diagnostics-log-<UTC stamp>.txt``."""
    return f"whatsapp-diagnostics-log-{_stamp(now)}.txt"
