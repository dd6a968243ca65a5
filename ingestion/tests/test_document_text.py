"""The document_text processor on files the tests make: text-first PDFs (ruled and unruled tables,
free text), a scanned PDF, a mixed PDF, PNG and JPEG photos, a multi-page TIFF, broken and
password-protected PDFs, the limits; OCR through the real tesseract; GPT vision and prefer_llm
through the real openai client against the stub server."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from PIL import ImageFilter
from django.core.management import call_command

from documents.models import SourceDocument
from ingestion import processors
from ingestion.page_layout import cells, column_cuts, group_lines
from ingestion.ocr import Word
from ingestion.processors.document_text import content_kind
from ingestion.services import ingest_path
from offers.models import Offer
from tests import document_factory as factory
from tests.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage_dir(settings, tmp_path):
    settings.INGESTION_STORAGE_DIR = str(tmp_path / "storage")


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def offers_of(document) -> list[tuple[str, str, str, int | None, str, str]]:
    return [(o.source_ref, o.sku, o.description, o.quantity, f"{o.price:.2f}", o.currency)
            for o in Offer.objects.filter(source_document=document).order_by("id")]


def expected(rows, refs) -> list[tuple[str, str, str, int, str, str]]:
    return [(ref, sku, model, int(qty), price, "USD") for ref, (sku, model, qty, price) in zip(refs, rows)]


def ingest(path, **options):
    return ingest_path(path, vendor_name="Warehouse", processor="document_text", options=options or None)


# --------------------------------------------------------------------------- text-first PDFs


def test_a_ruled_table_pdf_is_read_from_its_text_layer_with_page_and_row(tmp_path):
    rows = factory.rows(50, seed=2)
    document = ingest(write(tmp_path, "list.pdf", factory.table_pdf(rows, per_page=30)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    refs = [f"page 1, row {n}" for n in range(2, 32)] + [f"page 2, row {n}" for n in range(2, 22)]
    assert offers_of(document) == expected(rows, refs)  # the title names USD; the header repeats per page
    assert (document.stats["pages"], document.stats["pages_text"]) == (2, 2)
    assert "pages_ocr" not in document.stats and document.notes == []


def test_an_unruled_table_pdf_is_read_by_the_columns_its_words_line_up_in(tmp_path):
    rows = factory.rows(12, seed=3)
    document = ingest(write(tmp_path, "unruled.pdf", factory.table_pdf(rows, ruled=False)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert offers_of(document) == expected(rows, [f"page 1, line {n}" for n in range(3, 15)])


@pytest.mark.parametrize("ruled, second", [(True, "page 2, row {}"), (False, "page 2, line {}")])
def test_a_page_continuing_a_table_without_its_header_keeps_the_previous_pages_header(tmp_path, ruled, second):
    rows = factory.rows(8, seed=4)
    pdf = factory.table_pdf(rows, per_page=4, ruled=ruled, repeat_header=False)
    document = ingest(write(tmp_path, "two.pdf", pdf))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    got = offers_of(document)
    assert [o[1:] for o in got] == [o[1:] for o in expected(rows, [""] * 8)]
    assert [o[0] for o in got[4:]] == [second.format(n) for n in range(1, 5)]
    assert document.stats["pages_continuing_a_table"] == 1


def test_a_free_text_pdf_goes_line_by_line_through_the_text_extractor(tmp_path):
    pdf = factory.text_pdf(["Weekly offers", "iPhone 15 128GB Black $699", "Call us: +44 20 7946 0958",
                            "Galaxy S24 256GB - 649 USD"])
    document = ingest(write(tmp_path, "offers.pdf", pdf))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    got = [(ref, description, price, currency) for ref, _, description, _, price, currency in offers_of(document)]
    assert got == [("page 1, line 2", "iPhone 15 128GB Black", "699.00", "USD"),
                   ("page 1, line 4", "Galaxy S24 256GB", "649.00", "USD")]


# --------------------------------------------------------------------------- OCR


def test_a_scanned_pdf_is_read_by_ocr_page_by_page(tmp_path):
    rows = factory.rows(16, seed=5)
    pages = factory.render(factory.table_pdf(rows, per_page=8), dpi=200)
    document = ingest(write(tmp_path, "scan.pdf", factory.scanned_pdf(pages)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    got = offers_of(document)
    assert [o[1:] for o in got] == [o[1:] for o in expected(rows, [""] * 16)]
    assert got[0][0] == "page 1, line 3" and got[8][0] == "page 2, line 3"
    assert (document.stats["pages"], document.stats["pages_ocr"]) == (2, 2)
    assert document.stats["ocr_seconds"] > 0 and len(document.stats["ocr_page_confidence"]) == 2
    assert "read by OCR (tesseract)" in document.notes[0]
    extra = Offer.objects.filter(source_document=document).first().extra
    assert extra["read_by"] == "ocr" and extra["ocr_confidence"] > 60


def test_a_mixed_pdf_keeps_its_text_page_as_text_and_reads_the_scan_by_ocr(tmp_path):
    rows = factory.rows(10, seed=6)
    text = pdfium.PdfDocument(factory.table_pdf(rows[:5]))
    scan = pdfium.PdfDocument(factory.scanned_pdf(factory.render(factory.table_pdf(rows[5:]), dpi=200)))
    merged = pdfium.PdfDocument.new()
    merged.import_pages(text)
    merged.import_pages(scan)
    buffer = io.BytesIO()
    merged.save(buffer)
    document = ingest(write(tmp_path, "mixed.pdf", buffer.getvalue()))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert (document.stats["pages_text"], document.stats["pages_ocr"]) == (1, 1)
    got = offers_of(document)
    assert [o[1:] for o in got] == [o[1:] for o in expected(rows, [""] * 10)]
    assert got[0][0] == "page 1, row 2" and got[5][0] == "page 2, line 3"


def test_a_png_scan_a_jpeg_photo_and_a_tiff_are_read_by_ocr(tmp_path):
    rows = factory.rows(12, seed=7)
    pages = factory.render(factory.table_pdf(rows, per_page=6), dpi=250)
    png = ingest(write(tmp_path, "scan.png", factory.png(pages[0])))
    photo = ingest(write(tmp_path, "photo.jpg", factory.jpeg(factory.photo(pages[1], seed=3), quality=60)))
    tiff = ingest(write(tmp_path, "pages.tif", factory.tiff(pages)))
    for document, wanted in ((png, rows[:6]), (photo, rows[6:]), (tiff, rows)):
        assert document.status == SourceDocument.Status.SUCCEEDED, (document.original_filename, document.extra)
        got = offers_of(document)  # the product line and its exact price (a photo's quantity may be misread)
        assert [(o[1], o[2], o[4]) for o in got] == [(sku, model, price) for sku, model, _, price in wanted]
    assert [o[0] for o in offers_of(tiff)][5:7] == ["page 1, line 8", "page 2, line 3"]
    assert photo.stats["ocr_pages_deskewed"] == 1


def test_the_format_is_told_by_content_not_by_name(tmp_path):
    rows = factory.rows(3, seed=8)
    page = factory.render(factory.table_pdf(rows), dpi=200)[0]
    misnamed = write(tmp_path, "list.pdf", factory.png(page))  # a PNG named .pdf
    assert processors.detect(misnamed).name == "document_text"
    document = ingest_path(misnamed, vendor_name="Warehouse")
    assert document.status == SourceDocument.Status.SUCCEEDED and document.stats["pages_ocr"] == 1
    assert content_kind(b"%PDF-1.7") == "pdf" and content_kind(b"RIFF\0\0\0\0WEBP") == "webp"
    assert content_kind(b"MM\x00*") == "tiff" and content_kind(b"hello") == ""
    text = write(tmp_path, "notes.pdf", b"just some text, not a PDF\n" * 3)
    failed = ingest(text)
    assert failed.status == SourceDocument.Status.FAILED
    assert "notes.pdf is not a PDF or an image PriceHub reads" in failed.extra["failure"]


@pytest.mark.parametrize("blur", [1.2, 1.4])
def test_a_blurred_low_resolution_photo_stores_no_price_ocr_is_unsure_of(tmp_path, blur):
    """At 150 dpi and blurred, tesseract drops decimal points (330.49 read as 33049) and misreads
    digits: such prices are rejected with the reason, never stored a hundred times too high."""
    rows = factory.rows(12, seed=1)
    page = factory.render(factory.table_pdf(rows), dpi=150)[0].filter(ImageFilter.GaussianBlur(blur))
    document = ingest(write(tmp_path, "blurred.png", factory.png(page)))
    assert document.status == SourceDocument.Status.PARTIAL, document.extra
    listed = {price for _, _, _, price in rows}
    stored = [o[4] for o in offers_of(document)]
    assert stored and set(stored) <= listed, (stored, document.errors)
    reasons = [error["message"] for error in document.errors]
    assert reasons, document.extra
    assert all("OCR is unsure of the price" in r or "without the decimal point" in r for r in reasons), reasons


def test_a_price_without_the_cents_the_pages_other_prices_have_is_rejected():
    from ingestion.processors.document_text import _without_lost_decimals
    from ingestion.types import OfferCandidate

    items = [OfferCandidate(f"line {n}", price=price) for n, price in
             enumerate(("330.49", "1001.99", "33049", "682.00", "586 .49"), start=1)]
    checked = _without_lost_decimals(items)
    assert [type(item).__name__ for item in checked] == ["OfferCandidate"] * 2 + ["RowError"] + ["OfferCandidate"] * 2
    assert checked[2].ref == "line 3" and "without the decimal point" in checked[2].message
    named = [OfferCandidate(f"line {n}", price=price) for n, price in
             enumerate(("649,99 €", "799,50 €", "$899.00", "1.099,00 €", "57900 €", "USD 21949"), start=1)]
    assert [type(item).__name__ for item in _without_lost_decimals(named)] == ["OfferCandidate"] * 4 + ["RowError"] * 2
    whole = [OfferCandidate(f"line {n}", price=price) for n, price in enumerate(("1299", "999", "45.50", "1049"))]
    assert _without_lost_decimals(whole) == whole  # a list in whole units: nothing to doubt


# --------------------------------------------------------------------------- bad files and limits


def test_a_password_protected_or_broken_pdf_fails_that_document_only(tmp_path):
    locked = ingest(write(tmp_path, "locked.pdf", factory.table_pdf(factory.rows(3), password="secret")))
    assert locked.status == SourceDocument.Status.FAILED
    assert "locked.pdf is protected by a password" in locked.extra["failure"]
    broken = ingest(write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"))
    assert broken.status == SourceDocument.Status.FAILED
    assert "cannot read the PDF broken.pdf" in broken.extra["failure"]
    fine = ingest(write(tmp_path, "fine.pdf", factory.table_pdf(factory.rows(3))))
    assert fine.status == SourceDocument.Status.SUCCEEDED


def test_a_page_whose_drawing_instructions_inflate_past_the_limit_is_not_parsed_and_the_rest_lands(tmp_path, settings):
    settings.DOCUMENT_MAX_PAGE_CONTENT_BYTES = 1024 * 1024
    pdf = factory.bomb_pdf(30 * 1024 * 1024)  # 30 MB of "0 0 m" in about 30 KB
    assert len(pdf) < 100_000
    document = ingest(write(tmp_path, "bomb.pdf", pdf))
    assert document.status == SourceDocument.Status.PARTIAL, document.extra
    assert document.errors[0]["ref"] == "page 1"
    assert "more than 1,048,576 bytes of drawing instructions (DOCUMENT_MAX_PAGE_CONTENT_BYTES)" in \
        document.errors[0]["message"]
    assert [(o[0], o[2], o[4]) for o in offers_of(document)] == [("page 2, line 1", "iPhone 15 128GB Black", "699.00")]


def test_limits_on_pages_and_pixels_fail_the_document_naming_the_setting(tmp_path, settings):
    settings.DOCUMENT_MAX_PAGES = 1
    document = ingest(write(tmp_path, "long.pdf", factory.table_pdf(factory.rows(6), per_page=3)))
    assert document.status == SourceDocument.Status.FAILED
    assert "long.pdf has 2 pages; PriceHub reads at most 1 (DOCUMENT_MAX_PAGES)" in document.extra["failure"]
    settings.DOCUMENT_MAX_PAGES = 200
    settings.DOCUMENT_MAX_PIXELS = 100_000
    big = ingest(write(tmp_path, "big.png", factory.png(factory.render(factory.table_pdf(factory.rows(2)), 72)[0])))
    assert big.status == SourceDocument.Status.FAILED
    assert "x 842 pixels; PriceHub reads at most 100,000 pixels (DOCUMENT_MAX_PIXELS)" in big.extra["failure"]


def test_a_scanned_page_larger_than_the_pixel_limit_is_rendered_at_a_lower_resolution(tmp_path, settings):
    settings.DOCUMENT_MAX_PIXELS = 4_000_000  # an A4 page at 300 dpi is 8.7 million
    rows = factory.rows(4, seed=9)
    document = ingest(write(tmp_path, "scan.pdf", factory.scanned_pdf(factory.render(factory.table_pdf(rows), 200))))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert document.stats["pages_rendered_below_dpi"] == 1
    assert [o[1:] for o in offers_of(document)] == [o[1:] for o in expected(rows, [""] * 4)]


def test_the_command_prints_a_progress_line_per_page(tmp_path, capfd):
    path = write(tmp_path, "list.pdf", factory.table_pdf(factory.rows(6), per_page=3))
    call_command("ingest", str(path), "--vendor", "Warehouse")
    err = capfd.readouterr().err  # written by the ingest's reader process: captured on the descriptor
    assert f"{path}: page 1/2: text layer, 3 candidate offers," in err
    assert f"{path}: page 2/2: text layer, 3 candidate offers," in err


# --------------------------------------------------------------------------- GPT vision and prefer_llm


def test_gpt_vision_reads_a_photo_and_a_price_the_page_does_not_show_is_rejected(openai_on, stub, tmp_path):
    rows = factory.rows(3, seed=10)
    page = factory.render(factory.table_pdf(rows), dpi=200)[0]
    (sku1, model1, qty1, price1), (sku2, model2, _, _), _ = rows
    stub.queue(200, OpenAIStub.answer([
        OpenAIStub.offer(3, model1, price1, sku=sku1, currency="USD", quantity=qty1),
        OpenAIStub.offer(4, model2, "1234.56", sku=sku2, currency="USD"),  # not on the page
    ]))
    document = ingest(write(tmp_path, "photo.png", factory.png(page)))
    assert document.status == SourceDocument.Status.PARTIAL, document.extra
    request = stub.requests[0].body
    parts = request["messages"][-1]["content"]
    image = [part for part in parts if part["type"] == "image_url"][0]["image_url"]
    assert image["url"].startswith("data:image/jpeg;base64,")
    assert request["response_format"]["type"] == "json_schema"
    text = [part for part in parts if part["type"] == "text"][0]["text"]
    assert f"{sku1} {model1} {qty1} {price1}" in text  # the OCR lines go with the image
    got = offers_of(document)
    sku3, model3, qty3, price3 = rows[2]  # the model listed nothing on line 5: the offline reading's offer stays
    assert got == [("page 1, line 3", sku1, model1, int(qty1), price1, "USD"),
                   ("page 1, line 5", sku3, model3, int(qty3), price3, "USD")]
    assert [o.extra["read_by"] for o in Offer.objects.filter(source_document=document).order_by("id")] == ["llm", "ocr"]
    assert document.errors[0]["field"] == "price" and document.errors[0]["value"] == "1234.56"
    assert document.errors[0]["ref"] == "page 1, line 4"
    assert any("read by the LLM (gpt-test)" in note for note in document.notes)
    assert "page 1: GPT vision listed no offer on 1 line where the offline OCR reading found one" in " ".join(
        document.notes) and document.notes[1].endswith("page 1, line 5")


def test_a_failed_vision_call_falls_back_to_offline_ocr_saying_why(openai_on, stub, tmp_path):
    rows = factory.rows(3, seed=11)
    page = factory.render(factory.table_pdf(rows), dpi=200)[0]
    for _ in range(2):  # the first try and its retry
        stub.queue(500, OpenAIStub.error("boom"), {"retry-after-ms": "10"})
    document = ingest(write(tmp_path, "photo.png", factory.png(page)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert [o[1:] for o in offers_of(document)] == [o[1:] for o in expected(rows, [""] * 3)]
    assert any(note.startswith("page 1: the LLM pass failed") for note in document.notes), document.notes


def test_prefer_llm_sends_a_text_pdf_to_the_model_and_is_ignored_without_enable_openai(settings, stub, tmp_path):
    pdf = factory.text_pdf(["Weekly offers", "iPhone 15 128GB Black $699"])
    settings.ENABLE_OPENAI = False
    settings.OPENAI_API_KEY = "test"
    settings.OPENAI_BASE_URL = stub.base_url
    off = ingest(write(tmp_path, "a.pdf", pdf), prefer_llm="true")
    assert off.status == SourceDocument.Status.SUCCEEDED and stub.requests == []
    assert off.notes[0] == "prefer_llm ignored: ENABLE_OPENAI is not true; the heuristics read it"
    assert [o[2] for o in offers_of(off)] == ["iPhone 15 128GB Black"]

    settings.ENABLE_OPENAI = True
    settings.OPENAI_MAX_RETRIES = 0
    stub.queue(200, OpenAIStub.answer([OpenAIStub.offer(2, "Apple iPhone 15 128GB Black", "$699")]))
    on = ingest_path(write(tmp_path, "b.pdf", pdf), vendor_name="Warehouse", options={"prefer_llm": "true"},
                     force=True)
    assert on.status == SourceDocument.Status.SUCCEEDED, on.extra
    assert [(o[0], o[2], o[4], o[5]) for o in offers_of(on)] == [
        ("page 1, line 2", "Apple iPhone 15 128GB Black", "699.00", "USD")]
    assert "[2] iPhone 15 128GB Black $699" in stub.requests[0].body["messages"][-1]["content"]


# --------------------------------------------------------------------------- page layout


def test_columns_come_from_the_gaps_most_lines_leave():
    words = []
    for y, (sku, name, price) in enumerate((("A1", "Pixel 8 Pro", "700"), ("B22", "iPhone 15", "650"),
                                            ("C3", "Galaxy S24 Ultra", "999"))):
        for text, x0, width in ((sku, 0, 20), (name, 60, len(name) * 5), (price, 200, 20)):
            words.append(Word(text, x0, y * 20, x0 + width, y * 20 + 10))
    words.append(Word("Title across everything", 0, -20, 230, -10))
    lines = group_lines(words)
    assert [line.text for line in lines][0] == "Title across everything"
    cuts = column_cuts(lines)
    assert len(cuts) == 2 and 20 < cuts[0] < 60 and 140 < cuts[1] < 200
    assert cells(lines[3], cuts) == ["C3", "Galaxy S24 Ultra", "999"]
    assert column_cuts(lines[:2]) == []  # too few lines for a table


def test_ocr_doubts_on_a_price_reject_the_offer_and_on_a_quantity_flag_it():
    from ingestion.ocr import Line
    from ingestion.processors.document_text import _checked_ocr
    from ingestion.types import OfferCandidate, RowError

    def line(quantity_confidence, price_confidence):
        return Line([Word("SKU-1", 0, 0, 10, 10, 30.0), Word("Flip6", 20, 0, 30, 10, 20.0),
                     Word("12", 40, 0, 50, 10, quantity_confidence), Word("330.49", 60, 0, 70, 10, price_confidence)])

    sure = _checked_ocr(OfferCandidate("page 1, line 3", price="330.49", quantity="12"), line(95.0, 91.0))
    assert sure.extra == {"read_by": "ocr", "ocr_confidence": 91.0}  # "SKU-1", "Flip6": not numbers
    flagged = _checked_ocr(OfferCandidate("page 1, line 3", price="330.49", quantity="12"), line(41.0, 91.0))
    assert flagged.extra["ocr_low_confidence"] == 41.0
    rejected = _checked_ocr(OfferCandidate("page 1, line 3", price="330.49"), line(95.0, 52.0))
    assert isinstance(rejected, RowError) and (rejected.field, rejected.value) == ("price", "330.49")
    assert rejected.message == "OCR is unsure of the price '330.49' (confidence 52%): check it against the page"


def test_an_s_read_as_a_dollar_in_a_galaxy_model_is_repaired_before_it_can_look_like_a_price():
    from ingestion.ocr import Line
    from ingestion.processors.document_text import _repair_misreads

    lines = [Line([Word(text, 0, 0, 1, 1) for text in "Galaxy $23 FE 512GB Pink 120.00".split()]),
             Line([Word(text, 0, 0, 1, 1) for text in "AirPods Pro $99".split()])]
    assert _repair_misreads(lines) == 1
    assert [line.text for line in lines] == ["Galaxy S23 FE 512GB Pink 120.00", "AirPods Pro $99"]



def test_two_lists_side_by_side_are_read_as_two_tables(tmp_path):
    left = [("iPhone 16 128GB", "749"), ("iPhone 16 Pro 256GB", "1049"), ("AirPods 4 ANC", "159")]
    right = [("Galaxy S25 256GB", "789"), ("Galaxy A56 256GB", "379"), ("Galaxy Buds3 Pro", "179")]
    document = ingest(write(tmp_path, "two.pdf", factory.side_by_side_pdf(left, right)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    got = [(o[0], o[1] or o[2], o[4]) for o in offers_of(document)]
    assert got == [(f"page 1, line {n}", model, f"{price}.00") for n, (model, price) in enumerate(left, start=3)] + [
        (f"page 1, block 2, line {n}", model, f"{price}.00") for n, (model, price) in enumerate(right, start=3)]
    assert document.stats["side_by_side_tables"] == 1


def test_a_page_footer_under_a_table_is_text_not_rows_without_a_price(tmp_path):
    rows = factory.rows(6, seed=12)
    pdf = factory.table_pdf(rows, per_page=3, ruled=False, footer="Page {page} - MobileDepot Miami, +1 305 555 0101")
    document = ingest(write(tmp_path, "footer.pdf", pdf))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert [o[1:] for o in offers_of(document)] == [o[1:] for o in expected(rows, [""] * 6)]
    assert document.stats["page_footer_lines"] == 2


def test_a_blank_scanned_page_is_a_note_and_a_page_turned_a_quarter_is_read_upright(tmp_path):
    from PIL import Image

    rows = factory.rows(5, seed=13)
    page = factory.render(factory.table_pdf(rows), dpi=200)[0]
    document = ingest(write(tmp_path, "scan.pdf", factory.scanned_pdf([Image.new("L", page.size, 255), page])))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert "page 1: blank: OCR found no text on it" in document.notes
    assert [o[0] for o in offers_of(document)][:1] == ["page 2, line 3"]
    turned = ingest(write(tmp_path, "turned.png", factory.png(page.rotate(90, expand=True))))
    assert turned.status == SourceDocument.Status.SUCCEEDED, turned.extra
    assert [(o[1], o[2], o[4]) for o in offers_of(turned)] == [(sku, model, price) for sku, model, _, price in rows]
    assert turned.stats["ocr_pages_turned"] == 1


def test_a_small_crop_with_large_letters_keeps_its_letters(tmp_path):
    rows = factory.rows(4, seed=14)
    page = factory.render(factory.table_pdf(rows), dpi=190)[0]
    crop = page.crop((100, 60, 1480, 420))  # the table only: 1,380 pixels across, read at twice the size
    document = ingest(write(tmp_path, "crop.png", factory.png(crop)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert [(o[1], o[2], o[4]) for o in offers_of(document)] == [(sku, model, price) for sku, model, _, price in rows]


@pytest.mark.parametrize("kind", ["black and white", "transparent", "dark mode"])
def test_a_fax_a_transparent_png_and_a_dark_mode_screenshot_are_read(tmp_path, kind):
    from PIL import Image, ImageOps

    rows = factory.rows(4, seed=15)
    page = factory.render(factory.table_pdf(rows), dpi=200)[0]
    if kind == "black and white":  # two grey levels only, as a fax or a 1-bit scan
        image = page.convert("1")
    elif kind == "transparent":  # black ink, the paper transparent
        image = Image.new("RGBA", page.size, (0, 0, 0, 0))
        image.putalpha(ImageOps.invert(page))
    else:
        image = ImageOps.invert(page)
    document = ingest(write(tmp_path, "page.png", factory.png(image)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert [(o[1], o[2], o[4]) for o in offers_of(document)] == [(sku, model, price) for sku, model, _, price in rows]


def test_with_the_pass_on_text_the_rules_read_no_offer_in_goes_to_the_model(openai_on, stub, tmp_path):
    pdf = factory.text_pdf(["Deals of the week", "iPhone 15 Pro 256 Natural - from 845 (MOQ 10)"])
    stub.queue(200, OpenAIStub.answer([OpenAIStub.offer(2, "iPhone 15 Pro 256 Natural", "845", quantity="10")]))
    document = ingest(write(tmp_path, "deals.pdf", pdf))
    assert [(o[0], o[2], o[4]) for o in offers_of(document)] == [("page 1, line 2", "iPhone 15 Pro 256 Natural",
                                                                 "845.00")]
    assert len(stub.requests) == 1 and any("read by the LLM" in note for note in document.notes)


def test_a_model_answer_with_no_offer_the_text_shows_leaves_the_text_to_the_rules(openai_on, stub, tmp_path):
    pdf = factory.text_pdf(["Weekly offers", "iPhone 15 128GB Black $699"])
    stub.queue(200, OpenAIStub.answer([OpenAIStub.offer(2, "iPhone 15 128GB Black", "$599")]))  # not on the line
    document = ingest(write(tmp_path, "offers.pdf", pdf), prefer_llm="true")
    assert [(o[2], o[4]) for o in offers_of(document)] == [("iPhone 15 128GB Black", "699.00")]
    assert document.errors[0]["value"] == "$599"
    assert any("gave no offer the text shows; the text offer extractor read it" in n for n in document.notes)


def test_lines_with_digits_that_gave_no_offer_are_named_in_a_note(tmp_path):
    pdf = factory.text_pdf(["iPhone 15 128GB Black $699", "Grand total: $1,123.00", "Call +44 20 7946 0958"])
    document = ingest(write(tmp_path, "offers.pdf", pdf))
    assert [o[2] for o in offers_of(document)] == ["iPhone 15 128GB Black"]
    assert document.notes[0].startswith("2 lines with digits gave no offer"), document.notes
    assert "page 1, line 2 'Grand total: $1,123.00'" in document.notes[0]


def test_a_net_and_a_gross_price_column_give_the_net_price(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for y, row in ((780, ("Artikel", "Netto", "Brutto")), (762, ("iPhone 15 128GB", "672,27 €", "800,00 €"))):
        for x, text in zip((50, 300, 420), row):
            pdf.drawString(x, y, text)
    pdf.line(45, 795, 520, 795)
    pdf.line(45, 775, 520, 775)
    pdf.line(45, 757, 520, 757)
    for x in (45, 290, 410, 520):
        pdf.line(x, 795, x, 757)
    pdf.save()
    document = ingest(write(tmp_path, "netto.pdf", buffer.getvalue()))
    assert [(o[1] or o[2], o[4], o[5]) for o in offers_of(document)] == [("iPhone 15 128GB", "672.27", "EUR")]


def test_a_product_column_without_a_header_word_is_taken_with_a_note(tmp_path):
    pdf = factory.ruled_tables_pdf([
        (("Phones", "Qty", "USD"), (("iPhone 15 128GB", "20", "699"), ("Galaxy S24 256GB", "12", "640"))),
        (("Accessory", "EAN", "Pack", "Price EUR"), (("Apple 20W USB-C charger", "0194252192300", "10", "14.50"),)),
    ])
    document = ingest(write(tmp_path, "tables.pdf", pdf))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    assert [(o[0], o[2], o[3], o[4], o[5]) for o in offers_of(document)] == [
        ("page 1, table 1, row 2", "iPhone 15 128GB", 20, "699.00", "USD"),
        ("page 1, table 1, row 3", "Galaxy S24 256GB", 12, "640.00", "USD"),
        ("page 1, table 2, row 2", "Apple 20W USB-C charger", None, "14.50", "EUR")]
    assert "page 1: the column 'Phones' is taken for the products" in document.notes[0]


def test_a_continued_unruled_table_with_an_empty_column_keeps_the_first_pages_columns(tmp_path):
    rows = factory.rows(8, seed=16)
    rows = rows[:4] + [(sku, model, "", price) for sku, model, _, price in rows[4:]]  # no quantities on page 2
    document = ingest(write(tmp_path, "two.pdf", factory.table_pdf(rows, per_page=4, ruled=False,
                                                                 repeat_header=False)))
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    got = offers_of(document)
    assert [(o[1], o[2], o[3], o[4]) for o in got] == [
        (sku, model, int(qty) if qty else None, price) for sku, model, qty, price in rows]
    assert [o[0] for o in got[4:]] == [f"page 2, line {n}" for n in range(1, 5)]
