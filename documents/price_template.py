"""The vendor price template served at ``GET /documents/templates/vendor-price``.

``build_vendor_price_template()`` returns an .xlsx (bytes) whose first sheet,
"Prices", has the standard header row (frozen), a few example rows and data
validation that mirrors what the ingestion pipeline accepts; a second sheet,
"Instructions", explains the rules. A filled template ingests without errors
through the ``spreadsheet`` processor (see docs/CHAT_INTERFACE_SPEC.md,
"Spreadsheet template guidelines"). Every cell written goes through
``pricehub.cell_safety.neutralise`` (text that a spreadsheet would run as a formula gets a
leading quote), as every file PriceHub writes does.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from pricehub.cell_safety import neutralise_row

HEADERS = ("MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION")
# The condition labels an operator types; each maps onto offers.models.Condition.
CONDITION_CHOICES = ("New", "Open box", "CPO", "Refurbished", "Used", "Damaged")
EXAMPLE_ROWS = (
    ("SM-S921B-128-BLK", "Samsung Galaxy S24 128GB Onyx Black", 629.00, 25, "New"),
    ("MTP03ZD/A", "Apple iPhone 15 128GB Black", 749.50, 10, "Refurbished"),
    ("MQKW3ZM/A", "Apple Watch Series 9 GPS 45mm Midnight", 299.00, 3, "Open box"),
    ("SM-X710-128-GRY", "Samsung Galaxy Tab S9 128GB Graphite", 455.00, 0, "Used"),
)
COLUMN_WIDTHS = {"A": 22, "B": 48, "C": 14, "D": 10, "E": 16}
VALIDATED_ROWS = 5000  # data validation applies to rows 2..VALIDATED_ROWS+1

INSTRUCTIONS = (
    "How to fill in this price list",
    "",
    "1. Keep the header row of the Prices sheet exactly as it is: MODEL/SKU, DESCRIPTION, PRICE, QTY, CONDITION.",
    "2. One offer per row, starting in row 2. Replace the example rows with your own.",
    "3. MODEL/SKU: your model or part number. DESCRIPTION: brand, model, storage, colour.",
    "   At least one of the two must be filled in.",
    "4. PRICE: the unit price as a plain number greater than 0 (for example 629.00), no currency symbol.",
    "   Write the currency in the header if it is not your usual one, e.g. PRICE (EUR).",
    "5. QTY: whole number of units available (0 or more). Leave empty if unknown.",
    "6. CONDITION: one of " + ", ".join(CONDITION_CHOICES) + ".",
    "   A grade may follow, e.g. Refurbished B or Used A.",
    "7. Do not add totals, notes or empty rows between offers; keep notes on this sheet.",
    "8. Save as .xlsx (or .csv) and send it as it is.",
)


def build_vendor_price_template(rows=EXAMPLE_ROWS) -> bytes:
    """Build the vendor price template workbook and return its .xlsx bytes.

    ``rows``: the rows under the header, each ``(sku, description, price, qty, condition)``
    (default: the examples); text a spreadsheet would run as a formula is neutralised."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Prices"

    sheet.append(neutralise_row(HEADERS))
    header_fill = PatternFill("solid", fgColor="1F4E78")
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        sheet.append(neutralise_row(row))
    sheet.freeze_panes = "A2"
    for column, width in COLUMN_WIDTHS.items():
        sheet.column_dimensions[column].width = width

    for (cell,) in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
        cell.number_format = "#,##0.00"

    last_row = VALIDATED_ROWS + 1

    price_rule = DataValidation(
        type="decimal", operator="greaterThan", formula1="0", allow_blank=True, showErrorMessage=True,
        errorTitle="Invalid price", error="PRICE must be a number greater than 0, without currency symbol.",
    )
    quantity_rule = DataValidation(
        type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True, showErrorMessage=True,
        errorTitle="Invalid quantity", error="QTY must be a whole number, 0 or more.",
    )
    condition_rule = DataValidation(
        type="list", formula1='"' + ",".join(CONDITION_CHOICES) + '"', allow_blank=True,
        # A warning, not a stop: a grade may follow ("Refurbished B").
        showErrorMessage=True, errorStyle="warning", errorTitle="Condition",
        error="Use one of " + ", ".join(CONDITION_CHOICES) + " (a grade may follow, e.g. Refurbished B).",
        showInputMessage=True, promptTitle="Condition", prompt="Pick one; a grade may follow, e.g. Refurbished B.",
    )
    for rule, column in ((price_rule, "C"), (quantity_rule, "D"), (condition_rule, "E")):
        rule.add(f"{column}2:{column}{last_row}")
        sheet.add_data_validation(rule)

    notes = workbook.create_sheet("Instructions")
    for line in INSTRUCTIONS:
        notes.append(neutralise_row([line]))
    notes["A1"].font = Font(bold=True, size=14)
    notes.column_dimensions["A"].width = 110

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
