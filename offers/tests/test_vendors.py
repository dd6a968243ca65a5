import pytest
from django.urls import reverse

from offers.models import Offer, ProductAlias, Vendor, VendorAlias
from offers.vendors import merge_vendors, vendor_by_name, vendor_for_sender

pytestmark = pytest.mark.django_db


def test_vendor_by_name_any_case_and_aliases():
    acme = vendor_by_name("Acme  Mobile")
    assert vendor_by_name("acme mobile") == acme
    VendorAlias.objects.create(vendor=acme, kind="name", alias="acme ltd")
    assert vendor_by_name("ACME Ltd") == acme
    assert Vendor.objects.count() == 1


def test_merge_moves_everything_and_keeps_the_name_as_alias(build):
    from documents.models import SourceDocument
    from whatsapp.models import Chat

    target = build.vendor("Acme Mobile")
    provisional = vendor_for_sender("+44 7700 900123")
    assert provisional.is_provisional
    offer = build.offer(vendor=provisional, source_document=build.document(vendor=provisional))
    chat = Chat.objects.create(external_id="g1", vendor=provisional)
    ProductAlias.objects.create(product=offer.product, vendor=provisional, kind="sku", key="A1")
    ProductAlias.objects.create(product=offer.product, vendor=target, kind="sku", key="A1")
    ProductAlias.objects.create(product=offer.product, vendor=provisional, kind="sku", key="B2")

    assert merge_vendors(target, [provisional]) == 1
    assert not Vendor.objects.filter(pk=provisional.pk).exists()
    assert Offer.objects.get(pk=offer.pk).vendor == target
    assert offer.history_point.__class__.objects.get(pk=offer.history_point.pk).vendor_id == target.pk
    assert SourceDocument.objects.get(pk=offer.source_document_id).vendor == target
    assert Chat.objects.get(pk=chat.pk).vendor == target
    assert sorted(ProductAlias.objects.filter(vendor=target).values_list("key", flat=True)) == ["A1", "B2"]
    # The sender keeps landing on the target, and the old name is an alias.
    assert vendor_for_sender("+44 7700 900123") == target
    assert vendor_by_name("+44 7700 900123") == target


def test_admin_merge_action(staff_client, build):
    target = build.vendor("Acme Mobile")
    provisional = vendor_for_sender("Mario")
    build.offer(vendor=provisional)
    url = reverse("admin:offers_vendor_changelist")
    page = staff_client.post(url, {"action": "merge_into", "_selected_action": [provisional.pk]})
    assert page.status_code == 200 and b"Merge into" in page.content
    done = staff_client.post(url, {"action": "merge_into", "_selected_action": [provisional.pk], "target": target.pk})
    assert done.status_code == 302
    assert Offer.objects.get().vendor == target
    assert not Vendor.objects.filter(name="Mario").exists()
