from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from offers.models import Offer, ProductAlias, Vendor

WHEN = datetime(2026, 11, 1, tzinfo=dt_timezone.utc)


def _offer(build, **kw):
    fields = dict(vendor=build.vendor(), product=build.product(), price=Decimal("10"), currency="USD", observed_at=WHEN)
    fields.update(kw)
    return Offer(**fields)


@pytest.mark.parametrize(
    "field,value",
    [
        ("price", Decimal("0")),
        ("price", Decimal("-5")),
        *[("currency", code) for code in ["usd", "US", "US1", "U$D", "ÉUR"]],
        ("condition", "mint"),
    ],
)
def test_offer_constraints_reject_bad_rows(build, field, value):
    offer = _offer(build, **{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        offer.save()


def test_a_valid_offer_saves(build):
    offer = _offer(build, condition="refurbished", condition_grade="B")
    offer.save()
    assert Offer.objects.get(pk=offer.pk).price == Decimal("10.00")


def test_vendor_names_are_unique_whatever_the_case(build):
    Vendor.objects.create(name="Acme Phones")
    with pytest.raises(IntegrityError), transaction.atomic():
        Vendor.objects.create(name="ACME phones")


def test_vendor_default_currency_must_be_iso(build):
    with pytest.raises(IntegrityError), transaction.atomic():
        Vendor.objects.create(name="X", default_currency="eur")
    Vendor.objects.create(name="Y", default_currency="EUR")


def test_product_match_key_is_unique(build):
    build.product(name="A", match_key="iphone 15 128gb")
    with pytest.raises(IntegrityError), transaction.atomic():
        build.product(name="B", match_key="iphone 15 128gb")


def test_product_alias_unique_per_vendor_and_globally(build):
    vendor, product = build.vendor(), build.product()
    ProductAlias.objects.create(product=product, vendor=vendor, kind="sku", key="A2849")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductAlias.objects.create(product=build.product(), vendor=vendor, kind="sku", key="A2849")
    # The same SKU at another vendor is another key.
    ProductAlias.objects.create(product=product, vendor=build.vendor(), kind="sku", key="A2849")
    ProductAlias.objects.create(product=product, vendor=None, kind="description", key="iphone 15")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductAlias.objects.create(product=build.product(), vendor=None, kind="description", key="iphone 15")


def test_whatsapp_message_external_id_unique_per_chat_but_blank_allowed(db):
    from whatsapp.models import Chat, ContentFingerprint, Message

    chat = Chat.objects.create(external_id="120363@g.us", title="Deals")
    Message.objects.create(chat=chat, external_id="", sent_at=WHEN, content_hash="a" * 64)
    Message.objects.create(chat=chat, external_id="", sent_at=WHEN, content_hash="a" * 64)
    Message.objects.create(chat=chat, external_id="ABC", sent_at=WHEN, content_hash="b" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(chat=chat, external_id="ABC", sent_at=WHEN, content_hash="c" * 64)
    ContentFingerprint.objects.create(chat=chat, content_hash="a" * 64, last_seen_at=WHEN)
    with pytest.raises(IntegrityError), transaction.atomic():
        ContentFingerprint.objects.create(chat=chat, content_hash="a" * 64, last_seen_at=WHEN)


def test_document_reingest_is_a_new_snapshot(build):
    first = build.document(sha256="f" * 64)
    second = build.document(sha256="f" * 64, previous=first)
    assert first.pk != second.pk
    assert list(first.reingests.all()) == [second]
