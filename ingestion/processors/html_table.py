"""An ``.xls`` that is really an HTML page: read its first table, streaming.

Many ERPs export "Excel" as an HTML table saved under an ``.xls`` name (Excel
opens it with a warning). Such a file is read as the table it is: the first
``<table>`` of the page (a table nested inside it is part of its cells' text),
one row per ``<tr>``, one cell per ``<td>``/``<th>`` (a ``colspan`` of n is the
cell followed by n-1 empty ones, so columns stay aligned), each cell's text with
its white space collapsed. Where Excel's HTML export gives a cell's number in
an ``x:num`` attribute, that number is the cell's value. Rows are referenced
``"row N"``, the N-th ``<tr>`` of the table (1-based).

The page is decoded with its byte order mark, else the ``charset`` its first
64 KB declare, else strict UTF-8 if the whole file is UTF-8, else cp1252; the
``encoding`` option overrides all. It is parsed with the standard library's
``html.parser`` in 64 KB pieces: memory holds one piece, the rows not yet
consumed, and at most ``MAX_PENDING_CHARS`` of text not yet parsed.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from ingestion.processors.workbook_limits import RowLimit, WorkbookLimitError

READ_BYTES = 64 * 1024
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell's text ("Excel specifications and limits")
MAX_PENDING_CHARS = 16 * 1024 * 1024  # text the parser holds without finding a tag: not a table
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
_CELL_TAGS = ("td", "th")


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a file are an HTML page or fragment holding a table or
    an ``<html>`` element (any byte order mark, then blank space, then ``<``); an XML
    Spreadsheet 2003 file (``is_xml_spreadsheet``) is not one."""
    text = _head_text(head).lstrip().lower()
    return text.startswith("<") and ("<table" in text or "<html" in text) and not is_xml_spreadsheet(head)


def is_xml_spreadsheet(head: bytes) -> bool:
    """Whether the first bytes are Excel's XML Spreadsheet 2003 format (also saved as .xls:
    ``<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">``), which is not HTML."""
    text = _head_text(head)
    return "urn:schemas-microsoft-com:office:spreadsheet" in text and "<Workbook" in text


def xml_spreadsheet_message(filename: str) -> str:
    """Why an XML Spreadsheet 2003 file is refused, and what to do."""
    return (f"{filename} is an Excel 2003 XML spreadsheet, which PriceHub does not read; "
            f"open it in Excel and save it as .xlsx")


def _head_text(head: bytes) -> str:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head.decode(encoding, "ignore")
    return head.decode("latin-1")


def detect_encoding(path: Path, option: str = "") -> str:
    """The encoding to read the page with (rules in the module docstring)."""
    if option:
        return option
    with open(path, "rb") as handle:
        head = handle.read(READ_BYTES)
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                return encoding
        declared = _CHARSET_RE.search(head)
        if declared:
            try:
                return codecs.lookup(declared.group(1).decode("ascii")).name
            except LookupError:
                pass
        decoder = codecs.getincrementaldecoder("utf-8")()
        handle.seek(0)
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


class _TableParser(HTMLParser):
    """Collects the rows of the first top-level ``<table>``; ``rows`` holds finished rows
    (lists of cell values) until the reader takes them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: deque[tuple[int, list]] = deque()  # (row index in the table, cells)
        self.found = False  # a <table> began
        self.done = False  # the first table ended
        self.depth = 0  # <table> nesting inside the first table (1 = the table itself)
        self.row: list | None = None
        self.row_index = -1
        self.cell: list[str] | None = None
        self.cell_number: float | None = None
        self.cell_span = 1
        self.cut_cells: list[int] = []  # indexes of rows with a cell cut at MAX_CELL_CHARS
        self.cell_length = 0

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if tag == "table":
            if not self.found:
                self.found = True
            self.depth += 1
            if self.depth > 1 and self.cell is not None:
                self.cell.append(" ")
            return
        if self.depth != 1:  # outside the table, or inside a nested one (its text joins the cell)
            if self.depth > 1 and tag in ("td", "th", "tr", "br", "p", "div") and self.cell is not None:
                self.cell.append(" ")
            return
        if tag == "tr":
            self._end_row()
            self.row = []
            self.row_index += 1
        elif tag in _CELL_TAGS:
            if self.row is None:  # a cell before any <tr>: an implied row
                self.row = []
                self.row_index += 1
            self._end_cell()
            self.cell = []
            self.cell_length = 0
            values = dict(attrs)
            self.cell_span = _span(values.get("colspan"))
            self.cell_number = _number(values.get("x:num"))
        elif tag in ("br", "p", "div") and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag):
        if self.done or not self.found:
            return
        if tag == "table":
            self.depth -= 1
            if self.depth == 0:
                self._end_row()
                self.done = True
            return
        if self.depth != 1:
            return
        if tag in _CELL_TAGS:
            self._end_cell()
        elif tag == "tr":
            self._end_row()

    def handle_data(self, data):
        if self.cell is None or self.done:
            return
        room = MAX_CELL_CHARS + 1 - self.cell_length
        if room > 0:
            piece = data[:room]
            self.cell.append(piece)
            self.cell_length += len(piece)

    def finish(self):
        """The end of the file: a row or table left open ends here."""
        if self.found and not self.done:
            self._end_row()
            self.done = True

    def _end_cell(self):
        if self.cell is None or self.row is None:
            return
        text = _SPACE_RE.sub(" ", "".join(self.cell)).strip()
        if self.cell_length > MAX_CELL_CHARS:
            text = text[:MAX_CELL_CHARS]
            self.cut_cells.append(self.row_index)
        value = self.cell_number if self.cell_number is not None and text else text
        self.row.append(value)
        self.row.extend([""] * (self.cell_span - 1))
        self.cell = None

    def _end_row(self):
        self._end_cell()
        if self.row is not None:
            while self.row and self.row[-1] == "":
                self.row.pop()
            self.rows.append((self.row_index, self.row))
            self.row = None


def _span(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 1000))
    except ValueError:
        return 1


def _number(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


class HtmlTable:
    """The rows of the first table of an HTML file, read as they are parsed.

    Iterating yields each ``<tr>``'s cells (strings, or floats from ``x:num``); afterwards
    ``cut_rows`` lists the 0-based row indexes where a cell was cut at ``MAX_CELL_CHARS``.
    Raises ``WorkbookLimitError`` (a ``ValueError``) naming the file when the page holds no
    table, when the table exceeds ``INGESTION_MAX_SHEET_ROWS`` rows or
    ``INGESTION_MAX_SHEET_CELLS`` cells, or when more than ``MAX_PENDING_CHARS`` of text come
    without a tag; ``ValueError`` when the bytes are not in the encoding found.
    """

    def __init__(self, path: Path, filename: str, encoding: str):
        self.path = Path(path)
        self.filename = filename
        self.encoding = encoding
        self.cut_rows: list[int] = []

    def __iter__(self) -> Iterator[list]:
        parser = _TableParser()
        limit = RowLimit(self.filename, "the HTML table")
        decoder = codecs.getincrementaldecoder(self.encoding)()
        offset = 0
        with open(self.path, "rb") as handle:
            while not parser.done:
                chunk = handle.read(READ_BYTES)
                try:
                    text = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"{self.filename}: byte {offset + exc.start:,} is not {self.encoding} text; "
                        f"pass the page's encoding as the option encoding=NAME (e.g. cp1252, utf-8)"
                    ) from None
                offset += len(chunk)
                parser.feed(text)
                if not chunk:
                    parser.close()
                    parser.finish()  # a table the page never closed ends with the file
                if len(parser.rawdata) > MAX_PENDING_CHARS:
                    raise WorkbookLimitError(
                        f"{self.filename}: more than {MAX_PENDING_CHARS:,} characters without an HTML tag near "
                        f"byte {offset:,}; this is not a table PriceHub can read: export the list as .xlsx or CSV"
                    )
                while parser.rows:
                    index, row = parser.rows.popleft()
                    while len(self.cut_rows) < len(parser.cut_cells):
                        self.cut_rows.append(parser.cut_cells[len(self.cut_rows)])
                    limit.add(row)
                    yield row
                if not chunk:
                    break
        if not parser.found:
            raise WorkbookLimitError(
                f"{self.filename} is an HTML page, not a spreadsheet, and holds no table to read; "
                f"open it in Excel and save it as .xlsx, or export the list as CSV"
            )
