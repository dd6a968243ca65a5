import pytest
from django.urls import reverse

from documents.models import SourceDocument
from offers.models import Offer

pytestmark = pytest.mark.django_db


def upload(client, path, **fields):
    with open(path, "rb") as handle:
        return client.post(reverse("admin:documents_sourcedocument_upload"), {"file": handle, **fields})


def test_upload_ingests_in_a_task_and_the_page_shows_the_result(staff_client, price_list):
    response = upload(staff_client, price_list, new_vendor="Acme", processor="spreadsheet", currency="eur")
    assert response.status_code == 302, response.content
    document = SourceDocument.objects.get()
    assert document.status == "partial"  # the django-q2 task ran (sync in tests)
    assert document.trigger == "upload"
    assert Offer.objects.filter(source_document=document, currency="EUR").count() == 1  # 750 bare -> --currency
    page = staff_client.get(response.headers["Location"]).content.decode()
    assert "Prices!6" in page and "call" in page  # the errors table
    assert "iPhone 15 128GB Black" in page and "Apple iPhone 15 128GB" in page  # the offers: line, product
    assert "offers_created" in page  # the stats
    download = staff_client.get(reverse("admin:documents_sourcedocument_download", args=[document.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == price_list.read_bytes()
    assert 'filename="acme.xlsx"' in download.headers["Content-Disposition"]


def test_upload_form_errors(staff_client, price_list):
    response = upload(staff_client, price_list, currency="DOLLARZ")
    assert response.status_code == 200 and b"not an ISO 4217 currency code" in response.content
    response = staff_client.post(reverse("admin:documents_sourcedocument_upload"), {})
    assert b"This field is required" in response.content
    assert SourceDocument.objects.count() == 0


def test_upload_over_the_limit_is_refused_and_nothing_is_kept(staff_client, price_list, settings):
    settings.INGESTION_MAX_FILE_BYTES = 1024
    files_before = sorted(p for p in settings.INGESTION_STORAGE_DIR.rglob("*") if p.is_file())
    response = upload(staff_client, price_list, new_vendor="Acme")
    assert response.status_code == 200
    assert b"larger than the 1,024-byte limit" in response.content
    assert SourceDocument.objects.count() == 0
    assert sorted(p for p in settings.INGESTION_STORAGE_DIR.rglob("*") if p.is_file()) == files_before


def test_upload_needs_staff(client, price_list, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="u", password="pw-u-12345"))
    response = upload(client, price_list)
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]
    assert SourceDocument.objects.count() == 0


def test_reingest_action_creates_new_snapshots(staff_client, price_list):
    from ingestion.services import ingest_path

    first = ingest_path(price_list, vendor_name="Acme")
    response = staff_client.post(
        reverse("admin:documents_sourcedocument_changelist"),
        {"action": "reingest_selected", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    second = SourceDocument.objects.exclude(pk=first.pk).get()
    assert second.previous_id == first.pk and second.trigger == "reingest"
    assert second.status == "partial" and second.stored_path == first.stored_path
    assert Offer.objects.filter(source_document=second).count() == 2


def test_vendor_price_template_download(token_client, client):
    response = token_client.get("/documents/templates/vendor-price")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response.content[:2] == b"PK"
    assert client.get("/documents/templates/vendor-price").status_code == 401


def test_template_round_trip_ingests_with_zero_errors(token_client, tmp_path):
    from ingestion.services import ingest_path

    path = tmp_path / "template.xlsx"
    path.write_bytes(token_client.get("/documents/templates/vendor-price").content)
    document = ingest_path(path, vendor_name="Template Traders", currency="USD")
    assert document.status == "succeeded", document.errors
    assert document.stats["offers_created"] >= 3 and document.errors == []


# --------------------------------------------------------------------------- a vendor where the processor needs one

CHAT = (
    "12/03/2024, 14:05 - Mario Phones: NEW SEALED\n"
    "iPhone 15 128GB - $750\n"
    "12/03/2024, 14:07 - Ana Buyer: how much for the pixel?\n"
    "13/03/2024, 09:00 - Lina Cell: Pixel 8 Pro @ 640 usd x5\n"
)


def stored_files(settings):
    return sorted(p for p in settings.INGESTION_STORAGE_DIR.rglob("*") if p.is_file())


@pytest.mark.parametrize("processor", ["", "spreadsheet"])
def test_a_spreadsheet_cannot_be_uploaded_without_a_vendor(staff_client, price_list, settings, processor):
    files_before = stored_files(settings)
    response = upload(staff_client, price_list, processor=processor, currency="EUR")
    assert response.status_code == 200
    page = response.content.decode()
    assert "acme.xlsx is read by the spreadsheet processor, which needs a vendor" in page
    assert SourceDocument.objects.count() == 0
    assert stored_files(settings) == files_before


def test_a_csv_without_a_vendor_is_refused_too(staff_client, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("model,price\niPhone 15,750\n", encoding="utf-8")
    response = upload(staff_client, path)
    assert response.status_code == 200 and b"which needs a vendor" in response.content
    assert SourceDocument.objects.count() == 0


def test_a_chat_transcript_may_go_without_a_vendor(staff_client, tmp_path):
    from offers.models import Vendor

    path = tmp_path / "WhatsApp Chat with Deals.txt"
    path.write_text(CHAT, encoding="utf-8")
    response = upload(staff_client, path)  # processor left on "detect"
    assert response.status_code == 302, response.content
    document = SourceDocument.objects.get()
    assert document.processor == "whatsapp_text" and document.vendor is None
    assert document.status in ("succeeded", "partial")
    senders = set(Offer.objects.filter(source_document=document).values_list("vendor__name", flat=True))
    assert senders == {"Mario Phones", "Lina Cell"}
    assert Vendor.objects.get(name="Lina Cell").is_provisional


def test_a_telegram_chat_may_go_without_a_vendor_too(staff_client, tmp_path):
    path = tmp_path / "telegram copy.txt"
    path.write_text("Gadget Hub, [12.09.2025 10:02]\niPhone 15 128GB Black 750 USD\n\n"
                    "Gadget Hub, [12.09.2025 10:05]\nPixel 8 Pro 640 USD\n", encoding="utf-8")
    response = upload(staff_client, path)
    assert response.status_code == 302, response.content
    document = SourceDocument.objects.get()
    assert document.processor == "telegram" and document.vendor is None


def test_a_file_no_processor_reads_asks_for_a_processor(staff_client, tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x00\x01\x02 nothing to read")
    response = upload(staff_client, path, new_vendor="Acme")
    assert response.status_code == 200
    assert b"cannot tell what kind of file notes.bin is; PriceHub reads spreadsheet" in response.content
    assert b"choose the processor if it is one of these" in response.content
    assert SourceDocument.objects.count() == 0


def test_options_are_checked_for_the_processor_that_reads_the_file(staff_client, price_list, tmp_path):
    response = upload(staff_client, price_list, new_vendor="Acme", options="colour=red")
    assert response.status_code == 200
    assert b"unknown option &#x27;colour&#x27; for the spreadsheet processor; known options: encoding" in (
        response.content
    )
    chat = tmp_path / "chat.txt"
    chat.write_text(CHAT, encoding="utf-8")
    response = upload(staff_client, chat, options="day_first=maybe")
    assert b"option day_first=&#x27;maybe&#x27; is not a boolean" in response.content
    assert SourceDocument.objects.count() == 0
    assert upload(staff_client, price_list, new_vendor="Acme", options="delimiter=;").status_code == 302
    assert upload(staff_client, chat, options="day_first=yes").status_code == 302
    assert SourceDocument.objects.order_by("id").last().options["options"] == {"day_first": "true"}


def test_a_blank_file_is_refused_and_nothing_is_kept(staff_client, tmp_path, settings):
    files_before = stored_files(settings)
    path = tmp_path / "list.csv"
    path.write_text("\n  \n", encoding="utf-8")
    response = upload(staff_client, path, new_vendor="Acme")
    assert response.status_code == 200 and b"the file holds nothing but blank space" in response.content
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == files_before


# --------------------------------------------------------------------------- correct and re-ingest a failed document


@pytest.fixture
def failed_document(price_list):
    """The price list read as a chat (recorded so before such a request was refused): nothing in it
    is a chat message, so the ingest fails."""
    from ingestion.services import process_document, register_file

    with open(price_list, "rb") as stream:
        document = register_file(stream, price_list.name, currency="USD")
    document.processor, document.options["options"] = "whatsapp_text", {"day_first": "true"}
    document.save()
    document = process_document(document)
    assert document.status == SourceDocument.Status.FAILED
    return document


def test_a_failed_documents_page_offers_to_correct_and_reingest(staff_client, failed_document):
    page = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[failed_document.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Correct and re-ingest" in html
    assert reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk]) in html
    assert 'value="whatsapp_text" selected' in html  # starts from the document's values
    assert "day_first=true" in html
    assert 'http-equiv="refresh"' not in html


def test_correcting_a_failed_document_reingests_it_with_the_new_values(staff_client, failed_document):
    url = reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk])
    response = staff_client.post(url, {"new_vendor": "Acme", "processor": "spreadsheet", "currency": "eur",
                                       "options": ""})
    assert response.status_code == 302, response.content
    snapshot = SourceDocument.objects.exclude(pk=failed_document.pk).get()
    assert response.headers["Location"] == reverse("admin:documents_sourcedocument_change", args=[snapshot.pk])
    assert snapshot.previous_id == failed_document.pk and snapshot.trigger == "reingest"
    assert snapshot.vendor.name == "Acme" and snapshot.processor == "spreadsheet"
    assert snapshot.options == {"currency": "EUR", "options": {}}
    assert snapshot.stored_path == failed_document.stored_path
    assert snapshot.status == "partial"  # the task ran (sync in tests): two offers, the 'call' row rejected
    assert Offer.objects.filter(source_document=snapshot, vendor__name="Acme").count() == 2
    failed_document.refresh_from_db()  # the failed snapshot stays the record of what was tried
    assert failed_document.status == "failed" and failed_document.vendor is None
    assert failed_document.processor == "whatsapp_text"
    assert failed_document.options["options"] == {"day_first": "true"}


def test_a_correction_is_checked_like_an_upload(staff_client, failed_document):
    url = reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk])
    response = staff_client.post(url, {"processor": "spreadsheet", "currency": "DOLLARZ"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "which needs a vendor" in html and "not an ISO 4217 currency code" in html
    response = staff_client.post(url, {"new_vendor": "Acme", "processor": "", "options": "no-equals-sign"})
    assert b"is not key=value" in response.content
    # the chat's option, left in place when the processor is corrected to spreadsheet
    response = staff_client.post(url, {"new_vendor": "Acme", "processor": "spreadsheet", "options": "day_first=true"})
    assert b"unknown option &#x27;day_first&#x27; for the spreadsheet processor" in response.content
    assert SourceDocument.objects.count() == 1


def test_a_correction_left_on_detect_detects_the_stored_file(staff_client, failed_document):
    url = reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk])
    assert staff_client.post(url, {"new_vendor": "Acme", "processor": ""}).status_code == 302
    assert SourceDocument.objects.exclude(pk=failed_document.pk).get().processor == "spreadsheet"


def test_a_running_document_is_not_reingested_and_its_page_reloads(staff_client, build):
    for status in ("pending", "processing"):
        document = build.document(status=status)
        html = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[document.pk])).content.decode()
        assert '<meta http-equiv="refresh" content="3">' in html, status
        assert f"This document is {status}" in html and "Correct and re-ingest" not in html
        url = reverse("admin:documents_sourcedocument_reingest", args=[document.pk])
        response = staff_client.post(url, {"new_vendor": "Acme", "processor": "spreadsheet"})
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/{document.pk}/change/")
    assert SourceDocument.objects.count() == 2


def test_a_finished_documents_page_does_not_reload(staff_client, build):
    document = build.document(status="succeeded")
    html = staff_client.get(reverse("admin:documents_sourcedocument_change", args=[document.pk])).content.decode()
    assert 'http-equiv="refresh"' not in html and "Correct and re-ingest" not in html


def test_reingest_view_needs_staff(client, failed_document, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="u", password="pw-u-12345"))
    url = reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk])
    response = client.post(url, {"new_vendor": "Acme", "processor": "spreadsheet"})
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]
    assert SourceDocument.objects.count() == 1


def test_a_document_whose_stored_file_is_gone_cannot_be_reingested(staff_client, failed_document, settings):
    (settings.INGESTION_STORAGE_DIR / failed_document.stored_path).unlink()
    url = reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk])
    response = staff_client.post(url, {"new_vendor": "Acme", "processor": "spreadsheet"})
    assert response.status_code == 200
    assert b"the stored copy of acme.xlsx is missing from storage: upload the file again" in response.content
    assert SourceDocument.objects.count() == 1


def test_an_empty_correction_says_what_is_missing(staff_client, failed_document):
    url = reverse("admin:documents_sourcedocument_reingest", args=[failed_document.pk])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {})  # nothing chosen: detect finds a spreadsheet, which needs a vendor
    assert response.status_code == 200 and b"which needs a vendor" in response.content
    assert SourceDocument.objects.count() == 1


def test_uploading_unchanged_content_tells_the_operator_and_ingest_again_forces_it(staff_client, price_list):
    first = upload(staff_client, price_list, new_vendor="Acme", currency="EUR")
    assert first.status_code == 302
    earlier = SourceDocument.objects.get()
    again = upload(staff_client, price_list, vendor=earlier.vendor_id, currency="EUR")
    page = again.content.decode()
    assert again.status_code == 200 and SourceDocument.objects.count() == 1
    assert f"already ingested as document #{earlier.pk}" in page
    assert f'href="{reverse("admin:documents_sourcedocument_change", args=[earlier.pk])}"' in page
    assert "tick &quot;Ingest again&quot;" in page or 'tick "Ingest again"' in page
    forced = upload(staff_client, price_list, vendor=earlier.vendor_id, currency="EUR", force="on")
    assert forced.status_code == 302 and SourceDocument.objects.count() == 2
