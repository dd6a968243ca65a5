"""Regenerate the sample price lists in this folder.

    .venv/bin/python docs/samples/make_samples.py

* ``vendor-template.xlsx``: the vendor price template, filled in cleanly.
* ``messy-vendor.xlsx``: what vendors really send: a cover sheet, a merged
  title row, blank rows, a "Valid from" line, the header on row 5
  (``Part No. | Description | Unit Price (USD) | Avail. | Grade``), a text
  price ``$1,234.50``, a ``5+`` quantity, a vertically merged grade, a price
  ``call`` and a ``Total lines`` footer.
* ``european-prices.csv``: cp1252, ``;``-delimited, decimal commas, ``€``, umlauts.
"""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path

from openpyxl import Workbook, load_workbook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the project root, for documents.price_template

from documents.price_template import build_vendor_price_template  # noqa: E402

TEMPLATE_ROWS = (
    ("SM-S928B-256-TBK", "Samsung Galaxy S24 Ultra 256GB Titanium Black", 989.00, 12, "New"),
    ("MU7A3ZD/A", "Apple iPhone 15 Pro 128GB Natural Titanium", 899.00, 8, "Refurbished A"),
    ("MX2E3ZM/A", "Apple AirPods Pro (2nd gen) USB-C", 189.90, 40, "New"),
    ("SM-F731B-256-MNT", "Samsung Galaxy Z Flip5 256GB Mint", 549.00, 4, "Open box"),
    ("MPXT3ZD/A", "Apple iPhone 14 128GB Midnight", 479.00, 6, "CPO"),
    ("G9S9B-128-OBS", "Google Pixel 8 128GB Obsidian", 389.00, 0, "Used B"),
    ("SM-A546B-128-BLK", "Samsung Galaxy A54 5G 128GB (cracked back)", 95.00, 2, "Damaged"),
)


def filled_template() -> bytes:
    """The template with its example rows replaced by a realistic list."""
    workbook = load_workbook(io.BytesIO(build_vendor_price_template()))
    sheet = workbook["Prices"]
    sheet.delete_rows(2, sheet.max_row)
    for row in TEMPLATE_ROWS:
        sheet.append(row)
    for (cell,) in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
        cell.number_format = "#,##0.00"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def messy_vendor() -> bytes:
    workbook = Workbook()
    cover = workbook.active
    cover.title = "Cover"
    cover["A1"] = "Global Mobile Traders FZE"
    cover["A3"] = "Weekly stock offer"
    cover["A4"] = "Contact: sales@example.com"

    sheet = workbook.create_sheet("Pricing")
    sheet["A1"] = "GLOBAL MOBILE TRADERS - PRICE LIST"
    sheet.merge_cells("A1:E1")
    sheet["A3"] = "Valid from:"
    sheet["B3"] = date(2025, 7, 1)
    sheet["B3"].number_format = "yyyy-mm-dd"
    sheet.append([])  # row 4: blank
    sheet.append(["Part No.", "Description", "Unit Price (USD)", "Avail.", "Grade"])  # row 5
    rows = [
        ("MTP03ZD/A", "iPhone 15 128GB Black", 612.5, 25, "A"),  # row 6
        ("MU7A3ZD/A", "iPhone 15 Pro 128GB Natural", "$1,234.50", "5+", "Refurb"),  # row 7, grade merged E7:E8
        ("MTUW3ZD/A", "iPhone 15 Pro 256GB Blue", 1045.0, 3, None),  # row 8
        ("SM-S921B", "Galaxy S24 128GB Onyx Black", "call", 10, "New"),  # row 9: price "call"
    ]
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("E7:E8")
    sheet.append([])  # row 10: blank
    sheet.append(["Total lines", 4])  # row 11: footer
    for column, width in zip("ABCDE", (14, 32, 18, 8, 8)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def european_prices() -> bytes:
    lines = [
        "Artikelnr.;Bezeichnung;Preis;Menge;Zustand",
        "SM-S921B;Samsung Galaxy S24 128GB Schwarz;629,00 €;12;Neu",
        "MTP03ZD/A;Apple iPhone 15 128GB Grün;1.049,00 €;3;Generalüberholt",
        "MQKW3ZM/A;Apple Watch Series 9 45mm Mitternacht;299,50 €;>10;Geöffnete Verpackung",
        "G9S9B;Google Pixel 8 128GB Obsidian – Rückseite zerkratzt;389,90 €;1;Gebraucht - B",
        "SM-X710;Samsung Galaxy Tab S9 128GB Graphit;1.299,00 €;;Neu",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


SAMPLES = {
    "vendor-template.xlsx": filled_template,
    "messy-vendor.xlsx": messy_vendor,
    "european-prices.csv": european_prices,
}


def main() -> None:
    for name, build in SAMPLES.items():
        path = HERE / name
        path.write_bytes(build())
        print(f"wrote {path.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
