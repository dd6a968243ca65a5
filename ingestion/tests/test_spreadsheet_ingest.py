"""Spreadsheets through the whole ingest: rows that are not offers (hidden, filtered, sold out)
are recorded with their reason, a currency nothing named is a warning, and the field cases
shaped like real vendor files give their right offers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from documents.models import SourceDocument
from ingestion.services import ingest_path, is_sold_out, normalize_candidate
from ingestion.types import OfferCandidate, RowError
from offers.models import Offer, Vendor

CASES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "field-cases"
ANSWERS = json.loads((CASES / "answers.json").read_text(encoding="utf-8"))
SPREADSHEET_CASES = sorted(name for name, spec in ANSWERS.items() if spec["processor"] == "spreadsheet")
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
pytestmark = pytest.mark.django_db


def save(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Stock"
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


# --------------------------------------------------------------------------- sold out


@pytest.mark.parametrize(
    "text",
    ["Sold out", "SOLD OUT", "out of stock", "Agotado", "Esgotado", "sem estoque", "Ausverkauft", "épuisé",
     "Esaurito", "Uitverkocht", "Tükendi", "Brak", "Нет в наличии", "нет", "نفذ", "Habis", "缺货", "售罄"],
)
def test_sold_out_words(text):
    assert is_sold_out(text)


@pytest.mark.parametrize("text", ["New", "Soldier", "10", "in stock", "iPhone 15", ""])
def test_not_sold_out_words(text):
    assert not is_sold_out(text)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "0 pcs"}, "quantity"),
        ({"quantity": "Sold out"}, "quantity"),
        ({"quantity": "Agotado"}, "quantity"),
        ({"quantity": "нет в наличии"}, "quantity"),
        ({"price": "SOLD OUT", "quantity": ""}, "price"),
        ({"price": "Esgotado", "quantity": ""}, "price"),
        ({"condition": "Out of stock"}, "condition"),
    ],
)
def test_a_sold_out_row_is_skipped_with_its_reason(fields, field):
    candidate = OfferCandidate(**{"ref": "Stock!4", "sku": "A1", "description": "Phone", "price": "100",
                                  "quantity": "3", **fields})
    result = normalize_candidate(candidate, observed_at=NOW)
    assert isinstance(result, RowError)
    assert (result.ref, result.field, result.skipped) == ("Stock!4", field, "sold_out")
    assert "sold out" in result.message


def test_a_bad_price_that_is_not_sold_out_stays_an_error():
    result = normalize_candidate(OfferCandidate(ref="r", sku="A1", price="call", quantity="0"), observed_at=NOW)
    assert isinstance(result, RowError) and result.skipped == "" and result.field == "price"


def test_sold_out_and_hidden_rows_are_recorded_not_offers(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "Stock"
    for row in [
        ["SKU", "Description", "Price (EUR)", "Qty"],
        ["A1", "iPhone 15 128GB", 700, 5],
        ["A2", "iPhone 15 256GB", 800, 0],
        ["A3", "iPhone 15 512GB", 900, "sold out"],
        ["A4", "iPhone 15 Plus", "AGOTADO", None],
        ["A5", "iPhone 15 Pro", 1000, 2],
        ["A6", "iPhone 15 Pro Max", 1200, 1],
    ]:
        sheet.append(row)
    sheet.row_dimensions[6].hidden = True
    path = tmp_path / "stock.xlsx"
    book.save(path)
    document = ingest_path(path, vendor_name="Acme")
    assert document.status == SourceDocument.Status.SUCCEEDED
    offers = Offer.objects.filter(source_document=document).order_by("id")
    assert [(o.sku, o.currency, o.quantity) for o in offers] == [("A1", "EUR", 5), ("A6", "EUR", 1)]
    skipped = document.extra["skipped"]
    assert [(s["ref"], s["reason"], s["field"]) for s in skipped] == [
        ("Stock!3", "sold_out", "quantity"),
        ("Stock!4", "sold_out", "quantity"),
        ("Stock!5", "sold_out", "price"),
        ("Stock!6", "hidden", ""),
    ]
    stats = document.stats
    assert (stats["rows_sold_out"], stats["rows_hidden"], stats["rows_not_offers"]) == (3, 1, 4)
    assert stats["errors"] == 0 and document.errors == [] and document.extra["warnings"] == []


def test_a_list_where_every_row_is_sold_out_fails_saying_so(tmp_path):
    path = save(tmp_path / "empty-stock.xlsx", [["SKU", "Price (USD)", "Qty"], ["A1", 10, 0], ["A2", 11, 0]])
    document = ingest_path(path, vendor_name="Acme")
    assert document.status == SourceDocument.Status.FAILED
    assert document.extra["failure"].startswith("no offers: all 2 rows were skipped as not offers (first: Stock!2")


# --------------------------------------------------------------------------- currency never silent


def test_a_currency_nothing_named_is_a_warning_and_the_document_is_partial(tmp_path):
    path = save(tmp_path / "no-currency.xlsx", [["SKU", "Price", "Qty"], ["A1", 10, 1], ["A2", 11, 1]])
    document = ingest_path(path, vendor_name="Acme")
    assert document.status == SourceDocument.Status.PARTIAL
    assert document.errors == []
    assert document.stats["currency_defaulted"] == 2
    [warning] = document.extra["warnings"]
    assert warning.startswith("2 offers named no currency") and "USD" in warning
    assert {o.extra["currency_source"] for o in Offer.objects.filter(source_document=document)} == {"default"}


@pytest.mark.parametrize("how", ["run", "vendor", "header", "format"])
def test_a_currency_from_the_run_vendor_header_or_cell_format_succeeds(tmp_path, how):
    book = Workbook()
    sheet = book.active
    sheet.append(["SKU", "Price (GBP)" if how == "header" else "Price", "Qty"])
    sheet.append(["A1", 10, 1])
    if how == "format":
        sheet["B2"].number_format = "#,##0.00 [$€-407]"
    path = tmp_path / f"{how}.xlsx"
    book.save(path)
    if how == "vendor":
        Vendor.objects.create(name="Acme", default_currency="CHF")
    document = ingest_path(path, vendor_name="Acme", currency="SEK" if how == "run" else "")
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert document.extra["warnings"] == [] and "currency_defaulted" not in document.stats
    offer = Offer.objects.get(source_document=document)
    assert offer.currency == {"run": "SEK", "vendor": "CHF", "header": "GBP", "format": "EUR"}[how]


# --------------------------------------------------------------------------- attributes reach the offer


def test_attributes_are_kept_on_the_offer_and_storage_not_colour_makes_another_product(tmp_path):
    path = save(tmp_path / "variants.xlsx", [
        ["Model", "Storage", "Colour", "Price (USD)"],
        ["iPhone 16 Pro", 256, "Desert", 987],
        ["iPhone 16 Pro", 512, "Desert", 1187],
        ["iPhone 16 Pro", 256, "Black", 987],
    ])
    document = ingest_path(path, vendor_name="Acme")
    offers = list(Offer.objects.filter(source_document=document).order_by("id"))
    assert [o.description for o in offers] == [
        "iPhone 16 Pro 256GB Desert", "iPhone 16 Pro 512GB Desert", "iPhone 16 Pro 256GB Black",
    ]
    assert offers[1].extra["attributes"] == {"storage": "512", "colour": "Desert"}
    assert [o.color for o in offers] == ["Desert Titanium", "Desert Titanium", "Black"]
    assert [o.product.name for o in offers] == [
        "Apple iPhone 16 Pro 256GB", "Apple iPhone 16 Pro 512GB", "Apple iPhone 16 Pro 256GB",
    ]
    assert [o.match_method for o in offers] == ["new", "new", "key"]


# --------------------------------------------------------------------------- field cases


def _rows(document):
    return sorted(
        (o.sku or o.description, o.price, o.currency, o.quantity, o.condition)
        for o in Offer.objects.filter(source_document=document)
    )


def _expected(name, *, currency):
    rows = []
    for identifier, price, code, quantity, condition in ANSWERS[name]["offers"]:
        rows.append((identifier, Decimal(str(price)).quantize(Decimal("0.01")), code or currency, quantity,
                     condition or "unknown"))
    return sorted(rows)


@pytest.mark.parametrize("name", SPREADSHEET_CASES)
def test_spreadsheet_field_case_gives_its_right_offers(name):
    document = ingest_path(CASES / name, vendor_name="Field Vendor", processor="spreadsheet")
    assert _rows(document) == _expected(name, currency="USD"), document.extra


def test_field_case_09_hidden_sold_out_rows_are_counted():
    document = ingest_path(CASES / "09-hidden-sold-out-rows.xlsx", vendor_name="Field Vendor")
    assert document.status == SourceDocument.Status.SUCCEEDED
    assert document.stats["rows_filtered"] == 2
    assert [(s["ref"], s["reason"]) for s in document.extra["skipped"]] == [("Stock!3", "filtered"), ("Stock!5", "filtered")]


def test_field_case_12_names_no_currency_and_says_so():
    document = ingest_path(CASES / "12-merged-model-cells.xlsx", vendor_name="Field Vendor")
    assert document.status == SourceDocument.Status.PARTIAL
    assert document.stats["currency_defaulted"] == 5
    assert document.extra["warnings"][0].startswith("5 offers named no currency")
    offers = Offer.objects.filter(source_document=document)
    assert {o.extra["attributes"]["colour"] for o in offers} == {
        "Natural Titanium", "Blue Titanium", "Black Titanium", "Titanium Gray", "Titanium Violet",
    }
    assert {o.color for o in offers} == {o.extra["attributes"]["colour"] for o in offers}
    # Colour is the offer's: two products, each in several colours.
    assert {o.product.name for o in offers} == {"Apple iPhone 15 Pro 256GB", "Samsung Galaxy S24 Ultra 512GB"}


def test_field_cases_13_and_14_take_the_currency_from_the_cell_format():
    for name in ("13-currency-in-number-format.xlsx", "14-brazil-portuguese-headers.xlsx"):
        document = ingest_path(CASES / name, vendor_name="Field Vendor")
        assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
        assert {o.extra["currency_source"] for o in Offer.objects.filter(source_document=document)} == {
            "number_format"
        }


@pytest.mark.parametrize("text", ["Var", "Em estoque", "Disponível", "in voorraad", "В наличии", "есть", "متوفر", "Tersedia", "有货"])
def test_in_stock_words_are_a_quantity_not_given(text):
    row = normalize_candidate(OfferCandidate(ref="r", sku="A1", price="10", quantity=text), observed_at=NOW)
    assert not isinstance(row, RowError) and row.quantity is None


def test_a_stock_status_column_saying_sold_out(tmp_path):
    path = save(tmp_path / "status.xlsx", [
        ["SKU", "Price (USD)", "Condition", "Status"],
        ["A1", 10, "New", "In stock"],
        ["A2", 11, "New", "Sold out"],
        ["A3", 12, "Used", ""],
    ])
    document = ingest_path(path, vendor_name="Acme")
    assert [(o.sku, o.condition, o.extra.get("status")) for o in Offer.objects.filter(source_document=document).order_by("id")] == [
        ("A1", "new", "In stock"), ("A3", "used", None),
    ]
    assert [(s["ref"], s["field"], s["reason"]) for s in document.extra["skipped"]] == [("Stock!3", "status", "sold_out")]
