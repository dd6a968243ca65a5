import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.openai_stub import OpenAIStub


@pytest.fixture
def stub():
    """The OpenAI stub server on 127.0.0.1 (``tests/openai_stub.py``), stopped after the test."""
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def openai_on(settings, stub):
    """The LLM pass and GPT vision enabled and pointed at the stub, one retry."""
    settings.ENABLE_OPENAI = True
    settings.OPENAI_API_KEY = "test"
    settings.OPENAI_BASE_URL = stub.base_url
    settings.OPENAI_MODEL = "gpt-test"
    settings.OPENAI_MAX_RETRIES = 1
    settings.OPENAI_TIMEOUT_SECONDS = 10
    return settings


def write_xlsx(path: Path, rows: list[list], title: str = "Prices") -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


def write_ods_package(path: Path, content: str) -> Path:
    """An .ods file at ``path`` whose ``content.xml`` is ``content`` (mimetype first, as the format wants)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", ODS_MANIFEST)
        archive.writestr("content.xml", content)
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


def stored_files(settings) -> list:
    """Every file under ``settings.INGESTION_STORAGE_DIR`` (none when it does not exist), sorted."""
    root = Path(settings.INGESTION_STORAGE_DIR)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def empty_storage(tmp_path, settings):
    """Settings whose storage is a folder of this test's own, not yet made."""
    settings.INGESTION_STORAGE_DIR = tmp_path / "storage"
    return settings


def run_command(*args) -> tuple[int, str, str]:
    """``call_command(*args)`` as a user runs it: ``(exit code, stdout, stderr)``, a ``CommandError``
    giving its return code and message."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()
