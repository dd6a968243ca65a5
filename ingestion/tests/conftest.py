from pathlib import Path

import pytest
from openpyxl import Workbook


def write_xlsx(path: Path, rows: list[list], title: str = "Prices") -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


HEADER = ["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"]


@pytest.fixture
def price_list(tmp_path):
    """A small vendor list: two good rows, one row whose price is 'call'."""
    return write_xlsx(
        tmp_path / "acme.xlsx",
        [
            ["Acme weekly list"],
            [],
            HEADER,
            ["A3090", "iPhone 15 128GB Black", 750, 10, "New"],
            ["SM-S928B", "Galaxy S24 Ultra 256GB", "$1,045.00", "5+", "Refurb B"],
            ["X1", "Pixel 8 Pro", "call", 1, "Used"],
        ],
    )
