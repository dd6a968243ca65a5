"""An operator uploads a photo of a price list in the admin and reads, on its document's page, how
it was read (OCR, in the notes), its offers with their page and line, and its stats."""

from __future__ import annotations

import re

import pytest

from documents.models import SourceDocument
from tests import document_factory as factory
from tests.browser.test_operator_flows import log_in, operator  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_a_photo_of_a_price_list_and_see_how_it_was_read(page, live_server, operator, tmp_path,  # noqa: F811
                                                               screenshot_dir):
    rows = factory.rows(4, seed=31)
    photo = tmp_path / "whatsapp-photo.jpg"
    photo.write_bytes(factory.jpeg(factory.photo(factory.render(factory.table_pdf(rows), dpi=250)[0], seed=2),
                                   quality=70))
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/documents/sourcedocument/upload/")
    page.set_input_files("#id_file", str(photo))
    page.fill("#id_new_vendor", "Warehouse")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/documents/sourcedocument/\d+/change/$"))

    document = SourceDocument.objects.get()
    assert (document.processor, document.status) == ("document_text", SourceDocument.Status.SUCCEEDED), document.extra
    assert page.locator(".field-status_badge").inner_text().endswith("Succeeded")
    assert "read by OCR (tesseract)" in page.locator(".field-notes_list").inner_text()
    offers = page.locator(".field-offers_preview").inner_text()
    for sku, model, _, price in rows:
        assert model in offers and price in offers.replace(",", ""), (model, price, offers)
    assert "pages_ocr" in page.locator(".field-stats_table").inner_text()
    page.screenshot(path=str(screenshot_dir / "document-photo.png"), full_page=True)
