"""The spreadsheet processor, on real files written into tmp_path."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from openpyxl import Workbook

from ingestion.normalize import parse_condition, parse_price, parse_quantity
from ingestion.processors.spreadsheet import (
    EXPECTED_HEADERS,
    cell_text,
    decode_csv,
    find_header,
    match_header,
    processor,
)
from ingestion.types import IngestContext, OfferCandidate, RowError
from ingestion.tests.conftest import write_ods_package

STANDARD = ["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"]
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "docs" / "samples"


# --------------------------------------------------------------------------- helpers

def run(path: Path, **options: str):
    context = IngestContext(filename=path.name, options=options)
    items = list(processor.process(path, context))
    candidates = [item for item in items if isinstance(item, OfferCandidate)]
    errors = [item for item in items if isinstance(item, RowError)]
    return candidates, errors, context.stats


def write_xlsx(path: Path, sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None,
               hidden: tuple[str, ...] = ()) -> Path:
    """Write rows cell by cell (None = empty), so leading blank rows stay blank."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row_number, row in enumerate(rows, start=1):
            for column_number, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=row_number, column=column_number, value=value)
        for cell_range in (merges or {}).get(name, []):
            sheet.merge_cells(cell_range)
        if name in hidden:
            sheet.sheet_state = "hidden"
    workbook.save(path)
    return path


def write_ods(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A minimal OpenDocument spreadsheet (no odfpy needed)."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
             "<office:body><office:spreadsheet>"]
    for name, rows in sheets.items():
        parts.append(f"<table:table table:name={quoteattr(name)}>")
        for row in rows:
            parts.append("<table:table-row>")
            for value in row:
                if value is None:
                    parts.append("<table:table-cell/>")
                elif isinstance(value, (int, float)):
                    parts.append(f'<table:table-cell office:value-type="float" office:value="{value}">'
                                 f"<text:p>{value}</text:p></table:table-cell>")
                else:
                    parts.append(f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
                                 "</table:table-cell>")
            parts.append("</table:table-row>")
        parts.append("</table:table>")
    parts.append("</office:spreadsheet></office:body></office:document-content>")
    return write_ods_package(path, "".join(parts))


def fields(candidate: OfferCandidate) -> tuple:
    return (candidate.ref, candidate.sku, candidate.description, candidate.price, candidate.quantity,
            candidate.condition)


# --------------------------------------------------------------------------- detect

def test_detect_by_extension_and_magic(tmp_path):
    xlsx = write_xlsx(tmp_path / "a.xlsx", {"S": [STANDARD]})
    head = xlsx.read_bytes()[:2048]
    assert processor.detect(xlsx, head) == 95
    assert processor.detect(tmp_path / "a.xls", head) == 60  # an xlsx saved under .xls
    assert processor.detect(tmp_path / "a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100) == 95
    assert processor.detect(tmp_path / "a.ods", b"PK\x03\x04mimetypeapplication/vnd.oasis") == 95
    assert processor.detect(tmp_path / "a.csv", b"SKU;Preis\nA;12,50\n") == 90
    assert processor.detect(tmp_path / "a.csv", b"\x00\x01\x02binary") == 20
    assert processor.detect(tmp_path / "a.xlsx", b"not a zip") == 30
    assert processor.detect(tmp_path / "a.pdf", b"%PDF-1.7") == 0
    assert processor.detect(tmp_path / "chat.txt", b"[01/02/2025, 10:00] Bob: iPhone 15 750") == 0
    assert processor.detect(tmp_path / "list.tsv", b"SKU\tPrice\nA\t1\n") == 60
    assert processor.name == "spreadsheet"
    assert ".xlsm" in processor.extensions


# --------------------------------------------------------------------------- headers

@pytest.mark.parametrize(
    "header",
    [
        ["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"],
        ["Part No.", "Item Description", "Unit Price (USD)", "Stock", "Grade"],
        ["Model", "Product name", "Price", "Avail.", "Condition"],
        ["Item #", "Desc", "Dealer price", "Available", "Cond."],
        ["Artikelnr.", "Bezeichnung", "Preis €", "Menge", "Zustand"],
        ["Artikelnummer", "Beschreibung", "Einzelpreis", "Bestand", "Zustand"],
        ["Modelo", "Descripción", "Precio", "Cantidad", "Estado"],
        ["Código", "Producto", "Precio unitario", "Existencias", "Condición"],
        ["Référence", "Désignation", "Prix", "Quantité", "État"],
        ["Réf.", "Libellé", "Prix unitaire HT", "Qté", "Etat"],
    ],
)
def test_header_synonyms_in_four_languages(tmp_path, header):
    path = write_xlsx(tmp_path / "list.xlsx", {"Liste": [header, ["X1", "Thing", 10.5, 3, "New"]]})
    candidates, errors, _ = run(path)
    assert errors == []
    assert fields(candidates[0]) == ("Liste!2", "X1", "Thing", "10.5", "3", "New")


def test_match_header_rules():
    assert match_header("Unit Price (USD)") == "price"
    assert match_header("Price excl. VAT") == "price"  # synonym followed by more words
    assert match_header("Stock code") == "sku"  # the longer synonym wins over "stock"
    assert match_header("Total price") is None
    assert match_header("Currency") == "currency"
    assert match_header("EUR") == "price"
    assert match_header("") is None


def test_header_needs_price_and_sku_or_description():
    assert find_header([["SKU", "Description", "Qty"]]) is None
    assert find_header([["Price", "Qty", "Condition"]]) is None
    header = find_header([["Price list 2025"], [], ["Description", "Price"]])
    assert header is not None and header.row_index == 2
    assert header.columns == {"description": 0, "price": 1}


# --------------------------------------------------------------------------- the messy workbook

def messy_workbook(path: Path) -> Path:
    return write_xlsx(
        path,
        {
            "Cover": [["Global Mobile Traders"], [], ["Weekly offer"], ["Contact: sales@example.com"]],
            "Pricing": [
                ["GLOBAL MOBILE TRADERS - PRICE LIST"],  # 1, merged A1:E1
                [],  # 2
                ["Valid from:", datetime(2025, 7, 1)],  # 3
                [],  # 4
                ["Part No.", "Description", "Unit Price (USD)", "Avail.", "Grade"],  # 5
                ["MTP03ZD/A", "iPhone 15 128GB Black", 612.5, 25, "A"],  # 6
                ["MU7A3ZD/A", "iPhone 15 Pro 128GB", "$1,234.50", "5+", "Refurb"],  # 7, E7:E8 merged
                ["MTUW3ZD/A", "iPhone 15 Pro 256GB", 1045, 3, None],  # 8
                ["SM-S921B", "Galaxy S24 128GB", "call", 10, "New"],  # 9
                [],  # 10
                ["Total lines", 4],  # 11
            ],
        },
        merges={"Pricing": ["A1:E1", "E7:E8"]},
    )


def test_messy_vendor_workbook(tmp_path):
    candidates, errors, stats = run(messy_workbook(tmp_path / "messy.xlsx"))
    assert errors == []
    assert [fields(c) for c in candidates] == [
        ("Pricing!6", "MTP03ZD/A", "iPhone 15 128GB Black", "612.5", "25", "A"),
        ("Pricing!7", "MU7A3ZD/A", "iPhone 15 Pro 128GB", "$1,234.50", "5+", "Refurb"),
        ("Pricing!8", "MTUW3ZD/A", "iPhone 15 Pro 256GB", "1045", "3", "Refurb"),  # merged grade filled down
        ("Pricing!9", "SM-S921B", "Galaxy S24 128GB", "call", "10", "New"),
    ]
    assert {c.currency for c in candidates} == {"USD"}  # from "Unit Price (USD)"
    assert stats["header_row:Pricing"] == 5
    assert stats["sheets"] == 2 and stats["sheets_skipped"] == 1  # the cover page is no error
    assert stats["blank_rows"] == 1 and stats["footer_rows"] == 1
    assert stats["rows_seen"] == 5
    # What the ingest service will make of them:
    assert parse_price(candidates[1].price).amount == Decimal("1234.50")
    assert parse_quantity(candidates[1].quantity) == 5
    assert parse_condition(candidates[2].condition).code == "refurbished"


def test_leading_blank_rows_and_columns_keep_excel_row_numbers(tmp_path):
    rows = [[], [], [], [None, None, "SKU", "Price", "Condition"],
            [None, None, "A1", 10, "Refurbished"], [None, None, "A2", 11, None], [None, None, "A3", 12, None]]
    path = write_xlsx(tmp_path / "offset.xlsx", {"S": rows}, merges={"S": ["E5:E6"]})
    candidates, errors, stats = run(path)
    assert errors == []
    assert [(c.ref, c.sku, c.price, c.condition) for c in candidates] == [
        ("S!5", "A1", "10", "Refurbished"),
        ("S!6", "A2", "11", "Refurbished"),
        ("S!7", "A3", "12", ""),  # below the merge: not filled
    ]
    assert stats["header_row:S"] == 4


def test_merged_cells_apply_to_every_row_except_a_merged_quantity(tmp_path):
    rows = [STANDARD, ["A1", "Phone", 10, 5, "Used"], [None, None, 11, None, None]]
    path = write_xlsx(tmp_path / "m.xlsx", {"S": rows}, merges={"S": ["A2:A3", "B2:B3", "D2:D3", "E2:E3"]})
    candidates, _, _ = run(path)
    assert [(c.sku, c.description, c.price, c.quantity, c.condition) for c in candidates] == [
        ("A1", "Phone", "10", "5", "Used"),
        ("A1", "Phone", "11", "", "Used"),  # a shared stock figure is not counted twice
    ]


def test_footer_section_and_repeated_header_rows_are_not_offers(tmp_path):
    rows = [
        STANDARD,
        ["Apple"],  # a section title: a single filled cell
        ["A1", "Note 20 Ultra 256GB", 500, 1, "New"],  # "Note ..." is a product, not a note
        ["Subtotal", None, 500],
        STANDARD,  # header printed again
        ["A2", "Galaxy S24", 600, 2, "New"],
        ["Notes:", "prices ex works", "subject to change"],
        ["Grand total", None, 1100],
    ]
    candidates, errors, stats = run(write_xlsx(tmp_path / "f.xlsx", {"S": rows}))
    assert errors == []
    assert [c.ref for c in candidates] == ["S!3", "S!6"]
    assert stats["footer_rows"] == 4
    assert stats["repeated_header_rows"] == 1


def test_every_sheet_with_a_header_is_read_and_a_headerless_table_is_an_error(tmp_path):
    path = write_xlsx(
        tmp_path / "multi.xlsx",
        {
            "Notes": [["Prices are ex works"], ["Payment in advance"]],
            "Phones": [STANDARD, ["P1", "Phone", 100, 1, "New"]],
            "Tablets": [["T1", "Tablet", 200, 1, "New"], ["T2", "Tablet 2", 300, 2, "New"]],
            "Laptops": [["Model", "Description", "Price"], ["L1", "Laptop", 900]],
        },
    )
    candidates, errors, stats = run(path)
    assert [c.ref for c in candidates] == ["Phones!2", "Laptops!2"]
    assert len(errors) == 1
    assert errors[0].ref == "Tablets"
    assert "no header row found" in errors[0].message and EXPECTED_HEADERS in errors[0].message
    assert stats["sheets"] == 4 and stats["sheets_skipped"] == 1 and stats["sheets_without_header"] == 1


def test_no_header_anywhere_gives_one_error_per_sheet(tmp_path):
    path = write_xlsx(tmp_path / "none.xlsx", {"Cover": [["Hello"]], "Data": [["a", "b", "c"], ["d", "e", "f"]]})
    candidates, errors, _ = run(path)
    assert candidates == []
    assert [e.ref for e in errors] == ["Cover", "Data"]
    assert all("no header row found" in e.message for e in errors)


def test_hidden_and_empty_sheets_are_skipped(tmp_path):
    path = write_xlsx(
        tmp_path / "h.xlsx",
        {"Old": [STANDARD, ["OLD", "Old", 1, 1, "New"]], "Empty": [], "Now": [STANDARD, ["NEW", "New", 2, 1, "New"]]},
        hidden=("Old",),
    )
    candidates, errors, stats = run(path)
    assert [c.sku for c in candidates] == ["NEW"] and errors == []
    assert stats["hidden_sheets"] == 1 and stats["sheets_skipped"] == 1


# --------------------------------------------------------------------------- cell values

@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1299.0, "1299"), (1045.5, "1045.5"), (0.1 + 0.2, "0.30000000000000004"), (45, "45"),
        ("  x  ", "x"), ("", ""), (date(2025, 7, 1), "2025-07-01"), (datetime(2025, 7, 1), "2025-07-01"),
        (datetime(2025, 7, 1, 9, 30), "2025-07-01T09:30:00"), (True, "True"), (1e20, "1e+20"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_numeric_price_that_looks_like_thousands_is_marked_decimal_point(tmp_path):
    rows = [STANDARD, ["A", "Cable", 2.345, 1, "New"], ["B", "Case", 12.5, 1, "New"]]
    candidates, _, _ = run(write_xlsx(tmp_path / "p.xlsx", {"S": rows}))
    assert candidates[0].price == "2.345"
    assert candidates[0].extra == {"decimal_comma": False}
    assert parse_price(candidates[0].price, decimal_comma=candidates[0].extra.get("decimal_comma")).amount == Decimal("2.35")
    assert candidates[1].extra == {}


def test_currency_column_wins_over_the_price_header(tmp_path):
    rows = [["SKU", "Price (USD)", "Currency"], ["A", 10, "EUR"], ["B", 11, None]]
    candidates, _, _ = run(write_xlsx(tmp_path / "c.xlsx", {"S": rows}))
    assert [c.currency for c in candidates] == ["EUR", "USD"]


def test_condition_and_grade_columns_are_combined(tmp_path):
    rows = [["SKU", "Price", "Condition", "Grade"], ["A", 10, "Refurbished", "B"], ["B", 11, "New", None]]
    candidates, _, _ = run(write_xlsx(tmp_path / "g.xlsx", {"S": rows}))
    assert [c.condition for c in candidates] == ["Refurbished grade B", "New"]
    assert parse_condition(candidates[0].condition).grade == "B"


def test_misnamed_files_are_read_by_content(tmp_path):
    xlsx = write_xlsx(tmp_path / "x.xlsx", {"S": [STANDARD, ["A", "Phone", 10, 1, "New"]]})
    renamed = tmp_path / "actually-xlsx.xls"
    renamed.write_bytes(xlsx.read_bytes())
    csv_as_xlsx = tmp_path / "export.xlsx"
    csv_as_xlsx.write_text("SKU,Price\nB,20\n", encoding="utf-8")
    assert [c.sku for c in run(renamed)[0]] == ["A"]
    assert [c.sku for c in run(csv_as_xlsx)[0]] == ["B"]


def test_unreadable_workbook_is_an_error(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    candidates, errors, _ = run(path)
    assert candidates == []
    assert errors[0].ref == "broken.xlsx" and "cannot read the workbook" in errors[0].message


def test_progress_is_reported(tmp_path):
    rows = [STANDARD] + [[f"S{i}", "Item", 10, 1, "New"] for i in range(12_000)]
    path = write_xlsx(tmp_path / "big.xlsx", {"S": rows})
    calls = []
    context = IngestContext(progress=lambda done, total: calls.append((done, total)))
    assert sum(1 for _ in processor.process(path, context)) == 12_000
    assert calls[:2] == [(5000, 12_001), (10_000, 12_001)]
    assert calls[-1] == (12_000, 12_001)


# --------------------------------------------------------------------------- .xls and .ods

def test_xls(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Stock")
    sheet.write(0, 0, "Price list")
    for column, value in enumerate(["Part No", "Description", "Unit Price", "Qty", "Grade"]):
        sheet.write(2, column, value)
    for column, value in enumerate(["A1", "Phone", 1045.5, 7]):
        sheet.write(3, column, value)
    sheet.write_merge(3, 4, 4, 4, "Refurb B")
    for column, value in enumerate(["A2", "Phone 2", 999, 2]):
        sheet.write(4, column, value)
    path = tmp_path / "list.xls"
    workbook.save(str(path))
    assert processor.detect(path, path.read_bytes()[:8]) == 95
    candidates, errors, _ = run(path)
    assert errors == []
    assert [fields(c) for c in candidates] == [
        ("Stock!4", "A1", "Phone", "1045.5", "7", "Refurb B"),
        ("Stock!5", "A2", "Phone 2", "999", "2", "Refurb B"),
    ]


def test_ods(tmp_path):
    path = write_ods(tmp_path / "liste.ods", {
        "Preise": [["Preisliste"], [], ["Artikelnr.", "Bezeichnung", "Preis", "Menge", "Zustand"],
                   ["A1", "Gerät", 12.5, 3, "Neu"], ["A2", "Gerät 2", "1.049,00 €", None, "Gebraucht"]],
    })
    candidates, errors, _ = run(path)
    assert errors == []
    assert [fields(c) for c in candidates] == [
        ("Preise!4", "A1", "Gerät", "12.5", "3", "Neu"),
        ("Preise!5", "A2", "Gerät 2", "1.049,00 €", "", "Gebraucht"),
    ]


# --------------------------------------------------------------------------- CSV

CSV_EU = "Artikelnr.;Bezeichnung;Preis;Menge;Zustand\r\nA1;Grünes Gerät;1.299,00 €;5+;Neu\r\nA2;Größe M;12,50 €;3;Gebraucht\r\n"


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8"),  # BOM
        ("cp1252", b"", "cp1252"),
        ("utf-16", b"", "utf-16"),
    ],
)
def test_csv_encodings(tmp_path, encoding, prefix, expected):
    path = tmp_path / "eu.csv"
    path.write_bytes(prefix + CSV_EU.encode(encoding))
    candidates, errors, stats = run(path)
    assert errors == []
    assert [fields(c) for c in candidates] == [
        ("line 2", "A1", "Grünes Gerät", "1.299,00 €", "5+", "Neu"),
        ("line 3", "A2", "Größe M", "12,50 €", "3", "Gebraucht"),
    ]
    assert stats[f"encoding:{expected}"] == 1 and stats["delimiter:;"] == 1
    assert parse_price(candidates[0].price).amount == Decimal("1299.00")


def test_cp1252_euro_sign_is_not_decoded_as_latin1():
    text, encoding = decode_csv("Preis\n12,50 €\n".encode("cp1252"))
    assert encoding == "cp1252" and "€" in text and "\x80" not in text


def test_csv_encoding_option_overrides_detection(tmp_path):
    path = tmp_path / "pl.csv"
    path.write_bytes("SKU;Description;Price\nA1;Łódź;12,50 zł\n".encode("cp1250"))
    candidates, errors, stats = run(path, encoding="cp1250")
    assert errors == [] and candidates[0].description == "Łódź" and stats["encoding:cp1250"] == 1


@pytest.mark.parametrize(("delimiter", "name"), [(",", ","), (";", ";"), ("\t", "tab"), ("|", "|")])
def test_csv_delimiters(tmp_path, delimiter, name):
    lines = ["Price list", "", delimiter.join(STANDARD), delimiter.join(["A1", "Phone, black", "10.5", "2", "New"])]
    if delimiter == ",":
        lines[-1] = 'A1,"Phone, black",10.5,2,New'
    path = tmp_path / "list.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    candidates, errors, stats = run(path)
    assert errors == []
    assert fields(candidates[0]) == ("line 4", "A1", "Phone, black", "10.5", "2", "New")
    assert stats[f"delimiter:{name}"] == 1 and stats["header_row:list.csv"] == 3


def test_csv_row_with_extra_fields_is_an_error_and_the_rest_lands(tmp_path):
    path = tmp_path / "us.csv"
    path.write_text(
        "SKU,Description,Price,Qty\nA1,Phone,$1,234.50,3\nA2,Tablet,\"$1,299.00\",2\nA3,Watch,199,1,,\n",
        encoding="utf-8",
    )
    candidates, errors, _ = run(path)
    assert [(c.ref, c.price) for c in candidates] == [("line 3", "$1,299.00"), ("line 4", "199")]
    assert len(errors) == 1
    assert errors[0].ref == "line 2"
    assert "5 fields but the header has 4" in errors[0].message
    assert "$1" in errors[0].value


def test_csv_multiline_quoted_field_keeps_line_numbers(tmp_path):
    path = tmp_path / "ml.csv"
    path.write_text('SKU,Description,Price\nA1,"Phone\nsecond line",10\nA2,Tablet,20\n\nA3,Watch,30\n', encoding="utf-8")
    candidates, errors, stats = run(path)
    assert errors == []
    assert [(c.ref, c.sku) for c in candidates] == [("line 2", "A1"), ("line 4", "A2"), ("line 6", "A3")]
    assert stats["blank_rows"] == 1


def test_csv_without_header_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("A1,Phone,10\nA2,Tablet,20\n", encoding="utf-8")
    candidates, errors, _ = run(path)
    assert candidates == [] and errors[0].ref == "raw.csv"


def test_csv_runaway_quote_stops_with_an_error_naming_the_line(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('SKU,Price\nA1,10\nA2,"20\n' + "x" * 200_000 + "\n", encoding="utf-8")
    candidates, errors, _ = run(path)
    assert [c.sku for c in candidates] == ["A1"]
    assert errors[0].ref == "line 3" and "CSV reading stopped" in errors[0].message


def test_csv_short_rows_are_padded(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("SKU,Price,Qty,Condition\nA1,10\n", encoding="utf-8")
    candidates, errors, _ = run(path)
    assert errors == [] and fields(candidates[0]) == ("line 2", "A1", "", "10", "", "")


# --------------------------------------------------------------------------- committed samples

def load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES_DIR / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "offers", "bad_prices"),
    [("vendor-template.xlsx", 7, 0), ("messy-vendor.xlsx", 4, 1), ("european-prices.csv", 5, 0)],
)
def test_samples_ingest(tmp_path, name, offers, bad_prices):
    path = tmp_path / name
    path.write_bytes(load_make_samples().SAMPLES[name]())
    candidates, errors, _ = run(path)
    assert errors == [] and len(candidates) == offers
    failures = 0
    for candidate in candidates:
        try:
            parse_price(candidate.price, decimal_comma=candidate.extra.get("decimal_comma"))
        except ValueError:
            failures += 1
        parse_quantity(candidate.quantity)
        assert parse_condition(candidate.condition).code != "unknown" or not candidate.condition
    assert failures == bad_prices
