"""Product matching: a vendor's SKU, then a shared description key, then a new product."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from offers.matching import ProductRef, match_products, normalize_key
from offers.models import Product, ProductAlias


def ref(sku: str = "", description: str = "") -> ProductRef:
    return ProductRef.of(sku, description)


def aliases() -> set[tuple]:
    return set(ProductAlias.objects.values_list("vendor_id", "kind", "key", "product_id"))


def test_new_products_are_named_after_the_description_and_keyed_by_it(build):
    vendor = build.vendor()
    [phone, sku_only] = match_products(vendor.pk, [ref("A2849", "iPhone 15 Pro 128 GB"), ref("X-1", "")])
    assert Product.objects.get(pk=phone).match_key == "iphone 15 pro 128gb"
    assert Product.objects.get(pk=phone).name == "iPhone 15 Pro 128 GB"
    assert Product.objects.get(pk=sku_only).match_key == "sku x-1"
    # The description is the product's own match key: only the SKUs need aliases.
    assert aliases() == {(vendor.pk, "sku", "A2849", phone), (vendor.pk, "sku", "X-1", sku_only)}


def test_the_same_sku_from_the_same_vendor_lands_on_the_same_product_on_another_day(build):
    vendor = build.vendor()
    [first] = match_products(vendor.pk, [ref("A2849", "iPhone 15 Pro 128GB")])
    [renamed] = match_products(vendor.pk, [ref("a 2849", "Apple iPhone15 Pro (128)")])
    assert renamed == first
    # The new wording is remembered for everyone: another vendor's line without a SKU finds it.
    other = build.vendor()
    [by_description] = match_products(other.pk, [ref("", "apple iphone15 pro 128")])
    assert by_description == first
    assert (None, "description", "apple iphone15 pro 128", first) in aliases()


def test_skus_are_scoped_to_their_vendor_and_descriptions_are_shared(build):
    one, two = build.vendor(), build.vendor()
    [a] = match_products(one.pk, [ref("100", "Galaxy S24 256GB")])
    [b] = match_products(two.pk, [ref("100", "Pixel 8 128GB")])
    [c] = match_products(two.pk, [ref("P-9", "galaxy  s24 256 gb")])
    assert a != b
    assert c == a


def test_an_existing_description_alias_wins_over_a_product_with_that_match_key(build):
    vendor = build.vendor()
    aliased, keyed = build.product(), build.product(match_key="galaxy s24")
    ProductAlias.objects.create(product=aliased, vendor=None, kind="description", key="galaxy s24")
    assert match_products(vendor.pk, [ref("", "Galaxy S24")]) == [aliased.pk]
    assert keyed.pk != aliased.pk


def test_a_batch_decides_each_product_once(build):
    vendor = build.vendor()
    refs = [ref("A1", "Phone A"), ref("A1", "Phone A"), ref("", "phone a"), ref("A1", "Phone A rev 2"), ref("B2", "")]
    ids = match_products(vendor.pk, refs)
    assert ids[0] == ids[1] == ids[2] == ids[3] != ids[4]
    assert Product.objects.count() == 2
    # "phone a rev 2" reached the product through its SKU: it becomes a description alias.
    assert aliases() == {
        (vendor.pk, "sku", "A1", ids[0]),
        (vendor.pk, "sku", "B2", ids[4]),
        (None, "description", "phone a rev 2", ids[0]),
    }
    assert match_products(vendor.pk, refs) == ids
    assert Product.objects.count() == 2


def test_a_batch_costs_a_fixed_number_of_queries(build):
    vendor = build.vendor()
    for size in (10, 500):
        refs = [ref(f"S{size}-{i}", f"Model {size} {i}") for i in range(size)]
        with CaptureQueriesContext(connection) as queries:
            ids = match_products(vendor.pk, refs)
        assert len(set(ids)) == size
        counts = len(queries)
        with CaptureQueriesContext(connection) as again:
            assert match_products(vendor.pk, refs) == ids
        assert len(again) <= counts
    assert counts <= 8  # savepoint, 2 lookups, id reservation, products, aliases, release


def test_normalize_key_folds_case_accents_punctuation_and_storage():
    assert normalize_key("  Café  iPhone-15, Pro / 128 GB ") == "cafe iphone-15 pro / 128gb"
    assert normalize_key("Galaxy S24 1,5 TB") == "galaxy s24 1.5tb"
    assert normalize_key("ÉCRAN 27\u2033") == "ecran 27"


def test_a_known_list_is_matched_by_its_skus_alone(build):
    vendor = build.vendor()
    refs = [ref(f"K-{i}", f"Model {i} 128GB") for i in range(50)] + [ref("", "Model 7 128GB")]
    ids = match_products(vendor.pk, refs)
    with CaptureQueriesContext(connection) as queries:
        assert match_products(vendor.pk, refs[:50]) == ids[:50]
    # Each SKU found the product whose match key is its description: no description lookup, no new alias.
    assert not [q for q in queries if "COALESCE" in q["sql"]]
    assert not [q for q in queries if "INSERT" in q["sql"]]
    # A line without its SKU still needs (and gets) the description lookup.
    with CaptureQueriesContext(connection) as queries:
        assert match_products(vendor.pk, refs[7:8] + refs[50:]) == [ids[7], ids[7]]
    assert [q for q in queries if "COALESCE" in q["sql"]]
