"""Reading a chat export's text: its encoding, and limits that keep a hostile file harmless.

The chat processors (``whatsapp_text``, ``telegram``) read a file through
``read_chat_text(path)``, never ``path.read_bytes()``: the file is decoded in
chunks of 1 MiB, line endings become ``\\n``, and a line longer than
``INGESTION_MAX_LINE_CHARS`` characters keeps its first that many characters
(the rest is read past, never held) and is reported. So a 200 MB file without
a newline costs one chunk and one cut line, and the text of any file is held
once (plus, while it is joined at the end, its pieces).

Encodings (``sniff_encoding(head)``)
    A byte-order mark says UTF-8, UTF-16 LE/BE or UTF-32 LE/BE. Without one,
    the text is UTF-8 (bytes that are not are replaced and their lines
    reported) unless NUL bytes say UTF-16: WhatsApp exports saved by some
    Windows tools are UTF-16 LE without a mark. Such a file is read when that
    is unambiguous: at least half (``UTF16_MIN_NULS``) of the bytes at odd
    offsets (little endian; even offsets for big endian) of the first 64 KiB
    are NUL, as in ASCII-heavy text (dates, times, digits, Latin names), at
    most 1 % at the other offsets, and the sample decodes. A file with NULs at
    one parity only but fewer of them (mostly Arabic, Cyrillic, CJK ...) is
    refused with ``utf16_message()``, which says "UTF-16 without a byte-order
    mark" and what to do. NULs at both parities are binary data, not UTF-16:
    the processors' detection judges such a file. ``encoding_problem(head)``
    is the message ``intake`` can give before anything is stored.

Limits (Django settings, read when the file is read; the defaults without Django)
    ``INGESTION_MAX_LINE_CHARS`` (default 10,000): longest line kept, in characters;
    real chat lines are at most about 2,000.
    ``INGESTION_MAX_MESSAGE_CHARS`` (default 200,000): longest message body given to
    the offer extractor (``cut_message``); a real price-list message is 20-50 KB.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ChatText", "Encoding", "UTF16_NO_BOM", "cut_message", "decode_head", "encoding_problem", "max_line_chars",
    "max_message_chars", "read_chat_text", "sniff_encoding", "utf16_message",
]

DEFAULT_MAX_LINE_CHARS = 10_000
DEFAULT_MAX_MESSAGE_CHARS = 200_000
CHUNK_BYTES = 1 << 20
UTF16_NO_BOM = "UTF-16 without a byte-order mark"
UTF16_MIN_NULS = 0.5  # share of NUL bytes at the high-byte offsets for UTF-16 to be unambiguous
UTF16_MAX_OTHER_NULS = 0.01  # share at the low-byte offsets, at most (U+0100, U+3000 ... have a NUL low byte)
UTF16_SOME_NULS = 0.05  # share at the high-byte offsets from which a file is taken for UTF-16 at all
_SAMPLE_BYTES = 64 * 1024
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _setting(name: str, default: int) -> int:
    try:
        from django.conf import settings

        if settings.configured:
            return int(getattr(settings, name, default))
    except ImportError:  # pragma: no cover - Django is a requirement; the benchmarks may run without settings
        pass
    return default


def max_line_chars() -> int:
    """``settings.INGESTION_MAX_LINE_CHARS`` (default 10,000): the longest line of a chat kept, in characters."""
    return _setting("INGESTION_MAX_LINE_CHARS", DEFAULT_MAX_LINE_CHARS)


def max_message_chars() -> int:
    """``settings.INGESTION_MAX_MESSAGE_CHARS`` (default 200,000): the longest message body read for offers."""
    return _setting("INGESTION_MAX_MESSAGE_CHARS", DEFAULT_MAX_MESSAGE_CHARS)


@dataclass(frozen=True, slots=True)
class Encoding:
    """How a file's bytes are text: ``name`` for ``codecs``, ``bom`` bytes to skip, ``problem`` when
    it cannot be read (``name`` is then ``""``); ``guessed`` for UTF-16 found without a mark."""

    name: str
    bom: int = 0
    problem: str = ""
    guessed: bool = False


def utf16_message(filename: str = "", *, guessed: bool = False) -> str:
    """Why a file in UTF-16 without a byte-order mark is refused: its byte order is not certain (not
    ASCII-heavy enough to tell), or (``guessed``) no processor reads it even so. Says what to do."""
    label = filename or "the file"
    if guessed:
        return (f"{label} is in {UTF16_NO_BOM} and no processor reads it as such; "
                "open it in a text editor and save it as UTF-8, then ingest it again")
    return (
        f"{label} looks like {UTF16_NO_BOM} (NUL bytes between the characters), and too few of its "
        "characters are ASCII to tell its byte order for sure; open it in a text editor and save it as UTF-8 "
        "(or as UTF-16 with a byte-order mark), then ingest it again"
    )


def sniff_encoding(head: bytes, filename: str = "") -> Encoding:
    """The encoding of a file whose first bytes are ``head`` (see the module docstring).

    ``Encoding("utf-8")`` for a file without a mark that is not UTF-16-like: no NUL bytes,
    or NUL bytes at even and odd offsets alike (binary data, for the processors to judge).
    """
    for mark, name in _BOMS:
        if head.startswith(mark):
            return Encoding(name, len(mark))
    sample = head[:_SAMPLE_BYTES]
    if b"\x00" not in sample:
        return Encoding("utf-8")
    sample = sample[:len(sample) & ~1]
    pairs = len(sample) // 2
    if pairs:
        even, odd = sample[0::2].count(0) / pairs, sample[1::2].count(0) / pairs
        for name, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if low <= UTF16_MAX_OTHER_NULS and high >= UTF16_SOME_NULS:  # NULs where UTF-16 puts high bytes
                if high >= UTF16_MIN_NULS and _decodes(sample, name):
                    return Encoding(name, guessed=True)
                return Encoding("", problem=utf16_message(filename))
    return Encoding("utf-8")


def _decodes(sample: bytes, name: str) -> bool:
    """Whether ``sample`` decodes (a character cut at the end allowed) to text without NUL."""
    try:
        text = codecs.getincrementaldecoder(name)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def encoding_problem(head: bytes, filename: str = "") -> str:
    """For a file no processor reads (``intake.refusal``): ``utf16_message`` when its first bytes
    are UTF-16 without a byte-order mark, whether or not the byte order is certain; else ``""``."""
    encoding = sniff_encoding(head, filename)
    if encoding.problem:
        return encoding.problem
    return utf16_message(filename, guessed=True) if encoding.guessed else ""


def decode_head(head: bytes) -> str:
    """``head`` as text for a processor's ``detect`` (mark dropped, a cut character or bad bytes
    ignored), in the encoding ``sniff_encoding`` finds; ``""`` when it finds none."""
    encoding = sniff_encoding(head)
    if not encoding.name:
        return ""
    return head[encoding.bom:].decode(encoding.name, errors="ignore")


@dataclass(slots=True)
class ChatText:
    """A chat file's text as ``read_chat_text`` read it.

    ``text``: lines joined by ``\\n`` (``\\r\\n`` and ``\\r`` converted), each at most the line limit.
    ``replaced``: (1-based line, text) of each line whose bytes were not valid in ``encoding``
    (replaced by U+FFFD). ``cut_lines``: (1-based line, length in characters) of each line cut.
    """

    text: str
    encoding: str
    replaced: list[tuple[int, str]] = field(default_factory=list)
    cut_lines: list[tuple[int, int]] = field(default_factory=list)
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS


def read_chat_text(path: Path | str, *, max_line: int | None = None, chunk_bytes: int = CHUNK_BYTES) -> ChatText:
    """Read the chat file at ``path`` in chunks of ``chunk_bytes`` (see the module docstring).

    ``max_line`` defaults to ``max_line_chars()``. Raises ``ValueError`` with ``utf16_message``
    for UTF-16 without a mark whose byte order is ambiguous.
    """
    limit = max_line if max_line is not None else max_line_chars()
    with open(path, "rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
        encoding = sniff_encoding(head, Path(path).name)
        if not encoding.name:
            raise ValueError(encoding.problem)
        lines = _Lines(limit, encoding.name)
        for start in range(encoding.bom, len(head), chunk_bytes):
            lines.feed(head[start:start + chunk_bytes])
        while chunk := handle.read(chunk_bytes):
            lines.feed(chunk)
        lines.feed(b"", final=True)
    return ChatText("".join(lines.pieces), encoding.name, lines.replaced, lines.cut, limit)


class _Lines:
    """Decoded chunks into capped lines, counting line numbers (see ``read_chat_text``).

    The lines between a chunk's first and last newline are kept as one slice of the chunk
    when none is too long and no byte was replaced (the usual case: no work per line).
    """

    def __init__(self, limit: int, encoding: str):
        self.limit = limit
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")
        self.encoding = encoding
        self.strict = True  # no byte replaced so far
        self.pieces: list[str] = []
        self.replaced: list[tuple[int, str]] = []
        self.cut: list[tuple[int, int]] = []
        self.line = 1  # number of the line being read
        self.line_start = 0  # its first piece
        self.line_offset = 0  # where it starts in that piece
        self.kept = 0  # characters of it kept so far
        self.length = 0  # characters of it read so far
        self.carriage = False  # the text so far ended with "\r" (a "\n" right after it ends no other line)
        self.bad_line = False  # the current line had bytes replaced

    def _decode(self, data: bytes, final: bool) -> str:
        if self.strict:
            state = self.decoder.getstate()
            try:
                return self.decoder.decode(data, final)
            except UnicodeDecodeError:
                self.strict = False
                self.decoder = codecs.getincrementaldecoder(self.encoding)("replace")
                self.decoder.setstate(state)
        return self.decoder.decode(data, final)

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self._decode(data, final)
        if text and self.carriage:
            if text[0] == "\n":
                text = text[1:]
            self.carriage = False
        if text.endswith("\r"):
            self.carriage = True
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        first = text.find("\n")
        if (first >= 0 and self.length + first <= self.limit and not self.bad_line
                and (self.strict or "\ufffd" not in text) and _lines_within(text, first + 1, self.limit)):
            # The usual chunk: no line too long, no byte replaced: kept whole, nothing done per line.
            self.pieces.append(text)
            self.line += text.count("\n")
            last = text.rfind("\n") + 1
            self.line_start, self.line_offset = len(self.pieces) - 1, last
            self.kept = self.length = len(text) - last
            if final:
                self._end_line(last=True)
            return
        parts = text.split("\n")
        self._add(parts[0])
        if len(parts) > 1:
            self._end_line()
            middle = parts[1:-1]
            if middle and (self.strict or "\ufffd" not in text) and max(map(len, middle)) <= self.limit:
                self.pieces.append(text[len(parts[0]):len(text) - len(parts[-1])])  # "\n" + lines + "\n"
                self.line += len(middle)
            else:
                self.pieces.append("\n")
                for part in middle:
                    self.line_start, self.line_offset = len(self.pieces), 0
                    self._add(part)
                    self._end_line()
                    self.pieces.append("\n")
            self.line_start, self.line_offset = len(self.pieces), 0
            self._add(parts[-1])
        if final:
            self._end_line(last=True)

    def _add(self, part: str) -> None:
        if not part:
            return
        if not self.strict and "\ufffd" in part:
            self.bad_line = True
        self.length += len(part)
        room = self.limit - self.kept
        if room <= 0:
            return
        if len(part) > room:
            part = part[:room]
        self.pieces.append(part)
        self.kept += len(part)

    def _end_line(self, last: bool = False) -> None:
        if self.length > self.limit:
            self.cut.append((self.line, self.length))
        if self.bad_line:
            line = "".join(self.pieces[self.line_start:])
            self.replaced.append((self.line, line[self.line_offset:self.line_offset + 200]))
        if not last:
            self.line += 1
        self.kept = self.length = 0
        self.bad_line = False


def _lines_within(text: str, start: int, limit: int) -> bool:
    """Whether no line of ``text[start:]`` (``start`` a line start) is longer than ``limit``:
    a window of ``limit + 1`` characters from each line start holds a newline, found from the
    window's end, so the check takes a step per ``limit`` characters, not one per line."""
    size = len(text)
    while size - start > limit:
        newline = text.rfind("\n", start, start + limit + 1)
        if newline < 0:
            return False
        start = newline + 1
    return True


def cut_message(body: str, limit: int) -> tuple[str, int, int]:
    """``body`` cut to at most ``limit`` characters, at a line end unless its first line alone is
    longer, and the 0-based numbers of the first and last of its lines not (wholly) kept;
    ``(body, -1, -1)`` when it is not longer than ``limit``."""
    if len(body) <= limit:
        return body, -1, -1
    end = body.rfind("\n", 0, limit + 1)
    if end <= 0:
        end = limit  # one line longer than the limit: its start is kept
    kept = body[:end]
    first = kept.count("\n") + (body[end] == "\n")
    return kept, first, first + body.count("\n", end + (body[end] == "\n"))
