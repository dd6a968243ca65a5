"""The whole `ingest --processor whatsapp_text` path: document, offers linked to their lines, attribution."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from documents.models import SourceDocument
from ingestion.services import ingest_path
from offers.models import Offer, Vendor, VendorAlias

pytestmark = pytest.mark.django_db

CHAT = (
    "12/03/2024, 14:05 - Mario Phones: NEW SEALED\n"
    "iPhone 15 128GB - $750\n"
    "Galaxy S24 256GB 699$\n"
    "12/03/2024, 14:06 - Mario Phones: <Media omitted>\n"
    "12/03/2024, 14:07 - Ana Buyer: how much for the pixel?\n"
    "13/03/2024, 09:00 - +44 7700 900123: Pixel 8 Pro @ 640 usd x5\n"
    "13/03/2024, 09:01 - Messages and calls are end-to-end encrypted.\n"
)


@pytest.fixture
def chat(tmp_path):
    path = tmp_path / "WhatsApp Chat with Deals.txt"
    path.write_text(CHAT, encoding="utf-8")
    return path


def offers_of(document):
    return list(Offer.objects.filter(source_document=document).select_related("vendor").order_by("id"))


def test_offers_are_linked_to_their_lines_and_message_times(chat, settings):
    settings.TIME_ZONE = "Europe/London"
    document = ingest_path(chat, processor="whatsapp_text", vendor_name="Mario Phones")
    assert document.status == SourceDocument.Status.SUCCEEDED
    rows = [(o.source_ref, o.description, o.price, o.currency, o.quantity, o.condition) for o in offers_of(document)]
    assert rows == [
        ("line 2", "iPhone 15 128GB", Decimal("750.00"), "USD", None, "new"),
        ("line 3", "Galaxy S24 256GB", Decimal("699.00"), "USD", None, "new"),
        ("line 6", "Pixel 8 Pro", Decimal("640.00"), "USD", 5, "unknown"),
    ]
    london = ZoneInfo("Europe/London")
    assert offers_of(document)[0].observed_at == datetime(2024, 3, 12, 14, 5, tzinfo=london)
    assert offers_of(document)[2].observed_at == datetime(2024, 3, 13, 9, 0, tzinfo=london)
    assert {o.vendor.name for o in offers_of(document)} == {"Mario Phones"}
    stats = document.stats
    assert stats["messages"] >= 5 and stats["offers_created"] == 3
    assert stats["media_omitted"] == 1 and stats["system_messages"] == 1
    assert stats["date_order"] == "day_first (over_12)"  # 13/03/2024 settles it


def test_without_vendor_senders_become_provisional_vendors(chat):
    document = ingest_path(chat, processor="whatsapp_text")
    by_line = {o.source_ref: o.vendor for o in offers_of(document)}
    assert by_line["line 2"].name == "Mario Phones" and by_line["line 2"].is_provisional
    assert by_line["line 6"].name == "+44 7700 900123" and by_line["line 6"].is_provisional
    assert VendorAlias.objects.filter(kind="whatsapp_sender", alias="mario phones").exists()


def test_sender_mapped_by_an_operator_attributes_to_that_vendor(chat):
    acme = Vendor.objects.create(name="Acme Mobile", default_currency="EUR")
    VendorAlias.objects.create(vendor=acme, kind="whatsapp_sender", alias="+44 7700 900123")
    document = ingest_path(chat, processor="whatsapp_text")
    pixel = [o for o in offers_of(document) if o.source_ref == "line 6"][0]
    assert pixel.vendor == acme and pixel.currency == "USD"  # the message's own currency wins


def test_vendor_default_currency_applies_to_bare_prices_in_chats(tmp_path):
    acme = Vendor.objects.create(name="Acme Mobile", default_currency="EUR")
    VendorAlias.objects.create(vendor=acme, kind="whatsapp_sender", alias="acme")
    path = tmp_path / "chat.txt"
    path.write_text("12/03/2024, 14:05 - Acme: iPhone 15 128GB - 750\n", encoding="utf-8")
    document = ingest_path(path, processor="whatsapp_text")
    offer = offers_of(document)[0]
    assert (offer.vendor, offer.currency, offer.extra.get("currency_source")) == (acme, "EUR", "vendor")


def test_chat_without_offers_fails_with_reason(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("12/03/2024, 14:05 - Ana: hello\n12/03/2024, 14:06 - Bob: hi, any stock?\n", encoding="utf-8")
    document = ingest_path(path, processor="whatsapp_text", vendor_name="X")
    assert document.status == SourceDocument.Status.FAILED
    assert "no offers found" in document.extra["failure"]


def test_transcript_is_detected_without_processor_flag(chat):
    document = ingest_path(chat, vendor_name="Mario Phones")
    assert document.processor == "whatsapp_text" and document.status == "succeeded"


def test_a_long_chat_keeps_every_offer_in_order_with_its_line_sender_and_time(tmp_path):
    # 1,500 messages: extraction is split into chunks, every other one computed by a forked child.
    lines = []
    for i in range(1500):
        minute = f"{i // 60 % 24:02d}:{i % 60:02d}"
        lines.append(f"0{1 + i // 1440}/04/2024, {minute} - Vendor {i % 3}: Model {i} 128GB - ${100 + i}")
        if i % 10 == 0:
            lines.append(f"0{1 + i // 1440}/04/2024, {minute} - Buyer: ok thanks")
    path = tmp_path / "long.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    document = ingest_path(path, processor="whatsapp_text")
    assert document.status == SourceDocument.Status.SUCCEEDED
    assert document.stats["messages"] == 1650
    assert document.stats["offers_found"] == document.stats["offers_created"] == 1500
    offers = offers_of(document)
    assert [o.description for o in offers] == [f"Model {i} 128GB" for i in range(1500)]
    assert [o.price for o in offers] == [Decimal(100 + i) for i in range(1500)]
    assert [o.vendor.name for o in offers] == [f"Vendor {i % 3}" for i in range(1500)]
    line_of = {int(line.split(": Model ")[1].split()[0]): n for n, line in enumerate(lines, 1) if ": Model " in line}
    assert [o.source_ref for o in offers] == [f"line {line_of[i]}" for i in range(1500)]
    assert offers[1499].observed_at.minute == 1499 % 60


def test_a_chat_without_offers_says_what_was_read_and_why_its_lines_with_numbers_are_not_offers(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text(
        "12/03/2024, 14:05 - Ana Buyer: how much for 15 pro 256?\n"
        "12/03/2024, 14:06 - Mario Phones: Call me at 10:30 tomorrow\n"
        "12/03/2024, 14:07 - Mario Phones: Need 20 pcs S24\n"
        "12/03/2024, 14:08 - Mario Phones: hello\n",
        encoding="utf-8",
    )
    document = ingest_path(path, processor="whatsapp_text")
    assert document.status == SourceDocument.Status.FAILED
    assert document.stats["lines_not_offers"] == 3
    assert [line["ref"] for line in document.stats["not_offers_sample"]] == ["line 1", "line 2", "line 3"]
    failure = document.extra["failure"]
    assert failure.startswith("no offers found in chat.txt: read 4 messages; 3 lines had numbers but none was an offer")
    assert 'line 1 "how much for 15 pro 256?" (a question)' in failure
    assert 'line 3 "Need 20 pcs S24" (a wanted, buying or sold-out post)' in failure


def test_a_chat_without_any_number_says_so(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("12/03/2024, 14:05 - Ana Buyer: hello there\n12/03/2024, 14:06 - Mario Phones: hi\n", encoding="utf-8")
    document = ingest_path(path, processor="whatsapp_text")
    assert document.extra["failure"] == (
        "no offers found in chat.txt: read 2 messages, and no line had a number (a price list needs prices)"
    )
