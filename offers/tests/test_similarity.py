"""decide, link_offer and match_offers: blocks, vetoes, bands, the order of the steps, and corpus quality."""

import sys
from pathlib import Path

import pytest

from offers.attributes import parse_offer
from offers.similarity import Catalogue, CandidateProduct, decide, link_offer, match_offers, veto

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.matching_quality import FIXTURES, read_rows, score  # noqa: E402


def product(product_id, description):
    return CandidateProduct.of(product_id, parse_offer("", description))


def test_exact_key_is_a_key_link():
    decision = decide(parse_offer("", "IP15PM 256"), [product(1, "iPhone 15 Pro Max 256GB")])
    assert (decision.product_id, decision.method, decision.confidence, decision.band) == (1, "key", 100, "accept")


def test_same_words_in_another_order_are_accepted():
    decision = decide(parse_offer("", "iPad Air M2 11 128 wifi"), [product(7, "iPad Air 11 M2 128GB Wi-Fi")])
    assert (decision.product_id, decision.method, decision.band) == (7, "similar", "accept")
    assert decision.confidence >= 90


@pytest.mark.parametrize(
    "offer, candidate",
    [
        ("iPhone 15 Pro 256GB", "iPhone 15 Pro Max 256GB"),  # Pro vs Pro Max
        ("PS5 Slim Digital", "PS5 Slim Disc"),  # Disc vs Digital
        ("Pixel 8 128GB", "Pixel 8a 128GB"),  # 8 vs 8a
        ("Galaxy S24 256GB", "Galaxy S24 Plus 256GB"),
        ("iPhone 16 128GB", "iPhone 15 128GB"),  # a number
        ("iPad Pro 11 M4 256GB Wi-Fi", "iPad Pro 13 M4 256GB Wi-Fi"),
        ("AirPods 4", "AirPods 4 ANC"),
        ("Switch OLED", "Switch Lite"),
        ("Galaxy S23 256", "Galaxy S23 FE 256"),
    ],
)
def test_each_hard_negative_is_vetoed(offer, candidate):
    decision = decide(parse_offer("", offer), [product(1, candidate)])
    assert decision.product_id is None and decision.band == "new"
    assert "vetoed" in decision.reason


def test_storage_and_connectivity_are_other_blocks():
    assert decide(parse_offer("", "iPhone 15 Pro Max 512GB"), [product(1, "iPhone 15 Pro Max 256GB")]).reason == "no candidate in block"
    cellular = parse_offer("", "iPad Air 11 M2 128GB Cellular")
    assert decide(cellular, [product(1, "iPad Air 11 M2 128GB Wi-Fi")]).product_id is None


def test_different_known_ram_is_vetoed_unknown_ram_costs_five_points():
    twelve = parse_offer("", "Redmi Note 13 Pro 12/256")
    assert decide(twelve, [product(1, "Redmi Note 13 Pro 8/256")]).product_id is None
    unknown = decide(parse_offer("", "Redmi Note 13 Pro 256GB"), [product(1, "Redmi Note 13 Pro 8/256")])
    assert (unknown.product_id, unknown.confidence, unknown.band) == (1, 95, "accept")


def test_two_equal_candidates_go_to_review():
    offer = parse_offer("", "Redmi Note 13 Pro 256GB")
    decision = decide(offer, [product(1, "Redmi Note 13 Pro 8/256"), product(2, "Redmi Note 13 Pro 12/256")])
    assert (decision.product_id, decision.band, decision.confidence) == (1, "review", 89)


def test_bands_by_score():
    offer = parse_offer("", "Galaxy S24 Ultra 256")
    near = CandidateProduct(1, "Samsung", "Galaxy S24 Ultra Enterprise", "256GB", tokens=("galaxy", "s24", "ultra", "enterprise"))
    decision = decide(offer, [near])
    assert decision.band == "review" and 60 <= decision.confidence < 90
    far = CandidateProduct(2, "Samsung", "Galaxy S24 Ultra Enterprise Edition Rugged Kit", "256GB",
                           tokens=("galaxy", "s24", "ultra", "enterprise", "edition", "rugged", "kit"))
    decision = decide(offer, [far])
    assert decision.band == "new" and decision.product_id is None and decision.confidence < 60


def test_veto_words_and_numbers():
    assert veto(("iphone", "15", "pro"), ("iphone", "15", "pro", "max")) == "max"
    assert veto(("pixel", "8"), ("pixel", "8a")) == "8 8a"
    assert veto(("galaxy", "s24"), ("s24", "galaxy")) == ""


def test_unknown_brand_or_model_makes_a_new_product():
    decision = decide(parse_offer("", "buds 2 pro"), [product(1, "Galaxy Buds2 Pro")])
    assert decision.method == "new" and decision.product_id is None


def test_order_sku_then_identifier_then_key():
    catalogue = Catalogue()
    first = match_offers([("hk", "X1", "IP15PM 256 NAT MTP03LL/A")], catalogue)[0]
    assert first.decision.method == "new"
    # the vendor's SKU, even with a description that names nothing
    again = match_offers([("hk", "X1", "special price today")], catalogue)[0]
    assert (again.product_id, again.decision.method) == (first.product_id, "sku")
    # another vendor with the same part number
    other = match_offers([("eu", "", "Apple MTP03ZD/A")], catalogue)[0]
    assert (other.product_id, other.decision.method) == (first.product_id, "identifier")
    # the same SKU at another vendor means nothing
    third = match_offers([("eu", "X1", "Pixel 8 128")], catalogue)[0]
    assert third.product_id != first.product_id


def test_a_remembered_sku_contradicted_by_the_line_is_not_followed():
    catalogue = Catalogue()
    first = match_offers([("eu", "SM-S928B", "Galaxy S24 Ultra 256GB")], catalogue)[0]
    second = match_offers([("eu", "SM-S928B", "Galaxy S24 Ultra 512GB")], catalogue)[0]
    assert second.product_id != first.product_id and second.decision.method == "new"


def test_link_offer_reads_the_index_only():
    catalogue = Catalogue()
    decision = link_offer(catalogue, "v", "", parse_offer("", "Pixel 8 128"))
    assert decision.method == "new" and catalogue.products == {}


@pytest.mark.parametrize("name", ["corpus.csv", "heldout.csv"])
def test_corpus_quality(name):
    rows = read_rows(FIXTURES / name)
    result = score(rows)
    assert result["precision"] >= 0.99
    assert result["f1"] >= 0.95


def test_corpus_sizes():
    corpus, heldout = read_rows(FIXTURES / "corpus.csv"), read_rows(FIXTURES / "heldout.csv")
    assert len(corpus) >= 250 and len(heldout) >= 100
    assert {r["product"] for r in heldout} - {r["product"] for r in corpus}  # unseen products


def test_catalogue_loaded_with_existing_products():
    catalogue = Catalogue()
    catalogue.add(product(40, "Pixel 8 Pro 256GB"))
    match = match_offers([("v", "", "Google Pixel8Pro 256 Bay")], catalogue)[0]
    assert (match.product_id, match.decision.method) == (40, "key")
    new = match_offers([("v", "", "Pixel 8a 128")], catalogue)[0]
    assert new.product_id == 41 and new.decision.method == "new"
