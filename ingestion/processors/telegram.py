"""The ``telegram`` processor: Telegram chats (a Telegram Desktop copy, or the JSON export) into offers.

Vendors post the same price lists on Telegram as on WhatsApp. Both forms go
through the same text offer extractor as ``whatsapp_text`` (its
``message_offers``: ``ingestion.text_offers.extract_offers`` per message, split
across two processes), with the same ``ChatMessage``, stats and options.
With ``--option prefer_llm=true`` and ``ENABLE_OPENAI`` that loop sends the
lines to the LLM pass instead (``ingestion.llm``); a JSON export is read in
batches of 5,000 messages, each its own LLM pass (its own
``OPENAI_MAX_CALLS_PER_DOCUMENT`` and notice).

Telegram Desktop copy (``.txt``)
    Selecting messages in Telegram Desktop and copying them gives, per message,
    a line ``Sender name, [12.09.2025 10:02]`` and the body on the lines below,
    a blank line between messages. The date is in the copying computer's
    locale (``12.09.2025``, ``9/12/2025``, ``2025-09-12``; a 12-hour time with
    ``AM``/``PM`` or any day-period word ``whatsapp_text`` knows); day/month
    order is decided once per file as in ``whatsapp_text`` (and
    ``--option day_first`` overrides it). Every message is a text message (the
    copy carries no media or system lines); its line numbers are the file's.
    ``whatsapp_text`` hands such a file to this module when it finds no
    WhatsApp header in it (``--processor whatsapp_text`` on a Telegram copy).

Telegram JSON export (``result.json``, Telegram Desktop's "Export chat history" in JSON)
    ``{"name", "type", "id", "messages": [{"id", "type": "message" | "service",
    "date": "2025-09-12T10:02:00", "date_unixtime", "from", "from_id", "text":
    str | [str | {"type", "text", ...}], "text_entities", "edited"?, "photo"? /
    "file"? / "media_type"? / "poll"? / "location_information"? ...}]}``
    (format as written by Telegram Desktop's exporter; see its
    ``export_output_json.cpp``). ``text`` is joined from its parts. ``service``
    messages are system messages (no offers); a message with a photo, file or
    other media is a media message whose caption is its body; ``poll`` and
    ``location_information`` give the poll and location kinds; ``edited``
    sets ``edited``. The sender is ``from`` (else ``from_id``); the message
    time is ``date``, the wall time Telegram wrote, made aware in the
    ``timezone`` option's zone like ``whatsapp_text`` (``date_unixtime`` when
    ``date`` is missing). Offers refer to ``message <id> line <n>`` and carry
    ``extra["message_id"]``.

    The file is streamed: the ``messages`` array is decoded one message at a
    time (``json.JSONDecoder.raw_decode`` over a 1 MiB text window) and
    extracted in batches of 5,000, so memory stays bounded by a batch, not the
    file (the ingest limit is 50 MiB; ``json.load`` would hold every message as
    Python objects, several times the file's size). One message may take
    ``INGESTION_MAX_MESSAGE_CHARS`` x 8 characters of JSON; a file with a
    longer one is refused, saying so. A Desktop copy is read like a WhatsApp
    export (``ingestion.chat_text.read_chat_text``: encodings, line limit). An export of a whole
    account (``chats.list[*].messages``) is read the same way: every
    ``"messages": [`` array in the file is read in turn.

Detection
    ``detect(path, head)`` gives 97 to a text whose first non-blank line is a
    Desktop-copy header (40 when one appears further down, less than
    ``whatsapp_text`` gives any file with a WhatsApp header), 95 to JSON whose
    head holds a ``"messages"`` array of Telegram-shaped messages
    (``"date_unixtime"``, or ``"from_id"`` with ``"type": "message"``/
    ``"service"``), and 0 to anything else (a WhatsApp export, a JSON file of
    another kind).

Stats: ``chat_format`` (``telegram_desktop`` or ``telegram_json``), and the
counters of ``whatsapp_text`` (``messages``, ``text_messages``,
``system_messages``, ``media_omitted``, ``edited``, ``offers_found`` ...);
``lines`` and ``date_order`` for a Desktop copy, ``chat_name`` for JSON.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from ingestion.chat_markers import strip_invisible
from ingestion.chat_text import ChatText, decode_head, max_message_chars, read_chat_text
from ingestion.processors.whatsapp_text import (  # one implementation of each idea, shared with WhatsApp
    _AMPM,
    _SP,
    LOCATION,
    MEDIA,
    POLL,
    SYSTEM,
    TEXT,
    ChatMessage,
    ParsedTranscript,
    _decide_day_first,
    _read_date,
    _read_time,
    _timezone,
    message_offers,
    transcript_items,
)
from ingestion.types import IngestContext, Item, RowError

__all__ = [
    "TelegramProcessor", "looks_like_desktop_copy", "parse_desktop_copy", "iter_json_messages",
    "process_desktop_text", "processor",
]

# --------------------------------------------------------------------------- Telegram Desktop copy

_DESKTOP_HEADER = re.compile(
    rf"^[\ufeff\u200e\u200f]*(?P<author>[^\n]{{1,120}}?),{_SP}\[{_SP}?"
    rf"(?P<a>\d{{1,4}})[./\-](?P<b>\d{{1,2}})[./\-](?P<c>\d{{2,4}}),?{_SP}"
    rf"(?P<hour>\d{{1,2}})[:.](?P<minute>\d{{2}})(?:[:.](?P<second>\d{{2}}))?(?:{_SP}?(?P<ampm>{_AMPM}))?"
    rf"{_SP}?\]{_SP}*$",
    re.MULTILINE,
)


def looks_like_desktop_copy(text: str) -> bool:
    """True when the first non-blank line of ``text`` is a Telegram Desktop header (``Name, [date time]``).

    Only that line is looked at (a whole file's lines are never split out for it).
    """
    start = 0
    while text.startswith("\ufeff", start):
        start += 1
    first = _NON_BLANK.search(text, start)
    if first is None:
        return False
    start = max(start, text.rfind("\n", start, first.start()) + 1)
    end = text.find("\n", first.start())
    for line in text[start:end if end >= 0 else len(text)].splitlines():
        if line.strip():
            return _DESKTOP_HEADER.fullmatch(line.rstrip("\r")) is not None
    return False


_NON_BLANK = re.compile(r"\S")


def parse_desktop_copy(text: str, *, day_first: bool | None = None, tz: tzinfo | None = None) -> ParsedTranscript:
    """The messages of a Telegram Desktop copy (see the module docstring), as ``whatsapp_text`` returns them.

    ``tz`` is the zone of the copying computer (default UTC); ``day_first``
    overrides the inferred day/month order. A header whose date or time is not
    valid is body text. Lines before the first header are ``orphan_lines``.
    """
    tz = tz or timezone.utc
    text = text.lstrip("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    result = ParsedTranscript(lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1))
    candidates = []  # (match, date, time)
    for match in _DESKTOP_HEADER.finditer(text):
        date = _read_date(match["a"], match["b"], match["c"])
        time = _read_time(match["hour"], match["minute"], match["second"], match["ampm"])
        if date is not None and time is not None:
            candidates.append((match, date, time))
    ambiguous = [(date[0], date[1], date[2]) for _, date, _ in candidates if not date[3]]
    if day_first is not None:
        result.day_first, result.date_order = day_first, "option"
    elif ambiguous:
        result.day_first, result.date_order = _decide_day_first(ambiguous)
    order_day_first = result.day_first is not False

    headers = []  # (match, sent_at, line number)
    line_no, counted = 1, 0
    for match, (year, p, q, year_first), (hour, minute, second) in candidates:
        day, month = (q, p) if year_first or not order_day_first else (p, q)
        try:
            sent_at = datetime(year, month, day, hour, minute, second, tzinfo=tz)
        except ValueError:
            continue
        line_no += text.count("\n", counted, match.start())
        counted = match.start()
        headers.append((match, sent_at, line_no))
    for position, (match, sent_at, line_no) in enumerate(headers):
        end = headers[position + 1][0].start() if position + 1 < len(headers) else len(text)
        body = text[match.end() + 1:end].rstrip()
        author = strip_invisible(match["author"]).replace("\u00a0", " ")
        result.messages.append(ChatMessage(line_no, sent_at, author, body, TEXT, False, line_no + 1))
    first = headers[0][0].start() if headers else len(text)
    result.orphan_lines = [(n, line) for n, line in enumerate(text[:first].split("\n"), 1) if line.strip()]
    return result


def process_desktop_text(chat: ChatText, context: IngestContext, *, day_first: bool | None, tz: tzinfo) -> Iterator[Item]:
    """Yield the offers and errors of a Telegram Desktop copy read as ``chat`` (``chat_text.read_chat_text``:
    its replaced bytes and cut lines are errors too)."""
    transcript = parse_desktop_copy(chat.text, day_first=day_first, tz=tz)
    chat.text = ""  # the messages hold what is needed of it
    yield from transcript_items(transcript, chat, context, chat_format="telegram_desktop", header="Telegram message")


# --------------------------------------------------------------------------- Telegram JSON export

_MESSAGES_KEY = re.compile(r'"messages"\s*:\s*\[')
_NAME_KEY = re.compile(r'"name"\s*:\s*("(?:[^"\\]|\\.)*")')
_WINDOW = 1 << 20  # characters decoded per read
_BATCH = 5000  # messages extracted together
_JSON_PER_MESSAGE_CHAR = 8  # characters of JSON a message may take per character of its text (escapes, fields)
_MEDIA_KEYS = ("photo", "file", "media_type", "sticker_emoji", "contact_information")


def iter_json_messages(
    handle: io.TextIOBase, *, window: int = _WINDOW, max_message: int | None = None
) -> Iterator[dict | str]:
    """The objects of every ``"messages": [...]`` array in the JSON text read from ``handle``, one at a time.

    Before each array's messages, the chat's ``"name"`` (when the text before
    the array gives one) is yielded as a ``str``. Memory is bounded by
    ``window`` plus the largest message, which may take ``max_message``
    characters of JSON (default ``INGESTION_MAX_MESSAGE_CHARS`` times
    ``_JSON_PER_MESSAGE_CHAR``, for escapes and the message's other fields).
    Raises ``ValueError`` when the text ends inside an array, holds something
    that is not JSON there, or a message longer than that.
    """
    if max_message is None:
        max_message = max(max_message_chars() * _JSON_PER_MESSAGE_CHAR, window)
    decoder = json.JSONDecoder()
    buffer, position, eof = "", 0, False

    def fill(more: int = window) -> bool:
        nonlocal buffer, position, eof
        chunk = handle.read(more)
        if not chunk:
            eof = True
            return False
        buffer, position = buffer[position:] + chunk, 0
        return True

    def grow(problem: str = "") -> bool:
        """More text for a message not yet whole: as much again as is pending (so a long message is
        decoded a few times, not once per window), up to ``max_message`` characters of JSON."""
        pending = len(buffer) - position
        if pending > max_message:
            raise ValueError(
                f"a message in the messages array is not valid JSON ({problem or 'not ended'}) within "
                f"{max_message:,} characters, the most one may take (INGESTION_MAX_MESSAGE_CHARS x "
                f"{_JSON_PER_MESSAGE_CHAR}); check the file, or raise the limit"
            )
        return fill(max(window, pending))

    while True:
        match = _MESSAGES_KEY.search(buffer, position)
        if match is None:
            # keep a tail that may hold the start of the key and the chat name before it
            position = max(position, len(buffer) - 4096)
            if not fill():
                return
            continue
        names = _NAME_KEY.findall(buffer, max(0, match.start() - 4096), match.start())
        if names:
            yield json.loads(names[-1])
        position = match.end()
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if position >= len(buffer):
                if not fill():
                    raise ValueError("the JSON ends inside the messages array (file cut off?)")
                continue
            if buffer[position] == "]":
                position += 1
                break
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if grow(exc.msg):
                    continue
                raise ValueError(f"not valid JSON in the messages array: {exc.msg}") from None
            if end == len(buffer) and not eof and grow():
                continue  # a number or literal may go on in the next window; decode it again whole
            position = end
            if isinstance(value, dict):
                yield value


def _json_text(value) -> str:
    """Telegram's ``text``: a string, or a list of strings and ``{"type", "text"}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in value
                       if isinstance(part, (str, dict)))
    return ""


def _json_time(message: dict, tz: tzinfo) -> datetime | None:
    date = message.get("date")
    if isinstance(date, str):
        try:
            moment = datetime.fromisoformat(date)
        except ValueError:
            moment = None
        if moment is not None:
            return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    unix = message.get("date_unixtime")
    try:
        return datetime.fromtimestamp(int(unix), tz)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _json_message(message: dict, tz: tzinfo) -> ChatMessage | None:
    """The ``ChatMessage`` of one exported message, or ``None`` when it has no usable time."""
    sent_at = _json_time(message, tz)
    if sent_at is None:
        return None
    message_id = str(message.get("id", ""))
    body = _json_text(message.get("text"))
    if message.get("type") == "service":
        return ChatMessage(0, sent_at, "", body, SYSTEM, False, 1, "", message_id)
    author = message.get("from") or message.get("from_id") or ""
    author = strip_invisible(str(author))
    edited = "edited" in message or "edited_unixtime" in message
    if "poll" in message:
        kind, placeholder = POLL, "poll"
    elif "location_information" in message:
        kind, placeholder = LOCATION, "location"
    elif any(key in message for key in _MEDIA_KEYS):
        kind = MEDIA
        placeholder = str(message.get("media_type") or ("photo" if "photo" in message else "file"))
    else:
        kind, placeholder = TEXT, ""
    return ChatMessage(0, sent_at, author, body, kind, edited, 1, placeholder, message_id)


def _process_json(path: Path, context: IngestContext, tz: tzinfo) -> Iterator[Item]:
    stats = context.stats
    stats["chat_format"] = "telegram_json"
    batch: list[ChatMessage] = []
    done = 0
    with open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace") as handle:
        for value in iter_json_messages(handle):
            if isinstance(value, str):
                stats["chat_name"] = value
                continue
            message = _json_message(value, tz)
            if message is None:
                yield RowError(f"message {value.get('id', '?')}", "no usable date", value=str(value.get("date", ""))[:200])
                continue
            batch.append(message)
            if len(batch) >= _BATCH:
                yield from message_offers(batch, context, total=None, done=done)
                done += len(batch)
                batch = []
    yield from message_offers(batch, context, total=None, done=done)
    if context.progress is not None:
        context.progress(done + len(batch), done + len(batch))


# --------------------------------------------------------------------------- processor

_JSON_MESSAGE_TYPE = re.compile(rb'"type"\s*:\s*"(?:message|service)"')


class TelegramProcessor:
    """Reads a Telegram Desktop copy (``.txt``) or a Telegram JSON export; see the module docstring."""

    name = "telegram"
    extensions = (".txt", ".json")

    def detect(self, path: Path, head: bytes) -> int:
        """0-100: 95 for a Telegram JSON export, 97 (40) for a Desktop copy whose first (a later)
        non-blank line is a header, 0 otherwise (WhatsApp exports, other JSON). A WhatsApp export
        that quotes a Desktop header in a body still goes to ``whatsapp_text`` (45 or more)."""
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"{"):
            if b'"messages"' in head and (b'"date_unixtime"' in head or (
                    b'"from_id"' in head and _JSON_MESSAGE_TYPE.search(head))):
                return 95
            return 0
        text = decode_head(head)
        if looks_like_desktop_copy(text):
            return 97
        lines = text.splitlines()[:-1][:200]  # the last one may be cut off
        return 40 if any(_DESKTOP_HEADER.fullmatch(line.rstrip("\r")) for line in lines) else 0

    def process(self, path: Path, context: IngestContext) -> Iterator[Item]:
        """Yield the offers of the chat at ``path``; ``ValueError`` for a bad option or a broken JSON file."""
        tz = _timezone(context)
        with open(path, "rb") as handle:
            start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if start.startswith(b"{"):
            yield from _process_json(Path(path), context, tz)
            return
        day_first = context.option_bool("day_first")
        yield from process_desktop_text(read_chat_text(path), context, day_first=day_first, tz=tz)


processor = TelegramProcessor()
