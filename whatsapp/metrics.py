"""The WhatsApp ingest's metrics (``GET /metrics``, ``GET /metrics/whatsapp``): one snapshot of the
counters, read from the database, answered as JSON or in Prometheus' text format; and who may read
them (a staff session, checked by the view, or a token from ``METRICS_TOKEN``).

The counters live in the database (``whatsapp.counters``), so every gunicorn worker on every host
answers the same figures and no multiprocess directory is needed. A snapshot costs a fixed
number of queries whatever the number of chats (``QUERIES``): the totals, the listed chats with
their vendors, those chats' counters, the number of chats, and the recent failures. It lists the
``CHATS_LISTED`` most recently seen chats (``chats_total`` says how many there are), which also
bounds the ``chat_id`` label's values in the Prometheus text.

Prometheus names (text exposition format 0.0.4, written here: it is a few lines of text):

- ``pricehub_whatsapp_<name>_total``: a counter per name of ``whatsapp.counters.NAMES``, the totals
  over every chat (the JSON's ``totals``), no label;
- ``pricehub_whatsapp_chat_<name>_total{chat_id}``: the same counters per listed chat (a family of
  its own, so that summing one family never counts a message twice);
- ``pricehub_whatsapp_chat_info{chat_id, chat_title, vendor} 1``, ``pricehub_whatsapp_chat_messages``
  and ``pricehub_whatsapp_chat_last_seen_timestamp_seconds`` (gauges per listed chat);
- ``pricehub_whatsapp_chats`` (every chat), ``pricehub_whatsapp_metrics_chats_listed`` and
  ``pricehub_whatsapp_metrics_generated_timestamp_seconds`` (gauges).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from whatsapp import counters
from whatsapp.models import Chat

CHATS_LISTED = 500  # the most recently seen chats a snapshot lists (JSON ``chats``, Prometheus series)
QUERIES = 5  # database queries a snapshot costs, whatever the number of chats
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "pricehub_whatsapp_"

HELP = {
    "accepted": "Messages accepted by the WhatsApp ingest (valid messages of authenticated batches).",
    "created": "Messages stored (accepted and not a repeat inside the content-hash window).",
    "deduped": "Messages not stored again: the same content inside WHATSAPP_CONTENT_HASH_WINDOW_HOURS.",
    "extracted": "Offers extracted from WhatsApp messages.",
    "errors": "Messages or extractions that failed.",
    "auth_failures": "Ingest requests refused 401 (missing or invalid X-Ingest-Token).",
    "forbidden": "Ingest requests refused 403 (address not allowed, invalid or stale signature).",
    "rate_limited": "Ingest requests refused 429 (the client's token bucket was empty).",
    "signature_failures": "Ingest requests whose X-Signature was missing, invalid or outside the TTL.",
    "media_failed": "Attachments refused or not stored (bad base64, over WHATSAPP_MEDIA_MAX_BYTES...).",
}


@dataclass(frozen=True)
class ChatCounters:
    """One listed chat: PriceHub's ``chat_id`` (the Chat's pk), its title, its vendor's name (``None``
    when unmapped), ``{name: value}`` for every counter name, when a message last came
    (``None``: never) and how many messages it holds."""

    chat_id: int
    title: str
    vendor: str | None
    counters: dict[str, int]
    last_seen_at: datetime | None
    message_count: int


@dataclass(frozen=True)
class Snapshot:
    """The counters at ``generated_at`` (aware, UTC): ``totals`` ``{name: value}``, the listed
    ``chats`` (most recently seen first, at most ``CHATS_LISTED``), ``chats_total`` (every chat)
    and ``recent_failures`` (``whatsapp.counters.recent_failures()``: newest first, 50)."""

    generated_at: datetime
    totals: dict[str, int]
    chats: list[ChatCounters]
    chats_total: int
    recent_failures: list[dict]


def collect(*, chats_listed: int = CHATS_LISTED) -> Snapshot:
    """Read a ``Snapshot`` from the database in ``QUERIES`` queries, listing the ``chats_listed``
    most recently seen chats (a chat never seen sorts last, newest first)."""
    generated_at = timezone.now()
    totals = counters.totals()
    rows = list(
        Chat.objects.select_related("vendor")
        .only("id", "title", "last_seen_at", "message_count", "vendor__name")
        .order_by(F("last_seen_at").desc(nulls_last=True), "-id")[:chats_listed]
    )
    by_chat = counters.per_chat(chat_ids=[chat.pk for chat in rows]) if rows else {}
    zeros = dict.fromkeys(counters.NAMES, 0)
    chats = [
        ChatCounters(
            chat_id=chat.pk, title=chat.title, vendor=chat.vendor.name if chat.vendor_id else None,
            counters=by_chat.get(chat.pk, zeros), last_seen_at=chat.last_seen_at, message_count=chat.message_count,
        )
        for chat in rows
    ]
    return Snapshot(
        generated_at=generated_at, totals=totals, chats=chats, chats_total=Chat.objects.count(),
        recent_failures=counters.recent_failures(),
    )


def iso(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 in UTC ending ``Z`` (``None`` stays ``None``)."""
    if moment is None:
        return None
    return moment.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


def as_json(snapshot: Snapshot) -> dict:
    """The JSON answer: ``{"generated_at", "totals": {name: n}, "chats_total", "chats_listed_max",
    "chats": [{"chat_id", "chat_title", "vendor", <every counter name>, "last_seen_at",
    "message_count"}], "recent_failures": [{"client_id", "chat_title", "status", "reason",
    "request_id", "at"}]}`` (times ISO 8601 UTC)."""
    return {
        "generated_at": iso(snapshot.generated_at),
        "totals": dict(snapshot.totals),
        "chats_total": snapshot.chats_total,
        "chats_listed_max": CHATS_LISTED,
        "chats": [
            {"chat_id": chat.chat_id, "chat_title": chat.title, "vendor": chat.vendor, **chat.counters,
             "last_seen_at": iso(chat.last_seen_at), "message_count": chat.message_count}
            for chat in snapshot.chats
        ],
        "recent_failures": list(snapshot.recent_failures),
    }


def escape_label_value(value: str) -> str:
    """A label value as the text format writes it between double quotes: backslash, double quote
    and line feed escaped (``\\\\``, ``\\"``, ``\\n``)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """A ``# HELP`` text as the text format writes it: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _family(lines: list[str], name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], object]]):
    lines.append(f"# HELP {name} {escape_help(help_text)}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        label_text = ",".join(f'{key}="{escape_label_value(val)}"' for key, val in labels.items())
        lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")


def as_prometheus(snapshot: Snapshot) -> str:
    """The snapshot in Prometheus' text exposition format 0.0.4 (``PROMETHEUS_CONTENT_TYPE``): one
    family per metric named in the module's docstring, each with ``# HELP`` and ``# TYPE``, ending
    with a line feed."""
    lines: list[str] = []
    for name in counters.NAMES:
        _family(lines, f"{PREFIX}{name}_total", "counter", f"{HELP[name]} All chats.",
                [({}, snapshot.totals.get(name, 0))])
    for name in counters.NAMES:
        _family(lines, f"{PREFIX}chat_{name}_total", "counter",
                f"{HELP[name]} Per chat (chat_id: PriceHub's chat id; the {CHATS_LISTED} most recently seen chats).",
                [({"chat_id": str(chat.chat_id)}, chat.counters.get(name, 0)) for chat in snapshot.chats])
    _family(lines, f"{PREFIX}chat_info", "gauge", "A listed chat's title and vendor (empty: not mapped); always 1.",
            [({"chat_id": str(chat.chat_id), "chat_title": chat.title, "vendor": chat.vendor or ""}, 1)
             for chat in snapshot.chats])
    _family(lines, f"{PREFIX}chat_messages", "gauge", "Messages stored for a listed chat.",
            [({"chat_id": str(chat.chat_id)}, chat.message_count) for chat in snapshot.chats])
    _family(lines, f"{PREFIX}chat_last_seen_timestamp_seconds", "gauge",
            "When a listed chat's latest message came (unix seconds); absent for a chat never seen.",
            [({"chat_id": str(chat.chat_id)}, _seconds(chat.last_seen_at))
             for chat in snapshot.chats if chat.last_seen_at is not None])
    _family(lines, f"{PREFIX}chats", "gauge", "Chats known to PriceHub, listed or not.",
            [({}, snapshot.chats_total)])
    _family(lines, f"{PREFIX}metrics_chats_listed", "gauge",
            f"Chats with per-chat series in this answer (the {CHATS_LISTED} most recently seen at most).",
            [({}, len(snapshot.chats))])
    _family(lines, f"{PREFIX}metrics_generated_timestamp_seconds", "gauge",
            "When this answer was read from the database (unix seconds).", [({}, _seconds(snapshot.generated_at))])
    return "\n".join(lines) + "\n"


def _seconds(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


# --------------------------------------------------------------------------- access


def configured_tokens() -> list[bytes]:
    """The tokens of ``METRICS_TOKEN`` (comma-separated, several during a rotation; blanks
    ignored) as UTF-8 bytes; empty when none is configured."""
    return [token.strip().encode("utf-8") for token in (settings.METRICS_TOKEN or "").split(",") if token.strip()]


def header_bytes(value: str) -> bytes:
    """A request header's value as the bytes the client sent: WSGI hands them over decoded as
    Latin-1, so encoding back gives them (a UTF-8 token arrives as its UTF-8 bytes). A value that
    is not Latin-1 (possible only in tests) is encoded as UTF-8 instead; never raises."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def token_is_valid(candidate: bytes) -> bool:
    """Whether ``candidate`` is one of ``configured_tokens()``, compared in constant time
    (``hmac.compare_digest`` on bytes, against every configured token, with no early exit).
    ``False`` when no token is configured or ``candidate`` is empty."""
    valid = False
    for token in configured_tokens():
        valid |= hmac.compare_digest(candidate, token)
    return valid and bool(candidate)
