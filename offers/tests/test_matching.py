"""The database matcher: each step and band against stored products, aliases, rejections and merges,
in batches of a fixed number of queries."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from offers.matching import ProductRef, match_products, plan_matches
from offers.merge import merge_products
from offers.models import MatchRejection, Product, ProductAlias


def ref(sku: str = "", description: str = "") -> ProductRef:
    return ProductRef.of(sku, description)


def aliases() -> set[tuple]:
    return set(ProductAlias.objects.values_list("vendor_id", "kind", "key", "product_id"))


def methods(links) -> list[str]:
    return [link.decision.method for link in links]


def ids(links) -> list[int]:
    return [link.product_id for link in links]


def phone(**kw) -> Product:
    """A stored product with attributes, as the matcher or an operator makes them."""
    values = dict(name="Apple iPhone 15 Pro Max 256GB", brand="Apple", model="iPhone 15 Pro Max", storage="256GB",
                  match_key="apple|iphone 15 pro max|256gb||")
    values.update(kw)
    return Product.objects.create(**values)


def test_new_products_are_named_and_keyed_by_their_attributes(build):
    vendor = build.vendor()
    links = match_products(vendor.pk, [ref("V-2849", "iPhone 15 Pro 128 GB Blue"), ref("X-1", "")])
    made, raw = (Product.objects.get(pk=pk) for pk in ids(links))
    assert (made.name, made.brand, made.model, made.storage) == ("Apple iPhone 15 Pro 128GB", "Apple", "iPhone 15 Pro", "128GB")
    assert made.match_key == "apple|iphone 15 pro|128gb||"
    # A line naming no product: named after its text, keyed by it.
    assert (raw.name, raw.brand, raw.match_key) == ("X-1", "", "raw|x-1")
    assert methods(links) == ["new", "new"]
    assert aliases() == {(vendor.pk, "sku", "V-2849", made.pk), (vendor.pk, "sku", "X-1", raw.pk)}


def test_the_vendor_sku_then_the_attribute_key_find_the_product_again(build):
    vendor, other = build.vendor(), build.vendor()
    [first] = match_products(vendor.pk, [ref("V-2849", "iPhone 15 Pro 128GB")])
    [renamed] = match_products(vendor.pk, [ref("v-2849 ", "Apple iPhone15 Pro 128 GB, black")])
    assert (renamed.product_id, renamed.decision.method) == (first.product_id, "sku")
    # Another vendor's wording with the same attributes: the exact key.
    [by_key] = match_products(other.pk, [ref("", "IPHONE 15 PRO 128 GB GRAPHITE")])
    assert (by_key.product_id, by_key.decision.method, by_key.decision.confidence) == (first.product_id, "key", 100)


def test_skus_are_scoped_to_their_vendor(build):
    one, two = build.vendor(), build.vendor()
    [a] = match_products(one.pk, [ref("100", "Galaxy S24 256GB")])
    [b] = match_products(two.pk, [ref("100", "Pixel 8 128GB")])
    assert a.product_id != b.product_id and b.decision.method == "new"


def test_a_remembered_sku_the_line_contradicts_is_not_followed(build):
    vendor = build.vendor()
    [first] = match_products(vendor.pk, [ref("K1", "Galaxy S24 Ultra 256GB")])
    [other] = match_products(vendor.pk, [ref("K1", "Galaxy S24 Ultra 512GB")])  # the vendor reused its SKU
    assert other.product_id != first.product_id and other.decision.method == "new"


def test_an_apple_part_number_links_another_region_and_wording(build):
    us, eu = build.vendor(), build.vendor()
    [first] = match_products(us.pk, [ref("", "IP15PM 256 NAT MTP03LL/A")])
    assert (None, "mpn", "MTP03", first.product_id) in aliases()
    [second] = match_products(eu.pk, [ref("", "Apple MTP03ZD/A")])
    assert (second.product_id, second.decision.method) == (first.product_id, "identifier")


def test_similar_models_in_the_block_are_accepted_or_go_to_review(build):
    vendor = build.vendor()
    air = Product.objects.create(name="Apple iPad Air 11 M2 128GB Wi-Fi", brand="Apple", model="iPad Air 11 M2",
                                 storage="128GB", connectivity="Wi-Fi", match_key="apple|ipad air 11 m2|128gb|wi-fi|")
    enterprise = Product.objects.create(name="Samsung Galaxy S24 Ultra Enterprise 256GB", brand="Samsung",
                                        model="Galaxy S24 Ultra Enterprise", storage="256GB", match_key="s24e")
    accept, review = match_products(
        vendor.pk, [ref("T1", "iPad Air M2 11 128 wifi"), ref("S1", "Galaxy S24 Ultra 256")]
    )
    assert (accept.product_id, accept.decision.method, accept.decision.band) == (air.pk, "similar", "accept")
    assert accept.decision.confidence >= 90
    assert (review.product_id, review.decision.band) == (enterprise.pk, "review")
    assert 60 <= review.decision.confidence < 90
    # A link waiting for review teaches nothing: its SKU is not remembered, the next list asks again.
    assert (vendor.pk, "sku", "S1", enterprise.pk) not in aliases()
    assert (vendor.pk, "sku", "T1", air.pk) in aliases()
    [again] = match_products(vendor.pk, [ref("S1", "Galaxy S24 Ultra 256")])
    assert again.decision.band == "review"


def test_a_variant_word_or_number_vetoes_and_makes_a_new_product(build):
    vendor = build.vendor()
    pro_max = phone()
    [pro] = match_products(vendor.pk, [ref("", "iPhone 15 Pro 256GB")])
    assert pro.product_id != pro_max.pk and pro.decision.method == "new"
    # Pro Max has another model signature: not even a candidate (decide's veto, by index).
    assert pro.decision.reason == "no candidate in block"
    assert Product.objects.get(pk=pro.product_id).model_signature == "15 iphone pro"


def test_a_rejected_product_is_never_proposed_again(build):
    vendor = build.vendor()
    enterprise = Product.objects.create(name="Samsung Galaxy S24 Ultra Enterprise 256GB", brand="Samsung",
                                        model="Galaxy S24 Ultra Enterprise", storage="256GB", match_key="s24e")
    MatchRejection.objects.create(vendor=None, key="samsung|galaxy s24 ultra|256gb||", product=enterprise)
    [link] = match_products(vendor.pk, [ref("", "Galaxy S24 Ultra 256")])
    assert link.product_id != enterprise.pk and link.decision.method == "new"


def test_a_rejection_of_the_product_with_the_same_key_makes_another(build):
    vendor = build.vendor()
    keyed = phone()
    MatchRejection.objects.create(vendor=vendor, key="Z9", product=keyed)
    [link] = match_products(vendor.pk, [ref("Z9", "iPhone 15 Pro Max 256GB")])
    made = Product.objects.get(pk=link.product_id)
    assert made.pk != keyed.pk and made.match_key == "apple|iphone 15 pro max|256gb|| #2"
    # Other vendors' same line still finds the keyed product.
    [elsewhere] = match_products(build.vendor().pk, [ref("Z9", "iPhone 15 Pro Max 256GB")])
    assert elsewhere.product_id == keyed.pk


def test_keys_and_aliases_of_a_merged_product_lead_to_the_product_it_was_merged_into(build):
    vendor = build.vendor()
    [old] = match_products(vendor.pk, [ref("M1", "iPhone 15 Pro Max 256GB")])
    target = Product.objects.create(name="iPhone 15 Pro Max 256 (operator)", brand="Apple", model="iPhone 15 Pro Max",
                                    storage="256GB", match_key="operator-made")
    merge_products(Product.objects.get(pk=old.product_id), target)
    ProductAlias.objects.filter(kind="sku").delete()  # only the merged product's match key names the line now
    links = match_products(build.vendor().pk, [ref("", "IP15PM 256")])
    assert ids(links) == [target.pk]


def test_an_operator_description_alias_wins_over_a_product_with_that_key(build):
    vendor = build.vendor()
    keyed, chosen = phone(), phone(name="Chosen", match_key="chosen")
    ProductAlias.objects.create(product=chosen, vendor=None, kind="description", key=keyed.match_key)
    assert ids(match_products(vendor.pk, [ref("", "iPhone 15 Pro Max 256GB")])) == [chosen.pk]


def test_a_batch_decides_each_line_once_and_later_lines_see_earlier_decisions(build):
    vendor = build.vendor()
    refs = [ref("A1", "iPhone 15 128GB"), ref("A1", "iPhone 15 128GB"), ref("", "IPHONE 15 128 GB"),
            ref("A2", "Apple iPhone 15 (128GB) Pink"), ref("B2", "")]
    links = match_products(vendor.pk, refs)
    assert ids(links)[0] == ids(links)[1] == ids(links)[2] == ids(links)[3] != ids(links)[4]
    assert methods(links) == ["new", "key", "key", "key", "new"]
    assert Product.objects.count() == 2
    assert ids(match_products(vendor.pk, refs)) == ids(links)
    assert Product.objects.count() == 2


def test_a_batch_costs_a_fixed_number_of_queries(build):
    vendor = build.vendor()
    phone()
    brands = ["iPhone", "Galaxy S", "Pixel", "Redmi Note"]
    counts = []
    for size in (10, 500):
        refs = [ref(f"S{size}-{i}", f"{brands[i % 4]} {i % 30 + 5} {[64, 128, 256][i % 3]}GB rev {i}")
                for i in range(size)]
        with CaptureQueriesContext(connection) as queries:
            match_products(vendor.pk, refs)
        counts.append(len(queries))
    assert counts[1] == counts[0]
    # savepoint, SKUs, identifiers, keys, rejections, blocks, id reservation, products, aliases, release
    assert counts[1] <= 10


def test_a_known_list_is_matched_by_its_skus_alone(build):
    vendor = build.vendor()
    refs = [ref(f"K-{i}", f"Galaxy A{i} 128GB") for i in range(10, 60)] + [ref("", "Galaxy A17 128GB")]
    links = match_products(vendor.pk, refs)
    with CaptureQueriesContext(connection) as queries:
        again = match_products(vendor.pk, refs[:50])
    assert ids(again) == ids(links)[:50] and set(methods(again)) == {"sku"}
    # Each SKU found the product made for its very line: no key lookup, no block, nothing written.
    assert not [q for q in queries if "COALESCE" in q["sql"] or "INSERT" in q["sql"] or "json_extract" in q["sql"]]
    # A line without a SKU is found by its key: the product's own, known from the SKU's lookup.
    with CaptureQueriesContext(connection) as queries:
        assert ids(match_products(vendor.pk, refs[7:8] + refs[50:])) == [ids(links)[7], ids(links)[7]]
    assert not [q for q in queries if "COALESCE" in q["sql"] or "json_extract" in q["sql"]]
    assert ids(match_products(vendor.pk, refs[50:])) == [ids(links)[7]]


def test_a_plan_made_before_the_write_lock_is_decided_again_when_it_went_stale(build):
    vendor = build.vendor()
    lines = [ref("Q1", "iPhone 15 128GB"), ref("Q2", "Pixel 8 128GB")]
    [first] = match_products(vendor.pk, lines[:1])
    plan = plan_matches(vendor.pk, lines)  # decided outside the write lock
    # Meanwhile an operator merges the iPhone into another product, and another ingest makes the Pixel.
    target = phone(name="Apple iPhone 15 128GB (operator)", model="iPhone 15", storage="128GB", match_key="op")
    merge_products(Product.objects.get(pk=first.product_id), target)
    [pixel] = match_products(build.vendor().pk, [ref("", "Pixel 8 128GB")])
    links = match_products(vendor.pk, lines, plan=plan)
    assert ids(links) == [target.pk, pixel.product_id]
    assert Product.objects.filter(brand="Google").count() == 1


def test_a_plan_still_true_is_written_as_decided(build):
    vendor = build.vendor()
    lines = [ref("Q1", "iPhone 15 128GB"), ref("Q2", "Pixel 8 128GB")]
    plan = plan_matches(vendor.pk, lines)
    assert Product.objects.count() == 0  # planning reads only
    with CaptureQueriesContext(connection) as queries:
        links = match_products(vendor.pk, lines, plan=plan)
    assert methods(links) == ["new", "new"] and Product.objects.count() == 2
    assert not [q for q in queries if "SELECT k.key" in q["sql"]]  # not looked up again


def test_a_line_with_an_unread_word_is_never_linked_as_certain(build):
    vendor = build.vendor()
    [edge] = match_products(vendor.pk, [ref("", "Motorola Edge 50 256GB")])
    fusion, typo = match_products(vendor.pk, [ref("", "Motorola Edge 50 Fusion 256GB Blue"),
                                              ref("", "Samsung Galaxy S24 Ultr 256GB")])
    # Attached to the nearest product but waiting for an operator, not the "Edge 50" at 100.
    assert (fusion.product_id, fusion.decision.band) == (edge.product_id, "review")
    assert fusion.decision.confidence < 90
    # No product near: a new product named with the word, still a guess to review.
    made = Product.objects.get(pk=typo.product_id)
    assert (made.name, typo.decision.method, typo.decision.band) == ("Samsung Galaxy S24 Ultr 256GB", "new", "review")
    assert "'ultr' was not read" in typo.decision.reason
