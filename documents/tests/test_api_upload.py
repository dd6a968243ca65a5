"""POST /documents: a script uploads a price list with a write token; it is stored, queued and
ingested (the django-q2 task runs at once in tests), and every refusal says why."""

import json

import pytest
from openpyxl import Workbook
from rest_framework.test import APIClient

from documents.models import SourceDocument
from offers.models import Offer
from pricehub.tokens import issue_token

pytestmark = pytest.mark.django_db


def write_xlsx(path, rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Prices"
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


@pytest.fixture
def price_list(tmp_path):
    return write_xlsx(tmp_path / "acme.xlsx", [
        ["MODEL/SKU", "DESCRIPTION", "PRICE", "QTY", "CONDITION"],
        ["A3090", "iPhone 15 128GB Black", 750, 10, "New"],
        ["SM-S928B", "Galaxy S24 Ultra 256GB", 1045, 5, "Refurbished B"],
    ])


@pytest.fixture
def user(django_user_model, grant_upload):
    return grant_upload(django_user_model.objects.create_user(username="uploader", password="pw-up-12345"))


def client_with(user, scope):
    _, key = issue_token(user, name=f"{scope} script", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def upload(client, path, **fields):
    with open(path, "rb") as handle:
        return client.post("/documents", {"file": handle, **fields}, format="multipart")


def stored_files(settings):
    return sorted(p for p in settings.INGESTION_STORAGE_DIR.rglob("*") if p.is_file())


def test_a_write_token_uploads_and_the_document_is_ingested(user, price_list):
    client = client_with(user, "write")
    response = upload(client, price_list, vendor="Acme", processor="spreadsheet", currency="eur",
                      option=["delimiter=;", "prefer_llm=false"])
    assert response.status_code == 202, response.content
    body = response.json()
    document = SourceDocument.objects.get(pk=body["id"])
    assert body["url"] == f"http://testserver/documents/{document.pk}" == response.headers["Location"]
    assert (document.trigger, document.vendor.name, document.original_filename) == ("upload", "Acme", "acme.xlsx")
    assert document.options["currency"] == "EUR" and document.options["options"] == {"delimiter": ";", "prefer_llm": "false"}
    assert body["status"] == document.status == "succeeded"  # the task ran (sync in tests)
    assert Offer.objects.filter(source_document=document, currency="EUR").count() == 2
    polled = client.get(body["url"]).json()
    assert polled["status"] == "succeeded" and polled["stats"]["offers_created"] == 2


def test_a_read_token_may_not_upload(user, price_list, settings):
    before = stored_files(settings)
    response = upload(client_with(user, "read"), price_list, vendor="Acme")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == before


def test_a_write_token_of_a_user_who_may_not_change_documents_may_not_upload(django_user_model, price_list,
                                                                             settings):
    plain = django_user_model.objects.create_user(username="reporting", password="pw-r-12345")
    before = stored_files(settings)
    response = upload(client_with(plain, "write"), price_list, vendor="Acme")
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "'reporting'" in detail and "documents.change_sourcedocument" in detail
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == before


def test_a_staff_session_with_the_permission_uploads_one_without_may_not(staff_client, client, price_list,
                                                                        django_user_model):
    with open(price_list, "rb") as handle:
        response = staff_client.post("/documents", {"file": handle, "vendor": "Acme"})
    assert response.status_code == 202, response.content
    client.force_login(django_user_model.objects.create_user(username="viewer", password="pw-v-12345",
                                                             is_staff=True))
    with open(price_list, "rb") as handle:
        response = client.post("/documents", {"file": handle, "vendor": "Other"})
    assert response.status_code == 403 and "change-document permission" in response.json()["detail"]
    assert SourceDocument.objects.count() == 1


def test_a_session_upload_needs_the_csrf_token(staff_user, price_list):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    with open(price_list, "rb") as handle:
        response = browser.post("/documents", {"file": handle, "vendor": "Acme"})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert SourceDocument.objects.count() == 0


def test_unchanged_content_is_409_naming_the_earlier_document_and_force_ingests_again(user, price_list):
    client = client_with(user, "write")
    first = upload(client, price_list, vendor="Acme").json()
    response = upload(client, price_list, vendor="Acme")
    assert response.status_code == 409
    body = response.json()
    assert body["document"]["id"] == first["id"] and body["document"]["url"] == first["url"]
    assert f"document #{first['id']}" in body["detail"] and "force=true" in body["detail"]
    assert SourceDocument.objects.count() == 1
    forced = upload(client, price_list, vendor="Acme", force="true")
    assert forced.status_code == 202 and forced.json()["id"] != first["id"]
    assert SourceDocument.objects.count() == 2


@pytest.mark.parametrize("fields, message", [
    ({"processor": "nope"}, "nope"),
    ({"currency": "DOLLARZ"}, "not an ISO 4217 currency code"),
    ({"option": ["colour=red"]}, "colour"),
    ({"option": ["colour"]}, "'colour' is not KEY=VALUE"),
    ({"option": ["delimiter=;", "delimiter=,"]}, "option 'delimiter' is given twice"),
    ({"vendr": "Acme"}, "unknown field(s) 'vendr'; valid ones: file, vendor, processor, currency, option, force"),
    ({"force": "maybe"}, "Must be a valid boolean"),
])
def test_a_bad_request_is_400_saying_why_and_nothing_is_kept(user, price_list, settings, fields, message):
    before = stored_files(settings)
    response = upload(client_with(user, "write"), price_list, vendor="Acme", **fields)
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json()), response.json()
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == before


def test_a_spreadsheet_without_a_vendor_is_400_and_a_chat_may_go_without(user, price_list, tmp_path, settings):
    client = client_with(user, "write")
    before = stored_files(settings)
    response = upload(client, price_list)
    assert response.status_code == 400
    assert response.json()["vendor"] == [
        "acme.xlsx is read by the spreadsheet processor, which needs a vendor: send vendor=NAME (only chat "
        "transcripts can go without, their senders becoming provisional vendors)"
    ]
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == before
    chat = tmp_path / "WhatsApp Chat with Acme.txt"
    chat.write_text("12/11/2026, 10:15 - Ravi Traders: iPhone 15 128GB Black 68500\n", encoding="utf-8")
    response = upload(client, chat)
    assert response.status_code == 202, response.content
    assert SourceDocument.objects.get().processor == "whatsapp_text"


def test_an_empty_file_and_a_missing_file_are_400(user, tmp_path):
    client = client_with(user, "write")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    response = upload(client, empty, vendor="Acme")
    assert response.status_code == 400 and "empty" in json.dumps(response.json()).lower()
    response = client.post("/documents", {"vendor": "Acme"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    assert client.post("/documents", {"vendor": "Acme"}, format="json").status_code == 415


def test_a_file_over_the_limit_is_413_naming_the_limit_and_nothing_is_kept(user, price_list, settings):
    settings.INGESTION_MAX_FILE_BYTES = 1024
    before = stored_files(settings)
    response = upload(client_with(user, "write"), price_list, vendor="Acme")
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "acme.xlsx is larger than the 1,024-byte limit" in detail and "INGESTION_MAX_FILE_BYTES" in detail
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == before


def test_a_body_declared_far_over_the_limit_is_413_without_reading_the_file(user, tmp_path, settings):
    settings.INGESTION_MAX_FILE_BYTES = 1024
    big = tmp_path / "big.csv"
    big.write_bytes(b"MODEL/SKU,DESCRIPTION,PRICE\n" + b"A1,Phone,100\n" * 20_000)  # 260 KB > 1 KB + allowance
    before = stored_files(settings)
    response = upload(client_with(user, "write"), big, vendor="Acme")
    assert response.status_code == 413
    assert "larger than the 1,024-byte limit" in response.json()["detail"]
    assert SourceDocument.objects.count() == 0 and stored_files(settings) == before


def test_the_upload_is_in_the_openapi_schema(user):
    schema = client_with(user, "read").get("/api/schema?format=json").json()
    post = schema["paths"]["/documents"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["$ref"].endswith("/DocumentUpload")
    fields = schema["components"]["schemas"]["DocumentUpload"]["properties"]
    assert set(fields) == {"file", "vendor", "processor", "currency", "option", "force"}
    assert fields["file"]["format"] == "binary"
    assert {"202", "400", "403", "409", "413"} <= set(post["responses"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]
