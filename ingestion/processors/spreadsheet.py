"""The ``spreadsheet`` processor: vendor price lists in .xlsx/.xlsm/.xls/.ods/.csv.

Workbooks are read with python-calamine, CSV with the stdlib ``csv``. The
processor only reads and yields (``OfferCandidate`` with the cells as text,
``RowError`` for what it cannot use); normalization happens later.

Rules
-----
* **Header row.** Every (visible) sheet is scanned for a header in its first
  30 rows. A cell is matched against a synonym list per field (English,
  German, Spanish, French, Portuguese, Italian, Dutch, Turkish, Polish,
  Russian, Arabic, Indonesian, Chinese; see ``FIELD_SYNONYMS``) after
  case-folding, stripping accents, bracketed text (``Unit Price (USD)``,
  ``单价（元）``) and currency codes:
  the cell either equals a synonym or starts with one followed by more words
  (``Price excl. VAT``). The row matching the most fields wins (the first on a
  tie); it needs a price column plus a SKU or description column.
* **Sheets without a header.** A sheet whose first rows look like a table (two
  rows with 3+ filled cells) but has no header is a ``RowError`` (ref = sheet
  name). A cover or notes sheet is counted in ``stats["sheets_skipped"]``
  only, unless no sheet at all has a header: then every sheet gets a
  ``RowError``, so the document fails with a reason. Hidden sheets are
  skipped (``stats["hidden_sheets"]``).
* **The LLM pass** (``ingestion.llm``, ``docs/llm.md``). With ``ENABLE_OPENAI``
  and a key, a sheet that would be a "no header row" ``RowError`` is read by
  the model instead (rows as ``"cell | cell | ..."``, refs as below), and stays
  that error, after a ``Notice`` saying why, when the pass fails. With
  ``--option prefer_llm=true`` every sheet is read by the model; one whose
  rows hold more than ``OPENAI_MAX_INPUT_CHARS`` x
  ``OPENAI_MAX_CALLS_PER_DOCUMENT`` characters, or whose pass fails, is read
  by the rules here, after a ``Notice``. With the pass off nothing changes.
* **Refs.** ``"<sheet>!<row>"`` with the row number Excel shows (1-based,
  counting leading blank rows). CSV: ``"line <n>"``, the 1-based line where
  the record starts, which is also the row number Excel shows for the file.
* **Rows below the header.** Fully blank rows are skipped
  (``stats["blank_rows"]``); footer rows (first filled cell starts with
  Total, Subtotal, Sum, Summe, Gesamt, Notes, Remarks, ..., or a charge:
  Shipping, Freight, Insurance, Handling, Discount ... or a row with a
  single filled cell, such as a section title) are skipped
  (``stats["footer_rows"]``); a repeat of the header row (printed lists) is
  skipped (``stats["repeated_header_rows"]``). Everything else is a candidate.
* **Merged cells.** A vertically merged cell applies to every row it covers
  (a model merged over its colours), except in the quantity column (a shared
  stock figure would be counted once per row).
* **Hidden rows** are not offers: a ``RowError`` with ``skipped="hidden"``, or
  ``"filtered"`` for a row an autofilter hides. Read where calamine does not
  look: the .xlsx/.xlsm sheet XML (``XlsxParts``), .xls ROW records through xlrd
  (``XlsParts``; one xlrd pass over the sheet, at most 65,536 rows), .ods
  ``content.xml`` (``OdsParts``, only when it marks a hidden row or a currency cell).
* **Attribute columns** (colour, storage, RAM, carrier, region; ``ATTRIBUTE_FIELDS``)
  are appended to the description in column order and kept in
  ``extra["attributes"]``; a model name in the SKU column that they qualify
  or a merge shares moves to the description (``extra["model"]``), so variants
  are different products. See ``_describe_variant``.
* **Condition without a condition column**: the condition the description
  names (``... lacrado`` -> new), see ``_condition_in_text``.
* **Cell text.** Numbers without float noise (``1299.0`` -> ``"1299"``,
  ``1045.5`` -> ``"1045.5"``), dates as ISO text. A numeric price cell whose
  text could be read as a thousands grouping (``1.234``) is marked
  ``extra["decimal_comma"] = False`` so ``parse_price`` reads the point as a
  decimal point; pass ``candidate.extra.get("decimal_comma")`` on.
* **Currency.** ``candidate.currency`` is the text of a currency column if
  there is one, else the currency of the price cell's number format
  (``#,##0.00 [$€-407]``, ``"£"#,##0.00``; ``extra["currency_source"] =
  "number_format"``; ``currency_from_number_format``), else the ISO code
  named in the price header (``Price (USD)``), else the one currency the rows
  above the header name (``title_currency``), else ``""``. A symbol in the
  price cell itself stays in ``candidate.price`` (and wins in normalization).
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
  (an unquoted ``$1,234.50``) is a ``RowError`` naming the line. The file is
  streamed: a line longer than ``INGESTION_MAX_CSV_LINE_CHARS`` is a
  ``RowError`` naming it and is not read.
* **Limits** (``workbook_limits``). Before calamine opens a zip package
  (.xlsx/.xlsm/.ods) its central directory is checked (total uncompressed
  size, compression ratio), and before it loads a sheet the sheet's used
  range is bounded (rows, cells; an .xlsx sheet part or an .ods
  ``content.xml`` is streamed once for that, its true unpacked size checked on
  the way). An exceeded limit raises ``ValueError`` naming the file, the
  sheet and the setting: the document fails with that reason. CSV files and
  HTML tables count rows and cells as they are read.
* **Password-protected** workbooks (an encrypted .xlsx is an OLE2 file, an
  encrypted .xls has a FILEPASS record; ``protected``) raise ``ValueError``
  saying "password-protected" and how to save the file without a password.
* **An .xls that is an HTML page** (ERP exports) is read as its first table
  (``html_table``; refs ``"row <n>"``), or refused by name if it holds none.
"""

from __future__ import annotations

import codecs
import csv
import html
import itertools
import logging
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

try:  # .xls row visibility and number formats (calamine gives neither); optional
    import xlrd
except ImportError:  # pragma: no cover - without it .xls reads as before, values only
    xlrd = None

from ingestion import llm
from ingestion.normalize import currency_from_header, parse_condition, parse_currency
from ingestion.processors import html_table, workbook_limits
from ingestion.processors.html_table import HtmlTable, is_xml_spreadsheet, looks_like_html
from ingestion.processors.html_table import detect_encoding as html_encoding
from ingestion.processors.protected import is_encrypted, password_message
from offers.text import strip_accents
from ingestion.types import IngestContext, Item, Notice, OfferCandidate, RowError

log = logging.getLogger(__name__)

HEADER_SCAN_ROWS = 30
PROGRESS_EVERY = 5000
CSV_SNIFF_LINES = 50
CSV_SNIFF_CHARS = 64 * 1024
CSV_GUESS_BYTES = 4 * 1024 * 1024  # what charset-normalizer judges of a file neither UTF-8 nor cp1252
HTML_SNIFF_BYTES = 4096

# Field -> header synonyms, as written (folded with ``fold_header`` when the module loads, so
# accents and letter case do not matter here). Sources: the vendors' files seen so far, the
# reference note on spreadsheet import (section 5.3), and the usual wholesale price-list words
# in each language.
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "sku": (
        "sku", "model sku", "sku model", "model", "model no", "model number", "model nr", "part", "part no",
        "part number", "part nr", "pn", "p n", "mpn", "item", "item no", "item number", "item code",
        "article", "article no", "art no", "art nr", "product code", "code", "ref", "ref no",
        "stock code", "stock no", "stock number",
        # de / es / fr
        "artikel", "artikelnr", "artikel nr", "artikelnummer", "modell", "modellnummer",
        "teilenummer", "herstellernummer", "modelo", "referencia", "codigo", "cod", "codigo articulo",
        "reference", "ref produit", "code article", "modele",
        # pt / it / nl / tr / pl / ru / ar / id / zh
        "código", "cód", "referência", "código do produto", "cod produto", "sku do produto",
        "codice", "codice articolo", "cod articolo", "modello",
        "artikelcode", "artikel nummer", "typenummer",
        "ürün kodu", "stok kodu", "kod",
        "indeks", "symbol", "kod produktu",
        "артикул", "модель", "код", "код товара",
        "الموديل", "موديل", "الطراز", "الكود", "كود", "رمز المنتج", "الرمز",
        "kode", "kode barang", "kode produk", "tipe",
        "型号", "货号", "编号", "编码", "产品编号", "商品编码", "料号",
    ),
    "description": (
        "description", "desc", "descr", "product", "product name", "product description",
        "item description", "item name", "name", "title",
        "bezeichnung", "beschreibung", "artikelbezeichnung", "produkt", "produktname",
        "descripcion", "producto", "nombre", "articulo", "designation", "libelle", "produit", "nom",
        "description produit",
        "descrição", "produto", "nome", "nome do produto",
        "descrizione", "prodotto", "articolo", "nome prodotto",
        "omschrijving", "beschrijving", "productnaam", "naam",
        "ürün", "ürün adı", "açıklama", "ürün açıklaması", "tanım",
        "nazwa", "opis", "nazwa produktu", "towar",
        "наименование", "название", "описание", "товар", "наименование товара",
        "الوصف", "وصف", "المنتج", "منتج", "اسم المنتج", "الصنف", "صنف", "البيان",
        "nama", "nama barang", "nama produk", "produk", "barang", "deskripsi", "keterangan",
        "品名", "名称", "产品", "产品名称", "商品", "商品名称", "描述", "规格型号",
    ),
    "price": (
        "price", "prices", "unit price", "cost", "unit cost", "dealer price", "net price", "your price",
        "offer price", "sell price", "selling price", "sale price", "wholesale price", "wholesale", "rate",
        "preis", "einzelpreis", "stückpreis", "nettopreis", "netto", "händlerpreis", "haendlerpreis", "ek",
        "ek preis", "vk", "vk preis", "precio", "precio unitario", "precio neto", "prix",
        "prix unitaire", "prix net", "prix ht", "tarif",
        "preço", "preço unitário", "valor", "valor unitário", "preço de venda", "preço atacado", "vlr", "vlr unit",
        "vl unit", "pu", "p u",
        "prezzo", "prezzo unitario", "prezzo netto", "costo",
        "prijs", "stukprijs", "eenheidsprijs", "netto prijs", "inkoopprijs",
        "fiyat", "birim fiyat", "birim fiyatı", "satış fiyatı", "toptan fiyat",
        "cena", "cena netto", "cena brutto", "cena jednostkowa", "cena hurtowa",
        "цена", "цена опт", "оптовая цена", "стоимость", "цена за шт",
        "السعر", "سعر", "سعر الوحدة", "سعر الجملة",
        "harga", "harga satuan", "harga jual", "harga grosir",
        "价格", "单价", "报价", "售价", "批发价",
    ),
    "quantity": (
        "qty", "quantity", "stock", "avail", "available", "availability", "on hand", "inventory", "units",
        "pcs", "menge", "bestand", "lagerbestand", "verfügbar", "verfügbarkeit", "anzahl", "stück",
        "stückzahl", "cantidad", "existencias", "disponible", "disponibilidad", "quantité", "qte",
        "disponibilité",
        "qtd", "qtde", "quantidade", "estoque", "disponível", "quant", "cant", "unid", "unidades",
        "quantità", "q tà", "qta", "giacenza", "disponibilità", "pezzi", "pz",
        "aantal", "voorraad", "beschikbaar",
        "adet", "miktar", "stok", "stok adedi",
        "ilość", "stan magazynowy", "dostępność", "sztuk", "szt",
        "кол во", "количество", "остаток", "наличие", "шт",
        "الكمية", "كمية", "المخزون", "العدد",
        "jumlah", "stok barang", "ketersediaan",
        "数量", "库存", "现货", "库存数量",
    ),
    "condition": (
        "condition", "cond", "state", "quality", "zustand", "estado", "condicion", "etat", "qualite",
        "condição", "condizione", "stato", "staat", "conditie", "durum", "stan techniczny",
        "состояние", "الحالة", "حالة", "kondisi", "状态", "成色",
    ),
    "grade": ("grade", "grading", "klasse", "grado", "note qualite", "grau", "sınıf", "класс", "الدرجة", "等级"),
    "currency": (
        "currency", "curr", "cur", "ccy", "währung", "moneda", "divisa", "devise", "monnaie",
        "moeda", "valuta", "para birimi", "döviz", "waluta", "валюта", "العملة", "mata uang", "币种", "货币",
    ),
    # Stock status ("In stock", "Sold out"): a sold-out row is not an offer (see normalize_candidate).
    "status": (
        "status", "stock status", "availability status", "estatus", "situação", "situação do estoque",
        "stok durumu", "статус", "статус наличия", "الحالة في المخزون", "status stok", "库存状态",
    ),
    # Attribute columns: part of the product's text, kept on the offer as extra["attributes"].
    "colour": (
        "colour", "color", "colours", "colors", "farbe", "couleur", "cor", "colore", "kleur", "renk",
        "kolor", "цвет", "اللون", "لون", "warna", "颜色", "颜色分类",
    ),
    "storage": (
        "storage", "capacity", "memory", "rom", "gb", "storage gb", "speicher", "speicherplatz", "kapazität",
        "almacenamiento", "capacidad", "memoria", "stockage", "capacité", "mémoire",
        "capacidade", "armazenamento", "memória", "capacità", "opslag", "geheugen", "opslagcapaciteit",
        "depolama", "hafıza", "kapasite", "pamięć", "pojemność", "память", "объём", "встроенная память",
        "السعة", "الذاكرة", "سعة", "kapasitas", "memori", "penyimpanan",
        "存储", "容量", "内存", "存储容量", "机身内存",
    ),
    "ram": ("ram", "arbeitsspeicher", "озу", "оперативная память", "运行内存", "运存"),
    "carrier": (
        "carrier", "lock", "network", "sim lock", "simlock", "lock status", "netz", "netzbetreiber",
        "operador", "operadora", "operatore", "opérateur", "provider", "operatör", "operator", "оператор",
        "الشبكة", "网络", "运营商",
    ),
    "region": (
        "region", "version", "spec", "specs", "market", "origin", "región", "versión", "região", "versão",
        "regione", "versione", "regio", "versie", "bölge", "versiyon", "wersja", "регион", "версия",
        "المنطقة", "الإصدار", "wilayah", "versi", "版本", "地区", "区域",
    ),
}
EXPECTED_HEADERS = "MODEL/SKU, DESCRIPTION, PRICE, QTY, CONDITION"
# Columns whose text describes the variant: appended to the product text, kept as attributes.
ATTRIBUTE_FIELDS = ("colour", "storage", "ram", "carrier", "region")

_BRACKETS_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\uff08[^\uff09]*\uff09|\u3010[^\u3011]*\u3011")
_NON_WORD_RE = re.compile(r"[\W_]+")
_CURRENCY_WORDS = frozenset({
    "usd", "eur", "gbp", "chf", "aed", "brl", "jpy", "cny", "hkd", "cad", "aud", "sgd", "inr", "rub", "pln",
    "idr", "sar", "egp", "ngn", "zar", "mxn", "krw", "sek", "nok", "dkk", "czk", "huf", "ron", "uah", "kzt",
    "rmb", "tl", "rs", "rp", "руб", "грн", "zl", "zł",
})
# Footer rows: totals (followed by more text or not), or notes words standing alone / with a colon,
# so a description such as "Note 20 Ultra" is not a footer.
_FOOTER_RE = re.compile(
    r"(?:(?:grand\s+total|sub\s*-?\s*total|totals?|total\s+general|summe|zwischensumme|endsumme|gesamt\w*"
    r"|shipping|freight|insurance|handling|delivery|discount|rabatt|versand|frete|env[ií]o)"
    r"(?:$|[\s:.(])"
    r"|(?:notes?|remarks?|comments?|sum|bemerkung\w*|hinweis\w*|anmerkung\w*|notas?|observaciones|"
    r"remarques?|e\s*&\s*o\s*e)\s*(?::|$))",
    re.IGNORECASE,
)
_ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm, ods
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # xls
_AMBIGUOUS_NUMBER_RE = re.compile(r"[1-9]\d{0,2}\.\d{3}")


def fold_header(text: str) -> str:
    """Header text for synonym matching: ``"Unit Price (USD)"`` -> ``"unit price"``.

    Case-folded (Turkish dotless i read as i), accents stripped, text in
    brackets (also full-width ``（）`` and ``【】``) and currency codes dropped,
    punctuation collapsed to single spaces; letters of any script are kept
    (``"Кол-во"`` -> ``"кол во"``, ``"单价（元）"`` -> ``"单价"``).
    """
    plain = strip_accents(_BRACKETS_RE.sub(" ", text).casefold().replace("\u0131", "i"))
    words = _NON_WORD_RE.sub(" ", plain).split()
    kept = [word for word in words if word not in _CURRENCY_WORDS]
    if words and not kept:
        return "price"  # a bare "USD" / "EUR" column holds prices
    return " ".join(kept)


_SYNONYM_FIELD = {fold_header(synonym): name for name, synonyms in FIELD_SYNONYMS.items() for synonym in synonyms}
_SYNONYM_FIELD.pop("", None)
_SYNONYMS_LONGEST_FIRST = sorted(_SYNONYM_FIELD, key=len, reverse=True)


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


# Header words for a model (a product's name, "iPhone 15 Pro"), which also serve as its SKU
# column when a sheet has no other: beside a SKU column they name the description.
_MODEL_HEADERS = frozenset(fold_header(word) for word in (
    "model", "modell", "modelo", "modele", "modello", "model name", "модель", "موديل", "型号",
))


def find_header(rows: list[list[Any]]) -> Header | None:
    """The best header row among ``rows`` (see the module rules), or ``None``."""
    best: Header | None = None
    for index, row in enumerate(rows):
        columns: dict[str, int] = {}
        identifiers: list[int] = []  # the columns whose header names a SKU or model
        for column, value in enumerate(row):
            if type(value) is str and value.strip():
                name = match_header(value)
                if name == "sku":
                    identifiers.append(column)
                if name and name not in columns:
                    columns[name] = column
        if "description" not in columns and len(identifiers) >= 2:
            # "SKU | Model | Price": beside a SKU column, the model column names the product.
            model = next((c for c in identifiers if fold_header(row[c]) in _MODEL_HEADERS), None)
            if model is not None:
                columns["description"] = model
                columns["sku"] = next(c for c in identifiers if c != model)
        usable = "price" in columns and ("sku" in columns or "description" in columns)
        if usable and (best is None or len(columns) > len(best.columns)):
            currency = currency_from_header(row[columns["price"]]) or ""
            best = Header(index, row, columns, currency)
    if best is not None and not best.currency:
        best.currency = title_currency(rows[:best.row_index])
    return best


_TITLE_CODE_RE = re.compile(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])")
_TITLE_SYMBOL_RE = re.compile(r"(?:[A-Z]{1,3})?[$€£¥₹₽₺₦₩₪₫₱฿₴₸]")
_TITLE_NOT_CODES = frozenset({"ALL", "TOP", "PEN", "CUP", "BOB", "MOP", "TRY"})  # English words in capitals


def title_currency(rows: list[list[Any]]) -> str:
    """The one currency the rows above a header name (``"All prices in EUR"``, ``"Currency: | USD"``,
    ``"Preise in €"``), or ``""`` when they name none or more than one.

    Only ISO 4217 codes written in capitals and currency symbols count (words such as
    ``"rand"`` or ``"real"`` do not), mapped with ``parse_currency``.
    """
    found: set[str] = set()
    for row in rows:
        for value in row:
            if type(value) is not str or not value.strip():
                continue
            for token in _TITLE_CODE_RE.findall(value):
                code = parse_currency(token) if token not in _TITLE_NOT_CODES else None
                if code:
                    found.add(code)
            for token in _TITLE_SYMBOL_RE.findall(value):
                code = parse_currency(token)
                if code:
                    found.add(code)
    return found.pop() if len(found) == 1 else ""


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
    row_number: Callable[[int], int | str]  # 0-based row index -> the number (or label) shown to the operator
    # column -> [(top, bottom)] of the vertical merges whose value sits in that column, by top row
    merges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    total_rows: int | None = None
    header: Header | None = None
    strict_width: bool = False  # CSV: extra non-empty fields are an error
    # (price column in this table's coordinates) -> hidden rows and price formats (xlsx only)
    layout: Callable[[int], SheetLayout] | None = None


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
            if not (is_ole2 or is_zip) and looks_like_html(head):
                return 95  # an ERP's "Excel" export that is an HTML table
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
            head = handle.read(HTML_SNIFF_BYTES)
        magic = head[:4]
        if magic not in (_ZIP_MAGIC, _OLE2_MAGIC[:4]):  # by content, so a misnamed file still reads
            workbook_limits.file_size_check(path, filename)
            if is_xml_spreadsheet(head):
                raise ValueError(html_table.xml_spreadsheet_message(filename))
            if looks_like_html(head):
                yield from self._process_html(path, filename, context)
            else:
                yield from self._process_csv(path, filename, context)
            return
        if magic == _OLE2_MAGIC[:4] and is_encrypted(path):
            raise ValueError(password_message(filename))
        parts: XlsxParts | XlsParts | OdsParts | None = None
        try:
            if magic == _OLE2_MAGIC[:4] and xlrd is not None:
                try:
                    parts = XlsParts(path)
                except Exception:  # xlrd cannot read what calamine may: values only, counted
                    log.warning("cannot read the layout (hidden rows, number formats) of %s", filename, exc_info=True)
                    context.stats["layout_unreadable"] += 1
            elif zipfile.is_zipfile(path):
                try:
                    parts = XlsxParts(path)
                    # Limits before calamine opens the package (it cannot be stopped once it reads a sheet).
                    parts.check(filename)
                    if "xl/workbook.xml" not in parts.names:  # not SpreadsheetML: OpenDocument?
                        content = "content.xml" in parts.names
                        parts.close()
                        parts = OdsParts(path) if content else None
                        if parts is not None:
                            parts.check(filename)
                except (zipfile.BadZipFile, OSError):
                    parts = None
            with open(path, "rb") as handle:
                workbook = CalamineWorkbook.from_filelike(handle)
                tables = list(_workbook_tables(workbook, context, parts, filename))
                yield from process_tables(tables, context)
        except PasswordError:
            raise ValueError(password_message(filename)) from None
        except CalamineError as exc:
            yield RowError(ref=filename, message=f"cannot read the workbook {filename!r}: {exc}")
        finally:
            if parts is not None:
                parts.close()

    def _process_html(self, path: Path, filename: str, context: IngestContext) -> Iterator[Item]:
        """An HTML page saved as .xls: its first table (see ``html_table``)."""
        encoding = html_encoding(path, context.options.get("encoding") or "")
        context.stats["html_table"] = 1
        context.stats[f"encoding:{encoding}"] = 1
        table_rows = HtmlTable(path, filename, encoding)
        rows = iter(table_rows)
        table = Table(
            name=filename,
            head=[row for _, row in zip(range(HEADER_SCAN_ROWS), rows)],
            rest=rows,
            ref_prefix="row ",
            row_number=_excel_row_number,
        )
        yield from process_tables([table], context)
        for index in table_rows.cut_rows:
            yield RowError(
                ref=f"row {index + 1}",
                message=f"a cell of row {index + 1} is longer than {html_table.MAX_CELL_CHARS:,} characters "
                        "(Excel's limit for a cell); only its beginning was read",
            )

    def _process_csv(self, path: Path, filename: str, context: IngestContext) -> Iterator[Item]:
        """The CSV, streamed: memory holds a line (at most ``INGESTION_MAX_CSV_LINE_CHARS``
        characters; a longer one is a ``RowError`` and is not read) and the rows not yet consumed."""
        try:
            encoding, newlines = csv_encoding(path, context.options.get("encoding") or None)
        except (UnicodeDecodeError, LookupError) as exc:
            yield RowError(ref=filename, message=f"cannot decode {filename!r} as text: {exc}")
            return
        with open(path, encoding=encoding, newline="") as handle:
            sample = handle.read(CSV_SNIFF_CHARS + 1)
        delimiter = context.options.get("delimiter") or _sniff_delimiter(sample) or ","
        if delimiter in ("tab", "\\t"):
            delimiter = "\t"
        context.stats[f"encoding:{'utf-8' if encoding == 'utf-8-sig' else encoding}"] = 1
        context.stats[f"delimiter:{'tab' if delimiter == chr(9) else delimiter}"] = 1
        handle = open(path, encoding=encoding, newline="")
        too_long: list[int] = []  # physical lines longer than the limit
        max_line = workbook_limits.csv_line_limit()
        reader = csv.reader(_bounded_lines(handle, max_line, too_long), delimiter=delimiter)
        limit = workbook_limits.RowLimit(filename, "the CSV file")
        starts: list[int] = []  # 1-based line where each record read so far starts
        broken: list[RowError] = []

        def records() -> Iterator[list[str]]:
            """The records; a csv.Error (a runaway quote) ends them with a RowError for the end."""
            previous = 0
            try:
                for record in reader:
                    starts.append(previous + 1)
                    previous = reader.line_num
                    limit.add(record)
                    yield record
            except csv.Error as exc:
                broken.append(RowError(ref=f"line {previous + 1}", message=f"CSV reading stopped: {exc}"))
            finally:
                handle.close()

        rows = records()
        table = Table(
            name=filename,
            head=[row for _, row in zip(range(HEADER_SCAN_ROWS), rows)],
            rest=rows,
            ref_prefix="line ",
            row_number=starts.__getitem__,
            total_rows=newlines + 1,
            strict_width=True,
        )
        try:
            yield from process_tables([table], context)
        finally:
            handle.close()
        yield from broken
        for number in too_long:
            yield RowError(
                ref=f"line {number}",
                message=(f"line {number} is longer than {max_line:,} characters (limit INGESTION_MAX_CSV_LINE_CHARS) "
                         "and was not read; is this really a CSV price list?"),
            )


processor = SpreadsheetProcessor()


# --------------------------------------------------------------------------- workbooks

def _workbook_tables(
    workbook: CalamineWorkbook, context: IngestContext, parts: XlsxParts | XlsParts | OdsParts | None,
    filename: str = "",
) -> Iterator[Table]:
    for meta in workbook.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            continue
        if meta.visible != SheetVisibleEnum.Visible:
            context.stats["hidden_sheets"] += 1
            continue
        if isinstance(parts, XlsxParts):  # its used range bounded before calamine loads it whole
            parts.scan_sheet(meta.name, filename)
        sheet = workbook.get_sheet_by_name(meta.name)
        context.stats["sheets"] += 1
        if sheet.start is None:  # no cells at all
            context.stats["sheets_skipped"] += 1
            continue
        workbook_limits.check_range(filename, f"sheet {meta.name!r}", sheet.end[0] + 1, sheet.end[1] + 1)
        # iter_rows() yields rows from row 1 (leading blank rows included) but
        # columns from the first used column: shift merged ranges and columns likewise.
        first_column = sheet.start[1]
        rows = iter(sheet.iter_rows())
        head = [row for _, row in zip(range(HEADER_SCAN_ROWS), rows)]
        name = meta.name
        layout = None
        if parts is not None:
            layout = partial(_xlsx_layout, parts, name, first_column, context)
        yield Table(
            name=name,
            head=head,
            rest=rows,
            ref_prefix=f"{name}!",
            row_number=_excel_row_number,
            merges=_vertical_merges(sheet.merged_cell_ranges or (), first_column),
            total_rows=sheet.end[0] + 1,
            layout=layout,
        )


def _xlsx_layout(parts: XlsxParts | XlsParts | OdsParts, name: str, first_column: int, context: IngestContext,
                 price_column: int) -> SheetLayout:
    """The sheet's hidden rows and price formats; an unreadable layout part is counted, not fatal
    (the values calamine read still import)."""
    try:
        layout = parts.layout(name, price_column + first_column)
    except Exception:  # a damaged or unusual part: the layout is an extra, the values are what matter
        log.warning("cannot read the layout (hidden rows, number formats) of sheet %r", name, exc_info=True)
        context.stats["layout_unreadable"] += 1
        return SheetLayout()
    if parts.truncated_styles:
        context.stats["styles_truncated"] = 1
    return layout


def _excel_row_number(index: int) -> int:
    return index + 1


def _vertical_merges(ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]], first_column: int):
    """Column -> [(top row, bottom row)] of each vertical merge, sorted, in iter_rows() coordinates.

    The merge's value sits in its top-left cell, so only the left column is listed.
    """
    merges: dict[int, list[tuple[int, int]]] = {}
    for (top, left), (bottom, _right) in ranges:
        if bottom > top and left >= first_column:
            merges.setdefault(left - first_column, []).append((top, bottom))
    for spans in merges.values():
        spans.sort()
    return merges


class _MergeFill:
    """Fills the empty cells of vertical merges with the merge's value, row by row (rows come in order).

    Memory: the merge list calamine already returned, plus one value per column.
    """

    def __init__(self, merges: dict[int, list[tuple[int, int]]]):
        self.columns = [(column, spans, [0]) for column, spans in merges.items()]
        self.values: dict[int, Any] = {}

    def apply(self, row: list[Any], index: int) -> set[int]:
        """Fill ``row`` (index ``index``) in place; returns the columns whose cell is part of a merge."""
        inside: set[int] = set()
        for column, spans, cursor in self.columns:
            position = cursor[0]
            while position < len(spans) and spans[position][1] < index:
                position += 1
            cursor[0] = position
            if position == len(spans) or spans[position][0] > index:
                continue
            inside.add(column)
            top = spans[position][0]
            if index == top:
                self.values[column] = row[column] if column < len(row) else ""
            elif column < len(row):
                if row[column] == "" or row[column] is None:
                    row[column] = self.values.get(column, "")
            else:
                row.extend([""] * (column - len(row)))
                row.append(self.values.get(column, ""))
        return inside


# --------------------------------------------------------------------------- xlsx layout (not in calamine)
#
# python-calamine gives cell values and merged ranges, not row visibility or number formats.
# Those are read here straight from the package parts (ECMA-376 Part 1, SpreadsheetML):
# ``xl/workbook.xml`` + its relationships name each sheet's part, ``xl/styles.xml`` holds the
# number formats (``numFmts``, section 18.8.30/18.8.31) and the cell formats (``cellXfs``,
# 18.8.10) a cell's ``s`` attribute indexes, and a sheet part marks hidden rows with
# ``<row r=".." hidden="1">`` (18.3.1.73; rows an autofilter hides are hidden the same way, inside
# the ``<autoFilter ref>`` range, 18.3.1.2). Each part is streamed: the styles with iterparse,
# keeping only the cell formats that name a currency (at most MAX_CELL_FORMATS of them); the sheet
# as raw bytes scanned with regular expressions, and only in the chunks that can matter (a chunk
# without ``hidden`` is not parsed for rows; price cells are looked at only when the styles name a
# currency). Per sheet at most one byte per row is kept (bounded by MAX_SHEET_ROWS).

MAX_SHEET_ROWS = 1_048_576  # Excel's row limit (ECMA-376 Part 1, 18.3.1.73: r is 1..1048576)
MAX_CELL_FORMATS = 65_536  # Excel allows 64,000 cell formats per workbook
MAX_STYLE_ELEMENTS = 2_000_000  # XML events read from styles.xml at most
_SCAN_CHUNK = 1 << 20
_MAX_CARRY = 8 << 20  # a single tag or text longer than this is scanned as it comes
_ROW_TAG_RE = re.compile(rb"<(?:\w+:)?row\b[^>]*>")
_ROW_NUMBER_RE = re.compile(rb'\sr="(\d+)"')
# hidden="1", or a custom height of zero (a row squeezed out of sight, as some writers hide rows)
_ROW_HIDDEN_RE = re.compile(rb'\shidden="(?:1|true)"|\sht="0(?:\.0*)?"')
_AUTOFILTER_RE = re.compile(
    rb'<(?:\w+:)?autoFilter\b[^>]*\sref="\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?"'
)
_CELL_STYLE_RE = re.compile(rb'\ss="(\d+)"')
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"

# Windows locale ids (LCID, [MS-LCID]) for the symbols several currencies share, as in "[$$-1009]".
_LCID_CURRENCY = {
    "$": {
        0x0409: "USD", 0x1009: "CAD", 0x0C0C: "CAD", 0x0C09: "AUD", 0x1409: "NZD", 0x080A: "MXN",
        0x2C0A: "ARS", 0x340A: "CLP", 0x240A: "COP", 0x380A: "UYU", 0x3C09: "HKD", 0x4809: "SGD",
        0x1004: "SGD", 0x0C04: "HKD", 0x0404: "TWD", 0x0416: "BRL", 0x2809: "USD", 0x0480A: "USD",
    },
    "¥": {0x0411: "JPY", 0x0804: "CNY"},
    "kr": {0x041D: "SEK", 0x0406: "DKK", 0x0414: "NOK", 0x0814: "NOK", 0x040F: "ISK"},
    "kr.": {0x041D: "SEK", 0x0406: "DKK", 0x0414: "NOK", 0x0814: "NOK", 0x040F: "ISK"},
    "r": {0x1C09: "ZAR", 0x0435: "ZAR", 0x0436: "ZAR"},
    "rs": {0x0439: "INR", 0x4009: "INR", 0x0420: "PKR", 0x045B: "LKR"},
    "rs.": {0x0439: "INR", 0x4009: "INR", 0x0420: "PKR", 0x045B: "LKR"},
}
_BARE_SYMBOLS = frozenset("$€£¥₹₩₺₽₪₫₱฿₦₴₸₲₡₵₭₮₼₾")


def currency_from_number_format(format_code: str) -> str | None:
    """The ISO 4217 currency a cell's number format displays, or ``None``.

    Reads the format code syntax of ECMA-376 Part 1, 18.8.31 (numFmt): ``"£"#,##0.00`` and
    ``#,##0.00 "zł"`` (quoted literal), ``\\€#,##0`` (escaped character), ``$#,##0.00`` (bare
    symbol), ``#,##0.00 [$€-407]`` / ``[$R$-416] #,##0.00`` / ``[$USD] #,##0`` (a ``[$symbol-LCID]``
    currency/locale tag). Symbols and codes are mapped with ``ingestion.normalize.parse_currency``;
    a symbol several currencies share (``$``, ``¥``, ``kr``, ``R``, ``Rs``) is settled by the tag's
    Windows locale id ([MS-LCID]: ``[$$-1009]`` is CAD, ``[$¥-804]`` CNY). Colours, conditions,
    ``_x`` spacing and ``*x`` fill characters are ignored; a locale tag without a symbol
    (``[$-409]``) names no currency. Sections (``;``) are tried in order, the first currency wins.
    """
    if not format_code or format_code in ("General", "@"):
        return None
    literals: list[str] = []
    run: list[str] = []
    index, end = 0, len(format_code)

    def flush() -> None:
        if run:
            literals.append("".join(run))
            run.clear()

    while index < end:
        char = format_code[index]
        if char == '"':
            close = format_code.find('"', index + 1)
            close = end if close < 0 else close
            flush()
            literals.append(format_code[index + 1:close])
            index = close + 1
            continue
        if char == "\\" and index + 1 < end:
            run.append(format_code[index + 1])
            index += 2
            continue
        if char in "_*" and index + 1 < end:
            flush()
            index += 2
            continue
        if char == "[":
            close = format_code.find("]", index + 1)
            close = end if close < 0 else close
            flush()
            tag = format_code[index + 1:close]
            index = close + 1
            if tag.startswith("$"):
                symbol, _, locale = tag[1:].partition("-")
                symbol = symbol.strip()
                if symbol:
                    code = _currency_of_symbol(symbol, locale)
                    if code:
                        return code
            continue
        if char in _BARE_SYMBOLS:
            run.append(char)
        else:
            flush()
        index += 1
    flush()
    for literal in literals:
        code = _currency_of_symbol(literal.strip(), "")
        if code:
            return code
    return None


def _currency_of_symbol(symbol: str, locale: str) -> str | None:
    if not symbol:
        return None
    shared = _LCID_CURRENCY.get(symbol.casefold())
    if shared and locale:
        try:
            lcid = int(locale.strip()[-4:], 16)  # the low 16 bits; higher digits carry calendar/numerals
        except ValueError:
            lcid = -1
        if lcid in shared:
            return shared[lcid]
    return parse_currency(symbol) or currency_from_header(symbol)


# Built-in number formats 5-8, 37-44 show the currency of the reader's locale ("$" in en-US,
# "€" in de-DE): they name none by themselves (ECMA-376 Part 1, 18.8.30 leaves them to the locale).


@dataclass
class SheetLayout:
    """What a sheet's XML says beyond the values, in 0-based row indexes.

    ``hidden[i]`` is 1 for a hidden row, 2 for a row an autofilter hides (0 or beyond the
    end: visible). ``price_currency[i]`` indexes ``currencies`` (0: the price cell's format
    names no currency).
    """

    hidden: bytearray | None = None
    price_currency: bytearray | None = None
    currencies: list[str] = field(default_factory=lambda: [""])


class XlsxParts:
    """Reads the parts of an .xlsx/.xlsm package that calamine does not expose (see above)."""

    def __init__(self, path: Path):
        self.archive = zipfile.ZipFile(path)
        self.names = set(self.archive.namelist())
        self._sheet_parts: dict[str, str] | None = None
        self._currency_styles: dict[int, str] | None = None
        self.truncated_styles = False
        self.scans: dict[str, workbook_limits.SheetScan] = {}  # sheet part -> what its scan found

    def close(self) -> None:
        self.archive.close()

    def check(self, filename: str) -> None:
        """The package's limits (``workbook_limits.check_package``), and the true size of the XML
        parts calamine reads when it opens the workbook (shared strings, styles, workbook,
        relationships); the sheets are checked one by one (``scan_sheet``). Raises
        ``WorkbookLimitError``."""
        workbook_limits.check_package(self.archive, filename)
        if "xl/workbook.xml" not in self.names:  # OpenDocument: OdsParts.check reads its content
            return
        for info in self.archive.infolist():
            name = info.filename
            if name.endswith((".xml", ".rels")) and not name.startswith(("xl/worksheets/", "xl/chartsheets/")):
                for _ in workbook_limits.verified_stream(self.archive, info, filename):
                    pass

    def scan_sheet(self, sheet_name: str, filename: str) -> None:
        """Bound the sheet's used range before calamine loads it (``workbook_limits.scan_xlsx_sheet``);
        its hidden rows are kept for ``layout``. Raises ``WorkbookLimitError``."""
        part = self.sheet_part(sheet_name)
        if part is None or part in self.scans:
            return
        chunks = workbook_limits.verified_stream(self.archive, self.archive.getinfo(part), filename)
        self.scans[part] = workbook_limits.scan_xlsx_sheet(chunks, filename, sheet_name)

    def sheet_part(self, name: str) -> str | None:
        """The package part holding the sheet called ``name``, or ``None``."""
        if self._sheet_parts is None:
            self._sheet_parts = self._read_sheet_parts()
        return self._sheet_parts.get(name)

    def currency_styles(self) -> dict[int, str]:
        """``{cell format index: ISO code}`` for the cell formats whose number format names a currency."""
        if self._currency_styles is None:
            self._currency_styles = self._read_currency_styles()
        return self._currency_styles

    def _read_sheet_parts(self) -> dict[str, str]:
        targets: dict[str, str] = {}
        if "xl/_rels/workbook.xml.rels" in self.names:
            with self.archive.open("xl/_rels/workbook.xml.rels") as stream:
                for _, element in _finished_elements(stream):
                    if _local(element.tag) == "Relationship":
                        target = element.get("Target", "")
                        target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                            posixpath.join("xl", target)
                        )
                        targets[element.get("Id", "")] = target
        parts: dict[str, str] = {}
        if "xl/workbook.xml" in self.names:
            with self.archive.open("xl/workbook.xml") as stream:
                for _, element in _finished_elements(stream):
                    if _local(element.tag) == "sheet":
                        rel = element.get(f"{{{_REL_NS}}}id") or element.get(f"{{{_STRICT_REL_NS}}}id") or ""
                        if rel in targets and targets[rel] in self.names:
                            parts[element.get("name", "")] = targets[rel]
        return parts

    def _read_currency_styles(self) -> dict[int, str]:
        if "xl/styles.xml" not in self.names:
            return {}
        formats: dict[int, str] = {}  # custom number format id -> ISO code (only those naming one)
        styles: dict[int, str] = {}
        in_cell_xfs, xf_index, seen = False, 0, 0
        with self.archive.open("xl/styles.xml") as stream:
            for event, element in _finished_elements(stream, starts=True):
                seen += 1
                if seen > MAX_STYLE_ELEMENTS:  # fonts, fills... by the million: a hostile file
                    self.truncated_styles = True
                    break
                tag = _local(element.tag)
                if event == "start":
                    if tag == "cellXfs":
                        in_cell_xfs = True
                    elif tag == "xf" and in_cell_xfs:
                        try:
                            code = formats.get(int(element.get("numFmtId", "0")))
                        except ValueError:
                            code = None
                        if code:
                            styles[xf_index] = code
                        xf_index += 1
                        if xf_index >= MAX_CELL_FORMATS:
                            self.truncated_styles = True
                            break
                    continue
                if tag == "numFmt" and len(formats) < MAX_CELL_FORMATS:
                    code = currency_from_number_format(element.get("formatCode", ""))
                    if code:
                        try:
                            formats[int(element.get("numFmtId", ""))] = code
                        except ValueError:
                            pass
                elif tag == "cellXfs":
                    break
        return styles

    def layout(self, sheet_name: str, price_column: int | None) -> SheetLayout:
        """Hidden rows and, when the styles name currencies, each price cell's currency.

        ``price_column`` is 0-based. Reads the sheet part once, in chunks; memory is one
        byte per row up to the last hidden / currency-formatted row.
        """
        layout = SheetLayout()
        part = self.sheet_part(sheet_name)
        if part is None:
            return layout
        styles = self.currency_styles() if price_column is not None else {}
        cell_re = None
        if styles:
            letters = _column_letters(price_column).encode()
            cell_re = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="' + letters + rb'(\d+)"[^>]*>')
            codes = sorted(set(styles.values()))[:255]
            layout.currencies = ["", *codes]
            style_slot = {style: codes.index(code) + 1 for style, code in styles.items() if code in codes}
        hidden = bytearray()
        currency = bytearray()
        filter_range: tuple[int, int] | None = None
        last_row = 0
        scan = self.scans.get(part)
        if scan is not None:  # the rows were read before calamine loaded the sheet
            hidden = bytearray(scan.hidden or b"")
            filter_range = scan.filter_rows
        if scan is not None and cell_re is None:
            chunks: Iterable[bytes] = ()  # nothing more to read in the part
        else:
            chunks = _part_chunks(self.archive, part)
        for chunk in chunks:
            if scan is None and (b"hidden" in chunk or b'ht="0' in chunk):
                for tag in _ROW_TAG_RE.finditer(chunk):
                    number = _ROW_NUMBER_RE.search(tag.group())
                    last_row = int(number.group(1)) if number else last_row + 1
                    if _ROW_HIDDEN_RE.search(tag.group()) and 0 < last_row <= MAX_SHEET_ROWS:
                        _set_flag(hidden, last_row - 1, 1)
            if cell_re is not None:
                for cell in cell_re.finditer(chunk):
                    style = _CELL_STYLE_RE.search(cell.group())
                    slot = style_slot.get(int(style.group(1))) if style else None
                    row = int(cell.group(1))
                    if slot and 0 < row <= MAX_SHEET_ROWS:
                        _set_flag(currency, row - 1, slot)
            if scan is None and b"autoFilter" in chunk:
                found = _AUTOFILTER_RE.search(chunk)
                if found:
                    first = int(found.group(2))
                    filter_range = (first, int(found.group(4) or first))
        if filter_range:
            first, last = filter_range
            for index in range(first, min(last, len(hidden))):  # below the filter's header row
                if hidden[index]:
                    hidden[index] = 2
        layout.hidden = hidden or None
        layout.price_currency = currency or None
        return layout


class XlsParts:
    """Row visibility and number formats of a legacy .xls (BIFF) workbook, read with xlrd.

    xlrd (``formatting_info=True``) exposes what calamine does not: each ROW record's
    hidden flag (``Sheet.rowinfo_map``), the cell formats (``Book.xf_list``) and their
    number format strings (``Book.format_map``), the same ECMA-376-style format codes as
    in .xlsx. An .xls sheet holds at most 65,536 rows, which bounds the memory xlrd takes.
    Rows an autofilter hides are hidden rows like any other here (flag 1).
    """

    truncated_styles = False

    def __init__(self, path: Path):
        self.book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True, logfile=_Discard())
        self._currency_xfs: dict[int, str] | None = None

    def close(self) -> None:
        self.book.release_resources()

    def currency_styles(self) -> dict[int, str]:
        """``{XF index: ISO code}`` for the cell formats whose number format names a currency."""
        if self._currency_xfs is None:
            codes: dict[int, str | None] = {}
            styles: dict[int, str] = {}
            for index, xf in enumerate(self.book.xf_list[:MAX_CELL_FORMATS]):
                key = xf.format_key
                if key not in codes:
                    number_format = self.book.format_map.get(key)
                    codes[key] = currency_from_number_format(number_format.format_str) if number_format else None
                if codes[key]:
                    styles[index] = codes[key]
            self._currency_xfs = styles
        return self._currency_xfs

    def layout(self, sheet_name: str, price_column: int | None) -> SheetLayout:
        """Hidden rows and each price cell's currency, as ``XlsxParts.layout``."""
        layout = SheetLayout()
        try:
            sheet = self.book.sheet_by_name(sheet_name)
        except xlrd.XLRDError:
            return layout
        hidden = bytearray()
        for row, info in sheet.rowinfo_map.items():
            if info.hidden and 0 <= row < MAX_SHEET_ROWS:
                _set_flag(hidden, row, 1)
        layout.hidden = hidden or None
        styles = self.currency_styles() if price_column is not None else {}
        if styles and price_column < sheet.ncols:
            codes = sorted(set(styles.values()))[:255]
            layout.currencies = ["", *codes]
            slots = {style: codes.index(code) + 1 for style, code in styles.items() if code in codes}
            currency = bytearray()
            for row in range(sheet.nrows):
                if price_column < sheet.row_len(row):
                    slot = slots.get(sheet.cell_xf_index(row, price_column))
                    if slot:
                        _set_flag(currency, row, slot)
            layout.price_currency = currency or None
        self.book.unload_sheet(sheet_name)
        return layout


def _finished_elements(stream, *, starts: bool = False) -> Iterator[tuple[str, ElementTree.Element]]:
    """``ElementTree.iterparse`` that forgets each element once its end event is handled:
    memory stays bounded by the nesting depth, however many elements a part holds."""
    stack: list[ElementTree.Element] = []
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            stack.append(element)
            if starts:
                yield event, element
            continue
        yield event, element
        stack.pop()
        element.clear()
        if stack:
            stack[-1].remove(element)


def _part_chunks(archive: zipfile.ZipFile, part: str) -> Iterator[bytes]:
    """A package part's bytes in whole-tag chunks (``_whole_tag_chunks``), the part closed after."""
    with archive.open(part) as stream:
        yield from _whole_tag_chunks(stream)


def _whole_tag_chunks(stream) -> Iterator[bytes]:
    """The stream's bytes in chunks of about ``_SCAN_CHUNK`` that never cut a tag in two
    (``<`` cannot occur inside an XML tag, so a chunk ends before its last ``<``)."""
    carry = b""
    while True:
        data = stream.read(_SCAN_CHUNK)
        if not data and not carry:
            return
        chunk = carry + data
        cut = chunk.rfind(b"<") if data else -1
        if cut > 0:  # a tag cut in two waits for the next chunk
            chunk, carry = chunk[:cut], chunk[cut:]
        elif cut == 0 and len(chunk) <= _MAX_CARRY:  # one long tag (or text): read on
            carry = chunk
            continue
        else:
            carry = b""
        yield chunk


_ODS_TAG_RE = re.compile(
    rb"<(/?)table:(table-row|table-cell|covered-table-cell|table(?=[\s>/]))([^>]*?)(/?)>"
)
_ODS_ATTR_RE = re.compile(rb'([\w:-]+)="([^"]*)"')
_ODS_CURRENCY_MARK = b'office:value-type="currency"'
_ODS_HIDDEN_MARK = b"table:visibility="


class OdsParts:
    """Row visibility and currency cells of an OpenDocument spreadsheet (.ods).

    OpenDocument 1.2 (OASIS), Part 1: a ``<table:table-row>`` with ``table:visibility``
    ``collapsed`` (hidden) or ``filter`` (hidden by a filter) is not shown (19.746); a
    cell formatted as currency has ``office:value-type="currency"`` and its ISO 4217 code in
    ``office:currency`` (19.381, 19.385). Rows and cells repeat with
    ``table:number-rows-repeated`` / ``table:number-columns-repeated``. ``content.xml`` is
    streamed and scanned only when it holds one of those marks at all.
    """

    truncated_styles = False

    def __init__(self, path: Path):
        self.archive = zipfile.ZipFile(path)
        self._marks: tuple[bool, bool] | None = None

    def close(self) -> None:
        self.archive.close()

    def check(self, filename: str) -> None:
        """Bound every table's used range in ``content.xml`` before calamine loads it
        (``workbook_limits.scan_ods_content``); raises ``WorkbookLimitError``."""
        if "content.xml" in self.archive.namelist():
            info = self.archive.getinfo("content.xml")
            workbook_limits.scan_ods_content(workbook_limits.verified_stream(self.archive, info, filename), filename)

    def _has_marks(self) -> tuple[bool, bool]:
        if self._marks is None:
            hidden = currency = False
            with self.archive.open("content.xml") as stream:
                for chunk in _whole_tag_chunks(stream):
                    hidden = hidden or _ODS_HIDDEN_MARK in chunk
                    currency = currency or _ODS_CURRENCY_MARK in chunk
                    if hidden and currency:
                        break
            self._marks = (hidden, currency)
        return self._marks

    def layout(self, sheet_name: str, price_column: int | None) -> SheetLayout:
        """Hidden rows and each price cell's currency, as ``XlsxParts.layout``."""
        layout = SheetLayout()
        has_hidden, has_currency = self._has_marks()
        if not has_hidden and not (has_currency and price_column is not None):
            return layout
        hidden, currency, codes = bytearray(), bytearray(), [""]
        in_sheet = done = False
        row = column = 0
        row_repeat = 1
        with self.archive.open("content.xml") as stream:
            for chunk in _whole_tag_chunks(stream):
                for tag in _ODS_TAG_RE.finditer(chunk):
                    closing, kind, attributes, empty = tag.groups()
                    if kind == b"table":
                        if closing:
                            if in_sheet:
                                done = True
                                break
                        else:
                            found = _ods_attributes(attributes).get(b"table:name", b"")
                            in_sheet = html.unescape(found.decode("utf-8", "replace")) == sheet_name
                            row = 0
                        continue
                    if not in_sheet:
                        continue
                    if kind == b"table-row":
                        if closing:
                            row += row_repeat
                            continue
                        values = _ods_attributes(attributes)
                        row_repeat = _ods_count(values.get(b"table:number-rows-repeated"))
                        column = 0
                        visibility = values.get(b"table:visibility")
                        if visibility in (b"collapsed", b"filter") and row < MAX_SHEET_ROWS:
                            flag = 2 if visibility == b"filter" else 1
                            for index in range(row, min(row + row_repeat, MAX_SHEET_ROWS)):
                                _set_flag(hidden, index, flag)
                        if empty:
                            row += row_repeat
                        continue
                    if closing:
                        continue
                    if price_column is None or column > price_column:
                        continue
                    if b"number-columns-repeated" in attributes or b"office:currency" in attributes:
                        values = _ods_attributes(attributes)
                        span = _ods_count(values.get(b"table:number-columns-repeated"))
                    else:
                        values, span = None, 1
                    if column <= price_column < column + span and values and row < MAX_SHEET_ROWS:
                        code = values.get(b"office:currency", b"").decode("ascii", "replace").upper()
                        if values.get(b"office:value-type") == b"currency" and parse_currency(code):
                            if code not in codes and len(codes) < 256:
                                codes.append(code)
                            if code in codes:
                                for index in range(row, min(row + row_repeat, MAX_SHEET_ROWS)):
                                    _set_flag(currency, index, codes.index(code))
                    column += span
                if done:
                    break
        layout.hidden = hidden or None
        layout.price_currency = currency or None
        layout.currencies = codes
        return layout


def _ods_attributes(text: bytes) -> dict[bytes, bytes]:
    return dict(_ODS_ATTR_RE.findall(text))


def _ods_count(value: bytes | None) -> int:
    """A repeat count; hostile values are bounded by Excel's row limit."""
    try:
        return max(1, min(int(value), MAX_SHEET_ROWS)) if value else 1
    except ValueError:
        return 1


class _Discard:
    """A file-like sink for xlrd's diagnostics (it prints them to stdout by default)."""

    def write(self, text: str) -> int:
        return len(text)


def _set_flag(flags: bytearray, index: int, value: int) -> None:
    if index >= len(flags):
        flags.extend(bytes(index + 1 - len(flags)))
    flags[index] = value


def _column_letters(index: int) -> str:
    """0-based column index -> Excel letters: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# --------------------------------------------------------------------------- common row loop

def process_tables(tables: list[Table], context: IngestContext) -> Iterator[Item]:
    """Find each table's header (unless the caller gave it one), report tables without one, then
    yield the rows.

    With the LLM pass enabled (``ingestion.llm.enabled``), a table without a header goes through
    it instead of being a "no header row" ``RowError`` (which it still is, after the pass's
    notice, when the pass fails); with ``prefer_llm=true`` every table does, a cover sheet too,
    and the heuristics read a table only when the pass fails (``_llm_table``).
    """
    for table in tables:
        if table.header is None:
            table.header = find_header(table.head)
    with_header = [table for table in tables if table.header]
    rescue = llm.enabled()
    prefer = rescue and llm.wanted(context)
    for table in tables:
        if table.header:
            context.stats[f"header_row:{table.name}"] = table.row_number(table.header.row_index)
        elif not with_header or looks_like_table(table.head) or prefer:
            context.stats["sheets_without_header"] += 1
            if rescue:
                items = yield from _llm_table(table, context)
                if items is not None:
                    yield from items
                    continue
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
        if prefer:
            items = yield from _llm_table(table, context)
            if items is not None:
                yield from items
                continue
        yield from _table_rows(table, context, total)
    if context.progress:
        context.progress(context.stats["rows_seen"], total)


def _llm_table(table: Table, context: IngestContext) -> Iterator[Item]:
    """Send ``table``'s rows through the LLM pass. Yields the pass's notice (or why it did not run)
    and *returns* its items, the table's hidden rows among them (skipped, as ``_table_rows``
    reports them), or ``None`` when it did not read the table: the pass failed, or the rows hold
    more than ``llm.input_budget()`` characters (not sent). Then the rows taken from the table
    are put back in ``table.rest`` for the heuristics.

    A row is a ``SourceLine`` of its cells up to the last filled one, joined by ``" | "``, ref
    ``"<sheet>!<row>"`` (CSV: ``"line <n>"``); blank rows count in ``blank_rows``, rows sent in
    ``rows_seen``. The currency the price header or the title rows name is the template's, for
    offers whose text names none.
    """
    header = table.header
    layout = table.layout(header.columns["price"] if header else 0) if table.layout else SheetLayout()
    hidden = layout.hidden
    template = OfferCandidate(ref="", currency=(header.currency if header else "") or title_currency(table.head))
    budget = llm.input_budget()
    lines: list[llm.SourceLine] = []
    skipped: list[RowError] = []
    taken: list[list[Any]] = []  # rows read from table.rest
    size = blank = 0
    for index, row in _chain_after(table.head, 0, table.rest):
        if index >= len(table.head):
            taken.append(row)
        cells = [cell_text(value) for value in row]
        while cells and not cells[-1].strip():
            cells.pop()
        if not cells:
            blank += 1
            continue
        ref = f"{table.ref_prefix}{table.row_number(index)}"
        if hidden is not None and index < len(hidden) and hidden[index]:
            skipped.append(_hidden_row(ref, row, hidden[index]))
            continue
        text = " | ".join(cells)
        size += len(text) + 1
        if size > budget:
            table.rest = itertools.chain(taken, table.rest)
            yield Notice(table.name, f"too large for the LLM pass (more than {budget:,} characters: "
                                     "OPENAI_MAX_INPUT_CHARS x OPENAI_MAX_CALLS_PER_DOCUMENT); the heuristics read it")
            return None
        lines.append(llm.SourceLine(ref, text, template))
    hint = f"the spreadsheet sheet {table.name!r} of a price list, one row per line, its cells joined by ' | '"
    items, notices = llm.normalize(lines, context, where=table.name, hint=hint)
    yield from notices
    if items is None:
        table.rest = iter(taken)
        return None
    context.stats["blank_rows"] += blank
    context.stats["rows_seen"] += len(lines)
    return skipped + items


def _hidden_row(ref: str, row: list[Any], flag: int) -> RowError:
    """The skipped-row error of a hidden row (``flag`` 1) or one the autofilter hides (2)."""
    if flag == 2:
        return RowError(ref, "row filtered out by the sheet's autofilter: not an offer", "", _row_text(row),
                        skipped="filtered")
    return RowError(ref, "hidden row: not an offer", "", _row_text(row), skipped="hidden")


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
    status_col = columns.get("status")
    attribute_cols = [(name, columns[name]) for name in ATTRIBUTE_FIELDS if name in columns]
    if grade_col is not None:
        attribute_cols.append(("grade", grade_col))
    attribute_cols.sort(key=lambda item: item[1])  # in the sheet's order
    width = len(header.cells)
    header_cells = header.cells
    stats = context.stats
    progress = context.progress
    ref_prefix = table.ref_prefix
    row_number = table.row_number
    # Vertical merges apply to every row they cover, except a merged quantity (a shared stock
    # figure would be counted once per row).
    merges = {column: spans for column, spans in table.merges.items() if column != qty_col}
    merge_fill = _MergeFill(merges) if merges else None
    layout = table.layout(price_col) if table.layout else SheetLayout()
    hidden = layout.hidden
    price_currency = layout.price_currency
    currencies = layout.currencies

    group_model: tuple[str, str] | None = None  # (sku, description) the variant rows below belong to

    def text_at(row: list[Any], column: int | None) -> str:
        return cell_text(row[column]) if column is not None and column < len(row) else ""

    rows = _chain_after(table.head, header.row_index + 1, table.rest)
    for index, row in rows:
        filled = len(row) - row.count("")
        if filled == 0:
            stats["blank_rows"] += 1
            continue
        stats["rows_seen"] += 1
        if progress and stats["rows_seen"] % PROGRESS_EVERY == 0:
            progress(stats["rows_seen"], total)
        merged = merge_fill.apply(row, index) if merge_fill is not None else ()
        if merged:
            filled = len(row) - row.count("")
        if hidden is not None and index < len(hidden) and hidden[index]:
            yield _hidden_row(f"{ref_prefix}{row_number(index)}", row, hidden[index])
            continue
        if filled == 1 or _is_footer(row):
            stats["footer_rows"] += 1
            if attribute_cols and filled == 1:  # a section title ("iPhone 16 Pro") over its variants
                title = next((value for value in row if value != ""), "")
                if type(title) is str and not _is_footer(row):
                    group_model = ("", title.strip())
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
            condition=text_at(row, cond_col),
        )
        if price_currency is not None and index < len(price_currency) and price_currency[index]:
            if not (currency_col is not None and text_at(row, currency_col)):
                candidate.currency = currencies[price_currency[index]]
                candidate.extra["currency_source"] = "number_format"
        if grade_col is not None:
            grade = text_at(row, grade_col)
            if grade:
                candidate.condition = f"{candidate.condition} grade {grade}".strip()
        if status_col is not None:
            status = text_at(row, status_col)
            if status:
                candidate.extra["status"] = status
        shared_sku = sku_col in merged
        if attribute_cols:
            # Variants listed under their model without repeating it (a model cell left blank,
            # or a section title row): the model of the group applies, as a merge would.
            if candidate.sku or candidate.description:
                group_model = (candidate.sku, candidate.description)
            elif group_model is not None:
                candidate.sku, candidate.description = group_model
                shared_sku = True
        if attribute_cols or (shared_sku and candidate.sku):
            _describe_variant(candidate, row, attribute_cols, shared_sku=shared_sku)
        if cond_col is None and candidate.description:
            condition = _condition_in_text(candidate.description)
            if condition:
                candidate.condition = condition
                candidate.extra["condition_source"] = "description"
        if type(price_value) is float and _AMBIGUOUS_NUMBER_RE.fullmatch(candidate.price):
            candidate.extra["decimal_comma"] = False
        yield candidate


# Condition words that are also colours or abbreviations in product names ("Mint" green,
# "OB", "HS", "BN"): not read as a condition when they stand in a description.
_CONDITION_WORDS_NOT_IN_NAMES = frozenset({"mint", "ob", "hs", "bn"})


def _condition_in_text(text: str) -> str:
    """The condition a product text names (``"... Preto lacrado"`` -> ``"new"``), as a phrase
    ``parse_condition`` reads back (``"refurbished grade B"``), or ``""``.

    Used only for sheets without a condition or grade column.
    """
    words = [word for word in text.split() if word.casefold() not in _CONDITION_WORDS_NOT_IN_NAMES]
    condition = parse_condition(" ".join(words))
    if condition.code == "unknown":
        return ""
    words = condition.code.replace("_", " ")
    return f"{words} grade {condition.grade}" if condition.grade else words


def _describe_variant(candidate: OfferCandidate, row: list[Any], attribute_cols: list[tuple[str, int]],
                      *, shared_sku: bool) -> None:
    """Put the row's attribute cells into the product text and ``extra["attributes"]``.

    A model name in the SKU column (it has spaces) that a merge shares between rows or
    that attribute cells qualify, or a code a merge shares between rows of different
    attributes, is not the variant's SKU: it moves to the front of the description, so
    that rows of one model with different colours or capacities stay different products. A grade is kept
    as an attribute but not added to the text (it is the offer's condition, not another
    product).
    """
    attributes: dict[str, str] = {}
    for name, column in attribute_cols:
        text = cell_text(row[column]) if column < len(row) else ""
        if text:
            attributes[name] = text
    sku = candidate.sku
    description = candidate.description
    named = " " in sku  # "iPhone 15 Pro 256GB", not "MTP03LL/A"
    if sku and ((named and (shared_sku or attributes)) or (shared_sku and attributes)):
        candidate.extra["model"] = sku
        if sku.casefold() not in description.casefold():
            description = f"{sku} {description}".strip()
        candidate.sku = ""
    words = [description] if description else []
    folded = description.casefold()
    for name, text in attributes.items():
        if name == "grade":
            continue
        shown = _attribute_text(name, text)
        if shown.casefold() not in folded and not (text.isdigit() and f"{text}gb" in folded.replace(" ", "")):
            words.append(shown)
            folded = f"{folded} {shown.casefold()}"
    candidate.description = " ".join(words)
    if attributes:
        candidate.extra["attributes"] = attributes


def _attribute_text(name: str, text: str) -> str:
    """An attribute as it reads in a product text: a bare capacity gets its unit (``256`` -> ``256GB``)."""
    if text.isdigit():
        if name == "storage":
            return f"{text}TB" if int(text) <= 4 else f"{text}GB"
        if name == "ram":
            return f"{text}GB RAM"
    return text


def _row_text(row: list[Any]) -> str:
    """A row shown back to the operator (skipped rows)."""
    return " | ".join(cell_text(value) for value in row if value != "")[:200]


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


def csv_encoding(path: Path, encoding: str | None = None) -> tuple[str, int]:
    """The encoding to read a CSV file with, and its count of ``\\n`` bytes, in one streamed pass.

    The rules of ``decode_csv`` (the ``encoding`` option, a UTF-16 byte order mark, strict
    UTF-8 with or without a BOM (``"utf-8-sig"``), strict cp1252), except that
    charset-normalizer judges the first ``CSV_GUESS_BYTES`` only. Raises
    ``UnicodeDecodeError`` (naming the byte) when no rule decodes the file, ``LookupError``
    for an unknown encoding option.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
        if encoding:
            candidates = [encoding]
        elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
            candidates = ["utf-16"]
        else:
            candidates = ["utf-8-sig", "cp1252"]
        for index, name in enumerate(candidates):
            handle.seek(0)
            decoder = codecs.getincrementaldecoder(name)()
            newlines = 0
            try:
                while chunk := handle.read(1 << 20):
                    decoder.decode(chunk)
                    newlines += chunk.count(b"\n")
                decoder.decode(b"", final=True)
                return name, newlines
            except UnicodeDecodeError:
                if index == len(candidates) - 1 and (encoding or name == "utf-16"):
                    raise
        from charset_normalizer import from_bytes

        handle.seek(0)
        sample = handle.read(CSV_GUESS_BYTES)
        best = from_bytes(sample, cp_isolation=_CODEPAGE_HINTS).best()
        if best is None:
            sample.decode("cp1252")  # raises the UnicodeDecodeError that names the byte
        handle.seek(0)
        newlines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        return best.encoding, newlines


def _bounded_lines(handle, limit: int, too_long: list[int]) -> Iterator[str]:
    """The lines of a text file opened with ``newline=""``; a line longer than ``limit``
    characters is read past in pieces (never held whole), its number added to ``too_long``,
    and given as an empty line (so line numbers stay right)."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(("\n", "\r")):
            while piece := handle.readline(1 << 20):
                if piece.endswith(("\n", "\r")):
                    break
            too_long.append(number)
            yield "\n"
            continue
        yield line


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
