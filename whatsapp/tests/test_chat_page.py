"""The operators' page of a WhatsApp chat (/admin/whatsapp/<chat_id>) and the chats' admin lists."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from offers.models import Vendor, VendorAlias
from whatsapp import counters
from whatsapp.models import Chat, Message

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=dt_timezone.utc)


def page_url(chat) -> str:
    return f"/admin/whatsapp/{chat.pk}"


def add_message(chat, text, sender="", n=[0], **kw):
    n[0] += 1
    return Message.objects.create(chat=chat, text=text, sender=sender, sent_at=kw.pop("sent_at", T0),
                                  content_hash=f"{n[0]:064d}", **kw)


@pytest.fixture
def chat():
    chat = Chat.objects.create(external_id="120363@g.us", title="Dubai Phones Deals", is_group=True,
                               client_id="collector-1", last_seen_at=T0, message_count=3)
    add_message(chat, "iPhone 15 128GB 750$", sender="Mario  Phones", client_id="collector-1")
    add_message(chat, "S24 Ultra 1045 EUR", sender="+971 50 123 4567", client_id="collector-1",
                extraction_state=Message.Extraction.EXTRACTED)
    add_message(chat, "Pixel 8 Pro 600", sender="mario phones", client_id="collector-2")
    return chat


def test_staff_sees_the_chat_its_counters_and_its_messages(staff_client, chat):
    counters.add({"accepted": 7, "created": 3, "deduped": 4, "extracted": 2, "errors": 1, "media_failed": 5},
                 chat_id=chat.pk)
    counters.add({"accepted": 100})  # totals only: not this chat's

    response = staff_client.get(page_url(chat))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>WhatsApp chat: Dubai Phones Deals</h1>" in html
    assert "120363@g.us" in html and ">Group<" in html
    assert "collector-1 <span class=\"quiet\">(messages from collector-1, collector-2)</span>" in html
    for name, value in [("accepted", 7), ("created", 3), ("deduped", 4), ("extracted", 2), ("errors", 1),
                        ("media_failed", 5), ("message_count", 3), ("pending", 2)]:
        assert f'id="counter-{name}">{value}<' in html, name
    assert 'id="counter-last_extracted_at">never<' in html
    for text in ("iPhone 15 128GB 750$", "S24 Ultra 1045 EUR", "Pixel 8 Pro 600"):
        assert text in html
    # The newest first; senders grouped by their alias key, the busiest first.
    assert html.index("Pixel 8 Pro 600") < html.index("iPhone 15 128GB 750$")
    senders = response.context["senders"]
    assert [(row.key, row.messages) for row in senders] == [("mario phones", 2), ("+971 50 123 4567", 1)]
    assert "Not mapped" in html and 'id="extraction"' in html
    assert "A sender's own vendor wins over the chat's vendor" in html
    assert 'class="breadcrumbs"' in html and "PriceHub back office" in html


def test_a_long_text_is_cut(staff_client, chat):
    add_message(chat, "x" * 500)
    html = staff_client.get(page_url(chat)).content.decode()
    assert "x" * 200 + "…" in html and "x" * 201 not in html


def test_an_attachment_links_to_its_document_and_a_failed_one_says_why(staff_client, chat, build):
    document = build.document(original_filename="prices-week-48.xlsx")
    add_message(chat, "this week's list", media_document=document)
    add_message(chat, "a photo", media_error="attachment over WHATSAPP_MEDIA_MAX_BYTES")
    html = staff_client.get(page_url(chat)).content.decode()
    assert f'<a href="/admin/documents/sourcedocument/{document.pk}/change/">prices-week-48.xlsx</a>' in html
    assert "attachment over WHATSAPP_MEDIA_MAX_BYTES" in html


def test_a_chat_known_by_its_title_says_so(staff_client):
    chat = Chat.objects.create(external_id="", client_id="n8n", title="Deals")
    html = staff_client.get(page_url(chat)).content.decode()
    assert "the collector sent no chat id, the chat is known by its title" in html


def test_anonymous_users_are_sent_to_the_admin_login(client, chat):
    response = client.get(page_url(chat))
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next=/admin/whatsapp/{chat.pk}"


def test_users_who_are_not_staff_are_refused(client, django_user_model, chat):
    user = django_user_model.objects.create_user(username="buyer", password="pw-buyer-123")
    user.user_permissions.add(Permission.objects.get(codename="view_chat"))
    client.force_login(user)
    response = client.get(page_url(chat))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.post(page_url(chat), {"action": "unmap_chat"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_staff_without_the_chat_permissions_is_refused_or_only_views(client, django_user_model, chat):
    user = django_user_model.objects.create_user(username="clerk", password="pw-clerk-123", is_staff=True)
    client.force_login(user)
    assert client.get(page_url(chat)).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="view_chat"))
    response = client.get(page_url(chat))
    assert response.status_code == 200
    assert "You may view this chat but not change its mapping." in response.content.decode()
    acme = Vendor.objects.create(name="Acme")
    assert client.post(page_url(chat), {"action": "map_chat", "chat-vendor": acme.pk}).status_code == 403
    assert Chat.objects.get(pk=chat.pk).vendor is None


def test_an_unknown_chat_is_404(staff_client, chat):
    assert staff_client.get(f"/admin/whatsapp/{chat.pk + 1000}").status_code == 404


def test_an_unknown_action_is_400(staff_client, chat):
    response = staff_client.post(page_url(chat), {"action": "drop_tables"})
    assert response.status_code == 400


def test_mapping_needs_the_csrf_token(staff_user, chat):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    acme = Vendor.objects.create(name="Acme")
    response = client.post(page_url(chat), {"action": "map_chat", "chat-vendor": acme.pk})
    assert response.status_code == 403
    assert Chat.objects.get(pk=chat.pk).vendor is None


def test_mapping_the_chat_to_an_existing_vendor(staff_client, staff_user, chat):
    acme = Vendor.objects.create(name="Acme Mobile", default_currency="AED")

    response = staff_client.post(page_url(chat), {"action": "map_chat", "chat-vendor": acme.pk})

    assert response.status_code == 302 and response["Location"] == page_url(chat)
    assert Chat.objects.get(pk=chat.pk).vendor == acme
    entry = LogEntry.objects.get(object_id=str(chat.pk), content_type__model="chat")
    assert (entry.user, entry.action_flag, entry.change_message) == (
        staff_user, CHANGE, "Mapped the chat to vendor Acme Mobile.")
    page = staff_client.get(page_url(chat))
    html = page.content.decode()
    assert "Chat Dubai Phones Deals is mapped to vendor Acme Mobile." in html  # the success message
    assert 'class="success"' in html
    assert ">Acme Mobile</a> (AED)" in html
    # The senders without a vendor of their own now go to the chat's vendor.
    assert all(row.vendor == acme and row.alias_vendor is None for row in page.context["senders"])
    # The admin's history of the chat says who mapped what.
    history = staff_client.get(f"/admin/whatsapp/chat/{chat.pk}/history/").content.decode()
    assert "Mapped the chat to vendor Acme Mobile." in history and "operator" in history


def test_mapping_the_chat_to_a_new_vendor_with_its_currency(staff_client, staff_user, chat):
    other = Vendor.objects.create(name="Old Vendor")
    Chat.objects.filter(pk=chat.pk).update(vendor=other)

    response = staff_client.post(page_url(chat), {"action": "map_chat", "chat-new_vendor": "  Gulf   Traders ",
                                                  "chat-currency": "aed"})

    assert response.status_code == 302
    vendor = Vendor.objects.get(name="Gulf Traders")
    assert vendor.default_currency == "AED" and not vendor.is_provisional
    assert Chat.objects.get(pk=chat.pk).vendor == vendor
    assert LogEntry.objects.filter(object_id=str(vendor.pk), content_type__model="vendor",
                                   action_flag=ADDITION, user=staff_user).exists()
    assert LogEntry.objects.get(content_type__model="chat").change_message == (
        "Mapped the chat to vendor Gulf Traders (was Old Vendor).")


@pytest.mark.parametrize("currency, error", [
    ("EURO", "Ensure this value has at most 3 characters"),
    ("ZZZ", "is not an ISO 4217 currency code"),
    ("E1R", "is not an ISO 4217 currency code"),
])
def test_a_new_vendor_with_a_bad_currency_shows_the_error_and_changes_nothing(staff_client, chat, currency, error):
    response = staff_client.post(page_url(chat), {"action": "map_chat", "chat-new_vendor": "Gulf Traders",
                                                  "chat-currency": currency})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert response.context["chat_form"].errors["currency"]
    assert not Vendor.objects.exists()
    assert Chat.objects.get(pk=chat.pk).vendor is None
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("form, error", [
    ({}, "Pick an existing vendor or name a new one."),
    ({"chat-new_vendor": "ACME mobile"}, "A vendor named Acme Mobile exists already: pick it above."),
    ({"chat-vendor": "{acme}", "chat-new_vendor": "Other"}, "not both"),
    ({"chat-vendor": "{acme}", "chat-currency": "EUR"}, "A currency is set here only for a new vendor"),
    ({"chat-vendor": "999999"}, "Select a valid choice"),
])
def test_a_mapping_form_with_errors_changes_nothing(staff_client, chat, form, error):
    acme = Vendor.objects.create(name="Acme Mobile")
    form = {name: value.format(acme=acme.pk) for name, value in form.items()}
    response = staff_client.post(page_url(chat), {"action": "map_chat", **form})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Chat.objects.get(pk=chat.pk).vendor is None and Vendor.objects.count() == 1


def test_removing_the_chats_vendor(staff_client, chat):
    acme = Vendor.objects.create(name="Acme Mobile")
    Chat.objects.filter(pk=chat.pk).update(vendor=acme)
    response = staff_client.post(page_url(chat), {"action": "unmap_chat"}, follow=True)
    assert "no longer mapped to vendor Acme Mobile" in response.content.decode()
    assert Chat.objects.get(pk=chat.pk).vendor is None
    assert LogEntry.objects.get().change_message == "Removed the chat's vendor mapping (was Acme Mobile)."


def test_mapping_a_sender_creates_its_alias_and_unmapping_removes_it(staff_client, staff_user, chat):
    chat_vendor = Vendor.objects.create(name="Group Owner")
    Chat.objects.filter(pk=chat.pk).update(vendor=chat_vendor)
    mario = Vendor.objects.create(name="Mario Phones LLC")

    response = staff_client.post(page_url(chat), {"action": "map_sender", "sender-sender": "mario phones",
                                                  "sender-vendor": mario.pk}, follow=True)

    alias = VendorAlias.objects.get()
    assert (alias.kind, alias.alias, alias.vendor) == (VendorAlias.Kind.WHATSAPP_SENDER, "mario phones", mario)
    assert "Sender mario phones is mapped to vendor Mario Phones LLC." in response.content.decode()
    rows = {row.key: row for row in response.context["senders"]}
    assert rows["mario phones"].vendor == mario  # the sender's vendor wins over the chat's
    assert rows["+971 50 123 4567"].vendor == chat_vendor and rows["+971 50 123 4567"].alias_vendor is None
    assert LogEntry.objects.filter(content_type__model="vendoralias", action_flag=ADDITION, user=staff_user).exists()
    assert LogEntry.objects.filter(content_type__model="chat", user=staff_user,
                                   change_message="Mapped sender mario phones to vendor Mario Phones LLC.").exists()

    response = staff_client.post(page_url(chat), {"action": "unmap_sender", "unmap-sender": "mario phones"},
                                 follow=True)

    assert not VendorAlias.objects.exists()
    assert "Sender mario phones is no longer mapped to vendor Mario Phones LLC" in response.content.decode()
    assert {row.key: row.vendor for row in response.context["senders"]}["mario phones"] == chat_vendor
    assert LogEntry.objects.filter(content_type__model="vendoralias", action_flag=DELETION).exists()


def test_a_sender_mapped_elsewhere_is_remapped_and_can_get_a_new_vendor(staff_client, chat):
    provisional = Vendor.objects.create(name="+971 50 123 4567", is_provisional=True)
    VendorAlias.objects.create(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias="+971 50 123 4567", vendor=provisional)
    html = staff_client.get(page_url(chat)).content.decode()
    assert "(provisional)" in html

    response = staff_client.post(page_url(chat), {"action": "map_sender", "sender-sender": "+971 50 123 4567",
                                                  "sender-new_vendor": "Emirates Mobile", "sender-currency": "AED"})

    assert response.status_code == 302
    alias = VendorAlias.objects.get()
    assert alias.vendor.name == "Emirates Mobile" and alias.vendor.default_currency == "AED"
    assert LogEntry.objects.get(content_type__model="chat").change_message == (
        "Mapped sender +971 50 123 4567 to vendor Emirates Mobile (was +971 50 123 4567).")


def test_only_the_chats_own_senders_can_be_mapped(staff_client, chat):
    acme = Vendor.objects.create(name="Acme")
    response = staff_client.post(page_url(chat), {"action": "map_sender", "sender-sender": "somebody else",
                                                  "sender-vendor": acme.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not VendorAlias.objects.exists()


def test_html_in_a_chat_is_escaped(staff_client):
    chat = Chat.objects.create(external_id="<b>x</b>", title="<script>alert(1)</script>", last_seen_at=T0)
    add_message(chat, "<img src=x onerror=alert(2)>", sender="<i>evil</i>")

    html = staff_client.get(page_url(chat)).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<i>evil</i>" not in html and "<b>x</b>" not in html

    listing = staff_client.get("/admin/whatsapp/chat/").content.decode()
    assert "<script>alert(1)" not in listing and "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    messages = staff_client.get("/admin/whatsapp/message/").content.decode()
    assert "<script>alert(1)" not in messages


def test_the_chats_list_shows_unmapped_chats_first_then_the_most_recently_seen(staff_client):
    acme = Vendor.objects.create(name="Acme")
    mapped_new = Chat.objects.create(external_id="a", title="Mapped, new", vendor=acme, last_seen_at=T0)
    unmapped_old = Chat.objects.create(external_id="b", title="Unmapped, old", last_seen_at=T0 - timedelta(days=3))
    unmapped_new = Chat.objects.create(external_id="c", title="Unmapped, new", last_seen_at=T0 - timedelta(hours=1))
    unmapped_never = Chat.objects.create(external_id="d", title="Unmapped, never seen")
    mapped_old = Chat.objects.create(external_id="e", title="Mapped, old", vendor=acme,
                                     last_seen_at=T0 - timedelta(days=9))

    response = staff_client.get("/admin/whatsapp/chat/")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [unmapped_new, unmapped_old, unmapped_never, mapped_new,
                                                        mapped_old]
    html = response.content.decode()
    assert f'<a href="/admin/whatsapp/{unmapped_new.pk}">Unmapped, new</a>' in html
    assert "/admin/whatsapp/chat/" + str(unmapped_new.pk) + "/change/" not in html

    unmapped = staff_client.get("/admin/whatsapp/chat/?mapped=no").context["cl"].result_list
    assert list(unmapped) == [unmapped_new, unmapped_old, unmapped_never]
    mapped = staff_client.get("/admin/whatsapp/chat/?mapped=yes").context["cl"].result_list
    assert list(mapped) == [mapped_new, mapped_old]


def test_a_chats_change_page_leads_to_its_page(staff_client, chat):
    response = staff_client.get(f"/admin/whatsapp/chat/{chat.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="/admin/whatsapp/{chat.pk}" id="open-chat-page">Chat page</a>' in html
    assert f'<a href="/admin/whatsapp/{chat.pk}"><strong>the chat\'s\n  page</strong></a>' in html


def test_each_message_in_the_admin_links_to_its_chats_page(staff_client, chat):
    html = staff_client.get("/admin/whatsapp/message/").content.decode()
    assert f'<a href="/admin/whatsapp/{chat.pk}">Dubai Phones Deals</a>' in html
    listed = staff_client.get(f"/admin/whatsapp/message/?chat__id__exact={chat.pk}")
    assert listed.status_code == 200 and len(listed.context["cl"].result_list) == 3


def test_the_senders_of_an_unmapped_chat_go_to_its_provisional_vendor_as_the_extraction_files_them(chat):
    from whatsapp.chat_page import sender_rows
    from whatsapp.extraction import vendor_for_message

    assert {row.vendor for row in sender_rows(chat)} == {None}  # no extraction yet: no provisional vendor
    provisional = vendor_for_message(chat, "Mario Phones")
    chat.refresh_from_db()
    assert provisional.is_provisional and {row.vendor for row in sender_rows(chat)} == {provisional}
    mapped = Vendor.objects.create(name="Nordic Deals")
    Chat.objects.filter(pk=chat.pk).update(vendor=mapped)
    chat.refresh_from_db()
    assert {row.vendor for row in sender_rows(chat)} == {mapped} == {vendor_for_message(chat, "Mario Phones")}
