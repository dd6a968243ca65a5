"""Attachments of ingested messages: a spreadsheet is stored and ingested like an upload, a PDF or
an image is read by the document processor (document_text), and a bad, oversized or unsupported one counts
``media_failed`` while the message's text still lands."""

from __future__ import annotations

import base64
import io
import json

import pytest

from django.utils import timezone

from documents import storage
from documents.models import SourceDocument
from offers.models import Offer
from ingestion import services
from tests import document_factory
from whatsapp import counters, ingest
from whatsapp.models import Chat, Message
from whatsapp.tests.test_auth import configured, headers, post  # noqa: F401

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"  # stored, unreadable
CSV = b"SKU,Description,Price,Qty,Condition\nPX8P-128,Pixel 8 Pro 128GB,$750.00,5,New\nIP15-128,iPhone 15 128GB,$699.00,3,New\n"


def media(data: bytes, filename: str, mime_type: str = "application/octet-stream") -> dict:
    return {"filename": filename, "mime_type": mime_type, "data_base64": base64.b64encode(data).decode()}


def send(client, *messages, client_id: str = "collector-1"):
    body = json.dumps({"client_id": client_id, "messages": list(messages)}).encode()
    response = post(client, body, **headers(body))
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def storage_dir(settings, tmp_path):
    settings.INGESTION_STORAGE_DIR = str(tmp_path / "storage")
    return tmp_path / "storage"


def test_a_spreadsheet_attachment_is_stored_and_ingested_like_an_upload(client, configured, storage_dir, build):
    vendor = build.vendor("Acme Phones")
    Chat.objects.create(external_id="g-acme", title="Acme", vendor=vendor)
    answer = send(client, {"chat_title": "Acme", "chat_id": "g-acme", "text": "today's list",
                           "media": media(CSV, "../../etc/prices list.csv", "text/csv")})
    assert answer["created"] == 1
    message = Message.objects.select_related("media_document").get()
    document = message.media_document
    assert document is not None and message.media_error == ""
    assert document.trigger == SourceDocument.Trigger.WHATSAPP and document.vendor == vendor
    assert document.original_filename == "prices list.csv"  # metadata only: never a path
    assert document.stored_path == f"{document.sha256[:2]}/{document.sha256}.csv"
    assert storage.resolve(document.stored_path).read_bytes() == CSV
    document.refresh_from_db()
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra  # the suite's task queue runs at once
    assert Offer.objects.filter(source_document=document).count() == 2
    assert counters.totals()["media_failed"] == 0


def test_a_pdf_and_a_photo_are_read_by_the_document_processor(client, configured, storage_dir):
    listed = document_factory.rows(6, seed=11)
    pdf = document_factory.table_pdf(listed[:3])
    scan = document_factory.png(document_factory.render(document_factory.table_pdf(listed[3:]), dpi=200)[0])
    answer = send(client, {"chat_title": "Deals", "text": "catalogue", "media": media(pdf, "catalogue.pdf", "application/pdf")},
                  {"chat_title": "Deals", "text": "", "media": media(scan, "photo.png", "image/png")})
    assert (answer["created"], answer["skipped"]) == (2, 0)
    documents = {doc.original_filename: doc for doc in SourceDocument.objects.all()}
    assert set(documents) == {"catalogue.pdf", "photo.png"}
    chat = Chat.objects.get(title="Deals")
    for name, expected in (("catalogue.pdf", listed[:3]), ("photo.png", listed[3:])):
        document = documents[name]
        document.refresh_from_db()  # the suite's task queue runs at once
        assert (document.processor, document.trigger) == ("document_text", SourceDocument.Trigger.WHATSAPP)
        assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
        assert document.vendor == chat.provisional_vendor  # where the chat's messages' offers go
        assert document.whatsapp_messages.count() == 1
        got = {(o.sku, o.description, f"{o.price:.2f}", o.currency) for o in Offer.objects.filter(source_document=document)}
        assert got == {(sku, model, price, "USD") for sku, model, _, price in expected}
    assert storage.resolve(documents["photo.png"].stored_path).read_bytes() == scan


def test_attachments_kept_pending_by_earlier_versions_are_queued_for_the_document_processor(storage_dir, build):
    """Before document_text, a PDF or image was stored pending with options["awaiting"]; the
    documents' recovery (every minute) now queues each for document_text, under its message's vendor."""
    vendor = build.vendor("Acme Phones")
    chat = Chat.objects.create(external_id="g-acme", title="Acme", vendor=vendor)
    pdf = document_factory.table_pdf(document_factory.rows(4, seed=5))
    stored = storage.store_stream(io.BytesIO(pdf), "old.pdf")
    document = SourceDocument.objects.create(
        original_filename="old.pdf", stored_path=stored.relative_path, sha256=stored.sha256, size=stored.size,
        trigger=SourceDocument.Trigger.WHATSAPP,
        options={"awaiting": ingest.AWAITING_DOCUMENT_PROCESSOR, "kind": "pdf", "whatsapp_message": 1},
    )
    Message.objects.create(chat=chat, external_id="m1", sender="Ann", text="", sent_at=timezone.now(), content_hash="x",
                           media_document=document)
    done = services.recover_stale_documents()
    assert [(d.pk, what.split(":")[0]) for d, what in done] == [(document.pk, "queued for document_text")]
    document.refresh_from_db()
    assert (document.processor, document.vendor, document.status) == ("document_text", vendor, "succeeded")
    assert "awaiting" not in document.options and document.options["kind"] == "pdf"
    assert Offer.objects.filter(source_document=document).count() == 4
    assert services.recover_stale_documents() == []  # released once


@pytest.mark.parametrize("attachment, reason", [
    ({"filename": "x.csv", "mime_type": "text/csv", "data_base64": "not base64 at all!"}, "not valid base64"),
    ({"filename": "x.csv", "data_base64": "é"}, "non-ASCII"),
    ({"mime_type": "text/csv", "data_base64": "QUJD"}, "filename is required"),
    ({"filename": "x.csv", "data_base64": 5}, "data_base64 is required"),
    ({"filename": "x.csv", "data_base64": ""}, "empty"),
    ("a string", "must be an object"),
    ({"filename": "run.exe", "data_base64": base64.b64encode(b"MZ\x90\x00" + bytes(range(256))).decode()},
     "not a file PriceHub reads"),
])
def test_a_bad_attachment_counts_media_failed_and_the_text_lands(client, configured, storage_dir, attachment, reason):
    answer = send(client, {"chat_title": "Deals", "text": "price list attached", "media": attachment})
    assert (answer["created"], answer["skipped"]) == (1, 0)
    message = Message.objects.get()
    assert message.text == "price list attached" and message.media_document is None
    assert reason in message.media_error, message.media_error
    assert counters.totals()["media_failed"] == 1
    assert counters.per_chat()[message.chat_id]["media_failed"] == 1
    failure = counters.recent_failures()[0]
    assert (failure["status"], failure["client_id"], failure["chat_title"]) == (200, "collector-1", "Deals")
    assert reason in failure["reason"]
    assert not SourceDocument.objects.exists()


def test_an_oversized_attachment_is_refused_before_decoding(client, configured, storage_dir, monkeypatch):
    configured.WHATSAPP_MEDIA_MAX_BYTES = 1000
    decoded = []
    real = base64.b64decode
    monkeypatch.setattr(ingest.base64, "b64decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    answer = send(client, {"chat_title": "Deals", "text": "big one", "media": media(b"x" * 1500, "big.csv")})
    assert answer["created"] == 1 and not decoded  # refused on the encoded length alone
    assert "1,000-byte limit" in Message.objects.get().media_error
    # Just over the limit, where only the decoded size tells: decoded, then refused.
    answer = send(client, {"chat_title": "Deals", "text": "just over", "media": media(b"y" * 1001, "big.csv")})
    assert answer["created"] == 1 and decoded
    assert counters.totals()["media_failed"] == 2
    # At the limit: kept.
    at_limit = b"SKU,Price\n" + b"A,1\n" * 246 + b"B,22\n"
    assert len(at_limit) <= 1000
    send(client, {"chat_title": "Deals", "text": "at limit", "media": media(at_limit, "ok.csv")})
    assert Message.objects.get(text="at limit").media_document is not None


def test_a_message_with_only_a_bad_attachment_is_skipped_and_counted(client, configured, storage_dir):
    answer = send(client, {"chat_title": "Deals", "media": {"filename": "x.csv", "data_base64": "%%%"}},
                  {"chat_title": "Deals", "text": "fine"})
    assert (answer["created"], answer["skipped"]) == (1, 1)
    assert "neither text nor an attachment" in answer["errors"][0]["detail"]
    assert counters.totals()["media_failed"] == 1


def test_an_attachment_only_message_is_stored_and_deduped_by_the_files_digest(client, configured, storage_dir):
    first = send(client, {"chat_title": "Deals", "media": media(PDF, "a.pdf")})
    again = send(client, {"chat_title": "Deals", "media": media(PDF, "renamed.pdf")},
                 {"chat_title": "Deals", "media": media(PDF + b"%x\n", "a.pdf")})
    assert (first["created"], again["created"], again["deduped"]) == (1, 1, 1)
    assert SourceDocument.objects.count() == 2


def test_the_same_spreadsheet_in_another_chat_links_the_document_already_ingested(client, configured, storage_dir,
                                                                                   build):
    vendor = build.vendor("Acme Phones")
    Chat.objects.create(external_id="g-a", title="A", vendor=vendor)
    Chat.objects.create(external_id="g-b", title="B", vendor=vendor)
    send(client, {"chat_id": "g-a", "chat_title": "A", "text": "list", "media": media(CSV, "prices.csv")})
    send(client, {"chat_id": "g-b", "chat_title": "B", "text": "list", "media": media(CSV, "prices.csv")})
    documents = set(Message.objects.values_list("media_document", flat=True))
    assert len(documents) == 1 and None not in documents
    assert counters.totals()["media_failed"] == 0


def test_a_spreadsheet_from_an_unmapped_chat_goes_to_the_chats_provisional_vendor_as_its_texts_offers_do(
        client, configured, storage_dir):
    from whatsapp.models import Chat

    send(client, {"chat_title": "Group", "text": "list", "sender": "Bob Phones", "media": media(CSV, "prices.csv")})
    send(client, {"chat_title": "Group", "text": "list 2", "media": media(CSV.replace(b"750", b"751"), "p2.csv")})
    documents = list(SourceDocument.objects.select_related("vendor").order_by("id"))
    chat = Chat.objects.get()
    assert [d.vendor_id for d in documents] == [chat.provisional_vendor_id] * 2  # with a sender or without
    assert documents[0].vendor.name == "Group (WhatsApp)" and documents[0].vendor.is_provisional
    assert [d.status for d in documents] == [SourceDocument.Status.SUCCEEDED] * 2


def test_a_spreadsheet_from_a_mapped_sender_goes_to_the_senders_vendor(client, configured, storage_dir):
    from offers.models import Vendor, VendorAlias
    from offers.vendors import alias_key

    vendor = Vendor.objects.create(name="Bob Phones")
    VendorAlias.objects.create(vendor=vendor, kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=alias_key("Bob Phones"))
    send(client, {"chat_title": "Group", "text": "list", "sender": "Bob Phones", "media": media(CSV, "prices.csv")})
    assert SourceDocument.objects.get().vendor == vendor
