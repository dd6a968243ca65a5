"""The forms of a WhatsApp chat's page (``whatsapp.chat_page``): mapping the chat, or one of its
senders, to a vendor.

A vendor is picked (the admin's autocomplete over ``offers.Vendor``) or created by name with its
default currency (ISO 4217). Each saved change is written to Django's admin log (``LogEntry``) by
the user who made it, so the chat's history in the admin says who mapped what.

A sender is mapped through the same ``offers.VendorAlias`` (kind ``whatsapp_sender``, alias
normalized by ``offers.vendors.alias_key``) that the transcript import reads with
``offers.vendors.vendor_for_sender``: the mapping holds for that sender in every chat, and it wins
over the chat's own vendor.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import IntegrityError, transaction

from offers.models import Vendor, VendorAlias
from offers.vendors import vendor_by_name
from whatsapp.models import Chat


def iso_currency(value: str) -> str:
    """``value`` as an ISO 4217 code (``eur`` -> ``EUR``); ``""`` stays ``""`` (no default currency).

    Raises ``forms.ValidationError`` unless it is three letters naming a currency known to CLDR
    (``babel.numbers.list_currencies``: ``ZZZ`` is none)."""
    from babel.numbers import list_currencies

    code = (value or "").strip().upper()
    if not code:
        return ""
    if not (len(code) == 3 and code.isascii() and code.isalpha()) or code not in list_currencies():
        raise forms.ValidationError(f"{code[:10]!r} is not an ISO 4217 currency code: three letters such as EUR")
    return code


def log(user, obj, flag: int, message: str) -> None:
    """Write one admin ``LogEntry`` (``ADDITION``, ``CHANGE`` or ``DELETION`` of ``obj``) by ``user``;
    a deletion is logged before the row goes."""
    LogEntry.objects.log_actions(user_id=user.pk, queryset=[obj], action_flag=flag, change_message=message,
                                 single_object=True)


class VendorChoiceForm(forms.Form):
    """Exactly one of: an existing ``vendor``, or a ``new_vendor`` name (with an optional default
    ``currency``). ``resolve(user)`` returns the vendor, creating the new one."""

    vendor = forms.ModelChoiceField(
        queryset=Vendor.objects.all(), required=False, label="Existing vendor",
        widget=AutocompleteSelect(Chat._meta.get_field("vendor"), admin.site),
    )
    new_vendor = forms.CharField(max_length=200, required=False, label="Or a new vendor named",
                                 strip=True)
    currency = forms.CharField(
        max_length=3, required=False, label="Its default currency",
        help_text="ISO 4217, such as EUR: used for the prices this vendor sends without a currency.",
    )

    def __init__(self, *args, can_add_vendor: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_add_vendor = can_add_vendor
        for name in ("new_vendor", "currency"):
            self.fields[name].widget.attrs.setdefault("size", 3 if name == "currency" else 30)

    def clean_currency(self) -> str:
        return iso_currency(self.cleaned_data.get("currency", ""))

    def clean(self):
        data = super().clean()
        vendor, name = data.get("vendor"), data.get("new_vendor", "")
        if self.errors:
            return data
        if vendor and name:
            raise forms.ValidationError("Pick an existing vendor or name a new one, not both.")
        if not vendor and not name:
            raise forms.ValidationError("Pick an existing vendor or name a new one.")
        if vendor and data.get("currency"):
            self.add_error("currency", "A currency is set here only for a new vendor; change an existing "
                                       "vendor's currency on its own page.")
        if name:
            if not self.can_add_vendor:
                self.add_error("new_vendor", "You may not add vendors: pick an existing one.")
            elif (existing := vendor_by_name(name, create=False)) is not None:
                self.add_error("new_vendor", f"A vendor named {existing.name} exists already: pick it above.")
        return data

    def resolve(self, user) -> Vendor:
        """The picked vendor, or the new one created now (logged as an addition). Call on a valid form,
        inside a transaction. Raises ``forms.ValidationError`` when the name was taken meanwhile."""
        if self.cleaned_data.get("vendor"):
            return self.cleaned_data["vendor"]
        name = " ".join(self.cleaned_data["new_vendor"].split())
        try:
            with transaction.atomic():
                vendor = Vendor.objects.create(name=name, default_currency=self.cleaned_data["currency"])
        except IntegrityError:  # created concurrently under the same name
            raise forms.ValidationError(f"A vendor named {name} exists already: pick it.") from None
        log(user, vendor, ADDITION, "Added from a WhatsApp chat's page.")
        return vendor


class ChatVendorForm(VendorChoiceForm):
    """Maps a chat to a vendor: ``save(chat, user)`` sets ``Chat.vendor``."""

    def save(self, chat: Chat, user) -> Vendor:
        """Map ``chat`` to the chosen vendor (created if new); returns it. Raises
        ``forms.ValidationError`` (see ``resolve``)."""
        with transaction.atomic():
            vendor = self.resolve(user)
            previous = chat.vendor
            chat.vendor = vendor
            chat.save(update_fields=["vendor"])
            log(user, chat, CHANGE, f"Mapped the chat to vendor {vendor.name}"
                                    + (f" (was {previous.name})." if previous and previous != vendor else "."))
        return vendor


def unmap_chat(chat: Chat, user) -> Vendor | None:
    """Clear ``chat``'s vendor (logged); returns the vendor it had, ``None`` when it had none."""
    previous = chat.vendor
    if previous is None:
        return None
    with transaction.atomic():
        chat.vendor = None
        chat.save(update_fields=["vendor"])
        log(user, chat, CHANGE, f"Removed the chat's vendor mapping (was {previous.name}).")
    return previous


class SenderChoiceMixin:
    """A ``sender`` field whose choices are the chat's senders: ``senders`` is a list of
    ``(alias key, label)`` (``whatsapp.chat_page.sender_rows``)."""

    def _add_sender_field(self, senders: list[tuple[str, str]]) -> None:
        self.fields["sender"] = forms.ChoiceField(choices=[("", "---------"), *senders], label="Sender")
        self.order_fields(["sender"])


class SenderVendorForm(SenderChoiceMixin, VendorChoiceForm):
    """Maps one of the chat's senders to a vendor: creates or updates its ``VendorAlias``."""

    def __init__(self, *args, senders: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self._add_sender_field(senders)

    def save(self, chat: Chat, user) -> tuple[VendorAlias, Vendor]:
        """Map the chosen sender (an alias key) to the chosen vendor, everywhere it posts; logged on
        the alias and on ``chat``. Returns ``(alias, vendor)``. Raises ``forms.ValidationError``."""
        key = self.cleaned_data["sender"]
        with transaction.atomic():
            vendor = self.resolve(user)
            alias = (VendorAlias.objects.select_for_update().select_related("vendor")
                     .filter(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=key).first())
            if alias is None:
                alias = VendorAlias.objects.create(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=key, vendor=vendor)
                log(user, alias, ADDITION, f"Mapped WhatsApp sender {key} from chat {chat.pk}.")
                message = f"Mapped sender {key} to vendor {vendor.name}."
            else:
                previous = alias.vendor
                alias.vendor = vendor
                alias.save(update_fields=["vendor"])
                log(user, alias, CHANGE, f"Re-mapped from vendor {previous.name} in chat {chat.pk}.")
                message = f"Mapped sender {key} to vendor {vendor.name} (was {previous.name})."
            log(user, chat, CHANGE, message)
        return alias, vendor


class SenderUnmapForm(SenderChoiceMixin, forms.Form):
    """Removes a sender's mapping (its ``VendorAlias``): its messages fall back to the chat's vendor."""

    def __init__(self, *args, senders: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self._add_sender_field(senders)

    def save(self, chat: Chat, user) -> Vendor | None:
        """Delete the chosen sender's alias (logged on the alias and on ``chat``); returns the vendor it
        pointed to, ``None`` when the sender was not mapped."""
        key = self.cleaned_data["sender"]
        with transaction.atomic():
            alias = (VendorAlias.objects.select_for_update().select_related("vendor")
                     .filter(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=key).first())
            if alias is None:
                return None
            vendor = alias.vendor
            log(user, alias, DELETION, f"Unmapped from chat {chat.pk}.")
            alias.delete()
            log(user, chat, CHANGE, f"Removed the mapping of sender {key} (was vendor {vendor.name}).")
        return vendor

