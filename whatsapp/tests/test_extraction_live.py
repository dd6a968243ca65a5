"""The playbook's smoke message becomes an offer with no operator work: a real gunicorn takes the
signed ingest, a real qcluster's poll loop (the every-minute schedule) extracts the chat once its
debounce (1 s here) has passed. Prints the lag from the ingest's answer to the offer."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from tests import servers
from tests.conftest import live, live_template  # noqa: F401 - the live database fixtures
from whatsapp.tests.test_auth import iso, signature

pytestmark = pytest.mark.slow

TOKEN = "test-token"
SECRET = "super-secret"
SMOKE_BODY = b'{"client_id":"smoke","messages":[{"chat_title":"Smoke Chat","text":"Pixel 8 Pro - $750"}]}'


def signed_post(client: servers.Client, body: bytes) -> servers.Response:
    stamp = iso(time.time())
    return client.request("POST", "/integrations/whatsapp/ingest", data=body, content_type="application/json",
                          headers={"X-Ingest-Token": TOKEN, "X-Signature": signature(body, stamp, SECRET),
                                   "X-Signature-Timestamp": stamp})


def wait_for(condition, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return None


def test_the_smoke_message_becomes_an_offer_by_itself(live, capsys):
    from offers.models import Offer
    from whatsapp import tasks
    from whatsapp.models import Chat, ExtractionPoller, Message

    env = live.env(WHATSAPP_INGEST_TOKEN=TOKEN, WHATSAPP_INGEST_HMAC_SECRET=SECRET,
                   WHATSAPP_EXTRACT_DEBOUNCE_SECONDS="1", Q_WORKERS="2")
    started = time.monotonic()
    with servers.start_gunicorn(env, log_dir=live.logs, workers=2, lifetime=240) as web, \
            servers.start_qcluster(env, log_dir=live.logs, lifetime=240) as cluster:
        # The scheduler looks at its schedules about every 30 s: wait for the poll loop to run.
        running = wait_for(lambda: ExtractionPoller.objects.filter(
            name=tasks.POLLER, expires_at__gt=timezone.now()).exclude(owner="").exists(), 120, 0.2)
        assert running, cluster.log()[-4000:]
        loop_up = time.monotonic() - started

        response = signed_post(servers.Client(web.url), SMOKE_BODY)
        answered = time.monotonic()
        assert response.status == 200 and response.json()["created"] == 1, response.body[:500]
        offer = wait_for(lambda: Offer.all_objects.filter(source_message__chat__title="Smoke Chat").first(), 60)
        lag = time.monotonic() - answered
        assert offer is not None, cluster.log()[-4000:]

        assert (str(offer.price), offer.currency) == ("750.00", "USD")
        assert offer.vendor.is_provisional and offer.vendor.name == "Smoke Chat (WhatsApp)"
        message = Message.objects.get()
        assert message.extraction_state == "extracted" and offer.source_message_id == message.pk
        chat = Chat.objects.get()
        assert chat.provisional_vendor_id == offer.vendor_id and chat.extract_due_at is None
        stored_lag = (message.extracted_at - message.received_at).total_seconds()

        # A second, edited-by-id message arrives while the loop runs: replaced, not added to.
        body = json.dumps({"client_id": "smoke", "messages": [
            {"chat_title": "Smoke Chat", "text": "Pixel 9 - $800", "message_id": "m-1"}]}).encode()
        assert signed_post(servers.Client(web.url), body).status == 200
        edited = json.dumps({"client_id": "smoke", "messages": [
            {"chat_title": "Smoke Chat", "text": "Pixel 9 - $790", "message_id": "m-1"}]}).encode()
        assert wait_for(lambda: Offer.all_objects.filter(price=800).exists(), 60)
        assert signed_post(servers.Client(web.url), edited).json()["edited"] == 1
        assert wait_for(lambda: Offer.all_objects.filter(price=790).exists(), 60), cluster.log()[-4000:]
        assert not Offer.all_objects.filter(price=800).exists() and Offer.all_objects.count() == 2
    with capsys.disabled():
        print(f"\n[extraction live, {live.kind}] poll loop up {loop_up:.1f} s after start; ingest answer -> offer "
              f"{lag:.2f} s with WHATSAPP_EXTRACT_DEBOUNCE_SECONDS=1 (received_at -> extracted_at {stored_lag:.2f} s)")


def test_a_run_killed_mid_way_leaves_whole_chunks_and_the_rerun_doubles_nothing(live):
    """A process extracting a long chat is killed (SIGKILL) after some chunks: every chunk it
    committed is whole (each extracted message has its offer, no pending message has one), its
    claim lapses, and the poller's run then extracts the rest without doubling any offer."""
    import signal
    from datetime import timedelta

    from offers.models import Offer, PriceHistory, Vendor
    from whatsapp import extraction
    from whatsapp.models import Chat, Message

    vendor = Vendor.objects.create(name="Long Chat Ltd", default_currency="USD")
    chat = Chat.objects.create(title="Long Chat", client_id="smoke", vendor=vendor)
    now = timezone.now()
    Message.objects.bulk_create([
        Message(chat=chat, text=f"Pixel {8 + i % 3} Pro {[128, 256][i % 2]}GB - ${600 + i}", sender="Ana",
                sent_at=now, content_hash=f"{i:064d}") for i in range(2000)])
    code = f"from whatsapp import extraction; extraction.extract_latest({chat.pk}, trigger='doomed')"
    worker = servers.Service("doomed", [servers.PYTHON, "manage.py", "shell", "-c", code], env=live.env(),
                             log_dir=live.logs, lifetime=120)
    try:
        some = wait_for(lambda: Message.objects.filter(chat=chat, extraction_state="extracted").count() >= 200, 60, 0.01)
        assert some, worker.log()[-3000:]
        worker.kill(signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.stop()
    done = Message.objects.filter(chat=chat, extraction_state="extracted").count()
    assert 200 <= done < 2000, "the run ended before it was killed: give it more messages"
    assert done % extraction.CHUNK_MESSAGES == 0  # whole chunks only
    assert Offer.all_objects.filter(source_message__chat=chat).count() == done
    assert not Offer.all_objects.filter(source_message__extraction_state="pending").exists()
    chat.refresh_from_db()
    assert chat.extract_claimed_until is not None  # the dead process's claim, until it lapses
    lapsed = chat.extract_claimed_until + timedelta(seconds=1)
    assert extraction.due_chats(lapsed) == [chat.pk]
    runs = extraction.extract_due_chats(lapsed)
    assert [run.messages for run in runs] == [2000 - done]
    offers = Offer.all_objects.filter(source_message__chat=chat)
    assert offers.count() == 2000 and offers.values("source_message").distinct().count() == 2000
    assert PriceHistory.all_objects.filter(offer__source_message__chat=chat).count() == 2000
    chat.refresh_from_db()
    assert chat.extracted_count == 2000 and chat.extract_claimed_until is None
