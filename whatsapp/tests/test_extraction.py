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


# --------------------------------------------------------------------------- due times (explicit now)


@pytest.fixture
def timing(settings):
    settings.WHATSAPP_EXTRACT_DEBOUNCE_SECONDS = 30
    settings.WHATSAPP_EXTRACT_MAX_WAIT_SECONDS = 300
    return settings


def test_a_chat_is_due_only_once_its_debounce_has_passed(timing):
    chat = make_chat()
    add_message(chat, "Pixel 8 Pro - $750", at=T0)
    assert extraction.due_chats(T0) == []
    assert extraction.due_chats(T0 + timedelta(seconds=29)) == []
    assert extraction.due_chats(T0 + timedelta(seconds=30)) == [chat.pk]
    assert extraction.next_due_at(chat) == T0 + timedelta(seconds=30)
    # A later message pushes the due time on (trailing debounce), the first pending time stays.
    add_message(chat, "Pixel 9 - $850", at=T0 + timedelta(seconds=20))
    assert extraction.due_chats(T0 + timedelta(seconds=30)) == []
    assert extraction.due_chats(T0 + timedelta(seconds=50)) == [chat.pk]
    assert chat.first_pending_at == T0


def test_a_chat_that_never_goes_quiet_is_due_after_the_maximum_wait(timing):
    chat = make_chat()
    for second in range(0, 300, 20):  # a message every 20 s: never 30 s of quiet
        add_message(chat, f"Pixel 8 - ${700 + second}", at=T0 + timedelta(seconds=second))
        if second < 280:
            assert extraction.due_chats(T0 + timedelta(seconds=second + 10)) == []
    assert chat.first_pending_at == T0 and chat.extract_due_at == T0 + timedelta(seconds=310)
    assert extraction.due_chats(T0 + timedelta(seconds=299)) == []
    assert extraction.due_chats(T0 + timedelta(seconds=300)) == [chat.pk]
    assert extraction.next_due_at(chat) == T0 + timedelta(seconds=300)


def test_a_disarmed_chat_is_never_due(timing):
    chat = make_chat()
    assert extraction.due_chats(T0 + timedelta(days=1)) == []
    assert extraction.next_due_at(chat) is None


# --------------------------------------------------------------------------- claims


def test_the_second_claim_of_a_due_chat_claims_nothing(timing):
    chat = make_chat()
    add_message(chat, "Pixel 8 Pro - $750")
    now = T0 + timedelta(seconds=31)
    first = extraction.claim_chat(chat.pk, now=now)
    second = extraction.claim_chat(chat.pk, now=now)
    assert first and second is None
    chat.refresh_from_db()
    assert chat.extract_due_at is None and chat.first_pending_at is None
    assert chat.extract_claimed_by == first and chat.extract_claimed_until > now
    assert extraction.due_chats(now) == []
    # A forced claim (the endpoint, the admin's buttons) does not take a live claim either.
    assert extraction.claim_chat(chat.pk, now=now, force=True) is None
    # Another worker's token does not release it; the claimant's does.
    assert not extraction.release_claim(chat.pk, "someone else")
    assert extraction.release_claim(chat.pk, first)


def test_a_claim_that_lapsed_makes_the_chat_due_again(timing):
    chat = make_chat()
    add_message(chat, "Pixel 8 Pro - $750")
    now = T0 + timedelta(seconds=31)
    assert extraction.claim_chat(chat.pk, now=now)  # ... and its worker dies
    lapsed = now + timedelta(seconds=extraction.CLAIM_LEASE_SECONDS + 1)
    assert extraction.due_chats(now + timedelta(seconds=60)) == []
    assert extraction.due_chats(lapsed) == [chat.pk]
    runs = extraction.extract_due_chats(lapsed)
    assert [run.offers for run in runs] == [1]
    chat.refresh_from_db()
    assert chat.extract_claimed_until is None and chat.extract_claimed_by == ""


def test_a_message_that_comes_after_the_claim_arms_the_chat_again(timing):
    chat = make_chat()
    add_message(chat, "Pixel 8 Pro - $750")
    now = T0 + timedelta(seconds=31)
    token = extraction.claim_chat(chat.pk, now=now)
    later = add_message(chat, "Pixel 9 - $850", at=now + timedelta(seconds=1))
    extraction.extract_latest(chat.pk, token=token, now=now + timedelta(seconds=1))
    extraction.release_claim(chat.pk, token)
    chat.refresh_from_db()
    # The run took every message stored before it started; the chat is armed for the next message anyway.
    later.refresh_from_db()
    assert later.extraction_state == "extracted"
    assert chat.extract_due_at == now + timedelta(seconds=31)


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_one_wins(timing):
    """Two threads, each on a connection of its own, claim the same due chat at the same moment:
    exactly one claim is granted (PostgreSQL's row lock and re-check; SQLite's single writer)."""
    import threading

    from django.db import connections

    chat = make_chat()
    add_message(chat, "Pixel 8 Pro - $750")
    now = T0 + timedelta(seconds=31)
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:memorydb", ":memory:")) \
            and "mode=memory" not in connection.settings_dict["NAME"]:
        pytest.skip("an unshared in-memory SQLite database")
    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(extraction.claim_chat(chat.pk, now=now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 2 and sum(1 for token in results if token) == 1, results


# --------------------------------------------------------------------------- vendors


def test_pending_until_mapped_then_a_full_rerun_moves_the_offers_without_doubling(timing):
    chat = make_chat("Deals")
    add_message(chat, "iPhone 15 128GB - $650\nGalaxy S24 256GB - $700", sender="Ana")
    add_message(chat, "Pixel 8 Pro - $750", sender="Ben", at=T0 + timedelta(seconds=5))
    run = extraction.extract_latest(chat.pk)
    assert (run.messages, run.offers) == (2, 3)
    chat.refresh_from_db()
    provisional = chat.provisional_vendor
    assert provisional.is_provisional and set(chat_offers(chat).values_list("vendor", flat=True)) == {provisional.pk}
    # Nothing pending: extracting again changes nothing.
    assert extraction.extract_latest(chat.pk).messages == 0 and chat_offers(chat).count() == 3

    first_extracted = dict(Message.objects.filter(chat=chat).values_list("pk", "extracted_at"))
    real = Vendor.objects.create(name="Deals Ltd", default_currency="USD")
    Chat.objects.filter(pk=chat.pk).update(vendor=real)
    run = extraction.full_rerun(chat.pk)
    # the rerun is not the pipeline's lag: each message keeps the time of its first extraction
    assert dict(Message.objects.filter(chat=chat).values_list("pk", "extracted_at")) == first_extracted
    assert (run.messages, run.offers, run.replaced) == (2, 3, 3)
    offers = chat_offers(chat)
    assert offers.count() == 3 and set(offers.values_list("vendor", flat=True)) == {real.pk}
    assert PriceHistory.all_objects.filter(vendor=provisional).count() == 0
    assert PriceHistory.all_objects.filter(vendor=real).count() == 3
    assert not Offer.all_objects.filter(vendor=provisional).exists()
    chat.refresh_from_db()
    assert chat.extracted_count == 3
    # A second rerun replaces them again: still three.
    extraction.full_rerun(chat.pk)
    assert chat_offers(chat).count() == 3 and PriceHistory.all_objects.filter(vendor=real).count() == 3
    assert counters.per_chat([chat.pk])[chat.pk]["extracted"] == 6


def test_the_senders_mapping_wins_over_the_chats_vendor(timing):
    chat_vendor = Vendor.objects.create(name="Chat Vendor", default_currency="USD")
    ana_vendor = Vendor.objects.create(name="Ana Mobiles", default_currency="EUR")
    VendorAlias.objects.create(kind="whatsapp_sender", alias="ana", vendor=ana_vendor)
    chat = make_chat("Group", vendor=chat_vendor)
    add_message(chat, "Pixel 8 Pro - 750", sender="Ana")
    add_message(chat, "Pixel 9 - 850", sender="Ben")
    extraction.extract_latest(chat.pk)
    by_sender = {offer.source_message.sender: offer for offer in chat_offers(chat).select_related("source_message")}
    assert by_sender["Ana"].vendor == ana_vendor and by_sender["Ana"].currency == "EUR"
    assert by_sender["Ben"].vendor == chat_vendor and by_sender["Ben"].currency == "USD"
    chat.refresh_from_db()
    assert chat.provisional_vendor is None


def test_a_provisional_sender_vendor_gives_way_to_the_chats_real_vendor(timing):
    from offers.vendors import vendor_for_sender

    provisional = vendor_for_sender("Cleo")  # made for Cleo's spreadsheet while the chat was unmapped
    chat_vendor = Vendor.objects.create(name="Group Vendor", default_currency="USD")
    chat = make_chat("Group", vendor=chat_vendor)
    add_message(chat, "Pixel 8 Pro - $750", sender="Cleo")
    extraction.extract_latest(chat.pk)
    assert chat_offers(chat).get().vendor == chat_vendor
    unmapped = make_chat("Other")
    add_message(unmapped, "Pixel 9 - $850", sender="Cleo")
    extraction.extract_latest(unmapped.pk)
    assert chat_offers(unmapped).get().vendor == provisional


def test_two_chats_with_the_same_title_get_provisional_vendors_of_their_own(timing):
    first, second = make_chat("Deals"), Chat.objects.create(title="Deals", client_id="other")
    for chat in (first, second):
        add_message(chat, "Pixel 8 Pro - $750")
        extraction.extract_latest(chat.pk)
        chat.refresh_from_db()
    assert first.provisional_vendor != second.provisional_vendor
    assert second.provisional_vendor.name == f"Deals (WhatsApp) #{second.pk}"


# --------------------------------------------------------------------------- edits, states, idempotence


def test_an_edited_message_replaces_its_offers(timing):
    chat = make_chat("Deals", vendor=Vendor.objects.create(name="V", default_currency="USD"))
    message = add_message(chat, "iPhone 15 128GB - $650\nGalaxy S24 256GB - $700", external_id="m1")
    extraction.extract_latest(chat.pk)
    assert chat_offers(chat).count() == 2
    edit(message, "iPhone 15 128GB - $640", T0 + timedelta(minutes=5))
    run = extraction.extract_latest(chat.pk)
    assert (run.offers, run.replaced) == (1, 2)
    offer = chat_offers(chat).get()
    assert str(offer.price) == "640.00" and offer.source_message_id == message.pk
    assert PriceHistory.all_objects.filter(offer__source_message=message).count() == 1
    assert PriceHistory.all_objects.count() == 1
    chat.refresh_from_db()
    assert chat.extracted_count == 1


def test_message_states_and_counters(timing):
    chat = make_chat("States", vendor=Vendor.objects.create(name="No Currency"))
    offers = add_message(chat, "Pixel 8 Pro - $750")
    chatter = add_message(chat, "good morning all")
    media = add_message(chat, "")
    rejected = add_message(chat, "Pixel 8 Pro 128GB - 450 kr")  # kr: DKK, NOK, SEK...; the vendor names none
    run = extraction.extract_latest(chat.pk)
    assert (run.messages, run.extracted, run.errors, run.skipped, run.offers) == (4, 2, 1, 1, 1)
    states = dict(Message.objects.filter(chat=chat).values_list("id", "extraction_state"))
    assert states == {offers.pk: "extracted", chatter.pk: "no_offers", media.pk: "skipped", rejected.pk: "failed"}
    rejected.refresh_from_db()
    assert "currency" in rejected.extraction_error and "rejected" in rejected.extraction_error
    assert counters.per_chat([chat.pk])[chat.pk]["extracted"] == 2
    assert counters.per_chat([chat.pk])[chat.pk]["errors"] == 1
    assert IngestEvent.objects.get(kind="extraction").level == "error"


def test_a_run_that_crashes_mid_way_leaves_no_half_chunk_and_a_rerun_doubles_nothing(timing, monkeypatch):
    chat = make_chat("Crash", vendor=Vendor.objects.create(name="V", default_currency="USD"))
    for i in range(5):
        add_message(chat, f"Pixel {i + 4} 128GB - ${500 + i}", at=T0 + timedelta(seconds=i))
    monkeypatch.setattr(extraction, "CHUNK_MESSAGES", 2)
    real_add, calls = counters.add, []

    def dies_on_the_second_chunk(counts, *, chat_id=None):
        calls.append(counts)
        if len(calls) == 2:  # the worker dies at the end of the second chunk, before its commit
            raise RuntimeError("worker killed")
        real_add(counts, chat_id=chat_id)

    monkeypatch.setattr(extraction.counters, "add", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        extraction.extract_latest(chat.pk)
    # The first chunk committed; the second left nothing (offers, states, counters) behind.
    assert chat_offers(chat).count() == 2
    assert Message.objects.filter(chat=chat, extraction_state="pending").count() == 3
    assert counters.per_chat([chat.pk])[chat.pk]["extracted"] == 2
    chat.refresh_from_db()
    assert chat.extract_due_at is not None and chat.extract_claimed_until is None  # armed again, not stuck claimed
    assert IngestEvent.objects.filter(kind="extraction", level="error").count() == 1
    monkeypatch.setattr(extraction.counters, "add", real_add)
    run = extraction.extract_latest(chat.pk)
    assert (run.messages, run.offers) == (3, 3)
    assert chat_offers(chat).count() == 5 and PriceHistory.all_objects.count() == 5
    assert len(set(chat_offers(chat).values_list("source_message", flat=True))) == 5
    assert counters.per_chat([chat.pk])[chat.pk]["extracted"] == 5
    # Offers already extracted but marked pending again (a crash between the offers and the state in an
    # older version, or an operator) are replaced, not added to.
    Message.objects.filter(chat=chat).update(extraction_state="pending")
    extraction.extract_latest(chat.pk)
    assert chat_offers(chat).count() == 5 and PriceHistory.all_objects.count() == 5


def test_a_bounded_run_leaves_the_rest_to_the_poller(timing):
    chat = make_chat("Busy", vendor=Vendor.objects.create(name="V", default_currency="USD"))
    for i in range(3):
        add_message(chat, f"Pixel {i + 6} - ${600 + i}")
    run = extraction.extract_latest(chat.pk, max_messages=2, now=T0)
    assert (run.messages, run.pending) == (2, 1)
    chat.refresh_from_db()
    assert chat.extract_due_at is not None and extraction.due_chats(T0 + timedelta(seconds=1)) == [chat.pk]
    assert [run.messages for run in extraction.extract_due_chats(T0 + timedelta(seconds=1))] == [1]


def test_an_unknown_chat(timing):
    with pytest.raises(extraction.ChatNotFound):
        extraction.extract_latest(987654)
    with pytest.raises(extraction.ChatNotFound):
        extraction.full_rerun(987654)


def test_the_poller_step_extracts_due_chats_only(timing):
    due, quiet = make_chat("Due"), make_chat("Quiet")
    add_message(due, "Pixel 8 Pro - $750", at=T0)
    add_message(quiet, "Pixel 9 - $850", at=T0 + timedelta(seconds=20))
    runs = extraction.extract_due_chats(T0 + timedelta(seconds=35))
    assert [run.chat_id for run in runs] == [due.pk]
    assert chat_offers(due).count() == 1 and chat_offers(quiet).count() == 0
    assert [run.chat_id for run in extraction.extract_due_chats(T0 + timedelta(seconds=50))] == [quiet.pk]
    assert extraction.extract_due_chats(T0 + timedelta(seconds=500)) == []
