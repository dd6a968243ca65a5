"""Merging products, undoing a merge exactly, and splitting offers out of a product."""

from __future__ import annotations

import pytest

from offers.merge import MergeError, merge_products, split_offers, undo_merge
from offers.models import MatchRejection, Offer, PriceHistory, Product, ProductAlias, ProductMerge
from offers.review import rejected


def ids(queryset):
    return sorted(queryset.values_list("pk", flat=True))


@pytest.fixture
def pair(build):
    """Two products that are one: offers, points, aliases (SKU, EAN) and rejections on each."""
    vendor = build.vendor("Acme Mobile")
    source = build.product("iPhone 15 Pro Max 256 (dup)")
    target = build.product("Apple iPhone 15 Pro Max 256GB")
    for _ in range(3):
        build.offer(vendor=vendor, product=source, sku="IP15PM256")
    build.offer(vendor=vendor, product=target, sku="MU793")
    ProductAlias.objects.create(vendor=vendor, kind="sku", key="IP15PM256", product=source)
    ProductAlias.objects.create(kind="ean", key="0194253401001", product=source)
    ProductAlias.objects.create(vendor=vendor, kind="sku", key="MU793", product=target)
    other = build.product()
    # The same rejection on both (collides on the target), and one of the source's own.
    MatchRejection.objects.create(vendor=vendor, key="IP15P256", product=source)
    MatchRejection.objects.create(vendor=vendor, key="IP15P256", product=target)
    MatchRejection.objects.create(key="apple|iphone 15 pro|256gb||", product=source)
    return source, target, other, vendor


def snapshot(product):
    return {
        "offers": ids(Offer.all_objects.filter(product=product)),
        "points": ids(PriceHistory.all_objects.filter(product=product)),
        "aliases": ids(ProductAlias.objects.filter(product=product)),
        "rejections": ids(MatchRejection.objects.filter(product=product)),
    }


def test_merge_moves_everything_and_records_the_ids(pair, staff_user):
    source, target, _, vendor = pair
    before_source, before_target = snapshot(source), snapshot(target)

    merge = merge_products(source, target, staff_user)

    after = snapshot(target)
    assert after["offers"] == sorted(before_source["offers"] + before_target["offers"])
    assert after["points"] == sorted(before_source["points"] + before_target["points"])
    assert after["aliases"] == sorted(before_source["aliases"] + before_target["aliases"])
    assert Product.objects.get(pk=source.pk).merged_into_id == target.pk
    assert merge.moved["offers"] == before_source["offers"]
    assert merge.moved["price_history"] == before_source["points"]
    assert merge.moved["aliases"] == before_source["aliases"]
    assert merge.created_by == staff_user and merge.undone_at is None
    # The colliding rejection is kept on the source, not lost; the other moved.
    kept = MatchRejection.objects.get(product=source)
    assert kept.key == "IP15P256" and merge.moved["rejections_kept"] == [kept.pk]
    assert rejected(vendor.pk, "IP15P256", target.pk)
    assert rejected(vendor.pk, "apple|iphone 15 pro|256gb||", target.pk)
    assert len(merge.moved["rejections"]) == 1
    # The vendor's SKU now leads to the target.
    assert ProductAlias.objects.get(vendor=vendor, key="IP15PM256").product_id == target.pk


def test_undo_restores_exactly(pair, build, staff_user):
    source, target, _, vendor = pair
    before_source, before_target = snapshot(source), snapshot(target)
    merge = merge_products(source, target, staff_user)
    later = build.offer(vendor=vendor, product=target, sku="IP15PM256")  # reached the target after the merge

    undone = undo_merge(merge, staff_user)

    assert snapshot(source) == before_source
    after_target = snapshot(target)
    assert after_target["offers"] == sorted(before_target["offers"] + [later.pk])
    assert after_target["aliases"] == before_target["aliases"]
    assert after_target["rejections"] == before_target["rejections"]
    assert Product.objects.get(pk=source.pk).merged_into_id is None
    assert undone.undone_at is not None
    assert undone.moved["undo"] == {"offers": 3, "price_history": 3, "aliases": 2, "rejections": 1, "by": staff_user.pk}
    with pytest.raises(MergeError, match="already undone"):
        undo_merge(merge)


def test_undo_leaves_an_offer_split_out_since_where_it_is(pair, build):
    source, target, _, _ = pair
    merge = merge_products(source, target)
    moved_away = Offer.objects.get(pk=merge.moved["offers"][0])
    elsewhere = split_offers([moved_away])

    undo_merge(merge)

    assert Offer.objects.get(pk=moved_away.pk).product_id == elsewhere.pk
    assert Offer.objects.filter(product=source).count() == 2


def test_undo_refused_while_a_later_merge_involving_the_products_stands(pair, build):
    source, target, other, _ = pair
    first = merge_products(source, target)
    second = merge_products(target, other)

    with pytest.raises(MergeError, match=f"Merge #{second.pk}.*undo it first"):
        undo_merge(first)
    assert Product.objects.get(pk=source.pk).merged_into_id == target.pk

    undo_merge(second)
    undo_merge(first)
    assert Offer.objects.filter(product=source).count() == 3
    assert Offer.objects.filter(product=target).count() == 1
    assert not Offer.objects.filter(product=other).exists()
    assert not Product.objects.filter(merged_into__isnull=False).exists()


def test_merge_refusals(pair, build):
    source, target, other, _ = pair
    with pytest.raises(MergeError, match="itself"):
        merge_products(source, source)
    merge_products(source, target)
    with pytest.raises(MergeError, match="already merged"):
        merge_products(source, other)
    with pytest.raises(MergeError, match="merge into that product"):
        merge_products(other, source)
    assert ProductMerge.objects.count() == 1


def test_merge_of_many_offers_is_chunked(build):
    from datetime import datetime, timezone

    from offers.models import Offer as OfferModel

    vendor = build.vendor()
    source, target = build.product(), build.product()
    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    OfferModel.objects.bulk_create(
        OfferModel(vendor=vendor, product=source, price="10.00", currency="USD", observed_at=when) for _ in range(2000)
    )

    merge = merge_products(source, target)

    assert len(merge.moved["offers"]) == 2000
    assert Offer.objects.filter(product=target).count() == 2000
    undo_merge(merge)
    assert Offer.objects.filter(product=source).count() == 2000


def test_split_into_a_new_product_built_from_the_first_offer(build, staff_user):
    vendor = build.vendor()
    mixed = build.product("Apple iPhone 15 Pro 256GB", match_key="apple|iphone 15 pro|256gb||")
    stays = build.offer(vendor=vendor, product=mixed, sku="IP15P256", description="iPhone 15 Pro 256GB")
    out = [
        build.offer(vendor=vendor, product=mixed, sku="IP15PM256", description="iPhone 15 Pro Max 256GB Blue"),
        build.offer(vendor=vendor, product=mixed, sku="IP15PM256", description="iPhone 15 Pro Max 256GB Blue"),
    ]

    product = split_offers(Offer.objects.filter(pk__in=[o.pk for o in out]).order_by("pk"), staff_user)

    assert (product.name, product.storage, product.match_key) == (
        "Apple iPhone 15 Pro Max 256GB", "256GB", "apple|iphone 15 pro max|256gb||"
    )
    assert ids(Offer.objects.filter(product=product)) == sorted(o.pk for o in out)
    assert ids(PriceHistory.objects.filter(product=product)) == ids(PriceHistory.objects.filter(offer__in=out))
    assert Offer.objects.get(pk=stays.pk).product_id == mixed.pk
    assert ProductAlias.objects.get(vendor=vendor, key="IP15PM256").product_id == product.pk
    assert rejected(vendor.pk, "IP15PM256", mixed.pk)
    assert {o.match_method for o in Offer.objects.filter(product=product)} == {"manual"}


def test_split_into_an_existing_product_and_refusals(build):
    vendor = build.vendor()
    a, b, c = build.product(), build.product(), build.product()
    offer_a = build.offer(vendor=vendor, product=a, sku="X1")
    offer_b = build.offer(vendor=vendor, product=b, sku="X2")

    assert split_offers([offer_a], into=c) == c
    assert Offer.objects.get(pk=offer_a.pk).product_id == c.pk
    assert PriceHistory.objects.get(offer=offer_a).product_id == c.pk

    with pytest.raises(MergeError, match="several products"):
        split_offers(Offer.objects.filter(pk__in=[offer_a.pk, offer_b.pk]))
    with pytest.raises(MergeError, match="already belong"):
        split_offers([offer_b], into=b)
    with pytest.raises(MergeError, match="No offers"):
        split_offers(Offer.objects.none())


def test_current_product_ids_follow_merge_chains(build):
    from offers.merge import current_product_ids

    a, b, c, alone = build.product(), build.product(), build.product(), build.product()
    merge_products(a, b)
    merge_products(b, c)

    assert current_product_ids([a.pk, b.pk, c.pk, alone.pk, 999999]) == {a.pk: c.pk, b.pk: c.pk, c.pk: c.pk,
                                                                         alone.pk: alone.pk}


def test_a_split_line_without_sku_stays_out_for_its_vendor_only(build):
    from offers.matching import ProductRef, match_products

    one, other = build.vendor(), build.vendor()
    [link] = match_products(one.pk, [ProductRef.of("", "Motorola Edge 50 256GB")])
    source = Product.objects.get(pk=link.product_id)
    offer = build.offer(vendor=one, product=source, description="Motorola Edge 50 256GB")
    # The operator says this vendor's line is another product (it reads like the source product).
    moved_to = split_offers([offer], into=build.product("Operator's product"))
    alias = ProductAlias.objects.get(vendor=one, kind="description")
    assert (alias.key, alias.product_id, alias.confirmed) == (source.match_key, moved_to.pk, True)
    [again] = match_products(one.pk, [ProductRef.of("", "Motorola Edge 50 256GB")])
    assert (again.product_id, again.decision.method) == (moved_to.pk, "key")
    # Another vendor's same line still means the product it reads as.
    [elsewhere] = match_products(other.pk, [ProductRef.of("", "Motorola Edge 50 256GB")])
    assert elsewhere.product_id == source.pk


def test_a_later_merge_into_the_same_target_does_not_block_an_undo(build):
    a, b, target = build.product("A"), build.product("B"), build.product("Target")
    offer_a, offer_b = build.offer(product=a), build.offer(product=b)
    ProductAlias.objects.create(product=a, vendor=offer_a.vendor, kind="sku", key="A-1")
    first = merge_products(a, target)
    merge_products(b, target)

    undo_merge(first)  # B's merge, later, into the same target, stays

    assert Offer.objects.get(pk=offer_a.pk).product_id == a.pk
    assert Offer.objects.get(pk=offer_b.pk).product_id == target.pk
    assert ProductAlias.objects.get(key="A-1").product_id == a.pk
    assert Product.objects.get(pk=b.pk).merged_into_id == target.pk
