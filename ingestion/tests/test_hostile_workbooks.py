"""Hostile and broken workbooks (issue 9, item 5): every file is built here, for real.

Zip bombs and far-away cells are stopped before python-calamine loads a sheet (it
cannot be stopped once it does: a 1.5 KB file with cells in A1 and XFD1048576 makes
it allocate 512 GiB and abort the process); encrypted workbooks say
"password-protected"; an .xls that is an HTML page is read as its table.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlrd
import xlwt
from openpyxl import Workbook

from documents.models import SourceDocument
from ingestion.processors import get
from ingestion.processors import workbook_limits
from ingestion.processors.html_table import MAX_PENDING_CHARS
from ingestion.processors.spreadsheet import processor
from ingestion.services import ingest_path
from ingestion.tests.conftest import write_ods_package
from ingestion.types import IngestContext, OfferCandidate, RowError
from offers.models import Offer

ROOT = Path(__file__).resolve().parents[2]
HEADER_XML = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>SKU</t></is></c><c r="B1" t="inlineStr"><is><t>Description'
    b'</t></is></c><c r="C1" t="inlineStr"><is><t>Price (USD)</t></is></c></row>'
)

# --------------------------------------------------------------------------- building files

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Prices" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def write_xlsx_package(path: Path, sheet_data, *, dimension: str = "", level: int = 9) -> Path:
    """A minimal .xlsx whose one sheet ('Prices') holds ``sheet_data``: bytes, or an iterable of
    byte chunks streamed into the zip (so a sheet of hundreds of MB never sits in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        start = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
                 b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                 + (f'<dimension ref="{dimension}"/>'.encode() if dimension else b"") + b"<sheetData>")
        if isinstance(sheet_data, bytes):  # written whole: sizes in the plain (not zip64) header fields
            archive.writestr("xl/worksheets/sheet1.xml", start + sheet_data + b"</sheetData></worksheet>")
            return path
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(start)
            for chunk in sheet_data:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return path


def repeated_rows(count: int, row: bytes) -> object:
    """``count`` copies of ``row`` after the header row, in chunks of 10,000."""
    yield HEADER_XML
    block = row * 10_000
    for _ in range(count // 10_000):
        yield block


BOMB_ROW = (b'<row><c t="inlineStr"><is><t>iPhone</t></is></c><c t="inlineStr"><is><t>Phone</t></is></c>'
            b"<c><v>100</v></c></row>")


def cfb_file(path: Path, streams: dict[str, bytes]) -> Path:
    """An OLE2 compound file ([MS-CFB], version 3, 512-byte sectors) holding ``streams``,
    written by hand: header, one FAT sector, one directory sector, then each stream in
    whole sectors (each stream padded to 4,096 bytes or more, so none sits in a mini stream)."""
    free, end_of_chain, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    names = list(streams)
    assert len(names) <= 3
    data = {name: content.ljust(4096, b"\0") for name, content in streams.items()}
    fat = [fat_sector, end_of_chain]  # sector 0: the FAT, sector 1: the directory
    starts = {}
    for name in names:
        sectors = -(-len(data[name]) // 512)
        starts[name] = len(fat)
        fat.extend(range(len(fat) + 1, len(fat) + sectors))
        fat.append(end_of_chain)
    assert len(fat) <= 128
    fat.extend([free] * (128 - len(fat)))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", free, right, child) + bytes(16) + bytes(4) + bytes(16)
                + struct.pack("<IQ", start, size))

    directory = entry("Root Entry", 5, 1, free, end_of_chain, 0)
    for index, name in enumerate(names, start=1):
        right = index + 1 if index < len(names) else free
        directory += entry(name, 2, free, right, starts[name], len(streams[name]))
    directory = directory.ljust(512, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end_of_chain, 0, end_of_chain, 0)
        + struct.pack("<109I", 0, *([free] * 108))
    )
    assert len(header) == 512
    body = struct.pack("<128I", *fat) + directory + b"".join(data[name].ljust(-(-len(data[name]) // 512) * 512, b"\0")
                                                             for name in names)
    path.write_bytes(header + body)
    return path


def run(path: Path, **options: str):
    context = IngestContext(filename=path.name, options=options)
    items = list(processor.process(path, context))
    return ([item for item in items if isinstance(item, OfferCandidate)],
            [item for item in items if isinstance(item, RowError)], context.stats)


def failure(document: SourceDocument) -> str:
    assert document.status == SourceDocument.Status.FAILED, document.extra
    return document.extra["failure"]


def peak_of_processing(path: Path, tmp_path: Path) -> dict:
    """Run the spreadsheet processor over ``path`` in a fresh process (no Django: the limits'
    defaults apply); its error text and peak resident memory (MB)."""
    script = tmp_path / "measure.py"
    script.write_text(
        "import json, resource, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from ingestion.processors.spreadsheet import processor\n"
        "from ingestion.types import IngestContext\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "error = ''\n"
        "try:\n"
        "    path = Path(sys.argv[1])\n"
        "    rows = sum(1 for _ in processor.process(path, IngestContext(filename=path.name)))\n"
        "except ValueError as exc:\n"
        "    error = str(exc)\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'error': error, 'peak_mb': peak, 'base_mb': base}))\n"
    )
    out = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin"}, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- zip bombs


@pytest.mark.django_db
def test_a_zip_bomb_fails_by_its_compression_ratio_before_any_sheet_is_read(tmp_path):
    path = write_xlsx_package(tmp_path / "bomb.xlsx", repeated_rows(2_000_000, BOMB_ROW))
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    assert path.stat().st_size < 2_000_000 and info.file_size > 200_000_000  # small on disk, 200+ MB inside
    reason = failure(ingest_path(path, vendor_name="Acme"))
    assert reason.startswith("bomb.xlsx: part 'xl/worksheets/sheet1.xml' unpacks from ")
    assert "compression ratio of" in reason and "(limit INGESTION_MAX_COMPRESSION_RATIO = 100:1)" in reason
    assert not Offer.objects.exists()


def test_a_zip_bomb_is_refused_in_bounded_memory(tmp_path):
    """Loaded by calamine, 1,000,000 rows of five cells took 384 MB; refused from the zip
    directory (the message says so), the process stays at its size after imports."""
    row = b"<row>" + b"<c><v>1</v></c>" * 5 + b"</row>"
    path = write_xlsx_package(tmp_path / "bomb.xlsx", repeated_rows(1_000_000, row))
    measured = peak_of_processing(path, tmp_path)
    assert "compression ratio" in measured["error"]
    assert measured["peak_mb"] - measured["base_mb"] < 50, measured


@pytest.mark.django_db
def test_a_part_that_unpacks_to_more_than_its_directory_declares_fails_as_it_is_read(tmp_path):
    """A forged uncompressed size passes the directory checks; it is caught while the part unpacks."""
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(2, 40_000))
    path = write_xlsx_package(tmp_path / "forged.xlsx", HEADER_XML + rows, level=6)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    raw = bytearray(path.read_bytes())
    # the uncompressed size in the local header (offset 22) and in the central directory entry (offset 24)
    assert raw[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    raw[info.header_offset + 22:info.header_offset + 26] = struct.pack("<I", 1000)
    central = raw.rfind(b"xl/worksheets/sheet1.xml") - 46
    assert raw[central:central + 4] == b"PK\x01\x02"
    raw[central + 24:central + 28] = struct.pack("<I", 1000)
    path.write_bytes(bytes(raw))
    assert zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size == 1000
    reason = failure(ingest_path(path, vendor_name="Acme"))
    assert reason == ("forged.xlsx: part 'xl/worksheets/sheet1.xml' unpacks to more than the 1,000 bytes its zip "
                      "directory declares (a forged size, as zip bombs have); open it in Excel and save it again")


@pytest.mark.django_db
def test_the_total_uncompressed_size_is_capped(tmp_path, settings):
    settings.INGESTION_MAX_UNCOMPRESSED_BYTES = 100_000
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>X%d</t></is></c><c r="C%d"><v>%d</v></c></row>'
                    % (n, n, n, n, n) for n in range(2, 3000))
    path = write_xlsx_package(tmp_path / "big.xlsx", HEADER_XML + rows)
    reason = failure(ingest_path(path, vendor_name="Acme"))
    assert reason.startswith("big.xlsx unpacks to more than 100.0 KB (")
    assert "limit INGESTION_MAX_UNCOMPRESSED_BYTES); split the list into smaller files" in reason


def test_a_real_openpyxl_list_compresses_far_below_the_ratio_limit(tmp_path):
    """The default ratio leaves room: identical rows (the most repetitive real list) compress about 16:1."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Prices")
    sheet.append(["SKU", "Description", "Price", "Qty", "Condition"])
    for _ in range(50_000):
        sheet.append(["A3090", "iPhone 15 128GB Black", 750, 10, "New"])
    path = tmp_path / "same.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        worst = max(info.file_size / info.compress_size for info in archive.infolist()
                    if info.file_size >= workbook_limits.RATIO_FLOOR_BYTES)
    assert worst * 4 < workbook_limits.DEFAULTS["INGESTION_MAX_COMPRESSION_RATIO"]
    candidates, errors, _ = run(path)
    assert len(candidates) == 50_000 and not errors


# --------------------------------------------------------------------------- rows and cells


@pytest.mark.django_db
def test_two_far_apart_cells_fail_before_calamine_allocates_their_range(tmp_path):
    """Loaded, this 1.5 KB sheet would be a dense 1,048,576 x 16,384 grid (512 GiB): calamine aborts."""
    path = write_xlsx_package(
        tmp_path / "far.xlsx",
        HEADER_XML + b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
    )
    assert path.stat().st_size < 2000
    reason = failure(ingest_path(path, vendor_name="Acme"))
    assert reason == (
        "far.xlsx: sheet 'Prices' spans 1,048,576 rows x 16,384 columns, more than 40,000,000 cells "
        "(limit INGESTION_MAX_SHEET_CELLS); delete the cells far below or to the right of the list, "
        "or split it into smaller files"
    )


@pytest.mark.django_db
def test_cells_without_references_count_by_position(tmp_path):
    """A cell without r takes the next column: 20,000 of them in one row make a wide range."""
    wide = b"<row>" + b"<c><v>1</v></c>" * 20_000 + b"</row>"
    path = write_xlsx_package(tmp_path / "wide.xlsx", [HEADER_XML, b'<row r="5000">', wide[5:]])
    reason = failure(ingest_path(path, vendor_name="Acme"))
    assert reason.startswith("wide.xlsx: sheet 'Prices' spans 5,000 rows x 20,00")
    assert "(limit INGESTION_MAX_SHEET_CELLS)" in reason


@pytest.mark.django_db
def test_the_declared_dimension_alone_refuses_a_sheet_too_tall(tmp_path):
    path = write_xlsx_package(tmp_path / "list.xlsx", HEADER_XML, dimension="A1:C3000000")
    assert failure(ingest_path(path, vendor_name="Acme")) == (
        "list.xlsx: sheet 'Prices' has more than 2,000,000 rows (limit INGESTION_MAX_SHEET_ROWS); "
        "split the list into smaller files"
    )


@pytest.mark.django_db
def test_rows_beyond_the_limit_fail_and_rows_within_it_import(tmp_path, settings):
    settings.INGESTION_MAX_SHEET_ROWS = 50
    book = Workbook()
    sheet = book.active
    sheet.title = "Prices"
    sheet.append(["SKU", "Description", "Price (USD)"])
    for n in range(60):
        sheet.append([f"A{n}", f"Phone {n}", 100 + n])
    book.save(tmp_path / "tall.xlsx")
    assert failure(ingest_path(tmp_path / "tall.xlsx", vendor_name="Acme")) == (
        "tall.xlsx: sheet 'Prices' has more than 50 rows (limit INGESTION_MAX_SHEET_ROWS); "
        "split the list into smaller files"
    )
    settings.INGESTION_MAX_SHEET_ROWS = 61
    document = ingest_path(tmp_path / "tall.xlsx", vendor_name="Acme")
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert Offer.objects.filter(source_document=document).count() == 60


def test_a_full_height_excel_sheet_passes_the_default_limits():
    """1,048,576 rows (Excel's most) of five columns, as openpyxl numbers them: within every default."""
    def chunks():
        for start in range(1, 1_048_577, 50_000):
            yield b"".join(
                b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>SKU</t></is></c><c r="B%d"><v>1</v></c>'
                b'<c r="C%d"><v>2</v></c><c r="D%d"><v>3</v></c><c r="E%d"><v>4</v></c></row>' % ((n,) * 6)
                for n in range(start, min(start + 50_000, 1_048_577))
            )
    scan = workbook_limits.scan_xlsx_sheet(chunks(), "huge.xlsx", "Prices")
    assert (scan.rows, scan.columns) == (1_048_576, 26)


@pytest.mark.django_db
def test_an_ods_whose_repeats_stand_for_billions_of_cells_fails(tmp_path):
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')

    def content(rows: str) -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}><office:body>'
                f'<office:spreadsheet><table:table table:name="Prices">{rows}</table:table></office:spreadsheet>'
                f'</office:body></office:document-content>')

    header = ('<table:table-row>' + "".join(f'<table:table-cell office:value-type="string"><text:p>{name}</text:p>'
                                            f'</table:table-cell>' for name in ("SKU", "Description", "Price (EUR)"))
              + "</table:table-row>")
    bomb = write_ods_package(tmp_path / "bomb.ods", content(
        header + '<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
        'table:number-columns-repeated="16000" office:value-type="float" office:value="1"><text:p>1</text:p>'
        '</table:table-cell></table:table-row>'))
    assert failure(ingest_path(bomb, vendor_name="Acme")) == (
        "bomb.ods: sheet 'Prices' spans 1,000,001 rows x 16,000 columns, more than 40,000,000 cells "
        "(limit INGESTION_MAX_SHEET_CELLS); delete the cells far below or to the right of the list, "
        "or split it into smaller files"
    )
    # LibreOffice writes the empty rest of a formatted sheet as repeats by the million: not cells
    normal = write_ods_package(tmp_path / "normal.ods", content(
        header + '<table:table-row><table:table-cell office:value-type="string"><text:p>A1</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>Phone</text:p></table:table-cell>'
        '<table:table-cell office:value-type="float" office:value="120"><text:p>120</text:p></table:table-cell>'
        '</table:table-row><table:table-row table:number-rows-repeated="1048574"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row>'))
    document = ingest_path(normal, vendor_name="Acme")
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert [(o.sku, str(o.price)) for o in Offer.objects.filter(source_document=document)] == [("A1", "120.00")]


# --------------------------------------------------------------------------- CSV


@pytest.mark.django_db
def test_a_csv_line_longer_than_the_limit_is_reported_and_the_rest_imports(tmp_path, settings):
    settings.INGESTION_MAX_CSV_LINE_CHARS = 10_000
    path = tmp_path / "list.csv"
    path.write_text("SKU,Description,Price (USD)\nA1,Phone,100\n" + "x" * 50_000 + "\nA2,Phone 2,200\n")
    document = ingest_path(path, vendor_name="Acme")
    assert document.status == SourceDocument.Status.PARTIAL, document.extra
    assert [(o.sku, o.source_ref) for o in Offer.objects.filter(source_document=document).order_by("id")] == [
        ("A1", "line 2"), ("A2", "line 4")]
    assert document.extra["errors"] == [{
        "ref": "line 3", "field": "", "value": "",
        "message": "line 3 is longer than 10,000 characters (limit INGESTION_MAX_CSV_LINE_CHARS) and was not read; "
                   "is this really a CSV price list?",
    }]


def test_a_csv_of_one_huge_line_is_read_in_bounded_memory(tmp_path):
    """100 MB without a newline: read past in pieces (the whole file used to be held, then decoded)."""
    path = tmp_path / "line.csv"
    with open(path, "w") as handle:
        handle.write("SKU,Description,Price\n")
        for _ in range(100):
            handle.write("y" * 1_000_000)
    measured = peak_of_processing(path, tmp_path)
    assert measured["error"] == ""
    assert measured["peak_mb"] - measured["base_mb"] < 40, measured


@pytest.mark.django_db
def test_a_csv_with_more_rows_than_the_limit_fails_naming_it(tmp_path, settings):
    settings.INGESTION_MAX_SHEET_ROWS = 100
    path = tmp_path / "rows.csv"
    path.write_text("SKU,Description,Price (USD)\n" + "".join(f"A{n},Phone,{n}\n" for n in range(500)))
    assert failure(ingest_path(path, vendor_name="Acme")) == (
        "rows.csv: the CSV file has more than 100 rows (limit INGESTION_MAX_SHEET_ROWS); "
        "split the list into smaller files"
    )


# --------------------------------------------------------------------------- password-protected


PASSWORD_TEXT = ("is password-protected (encrypted), so PriceHub cannot read it: open it in Excel, remove the password "
                 "(File > Info > Protect Workbook > Encrypt with Password, clear it), save it and send it again")


@pytest.mark.django_db
def test_an_encrypted_xlsx_says_password_protected(tmp_path):
    """An .xlsx saved with a password is an OLE2 file with EncryptionInfo and EncryptedPackage streams."""
    path = cfb_file(tmp_path / "prices.xlsx", {
        "EncryptionInfo": struct.pack("<HHI", 4, 4, 0x40) + b"<encryption/>",  # agile encryption, version 4.4
        "EncryptedPackage": struct.pack("<Q", 9000) + bytes(range(256)) * 40,
    })
    # the compound file is well formed: xlrd's own reader lists both streams
    names = {entry.name for entry in xlrd.compdoc.CompDoc(path.read_bytes(), logfile=open("/dev/null", "w")).dirlist}
    assert {"EncryptionInfo", "EncryptedPackage"} <= names
    assert failure(ingest_path(path, vendor_name="Acme")) == f"prices.xlsx {PASSWORD_TEXT}"


@pytest.mark.django_db
def test_an_encrypted_xls_says_password_protected(tmp_path):
    """An encrypted .xls has a FILEPASS record among the workbook globals (here after the BOF)."""
    book = xlwt.Workbook()
    sheet = book.add_sheet("Prices")
    for row, values in enumerate([["SKU", "Description", "Price"], ["A1", "Phone", 100]]):
        for column, value in enumerate(values):
            sheet.write(row, column, value)
    biff = book.get_biff_data()
    bof_length = struct.unpack("<H", biff[2:4])[0]
    filepass = struct.pack("<HHH", 0x002F, 54, 1) + bytes(52)  # RC4 ([MS-XLS] 2.4.117), key data not needed here
    at = 4 + bof_length
    from xlwt.CompoundDoc import XlsDoc

    path = tmp_path / "prices.xls"
    XlsDoc().save(str(path), biff[:at] + filepass + biff[at:])
    with pytest.raises(xlrd.XLRDError, match="encrypted"):  # xlrd reads the same record
        xlrd.open_workbook(str(path), logfile=open("/dev/null", "w"))
    assert failure(ingest_path(path, vendor_name="Acme")) == f"prices.xls {PASSWORD_TEXT}"


def test_a_plain_xls_is_not_taken_for_an_encrypted_one(tmp_path):
    book = xlwt.Workbook()
    sheet = book.add_sheet("Prices")
    for row, values in enumerate([["SKU", "Description", "Price (USD)"], ["A1", "Phone", 100]]):
        for column, value in enumerate(values):
            sheet.write(row, column, value)
    book.save(str(tmp_path / "plain.xls"))
    candidates, errors, _ = run(tmp_path / "plain.xls")
    assert [(c.ref, c.sku, c.price) for c in candidates] == [("Prices!2", "A1", "100")] and not errors


# --------------------------------------------------------------------------- .xls that is HTML

ERP_PAGE = """<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">
<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><title>Stock</title></head>
<body><h1>Weekly list</h1>
<table border="1">
<tr><th>SKU</th><th>Description</th><th>Price (EUR)</th><th>Qty</th></tr>
<tr><td>A1</td><td>iPhone 15 &amp; case<br>128GB</td><td x:num="1234.5">1.234,50 €</td><td>3</td></tr>
<tr><td>A2</td><td colspan="2">Pixel 8 (price on request)</td><td>1</td></tr>
<tr><td>A3</td><td>Galaxy S24 <table><tr><td>nested</td></tr></table></td><td>899,00</td><td>2</td></tr>
</table>
<table><tr><td>SKU</td><td>Description</td><td>Price</td></tr>
<tr><td>B1</td><td>second table</td><td>5</td></tr></table>
</body></html>"""


def test_an_xls_that_is_html_is_read_as_its_first_table(tmp_path):
    path = tmp_path / "erp-export.xls"
    path.write_bytes(ERP_PAGE.encode("cp1252"))
    assert get("spreadsheet").detect(path, path.read_bytes()[:4096]) == 95
    candidates, errors, stats = run(path)
    assert [(c.ref, c.sku, c.description, c.price, c.currency, c.quantity) for c in candidates] == [
        ("row 2", "A1", "iPhone 15 & case 128GB", "1234.5", "EUR", "3"),
        ("row 3", "A2", "Pixel 8 (price on request)", "", "EUR", "1"),
        ("row 4", "A3", "Galaxy S24 nested", "899,00", "EUR", "2"),
    ]
    assert not errors
    assert stats["html_table"] == 1 and stats["encoding:cp1252"] == 1


@pytest.mark.django_db
def test_an_html_xls_ingests_and_names_its_rows(tmp_path):
    path = tmp_path / "erp-export.xls"
    path.write_bytes(ERP_PAGE.encode("cp1252"))
    document = ingest_path(path, vendor_name="Acme")
    assert document.status == SourceDocument.Status.PARTIAL, document.extra  # row 3 has no price
    offers = Offer.objects.filter(source_document=document).order_by("id")
    assert [(o.sku, str(o.price), o.currency, o.source_ref) for o in offers] == [
        ("A1", "1234.50", "EUR", "row 2"), ("A3", "899.00", "EUR", "row 4")]
    assert [e["ref"] for e in document.extra["errors"]] == ["row 3"]


@pytest.mark.django_db
def test_an_html_xls_without_a_table_is_refused_by_name(tmp_path):
    path = tmp_path / "report.xls"
    path.write_text("<html><body><p>Session expired, please log in again.</p></body></html>")
    assert failure(ingest_path(path, vendor_name="Acme")) == (
        "report.xls is an HTML page, not a spreadsheet, and holds no table to read; "
        "open it in Excel and save it as .xlsx, or export the list as CSV"
    )


def test_an_html_xls_stops_reading_at_the_end_of_its_table(tmp_path):
    """After the first table, 40 MB of text without a tag are never parsed (more than the
    parser may hold: were it read, it would fail)."""
    path = tmp_path / "export.xls"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("<html><body><table><tr><td>SKU</td><td>Description</td><td>Price (USD)</td></tr>")
        handle.write("".join(f"<tr><td>A{n}</td><td>Phone {n}</td><td>{n}</td></tr>" for n in range(1, 1001)))
        handle.write("</table><pre>")
        for _ in range(40):
            handle.write("z" * 1_000_000)
    candidates, errors, _ = run(path)
    assert len(candidates) == 1000 and candidates[-1].ref == "row 1001" and not errors


def test_an_html_xls_of_text_without_tags_fails_in_bounded_memory(tmp_path):
    """Text the parser must hold back (an ``&`` near each piece's end could start a character
    reference) grows until a tag comes: past MAX_PENDING_CHARS the file is refused."""
    path = tmp_path / "export.xls"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("<html><body><table><tr><td>SKU</td><td>Description</td><td>Price</td></tr><tr><td>")
        for _ in range(60):
            handle.write("w&" * 500_000)
    measured = peak_of_processing(path, tmp_path)
    assert measured["error"].startswith(f"export.xls: more than {MAX_PENDING_CHARS:,} characters without an HTML tag")
    assert measured["peak_mb"] - measured["base_mb"] < 150, measured


def test_an_html_cell_longer_than_excel_allows_is_cut_and_reported(tmp_path):
    path = tmp_path / "export.xls"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("<table><tr><td>SKU</td><td>Description</td><td>Price (USD)</td></tr>"
                     "<tr><td>A1</td><td>")
        for _ in range(20):
            handle.write("v" * 1_000_000)
        handle.write("</td><td>10</td></tr></table>")
    candidates, errors, _ = run(path)
    assert [(c.ref, len(c.description), c.price) for c in candidates] == [("row 2", 32_767, "10")]
    assert [(e.ref, e.message) for e in errors] == [
        ("row 2", "a cell of row 2 is longer than 32,767 characters (Excel's limit for a cell); "
                  "only its beginning was read")]


@pytest.mark.django_db
def test_an_excel_2003_xml_spreadsheet_saved_as_xls_is_refused_by_name(tmp_path):
    """Its <Table> element is not an HTML table: refused, saying what it is and what to do."""
    path = tmp_path / "stock.xls"
    path.write_text(
        '<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Prices"><Table>'
        '<Row><Cell><Data ss:Type="String">SKU</Data></Cell><Cell><Data ss:Type="String">Price</Data></Cell></Row>'
        '<Row><Cell><Data ss:Type="String">A1</Data></Cell><Cell><Data ss:Type="Number">10</Data></Cell></Row>'
        "</Table></Worksheet></Workbook>"
    )
    assert failure(ingest_path(path, vendor_name="Acme")) == (
        "stock.xls is an Excel 2003 XML spreadsheet, which PriceHub does not read; "
        "open it in Excel and save it as .xlsx"
    )


def test_an_html_table_the_page_never_closes_ends_with_the_file(tmp_path):
    path = tmp_path / "cut.xls"
    path.write_text("<html><body><table><tr><th>SKU<th>Description<th>Price (USD)"
                    "<tr><td>A1<td>Phone<td>10<tr><td>A2<td>Phone 2<td>20")
    candidates, errors, _ = run(path)
    assert [(c.ref, c.sku, c.price) for c in candidates] == [("row 2", "A1", "10"), ("row 3", "A2", "20")]
    assert not errors


def test_rows_without_numbers_follow_the_row_before():
    """The schema lets r out; such a row is the one after the row before (hidden ones noted)."""
    body = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="3"><c r="A3"><v>1</v></c></row>' + b"<row><c><v>1</v></c></row>" * 5
            + b'<row hidden="1"><c><v>2</v></c></row><row r="20"/></sheetData></worksheet>')
    scan = workbook_limits.scan_xlsx_sheet([body[:100], body[100:]], "list.xlsx", "Prices")
    assert scan.rows == 9  # rows 3 to 9 hold cells; the empty row 20 extends nothing
    assert scan.hidden is not None and [i + 1 for i, flag in enumerate(scan.hidden) if flag] == [9]
