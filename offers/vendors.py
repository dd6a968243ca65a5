"""Finding vendors by name, alias or WhatsApp sender."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from offers.models import Vendor, VendorAlias

_SPACES = re.compile(r"\s+")


def alias_key(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()[:200]


def vendor_by_name(name: str, *, create: bool = True) -> Vendor | None:
    """The vendor with this name (any letter case) or name alias; created if new."""
    name = _SPACES.sub(" ", name).strip()
    if not name:
        raise ValueError("a vendor name cannot be empty")
    vendor = (
        Vendor.objects.filter(name__iexact=name).first()
        or Vendor.objects.filter(aliases__kind=VendorAlias.Kind.NAME, aliases__alias=alias_key(name)).first()
    )
    if vendor or not create:
        return vendor
    try:
        with transaction.atomic():
            return Vendor.objects.create(name=name[:200])
    except IntegrityError:  # created concurrently
        return Vendor.objects.get(name__iexact=name)


def vendor_for_sender(sender: str) -> Vendor:
    """The vendor a WhatsApp sender is mapped to; unknown senders get a provisional vendor.

    Operators confirm or re-map provisional vendors in the admin (Vendor aliases).
    """
    key = alias_key(sender)
    alias = VendorAlias.objects.filter(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=key).select_related("vendor").first()
    if alias:
        return alias.vendor
    with transaction.atomic():
        vendor = vendor_by_name(sender, create=False)
        if vendor is None:
            vendor = Vendor.objects.create(name=_SPACES.sub(" ", sender).strip()[:200], is_provisional=True)
        VendorAlias.objects.get_or_create(kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=key, defaults={"vendor": vendor})
    return vendor


def merge_vendors(target: Vendor, sources: list[Vendor]) -> int:
    """Fold ``sources`` into ``target``: every row that points at a source moves to the target.

    Typical use: a provisional vendor made from a WhatsApp sender turns out to
    be an existing vendor. The source's name is kept as a name alias of the
    target, so later files under that name land there too. Returns how many
    vendors were merged.
    """
    from offers.models import ProductAlias

    merged = 0
    with transaction.atomic():
        for source in sources:
            if source.pk == target.pk:
                continue
            # SKU aliases the target already has would collide; the target's win.
            ProductAlias.objects.filter(
                vendor=source,
                kind=ProductAlias.Kind.SKU,
                key__in=ProductAlias.objects.filter(vendor=target, kind=ProductAlias.Kind.SKU).values("key"),
            ).delete()
            # Generic over every foreign key to Vendor, whichever app declares it.
            for relation in Vendor._meta.related_objects:
                if relation.many_to_many:
                    continue
                field = relation.field.name
                relation.related_model._base_manager.filter(**{field: source}).update(**{field: target})
            name = alias_key(source.name)
            source.delete()
            if name != alias_key(target.name):
                VendorAlias.objects.get_or_create(kind=VendorAlias.Kind.NAME, alias=name, defaults={"vendor": target})
            merged += 1
    return merged
