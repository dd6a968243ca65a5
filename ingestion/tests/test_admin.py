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
    assert "iPhone 15 128GB Black" in page  # the offers it produced
    assert "offers_created" in page  # the stats
    download = staff_client.get(reverse("admin:documents_sourcedocument_download", args=[document.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == price_list.read_bytes()
    assert 'filename="acme.xlsx"' in download.headers["Content-Disposition"]


def test_upload_form_errors(staff_client, price_list):
    response = upload(staff_client, price_list, currency="DOLLARZ")
    assert response.status_code == 200 and b"not a known currency" in response.content
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
