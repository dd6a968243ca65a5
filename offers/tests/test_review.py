"""The review queue's actions: accept, choose another product, make a new product; rejections."""

from __future__ import annotations

import pytest

from offers.models import MatchMethod, MatchRejection, Offer, PriceHistory, Product, ProductAlias
from offers.review import (
    ReviewError,
    accept,
    choose,
    make_new_product,
    offer_keys,
    rejected,
    rejections,
    text_key,
)


@pytest.fixture
def proposed(build):
    """An offer of "IP15P256" proposed (review band) for the iPhone 15 Pro Max 256GB."""
    vendor = build.vendor("Acme Mobile")
    product = build.product("Apple iPhone 15 Pro Max 256GB", brand="Apple", model="iPhone 15 Pro Max",
                            storage="256GB", match_key="apple|iphone 15 pro max|256gb||")
    offer = build.offer(vendor=vendor, product=product, sku="IP15P 256", description="iPhone 15 Pro 256GB Natural",
                        needs_review=True, match_method=MatchMethod.SIMILAR, match_confidence=72)
    return offer


def test_accept_settles_the_link_and_remembers_the_sku(proposed, staff_user):
    result = accept(proposed, staff_user)

    offer = Offer.objects.get(pk=proposed.pk)
    assert (offer.needs_review, offer.match_method, offer.match_confidence) == (False, "manual", 100)
    assert offer.product_id == proposed.product_id == result.product.pk
    alias = ProductAlias.objects.get(vendor=proposed.vendor, kind="sku")
    assert (alias.key, alias.product_id) == ("IP15P256", proposed.product_id)
    assert alias.confirmed
    # The line's reading is remembered too, for every vendor's same line with or without a SKU.
    line = ProductAlias.objects.get(vendor=None, kind="description")
    assert (line.key, line.product_id, line.confirmed) == (text_key(proposed.sku, proposed.description),
                                                           proposed.product_id, True)
    assert result.action == "accept" and result.offer_ids == (proposed.pk,) and result.aliases == (alias, line)
    assert not MatchRejection.objects.exists()


def test_accept_applies_to_the_same_line_of_the_same_vendor_only(build, proposed):
    again = build.offer(vendor=proposed.vendor, product=proposed.product, sku="ip15p256",
                        description="other words", needs_review=True)
    other_vendor = build.offer(product=proposed.product, sku="IP15P 256", needs_review=True)
    other_sku = build.offer(vendor=proposed.vendor, product=proposed.product, sku="IP15P 128", needs_review=True)

    result = accept(proposed)

    assert set(result.offer_ids) == {proposed.pk, again.pk}
    assert not Offer.objects.get(pk=again.pk).needs_review
    assert Offer.objects.get(pk=other_vendor.pk).needs_review
    assert Offer.objects.get(pk=other_sku.pk).needs_review


def test_accept_re_points_a_sku_remembered_for_another_product(build, proposed):
    elsewhere = build.product()
    ProductAlias.objects.create(vendor=proposed.vendor, kind="sku", key="IP15P256", product=elsewhere)

    accept(proposed)

    alias = ProductAlias.objects.get(vendor=proposed.vendor, kind="sku", key="IP15P256")
    assert alias.product_id == proposed.product_id


def test_choose_moves_offer_and_history_remembers_sku_and_rejects_the_proposed(build, proposed, staff_user):
    right = build.product("Apple iPhone 15 Pro 256GB", match_key="apple|iphone 15 pro|256gb||")
    wrong = proposed.product

    result = choose(proposed, right, staff_user)

    assert Offer.objects.get(pk=proposed.pk).product_id == right.pk
    assert PriceHistory.objects.get(offer=proposed).product_id == right.pk
    assert not PriceHistory.objects.filter(product=wrong).exists()
    assert ProductAlias.objects.get(vendor=proposed.vendor, kind="sku", key="IP15P256").product_id == right.pk
    rows = {(r.vendor_id, r.key, r.product_id, r.created_by_id) for r in MatchRejection.objects.all()}
    assert rows == {
        (proposed.vendor_id, "IP15P256", wrong.pk, staff_user.pk),
        (None, "apple|iphone 15 pro|256gb||", wrong.pk, staff_user.pk),
    }
    assert result.action == "choose" and result.previous_product_id == wrong.pk and len(result.rejections) == 2
    offer = Offer.objects.get(pk=proposed.pk)
    assert (offer.needs_review, offer.match_method) == (False, "manual")


def test_rejected_is_true_after_choose_for_the_vendor_and_the_text(build, proposed):
    right = build.product()
    wrong = proposed.product
    vendor, other_vendor = proposed.vendor, build.vendor()
    assert not rejected(vendor.pk, "IP15P256", wrong.pk)

    choose(proposed, right)

    assert rejected(vendor.pk, "IP15P256", wrong.pk)
    assert not rejected(other_vendor.pk, "IP15P256", wrong.pk)  # a SKU means something else elsewhere
    assert not rejected(vendor.pk, "IP15P256", right.pk)
    text = text_key(proposed.sku, proposed.description)
    assert rejected(other_vendor.pk, text, wrong.pk)  # the reading of the line, at every vendor
    assert rejections(vendor.pk, ["IP15P256", text, "UNKNOWN"]) == {"IP15P256": {wrong.pk}, text: {wrong.pk}}
    assert rejections(other_vendor.pk, ["IP15P256"]) == {}


def test_choose_refuses_the_proposed_product_and_a_merged_one(build, proposed):
    with pytest.raises(ReviewError, match="accept"):
        choose(proposed, proposed.product)
    merged = build.product(merged_into=build.product())
    with pytest.raises(ReviewError, match="merged"):
        choose(proposed, merged)
    assert Offer.objects.get(pk=proposed.pk).needs_review


def test_make_new_product_from_the_parsed_attributes(proposed, staff_user):
    wrong = proposed.product

    result = make_new_product(proposed, staff_user)

    product = result.product
    assert result.created and result.action == "new"
    assert (product.name, product.brand, product.model, product.storage) == (
        "Apple iPhone 15 Pro 256GB", "Apple", "iPhone 15 Pro", "256GB"
    )
    assert product.match_key == "apple|iphone 15 pro|256gb||"
    assert Offer.objects.get(pk=proposed.pk).product_id == product.pk
    assert PriceHistory.objects.get(offer=proposed).product_id == product.pk
    assert ProductAlias.objects.get(vendor=proposed.vendor, kind="sku").product_id == product.pk
    assert rejected(proposed.vendor_id, "IP15P256", wrong.pk)


def test_make_new_product_uses_the_product_with_the_same_attributes(build, proposed):
    same = build.product("Apple iPhone 15 Pro 256GB", match_key="apple|iphone 15 pro|256gb||")

    result = make_new_product(proposed)

    assert not result.created and result.product == same
    assert Product.objects.count() == 2  # the proposed one and the one used: none created


def test_make_new_product_from_a_line_naming_no_product(build):
    offer = build.offer(sku="", description="Late update, mixed lot", needs_review=True)

    product = make_new_product(offer).product

    assert product.name == "Late update, mixed lot" and product.match_key == "raw|late update, mixed lot"
    assert product.brand == ""
    assert offer_keys(offer.vendor_id, "", offer.description) == [(None, "raw|late update, mixed lot")]
    assert rejected(None, "raw|late update, mixed lot", offer.product_id)


def test_a_new_product_whose_key_is_taken_gets_a_free_one(build, proposed):
    # The proposed product itself has the line's attributes: the operator says it is another one.
    proposed.product.match_key = "apple|iphone 15 pro|256gb||"
    proposed.product.save()

    result = make_new_product(proposed)

    assert result.created and result.product.match_key == "apple|iphone 15 pro|256gb|| #2"
    # No rejection of a key that is the rejected product's own key; the SKU's is recorded.
    assert list(MatchRejection.objects.values_list("key", flat=True)) == ["IP15P256"]


def test_an_offer_settled_meanwhile_is_not_decided_again(build, proposed):
    make_new_product(proposed)
    settled_on = Offer.objects.get(pk=proposed.pk).product_id

    with pytest.raises(ReviewError, match="settled meanwhile"):
        make_new_product(proposed)
    with pytest.raises(ReviewError, match="settled meanwhile"):
        choose(proposed, build.product())
    assert Offer.objects.get(pk=proposed.pk).product_id == settled_on
    assert accept(proposed).product.pk == settled_on  # accepting again changes nothing


def test_rejections_of_a_large_batch_in_one_query(build, django_assert_num_queries):
    vendor, product = build.vendor(), build.product()
    MatchRejection.objects.create(vendor=vendor, key="K1500", product=product)
    keys = [f"K{n}" for n in range(3000)]

    with django_assert_num_queries(1):
        assert rejections(vendor.pk, keys) == {"K1500": {product.pk}}
