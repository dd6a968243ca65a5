"""The operators' page of one WhatsApp chat: ``/admin/whatsapp/<chat_id>`` (``chat_id`` is the Chat's pk).

Staff only (the admin's own ``admin_view``: anonymous users go to the admin's login, users who are
not staff are refused the same way; the page also needs ``whatsapp.view_chat``). It shows the chat,
its counters (``whatsapp.counters.per_chat``), its latest messages, its senders with their vendor
mappings, the forms that map the chat or a sender to a vendor (``whatsapp.forms``; mapping
the chat needs ``whatsapp.change_chat``, a sender ``offers.add/change/delete_vendoralias``, a new
vendor ``offers.add_vendor``), and its extraction: pending messages, when the chat is due, the last
run, and the "Extract latest" and "Full rerun" buttons (``whatsapp.extraction``; both need
``whatsapp.change_chat``, run at once for at most ``extraction.SYNC_MAX_MESSAGES`` messages, the
worker doing any rest, and are written to the chat's admin history). Each change is answered by a
redirect to the page with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from offers.models import Vendor, VendorAlias
from offers.vendors import alias_key
from whatsapp import counters, extraction
from whatsapp.forms import ChatVendorForm, SenderUnmapForm, SenderVendorForm, log, unmap_chat
from whatsapp.models import Chat, Message

LATEST_MESSAGES = 50
MAX_SENDERS = 200  # the busiest senders of a chat, listed and offered in the sender form
TEXT_CUT = 200  # characters of a message's text shown
SHOWN_COUNTERS = ("accepted", "created", "deduped", "extracted", "errors", "media_failed")
EXTRACTION_ACTIONS = ("extract_latest", "full_rerun")
SENDER_PERMISSIONS = ("offers.add_vendoralias", "offers.change_vendoralias", "offers.delete_vendoralias")


@dataclass
class SenderRow:
    """One sender of a chat: ``key`` is its alias key (``offers.vendors.alias_key``), ``names`` the
    spellings it posted under, ``alias_vendor`` the vendor its ``VendorAlias`` maps it to (or
    ``None``), ``vendor`` the vendor its messages go to (as ``whatsapp.extraction.vendor_for_message``
    attributes them; ``None`` while an unmapped chat has no provisional vendor yet)."""

    key: str
    names: list[str] = field(default_factory=list)
    messages: int = 0
    last_sent_at: datetime | None = None
    alias_vendor: Vendor | None = None
    vendor: Vendor | None = None


def sender_rows(chat: Chat, limit: int = MAX_SENDERS) -> list[SenderRow]:
    """The chat's distinct senders (by alias key), busiest first, at most ``limit``; two queries."""
    rows: dict[str, SenderRow] = {}
    found = (Message.objects.filter(chat=chat).exclude(sender="").values("sender")
             .annotate(n=Count("id"), last=Max("sent_at")).order_by("-n", "sender")[:limit])
    for item in found:
        key = alias_key(item["sender"])
        if not key:
            continue
        row = rows.setdefault(key, SenderRow(key=key))
        row.names.append(item["sender"])
        row.messages += item["n"]
        row.last_sent_at = max(filter(None, (row.last_sent_at, item["last"])), default=None)
    aliases = VendorAlias.objects.filter(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias__in=list(rows)).select_related(
        "vendor")
    by_key = {alias.alias: alias.vendor for alias in aliases}
    for row in rows.values():
        row.alias_vendor = by_key.get(row.key)
        row.vendor = extraction.attributed_vendor(row.alias_vendor, chat)  # as the extraction files its offers
    return sorted(rows.values(), key=lambda row: (-row.messages, row.key))


def sender_choices(rows: list[SenderRow]) -> list[tuple[str, str]]:
    """``(alias key, label)`` for the sender forms' select."""
    return [(row.key, " / ".join(row.names)) for row in rows]


def chat_counters(chat: Chat) -> dict:
    """The page's counters: the ingest's ``SHOWN_COUNTERS`` for this chat, then ``message_count``,
    ``pending`` (messages awaiting extraction) and ``last_extracted_at`` (``None`` if never)."""
    counted = counters.per_chat([chat.pk]).get(chat.pk, {})
    return {
        **{name: counted.get(name, 0) for name in SHOWN_COUNTERS},
        "message_count": chat.message_count,
        "pending": Message.objects.filter(chat=chat, extraction_state=Message.Extraction.PENDING).count(),
        "last_extracted_at": chat.last_extracted_at,
    }


def latest_messages(chat: Chat, limit: int = LATEST_MESSAGES) -> list[dict]:
    """The chat's latest ``limit`` messages, newest first: ``id``, ``sent_at``, ``sender``, ``text``
    (cut to ``TEXT_CUT`` characters, ``cut`` True when it was), ``state`` (the extraction state's
    label), ``error``, ``attachment`` (``{"url", "name"}`` of its document in the admin, or ``None``)
    and ``media_error`` (why an attachment was not kept, or ``""``)."""
    rows = []
    for message in Message.objects.filter(chat=chat).select_related("media_document").order_by("-id")[:limit]:
        document = message.media_document
        rows.append({
            "id": message.pk, "sent_at": message.sent_at, "sender": message.sender,
            "text": message.text[:TEXT_CUT], "cut": len(message.text) > TEXT_CUT,
            "state": message.get_extraction_state_display(), "error": message.extraction_error,
            "attachment": None if document is None else {
                "url": reverse("admin:documents_sourcedocument_change", args=[document.pk]),
                "name": document.original_filename or f"document #{document.pk}",
            },
            "media_error": message.media_error,
        })
    return rows


def chat_clients(chat: Chat, limit: int = 20) -> list[str]:
    """The collectors (``client_id``) that posted to the chat, at most ``limit``."""
    return list(Message.objects.filter(chat=chat).exclude(client_id="").order_by("client_id")
                .values_list("client_id", flat=True).distinct()[:limit])


def _chat_page(request, chat_id: int):
    chat = get_object_or_404(Chat.objects.select_related("vendor", "provisional_vendor"), pk=chat_id)
    user = request.user
    if not user.has_perm("whatsapp.view_chat"):
        raise PermissionDenied
    can_map_chat = user.has_perm("whatsapp.change_chat")
    can_map_senders = all(user.has_perm(name) for name in SENDER_PERMISSIONS)
    can_add_vendor = user.has_perm("offers.add_vendor")
    senders = sender_rows(chat)
    choices = sender_choices(senders)

    data = request.POST if request.method == "POST" else None
    action = request.POST.get("action") if data is not None else None
    chat_form = ChatVendorForm(data if action == "map_chat" else None, prefix="chat", can_add_vendor=can_add_vendor)
    sender_form = SenderVendorForm(data if action == "map_sender" else None, prefix="sender", senders=choices,
                                   can_add_vendor=can_add_vendor)
    if data is not None:
        if action not in ("map_chat", "unmap_chat", "map_sender", "unmap_sender", *EXTRACTION_ACTIONS):
            return HttpResponseBadRequest("unknown action: expected map_chat, unmap_chat, map_sender, unmap_sender, "
                                          "extract_latest or full_rerun")
        if not (can_map_chat if action.endswith("_chat") or action in EXTRACTION_ACTIONS else can_map_senders):
            raise PermissionDenied
        if action in EXTRACTION_ACTIONS:
            _extract(request, chat, action)
            return HttpResponseRedirect(reverse("whatsapp-chat", args=[chat.pk]))
        done = _apply(request, chat, action, chat_form, sender_form, choices)
        if done:
            return HttpResponseRedirect(reverse("whatsapp-chat", args=[chat.pk]))

    context = {
        **admin.site.each_context(request),
        "opts": Chat._meta,
        "title": f"WhatsApp chat: {chat}",
        "chat": chat,
        "clients": chat_clients(chat),
        "counters": chat_counters(chat),
        "extraction": extraction_state(chat),
        "latest": latest_messages(chat),
        "latest_limit": LATEST_MESSAGES,
        "senders": senders,
        "max_senders": MAX_SENDERS,
        "chat_form": chat_form,
        "sender_form": sender_form,
        "media": chat_form.media + sender_form.media,
        "can_map_chat": can_map_chat,
        "can_map_senders": can_map_senders,
        "messages_url": reverse("admin:whatsapp_message_changelist") + f"?chat__id__exact={chat.pk}",
        "history_url": reverse("admin:whatsapp_chat_history", args=[chat.pk]),
        "record_url": reverse("admin:whatsapp_chat_change", args=[chat.pk]),
    }
    return TemplateResponse(request, "admin/whatsapp/chat_page.html", context)


def extraction_state(chat: Chat) -> dict:
    """The page's extraction section: ``due_at`` (when the chat is due, ``None`` when nothing waits),
    ``due_now`` (that moment has passed: the worker takes it within seconds), ``claimed`` (a worker is at
    it: its claim's end), ``offers`` (``Chat.extracted_count``), ``through`` (the highest message id
    extracted), ``vendor`` (where unattributed offers go now: the chat's vendor, else its provisional
    one, ``provisional`` True then), ``debounce`` and ``max_wait`` (seconds)."""
    due_at = extraction.next_due_at(chat)
    now = timezone.now()
    claimed = chat.extract_claimed_until if chat.extract_claimed_until and chat.extract_claimed_until > now else None
    vendor = chat.vendor or chat.provisional_vendor
    return {
        "due_at": due_at if chat.extract_due_at is not None else None,
        "due_now": chat.extract_due_at is not None and due_at is not None and due_at <= now,
        "claimed": claimed,
        "offers": chat.extracted_count,
        "through": chat.extracted_through_message_id,
        "vendor": vendor,
        "provisional": chat.vendor is None and vendor is not None,
        "debounce": extraction.debounce_seconds(),
        "max_wait": extraction.max_wait_seconds(),
    }


def _extract(request, chat: Chat, action: str) -> None:
    """Run "extract latest" or "full rerun" now (bounded), log it in the chat's history and say what
    it did."""
    user = request.user
    run_it = extraction.full_rerun if action == "full_rerun" else extraction.extract_latest
    what = "Full rerun" if action == "full_rerun" else "Extract latest"
    try:
        run = run_it(chat.pk, trigger=f"admin, {user.get_username()}", max_messages=extraction.SYNC_MAX_MESSAGES)
    except Exception as exc:  # recorded by the run (its events line), the chat armed again
        messages.error(request, f"{what} of chat {chat} stopped: {type(exc).__name__}: {exc}. The worker tries again.")
        return
    summary = (f"{what}: {run.messages} message(s) read, {run.extracted} extracted, {run.errors} failed, "
               f"{run.offers} offer(s) created" + (f", {run.replaced} earlier offer(s) replaced" if run.replaced else ""))
    log(user, chat, CHANGE, summary + ".")
    rest = f" {run.pending} message(s) still pending: the worker extracts them shortly." if run.pending else ""
    (messages.warning if run.errors else messages.success)(request, summary + "." + rest)


def _apply(request, chat: Chat, action: str, chat_form, sender_form, choices) -> bool:
    """Carry out one POSTed ``action``; True when done (a success message is queued), False when a
    form holds errors to show."""
    try:
        if action == "map_chat":
            if not chat_form.is_valid():
                return False
            vendor = chat_form.save(chat, request.user)
            messages.success(request, f"Chat {chat} is mapped to vendor {vendor.name}.")
        elif action == "unmap_chat":
            previous = unmap_chat(chat, request.user)
            if previous is None:
                messages.info(request, f"Chat {chat} had no vendor.")
            else:
                messages.success(request, f"Chat {chat} is no longer mapped to vendor {previous.name}.")
        elif action == "map_sender":
            if not sender_form.is_valid():
                return False
            alias, vendor = sender_form.save(chat, request.user)
            messages.success(request, f"Sender {alias.alias} is mapped to vendor {vendor.name}.")
        else:
            unmap = SenderUnmapForm(request.POST, prefix="unmap", senders=choices)
            if not unmap.is_valid():
                messages.error(request, "That sender has no messages in this chat.")
                return True
            previous = unmap.save(chat, request.user)
            key = unmap.cleaned_data["sender"]
            if previous is None:
                messages.info(request, f"Sender {key} was not mapped.")
            else:
                messages.success(request, f"Sender {key} is no longer mapped to vendor {previous.name}; its "
                                          "messages go to the chat's vendor.")
    except forms.ValidationError as exc:
        (chat_form if action == "map_chat" else sender_form).add_error(None, exc)
        return False
    return True


chat_page = admin.site.admin_view(_chat_page)
