"""manage.py rematch: stored offers matched again, merged or moved, flagged; dry run; idempotent."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from offers.models import MatchMethod, Offer, PriceHistory, Product, ProductAlias, ProductMerge
from offers.rematch import rematch


@pytest.fixture
def legacy(build):
    """Products as the matcher before attribute matching made them: one per vendor wording, no
    attributes, their SKUs remembered by the matcher (not confirmed)."""
    one, two = build.vendor(name="Alpha"), build.vendor(name="Beta")
    worded = build.product(name="iPhone 15 Pro 128 GB", match_key="iphone 15 pro 128gb")
    other = build.product(name="Apple iPhone15 Pro (128GB) Blue", match_key="apple iphone15 pro 128gb blue")
    pixel = build.product(name="Pixel 8 128GB", match_key="pixel 8 128gb")
    offers = [
        build.offer(vendor=one, product=worded, sku="A-1", description="iPhone 15 Pro 128 GB"),
        build.offer(vendor=one, product=worded, sku="A-1", description="iPhone 15 Pro 128 GB", price="99.00"),
        build.offer(vendor=two, product=other, sku="", description="Apple iPhone15 Pro (128GB) Blue"),
        build.offer(vendor=two, product=pixel, sku="B-7", description="Pixel 8 128GB"),
        # An operator put this line on the Pixel product: left alone.
        build.offer(vendor=one, product=pixel, sku="A-9", description="Google Pixel 8 128 GB Obsidian",
                    match_method=MatchMethod.MANUAL, match_confidence=100),
    ]
    ProductAlias.objects.create(product=worded, vendor=one, kind="sku", key="A-1")
    ProductAlias.objects.create(product=pixel, vendor=two, kind="sku", key="B-7")
    return {"vendors": (one, two), "products": (worded, other, pixel), "offers": offers}


def snapshot():
    return (
        sorted(Offer.all_objects.values_list("pk", "product_id", "match_method", "match_confidence", "needs_review")),
        sorted(Product.objects.values_list("pk", "merged_into_id")),
        sorted(ProductAlias.objects.values_list("pk", "product_id")),
        sorted(PriceHistory.all_objects.values_list("pk", "product_id")),
    )


def test_products_of_one_model_are_merged_into_the_product_their_attributes_name(legacy):
    worded, other, pixel = legacy["products"]
    report = rematch()
    made = Product.objects.get(match_key="apple|iphone 15 pro|128gb||")
    assert (made.name, made.brand, made.storage) == ("Apple iPhone 15 Pro 128GB", "Apple", "128GB")
    # Both wordings' products were merged into it: offers, history and the SKU alias moved; undoable.
    assert {(m.source_id, m.target_id, m.offers) for m in report.merged} == {(worded.pk, made.pk, 2), (other.pk, made.pk, 1)}
    assert ProductMerge.objects.filter(target=made).count() == 2
    assert set(Offer.objects.filter(product=made).values_list("pk", flat=True)) == {o.pk for o in legacy["offers"][:3]}
    assert PriceHistory.objects.filter(product=made).count() == 3
    assert ProductAlias.objects.get(key="A-1").product_id == made.pk
    # The Pixel product keeps the operator's offer: its other offer is moved, not merged.
    pixel_made = Product.objects.get(match_key="google|pixel 8|128gb||")
    assert Offer.objects.get(pk=legacy["offers"][3].pk).product_id == pixel_made.pk
    assert Offer.objects.get(pk=legacy["offers"][4].pk).product_id == pixel.pk
    assert ProductAlias.objects.get(key="B-7").product_id == pixel_made.pk
    assert (report.moved, report.moved_from, report.created, report.left_alone, report.offers) == (1, 1, 2, 1, 4)
    assert set(Offer.objects.exclude(match_method=MatchMethod.MANUAL).values_list("match_method", flat=True)) <= {
        "new", "key", "sku"}


def test_a_second_run_changes_nothing(legacy):
    rematch()
    before = snapshot()
    report = rematch()
    assert not report.changed and snapshot() == before
    assert report.lines()[-1] == "nothing to change: every offer is where matching puts it"


def test_a_dry_run_reports_what_a_run_does_and_writes_nothing(legacy):
    before = snapshot()
    dry = rematch(dry_run=True)
    assert snapshot() == before
    real = rematch()
    # (PostgreSQL does not give back the ids a rolled-back transaction took: compare names.)
    assert [(m.source_id, m.target_name, m.offers) for m in dry.merged] == [
        (m.source_id, m.target_name, m.offers) for m in real.merged]
    assert (dry.moved, dry.created, dry.skus, dry.relabelled) == (real.moved, real.created, real.skus, real.relabelled)
    assert dry.lines()[0].startswith("rematch (dry run: nothing was written)")
    assert any(line.startswith("would merge 2 product(s)") for line in dry.lines())


def test_an_offer_whose_link_is_now_a_guess_is_flagged_for_review(build):
    vendor = build.vendor()
    near = Product.objects.create(name="Samsung Galaxy S24 Ultra Enterprise 256GB", brand="Samsung",
                                  model="Galaxy S24 Ultra Enterprise", storage="256GB", match_key="s24e")
    legacy = build.product(name="Galaxy S24 Ultra 256", match_key="galaxy s24 ultra 256")
    offer = build.offer(vendor=vendor, product=legacy, description="Galaxy S24 Ultra 256")
    keep = build.offer(vendor=vendor, product=legacy, description="Galaxy S24 Ultra 256", needs_review=False,
                       match_method=MatchMethod.MANUAL, match_confidence=100)
    report = rematch()
    offer.refresh_from_db()
    assert (offer.product_id, offer.needs_review, offer.match_method) == (near.pk, True, "similar")
    assert 60 <= offer.match_confidence < 90
    assert report.flagged == 1 and Offer.objects.get(pk=keep.pk).product_id == legacy.pk


def test_a_confirmed_sku_is_followed_the_matchers_own_are_decided_again(build):
    vendor = build.vendor()
    chosen = build.product(name="Operator's choice", match_key="chosen")
    offer = build.offer(vendor=vendor, product=chosen, sku="Z-1", description="iPhone 15 128GB",
                        match_method=MatchMethod.SKU, match_confidence=100)
    ProductAlias.objects.create(product=chosen, vendor=vendor, kind="sku", key="Z-1", confirmed=True)
    assert not rematch().changed
    ProductAlias.objects.filter(key="Z-1").update(confirmed=False)
    rematch()
    offer.refresh_from_db()
    assert offer.product.match_key == "apple|iphone 15|128gb||"


def test_the_command_limits_to_a_vendor_and_prints_the_report(legacy, capsys):
    one, two = legacy["vendors"]
    call_command("rematch", "--vendor", "beta", "--dry-run")
    out = capsys.readouterr().out
    assert "1 vendor(s) read" in out and "would create 2 product(s)" in out
    pixel_offer = legacy["offers"][3]
    assert f"#{legacy['products'][2].pk} “Pixel 8 128GB” to #" in out and f"(#{pixel_offer.pk})" in out
    assert Offer.objects.filter(vendor=two, product__brand="").count() == 2  # dry run
    call_command("rematch", "--vendor", "Beta")
    assert Offer.objects.filter(vendor=two, product__brand="").count() == 0
    assert Offer.objects.filter(vendor=one, product__brand="").count() == 3  # not Alpha's
    with pytest.raises(CommandError, match="no vendor named 'Gamma'"):
        call_command("rematch", "--vendor", "Gamma")
