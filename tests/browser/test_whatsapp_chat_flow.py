"""Mapping a WhatsApp chat in a real browser: from the admin's home to the chats list, where the
unmapped chat comes first, to its page (/admin/whatsapp/<chat_id>); the chat is mapped to a new
vendor, then one of its senders to an existing vendor through the admin's autocomplete."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from offers.models import Vendor, VendorAlias
from tests.browser.test_operator_flows import log_in, operator  # noqa: F401 (fixture)
from whatsapp import counters
from whatsapp.models import Chat, Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime.now(dt_timezone.utc).replace(microsecond=0)


def test_an_operator_maps_an_unmapped_chat_and_a_sender(page, live_server, operator, screenshot_dir):  # noqa: F811
    owner = Vendor.objects.create(name="Known Vendor")
    Chat.objects.create(external_id="mapped@g.us", title="Already mapped", vendor=owner, last_seen_at=NOW)
    chat = Chat.objects.create(external_id="120363@g.us", title="Dubai Phones Deals", last_seen_at=NOW - timedelta(hours=2),
                               message_count=2)
    for n, (sender, text) in enumerate([("Mario Phones", "iPhone 15 128GB 750$"), ("+971 50 123 4567", "S24 1045")]):
        Message.objects.create(chat=chat, sender=sender, text=text, sent_at=NOW - timedelta(minutes=n),
                               content_hash=f"{n:064d}", client_id="collector-1")
    counters.add({"accepted": 2, "created": 2}, chat_id=chat.pk)

    log_in(page, live_server.url)
    page.get_by_role("link", name="Chats", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/whatsapp/chat/$"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "Dubai Phones Deals" in rows.first.inner_text()  # unmapped first, though seen less recently
    page.screenshot(path=str(screenshot_dir / "whatsapp-chats.png"), full_page=True)

    rows.first.get_by_role("link", name="Dubai Phones Deals").click()
    page.wait_for_url(re.compile(rf"/admin/whatsapp/{chat.pk}$"))
    assert page.locator("h1").inner_text() == "WhatsApp chat: Dubai Phones Deals"
    assert page.locator("#counter-accepted").inner_text() == "2"
    assert "Not mapped" in page.locator("#chat-vendor").inner_text()
    assert "iPhone 15 128GB 750$" in page.locator("#latest-messages").inner_text()

    page.fill("#id_chat-new_vendor", "Gulf Traders")
    page.fill("#id_chat-currency", "aed")
    page.click("#chat-vendor-form input[type=submit]")
    page.wait_for_url(re.compile(rf"/admin/whatsapp/{chat.pk}$"))
    assert "Chat Dubai Phones Deals is mapped to vendor Gulf Traders." in (
        page.locator(".messagelist .success").inner_text())
    assert page.locator("#chat-vendor").inner_text() == "Gulf Traders (AED)"
    vendor = Vendor.objects.get(name="Gulf Traders")
    assert vendor.default_currency == "AED" and Chat.objects.get(pk=chat.pk).vendor == vendor
    page.screenshot(path=str(screenshot_dir / "whatsapp-chat-mapped.png"), full_page=True)

    # A sender of the group goes to a vendor of its own, picked with the admin's autocomplete.
    page.select_option("#id_sender-sender", "mario phones")
    page.click("#sender-vendor-form .select2-selection")
    page.fill(".select2-container--open .select2-search__field", "Known")
    page.locator(".select2-results__option", has_text="Known Vendor").click()
    page.click("#sender-vendor-form input[type=submit]")
    page.wait_for_url(re.compile(rf"/admin/whatsapp/{chat.pk}$"))
    assert "Sender mario phones is mapped to vendor Known Vendor." in (
        page.locator(".messagelist .success").inner_text())
    assert VendorAlias.objects.get(kind="whatsapp_sender", alias="mario phones").vendor == owner
    senders = page.locator("#senders tbody tr")
    assert "Known Vendor" in senders.filter(has_text="Mario Phones").inner_text()
    assert "Gulf Traders (the chat's vendor)" in senders.filter(has_text="+971").inner_text()
    page.screenshot(path=str(screenshot_dir / "whatsapp-chat-senders.png"), full_page=True)
