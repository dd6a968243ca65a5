"""Identifiers read from offer text: EAN check digits, Apple part numbers, Samsung and Pixel codes, A numbers."""

from offers.identifiers import PRODUCT_KINDS, ean_is_valid, find_identifiers


def test_ean_check_digit():
    assert ean_is_valid("4006381333931")  # EAN-13 with a right check digit
    assert not ean_is_valid("4006381333932")
    assert ean_is_valid("036000291452")  # UPC-A
    assert not ean_is_valid("036000291453")
    assert not ean_is_valid("12345")


def test_ean_found_only_with_valid_check_digit_and_written_as_13_digits():
    ids, _, _, _ = find_identifiers("EAN 036000291452 BOX")
    assert ids == (("ean", "0036000291452"),)
    assert find_identifiers("TEL 036000291453")[0] == ()


def test_apple_part_number_gives_base_and_region():
    ids, fact, region, spans = find_identifiers("IPHONE 15 PRO MAX MTP03LL/A")
    assert ids == (("mpn", "MTP03"),)
    assert region == "US"
    assert fact is None
    assert find_identifiers("MTP03ZP/A")[2] == "HK"
    assert find_identifiers("MTP03CH/A")[2] == "CN"
    assert find_identifiers("MTP03B/A")[2] == "UK"


def test_samsung_code_names_model_and_suffix_region():
    ids, fact, region, _ = find_identifiers("SM-S928B/DS 512GB")
    assert ids == (("model_code", "SM-S928"),)
    assert (fact.brand, fact.model, region) == ("Samsung", "Galaxy S24 Ultra", "Global")
    assert find_identifiers("SM-S928U1")[2] == "US"
    assert find_identifiers("SM-S9280")[2] == "CN"
    assert find_identifiers("SM-S928BZTDEUE")[1].model == "Galaxy S24 Ultra"


def test_samsung_tablet_code_names_connectivity():
    assert find_identifiers("SM-X716B")[1].connectivity == "Wi-Fi + Cellular"
    assert find_identifiers("SM-X710")[1].connectivity == "Wi-Fi"


def test_pixel_code_and_a_number():
    assert find_identifiers("PIXEL GC3VE 256GB")[1].model == "Pixel 8 Pro"
    assert find_identifiers("G8HHN")[1].model == "Pixel 8a"
    ids, fact, _, _ = find_identifiers("A2849 256GB")
    assert ids == (("a_number", "A2849"),) and fact.model == "iPhone 15 Pro Max"


def test_only_ean_and_mpn_name_a_whole_product():
    assert PRODUCT_KINDS == {"ean", "mpn"}
