"""The vendor price template: its layout, its validation, and that it ingests cleanly."""

import io

from openpyxl import load_workbook

from documents.price_template import CONDITION_CHOICES, EXAMPLE_ROWS, HEADERS, build_vendor_price_template
from ingestion.normalize import parse_condition, parse_price, parse_quantity
from ingestion.processors.spreadsheet import processor
from ingestion.types import IngestContext, OfferCandidate, RowError
from offers.models import Condition


def load_template():
    return load_workbook(io.BytesIO(build_vendor_price_template()))


def test_layout():
    workbook = load_template()
    assert workbook.sheetnames == ["Prices", "Instructions"]
    sheet = workbook["Prices"]
    assert [cell.value for cell in sheet[1]] == ["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"]
    assert list(HEADERS) == [cell.value for cell in sheet[1]]
    assert sheet.freeze_panes == "A2"
    assert 3 <= sheet.max_row - 1 <= 5
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["D"].width
    assert sheet["C2"].number_format == "#,##0.00"
    instructions = [row[0] for row in workbook["Instructions"].iter_rows(values_only=True)]
    assert any("PRICE" in (line or "") for line in instructions)


def test_data_validation():
    sheet = load_template()["Prices"]
    rules = {str(rule.sqref).split(":")[0][0]: rule for rule in sheet.data_validations.dataValidation}
    assert set(rules) == {"C", "D", "E"}
    price, quantity, condition = rules["C"], rules["D"], rules["E"]
    assert (price.type, price.operator, price.formula1) == ("decimal", "greaterThan", "0")
    assert (quantity.type, quantity.operator, quantity.formula1) == ("whole", "greaterThanOrEqual", "0")
    assert condition.type == "list"
    assert condition.formula1 == '"New,Open box,CPO,Refurbished,Used,Damaged"'
    assert str(price.sqref).startswith("C2:")


def test_condition_choices_cover_the_vocabulary():
    codes = {parse_condition(label).code for label in CONDITION_CHOICES}
    assert codes == set(Condition.values) - {Condition.UNKNOWN}


def test_template_ingests_with_zero_errors(tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(build_vendor_price_template())
    context = IngestContext(filename=path.name)
    items = list(processor.process(path, context))

    assert [item for item in items if isinstance(item, RowError)] == []
    candidates = [item for item in items if isinstance(item, OfferCandidate)]
    assert [c.ref for c in candidates] == [f"Prices!{row}" for row in range(2, 2 + len(EXAMPLE_ROWS))]
    for candidate, (sku, description, price, quantity, condition) in zip(candidates, EXAMPLE_ROWS):
        assert (candidate.sku, candidate.description) == (sku, description)
        assert parse_price(candidate.price, decimal_comma=candidate.extra.get("decimal_comma")) == parse_price(price)
        assert parse_quantity(candidate.quantity) == quantity
        assert parse_condition(candidate.condition).code != Condition.UNKNOWN
    assert context.stats["sheets_skipped"] == 1  # the Instructions sheet, not an error
