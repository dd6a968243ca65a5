"""Spreadsheet layout the values alone do not show: number formats that carry the currency,
hidden and autofiltered rows, hidden sheets, merged cells and attribute columns; and header
synonyms in more languages. Every workbook is written by the test."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from ingestion.processors import spreadsheet
from ingestion.processors.spreadsheet import currency_from_number_format, match_header, processor
from ingestion.types import IngestContext, OfferCandidate, RowError
from ingestion.tests.conftest import write_ods_package

HEADER = ["Part No", "Description", "Unit Price", "Qty"]


def run(path: Path):
    context = IngestContext(filename=path.name)
    items = list(processor.process(path, context))
    candidates = [item for item in items if isinstance(item, OfferCandidate)]
    errors = [item for item in items if isinstance(item, RowError) and not item.skipped]
    skipped = [item for item in items if isinstance(item, RowError) and item.skipped]
    return candidates, errors, skipped, context.stats


def workbook(rows: list[list], *, title: str = "Prices"):
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    return book, sheet


# --------------------------------------------------------------------------- number formats


@pytest.mark.parametrize(
    ("format_code", "currency"),
    [
        ("#,##0.00 [$€-407]", "EUR"),
        ("[$€-407] #,##0.00", "EUR"),
        ('"£"#,##0.00', "GBP"),
        ("[$R$-416] #,##0.00", "BRL"),
        ('"R$" #,##0.00', "BRL"),
        ("[$USD] #,##0", "USD"),
        ('#,##0.00 "zł"', "PLN"),
        ("$#,##0.00", "USD"),
        ('"US$"#,##0.00', "USD"),
        ("#,##0.00\\ \\€", "EUR"),  # escaped characters
        ('_("$"* #,##0.00_);_("$"* (#,##0.00);_("$"* "-"??_);_(@_)', "USD"),  # accounting, fill and spacing
        ("[Red]#,##0.00 [$EUR]", "EUR"),  # a colour before the tag
        ("[$$-1009]#,##0.00", "CAD"),  # "$" settled by the locale id (en-CA)
        ("[$$-C09]#,##0.00", "AUD"),
        ("[$¥-804]#,##0", "CNY"),
        ("[$¥-411]#,##0", "JPY"),
        ("[$kr-41D] #,##0", "SEK"),
        ("#,##0.00 [$₹-4009]", "INR"),
        ("#,##0.00;[Red]-#,##0.00 [$CHF]", "CHF"),  # only a later section names it
    ],
)
def test_currency_from_number_format(format_code, currency):
    assert currency_from_number_format(format_code) == currency


@pytest.mark.parametrize(
    "format_code",
    ["General", "@", "0.00", "#,##0.00", "0%", "yyyy-mm-dd", "dd/mm/yy h:mm AM/PM", "[$-409]#,##0.00", '0 "pcs"', ""],
)
def test_number_formats_without_a_currency(format_code):
    assert currency_from_number_format(format_code) is None


def test_price_currency_comes_from_each_cell_format(tmp_path):
    book, sheet = workbook([
        HEADER,
        ["SM-S921B", "Galaxy S24 128GB", 649, 20],
        ["MTP03ZD/A", "iPhone 15 128GB", 689, 15],
        ["MTP03B/A", "iPhone 15 128GB UK", 599, 10],
        ["X1", "Pixel 8", 499, 3],  # no format: no currency from the sheet
        ["X2", "Pixel 8 Pro", "$1,045.00", 2],  # text with its own symbol: the text wins
    ])
    sheet["C2"].number_format = "#,##0.00 [$€-407]"
    sheet["C3"].number_format = '"R$" #,##0.00'
    sheet["C4"].number_format = '"£"#,##0.00'
    sheet["C6"].number_format = '"£"#,##0.00'
    path = tmp_path / "formats.xlsx"
    book.save(path)
    candidates, errors, skipped, _ = run(path)
    assert (errors, skipped) == ([], [])
    assert [(c.sku, c.price, c.currency, c.extra.get("currency_source")) for c in candidates] == [
        ("SM-S921B", "649", "EUR", "number_format"),
        ("MTP03ZD/A", "689", "BRL", "number_format"),
        ("MTP03B/A", "599", "GBP", "number_format"),
        ("X1", "499", "", None),
        ("X2", "$1,045.00", "GBP", "number_format"),  # parse_price's own "$" takes precedence later
    ]


def test_currency_column_and_header_beside_cell_formats(tmp_path):
    book, sheet = workbook([
        ["SKU", "Price (USD)", "Currency"],
        ["A1", 10, ""],  # format names EUR: the format is more precise than the header
        ["A2", 11, "GBP"],  # a currency column beats the format
        ["A3", 12, ""],  # no format: the header's USD
    ])
    sheet["B2"].number_format = "[$€-407] #,##0.00"
    sheet["B3"].number_format = "[$€-407] #,##0.00"
    path = tmp_path / "mixed.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.currency) for c in candidates] == [("A1", "EUR"), ("A2", "GBP"), ("A3", "USD")]


def test_formats_in_another_column_do_not_count(tmp_path):
    book, sheet = workbook([["SKU", "Price", "Deposit"], ["A1", 10, 5]])
    sheet["C2"].number_format = '"£"#,##0.00'  # not the price column
    path = tmp_path / "other-column.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.price, c.currency) for c in candidates] == [("A1", "10", "")]


def test_price_column_far_right_and_sheet_starting_at_column_c(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "Wide"
    header = ["SKU", "Description"] + [f"Note {i}" for i in range(25)] + ["Price"]  # price in column AD
    for column, value in enumerate(header, start=3):
        sheet.cell(row=2, column=column, value=value)
    for column, value in enumerate(["A1", "Phone"] + [""] * 25 + [100], start=3):
        sheet.cell(row=3, column=column, value=value or None)
    sheet.cell(row=3, column=3 + len(header) - 1).number_format = '"zł" #,##0.00'
    path = tmp_path / "wide.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.price, c.currency) for c in candidates] == [("A1", "100", "PLN")]


def test_no_currency_formats_means_no_price_scan(tmp_path, monkeypatch):
    book, _ = workbook([HEADER, ["A1", "Phone", 10, 1]])
    path = tmp_path / "plain.xlsx"
    book.save(path)
    parts = spreadsheet.XlsxParts(path)
    assert parts.currency_styles() == {}
    layout = parts.layout("Prices", 2)
    parts.close()
    assert layout.price_currency is None and layout.hidden is None


# --------------------------------------------------------------------------- hidden rows, filters, sheets


def hidden_rows_book(tmp_path: Path, *, autofilter: bool) -> Path:
    book, sheet = workbook([
        ["Model", "Description", "Price (USD)", "Qty", "Condition"],
        ["MTP03LL/A", "iPhone 15 128GB Black", 689, 40, "New"],
        ["MTUV3LL/A", "iPhone 15 Pro 256GB Natural", 899, 0, "New"],
        ["SM-S928B", "Galaxy S24 Ultra 512GB Gray", 1010, 12, "New"],
        ["MU7A3LL/A", "iPhone 15 Pro Max 256GB Blue", 1045, 0, "New"],
    ])
    sheet.row_dimensions[3].hidden = True
    sheet.row_dimensions[5].hidden = True
    if autofilter:
        sheet.auto_filter.ref = "A1:E5"
    path = tmp_path / ("filtered.xlsx" if autofilter else "hidden.xlsx")
    book.save(path)
    return path


def test_hidden_rows_are_skipped_with_their_reason(tmp_path):
    candidates, errors, skipped, _ = run(hidden_rows_book(tmp_path, autofilter=False))
    assert [c.sku for c in candidates] == ["MTP03LL/A", "SM-S928B"]
    assert errors == []
    assert [(s.ref, s.skipped) for s in skipped] == [("Prices!3", "hidden"), ("Prices!5", "hidden")]
    assert "hidden row" in skipped[0].message and "MTUV3LL/A" in skipped[0].value


def test_rows_an_autofilter_hides_are_skipped_as_filtered(tmp_path):
    candidates, _, skipped, _ = run(hidden_rows_book(tmp_path, autofilter=True))
    assert [c.sku for c in candidates] == ["MTP03LL/A", "SM-S928B"]
    assert [(s.ref, s.skipped) for s in skipped] == [("Prices!3", "filtered"), ("Prices!5", "filtered")]
    assert "autofilter" in skipped[0].message


def test_hidden_rows_survive_any_chunk_boundary(tmp_path, monkeypatch):
    path = hidden_rows_book(tmp_path, autofilter=True)
    for size in (7, 64, 333):
        monkeypatch.setattr(spreadsheet, "_SCAN_CHUNK", size)
        candidates, _, skipped, _ = run(path)
        assert [c.sku for c in candidates] == ["MTP03LL/A", "SM-S928B"], size
        assert [s.skipped for s in skipped] == ["filtered", "filtered"], size


def test_price_formats_survive_any_chunk_boundary(tmp_path, monkeypatch):
    book, sheet = workbook([HEADER] + [[f"A{i}", "Phone", 10 + i, 1] for i in range(40)])
    for i in range(2, 42, 2):
        sheet[f"C{i}"].number_format = '"£"#,##0.00'
    path = tmp_path / "many.xlsx"
    book.save(path)
    expected = [("GBP" if i % 2 == 0 else "") for i in range(40)]
    for size in (5, 50, 1 << 20):
        monkeypatch.setattr(spreadsheet, "_SCAN_CHUNK", size)
        candidates, _, _, _ = run(path)
        assert [c.currency for c in candidates] == expected, size


def test_hidden_and_very_hidden_sheets_are_not_read(tmp_path):
    book, _ = workbook([HEADER, ["A1", "Phone", 10, 1]], title="Visible")
    for name, state in (("Old", "hidden"), ("Internal", "veryHidden")):
        other = book.create_sheet(name)
        other.append(HEADER)
        other.append(["B1", "Old phone", 5, 1])
        other.sheet_state = state
    path = tmp_path / "sheets.xlsx"
    book.save(path)
    candidates, _, _, stats = run(path)
    assert [c.sku for c in candidates] == ["A1"]
    assert stats["hidden_sheets"] == 2


def test_a_hidden_row_number_beyond_excels_limit_is_ignored(tmp_path):
    """A hostile sheet cannot make the reader keep more than one byte per Excel row."""
    book, _ = workbook([HEADER, ["A1", "Phone", 10, 1]])
    path = tmp_path / "plain.xlsx"
    book.save(path)
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="99999999999" hidden="1"/></sheetData>')
            target.writestr(item, data)
    parts = spreadsheet.XlsxParts(hostile)
    layout = parts.layout("Prices", 2)
    parts.close()
    assert layout.hidden is None
    candidates, _, _, _ = run(hostile)
    assert [c.sku for c in candidates] == ["A1"]


def test_styles_are_read_up_to_a_bound(tmp_path, monkeypatch):
    book, sheet = workbook([HEADER, ["A1", "Phone", 10, 1], ["A2", "Phone 2", 11, 1]])
    sheet["C2"].number_format = '"£"#,##0.00'
    sheet["C3"].number_format = "[$€-407] #,##0.00"
    path = tmp_path / "styles.xlsx"
    book.save(path)
    monkeypatch.setattr(spreadsheet, "MAX_CELL_FORMATS", 2)  # the default format and the first one only
    candidates, _, _, stats = run(path)
    assert [c.currency for c in candidates] == ["GBP", ""]
    assert stats["styles_truncated"] == 1


# --------------------------------------------------------------------------- merges and attributes


def test_a_model_merged_over_its_colours_gives_one_product_per_colour(tmp_path):
    book, sheet = workbook([
        ["Model", "Colour", "Price", "Qty"],
        ["iPhone 15 Pro 256GB", "Natural Titanium", 899, 10],
        [None, "Blue Titanium", 905, 4],
        [None, "Black Titanium", 899, 7],
        ["Galaxy S24 Ultra 512GB", "Titanium Gray", 1010, 12],
        [None, "Titanium Violet", 1015, 3],
    ])
    sheet.merge_cells("A2:A4")
    sheet.merge_cells("A5:A6")
    path = tmp_path / "merged.xlsx"
    book.save(path)
    candidates, errors, _, _ = run(path)
    assert errors == []
    assert [(c.sku, c.description, c.price, c.quantity) for c in candidates] == [
        ("", "iPhone 15 Pro 256GB Natural Titanium", "899", "10"),
        ("", "iPhone 15 Pro 256GB Blue Titanium", "905", "4"),
        ("", "iPhone 15 Pro 256GB Black Titanium", "899", "7"),
        ("", "Galaxy S24 Ultra 512GB Titanium Gray", "1010", "12"),
        ("", "Galaxy S24 Ultra 512GB Titanium Violet", "1015", "3"),
    ]
    assert candidates[1].extra["attributes"] == {"colour": "Blue Titanium"}
    assert candidates[1].extra["model"] == "iPhone 15 Pro 256GB"


def test_attribute_columns_join_the_product_text_and_stay_as_attributes(tmp_path):
    book, _ = workbook([
        ["Artikelnummer", "Bezeichnung", "Farbe", "Speicher", "RAM", "Netz", "Region", "Preis", "Zustand"],
        ["MTP03ZD/A", "iPhone 15", "Schwarz", 128, None, "Unlocked", "EU", 799, "Neu"],
        ["MTP13ZD/A", "iPhone 15", "Schwarz", 256, None, "Unlocked", "EU", 899, "Neu"],
        ["SM-S921B", "Galaxy S24 8GB", "Onyx Black", "256GB", 8, "", "", 749, "Neu"],
    ])
    path = tmp_path / "attributes.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.description) for c in candidates] == [
        ("MTP03ZD/A", "iPhone 15 Schwarz 128GB Unlocked EU"),  # a SKU code stays the SKU
        ("MTP13ZD/A", "iPhone 15 Schwarz 256GB Unlocked EU"),
        ("SM-S921B", "Galaxy S24 8GB Onyx Black 256GB"),  # "8GB" already in the text
    ]
    assert candidates[0].extra["attributes"] == {
        "colour": "Schwarz", "storage": "128", "carrier": "Unlocked", "region": "EU",
    }
    assert candidates[2].extra["attributes"] == {"colour": "Onyx Black", "storage": "256GB", "ram": "8"}


def test_a_model_name_with_storage_columns_never_makes_one_product(tmp_path):
    book, _ = workbook([
        ["Модель", "Память", "Цвет", "Цена", "Кол-во"],
        ["iPhone 16 Pro", 256, "Desert", 98700, 3],
        ["iPhone 16 Pro", 512, "Desert", 118700, 2],
    ])
    path = tmp_path / "ru.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.description) for c in candidates] == [
        ("", "iPhone 16 Pro 256GB Desert"),
        ("", "iPhone 16 Pro 512GB Desert"),
    ]


def test_grade_column_is_an_attribute_but_not_product_text(tmp_path):
    book, _ = workbook([
        ["SKU", "Description", "Colour", "Price", "Condition", "Grade"],
        ["A1", "iPhone 13", "Blue", 300, "Refurbished", "B"],
    ])
    path = tmp_path / "grade.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.description, c.condition) for c in candidates] == [("iPhone 13 Blue", "Refurbished grade B")]
    assert candidates[0].extra["attributes"] == {"colour": "Blue", "grade": "B"}


def test_a_merged_code_without_attributes_stays_the_sku(tmp_path):
    book, sheet = workbook([
        ["SKU", "Description", "Price", "Condition"],
        ["A1", "iPhone 13 128GB", 300, "Grade A"],
        [None, None, 250, "Grade B"],
    ])
    sheet.merge_cells("A2:A3")
    sheet.merge_cells("B2:B3")
    path = tmp_path / "grades.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.description, c.price, c.condition) for c in candidates] == [
        ("A1", "iPhone 13 128GB", "300", "Grade A"),
        ("A1", "iPhone 13 128GB", "250", "Grade B"),
    ]


# --------------------------------------------------------------------------- header synonyms


@pytest.mark.parametrize(
    ("headers", "language"),
    [
        (["Código", "Descrição", "Qtd", "Valor", "Condição", "Cor"], "pt"),
        (["Codice", "Descrizione", "Quantità", "Prezzo", "Condizione", "Colore"], "it"),
        (["Artikel", "Omschrijving", "Aantal", "Prijs", "Staat", "Kleur"], "nl"),
        (["Ürün Kodu", "Ürün", "Adet", "Fiyat", "Durum", "Renk"], "tr"),
        (["Kod", "Nazwa", "Ilość", "Cena", "Stan techniczny", "Kolor"], "pl"),
        (["Артикул", "Наименование", "Кол-во", "Цена", "Состояние", "Цвет"], "ru"),
        (["الموديل", "الوصف", "الكمية", "السعر", "الحالة", "اللون"], "ar"),
        (["Kode", "Nama Barang", "Jumlah", "Harga", "Kondisi", "Warna"], "id"),
        (["型号", "品名", "数量", "单价（元）", "成色", "颜色"], "zh"),
        (["Artikelnummer", "Bezeichnung", "Menge", "Preis", "Zustand", "Farbe"], "de"),
        (["Código", "Descripción", "Cantidad", "Precio", "Estado", "Color"], "es"),
        (["Référence", "Désignation", "Quantité", "Prix", "État", "Couleur"], "fr"),
    ],
)
def test_header_synonyms_in_each_language(tmp_path, headers, language):
    assert [match_header(h) for h in headers] == ["sku", "description", "quantity", "price", "condition", "colour"]
    book, _ = workbook([headers, ["X-1", "Phone", 7, 123.5, "Nuevo", "Blue"]])
    path = tmp_path / f"{language}.xlsx"
    book.save(path)
    candidates, errors, _, _ = run(path)
    assert errors == []
    assert [(c.sku, c.description, c.price, c.quantity, c.condition) for c in candidates] == [
        ("X-1", "Phone Blue", "123.5", "7", "Nuevo")
    ]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Preço", "price"), ("Qtde", "quantity"), ("Estoque", "quantity"), ("Q.tà", "quantity"),
        ("Voorraad", "quantity"), ("Stok", "quantity"), ("Stok Kodu", "sku"), ("AÇIKLAMA", "description"),
        ("Birim Fiyat", "price"), ("Cena netto", "price"), ("Остаток", "quantity"), ("Цена, руб", "price"),
        ("سعر الوحدة", "price"), ("Harga Satuan", "price"), ("Stok Barang", "quantity"), ("价格", "price"),
        ("库存", "quantity"), ("Capacidade", "storage"), ("Depolama", "storage"), ("Pamięć", "storage"),
        ("存储", "storage"), ("Storage (GB)", "storage"), ("GB", "storage"), ("RAM", "ram"),
        ("Carrier", "carrier"), ("Lock", "carrier"), ("Netz", "carrier"), ("Version", "region"),
        ("Spec", "region"), ("Regione", "region"), ("Dealer Price (INR)", "price"), ("Fiyat TL", "price"),
        ("Moeda", "currency"), ("Валюта", "currency"),
    ],
)
def test_more_header_synonyms(header, field):
    assert match_header(header) == field


def test_xls_reads_the_same_synonyms_and_merges(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Tabela")
    for column, value in enumerate(["Modelo", "Cor", "Preço", "Qtd"]):
        sheet.write(0, column, value)
    sheet.write_merge(1, 2, 0, 0, "Galaxy A55 256GB")
    for row, (colour, price, qty) in enumerate([("Azul", 1899.9, 30), ("Preto", 1849.9, 12)], start=1):
        sheet.write(row, 1, colour)
        sheet.write(row, 2, price)
        sheet.write(row, 3, qty)
    path = tmp_path / "lista.xls"
    book.save(str(path))
    candidates, errors, _, _ = run(path)
    assert errors == []
    assert [(c.description, c.price, c.quantity) for c in candidates] == [
        ("Galaxy A55 256GB Azul", "1899.9", "30"),
        ("Galaxy A55 256GB Preto", "1849.9", "12"),
    ]


def test_xls_hidden_rows_and_currency_formats(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    pytest.importorskip("xlrd")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Lista")
    # two blank rows and a blank first column before the table: coordinates must still line up
    for column, value in enumerate(["SKU", "Descripción", "Precio", "Cantidad"], start=1):
        sheet.write(2, column, value)
    rows = [
        ("A1", "Galaxy S24", 649, 20, '#,##0.00 [$€-407]'),
        ("A2", "iPhone 15", 689, 0, '"£"#,##0.00'),  # hidden: sold out, the vendor hid it
        ("A3", "iPhone 15 UK", 599, 10, '"£"#,##0.00'),
        ("A4", "Pixel 8", 499, 3, None),
    ]
    for row, (sku, description, price, qty, number_format) in enumerate(rows, start=3):
        sheet.write(row, 1, sku)
        sheet.write(row, 2, description)
        sheet.write(row, 3, price, xlwt.easyxf(num_format_str=number_format) if number_format else xlwt.Style.default_style)
        sheet.write(row, 4, qty)
    sheet.row(4).hidden = True
    path = tmp_path / "lista.xls"
    book.save(str(path))
    candidates, errors, skipped, _ = run(path)
    assert errors == []
    assert [(c.ref, c.sku, c.price, c.currency) for c in candidates] == [
        ("Lista!4", "A1", "649", "EUR"),
        ("Lista!6", "A3", "599", "GBP"),
        ("Lista!7", "A4", "499", ""),
    ]
    assert [(s.ref, s.skipped) for s in skipped] == [("Lista!5", "hidden")]


def write_ods_rows(path: Path, sheet: str, rows: list[str]) -> Path:
    """An .ods whose rows are given as raw ``<table:table-row>`` XML (attributes under test's control)."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Other"><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>'
        f'</table:table><table:table table:name="{sheet}">{"".join(rows)}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    return write_ods_package(path, content)


def ods_text(value: str) -> str:
    return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'


def ods_price(value: float, currency: str | None) -> str:
    if currency:
        return (f'<table:table-cell office:value-type="currency" office:currency="{currency}" '
                f'office:value="{value}"><text:p>{value} {currency}</text:p></table:table-cell>')
    return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'


def ods_row(*cells: str, attributes: str = "") -> str:
    return f"<table:table-row{attributes}>{''.join(cells)}</table:table-row>"


@pytest.mark.parametrize("chunk", [9, 100, 1 << 20])
def test_ods_hidden_filtered_rows_and_currency_cells(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(spreadsheet, "_SCAN_CHUNK", chunk)
    empty = '<table:table-cell table:number-columns-repeated="2"/>'  # two blank columns before the table
    rows = [
        '<table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>',  # blank rows
        ods_row(empty, ods_text("SKU"), ods_text("Bezeichnung"), ods_text("Preis"), ods_text("Menge")),
        ods_row(empty, ods_text("A1"), ods_text("Galaxy S24"), ods_price(649, "EUR"), ods_price(20, None)),
        ods_row(empty, ods_text("A2"), ods_text("iPhone 15"), ods_price(689, "EUR"), ods_price(0, None),
                attributes=' table:visibility="collapsed"'),
        ods_row(empty, ods_text("A3"), ods_text("iPhone 15 UK"), ods_price(599, "GBP"), ods_price(10, None)),
        ods_row(empty, ods_text("A4"), ods_text("Pixel 8"), ods_price(499, "CHF"), ods_price(3, None),
                attributes=' table:visibility="filter"'),
        ods_row(empty, ods_text("A5"), ods_text("Pixel 8 Pro"), ods_price(799, None), ods_price(1, None)),
    ]
    path = write_ods_rows(tmp_path / "liste.ods", "Preise &amp; Mengen", rows)
    candidates, errors, skipped, _ = run(path)
    assert errors == []
    assert [(c.ref, c.sku, c.price, c.currency) for c in candidates] == [
        ("Preise & Mengen!4", "A1", "649", "EUR"),
        ("Preise & Mengen!6", "A3", "599", "GBP"),
        ("Preise & Mengen!8", "A5", "799", ""),
    ]
    assert [(s.ref, s.skipped) for s in skipped] == [("Preise & Mengen!5", "hidden"), ("Preise & Mengen!7", "filtered")]


def test_ods_without_hidden_rows_or_currency_cells_is_not_scanned(tmp_path):
    rows = [ods_row(ods_text("SKU"), ods_text("Price")), ods_row(ods_text("A1"), ods_price(10, None))]
    path = write_ods_rows(tmp_path / "plain.ods", "Prices", rows)
    parts = spreadsheet.OdsParts(path)
    layout = parts.layout("Prices", 1)
    parts.close()
    assert layout.hidden is None and layout.price_currency is None
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.currency) for c in candidates] == [("A1", "")]


@pytest.mark.parametrize(
    ("title", "currency"),
    [
        (["All prices in EUR excl. VAT"], "EUR"),
        (["Currency:", "USD"], "USD"),
        (["Preise in € netto"], "EUR"),
        (["Tabela de preços (R$)"], "BRL"),
        (["Prices in USD or EUR on request"], ""),  # two: none taken
        (["ALL PRICES NET"], ""),  # "ALL" is a word here, not the lek
        (["Weekly stock list", "Valid from 2026-01-05"], ""),
    ],
)
def test_a_title_above_the_header_can_name_the_currency(tmp_path, title, currency):
    book, _ = workbook([title, [], ["SKU", "Description", "Price", "Qty"], ["A1", "Phone", 10, 1]])
    path = tmp_path / "title.xlsx"
    book.save(path)
    candidates, _, _, _ = run(path)
    assert [(c.sku, c.currency) for c in candidates] == [("A1", currency)]


def test_variants_under_a_model_written_once_or_under_a_section_title(tmp_path):
    book, _ = workbook([
        ["Model", "Storage", "Colour", "Price"],
        ["iPhone 16 Pro", "256GB", "Desert", 987],
        [None, "512GB", "Desert", 1187],  # model left blank: the one above
        ["Galaxy S25 Ultra"],  # a section title row
        [None, "256GB", "Titanium Black", 1099],
        [None, "512GB", "Titanium Black", 1219],
        ["MTP03ZD/A", "128GB", "Black", 699],  # a row with its own model ends the group
        [None, "256GB", "Black", 799],
    ])
    path = tmp_path / "groups.xlsx"
    book.save(path)
    candidates, errors, _, stats = run(path)
    assert errors == []
    assert [(c.sku, c.description) for c in candidates] == [
        ("", "iPhone 16 Pro 256GB Desert"),
        ("", "iPhone 16 Pro 512GB Desert"),
        ("", "Galaxy S25 Ultra 256GB Titanium Black"),
        ("", "Galaxy S25 Ultra 512GB Titanium Black"),
        ("MTP03ZD/A", "128GB Black"),
        ("", "MTP03ZD/A 256GB Black"),  # a code shared with other attributes is not that variant's SKU
    ]
    assert stats["footer_rows"] == 1


def test_a_row_of_zero_height_is_hidden(tmp_path):
    book, sheet = workbook([HEADER, ["A1", "Phone", 10, 1], ["A2", "Phone 2", 11, 0], ["A3", "Phone 3", 12, 1]])
    sheet.row_dimensions[4].height = 0.5  # small, but shown
    plain = tmp_path / "plain.xlsx"
    book.save(plain)
    path = tmp_path / "squeezed.xlsx"  # openpyxl does not write a zero height: set it in the XML
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<row r="3">', b'<row r="3" ht="0" customHeight="1">')
            target.writestr(item, data)
    candidates, _, skipped, _ = run(path)
    assert [c.sku for c in candidates] == ["A1", "A3"]
    assert [(s.ref, s.skipped) for s in skipped] == [("Prices!3", "hidden")]
