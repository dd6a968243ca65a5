"""The ``spreadsheet`` processor: vendor price lists in .xlsx/.xlsm/.xls/.ods/.csv.

Workbooks are read with python-calamine, CSV with the stdlib ``csv``. The
processor only reads and yields (``OfferCandidate`` with the cells as text,
``RowError`` for what it cannot use); normalization happens later.

Rules
-----
* **Header row.** Every (visible) sheet is scanned for a header in its first
  30 rows. A cell is matched against a synonym list per field (English,
  German, Spanish, French; see ``FIELD_SYNONYMS``) after case-folding,
  stripping accents, bracketed text (``Unit Price (USD)``) and currency codes:
  the cell either equals a synonym or starts with one followed by more words
  (``Price excl. VAT``). The row matching the most fields wins (the first on a
  tie); it needs a price column plus a SKU or description column.
* **Sheets without a header.** A sheet whose first rows look like a table (two
  rows with 3+ filled cells) but has no header is a ``RowError`` (ref = sheet
  name). A cover or notes sheet is counted in ``stats["sheets_skipped"]``
  only, unless no sheet at all has a header: then every sheet gets a
  ``RowError``, so the document fails with a reason. Hidden sheets are
  skipped (``stats["hidden_sheets"]``).
* **Refs.** ``"<sheet>!<row>"`` with the row number Excel shows (1-based,
  counting leading blank rows). CSV: ``"line <n>"``, the 1-based line where
  the record starts, which is also the row number Excel shows for the file.
* **Rows below the header.** Fully blank rows are skipped
  (``stats["blank_rows"]``); footer rows (first filled cell starts with
  Total, Subtotal, Sum, Summe, Gesamt, Notes, Remarks, ... or a row with a
  single filled cell, such as a section title) are skipped
  (``stats["footer_rows"]``); a repeat of the header row (printed lists) is
  skipped (``stats["repeated_header_rows"]``). Everything else is a candidate.
* **Merged cells.** Only the condition (and grade) column is forward-filled
  down a vertically merged range; other merged cells keep their top-left value only.
* **Cell text.** Numbers without float noise (``1299.0`` -> ``"1299"``,
  ``1045.5`` -> ``"1045.5"``), dates as ISO text. A numeric price cell whose
  text could be read as a thousands grouping (``1.234``) is marked
  ``extra["decimal_comma"] = False`` so ``parse_price`` reads the point as a
  decimal point; pass ``candidate.extra.get("decimal_comma")`` on.
* **Currency.** ``candidate.currency`` is the text of a currency column if
  there is one, else the ISO code named in the price header (``Price (USD)``),
  else ``""``. A symbol in the price cell itself stays in ``candidate.price``.
* **Condition + grade.** With both a condition and a grade column the
  candidate's condition is ``"<condition> grade <grade>"``; a grade column
  alone is the condition column.
* **CSV.** Encoding: the ``encoding`` option if given, else UTF-16 by BOM,
  else strict UTF-8 (BOM or not), else strict cp1252 (never latin-1, which
  turns ``€`` into a control character), else the best of a few Windows code
  pages per charset-normalizer. Delimiter: the ``delimiter`` option if given,
  else whichever of ``,`` ``;`` tab ``|`` gives the most sample lines with the
  same (2+) field count. Decimal commas are left in the price text for
  ``parse_price``. A record with non-empty fields beyond the header width
  (an unquoted ``$1,234.50``) is a ``RowError`` naming the line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from ingestion.normalize import currency_from_header
from offers.text import strip_accents
from ingestion.types import IngestContext, Item, OfferCandidate, RowError

HEADER_SCAN_ROWS = 30
PROGRESS_EVERY = 5000
CSV_SNIFF_LINES = 50
CSV_SNIFF_CHARS = 64 * 1024

# Field -> header synonyms, in folded form (see ``fold_header``).
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "sku": (
        "sku", "model sku", "sku model", "model", "model no", "model number", "model nr", "part", "part no",
        "part number", "part nr", "pn", "p n", "mpn", "item", "item no", "item number", "item code",
        "article", "article no", "art no", "art nr", "product code", "code", "ref", "ref no",
        "stock code", "stock no", "stock number",
        # de / es / fr
        "artikel", "artikelnr", "artikel nr", "artikelnummer", "art nr", "modell", "modellnummer",
        "teilenummer", "herstellernummer", "modelo", "referencia", "codigo", "cod", "codigo articulo",
        "reference", "ref produit", "code article", "modele",
    ),
    "description": (
        "description", "desc", "descr", "product", "product name", "product description",
        "item description", "item name", "name", "title",
        "bezeichnung", "beschreibung", "artikelbezeichnung", "produkt", "produktname",
        "descripcion", "producto", "nombre", "articulo", "designation", "libelle", "produit", "nom",
        "description produit",
    ),
    "price": (
        "price", "prices", "unit price", "cost", "unit cost", "dealer price", "net price", "your price",
        "offer price", "sell price", "selling price", "sale price", "wholesale price", "wholesale", "rate",
        "preis", "einzelpreis", "stuckpreis", "nettopreis", "handlerpreis", "haendlerpreis", "ek",
        "ek preis", "vk", "vk preis", "precio", "precio unitario", "precio neto", "prix",
        "prix unitaire", "prix net", "prix ht", "tarif",
    ),
    "quantity": (
        "qty", "quantity", "stock", "avail", "available", "availability", "on hand", "inventory", "units",
        "pcs", "menge", "bestand", "lagerbestand", "verfugbar", "verfugbarkeit", "anzahl", "stuck",
        "stuckzahl", "cantidad", "existencias", "disponible", "disponibilidad", "quantite", "qte",
        "disponibilite",
    ),
    "condition": (
        "condition", "cond", "state", "quality", "zustand", "estado", "condicion", "etat", "qualite",
    ),
    "grade": ("grade", "grading", "klasse", "grado", "note qualite"),
    "currency": ("currency", "curr", "cur", "ccy", "wahrung", "moneda", "divisa", "devise", "monnaie"),
}
_SYNONYM_FIELD = {synonym: name for name, synonyms in FIELD_SYNONYMS.items() for synonym in synonyms}
_SYNONYMS_LONGEST_FIRST = sorted(_SYNONYM_FIELD, key=len, reverse=True)
EXPECTED_HEADERS = "MODEL/SKU, DESCRIPTION, PRICE, QTY, CONDITION"

_BRACKETS_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_CURRENCY_WORDS = frozenset({"usd", "eur", "gbp", "chf", "aed", "brl", "jpy", "cny", "hkd", "cad", "aud", "sgd"})
# Footer rows: totals (followed by more text or not), or notes words standing alone / with a colon,
# so a description such as "Note 20 Ultra" is not a footer.
_FOOTER_RE = re.compile(
    r"(?:(?:grand\s+total|sub\s*-?\s*total|totals?|total\s+general|summe|zwischensumme|endsumme|gesamt\w*)"
    r"(?:$|[\s:.(])"
    r"|(?:notes?|remarks?|comments?|sum|bemerkung\w*|hinweis\w*|anmerkung\w*|notas?|observaciones|"
    r"remarques?|e\s*&\s*o\s*e)\s*(?::|$))",
    re.IGNORECASE,
)
_ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm, ods
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # xls
_AMBIGUOUS_NUMBER_RE = re.compile(r"[1-9]\d{0,2}\.\d{3}")


def fold_header(text: str) -> str:
    """Header text for synonym matching: ``"Unit Price (USD)"`` -> ``"unit price"``."""
    plain = strip_accents(_BRACKETS_RE.sub(" ", text).casefold())
    words = _NON_ALNUM_RE.sub(" ", plain).split()
    kept = [word for word in words if word not in _CURRENCY_WORDS]
    if words and not kept:
        return "price"  # a bare "USD" / "EUR" column holds prices
    return " ".join(kept)


def match_header(text: str) -> str | None:
    """The field a header cell names, or ``None``."""
    folded = fold_header(text)
    if not folded:
        return None
    exact = _SYNONYM_FIELD.get(folded)
    if exact:
        return exact
    for synonym in _SYNONYMS_LONGEST_FIRST:
        if folded.startswith(synonym + " "):
            return _SYNONYM_FIELD[synonym]
    return None


def cell_text(value: Any) -> str:
    """A cell as text: ``1299.0`` -> ``"1299"``, ``1045.5`` -> ``"1045.5"``, dates as ISO text."""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is float:
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if kind is datetime:
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if kind is date or kind is time:
        return value.isoformat()
    return str(value)


@dataclass
class Header:
    """A recognised header row: where it is and which column holds which field."""

    row_index: int  # 0-based index into the sheet's rows
    cells: list[Any]
    columns: dict[str, int]
    currency: str  # ISO code named by the price header, or ""


def find_header(rows: list[list[Any]]) -> Header | None:
    """The best header row among ``rows`` (see the module rules), or ``None``."""
    best: Header | None = None
    for index, row in enumerate(rows):
        columns: dict[str, int] = {}
        for column, value in enumerate(row):
            if type(value) is str and value.strip():
                name = match_header(value)
                if name and name not in columns:
                    columns[name] = column
        usable = "price" in columns and ("sku" in columns or "description" in columns)
        if usable and (best is None or len(columns) > len(best.columns)):
            currency = currency_from_header(row[columns["price"]]) or ""
            best = Header(index, row, columns, currency)
    return best


def looks_like_table(rows: list[list[Any]]) -> bool:
    """Two or more rows with at least three filled cells: data, not a cover or notes page."""
    wide = sum(1 for row in rows if len(row) - row.count("") >= 3)
    return wide >= 2


@dataclass
class Table:
    """One sheet (or the CSV file) being read: name, rows so far, and the rest to come."""

    name: str
    head: list[list[Any]]  # the first HEADER_SCAN_ROWS rows, already read
    rest: Iterator[list[Any]]
    ref_prefix: str  # "Pricing!" or "line "
    row_number: Callable[[int], int]  # 0-based row index -> the number shown to the operator
    merged_fills: dict[int, dict[int, int]] = field(default_factory=dict)  # column -> {row: top row}
    total_rows: int | None = None
    header: Header | None = None
    strict_width: bool = False  # CSV: extra non-empty fields are an error


class SpreadsheetProcessor:
    """Reads workbooks and CSV price lists; see the module docstring for the rules."""

    name = "spreadsheet"
    extensions = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")

    def detect(self, path: Path, head: bytes) -> int:
        """How sure this processor reads ``path``: by extension and magic bytes."""
        suffix = Path(path).suffix.lower()
        is_zip = head.startswith(_ZIP_MAGIC)
        is_ole2 = head.startswith(_OLE2_MAGIC)
        if suffix in (".xlsx", ".xlsm", ".ods"):
            return 95 if is_zip else 30
        if suffix == ".xls":
            return 95 if is_ole2 else (60 if is_zip else 30)
        if suffix == ".csv":
            return 90 if _looks_like_text(head) else 20
        if is_zip and (b"xl/" in head or b"opendocument.spreadsheet" in head):
            return 70
        if is_ole2:
            return 20  # could be a .doc as well
        if suffix == ".tsv" and _looks_like_text(head):
            return 60
        return 0

    def process(self, path: Path, context: IngestContext) -> Iterator[Item]:
        path = Path(path)
        filename = context.filename or path.name
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if magic not in (_ZIP_MAGIC, _OLE2_MAGIC[:4]):  # by content, so a misnamed file still reads
            yield from self._process_csv(path, filename, context)
            return
        try:
            with open(path, "rb") as handle:
                workbook = CalamineWorkbook.from_filelike(handle)
                tables = list(_workbook_tables(workbook, context))
                yield from _process_tables(tables, context)
        except CalamineError as exc:
            yield RowError(ref=filename, message=f"cannot read the workbook {filename!r}: {exc}")

    def _process_csv(self, path: Path, filename: str, context: IngestContext) -> Iterator[Item]:
        data = path.read_bytes()
        try:
            text, encoding = decode_csv(data, context.options.get("encoding") or None)
        except (UnicodeDecodeError, LookupError) as exc:
            yield RowError(ref=filename, message=f"cannot decode {filename!r} as text: {exc}")
            return
        delimiter = context.options.get("delimiter") or _sniff_delimiter(text) or ","
        if delimiter in ("tab", "\\t"):
            delimiter = "\t"
        context.stats[f"encoding:{encoding}"] = 1
        context.stats[f"delimiter:{'tab' if delimiter == chr(9) else delimiter}"] = 1
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        starts: list[int] = []  # 1-based line where each record read so far starts
        broken: list[RowError] = []

        def records() -> Iterator[list[str]]:
            """The records; a csv.Error (a runaway quote) ends them with a RowError for the end."""
            previous = 0
            try:
                for record in reader:
                    starts.append(previous + 1)
                    previous = reader.line_num
                    yield record
            except csv.Error as exc:
                broken.append(RowError(ref=f"line {previous + 1}", message=f"CSV reading stopped: {exc}"))

        rows = records()
        table = Table(
            name=filename,
            head=[row for _, row in zip(range(HEADER_SCAN_ROWS), rows)],
            rest=rows,
            ref_prefix="line ",
            row_number=starts.__getitem__,
            total_rows=text.count("\n") + 1,
            strict_width=True,
        )
        yield from _process_tables([table], context)
        yield from broken


processor = SpreadsheetProcessor()


# --------------------------------------------------------------------------- workbooks

def _workbook_tables(workbook: CalamineWorkbook, context: IngestContext) -> Iterator[Table]:
    for meta in workbook.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            continue
        if meta.visible != SheetVisibleEnum.Visible:
            context.stats["hidden_sheets"] += 1
            continue
        sheet = workbook.get_sheet_by_name(meta.name)
        context.stats["sheets"] += 1
        if sheet.start is None:  # no cells at all
            context.stats["sheets_skipped"] += 1
            continue
        # iter_rows() yields rows from row 1 (leading blank rows included) but
        # columns from the first used column: shift merged ranges likewise.
        first_column = sheet.start[1]
        rows = iter(sheet.iter_rows())
        head = [row for _, row in zip(range(HEADER_SCAN_ROWS), rows)]
        name = meta.name
        yield Table(
            name=name,
            head=head,
            rest=rows,
            ref_prefix=f"{name}!",
            row_number=_excel_row_number,
            merged_fills=_vertical_merges(sheet.merged_cell_ranges or (), first_column),
            total_rows=sheet.end[0] + 1,
        )


def _excel_row_number(index: int) -> int:
    return index + 1


def _vertical_merges(ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]], first_column: int):
    """Column -> {row inside a vertical merge: the merge's top row}, in iter_rows() coordinates."""
    fills: dict[int, dict[int, int]] = {}
    for (top, left), (bottom, right) in ranges:
        if bottom == top:
            continue
        for column in range(left - first_column, right - first_column + 1):
            rows = fills.setdefault(column, {})
            for row in range(top + 1, bottom + 1):
                rows[row] = top
    return fills


# --------------------------------------------------------------------------- common row loop

def _process_tables(tables: list[Table], context: IngestContext) -> Iterator[Item]:
    """Find each table's header, report tables without one, then yield the rows."""
    for table in tables:
        table.header = find_header(table.head)
    with_header = [table for table in tables if table.header]
    for table in tables:
        if table.header:
            context.stats[f"header_row:{table.name}"] = table.row_number(table.header.row_index)
        elif not with_header or looks_like_table(table.head):
            context.stats["sheets_without_header"] += 1
            yield RowError(
                ref=table.name,
                message=(
                    f"no header row found in the first {HEADER_SCAN_ROWS} rows of {table.name!r}; "
                    f"expected a price column and a SKU or description column, e.g. {EXPECTED_HEADERS}"
                ),
            )
        else:
            context.stats["sheets_skipped"] += 1

    total = sum(table.total_rows or 0 for table in with_header) or None
    for table in with_header:
        yield from _table_rows(table, context, total)
    if context.progress:
        context.progress(context.stats["rows_seen"], total)


def _table_rows(table: Table, context: IngestContext, total: int | None) -> Iterator[Item]:
    header = table.header
    assert header is not None
    columns = header.columns
    sku_col = columns.get("sku")
    desc_col = columns.get("description")
    price_col = columns["price"]
    qty_col = columns.get("quantity")
    cond_col = columns.get("condition", columns.get("grade"))
    grade_col = columns.get("grade") if "condition" in columns else None
    currency_col = columns.get("currency")
    width = len(header.cells)
    header_cells = header.cells
    stats = context.stats
    progress = context.progress
    ref_prefix = table.ref_prefix
    row_number = table.row_number
    merge_tops: dict[tuple[int, int], str] = {}  # (column, top row) -> text of a merged condition cell

    def text_at(row: list[Any], column: int | None) -> str:
        return cell_text(row[column]) if column is not None and column < len(row) else ""

    def condition_text_at(row: list[Any], column: int | None, index: int) -> str:
        """Like text_at, but forward-filled down a vertically merged range."""
        text = text_at(row, column)
        merged = table.merged_fills.get(column)
        if merged:
            if index in merged:
                text = text or merge_tops.get((column, merged[index]), "")
            elif text:
                merge_tops[column, index] = text
        return text

    rows = _chain_after(table.head, header.row_index + 1, table.rest)
    for index, row in rows:
        filled = len(row) - row.count("")
        if filled == 0:
            stats["blank_rows"] += 1
            continue
        stats["rows_seen"] += 1
        if progress and stats["rows_seen"] % PROGRESS_EVERY == 0:
            progress(stats["rows_seen"], total)
        if filled == 1 or _is_footer(row):
            stats["footer_rows"] += 1
            continue
        if row == header_cells:
            stats["repeated_header_rows"] += 1
            continue
        ref = f"{ref_prefix}{row_number(index)}"
        if table.strict_width and len(row) > width and any(cell.strip() for cell in row[width:]):
            yield RowError(
                ref=ref,
                message=(
                    f"{ref} has {len(row)} fields but the header has {width}; "
                    "a value probably contains an unquoted delimiter (such as $1,234.50)"
                ),
                value=_record_text(row),
            )
            continue
        price_value = row[price_col] if price_col < len(row) else ""
        candidate = OfferCandidate(
            ref=ref,
            sku=text_at(row, sku_col),
            description=text_at(row, desc_col),
            price=cell_text(price_value),
            currency=text_at(row, currency_col) or header.currency,
            quantity=text_at(row, qty_col),
            condition=condition_text_at(row, cond_col, index),
        )
        if grade_col is not None:
            grade = condition_text_at(row, grade_col, index)
            if grade:
                candidate.condition = f"{candidate.condition} grade {grade}".strip()
        if type(price_value) is float and _AMBIGUOUS_NUMBER_RE.fullmatch(candidate.price):
            candidate.extra["decimal_comma"] = False
        yield candidate


def _chain_after(head: list[list[Any]], start: int, rest: Iterator[list[Any]]) -> Iterator[tuple[int, list[Any]]]:
    """(index, row) for the rows after the header: the buffered ones, then the rest."""
    yield from ((index, head[index]) for index in range(start, len(head)))
    yield from enumerate(rest, start=len(head))


def _is_footer(row: list[Any]) -> bool:
    for value in row:
        if value != "":
            return type(value) is str and _FOOTER_RE.match(value.strip()) is not None
    return False


def _record_text(row: list[str]) -> str:
    """A CSV record shown back to the operator."""
    return " | ".join(row)[:200]


# --------------------------------------------------------------------------- CSV helpers

_CODEPAGE_HINTS = ["cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257"]


def decode_csv(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode CSV bytes; returns (text, encoding used). Rules in the module docstring."""
    if encoding:
        return data.decode(encoding), encoding
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CODEPAGE_HINTS).best()
    if best is None:
        data.decode("cp1252")  # raises the UnicodeDecodeError that names the byte
    return str(best), best.encoding


def _looks_like_text(head: bytes) -> bool:
    """No NUL bytes (binary), unless it is UTF-16 text with a BOM."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return bool(head) and b"\x00" not in head[:4096]


def _sniff_delimiter(text: str) -> str | None:
    """The delimiter among , ; tab | giving the most lines with the same (2+) field count."""
    sample = text[:CSV_SNIFF_CHARS]
    lines = sample.splitlines()[:CSV_SNIFF_LINES]
    if len(sample) < len(text) and len(lines) > 1:
        lines.pop()  # possibly cut in the middle
    lines = [line for line in lines if line.strip()]
    best, best_score = None, (0, 0)
    for delimiter in (",", ";", "\t", "|"):
        counts: dict[int, int] = {}
        try:
            for record in csv.reader(lines, delimiter=delimiter):
                counts[len(record)] = counts.get(len(record), 0) + 1
        except csv.Error:
            continue
        width, rows = max(counts.items(), key=lambda item: (item[1], item[0]), default=(0, 0))
        score = (rows, width)
        if width >= 2 and score > best_score:
            best, best_score = delimiter, score
    return best
