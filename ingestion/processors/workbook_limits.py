"""Limits that stop a hostile or broken workbook early, in bounded memory, naming the file.

python-calamine reads a whole sheet into memory at once, as a dense grid of
32-byte cells spanning the sheet's used range (rows x columns), and cannot be
stopped half-way: a 1.5 KB .xlsx with one cell in A1 and one in XFD1048576
makes it allocate 512 GiB and abort the process; a 3.7 MB .xlsx that unpacks to
1.1 GB took 3.4 GB of memory. So, before calamine opens anything:

* ``check_package`` reads the zip's central directory (no part is unpacked):
  the parts' total uncompressed size (``INGESTION_MAX_UNCOMPRESSED_BYTES``)
  and each large part's compression ratio (``INGESTION_MAX_COMPRESSION_RATIO``).
* ``scan_xlsx_sheet`` streams one worksheet part through zlib itself, so that a
  part that unpacks to more than its directory entry declares is caught as it
  happens, and bounds the sheet's used range from its ``<dimension>`` (the
  declared one) and from the row numbers and cell references it holds: more
  rows than ``INGESTION_MAX_SHEET_ROWS`` or a range of more cells than
  ``INGESTION_MAX_SHEET_CELLS`` fails the document. The same pass records the
  rows the sheet hides (``SheetScan.hidden``), so the layout need not read
  the part again.
* ``RowLimit`` counts rows and cells while a sheet, CSV or HTML table is read.

Every limit is a Django setting read with ``getattr(settings, NAME, default)``;
an exceeded one raises ``WorkbookLimitError`` (a ``ValueError``: the ingest
service fails the document with its message, without a traceback), e.g.
``"list.xlsx: sheet 'Prices' has more than 2,000,000 rows (limit INGESTION_MAX_SHEET_ROWS)"``.

Defaults (measured on files openpyxl writes; see ``DEFAULTS``): a 100,000-row
list of five columns is a 29 MB sheet part compressed 8:1; a sheet of 100,000
identical rows, or of 50,000 rows of bordered empty cells, 15:1 to 16:1 (each
row still names its own number). A bomb of rows without numbers reaches about
300:1 with deflate (1032:1 at most, for a run of one byte).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    # Sum of the uncompressed sizes of a workbook's parts, and the largest CSV or HTML file read.
    # A 1,000,000-row list of five columns as openpyxl writes it unpacks to about 290 MB.
    "INGESTION_MAX_UNCOMPRESSED_BYTES": 2 * 1024**3,
    # Uncompressed / compressed size of any part of 1 MiB or more: legitimate sheets measured 8:1 to 16:1.
    "INGESTION_MAX_COMPRESSION_RATIO": 100,
    # Rows of one sheet (or CSV file, or HTML table); Excel's own limit is 1,048,576.
    "INGESTION_MAX_SHEET_ROWS": 2_000_000,
    # Cells of one sheet's used range (rows x columns), which calamine holds at 32 bytes each:
    # 40,000,000 is about 1.3 GB, a 1,048,576-row sheet of 38 columns.
    "INGESTION_MAX_SHEET_CELLS": 40_000_000,
    # Characters of one CSV line; a longer line is reported and not read (csv's own field limit is 131,072).
    "INGESTION_MAX_CSV_LINE_CHARS": 1_048_576,
}
# Parts smaller than this are not held to the ratio (a few KB of repeated style XML compress 50:1).
RATIO_FLOOR_BYTES = 1 << 20
_CHUNK = 1 << 20


class WorkbookLimitError(ValueError):
    """A file exceeds one of the limits above; the message names the file, the sheet or part,
    the setting, and what to do."""


def limit(name: str) -> int:
    """The setting ``name`` (see ``DEFAULTS``), or its default when Django is not configured."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        value = getattr(settings, name, DEFAULTS[name])
    except ImproperlyConfigured:  # a script that never set Django up
        return DEFAULTS[name]
    return int(value)


def _size(count: int) -> str:
    """``1181116006`` -> ``"1.1 GB"``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def too_many_rows(filename: str, where: str) -> WorkbookLimitError:
    """The error for a sheet (``where`` = ``"sheet 'Prices'"``) with more rows than allowed."""
    return WorkbookLimitError(
        f"{filename}: {where} has more than {limit('INGESTION_MAX_SHEET_ROWS'):,} rows "
        f"(limit INGESTION_MAX_SHEET_ROWS); split the list into smaller files"
    )


def too_many_cells(filename: str, where: str, rows: int, columns: int) -> WorkbookLimitError:
    """The error for a sheet whose used range (``rows`` x ``columns``) has more cells than allowed."""
    return WorkbookLimitError(
        f"{filename}: {where} spans {rows:,} rows x {columns:,} columns, more than "
        f"{limit('INGESTION_MAX_SHEET_CELLS'):,} cells (limit INGESTION_MAX_SHEET_CELLS); delete the "
        f"cells far below or to the right of the list, or split it into smaller files"
    )


def too_large(filename: str, size: int, what: str = "unpacks to") -> WorkbookLimitError:
    """The error for a package whose parts unpack to (or a CSV/HTML file that ``what`` = "is")
    more than ``INGESTION_MAX_UNCOMPRESSED_BYTES``; ``size`` in bytes."""
    return WorkbookLimitError(
        f"{filename} {what} more than {_size(limit('INGESTION_MAX_UNCOMPRESSED_BYTES'))} ({_size(size)}; limit "
        f"INGESTION_MAX_UNCOMPRESSED_BYTES); split the list into smaller files"
    )


# --------------------------------------------------------------------------- the zip package


def check_package(archive: zipfile.ZipFile, filename: str) -> None:
    """Refuse a workbook package (.xlsx/.xlsm/.ods zip) by its central directory alone.

    Raises ``WorkbookLimitError`` when the parts' declared uncompressed sizes add up to more
    than ``INGESTION_MAX_UNCOMPRESSED_BYTES``, or a part of ``RATIO_FLOOR_BYTES`` or more
    declares a ratio (uncompressed / compressed) above ``INGESTION_MAX_COMPRESSION_RATIO``.
    A part that unpacks to more than it declares is caught while it is read
    (``verified_stream``).
    """
    total = 0
    ratio_limit = limit("INGESTION_MAX_COMPRESSION_RATIO")
    for info in archive.infolist():
        total += info.file_size
        if info.file_size >= RATIO_FLOOR_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > ratio_limit:
                raise WorkbookLimitError(
                    f"{filename}: part {info.filename!r} unpacks from {_size(info.compress_size)} to "
                    f"{_size(info.file_size)}, a compression ratio of {ratio:,.0f}:1 (limit "
                    f"INGESTION_MAX_COMPRESSION_RATIO = {ratio_limit}:1); a real price list compresses far less, "
                    f"so this looks like a zip bomb: open it in Excel and save it again, or send the list as CSV"
                )
    if total > limit("INGESTION_MAX_UNCOMPRESSED_BYTES"):
        raise too_large(filename, total)


def verified_stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str):
    """The bytes of one part, in chunks of about 1 MiB, unpacked here with zlib so that a part
    holding more than its directory entry declares (a forged size, which calamine's zip reader
    would not notice) raises ``WorkbookLimitError`` as soon as it goes past the declared size.

    Stored and deflated parts (the two methods Office and LibreOffice write) are read from the
    raw file; any other method is left to ``zipfile``, which stops at the declared size.
    """
    declared = info.file_size
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
        return
    handle = archive.fp
    handle.seek(info.header_offset)
    header = handle.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    left = info.compress_size
    produced = 0
    decompressor = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while left > 0:
        raw = handle.read(min(_CHUNK // 4, left))
        if not raw:
            break
        left -= len(raw)
        while raw:
            if decompressor is None:
                data, raw = raw, b""
            else:  # at most a chunk of output per call: a bomb never unpacks further than that
                data = decompressor.decompress(raw, _CHUNK)
                raw = decompressor.unconsumed_tail
            produced += len(data)
            if produced > declared:
                raise WorkbookLimitError(
                    f"{filename}: part {info.filename!r} unpacks to more than the {declared:,} bytes its zip "
                    f"directory declares (a forged size, as zip bombs have); open it in Excel and save it again"
                )
            if data:
                yield data


# --------------------------------------------------------------------------- one xlsx sheet

_DIMENSION_RE = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Za-z]{1,3})?\$?(\d+)?(?::\$?([A-Za-z]{1,3})\$?(\d+))?"')
_ROOT_PREFIX_RE = re.compile(rb"<(\w+:)?worksheet\b")
_HIDDEN_RE = re.compile(rb'\shidden="(?:1|true)"|\sht="0(?:\.0*)?"')
_ROW_NUMBER_RE = re.compile(rb'\sr="(\d+)"')
_AUTOFILTER_RE = re.compile(
    rb'<(?:\w+:)?autoFilter\b[^>]*\sref="\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?"'
)
_MULTI_LETTER_REF_RE = re.compile(rb'\sr="([A-Z]{2,3})\d')  # cells beyond column Z (row numbers have no letters)


def column_number(letters: bytes | str) -> int:
    """Excel column letters -> 1-based number: ``A`` -> 1, ``XFD`` -> 16384."""
    number = 0
    for char in letters.upper() if isinstance(letters, str) else letters.decode("ascii").upper():
        number = number * 26 + ord(char) - 64
    return number


@dataclass
class SheetScan:
    """What ``scan_xlsx_sheet`` found in one worksheet part.

    ``rows``/``columns``: an upper bound of the used range (1-based last row and column);
    ``hidden[i]`` is 1 for a hidden 0-based row ``i``; ``filter_rows`` the first and last
    row (1-based) of the sheet's autofilter range, or ``None``.
    """

    rows: int = 0
    columns: int = 0
    hidden: bytearray | None = None
    filter_rows: tuple[int, int] | None = None


def scan_xlsx_sheet(chunks, filename: str, sheet_name: str) -> SheetScan:
    """Bound a worksheet part's used range before calamine loads it, and note its hidden rows.

    ``chunks`` yields the part's bytes (``verified_stream``). The ``<dimension ref>`` the sheet
    declares (ECMA-376 Part 1, 18.3.1.35) is checked first; then every ``<row r>`` (18.3.1.73;
    a row without ``r`` follows the one before) and every cell reference beyond column Z. A cell
    without a reference (``<c>`` without ``r``, allowed by the schema) takes the next column:
    then the widest row's count of cells bounds the columns. Raises ``WorkbookLimitError``
    naming the sheet when its rows or its range's cells exceed the limits. Memory: a chunk
    (about 1 MiB, a tag never cut in two) and one byte per row up to the last hidden one.
    """
    max_rows = limit("INGESTION_MAX_SHEET_ROWS")
    max_cells = limit("INGESTION_MAX_SHEET_CELLS")
    where = f"sheet {sheet_name!r}"
    scan = SheetScan()
    hidden = bytearray()
    last_row = 0  # the last row with cells
    position = 0  # the row a row without a number follows
    columns = 26  # single-letter references are not looked at one by one: A..Z
    first = True
    for chunk in _whole_tags(chunks):
        if first:
            first = False
            prefix = _ROOT_PREFIX_RE.search(chunk)
            tag = prefix.group(1) if prefix and prefix.group(1) else b""
            row_open = b"<" + tag + b"row"
            # r first, as writers put it (its number captured); any other row (no r, r later, no cells:
            # <row r="9"/> extends no range) captures "" and sends the chunk to the careful path
            numbered_row_re = re.compile(re.escape(row_open) + rb'(?: r="(\d+)"[^>]*(?<!/)>|[\s>/])')
            row_re = re.compile(re.escape(row_open) + rb"\b([^>]*)>")
            cell_open = b"<" + tag + b"c"
            # one quick pass for both unusual cells: r not first (or absent), or a column beyond Z
            unusual_cell_re = re.compile(re.escape(cell_open) + rb'(?:[\s>/](?!r=")|\sr="[A-Z][A-Z])')
            unplaced_re = re.compile(re.escape(cell_open) + rb'(?=[\s>/])(?![^>]*\sr=")')
            dimension = _DIMENSION_RE.search(chunk)
            if dimension and dimension.group(4):
                _check(filename, where, int(dimension.group(4)), column_number(dimension.group(3)),
                       max_rows, max_cells)
        # Each test below is one pass of C code over the chunk; the slow paths are for unusual files.
        numbers = numbered_row_re.findall(chunk)
        marks_hidden = b"hidden" in chunk or b'ht="0' in chunk
        if not marks_hidden and b"" not in numbers:
            if numbers:
                last_row = max(last_row, max(map(int, numbers)))
                position = last_row
        else:  # rows without a number, or with r later among the attributes, or empty, or hidden
            for attributes in row_re.findall(chunk):
                number = _ROW_NUMBER_RE.search(attributes)
                row = position = int(number.group(1)) if number else position + 1
                if not attributes.endswith(b"/"):
                    last_row = max(last_row, row)
                if marks_hidden and _HIDDEN_RE.search(attributes) and 0 < row <= max_rows:
                    if row > len(hidden):
                        hidden.extend(bytes(row - len(hidden)))
                    hidden[row - 1] = 1
        if unusual_cell_re.search(chunk):
            wide = _MULTI_LETTER_REF_RE.findall(chunk)
            if wide:
                columns = max(columns, max(column_number(letters) for letters in set(wide)))
            if unplaced_re.search(chunk):
                # Cells without a reference take the next column: the row with most cells counts.
                columns = max(columns, max(part.count(cell_open) for part in row_re.split(chunk)[::2]))
        if hidden and b"autoFilter" in chunk:  # after sheetData (ECMA-376 order); matters for hidden rows only
            found = _AUTOFILTER_RE.search(chunk)
            if found:
                top = int(found.group(2))
                scan.filter_rows = (top, int(found.group(4) or top))
        _check(filename, where, last_row, columns, max_rows, max_cells)
    scan.rows, scan.columns = last_row, columns
    scan.hidden = hidden or None
    return scan


def _check(filename: str, where: str, rows: int, columns: int, max_rows: int, max_cells: int) -> None:
    if rows > max_rows:
        raise too_many_rows(filename, where)
    if rows * columns > max_cells:
        raise too_many_cells(filename, where, rows, columns)


def _whole_tags(chunks):
    """Re-chunk ``chunks`` so that none ends inside a tag (``<`` cannot occur in one): each
    yielded chunk ends before the last ``<`` it would hold. A tag or text longer than 8 MiB
    is passed on cut."""
    carry = b""
    for data in chunks:
        cut = data.rfind(b"<")
        if cut > 0:  # one copy: the carried tag start and the data up to its last tag
            chunk = b"".join((carry, memoryview(data)[:cut])) if carry else data[:cut]
            carry = data[cut:]
        elif len(carry) + len(data) <= 8 * _CHUNK:  # no tag starts here: read on
            carry += data
            continue
        else:
            chunk, carry = carry + data, b""
        yield chunk
    if carry:
        yield carry


# --------------------------------------------------------------------------- while reading


class RowLimit:
    """Counts the rows and cells of one sheet (or CSV file, or HTML table) while it is read.

    ``add(row)`` raises ``WorkbookLimitError`` once more than ``INGESTION_MAX_SHEET_ROWS``
    rows or ``INGESTION_MAX_SHEET_CELLS`` cells have been read.
    """

    def __init__(self, filename: str, where: str):
        self.filename = filename
        self.where = where
        self.rows = 0
        self.cells = 0
        self.max_rows = limit("INGESTION_MAX_SHEET_ROWS")
        self.max_cells = limit("INGESTION_MAX_SHEET_CELLS")

    def add(self, row) -> None:
        self.rows += 1
        self.cells += len(row)
        if self.rows > self.max_rows:
            raise too_many_rows(self.filename, self.where)
        if self.cells > self.max_cells:
            raise WorkbookLimitError(
                f"{self.filename}: {self.where} has more than {self.max_cells:,} cells "
                f"(limit INGESTION_MAX_SHEET_CELLS); split the list into smaller files"
            )


def csv_line_limit() -> int:
    """``INGESTION_MAX_CSV_LINE_CHARS``: the longest CSV line read, in characters."""
    return limit("INGESTION_MAX_CSV_LINE_CHARS")


def check_range(filename: str, where: str, rows: int, columns: int) -> None:
    """Refuse a sheet whose used range a reader reports (``rows`` x ``columns``) beyond the limits."""
    _check(filename, where, rows, columns, limit("INGESTION_MAX_SHEET_ROWS"), limit("INGESTION_MAX_SHEET_CELLS"))


def file_size_check(path: Path, filename: str) -> None:
    """Refuse a CSV or HTML file larger than ``INGESTION_MAX_UNCOMPRESSED_BYTES``."""
    size = Path(path).stat().st_size
    if size > limit("INGESTION_MAX_UNCOMPRESSED_BYTES"):
        raise too_large(filename, size, "is")


# --------------------------------------------------------------------------- an OpenDocument spreadsheet

_ODS_TAG_RE = re.compile(
    rb"<(/?)table:(table-row|table-cell|covered-table-cell|table(?=[\s>/]))([^>]*?)(/?)>"
)
_ODS_REPEAT_RE = re.compile(rb'table:number-(?:rows|columns)-repeated="(\d+)"')
_ODS_NAME_RE = re.compile(rb'table:name="([^"]*)"')


def scan_ods_content(chunks, filename: str) -> None:
    """Bound every table's used range in an .ods ``content.xml`` before calamine loads it.

    OpenDocument 1.2 Part 1 (19.615, 19.684): rows and cells repeat with
    ``table:number-rows-repeated`` / ``table:number-columns-repeated``, so a few bytes can
    stand for billions of cells. Positions are followed tag by tag; the used range runs to
    the last row and column holding a value (``office:value-type``, or any content: a cell
    that is not empty), as calamine counts it; trailing empty rows and cells, which
    LibreOffice writes by the million, do not count. Raises ``WorkbookLimitError`` naming
    the table when its rows or cells exceed the limits.
    """
    max_rows = limit("INGESTION_MAX_SHEET_ROWS")
    max_cells = limit("INGESTION_MAX_SHEET_CELLS")
    name = ""
    row = column = 0
    row_repeat = 1
    last_row = last_column = 0  # 1-based extent of the cells holding something
    cell_open: tuple[int, int] | None = None  # (column, repeat) of a cell whose content is still to come
    for chunk in _whole_tags(chunks):
        for tag in _ODS_TAG_RE.finditer(chunk):
            closing, kind, attributes, empty = tag.groups()
            if kind == b"table":
                if not closing:
                    found = _ODS_NAME_RE.search(attributes)
                    name = found.group(1).decode("utf-8", "replace") if found else ""
                    row = column = last_row = last_column = 0
                continue
            if kind == b"table-row":
                if closing:
                    row += row_repeat
                    continue
                repeat = _ODS_REPEAT_RE.search(attributes)
                row_repeat = int(repeat.group(1)) if repeat else 1
                column = 0
                if empty:
                    row += row_repeat
                continue
            # a cell (or a covered cell)
            if closing:
                if cell_open is not None:  # a cell with content (text) between its tags
                    start, repeat = cell_open
                    last_column = max(last_column, start + repeat)
                    last_row = max(last_row, row + row_repeat)
                    cell_open = None
                continue
            repeat = _ODS_REPEAT_RE.search(attributes)
            span = int(repeat.group(1)) if repeat else 1
            if b"value-type" in attributes:
                last_column = max(last_column, column + span)
                last_row = max(last_row, row + row_repeat)
            elif not empty:
                cell_open = (column, span)
            column += span
            if last_row > max_rows:
                raise too_many_rows(filename, f"sheet {name!r}")
            if last_row * last_column > max_cells:
                raise too_many_cells(filename, f"sheet {name!r}", last_row, last_column)
        if last_row > max_rows:
            raise too_many_rows(filename, f"sheet {name!r}")
