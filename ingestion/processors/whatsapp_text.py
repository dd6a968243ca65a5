"""The ``whatsapp_text`` processor: WhatsApp chat exports (``.txt``) into offers.

``parse_transcript(text)`` turns the text of an export into ``ChatMessage``
objects; ``processor.process(path, context)`` runs the text offer extractor
(``ingestion.text_offers``) over each message and yields its candidates with
the message time and author. Nothing here touches the database.

Headers
    A line opens a new message only when it starts with a complete header:
    optional BOM / LRM / RLM / ALM marks, an optional ``[``, a date of three
    numbers separated by ``/ . -`` (optional space after a separator, optional
    trailing ``.``, bidi marks allowed inside), an optional year word (Thai
    ``BE``, Bulgarian/Russian ``г.``), an optional ``,`` / ``،`` / `` klo``, a
    time ``H:MM``, ``H.MM`` or Canadian French ``H h MM`` with optional seconds
    (``min SS s``), an optional day-period word before or after the time (the
    AM/PM words of CLDR for the languages WhatsApp ships in: ``AM pm a.m. p. m.
    π.μ. μ.μ. PG PTG ص م ق.ظ. ب.ظ. 오전 午後 晚上 ÖS de. du.`` ..., in any case,
    dots optional; German ``vorm. nachm. morgens mittags abends nachts``;
    ``in the morning``), an optional Bulgarian ``ч.``, and then ``] ``, ``] - ``,
    `` - `` or ``: `` (old iOS, legacy Android). Wherever a space belongs, any
    Unicode space is accepted (U+00A0, U+2009 THIN SPACE, U+202F, U+3000 ...).
    Digits of any script are read as digits (Persian ``۲۰۲۵/۳/۱۴``,
    Arabic-Indic, Devanagari, full-width; ``offers.text.ascii_digits``); bodies
    keep their own. Time-first headers (iOS ``[21:41:35, 3/27/22] ``, Android
    ``22:05 14/3/25 - ``) are read too. Any other line, blank lines included,
    continues the previous message. So ``1. iPhone 13 - $450`` or
    ``12/128GB - 750$`` never split a message.

Dates
    A first number of four digits (or above 31) means year-month-day, as does a
    spaced date ending in a dot with a short last number (Korean ``25. 3. 14.``).
    Otherwise the year is last: two digits are 20xx, ``R4``/``H30`` are Japanese
    eras, years above 2400 (``2565 BE``) are Buddhist. Day/month order is
    decided once for the whole file: a reading that makes some month above 12
    loses; then the reading with fewer backward jumps between consecutive dates
    wins; then the component that changes more often is the day; a tie means
    day first. ``day_first=True/False`` overrides all of it. Times are local
    wall time of the exporting phone; they are made aware in the given time
    zone. Day periods that depend on the hour: ``mittags``/``中午`` keep 11 and
    12 and move 1-6 to the afternoon; ``nachts``/``晚上``/``半夜`` move 6-11 to
    the evening and read 12 as midnight. Years 1300-1420 are Solar Hijri
    (Persian iOS, ``۱۴۰۳/۱۲/۲۴``) and years 1421-1899 Islamic (Arabic iOS,
    ``٢٤/٩/١٤٤٦ هـ``): both are converted to Gregorian dates (the Islamic one by
    the tabular calendar, which may differ from Umm al-Qura by a day).

Headers inside a body
    A header-looking line is taken back as body text when (a) its time lies more
    than an hour before its previous *and* after its next header while those
    two are in order (a pasted or forwarded line), or (b) it has no author
    (would be a system message) yet non-blank lines follow it: system messages
    are always one line. Both are counted in ``headers_in_body``.

Authors and bodies
    The author is the text before the first ``": "`` after the header, except
    when that text contains a quote (the colon trap ``X changed the subject from
    "Re: prices"``) or is very long: then the line is a system message. Bidi
    marks, the ``~`` push-name prefix and no-break spaces are removed from the
    author. A header line ending in ``Name:`` is an empty first line when
    ``Name`` writes elsewhere in the file. The body keeps its newlines; only a
    trailing edited marker (``<This message was edited>`` in any language,
    ``ingestion.chat_markers.split_edited``) is removed (``edited=True``).

Kinds
    ``system`` (no author, or an authored body that is a known system text),
    ``media`` (placeholders and attachments, ``null`` for view-once; a caption on
    the following lines becomes the body), ``deleted``, ``poll``, ``location``,
    ``call`` and ``text``. The media, deleted and edited markers, in about 30
    languages, and the invisible marks are defined once in
    ``ingestion.chat_markers`` (shared with the offer extractor and the
    ``telegram`` processor). Offers are extracted from ``text`` bodies and media
    captions only.

The processor
    ``--option day_first=true|false`` and ``--option timezone=<IANA name>``
    (default ``context.timezone``, else ``settings.TIME_ZONE``); a bad value is a
    ``ValueError`` naming the option. The file is read through
    ``ingestion.chat_text.read_chat_text``: in chunks, in UTF-8, or UTF-16/32
    with a byte-order mark, or UTF-16 without one when ASCII-heavy (an
    ambiguous one is a ``ValueError`` saying "UTF-16 without a byte-order
    mark"); a line longer than ``INGESTION_MAX_LINE_CHARS`` keeps its start.
    Bytes that are not valid text are replaced and their lines reported, as
    are lines cut and lines before the first header (``RowError`` ``"line
    N"``); a message body longer than ``INGESTION_MAX_MESSAGE_CHARS`` is cut
    at a line end, with a ``RowError`` naming the lines not read
    (``message_offers``). Each candidate gets the message time as ``observed_at`` and
    the author as ``sender``. ``context.stats`` counts ``lines``, ``messages``,
    ``text_messages``, ``system_messages``, ``media_omitted``, ``deleted``,
    ``edited``, ``polls``, ``locations``, ``calls``, ``headers_in_body``,
    ``lines_cut``, ``messages_cut`` and ``offers_found``, and says
    ``date_order``, ``chat_format`` (``whatsapp``) and ``encoding`` (when not UTF-8). A file with no WhatsApp header that is a Telegram Desktop
    copy (``Name, [12.09.2025 10:02]`` lines) is read by the ``telegram``
    processor instead (``chat_format`` ``telegram_desktop``), and so is a
    Telegram JSON export (``telegram_json``): forcing ``--processor
    whatsapp_text`` on one still gives its offers.
    ``message_offers(messages, context)`` is the extraction loop both chat
    processors share. With ``--option prefer_llm=true`` and ``ENABLE_OPENAI``
    it sends the messages' lines to the LLM pass (``ingestion.llm``) instead of
    the text offer extractor, which still reads them when that pass fails.

Speed
    Lines that may open a message are found by one C-level search for a
    newline followed by a digit, ``[`` or a mark; other lines cost nothing and
    bodies are single slices of the text. The two common header shapes have
    their own, faster regex; dates and times are parsed once per distinct text.

The ``\r\n`` versus ``\n`` hint of iOS exports is not used: real files mix
line endings too often. Not read: a year in the middle of the date
(``06/2018/13``, seen only in one parser's tests) and era words other than
``BE``, ``R``/``H`` and ``هـ``. The
Korean/Japanese/Chinese, Greek, Malay and other CLDR day periods and the
German words are read although no real export with them was found (the
reference marks the CJK and German ones inferred; CLDR is what Android and iOS
format times with).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestion.chat_markers import (
    BIDI_MARKS, DELETED as DELETED_MARKERS, INVISIBLE_CHARS, MEDIA_LAST_WORDS, MEDIA_OMITTED, is_deleted, is_media_placeholder,
    marker_variants, split_edited, strip_invisible,
)
from ingestion import llm
from ingestion.chat_text import ChatText, cut_message, decode_head, max_line_chars, max_message_chars, read_chat_text
from ingestion.readahead import split_map
from ingestion.text_offers import extract_offers
from ingestion.types import IngestContext, Item, OfferCandidate, RowError
from offers.text import ascii_digits

__all__ = [
    "ChatMessage", "ParsedTranscript", "message_offers", "parse_transcript", "processor",
    "transcript_items",
    "WhatsAppTextProcessor",
]

# --------------------------------------------------------------------------- headers

_SP = r"[^\S\n]"  # any Unicode space (U+0020, U+00A0, U+2009, U+202F ...) but a newline
_BIDI = "[\u200e\u200f\u061c]*"  # marks RTL locales put inside dates (B14)
# The day-period words ("AM"/"PM") of the languages WhatsApp ships in: CLDR's abbreviated
# format day periods (Unicode CLDR through Babel 2.18, ``Locale.day_periods``) for af sq ar az
# bn bg ca zh hr cs da nl en et fil fi fr de el gu he hi hu id ga it ja kn kk ko lo lv lt mk ms
# ml mr nb fa pl pt pa ro ru sr sk sl es sw sv ta te th tr uk ur uz vi and their regions, plus
# the older or wider forms exports are seen with (``a. m.``, ``vorm.``, ``in the morning``
# ...) and the flexible periods zh-Hant writes before the time (``晚上10:05``). The value says
# how the hour reads: ``am``, ``pm``, ``noon`` (11 stays, 12 is noon, 1-6 are afternoon),
# ``night`` (6-11 are evening, 12 is midnight, 1-5 early morning).
_DAY_PERIODS = {
    "am": "am", "a.m.": "am", "a. m.": "am", "pm": "pm", "p.m.": "pm", "p. m.": "pm",
    "vorm.": "am", "morgens": "am", "nachm.": "pm", "abends": "pm", "mittags": "noon", "nachts": "night",
    "in the morning": "am", "in the afternoon": "pm", "in the evening": "pm", "at night": "night",
    "π.μ.": "am", "μ.μ.": "pm", "PG": "am", "PTG": "pm", "ص": "am", "م": "pm", "ق.ظ.": "am", "ب.ظ.": "pm",
    "오전": "am", "오후": "pm", "午前": "am", "午後": "pm", "上午": "am", "下午": "pm", "早上": "am",
    "凌晨": "am", "中午": "noon", "晚上": "night", "傍晚": "pm", "半夜": "night",
    "SA": "am", "CH": "pm", "ÖÖ": "am", "ÖS": "pm", "de.": "am", "du.": "pm", "fm": "am", "em": "pm",
    "vm.": "am", "nm.": "pm", "dop.": "am", "odp.": "pm", "pop.": "pm", "ap.": "am", "ip.": "pm",
    "p.d.": "am", "m.d.": "pm", "f.h.": "am", "e.h.": "pm", "r.n.": "am", "i.n.": "pm", "mat.": "am", "soir": "pm",
    "priekšp.": "am", "pēcp.": "pm", "priešpiet": "am", "popiet": "pm", "prije podne": "am", "po podne": "pm",
    "TO": "am", "TK": "pm", "дп": "am", "пп": "pm", "претпл.": "am", "попл.": "pm", "пре подне": "am",
    "по подне": "pm", "прије подне": "am", "поподне": "pm", "ү.ө.": "am", "ү.х.": "pm", "тң": "am", "тк": "pm",
    "АМ": "am", "ПМ": "pm", "ت د": "am", "ت ك": "pm", "پی ایم": "pm", "اے ایم": "am",
    "पूर्वाह्न": "am", "अपराह्न": "pm", "ਪੂ.ਦੁ.": "am", "ਬਾ.ਦੁ.": "pm", "පෙ.ව.": "am", "ප.ව.": "pm",
    "ก่อนเที่ยง": "am", "หลังเที่ยง": "pm", "ກ່ອນທ່ຽງ": "am", "ຫຼັງທ່ຽງ": "pm", "နံနက်": "am", "ညနေ": "pm",
    "ጥዋት": "am", "ከሰዓት": "pm", "לפנה״צ": "am", "אחה״צ": "pm", 'לפנה"צ': "am", 'אחה"צ': "pm",
    "Isuk": "am", "Wengi": "pm", "moies": "am", "nomëttes": "pm", "go.öň": "am", "go.soň": "pm",
}


def _day_period_pattern(word: str) -> str:
    """A regex for ``word`` as exports write it: any case, dots optional, any (or no) space inside."""
    parts = []
    for char in word:
        if char == ".":
            parts.append(r"\.?")
        elif char.isspace():
            parts.append(f"{_SP}?")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def _fold_day_period(word: str) -> str:
    return "".join(char for char in word.casefold() if char not in ". " and not char.isspace())


_DAY_PERIOD_KINDS = {_fold_day_period(word): kind for word, kind in _DAY_PERIODS.items()}
_AMPM = "(?i:" + "|".join(_day_period_pattern(word) for word in sorted(_DAY_PERIODS, key=len, reverse=True)) + ")"
_TIME = (
    rf"(?P<hour>\d{{1,2}})(?:[:.]|{_SP}?h{_SP}?)(?P<minute>\d{{2}})"  # "10:05", "10.05", Canadian French "10 h 05"
    rf"(?:(?:[:.]|{_SP}?min{_SP}?)(?P<second>\d{{2}})(?:{_SP}?s(?=\]|{_SP}))?)?"
)

_HEADER = re.compile(
    rf"[\ufeff\u200e\u200f\u061c]*\[?{_BIDI}"
    rf"(?P<a>\d{{1,4}}){_BIDI}[/.\-](?P<sa>{_SP})?{_BIDI}"
    rf"(?P<b>\d{{1,2}}){_BIDI}[/.\-]{_SP}?{_BIDI}"
    rf"(?P<c>[RH]?\d{{1,4}})(?P<dot>\.)?{_BIDI}"
    rf"(?:{_SP}?(?:BE|г\.|р\.|ж\.|\u0647\u0640?))?"  # Thai Buddhist era; Bulgarian/Russian "г." (year); Hijri "هـ"
    rf"(?:,|\u060c|{_SP}+klo)?{_BIDI}{_SP}+"
    rf"(?:(?P<east>{_AMPM}){_SP}?)?"
    + _TIME
    + rf"(?:{_SP}?(?P<ampm>{_AMPM}))?(?:{_SP}?ч\.)?"  # Bulgarian "ч." (hour)
    rf"(?:\]{_SP}(?:-{_SP})?|{_SP}-{_SP}|:{_SP}|(?(dot){_SP}|(?!)))"
)
# The two shapes most files use (Android "d/m/y, H:MM - ", iOS "[d/m/y, H:MM:SS] "), tried first:
# the same groups as _HEADER, and about twice as fast.
_HEADER_COMMON = re.compile(
    r"\u200e?\[?(\d{1,2})/(\d{1,2})/(\d{2}|\d{4}), (\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?:[ \u202f]([AaPp][Mm]))?(?:\] | - )"
)
# Time before the date: iOS Vietnamese "[21:41:35, 3/27/22] ", Android "22:05 14/3/25 - ".
_HEADER_TIME_FIRST = re.compile(
    rf"[\ufeff\u200e\u200f]*\[?"
    + _TIME
    + rf"(?:{_SP}?(?P<ampm>{_AMPM}))?,?{_SP}"
    rf"(?P<a>\d{{1,4}})[/.\-](?P<b>\d{{1,2}})[/.\-](?P<c>[RH]?\d{{1,4}})(?:\]{_SP}|{_SP}-{_SP})"
)
_HEADER_START = frozenset("0123456789[\ufeff\u200e\u200f\u061c")
# The start of a line that may hold a header: a cheap C-level search, so the other lines cost nothing.
_LINE_START = re.compile(r"\n(?=[\d\[\ufeff\u200e\u200f\u061c])")
_ERAS = {"R": 2018, "H": 1988}  # Reiwa 1 = 2019, Heisei 1 = 1989
_NON_BLANK = re.compile(r"\S")


def _read_header(text: str, offset: int = 0) -> tuple[int, int, int, bool, int, int, int, int] | None:
    """The header at ``text[offset:]``: ``(year, p, q, year_first, hour, minute, second, body_start)`` or ``None``.

    For year-first dates ``p, q`` are month and day; otherwise they are the
    first two date numbers, whose order the caller decides for the whole file.
    ``body_start`` is an offset into ``text``. Digits of any script are read
    (Persian ``۲۰۲۵/۳/۱۴``, Arabic-Indic, full-width ...).
    """
    match = _HEADER_COMMON.match(text, offset)
    if match is not None:
        a, b, c, hour, minute, second, meridiem = match.groups()
        date = _read_date(a, b, c)
        time = _read_time(hour, minute, second, meridiem)
        if date is None or time is None:
            return None
        return date + time + (match.end(),)
    year_first = False
    if (match := _HEADER.match(text, offset)) is not None:
        a, spaced, b, c, dot, east, hour, minute, second, meridiem = match.groups()
        meridiem = meridiem or east
        # "25. 3. 14." (Korean yy. M. d.): a spaced, dot-ended date with a short last number is year first.
        year_first = dot is not None and spaced is not None and len(c) <= 2
    elif ("[" in text[offset:offset + 4] or ":" in text[offset + 1:offset + 4]) and (
        match := _HEADER_TIME_FIRST.match(text, offset)
    ) is not None:
        hour, minute, second, meridiem, a, b, c = match.groups()
    else:
        return None
    date = _read_date(a, b, c, year_first)
    time = _read_time(hour, minute, second, meridiem)
    if date is None or time is None:
        return None
    return date + time + (match.end(),)


@lru_cache(maxsize=None)  # bounded by the distinct values: 86,400 times of day, a few thousand dates
def _read_time(hour: str, minute: str, second: str | None, meridiem: str | None) -> tuple[int, int, int] | None:
    """``(hour, minute, second)`` on the 24-hour clock, or ``None`` when out of range."""
    hours, minutes = int(ascii_digits(hour)), int(ascii_digits(minute))
    seconds = int(ascii_digits(second)) if second else 0
    if meridiem is not None:
        kind = _DAY_PERIOD_KINDS.get(_fold_day_period(meridiem))
        if kind is None or not 1 <= hours <= 12:
            return None
        if kind == "am":
            hours %= 12
        elif kind == "pm":
            hours = hours % 12 + 12
        elif kind == "noon":
            hours = hours if hours >= 11 else hours + 12
        else:  # night
            hours = hours + 12 if 6 <= hours < 12 else hours % 12
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return hours, minutes, seconds


@lru_cache(maxsize=None)  # bounded by the distinct values: 86,400 times of day, a few thousand dates
def _read_date(a: str, b: str, c: str, year_first: bool = False) -> tuple[int, int, int, bool] | None:
    """``(year, p, q, year_first)`` from the three date numbers as written (see ``_read_header``)."""
    a, b, c = ascii_digits(a), ascii_digits(b), ascii_digits(c)
    first = int(a)
    if year_first or len(a) == 4 or first > 31:
        if not c.isdigit() or len(c) > 2:
            return None
        return first + 2000 if len(a) <= 2 else first, int(b), int(c), True
    if c[0] in _ERAS:
        year = _ERAS[c[0]] + int(c[1:])
    else:
        year = int(c)
        if len(c) <= 2:
            year += 2000
        elif year > 2400:
            year -= 543  # Thai Buddhist calendar
    return year, first, int(b), False


def looks_like_header(line: str) -> bool:
    """True when ``line`` starts with a WhatsApp message header."""
    return bool(line) and (line[0] in _HEADER_START or line[0].isdigit()) and _read_header(line) is not None


# --------------------------------------------------------------------------- bodies

_AUTHOR_CLEAN = str.maketrans(
    {**dict.fromkeys(map(ord, BIDI_MARKS)), **dict.fromkeys(map(ord, "\u00a0\u202f\u2009\u2007\u3000"), " "),
     ord("\u2011"): "-"}
)
_EDITED_ENDS = frozenset(">\t \u00a0\u202f\u2009" + INVISIBLE_CHARS)  # last characters of a body with an edited marker
_INVISIBLE_SET = frozenset(INVISIBLE_CHARS)
_QUOTE = re.compile('["\u201c\u201e\u00ab]')
_MAX_AUTHOR = 60

_POLL_STARTS = ("POLL:", "ENQUETE:", "ENCUESTA:", "UMFRAGE:", "SONDAGE:")
_LOCATION = re.compile(r"\u200e?(?:location|standort|ubicación|localização|position|poloha): https?://", re.IGNORECASE)
_CALLS = marker_variants(
        "Missed voice call", "Missed video call", "Voice call", "Video call", "Missed group voice call",
        "Missed group video call", "Verpasster Sprachanruf", "Verpasster Videoanruf",
        "Llamada perdida", "Videollamada perdida", "Chamada de voz perdida", "Appel vocal manqué",
)
# System texts that iOS writes *with* an author (the group or the acting person).
# Matched only when the body starts with an LRM, except the distinctive forms below
# (encryption notice, security code, "... added you", curly-quoted group names), which
# iOS has also been seen to write without one.
_AUTHORED_SYSTEM = re.compile(
    r".* (?:added|removed|left|joined using this group's invite link|created group|changed the subject"
    r"|changed this group's|changed the group|deleted this group's icon|changed their phone number|changed to"
    r"|are now an admin|is no longer an admin|now an admin|was added|were added"
    r"|hat .+ hinzugefügt|hat die Gruppe|ist beigetreten|wurde hinzugefügt"
    r"|añadió a|eliminó a|salió|creó el grupo|adicionou|removeu|saiu|criou o grupo"
    r"|a ajouté|a retiré|est parti|a créé le groupe)(?: .*)?"
    r"|(?:You were added|You're now an admin|You joined using this group's invite link|Disappearing messages"
    r"|Messages and calls are end-to-end encrypted|Messages to this group are now secured"
    r"|Your security code with |Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt"
    r"|Los mensajes y las llamadas están cifrados|As mensagens e as chamadas são protegidas"
    r"|Les messages et les appels sont chiffrés|I messaggi e le chiamate sono crittografati"
    r"|Berichten en oproepen worden end-to-end versleuteld).*"
)
_AUTHORED_SYSTEM_STARTS = ("Messages and calls are end-to-end encrypted", "Your security code with ")
_AUTHORED_SYSTEM_ENDS = (" you", "\u201d")
_AUTHORED_SYSTEM_ANYWAY = re.compile(r".+ (?:added|removed) you|.+ created group \u201c.*\u201d|.+ changed the subject to \u201c.*\u201d")

TEXT, SYSTEM, MEDIA, DELETED, POLL, LOCATION, CALL = "text", "system", "media", "deleted", "poll", "location", "call"


@dataclass(slots=True)
class ChatMessage:
    """One message of an export.

    ``line_no`` is the 1-based line of its header, ``body_line`` the line on
    which ``body`` starts (the line after a media placeholder for a caption).
    ``placeholder`` holds the media placeholder or attachment text.
    """

    line_no: int
    sent_at: datetime
    author: str
    body: str
    kind: str = TEXT
    edited: bool = False
    body_line: int = 0
    placeholder: str = ""
    message_id: str = ""


@dataclass(slots=True)
class ParsedTranscript:
    """The messages of an export and what was decided on the way.

    ``day_first`` is ``None`` when no date needed the decision (all year-first);
    ``date_order`` says how it was decided: ``option``, ``over_12``,
    ``chronology``, ``frequency``, ``default`` or ``year_first``.
    ``orphan_lines`` are the non-blank lines before the first header, as (1-based number, text).
    """

    messages: list[ChatMessage] = field(default_factory=list)
    day_first: bool | None = None
    date_order: str = "year_first"
    lines: int = 0
    orphan_lines: list[tuple[int, str]] = field(default_factory=list)
    headers_in_body: int = 0


def _decide_day_first(pairs: list[tuple[int, int, int]]) -> tuple[bool, str]:
    """Day/month order from the (year, first, second) date numbers, in file order."""
    unique = [pairs[0]]
    for pair in pairs:
        if pair != unique[-1]:
            unique.append(pair)

    def score(day_first: bool) -> tuple[int, int]:
        invalid = backward = 0
        previous = None
        for year, p, q in unique:
            day, month = (p, q) if day_first else (q, p)
            if month > 12 or day > 31 or not month or not day:
                invalid += 1
                continue
            current = (year, month, day)
            if previous is not None and current < previous:
                backward += 1
            previous = current
        return invalid, backward

    day_score, month_score = score(True), score(False)
    if day_score[0] != month_score[0]:
        return day_score[0] < month_score[0], "over_12"
    if day_score[1] != month_score[1]:
        return day_score[1] < month_score[1], "chronology"
    first_changes = sum(a[1] != b[1] for a, b in zip(unique, unique[1:]))
    second_changes = sum(a[2] != b[2] for a, b in zip(unique, unique[1:]))
    if first_changes != second_changes:
        return first_changes > second_changes, "frequency"
    return True, "default"


_GREGORIAN_FROM = 1900  # years below are another calendar's (or not a date)
_HIJRI_FROM = 1421  # 1421 AH began in 2000; Solar Hijri 1421 will begin in 2042
_ISLAMIC_EPOCH = date(622, 7, 19).toordinal()  # 1 Muharram 1 AH (Julian 16 July 622), proleptic Gregorian


@lru_cache(maxsize=4096)
def _to_gregorian(year: int, month: int, day: int) -> tuple[int, int, int]:
    """A Solar Hijri (Persian, years 1300-1420) or Islamic (Hijri, 1421-1899) date as Gregorian.

    iOS writes dates in the phone's calendar: Persian for Iran, Islamic for some Arabic
    regions (with ``هـ`` after the year). Solar Hijri is converted exactly (the 33-year
    arithmetic of the jalaali reference algorithm, exact for 1178-1633 AP); Islamic by the
    tabular (arithmetic) calendar, which can differ by a day or two from the Umm al-Qura
    calendar phones use. ``ValueError`` for a month or day out of range, or a year before 1300.
    """
    if not (1 <= month <= 12 and 1 <= day <= (31 if year < _HIJRI_FROM and month <= 6 else 30)):
        raise ValueError("not a date")
    if year < 1300:
        raise ValueError("not a date")
    if year >= _HIJRI_FROM:  # Islamic (tabular): months of 30 and 29 days, 11 leap years in 30
        days = (year - 1) * 354 + (3 + 11 * year) // 30 + (295 * (month - 1) + 9) // 10 + day - 1
        gregorian = date.fromordinal(_ISLAMIC_EPOCH + days)
        return gregorian.year, gregorian.month, gregorian.day
    # Solar Hijri: days since the Gregorian year 1 via the 33-year cycle (jalaali-js ``j2d``).
    jy = year + 1595
    days = -355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + day
    days += (month - 1) * 31 if month < 7 else (month - 7) * 30 + 186
    return _from_day_number(days)


def _from_day_number(days: int) -> tuple[int, int, int]:
    """The Gregorian date of the jalaali algorithm's day number."""
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    day = days + 1
    leap = (gy % 4 == 0 and gy % 100 != 0) or gy % 400 == 0
    for month, length in enumerate((31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), 1):
        if day <= length:
            return gy, month, day
        day -= length
    raise ValueError("not a date")


_OUT_OF_ORDER = 3600  # seconds


def parse_transcript(text: str, *, day_first: bool | None = None, tz: tzinfo | None = None) -> ParsedTranscript:
    """Parse the text of a WhatsApp export into messages (see the module docstring).

    ``tz`` is the zone of the exporting phone (default UTC); ``day_first``
    overrides the inferred day/month order.
    """
    tz = tz or timezone.utc
    text = text.lstrip("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    end = len(text) - 1 if text.endswith("\n") else len(text)  # a final newline ends the last line, opens none
    result = ParsedTranscript(lines=text.count("\n", 0, end) + 1 if end else 0)

    # Pass 1: every line that has a header shape, found without visiting the other lines.
    starts = [0] if text and (text[0] in _HEADER_START or text[0].isdigit()) else []
    starts.extend(match.end() for match in _LINE_START.finditer(text))
    candidates = []  # (offset of the line, 1-based line number, header)
    line_no, counted = 1, 0
    for offset in starts:
        header = _read_header(text, offset)
        if header is not None:
            line_no += text.count("\n", counted, offset)
            counted = offset
            candidates.append((offset, line_no, header))

    # Pass 2: day/month order for the whole file.
    ambiguous = [(h[0], h[1], h[2]) for _, _, h in candidates if not h[3]]
    order_day_first = True
    if day_first is not None:
        result.day_first, result.date_order = day_first, "option"
    elif ambiguous:
        result.day_first, result.date_order = _decide_day_first(ambiguous)
    if result.day_first is not None:
        order_day_first = result.day_first

    # Pass 3: times and authors of the candidates.
    headers = []  # (line offset, line number, sent_at, seconds since year 1, author or None, body offset, line end)
    authors: dict[str, str] = {}  # the text before ": " -> the clean author name, "" when it cannot be one
    ordinals: dict[tuple[int, int, int], int] = {}
    for offset, line_no, (year, p, q, year_first, hour, minute, second, start) in candidates:
        day, month = (q, p) if year_first or not order_day_first else (p, q)
        try:
            if year < _GREGORIAN_FROM:
                year, month, day = _to_gregorian(year, month, day)
            sent_at = datetime(year, month, day, hour, minute, second, tzinfo=tz)
        except ValueError:
            continue  # not a real date under the file's order: body text
        ordinal = ordinals.get((year, month, day))
        if ordinal is None:
            ordinal = ordinals[year, month, day] = sent_at.toordinal() * 86400
        line_end = text.find("\n", start)
        if line_end < 0:
            line_end = end
        colon = text.find(": ", start, line_end)
        author = None
        if colon > start:
            raw = text[start:colon]
            author = authors.get(raw)
            if author is None:
                usable = colon - start <= _MAX_AUTHOR and not _QUOTE.search(raw)
                author = authors[raw] = _clean_author(raw) if usable else ""
            if author:
                start = colon + 2
            else:
                author = None
        headers.append((offset, line_no, sent_at, ordinal + hour * 3600 + minute * 60 + second, author, start, line_end))

    if not headers:
        result.orphan_lines = _orphans(text, end)
        return result

    # Pass 4: take header-looking lines back into the body they sit in, and build the messages.
    messages = result.messages
    last = len(headers) - 1
    previous = None  # the last accepted header
    for position, header in enumerate(headers):
        offset, _, _, seconds, author, start, line_end = header
        following = headers[position + 1] if position < last else None
        if author is None and text[line_end - 1:line_end] == ":" and authors.get(text[start:line_end - 1]):
            author = authors[text[start:line_end - 1]]
            header = (*header[:4], author, line_end, line_end)  # "Name:" with the body on the next lines
        if previous is not None:
            if author is None and text[line_end:following[0] if following else len(text)].strip():
                result.headers_in_body += 1
                continue
            earliest = previous[3] - _OUT_OF_ORDER
            if following and following[3] >= earliest and (seconds < earliest or seconds > following[3] + _OUT_OF_ORDER):
                result.headers_in_body += 1
                continue
            messages.append(_message(previous, text[previous[5]:offset - 1]))
        previous = header
    messages.append(_message(previous, text[previous[5]:end]))
    result.orphan_lines = _orphans(text, headers[0][0])
    return result


def _orphans(text: str, end: int) -> list[tuple[int, str]]:
    """The non-blank lines of ``text[:end]`` with their 1-based numbers."""
    return [(number, line) for number, line in enumerate(text[:end].split("\n"), 1) if line.strip()]


def _message(header: tuple, body: str) -> ChatMessage:
    """The message of a pass-3 ``header`` tuple (author already clean) with its whole ``body`` text."""
    _, line_no, sent_at, _, author, _, _ = header
    if author is None:
        return ChatMessage(line_no, sent_at, "", body, SYSTEM, False, line_no)
    edited = False
    if body[-1:] in _EDITED_ENDS and body not in MEDIA_OMITTED:  # cheap tests first: most bodies end otherwise
        body, edited = split_edited(body)
    first, newline, caption = body.partition("\n")
    kind = _kind(first, newline)
    if kind == MEDIA:
        return ChatMessage(line_no, sent_at, author, caption, MEDIA, bool(edited), line_no + 1, first)
    return ChatMessage(line_no, sent_at, author, body, kind, bool(edited), line_no)


def _clean_author(author: str) -> str:
    """Remove bidi marks, no-break spaces and the ``~`` push-name prefix."""
    author = author.translate(_AUTHOR_CLEAN).strip()
    return author[1:].strip() if author.startswith("~") else author


def _kind(first: str, newline: str) -> str:
    """The kind of an authored message from its first line (``newline`` is empty for one-line bodies)."""
    if not newline and (first in DELETED_MARKERS or (
            first and (first[0] in _INVISIBLE_SET or first[-1] in _INVISIBLE_SET) and is_deleted(first))):
        return DELETED
    if first in MEDIA_OMITTED or (
        (first.endswith((">", ")")) or first.rpartition(" ")[2] in MEDIA_LAST_WORDS) and is_media_placeholder(first)
    ):
        return MEDIA
    if first.startswith(_POLL_STARTS):
        return POLL
    if first in _CALLS:
        return CALL
    if "://" in first and _LOCATION.match(first):
        return LOCATION
    if not newline and _is_authored_system(first):
        return SYSTEM
    return TEXT


def _is_authored_system(first: str) -> bool:
    """An iOS system line written with an author: the group, or the person who acted."""
    if first.startswith("\u200e"):
        return _AUTHORED_SYSTEM.fullmatch(strip_invisible(first)) is not None
    if first.startswith(_AUTHORED_SYSTEM_STARTS):
        return True
    return first.endswith(_AUTHORED_SYSTEM_ENDS) and _AUTHORED_SYSTEM_ANYWAY.fullmatch(first) is not None


# --------------------------------------------------------------------------- processor

_KIND_STATS = {
    TEXT: "text_messages", SYSTEM: "system_messages", MEDIA: "media_omitted", DELETED: "deleted",
    POLL: "polls", LOCATION: "locations", CALL: "calls",
}
_PROGRESS_EVERY = 2000


def _timezone(context: IngestContext) -> tzinfo:
    name = context.options.get("timezone")
    if name is not None and name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"option timezone={name!r} is not a known IANA time zone (e.g. Europe/Berlin)") from None
    if context.timezone is not None:
        return context.timezone
    from django.conf import settings

    if settings.configured:
        return ZoneInfo(settings.TIME_ZONE)
    return timezone.utc


class WhatsAppTextProcessor:
    """Reads a WhatsApp ``.txt`` export; see the module docstring."""

    name = "whatsapp_text"
    extensions = (".txt",)

    def detect(self, path: Path, head: bytes) -> int:
        """0-100 from the message headers among the first lines: 95 for three or more, 60 for
        one or two, 15 less when the first line is not a header; without any, 10 for a Telegram
        chat (which this processor hands to ``telegram``) and 0 for anything else."""
        lines = [line for line in decode_head(head).lstrip("\ufeff").splitlines() if line.strip()]
        lines = lines[:-1] if len(lines) > 1 else lines  # the last one may be cut off
        headers = sum(1 for line in lines[:200] if looks_like_header(line))
        if not headers:
            # A Telegram chat: read through the telegram processor (see ``process``), which scores it higher.
            from ingestion.processors import telegram

            return 10 if telegram.processor.detect(path, head) > 0 else 0
        score = 95 if headers >= 3 else 60
        return score if looks_like_header(lines[0]) else score - 15

    def process(self, path: Path, context: IngestContext) -> Iterator[Item]:
        """Yield the offers of the export at ``path`` (see the module docstring).

        A copy of a Telegram Desktop chat (no WhatsApp header, ``Name, [date time]``
        lines) or a Telegram JSON export is read by the ``telegram`` processor
        instead; ``stats["chat_format"]`` says which format was read. Raises ``ValueError`` for a bad option value.
        """
        day_first = context.option_bool("day_first")
        tz = _timezone(context)
        chat = read_chat_text(path)  # lines capped, the file never held whole as bytes (chat_text)
        transcript = parse_transcript(chat.text, day_first=day_first, tz=tz)
        if not transcript.messages:  # a Telegram chat given to this processor: read it as one
            from ingestion.processors import telegram

            if telegram.looks_like_desktop_copy(chat.text):
                yield from telegram.process_desktop_text(chat, context, day_first=day_first, tz=tz)
                return
            first = _NON_BLANK.search(chat.text)  # not chat.text.lstrip(): no copy of the text
            if first is not None and first.group() == "{" and telegram.processor.detect(
                    Path(path), chat.text[:65536].encode()) >= 95:
                yield from telegram.processor.process(path, context)
                return
        chat.text = ""  # the messages hold what is needed of it
        yield from transcript_items(transcript, chat, context, chat_format="whatsapp", header="message")


def transcript_items(
    transcript: ParsedTranscript, chat: ChatText, context: IngestContext, *, chat_format: str, header: str
) -> Iterator[Item]:
    """The items of a parsed chat read as ``chat`` (``chat_text.read_chat_text``): its errors, then its offers.

    Records ``chat_format``, ``lines``, ``headers_in_body`` and how dates were read
    (``date_order``) in ``context.stats``. ``RowError``s: a line whose bytes were not valid in
    the file's encoding ("bytes that are not UTF-8 were replaced"), a line cut at the line limit
    (counted in ``lines_cut``), a line before the first header ("text before the first
    ``header`` header"); then ``message_offers``'s.
    """
    stats = context.stats
    stats["chat_format"] = chat_format
    stats["lines"] += transcript.lines
    stats["headers_in_body"] += transcript.headers_in_body
    # How dates were read, for the operator: "day_first (over_12)", "month_first (chronology)" ...
    order = {True: "day_first", False: "month_first", None: "year_first"}[transcript.day_first]
    stats["date_order"] = f"{order} ({transcript.date_order})"
    if chat.encoding not in ("utf-8", "utf-8-sig"):
        stats["encoding"] = chat.encoding
    encoding = _ENCODING_NAMES.get(chat.encoding, chat.encoding)
    for number, line in chat.replaced:
        yield RowError(f"line {number}", f"bytes that are not {encoding} were replaced", value=line[:200])
    for number, length in chat.cut_lines:
        stats["lines_cut"] += 1
        yield RowError(f"line {number}", line_cut_message(length, chat.max_line_chars))
    for number, line in transcript.orphan_lines:
        yield RowError(f"line {number}", f"text before the first {header} header", value=line[:200])
    yield from message_offers(transcript.messages, context)


_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "utf-32-le": "UTF-32",
                   "utf-32-be": "UTF-32"}


def line_cut_message(length: int, limit: int) -> str:
    """The error for a line of ``length`` characters cut to ``limit``."""
    return (f"the line is {length:,} characters long, more than the limit of {limit:,} (INGESTION_MAX_LINE_CHARS): "
            "only its first characters were read; split it into shorter lines, or raise the limit")


def message_cut_message(length: int, limit: int, first: str, last: str) -> str:
    """The error for a message body of ``length`` characters cut to ``limit``, whose lines
    ``first`` to ``last`` (refs) were not read."""
    lines = f"{first}" if first == last else f"{first} to {last}"
    return (f"the message is {length:,} characters long, more than the limit of {limit:,} "
            f"(INGESTION_MAX_MESSAGE_CHARS): {lines} not read for offers; split the message, or raise the limit")


def message_offers(
    messages: list[ChatMessage], context: IngestContext, *, total: int | None = -1, done: int = 0
) -> Iterator[Item]:
    """The offer candidates of ``messages``, counting them in ``context.stats``.

    Counts ``messages``, one counter per kind (``text_messages``, ``media_omitted`` ...),
    ``edited`` and ``offers_found``, and reports ``context.progress(done, total)``
    every 2,000 messages; ``total`` defaults to ``len(messages)`` (``None`` when
    unknown, e.g. a streamed file read in batches, which pass the ``done`` so far).
    Extraction is pure and per message: a forked child takes every other chunk
    (``ingestion.readahead.split_map``).

    With ``--option prefer_llm=true`` and the LLM pass enabled (``ingestion.llm.wanted``), the
    non-blank lines of the text messages and captions go to ``ingestion.llm.normalize`` instead
    (refs and templates as above; one ``Notice`` says how it went, and the model's rejected
    prices are ``RowError``s); when the pass fails, the heuristics read the messages after
    that notice. Counters as above, but ``lines_not_offers``, which only the heuristics count.
    """
    stats = context.stats
    if total == -1:
        total = len(messages)
    stats["messages"] += len(messages)
    messages, errors = _within_limits(messages, max_message_chars(), max_line_chars())
    if errors:
        stats["messages_cut"] += len(errors)
        yield from errors
    if messages and llm.wanted(context):
        items, notices = llm.normalize(_source_lines(messages), context, where=context.filename or "chat",
                                       hint="a chat of phone and electronics vendors; messages may hold price lines")
        yield from notices
        if items is not None:
            for message in messages:
                stats[_KIND_STATS[message.kind]] += 1
                if message.edited:
                    stats["edited"] += 1
            stats["offers_found"] += sum(1 for item in items if isinstance(item, OfferCandidate))
            yield from items
            if context.progress is not None and total is not None:
                context.progress(done + len(messages), total)
            return
    for message, (offers, rejected) in zip(messages, split_map(_offers_of, messages)):
        done += 1
        stats[_KIND_STATS[message.kind]] += 1
        if message.edited:
            stats["edited"] += 1
        stats["offers_found"] += len(offers)
        if rejected:
            note_lines_not_offers(stats, rejected)
        yield from offers
        if context.progress is not None and done % _PROGRESS_EVERY == 0:
            context.progress(done, total)
    if context.progress is not None and total is not None:
        context.progress(total, total)


NOT_OFFERS_SAMPLE = 5  # lines with numbers that gave no offer, kept in the stats with the reason


def note_lines_not_offers(stats, rejected: list[tuple[str, str, str]]) -> None:
    """Count lines that had numbers but gave no offer (``lines_not_offers``) and keep the first
    ``NOT_OFFERS_SAMPLE`` of them as ``{"ref", "line", "reason"}`` in ``stats["not_offers_sample"]``,
    so a chat that yields nothing can say why."""
    stats["lines_not_offers"] += len(rejected)
    sample = stats.get("not_offers_sample") or []
    for ref, line, reason in rejected[:NOT_OFFERS_SAMPLE - len(sample)]:
        sample.append({"ref": ref, "line": line[:200], "reason": reason})
    stats["not_offers_sample"] = sample


def _line_ref(message: ChatMessage, offset: int) -> str:
    """The ref of line ``offset`` (0-based) of a message's body: ``line N`` of the file, or
    ``message <id> line <n>`` for a message with an id (Telegram JSON)."""
    if message.message_id:
        return f"message {message.message_id} line {offset + 1}"
    return f"line {message.body_line + offset}"


def _within_limits(
    messages: list[ChatMessage], message_limit: int, line_limit: int
) -> tuple[list[ChatMessage], list[RowError]]:
    """``messages`` with each body longer than ``message_limit`` cut at a line end (``chat_text.cut_message``)
    and each line longer than ``line_limit`` cut (a chat file's lines are already: ``read_chat_text``),
    and a ``RowError`` for each message cut naming the lines not read (line cuts: one per line)."""
    errors: list[RowError] = []
    longest = min(message_limit, line_limit)
    if all(len(message.body) <= longest for message in messages):
        return messages, errors  # the usual case: nothing to look at
    kept = []
    for message in messages:
        body = message.body
        if len(body) > message_limit:
            body, first, last = cut_message(body, message_limit)
            errors.append(RowError(_line_ref(message, first), message_cut_message(
                len(message.body), message_limit, _line_ref(message, first), _line_ref(message, last))))
        if len(body) > line_limit and max(map(len, body.split("\n"))) > line_limit:
            lines = body.split("\n")
            for offset, line in enumerate(lines):
                if len(line) > line_limit:
                    errors.append(RowError(_line_ref(message, offset), line_cut_message(len(line), line_limit)))
                    lines[offset] = line[:line_limit]
            body = "\n".join(lines)
        kept.append(message if body is message.body else dataclasses.replace(message, body=body))
    return kept, errors


def _source_lines(messages: list[ChatMessage]) -> list[llm.SourceLine]:
    """The non-blank body lines of the text messages and media captions, for the LLM pass: refs as
    the heuristics give them, and each message's time, author (and Telegram id) as the template."""
    lines = []
    for message in messages:
        if not message.body or message.kind not in (TEXT, MEDIA):
            continue
        template = OfferCandidate(ref="", observed_at=message.sent_at, sender=message.author)
        if message.message_id:
            template.extra["message_id"] = message.message_id
        for offset, text in enumerate(message.body.split("\n")):
            if text.strip():
                lines.append(llm.SourceLine(_line_ref(message, offset), text, template))
    return lines


def _offers_of(message: ChatMessage) -> tuple[list[OfferCandidate], list[tuple[str, str, str]]]:
    """The offer candidates of one message (text bodies and media captions), with its time and author,
    and its lines that had numbers but gave no offer, as ``(ref, line, reason)``.

    A message with an id (Telegram) refers to its lines as ``message <id> line <n>``.
    """
    if not message.body or message.kind not in (TEXT, MEDIA):
        return [], []
    rejected: list[tuple[str, str, str]] = []
    if message.message_id:
        offers = list(extract_offers(
            message.body, first_line=1, ref_prefix=f"message {message.message_id} line", rejected=rejected,
        ))
        for candidate in offers:
            candidate.extra["message_id"] = message.message_id
    else:
        offers = list(extract_offers(message.body, first_line=message.body_line, rejected=rejected))
    for candidate in offers:
        candidate.observed_at = message.sent_at
        candidate.sender = message.author
    return offers, rejected


processor = WhatsAppTextProcessor()
