"""What ``POST /integrations/whatsapp/ingest`` does with a batch once its sender is authenticated
(``whatsapp.auth``): read the body within its limit, parse and check it, find or create the chats,
store each new message once, keep attachments as documents.

Shapes (the contract of issue 11 and the playbook's section 7)::

    {"client_id": str, "messages": [{"chat_title": str, "text": str, "chat_id"?: str, "sender"?: str,
     "sent_at"?: ISO 8601, "message_id"?: str,
     "media"?: {"filename": str, "mime_type": str, "data_base64": str}}]}

    -> {"request_id", "accepted", "created", "edited", "deduped", "skipped",
        "chats": [{"chat_id", "chat_title", "created"}], "errors": [{"index", "detail"}]}

- A body that cannot be a batch (over ``WHATSAPP_INGEST_MAX_BODY_BYTES``: ``BodyTooLarge``;
  not UTF-8, not JSON, nested past what Python parses, no ``client_id``, no ``messages`` list,
  more than ``WHATSAPP_INGEST_MAX_MESSAGES`` messages: ``BadBatch``) is refused whole.
- A bad message (no text nor attachment, a field of the wrong type, a ``sent_at`` that is not
  ISO 8601...) is reported by its index in ``errors`` and skipped; the others land.
- A chat appears on its first message: known by ``chat_id`` when the collector sends one, else by
  ``chat_title`` for that ``client_id`` (``Chat``'s two unique constraints).
- Dedupe: a message's content hash is the sha256 of its chat, sender, text (NFKC, runs of white
  space made one space, letter case kept) and attachment's sha256. The ``ContentFingerprint`` row
  of (chat, hash) is claimed in one statement (insert, or update when its last sighting is older
  than ``WHATSAPP_CONTENT_HASH_WINDOW_HOURS``): only a claimed message is stored, so concurrent
  posts of one batch store each message once, and a replayed request stores nothing. A
  ``message_id`` already stored in the chat is a duplicate too (``Message``'s unique constraint,
  ``ON CONFLICT DO NOTHING``). The database is the arbiter; nothing is checked then inserted.
- An attachment (``media``) is decoded within ``WHATSAPP_MEDIA_MAX_BYTES`` and stored through the
  documents storage as a ``SourceDocument`` linked to its message, registered and queued like an
  upload: a spreadsheet for the processor that reads it, a PDF or an image for ``document_text``
  (OCR, GPT vision). A bad one counts ``media_failed`` and the message's text still lands.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from documents.models import SourceDocument
from whatsapp import counters, events
from whatsapp.models import Chat, ContentFingerprint, Message

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
CLIENT_ID_MAX = 100
CHAT_ID_MAX = 200
CHAT_TITLE_MAX = 300
SENDER_MAX = 200
MESSAGE_ID_MAX = 200
FILENAME_MAX = 255
MIME_TYPE_MAX = 120
SENT_AT_FUTURE_SLACK = timedelta(hours=1)  # a sent_at further ahead of the server's clock is refused
SENT_AT_EARLIEST = datetime(2009, 1, 1, tzinfo=dt_timezone.utc)  # WhatsApp's first year
# SourceDocument.options["awaiting"] of a PDF or image that versions before document_text kept pending
# (release_waiting_media queues them).
AWAITING_DOCUMENT_PROCESSOR = "document_processor"
DOCUMENT_PROCESSOR = "document_text"

_WHITESPACE = re.compile(r"\s+")
_BASE64_WHITESPACE = re.compile(rb"[ \t\r\n]+")
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", re.ASCII)


class BodyTooLarge(Exception):
    """The body is over ``WHATSAPP_INGEST_MAX_BODY_BYTES`` (413); nothing past the limit was read."""


class BadBatch(Exception):
    """The body is not a batch this endpoint takes (400); the message says why."""


# --------------------------------------------------------------------------- the body


def max_body_bytes() -> int:
    """The largest body the endpoint reads: ``WHATSAPP_INGEST_MAX_BODY_BYTES``."""
    return int(settings.WHATSAPP_INGEST_MAX_BODY_BYTES)


def read_body(request) -> bytes:
    """The raw body of ``request`` (a Django ``HttpRequest`` whose body nothing has read yet), read
    from its stream, never more than ``max_body_bytes()`` + 1 bytes. Raises ``BodyTooLarge`` when a
    ``Content-Length`` over the limit is declared (before reading anything) or the body turns out
    longer, ``BadBatch`` for a ``Content-Length`` that is not a number or a body cut short. Django's own
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not apply: ``request.body`` is never touched."""
    limit = max_body_bytes()
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.strip():
        if not declared.strip().isascii() or not declared.strip().isdigit():
            raise BadBatch(f"the Content-Length header {declared[:40]!r} is not a number of bytes")
        if int(declared) > limit:
            raise BodyTooLarge(f"the body is {int(declared):,} bytes; this endpoint reads at most {limit:,} "
                               "(WHATSAPP_INGEST_MAX_BODY_BYTES): send fewer messages or smaller attachments")
    parts, size = [], 0
    while size <= limit:
        try:
            chunk = request.read(min(CHUNK, limit + 1 - size))
        except OSError as exc:  # the client went away mid-body (Django's UnreadablePostError)
            raise BadBatch(f"the body could not be read to its end ({exc})") from None
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise BodyTooLarge(f"the body is over the {limit:,}-byte limit (WHATSAPP_INGEST_MAX_BODY_BYTES): send fewer "
                           "messages or smaller attachments")
    return b"".join(parts)


@dataclass
class Batch:
    """A parsed body: the collector's ``client_id`` and its ``messages`` as sent (each checked later)."""

    client_id: str
    messages: list


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


_CLAIMED_CLIENT_ID = re.compile(rb'"client_id"\s*:\s*"([^"\\]{1,100})"')


def claimed_client_id(raw: bytes) -> str:
    """The ``client_id`` a refused body names (its first ``"client_id": "..."``, read without parsing
    the body, at most 100 characters), "" when none: for the failure record only, never trusted."""
    match = _CLAIMED_CLIENT_ID.search(raw[:1 << 16])
    return match.group(1).decode("utf-8", "replace") if match else ""


def parse_batch(raw: bytes) -> Batch:
    """The batch in ``raw`` (the exact bytes whose signature was checked). Raises ``BadBatch``:
    not UTF-8, not JSON (NaN and Infinity included), nested too deep to parse, not an object,
    ``client_id`` missing, blank, not text or over 100 characters, ``messages`` not a list, or
    more than ``WHATSAPP_INGEST_MAX_MESSAGES`` messages. A key given twice keeps its last value."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBatch(f"the body is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadBatch("the JSON is nested too deeply to be read") from None
    except ValueError as exc:
        raise BadBatch(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadBatch("the body must be a JSON object with client_id and messages")
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise BadBatch("client_id is required: a non-empty string naming the collector")
    if len(client_id) > CLIENT_ID_MAX:
        raise BadBatch(f"client_id is longer than {CLIENT_ID_MAX} characters")
    if "\x00" in client_id or not _is_unicode(client_id):
        raise BadBatch("client_id holds a NUL character or an unpaired surrogate escape")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadBatch("messages is required: a list of messages")
    limit = int(settings.WHATSAPP_INGEST_MAX_MESSAGES)
    if len(messages) > limit:
        raise BadBatch(f"the batch holds {len(messages):,} messages; at most {limit:,} are taken at once "
                       "(WHATSAPP_INGEST_MAX_MESSAGES): send smaller batches")
    return Batch(client_id.strip(), messages)


# --------------------------------------------------------------------------- one message


@dataclass
class Media:
    """An attachment, decoded (``data``, ``sha256``), or the reason it was dropped (``error``)."""

    filename: str = ""
    mime_type: str = ""
    data: bytes = b""
    sha256: str = ""
    error: str = ""


@dataclass(eq=False)
class Incoming:
    """One valid message of a batch, at ``index`` in its ``messages``."""

    index: int
    chat_title: str
    text: str
    chat_id: str = ""
    sender: str = ""
    sent_at: datetime | None = None
    message_id: str = ""
    media: Media | None = None
    chat_pk: int = 0
    content_hash: str = ""

    @property
    def chat_key(self) -> tuple[str, str]:
        """What the chat is known by: ``("id", chat_id)`` or ``("title", chat_title)`` (per client)."""
        return ("id", self.chat_id) if self.chat_id else ("title", self.chat_title)


class Invalid(ValueError):
    """One message cannot be taken; the message says why (reported by index). ``media_error``:
    why its attachment was dropped, when that left it empty."""

    def __init__(self, message: str, *, media_error: str = ""):
        super().__init__(message)
        self.media_error = media_error


def _text_field(message: dict, name: str, limit: int, *, required: bool = False) -> str:
    value = message.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string, not {_json_type(value)}")
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise Invalid(f"{name} contains a NUL character")
    return value


def _is_unicode(value) -> bool:
    """Whether every string in a parsed JSON value is text: ``json.loads`` keeps an unpaired
    surrogate escape (``"\\udfff"``) as is, which no database stores."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__)


def parse_sent_at(value) -> datetime | None:
    """``sent_at`` as an aware datetime (UTC when it names no offset); ``None`` when absent.
    Raises ``Invalid`` for anything but an ISO 8601 string."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"sent_at must be an ISO 8601 string, not {_json_type(value)}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"sent_at {value[:40]!r} is not an ISO 8601 date and time (e.g. 2026-11-30T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)
    try:  # in UTC: an offset such as -18:12 is valid ISO 8601, but PostgreSQL stores offsets up to 15:59 only
        moment = moment.astimezone(dt_timezone.utc)
    except OverflowError:
        raise Invalid(f"sent_at {value[:40]!r} is out of range") from None
    if moment < SENT_AT_EARLIEST:
        raise Invalid(f"sent_at {value[:40]!r} is before {SENT_AT_EARLIEST:%Y}: not a WhatsApp message's time")
    if moment > timezone.now() + SENT_AT_FUTURE_SLACK:
        raise Invalid(f"sent_at {value[:40]!r} is in the future (more than {SENT_AT_FUTURE_SLACK} ahead of the "
                      "server's clock): check the collector's clock and time zone")
    return moment


def decode_media(value) -> Media:
    """The attachment of a message: decoded and hashed, or with ``error`` saying why it was
    dropped (not an object, no filename, not base64, empty, over ``WHATSAPP_MEDIA_MAX_BYTES``: an
    encoded length that must decode past the limit is refused before decoding)."""
    if not isinstance(value, dict):
        return Media(error=f"media must be an object with filename, mime_type and data_base64, not {_json_type(value)}")
    filename, mime_type, data = value.get("filename"), value.get("mime_type", ""), value.get("data_base64")
    if not isinstance(filename, str) or not filename.strip():
        return Media(error="media.filename is required (a string)")
    filename = filename.strip()[:FILENAME_MAX]
    if mime_type is None:
        mime_type = ""
    if not isinstance(mime_type, str) or len(mime_type) > MIME_TYPE_MAX:
        return Media(filename, error="media.mime_type must be a string such as application/pdf")
    mime_type = mime_type.strip().lower().split(";")[0].strip()
    if mime_type and not _MIME_TYPE.fullmatch(mime_type):
        mime_type = ""
    if not isinstance(data, str):
        return Media(filename, mime_type, error="media.data_base64 is required (a base64 string)")
    limit = int(settings.WHATSAPP_MEDIA_MAX_BYTES)
    if not data.isascii():
        return Media(filename, mime_type, error="media.data_base64 is not base64 (it holds non-ASCII characters)")
    encoded = _BASE64_WHITESPACE.sub(b"", data.encode("ascii"))
    if len(encoded) // 4 * 3 - 2 > limit:
        return Media(filename, mime_type, error=f"the attachment is larger than the {limit:,}-byte limit "
                                                "(WHATSAPP_MEDIA_MAX_BYTES)")
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return Media(filename, mime_type, error="media.data_base64 is not valid base64")
    if len(decoded) > limit:
        return Media(filename, mime_type, error=f"the attachment is larger than the {limit:,}-byte limit "
                                                "(WHATSAPP_MEDIA_MAX_BYTES)")
    if not decoded:
        return Media(filename, mime_type, error="the attachment is empty (0 bytes)")
    return Media(filename, mime_type, decoded, hashlib.sha256(decoded).hexdigest())


def check_message(index: int, message) -> Incoming:
    """The message at ``index`` as an ``Incoming``; raises ``Invalid`` when it cannot be taken.
    Unknown keys are ignored. A bad attachment does not make the message invalid unless it has no
    text either (``media.error`` says why the attachment was dropped)."""
    if not isinstance(message, dict):
        raise Invalid(f"a message must be an object, not {_json_type(message)}")
    if not _is_unicode(message):
        raise Invalid("the message holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff alone): valid JSON, "
                      "but no character")
    chat_id = _text_field(message, "chat_id", CHAT_ID_MAX)
    chat_title = _text_field(message, "chat_title", CHAT_TITLE_MAX, required=not chat_id)
    if not chat_title and not chat_id:
        raise Invalid("chat_title is required (or chat_id)")
    text_value = message.get("text")
    if text_value is not None and not isinstance(text_value, str):
        raise Invalid(f"text must be a string, not {_json_type(text_value)}")
    text = (text_value or "").strip()
    if len(text) > settings.INGESTION_MAX_MESSAGE_CHARS:
        raise Invalid(f"text is longer than {settings.INGESTION_MAX_MESSAGE_CHARS:,} characters "
                      "(INGESTION_MAX_MESSAGE_CHARS)")
    if "\x00" in text:
        raise Invalid("text contains a NUL character")
    media = decode_media(message["media"]) if message.get("media") is not None else None
    if not text and (media is None or media.error):
        raise Invalid("the message has neither text nor an attachment"
                      + (f" (its attachment was dropped: {media.error})" if media else ""),
                      media_error=media.error if media else "")
    return Incoming(
        index=index, chat_title=chat_title, text=text, chat_id=chat_id,
        sender=_text_field(message, "sender", SENDER_MAX),
        sent_at=parse_sent_at(message.get("sent_at")),
        message_id=_text_field(message, "message_id", MESSAGE_ID_MAX),
        media=media,
    )


def normalized_text(text: str) -> str:
    """``text`` as the content hash sees it: NFKC, runs of white space one space, trimmed, case kept."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def content_hash(chat_pk: int, sender: str, text: str, media_sha256: str = "") -> str:
    """The dedupe key of a message: hex sha256 over its chat, sender, ``normalized_text`` and
    attachment's sha256 (``""`` without one)."""
    canonical = json.dumps([chat_pk, sender.strip(), normalized_text(text), media_sha256], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- the batch


@dataclass
class Outcome:
    """What a batch did; ``as_json()`` is the 200 answer without its ``request_id``."""

    accepted: int = 0
    created: int = 0
    edited: int = 0
    deduped: int = 0
    chats: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"accepted": self.accepted, "created": self.created, "edited": self.edited, "deduped": self.deduped,
                "skipped": len(self.errors), "chats": self.chats, "errors": self.errors}


def ingest_batch(batch: Batch, *, request_id: str) -> Outcome:
    """Store ``batch``'s messages (see the module's docstring); count ``accepted``, ``created``,
    ``deduped`` and ``media_failed`` (totals and per chat). Database errors propagate."""
    outcome = Outcome()
    incoming: list[Incoming] = []
    for index, message in enumerate(batch.messages):
        try:
            incoming.append(check_message(index, message))
        except Invalid as exc:
            outcome.errors.append({"index": index, "detail": str(exc)})
            if exc.media_error:
                _media_failed(batch.client_id, _title_of(message), request_id, exc.media_error)
    if not incoming:
        return outcome
    chats = _chats_for(batch.client_id, incoming, outcome)
    now = timezone.now()
    for item in incoming:
        item.chat_pk = chats[item.chat_key].pk
        item.content_hash = content_hash(item.chat_pk, item.sender, item.text, item.media.sha256 if item.media else "")
    enqueue: list[SourceDocument] = []
    with transaction.atomic():
        created, edited = _store(batch.client_id, incoming, request_id, now)
        for item, message_pk in created.items():
            if item.media and not item.media.error:
                document = _keep_media(item, chats[item.chat_key], enqueue)
                if document is not None:
                    Message.objects.filter(pk=message_pk).update(media_document=document)
            if item.media and item.media.error:
                Message.objects.filter(pk=message_pk).update(media_error=item.media.error[:300])
        _touch_chats(incoming, created, now, edited)
        if created or edited:  # a chat is pending: the extraction loop runs (queued if none does)
            from whatsapp.tasks import wake

            wake(now)
        events.record("ingest", f"client {batch.client_id!r}: {len(incoming)} accepted, {len(created)} created, "
                      f"{len(edited)} edited, {len(incoming) - len(created) - len(edited)} deduped, "
                      f"{len(outcome.errors)} skipped", request_id=request_id)
        # Last, so that the counters' rows (the totals: every batch's) stay locked only for the commit;
        # counted with the messages they count, in one commit.
        _count(batch.client_id, incoming, created, edited, request_id)
    if enqueue:
        from ingestion.tasks import enqueue_ingest

        for document in enqueue:
            enqueue_ingest(document)
    outcome.accepted = len(incoming)
    outcome.created, outcome.edited = len(created), len(edited)
    outcome.deduped = outcome.accepted - outcome.created - outcome.edited
    return outcome


def _title_of(message: dict) -> str:
    title = message.get("chat_title")
    return title.strip()[:CHAT_TITLE_MAX] if isinstance(title, str) else ""


def _chats_for(client_id: str, incoming: list[Incoming], outcome: Outcome) -> dict[tuple[str, str], Chat]:
    """Every chat the batch names, found or created (in order of first mention), listed in
    ``outcome.chats``. The known ones are read in one query; each new one is made by
    ``chat_for`` (race-free)."""
    wanted: dict[tuple[str, str], Incoming] = {}
    for item in incoming:
        wanted.setdefault(item.chat_key, item)
    ids = [key for kind, key in wanted if kind == "id"]
    titles = [key for kind, key in wanted if kind == "title"]
    known: dict[tuple[str, str], Chat] = {}
    lookup = Q(external_id__in=ids) if ids else Q()
    if titles:
        lookup |= Q(external_id="", client_id=client_id, title__in=titles)
    for chat in Chat.objects.filter(lookup):
        known[("id", chat.external_id) if chat.external_id else ("title", chat.title)] = chat
    chats: dict[tuple[str, str], Chat] = {}
    for key, item in wanted.items():
        chat, created = known.get(key), False
        if chat is None:
            chat, created = chat_for(client_id, item.chat_id, item.chat_title)
        elif item.chat_id and item.chat_title and chat.title != item.chat_title:  # the latest title
            Chat.objects.filter(pk=chat.pk).update(title=item.chat_title)
            chat.title = item.chat_title
        chats[key] = chat
        outcome.chats.append({"chat_id": chat.pk, "chat_title": chat.title, "created": created})
    return chats


def chat_for(client_id: str, chat_id: str, title: str) -> tuple[Chat, bool]:
    """The chat known by ``chat_id`` (any collector's), else by ``title`` for ``client_id``;
    created when new (``(chat, created)``). Race-free: the insert is tried and a conflict with
    another process's insert (the unique constraints) reads the winner's row. A chat known by its
    id takes the latest non-empty title."""
    lookup = {"external_id": chat_id} if chat_id else {"external_id": "", "client_id": client_id, "title": title}
    chat = Chat.objects.filter(**lookup).select_related("vendor").first()
    if chat is None:
        try:
            with transaction.atomic():
                return Chat.objects.create(external_id=chat_id, client_id=client_id, title=title,
                                           is_group=is_group_chat(chat_id)), True
        except IntegrityError:
            chat = Chat.objects.select_related("vendor").get(**lookup)
    if chat_id and title and chat.title != title:
        Chat.objects.filter(pk=chat.pk).update(title=title)
        chat.title = title
    return chat, False


# WhatsApp's chat ids (JIDs): a group's ends in @g.us, a person's in @s.whatsapp.net (or @c.us in older clients).
_DIRECT_CHAT_SUFFIXES = ("@s.whatsapp.net", "@c.us", "@lid")


def is_group_chat(chat_id: str) -> bool:
    """Whether a chat is a group, by its WhatsApp id: a direct chat's id ends in ``@s.whatsapp.net``,
    ``@c.us`` or ``@lid``; a group's (``@g.us``), and a chat known only by its title, count as groups."""
    return not chat_id.lower().endswith(_DIRECT_CHAT_SUFFIXES)


def _adapt(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _store(client_id: str, incoming: list[Incoming], request_id: str, now: datetime
           ) -> tuple[dict[Incoming, int], dict[Incoming, int]]:
    """Claim the fingerprints and insert the messages of the claimed ones (inside the caller's
    transaction); ``({item: new message id}, {item: edited message id})``: the messages created,
    and those whose ``message_id`` was stored with another text (edited: text replaced,
    ``edited_at`` set, pending extraction again). Rows are written in one
    order (chat, hash / chat, message id) so concurrent batches never wait on each other in a
    cycle."""
    firsts: dict[tuple[int, str], Incoming] = {}
    for item in incoming:  # a repeat inside the batch is a duplicate of its first occurrence
        firsts.setdefault((item.chat_pk, item.content_hash), item)
    keys = sorted(firsts)
    fingerprints = connection.ops.quote_name(ContentFingerprint._meta.db_table)
    window_start = now - timedelta(hours=int(settings.WHATSAPP_CONTENT_HASH_WINDOW_HOURS))
    claimed: dict[tuple[int, str], int] = {}  # (chat, hash) -> its fingerprint's id
    with connection.cursor() as cursor:
        for part in _parts(keys, 500):
            cursor.execute(
                f"INSERT INTO {fingerprints} (chat_id, content_hash, last_seen_at, message_id) VALUES "
                + ", ".join(["(%s, %s, %s, NULL)"] * len(part))
                + f" ON CONFLICT (chat_id, content_hash) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
                f"message_id = NULL WHERE {fingerprints}.last_seen_at < %s RETURNING id, chat_id, content_hash",
                [value for chat_pk, digest in part for value in (chat_pk, digest, _adapt(now))] + [_adapt(window_start)],
            )
            claimed.update(((int(chat_pk), digest), int(pk)) for pk, chat_pk, digest in cursor.fetchall())
    to_insert = sorted((firsts[key] for key in claimed), key=lambda item: (item.chat_pk, item.message_id, item.index))
    if not to_insert:
        return {}, {}
    messages = connection.ops.quote_name(Message._meta.db_table)
    columns = ("chat_id", "external_id", "client_id", "sender", "text", "sent_at", "received_at", "content_hash",
               "request_id", "extraction_state", "extraction_error", "media_error")
    by_key = {(item.chat_pk, item.content_hash): item for item in to_insert}
    created: dict[Incoming, int] = {}
    with connection.cursor() as cursor:
        for part in _parts(to_insert, 500):
            cursor.execute(
                f"INSERT INTO {messages} ({', '.join(columns)}) VALUES "
                + ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(part))
                + " ON CONFLICT DO NOTHING RETURNING id, chat_id, content_hash",
                [value for item in part for value in (
                    item.chat_pk, item.message_id, client_id, item.sender, item.text, _adapt(item.sent_at or now),
                    _adapt(now), item.content_hash, request_id, Message.Extraction.PENDING, "", "",
                )],
            )
            for message_pk, chat_pk, digest in cursor.fetchall():
                created[by_key[(int(chat_pk), digest)]] = int(message_pk)
        # A message id already stored with another content is the collector's edit of it: the new
        # text replaces the old, and its offers are replaced at the chat's next extraction.
        edited: dict[Incoming, int] = {}
        for item in to_insert:
            if item.message_id and item not in created:
                cursor.execute(
                    f"UPDATE {messages} SET text = %s, content_hash = %s, sender = %s, edited_at = %s, "
                    "extraction_state = %s, extraction_error = '' "
                    "WHERE chat_id = %s AND external_id = %s AND content_hash <> %s RETURNING id",
                    [item.text, item.content_hash, item.sender, _adapt(now), Message.Extraction.PENDING,
                     item.chat_pk, item.message_id, item.content_hash],
                )
                row = cursor.fetchone()
                if row is not None:
                    edited[item] = int(row[0])
        links = sorted((claimed[(item.chat_pk, item.content_hash)], message_pk)
                       for item, message_pk in (*created.items(), *edited.items()))
        for part in _parts(links, 500):  # each fingerprint names the message it let through
            cursor.execute(
                f"UPDATE {fingerprints} SET message_id = CASE id {' '.join(['WHEN %s THEN %s'] * len(part))} END "
                f"WHERE id IN ({', '.join(['%s'] * len(part))})",
                [value for link in part for value in link] + [fingerprint_pk for fingerprint_pk, _ in part],
            )
    return created, edited


def _parts(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _touch_chats(incoming: list[Incoming], created: dict[Incoming, int], now: datetime,
                 edited: dict[Incoming, int] | None = None) -> None:
    """Each chat of the batch was seen now; one with new messages counts them and is due for
    extraction after ``WHATSAPP_EXTRACT_DEBOUNCE_SECONDS`` (its first pending message's time is
    kept). Chats in id order (the lock order of every batch)."""
    new_by_chat: dict[int, int] = dict.fromkeys(sorted({item.chat_pk for item in incoming}), 0)
    for item in created:
        new_by_chat[item.chat_pk] += 1
    due = now + timedelta(seconds=int(settings.WHATSAPP_EXTRACT_DEBOUNCE_SECONDS))
    grown = [(chat_pk, new) for chat_pk, new in new_by_chat.items() if new]
    pending = sorted({chat_pk for chat_pk, _ in grown} | {item.chat_pk for item in edited or ()})
    table = connection.ops.quote_name(Chat._meta.db_table)
    sql, params = f"UPDATE {table} SET last_seen_at = %s", [_adapt(now)]
    if grown:  # one statement for every chat of the batch (the ORM's Case/When took longer to build than to run)
        whens = " ".join(["WHEN %s THEN %s"] * len(grown))
        among = ", ".join(["%s"] * len(grown))
        sql += f", message_count = message_count + CASE id {whens} ELSE 0 END"
        params += [value for pair in grown for value in pair]
    if pending:  # chats with new or edited messages are due for extraction
        among = ", ".join(["%s"] * len(pending))
        sql += (f", extract_due_at = CASE WHEN id IN ({among}) THEN %s ELSE extract_due_at END"
                f", first_pending_at = CASE WHEN id IN ({among}) THEN COALESCE(first_pending_at, %s) "
                "ELSE first_pending_at END")
        params += pending + [_adapt(due)] + pending + [_adapt(now)]
    sql += f" WHERE id IN ({', '.join(['%s'] * len(new_by_chat))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params + list(new_by_chat))


def _count(client_id: str, incoming: list[Incoming], created: dict[Incoming, int], edited: dict[Incoming, int],
           request_id: str) -> None:
    """Move the counters of each chat (and so the totals: an edit is accepted, neither created nor
    deduped), and record each dropped attachment."""
    per_chat: dict[int, dict[str, int]] = {}
    for item in incoming:
        counts = per_chat.setdefault(item.chat_pk, {"accepted": 0, "created": 0, "deduped": 0, "media_failed": 0})
        counts["accepted"] += 1
        if item not in edited:
            counts["created" if item in created else "deduped"] += 1
        if item.media and item.media.error and item in created:
            counts["media_failed"] += 1
            counters.record_failure(status=200, reason=f"attachment dropped: {item.media.error}", client_id=client_id,
                                    chat_title=item.chat_title or item.chat_id, request_id=request_id)
    counters.add_per_chat(per_chat)


def _media_failed(client_id: str, chat_title: str, request_id: str, reason: str) -> None:
    """Count and record the dropped attachment of a message that was skipped (no chat of its own yet)."""
    counters.add({"media_failed": 1})
    counters.record_failure(status=200, reason=f"attachment dropped: {reason}", client_id=client_id,
                            chat_title=chat_title, request_id=request_id)


# --------------------------------------------------------------------------- attachments


def media_kind(media: Media) -> str:
    """``"document"`` for a PDF or an image the ``document_text`` processor reads (by content:
    ``document_text.content_kind``), ``"ingest"`` for another file a processor reads (a
    spreadsheet), ``""`` for anything else."""
    from ingestion import intake, processors
    from ingestion.processors.document_text import content_kind

    head = media.data[:processors.HEAD_BYTES]
    if content_kind(head):
        return "document"
    if not intake.refusal(head, media.filename):
        return "ingest"
    return ""


def _keep_media(item: Incoming, chat: Chat, enqueue: list) -> SourceDocument | None:
    """Store a created message's attachment as a document (see the module's docstring); ``None``
    (and ``item.media.error`` set) when it cannot be kept. A spreadsheet goes to the processor that
    reads it, a PDF or an image to ``document_text``; either is queued like an upload, filed under
    the vendor the message's offers go to (``_vendor_for``)."""
    from ingestion import services

    media = item.media
    kind = media_kind(media)
    if not kind:
        from documents import storage

        media.error = (f"{storage.display_name(media.filename)}: not a file PriceHub reads (a spreadsheet, a PDF, or "
                       "a PNG, JPEG, WebP or TIFF image)")
        return None
    vendor = _vendor_for(item, chat)  # an offer needs a vendor
    try:
        document = services.register_file(
            io.BytesIO(media.data), media.filename, vendor_name=vendor.name if vendor else "",
            processor=DOCUMENT_PROCESSOR if kind == "document" else "", trigger=SourceDocument.Trigger.WHATSAPP,
        )
    except services.AlreadyIngested as exc:
        return exc.document
    except services.IngestError as exc:
        media.error = str(exc)
        return None
    enqueue.append(document)
    return document


def release_waiting_media() -> list[SourceDocument]:
    """Queue the PDFs and images that earlier versions kept pending for a document processor to come
    (``options["awaiting"]``): each gets ``document_text``, the vendor its message's offers go to,
    and a task. Returns them. Runs with the documents' recovery
    (``ingestion.services.recover_stale_documents``, every minute); a no-op once none is left."""
    from ingestion.tasks import enqueue_ingest

    released = []
    waiting = SourceDocument.objects.filter(status=SourceDocument.Status.PENDING,
                                            options__awaiting=AWAITING_DOCUMENT_PROCESSOR)
    for document in waiting.order_by("id")[:100]:
        message = Message.objects.select_related("chat").filter(media_document=document).order_by("id").first()
        vendor = document.vendor
        if vendor is None and message is not None:
            from whatsapp.extraction import vendor_for_message

            vendor = vendor_for_message(message.chat, message.sender)
        options = {key: value for key, value in document.options.items() if key != "awaiting"}
        if SourceDocument.objects.filter(pk=document.pk, status=SourceDocument.Status.PENDING,
                                         options__awaiting=AWAITING_DOCUMENT_PROCESSOR).update(
                processor=DOCUMENT_PROCESSOR, vendor=vendor, options={"currency": "", "options": {}, **options},
                updated_at=timezone.now()):
            document.refresh_from_db()
            enqueue_ingest(document)
            released.append(document)
    return released


def _vendor_for(item: Incoming, chat: Chat):
    """The vendor an attachment is filed under, as its message's offers are
    (``whatsapp.extraction.vendor_for_message``: the sender's mapped vendor, else the chat's,
    else the sender's or the chat's provisional one)."""
    from whatsapp.extraction import vendor_for_message

    return vendor_for_message(chat, item.sender)
