"""Deleting a source document in the admin: the confirmation counts what goes with it."""

import pytest
from django.urls import reverse

from documents.models import SourceDocument
from offers.models import Offer, PriceHistory

pytestmark = pytest.mark.django_db


@pytest.fixture
def document_with_offers(build):
    vendor = build.vendor("Acme Mobile")
    document = build.document(vendor=vendor, status="succeeded")
    for n in range(30):
        build.offer(vendor=vendor, source_document=document, price=f"{100 + n}.00")
    return document


def test_the_delete_page_counts_offers_and_history_instead_of_listing_each(
    staff_client, document_with_offers, django_assert_max_num_queries
):
    url = reverse("admin:documents_sourcedocument_delete", args=[document_with_offers.pk])
    with django_assert_max_num_queries(15):  # not one query per offer and history point
        page = staff_client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "30 offers from it, with 30 price-history points" in text
    assert "Offer:" not in text


def test_deleting_takes_its_offers_and_history_with_it(staff_client, document_with_offers):
    url = reverse("admin:documents_sourcedocument_delete", args=[document_with_offers.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not SourceDocument.objects.exists()
    assert Offer.objects.count() == 0 and PriceHistory.objects.count() == 0


def test_a_user_who_may_not_delete_offers_is_told_so(client, django_user_model, document_with_offers):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("clerk", password="pw-clerk-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_sourcedocument", "delete_sourcedocument"]))
    client.force_login(user)
    page = client.get(reverse("admin:documents_sourcedocument_delete", args=[document_with_offers.pk]))
    text = page.content.decode()
    assert "have permission to delete the following types of objects" in text
    assert "<li>offer</li>" in text and "<li>price history</li>" in text
