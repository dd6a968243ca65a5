"""The admin's matching pages: review queue, merges and undo, split, rejections; staff only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from offers.merge import merge_products
from offers.models import MatchRejection, Offer, PriceHistory, Product, ProductAlias, ProductMerge

QUEUE = "admin:offers_offertoreview_changelist"


@pytest.fixture
def queue(build):
    vendor = build.vendor("Acme Mobile")
    proposed = build.product("Apple iPhone 15 Pro Max 256GB", brand="Apple", model="iPhone 15 Pro Max",
                             storage="256GB", match_key="apple|iphone 15 pro max|256gb||")
    waiting = build.offer(vendor=vendor, product=proposed, sku="IP15P 256", description="iPhone 15 Pro 256GB Blue",
                          price="899.00", needs_review=True, match_method="similar", match_confidence=72,
                          extra={"match_reason": "score 72"})
    settled = build.offer(vendor=vendor, product=proposed, sku="IP15PM256", description="settled line")
    return waiting, settled, proposed


def test_queue_lists_offers_waiting_beside_the_proposed_product(staff_client, queue):
    waiting, settled, proposed = queue

    page = staff_client.get(reverse(QUEUE))

    assert page.status_code == 200
    html = page.content.decode()
    for text in ("IP15P 256", "iPhone 15 Pro 256GB Blue", "Acme Mobile", "899.00 USD", proposed.name,
                 "Apple · iPhone 15 Pro Max · 256GB", "72", "score 72", "Choose…"):
        assert text in html
    assert "settled line" not in html


def test_queue_accept_action(staff_client, queue):
    waiting, _, proposed = queue

    page = staff_client.post(reverse(QUEUE), {"action": "accept_selected", ACTION_CHECKBOX_NAME: [waiting.pk]},
                             follow=True)

    assert "1 offer(s) settled, 1 vendor SKU(s) remembered" in page.content.decode()
    offer = Offer.objects.get(pk=waiting.pk)
    assert (offer.needs_review, offer.match_method, offer.product_id) == (False, "manual", proposed.pk)
    assert ProductAlias.objects.get(kind="sku", key="IP15P256").product_id == proposed.pk
    assert waiting.pk not in [row.pk for row in staff_client.get(reverse(QUEUE)).context["cl"].result_list]


def test_queue_make_new_product_action(staff_client, queue):
    waiting, _, proposed = queue

    staff_client.post(reverse(QUEUE), {"action": "new_products_for_selected", ACTION_CHECKBOX_NAME: [waiting.pk]})

    product = Offer.objects.get(pk=waiting.pk).product
    assert product.pk != proposed.pk and product.name == "Apple iPhone 15 Pro 256GB"
    assert MatchRejection.objects.filter(product=proposed, key="IP15P256").exists()


def test_choose_page_searches_and_chooses(build, staff_client, staff_user, queue):
    waiting, _, proposed = queue
    right = build.product("Apple iPhone 15 Pro 256GB", brand="Apple", storage="256GB",
                          match_key="apple|iphone 15 pro|256gb||")
    url = reverse("admin:offers_offertoreview_choose", args=[waiting.pk])

    page = staff_client.get(url, {"q": "15 pro 256gb"})
    assert page.status_code == 200
    assert [p.pk for p, _ in page.context["found"]] == [right.pk]  # the proposed one is left out
    assert [p.pk for p, _ in page.context["suggested"]] == [right.pk]  # same brand and storage
    change = staff_client.get(reverse("admin:offers_offertoreview_change", args=[waiting.pk]))
    assert change.status_code == 200 and change.context["title"] == page.context["title"]  # the same page

    response = staff_client.post(url, {"product": right.pk})

    assert response.status_code == 302
    assert Offer.objects.get(pk=waiting.pk).product_id == right.pk
    assert PriceHistory.objects.get(offer=waiting).product_id == right.pk
    rejection = MatchRejection.objects.get(product=proposed, key="IP15P256")
    assert rejection.created_by == staff_user
    # Settled: the page now says where the offer is linked; deciding again is refused.
    page = staff_client.get(url)
    assert page.status_code == 200 and "does not wait for review" in page.content.decode()
    assert right.name in page.content.decode()
    staff_client.post(url, {"new": "1"})
    assert Offer.objects.get(pk=waiting.pk).product_id == right.pk


def test_choose_page_accept_and_new_buttons(build, staff_client, queue):
    waiting, _, proposed = queue
    url = reverse("admin:offers_offertoreview_choose", args=[waiting.pk])
    staff_client.post(url, {"new": "1"})
    assert Offer.objects.get(pk=waiting.pk).product.name == "Apple iPhone 15 Pro 256GB"

    other = build.offer(product=proposed, sku="X", needs_review=True)
    staff_client.post(reverse("admin:offers_offertoreview_choose", args=[other.pk]), {"accept": "1"})
    assert not Offer.objects.get(pk=other.pk).needs_review


def test_non_staff_and_staff_without_permission_are_refused(client, django_user_model, queue):
    waiting, _, proposed = queue
    urls = [reverse(QUEUE), reverse("admin:offers_offertoreview_choose", args=[waiting.pk]),
            reverse("admin:offers_productmerge_changelist"), reverse("admin:offers_matchrejection_changelist")]
    user = django_user_model.objects.create_user(username="clerk", password="pw-clerk-123")
    client.force_login(user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and reverse("admin:login") in response.url
    assert client.post(urls[1], {"accept": "1"}).status_code == 302
    assert Offer.objects.get(pk=waiting.pk).needs_review

    user.is_staff = True
    user.save()
    assert client.get(urls[1]).status_code == 403
    assert client.post(urls[1], {"accept": "1"}).status_code == 403
    assert Offer.objects.get(pk=waiting.pk).needs_review


def test_merge_action_confirms_then_merges(build, staff_client):
    source, target = build.product("iPhone 15 dup"), build.product("Apple iPhone 15 128GB")
    offer = build.offer(product=source)
    url = reverse("admin:offers_product_changelist")
    data = {"action": "merge_products_action", ACTION_CHECKBOX_NAME: [source.pk, target.pk]}

    page = staff_client.post(url, data)
    assert page.status_code == 200
    assert "Choose the product to keep" in page.content.decode() and "iPhone 15 dup" in page.content.decode()
    assert not ProductMerge.objects.exists()

    page = staff_client.post(url, {**data, "target": target.pk}, follow=True)

    assert "1 product(s) merged into" in page.content.decode()
    merge = ProductMerge.objects.get()
    assert (merge.source_id, merge.target_id, merge.moved["offers"]) == (source.pk, target.pk, [offer.pk])
    assert Offer.objects.get(pk=offer.pk).product_id == target.pk


def test_merge_action_needs_two_products(build, staff_client):
    product = build.product()
    page = staff_client.post(reverse("admin:offers_product_changelist"),
                             {"action": "merge_products_action", ACTION_CHECKBOX_NAME: [product.pk]}, follow=True)
    assert "at least two products" in page.content.decode()


def test_merges_list_and_undo_in_order(build, staff_client):
    a, b, c = build.product("A phone"), build.product("B phone"), build.product("C phone")
    offer = build.offer(product=a)
    first = merge_products(a, b)
    second = merge_products(b, c)

    listing = staff_client.get(reverse("admin:offers_productmerge_changelist")).content.decode()
    assert "Undo" in listing and "1 offers" in listing

    undo_first = reverse("admin:offers_productmerge_undo", args=[first.pk])
    page = staff_client.get(undo_first)
    assert page.status_code == 200 and page.context["blocking"] == [second]
    page = staff_client.post(undo_first, follow=True)
    assert f"Merge #{second.pk}" in page.content.decode() and "undo it first" in page.content.decode()
    assert ProductMerge.objects.get(pk=first.pk).undone_at is None

    staff_client.post(reverse("admin:offers_productmerge_undo", args=[second.pk]))
    page = staff_client.post(undo_first, follow=True)
    assert "undone" in page.content.decode()
    assert Offer.objects.get(pk=offer.pk).product_id == a.pk
    assert staff_client.get(reverse("admin:offers_productmerge_change", args=[first.pk])).status_code == 200


def test_split_action_on_the_offers_of_a_product(build, staff_client):
    mixed = build.product("Apple iPhone 15 Pro 256GB", match_key="apple|iphone 15 pro|256gb||")
    stays = build.offer(product=mixed, sku="IP15P256", description="iPhone 15 Pro 256GB")
    out = build.offer(product=mixed, sku="IP15PM256", description="iPhone 15 Pro Max 256GB")
    url = reverse("admin:offers_offer_changelist") + f"?product__id__exact={mixed.pk}"
    data = {"action": "split_offers_action", ACTION_CHECKBOX_NAME: [out.pk]}

    page = staff_client.post(url, data)
    assert page.status_code == 200 and "IP15PM256" in page.content.decode()
    assert Offer.objects.get(pk=out.pk).product_id == mixed.pk

    page = staff_client.post(url, {**data, "confirm": "1", "into": ""}, follow=True)

    product = Offer.objects.get(pk=out.pk).product
    assert product.name == "Apple iPhone 15 Pro Max 256GB" and "split out" in page.content.decode()
    assert Offer.objects.get(pk=stays.pk).product_id == mixed.pk
    assert PriceHistory.objects.get(offer=out).product_id == product.pk


def test_split_action_into_a_product_given_by_id(build, staff_client):
    mixed, into = build.product(), build.product()
    out = build.offer(product=mixed)
    url = reverse("admin:offers_offer_changelist") + f"?product__id__exact={mixed.pk}"
    data = {"action": "split_offers_action", ACTION_CHECKBOX_NAME: [out.pk], "confirm": "1"}

    page = staff_client.post(url, {**data, "into": 999999})
    assert page.status_code == 200 and "No product #999999" in page.content.decode()

    staff_client.post(url, {**data, "into": into.pk})
    assert Offer.objects.get(pk=out.pk).product_id == into.pk


def test_rejections_list(build, staff_client):
    MatchRejection.objects.create(key="IP15P256", product=build.product("Apple iPhone 15 Pro Max 256GB"),
                                  vendor=build.vendor("Acme Mobile"))
    page = staff_client.get(reverse("admin:offers_matchrejection_changelist"))
    assert page.status_code == 200 and "IP15P256" in page.content.decode()


def test_product_search_by_name_words_id_and_remembered_sku(build):
    from offers.admin_review import search_products

    vendor = build.vendor()
    phone = build.product("Apple iPhone 15 Pro 256GB")
    gone = build.product("Apple iPhone 15 Pro 256GB (old)", merged_into=phone)
    ProductAlias.objects.create(vendor=vendor, kind="sku", key="IP15P256", product=phone)

    assert search_products("iphone 256gb pro") == [phone]  # merged products are not offered
    assert search_products("ip15p 256") == [phone]
    assert search_products(str(phone.pk)) == [phone]
    assert search_products("   ") == [] and gone.pk


def test_split_action_across_every_offer_of_the_filtered_list(build, staff_client):
    mixed, other = build.product(), build.product()
    out = [build.offer(product=mixed, sku="IP15PM256", description="iPhone 15 Pro Max 256GB") for _ in range(3)]
    elsewhere = build.offer(product=other)
    url = reverse("admin:offers_offer_changelist") + f"?product__id__exact={mixed.pk}"
    data = {"action": "split_offers_action", ACTION_CHECKBOX_NAME: [out[0].pk], "select_across": "1"}

    page = staff_client.post(url, data)
    assert page.status_code == 200
    assert 'name="select_across" value="1"' in page.content.decode()

    staff_client.post(url, {**data, "confirm": "1", "into": ""})

    assert {Offer.objects.get(pk=o.pk).product.name for o in out} == {"Apple iPhone 15 Pro Max 256GB"}
    assert Offer.objects.get(pk=elsewhere.pk).product_id == other.pk


def test_every_page_of_these_admins_renders(build, staff_client, queue):
    from offers.models import OfferToReview

    waiting, settled, proposed = queue
    merge_products(build.product(), proposed)
    MatchRejection.objects.create(key="K", product=proposed)
    for model in (OfferToReview, ProductMerge, MatchRejection):
        assert admin.site.is_registered(model)
        meta = model._meta
        assert staff_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")).status_code == 200
        for obj in model.objects.all():  # OfferToReview: the waiting offer and the settled one
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert staff_client.get(change).status_code == 200, change
    assert staff_client.get(reverse("admin:offers_matchrejection_add")).status_code == 200


def test_undo_selected_merges_newest_first(build, staff_client):
    a, b, c = build.product(), build.product(), build.product()
    offer = build.offer(product=a)
    first, second = merge_products(a, b), merge_products(b, c)

    page = staff_client.post(reverse("admin:offers_productmerge_changelist"),
                             {"action": "undo_selected", ACTION_CHECKBOX_NAME: [first.pk, second.pk]}, follow=True)

    assert "2 merge(s) undone" in page.content.decode()
    assert Offer.objects.get(pk=offer.pk).product_id == a.pk
    assert not ProductMerge.objects.filter(undone_at__isnull=True).exists()
