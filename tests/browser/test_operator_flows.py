"""The operators' first flows, in a real browser against a live server.

Log in to the admin, upload a spreadsheet (refused without a vendor, then
taken), open its document and see its errors and offers. The upload's ingest
runs as a django-q2 task, in sync mode in the test settings, so the document
has its result when its page opens.
"""

from __future__ import annotations

import re

import pytest
from openpyxl import Workbook

from documents.models import SourceDocument
from offers.models import Offer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-operator-123"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def weekly_list(tmp_path):
    """An .xlsx as vendors send it: a title, a header, two offers and one row priced 'call'."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Prices"
    for row in [
        ["Acme weekly list"],
        [],
        ["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"],
        ["A3090", "iPhone 15 128GB Black", 750, 10, "New"],
        ["SM-S928B", "Galaxy S24 Ultra 256GB", "1045.00", 5, "Refurb B"],
        ["X1", "Pixel 8 Pro", "call", 1, "Used"],
    ]:
        sheet.append(row)
    path = tmp_path / "acme-week-48.xlsx"
    workbook.save(path)
    return path


def log_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    assert page.locator("#site-name").inner_text() == "PriceHub back office"


def test_log_in_upload_a_sheet_and_see_its_errors_and_offers(page, live_server, operator, weekly_list,
                                                            screenshot_dir):
    log_in(page, live_server.url)

    page.get_by_role("link", name="Source documents").first.click()
    page.get_by_role("link", name="Upload a price list").click()
    assert page.locator("h1").inner_text() == "Upload a price list"

    # Without a vendor a spreadsheet is refused, with the reason next to the field.
    page.set_input_files("#id_file", str(weekly_list))
    page.click("input[type=submit]")
    assert "acme-week-48.xlsx is read by the spreadsheet processor, which needs a vendor" in (
        page.locator(".form-row.errors").first.inner_text()
    )
    assert not SourceDocument.objects.exists()
    assert page.locator("#choose-file-again").is_visible()
    page.screenshot(path=str(screenshot_dir / "upload-refused.png"), full_page=True)

    page.set_input_files("#id_file", str(weekly_list))
    page.fill("#id_new_vendor", "Acme Mobile")
    page.fill("#id_currency", "EUR")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/documents/sourcedocument/\d+/change/$"))

    document = SourceDocument.objects.get()
    assert document.status == SourceDocument.Status.PARTIAL, document.extra
    assert f"queued for ingestion as document #{document.pk}" in page.locator(".messagelist .success").inner_text()
    assert page.locator(".field-status_badge").inner_text().endswith("Partial")
    errors = page.locator(".field-errors_table").inner_text()
    assert "Prices!6" in errors and "call" in errors
    offers = page.locator(".field-offers_preview").inner_text()
    assert "iPhone 15 128GB Black" in offers and "Galaxy S24 Ultra 256GB" in offers and "750" in offers
    assert page.locator("meta[http-equiv=refresh]").count() == 0  # finished: the page does not reload
    page.screenshot(path=str(screenshot_dir / "document-page.png"), full_page=True)

    page.get_by_role("link", name="All offers from this document").click()
    page.wait_for_url(re.compile(r"/admin/offers/offer/"))
    assert page.locator("#result_list tbody tr").count() == 2
    assert Offer.objects.filter(source_document=document, vendor__name="Acme Mobile").count() == 2
    page.screenshot(path=str(screenshot_dir / "document-offers.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/documents/sourcedocument/")
    assert "acme-week-48.xlsx" in page.locator("#result_list").inner_text()
    page.screenshot(path=str(screenshot_dir / "documents-list.png"), full_page=True)


def test_a_failed_document_is_corrected_and_reingested_from_its_page(page, live_server, operator, weekly_list,
                                                                    screenshot_dir):
    from ingestion.services import ingest_path

    failed = ingest_path(weekly_list)  # from the command line, without --vendor: every row has no vendor
    assert failed.status == SourceDocument.Status.FAILED
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/documents/sourcedocument/{failed.pk}/change/")
    assert "no vendor" in page.locator(".field-errors_table").inner_text()
    assert "Correct and re-ingest" in page.locator("#correct h2").inner_text()

    page.fill("#correct input[name=new_vendor]", "Acme Mobile")
    page.fill("#correct input[name=currency]", "EUR")
    page.screenshot(path=str(screenshot_dir / "failed-document.png"), full_page=True)
    page.click("#correct input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/documents/sourcedocument/\d+/change/$"))

    snapshot = SourceDocument.objects.exclude(pk=failed.pk).get()
    assert f"/{snapshot.pk}/change/" in page.url
    assert snapshot.previous_id == failed.pk and snapshot.status == SourceDocument.Status.PARTIAL
    assert "iPhone 15 128GB Black" in page.locator(".field-offers_preview").inner_text()


def test_a_pending_documents_page_reloads_until_the_ingest_ends(page, live_server, operator, weekly_list):
    from ingestion.services import process_document, register_file

    with open(weekly_list, "rb") as stream:
        document = register_file(stream, weekly_list.name, vendor_name="Acme Mobile", currency="EUR")
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/documents/sourcedocument/{document.pk}/change/")
    assert "This document is pending" in page.locator("#ingest-running").inner_text()
    assert page.locator(".field-status_badge").inner_text().endswith("Pending")

    process_document(document)  # as the worker would, while the page stays open
    page.locator(".field-status_badge", has_text="Partial").wait_for(timeout=15_000)
    assert page.locator("#ingest-running").count() == 0
    assert "iPhone 15 128GB Black" in page.locator(".field-offers_preview").inner_text()


def test_the_api_pages_render_in_the_browser_for_a_staff_session(page, live_server, operator, weekly_list, screenshot_dir):
    from ingestion.services import ingest_path

    document = ingest_path(weekly_list, vendor_name="Acme Mobile", currency="EUR")
    offer, product = document.offers.order_by("id").values_list("id", "product_id").first()
    log_in(page, live_server.url)
    for path, title in [("/documents", "Document List"), (f"/documents/{document.pk}", "Document Detail"),
                        ("/offers", "Offer List"), (f"/offers/{offer}", "Offer Detail"),
                        ("/products", "Product List"), (f"/products/{product}", "Product Detail"),
                        ("/vendors", "Vendor List"), (f"/price-history/product/{product}", "Product Price History")]:
        response = page.goto(live_server.url + path)
        assert response.status == 200, (path, response.status)
        assert page.title().startswith(title), (path, page.title())
    page.goto(f"{live_server.url}/offers?currency=EUR")
    assert "iPhone 15 128GB Black" in page.locator(".response-info").inner_text()
    page.get_by_role("button", name="Filters").click()
    page.locator("#filtersModal input[name=price_min]").wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir / "api-offers-filters.png"))
