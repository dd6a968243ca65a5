"""Debounced extraction (whatsapp.extraction): due times and claims, runs, vendors, edits, reruns."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection

from offers.models import Offer, PriceHistory, Vendor, VendorAlias
from whatsapp import counters, extraction
from whatsapp.models import Chat, IngestEvent, Message

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=dt_timezone.utc)


def make_chat(title="Smoke Chat", **kw) -> Chat:
    return Chat.objects.create(title=title, client_id="smoke", **kw)


def add_message(chat: Chat, text: str, *, sender="", at=T0, external_id="") -> Message:
    """A stored message as the ingest leaves it: pending, and its chat armed (trailing debounce)."""
    message = Message.objects.create(chat=chat, text=text, sender=sender, sent_at=at, external_id=external_id,
                                     content_hash=hashlib.sha256(f"{chat.pk}{sender}{text}".encode()).hexdigest())
    due = at + timedelta(seconds=extraction.debounce_seconds())
    Chat.objects.filter(pk=chat.pk).update(extract_due_at=due, first_pending_at=chat.first_pending_at or at)
    chat.refresh_from_db()
    return message


def edit(message: Message, text: str, at: datetime) -> None:
    """What the ingest does with a message id sent again with another text."""
    Message.objects.filter(pk=message.pk).update(text=text, edited_at=at, extraction_state="pending",
                                                 extraction_error="")
    Chat.objects.filter(pk=message.chat_id).update(extract_due_at=at + timedelta(seconds=30), first_pending_at=at)


def chat_offers(chat: Chat):
    return Offer.all_objects.filter(source_message__chat=chat).order_by("id")


def test_the_smoke_message_gives_an_offer_under_a_provisional_vendor():
    chat = make_chat()
    message = add_message(chat, "Pixel 8 Pro - $750")
    run = extraction.extract_latest(chat.pk, trigger="test", now=T0 + timedelta(seconds=31))
    assert (run.messages, run.extracted, run.errors, run.offers) == (1, 1, 0, 1)
    offer = chat_offers(chat).get()
    assert offer.source_message_id == message.pk and offer.observed_at == T0
    assert (str(offer.price), offer.currency) == ("750.00", "USD")
    chat.refresh_from_db()
    assert offer.vendor == chat.provisional_vendor and offer.vendor.is_provisional
    assert offer.vendor.name == "Smoke Chat (WhatsApp)"
    assert PriceHistory.all_objects.filter(offer=offer).count() == 1
    message.refresh_from_db()
    assert message.extraction_state == "extracted" and message.extracted_at == T0 + timedelta(seconds=31)
    assert (chat.extracted_count, chat.extracted_through_message_id) == (1, message.pk)
    assert chat.last_extracted_at == T0 + timedelta(seconds=31)
    assert counters.totals()["extracted"] == 1 and counters.per_chat([chat.pk])[chat.pk]["extracted"] == 1
    line = IngestEvent.objects.get(kind="extraction")
    assert line.chat_id == chat.pk and "1 offer" in line.message and "Pixel" not in line.message
