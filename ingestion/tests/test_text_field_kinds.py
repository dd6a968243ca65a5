"""The text extractor on the kinds of vendor text in issue 8 (items 1-5), with the values they must give.

Each test reads text through ``extract_offers`` and turns the raw tokens into typed values the way
the ingest service does (``normalize.parse_price`` first, then the candidate's currency), so the
assertions are on amounts, ISO codes, quantities and condition codes, not on raw strings.
"""

from decimal import Decimal

import pytest

from ingestion.normalize import parse_condition, parse_currency, parse_price, parse_quantity
from ingestion.text_offers import extract_offers


def values(candidate):
    """(description, amount, currency, quantity, condition code) as the ingest would store them."""
    money = parse_price(candidate.price)
    currency = money.currency or (parse_currency(candidate.currency) if candidate.currency else None)
    return (
        candidate.description,
        money.amount,
        currency,
        parse_quantity(candidate.quantity),
        parse_condition(candidate.condition).code,
    )


def read(text, **options):
    return [values(candidate) for candidate in extract_offers(text, **options)]


def one(line):
    found = read(line)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- the field cases' bodies

RU_RESELLER = """📲 iPhone

15 128 Black 53500🇮🇳
15 128 Pink 52900🇮🇳🚚
16 Pro 256 Desert 98700🇨🇳2Sim
16 Pro Max 256 Black 🇯🇵 102500
16 Pro Max 1TB White 🇭🇰 2Sim 134500
AirPods 4 ANC 12700
13 128 Midnight - 37900🇮🇳."""


def test_price_list_without_separators_flags_and_variant_tags_stay_in_the_description():
    assert read(RU_RESELLER) == [
        ("15 128 Black 🇮🇳", Decimal("53500.00"), None, None, "unknown"),
        ("15 128 Pink 🇮🇳", Decimal("52900.00"), None, None, "unknown"),
        ("16 Pro 256 Desert 🇨🇳 2Sim", Decimal("98700.00"), None, None, "unknown"),
        ("16 Pro Max 256 Black 🇯🇵", Decimal("102500.00"), None, None, "unknown"),
        ("16 Pro Max 1TB White 🇭🇰 2Sim", Decimal("134500.00"), None, None, "unknown"),
        ("AirPods 4 ANC", Decimal("12700.00"), None, None, "unknown"),
        # the last line no longer inherits "AirPods 4 ANC 12700" as a heading
        ("13 128 Midnight 🇮🇳", Decimal("37900.00"), None, None, "unknown"),
    ]


def test_replies_to_a_price_list_are_no_offers():
    assert read("16 pro 256 desert ещё есть?") == []
    assert read("да") == []


NAIRA = """UK USED 🇬🇧 CLEAN
iPhone 11 64GB - N250,000
iPhone 12 Pro Max 256GB - N450k
iPhone 13 128GB - 520k
iPhone 15 Pro Max 256GB brand new - ₦1.2m"""


def test_naira_glued_n_and_k_m_shorthand():
    assert read(NAIRA) == [
        ("iPhone 11 64GB", Decimal("250000.00"), "NGN", None, "used"),
        ("iPhone 12 Pro Max 256GB", Decimal("450000.00"), "NGN", None, "used"),
        # no currency on the line: the one the message names elsewhere (a shorthand amount)
        ("iPhone 13 128GB", Decimal("520000.00"), "NGN", None, "used"),
        ("iPhone 15 Pro Max 256GB", Decimal("1200000.00"), "NGN", None, "new"),
    ]


def test_a_price_reply_without_product_text_is_no_offer_but_reads_as_naira():
    assert read("N440, 000 final") == []
    assert parse_price("N440, 000") == parse_price("₦440,000")
    assert parse_price("N440, 000").amount == Decimal("440000.00")
    assert read("12 pro max last price?") == []


INDIA = """*Today rate* 📱
iPhone 15 Pro 128GB Natural - Rs 1,05,000
iPhone 15 Pro Max 256GB - ₹1,32,500/-
iPhone 16 Pro Max 512GB 1.65 lakh
iPhone 15 128GB Black - Rs. 64,900"""


def test_rupees_indian_grouping_and_lakh():
    assert read(INDIA) == [
        ("iPhone 15 Pro 128GB Natural", Decimal("105000.00"), "INR", None, "unknown"),
        ("iPhone 15 Pro Max 256GB", Decimal("132500.00"), "INR", None, "unknown"),
        ("iPhone 16 Pro Max 512GB", Decimal("165000.00"), "INR", None, "unknown"),
        ("iPhone 15 128GB Black", Decimal("64900.00"), "INR", None, "unknown"),
    ]
    assert read("15 pro 128 natural 10 pcs?") == []  # a counter-question, not an offer


def test_turkish_lira_written_tl_and_the_lira_sign():
    assert one("iPhone 15 128GB Siyah - 54.999 TL") == (
        "iPhone 15 128GB Siyah", Decimal("54999.00"), "TRY", None, "unknown")
    assert one("Galaxy S24 Ultra 256GB 61.999₺") == ("Galaxy S24 Ultra 256GB", Decimal("61999.00"), "TRY", None, "unknown")
    # an edited marker in another language does not hide the price
    assert one("iPhone 15 Pro 256GB - 82.500 <Bu mesaj düzenlendi>") == (
        "iPhone 15 Pro 256GB", Decimal("82500.00"), None, None, "unknown")
    assert read("15 pro kaç adet var?") == []


def test_persian_digits_and_the_persian_dollar():
    assert one("iPhone 13 128GB - 450$") == ("iPhone 13 128GB", Decimal("450.00"), "USD", None, "unknown")
    # read with ASCII digits, kept as written
    assert one("آیفون ۱۵ ۱۲۸ گیگ - ۷۲۰ دلار") == ("آیفون ۱۵ ۱۲۸ گیگ", Decimal("720.00"), "USD", None, "unknown")
    candidate = next(extract_offers("آیفون ۱۵ ۱۲۸ گیگ - ۷۲۰ دلار"))
    assert (candidate.price, candidate.description) == ("۷۲۰ دلار", "آیفون ۱۵ ۱۲۸ گیگ")
    assert read("موجود دارید؟") == []


def test_yuan_written_after_the_number():
    assert one("iPhone 15 128GB 黑色 - 5999元") == ("iPhone 15 128GB 黑色", Decimal("5999.00"), "CNY", None, "unknown")
    assert one("iPhone 15 Pro 256GB 原色 - 8299元") == (
        "iPhone 15 Pro 256GB 原色", Decimal("8299.00"), "CNY", None, "unknown")
    assert read("有现货吗") == []


# --------------------------------------------------------------------------- item 1: price lists


def test_two_lines_of_the_same_shape_are_a_price_list():
    assert read("16 pro 256 desert 98700\n15 pro 128 natural 85000") == [
        ("16 pro 256 desert", Decimal("98700.00"), None, None, "unknown"),
        ("15 pro 128 natural", Decimal("85000.00"), None, None, "unknown"),
    ]


def test_a_flag_or_tag_after_a_separated_price_stays_in_the_description():
    assert one("Galaxy S24 Ultra 512GB - 1150 🇦🇪 eSIM") == (
        "Galaxy S24 Ultra 512GB 🇦🇪 eSIM", Decimal("1150.00"), None, None, "unknown")
    assert one("iPhone 15 Pro 256GB - $899 HK dual sim") == (
        "iPhone 15 Pro 256GB HK dual sim", Decimal("899.00"), "USD", None, "unknown")


def test_a_single_bare_line_is_not_a_price_list():
    assert read("iPhone 15 128GB 750") == []


@pytest.mark.parametrize(
    "text",
    [
        "Best I can do is 720",
        "Best I can do is 720\nfinal 700",
        "ok bro\nI take 2 at 720\nsend 3 more for 700",
        "16 pro 256 desert есть?",
        "15 pro 128 natural 10 pcs?",
        "Redmi Note 13\nRedmi Note 14\nRedmi Note 15",  # model numbers
        "Honor 200\nHonor 400\nHonor 90",  # a number after one word: a model
        "Nokia 105\nNokia 110\nNokia 3310",
        "MacBook Air 2020 M1\nMacBook Pro 2023 M3",  # years
        "Galaxy S25 Ultra 12/256\nGalaxy S25 12/128",  # RAM/storage
        "iPhone 13 128\niPhone 14 256\niPhone 15 512",  # storage sizes
        "Samsung 4K TV\nDell 5K monitor 27",  # resolutions
        "USB-C cable 2m",  # a length
    ],
)
def test_chit_chat_counter_offers_models_and_specs_are_no_price_list(text):
    assert read(text) == []


def test_a_postcode_among_list_prices_is_no_offer():
    assert read("Address Plot 155 Ikeja 100271\niPhone 15 - N450,000\niPhone 14 - N380,000") == [
        ("iPhone 15", Decimal("450000.00"), "NGN", None, "unknown"),
        ("iPhone 14", Decimal("380000.00"), "NGN", None, "unknown"),
    ]


def test_a_tail_number_far_from_the_list_prices_is_no_offer():
    found = read("iPhone 15 Pro 256 - 98700\niPhone 15 128 - 72000\nAirPods Pro 2 USB-C 450")
    assert [row[1] for row in found] == [Decimal("98700.00"), Decimal("72000.00")]


# --------------------------------------------------------------------------- item 2: currencies


@pytest.mark.parametrize(
    ("line", "amount", "currency"),
    [
        ("iPhone 15 Rp 17.999.000", "17999000", "IDR"),
        ("iPhone 15 - 17.999.000 Rp", "17999000", "IDR"),
        ("iPhone 15 Rp17.999.000", "17999000", "IDR"),
        ("iPhone 15 3 499 zł", "3499", "PLN"),
        ("iPhone 15 22 990 Kč", "22990", "CZK"),
        ("iPhone 15 129,800円", "129800", "JPY"),
        ("갤럭시 S24 1,200,000원", "1200000", "KRW"),
        ("iPhone 15 3500 درهم", "3500", "AED"),
        ("iPhone 15 750 دولار", "750", "USD"),
        ("iPhone 15 75000 руб", "75000", "RUB"),
        ("iPhone 15 75 000 ₽", "75000", "RUB"),
        ("iPhone 15 75000р", "75000", "RUB"),
        ("iPhone 15 KSh 150,000", "150000", "KES"),
        ("iPhone 15 S/ 3,499", "3499", "PEN"),
        ("iPhone 15 S/3499", "3499", "PEN"),
        ("iPhone 15 12 990 Ft", "12990", "HUF"),
        ("iPhone 15 Rs.79,900/-", "79900", "INR"),
        ("iPhone 15 Rs1,05,000", "105000", "INR"),
        ("iPhone 15 PKR 250,000", "250000", "PKR"),
        ("iPhone 15 ৳1,45,000", "145000", "BDT"),
        ("iPhone 15 - 1,45,000 Tk", "145000", "BDT"),
        ("iPhone 15 - 4,999 ₸", "4999", "KZT"),
        ("Galaxy S24 $4,999 MXN", "4999", "MXN"),  # a code after "$" says which dollar
        ("Galaxy S24 USD750", "750", "USD"),
    ],
)
def test_currencies_as_vendors_write_them(line, amount, currency):
    description, found_amount, found_currency, _, _ = one(line)
    assert (found_amount, found_currency) == (Decimal(amount), currency)
    assert not any(ch.isdigit() for ch in description.replace("15", "").replace("S24", "")), description


def test_an_ambiguous_currency_still_marks_a_price_but_names_no_currency():
    assert one("iPhone 13 128 450 kr") == ("iPhone 13 128", Decimal("450.00"), None, None, "unknown")


def test_amd_is_the_chip_maker():
    assert one("AMD Ryzen 7950 - 550") == ("AMD Ryzen 7950", Decimal("550.00"), None, None, "unknown")


def test_glued_letters_are_models_unless_they_are_a_currency():
    # N20 (a Nord) and N100 (a CPU) are not naira; S24 is no price
    assert one("Redmi 13 N20 5G N100 - 200") == ("Redmi 13 N20 5G N100", Decimal("200.00"), None, None, "unknown")
    assert read("Galaxy S24 A55") == []


# --------------------------------------------------------------------------- item 3: multipliers


@pytest.mark.parametrize(
    ("text", "amounts", "currency"),
    [
        ("Xiaomi 14 12/512 17,9jt\nXiaomi 14 Ultra 16/512 21,5jt", ["17900000", "21500000"], None),
        ("iPhone 15 128GB 250rb", ["250000"], None),
        ("iPhone 15 128 - 52к\niPhone 15 256 - 61к", ["52000", "61000"], None),
        ("iPhone 15 128 - 52 тыс", ["52000"], None),
        ('Samsung 4K TV 55" 450k', ["450000"], None),
        ("iPhone 15 ₦1.5m", ["1500000"], "NGN"),
        ("iPhone 15 Pro 256GB 15.5L\niPhone 15 128GB Rs 64,900", ["1550000", "64900"], "INR"),
        ("iPhone 15 Pro Max 1TB - 2 crore", ["20000000"], None),
    ],
)
def test_multipliers(text, amounts, currency):
    found = read(text)
    assert [row[1] for row in found] == [Decimal(amount) for amount in amounts]
    assert {row[2] for row in found} == {currency}


def test_l_is_litres_without_rupees_and_k_after_a_small_number_is_a_resolution():
    assert read("Samsung 55 inch TV 1.5L") == []
    assert read("iPhone 15 Pro 256GB 15.5L") == []
    assert one("Samsung 4K TV 55 inch - 450") == ("Samsung 4K TV 55 inch", Decimal("450.00"), None, None, "unknown")
    assert one("Lightning cable 2m - 5$") == ("Lightning cable 2m", Decimal("5.00"), "USD", None, "unknown")


# --------------------------------------------------------------------------- item 4: digits of other scripts


@pytest.mark.parametrize(
    ("line", "description", "amount", "currency", "quantity"),
    [
        ("iPhone 15 Pro ١٢٨ - ٧٥٠ دولار", "iPhone 15 Pro ١٢٨", "750", "USD", None),
        ("آیفون ۱۵ ۱۲۸ گیگ - ۷۲۰ دلار x۱۰", "آیفون ۱۵ ۱۲۸ گیگ", "720", "USD", 10),
        ("ｉＰｈｏｎｅ 15 １２８ＧＢ - ＄５９９ ５pcs", "ｉＰｈｏｎｅ 15 １２８ＧＢ", "599", "USD", 5),
    ],
)
def test_digits_of_other_scripts(line, description, amount, currency, quantity):
    assert one(line) == (description, Decimal(amount), currency, quantity, "unknown")


# --------------------------------------------------------------------------- item 5: Indian grouping


def test_indian_grouping_in_text():
    assert one("iPhone 16 Pro Max 1TB - ₹1,84,900.00") == (
        "iPhone 16 Pro Max 1TB", Decimal("184900.00"), "INR", None, "unknown")
    assert one("Galaxy S24 Ultra - Rs 12,34,567") [1] == Decimal("1234567.00")


# --------------------------------------------------------------------------- why a line gave no offer


def test_rejected_collects_each_line_with_a_number_and_why():
    rejected = []
    text = "Hi boss\n16 pro 256 desert есть?\niPhone 15 128GB 750\nGalaxy S24 256GB 12/256\n" \
           "Best I can do is 720\nQty: 20\nneed 15 pro max 20 pcs"
    assert list(extract_offers(text, first_line=10, rejected=rejected)) == []
    assert rejected == [
        ("line 11", "16 pro 256 desert есть?", "a question"),
        ("line 12", "iPhone 15 128GB 750", "a bare number ends the line: a price only in a list of such lines"),
        ("line 13", "Galaxy S24 256GB 12/256", "no price: its numbers are specs, model numbers or quantities"),
        ("line 14", "Best I can do is 720", "chit-chat or a counter-offer, not a product"),
        ("line 15", "Qty: 20", "only a quantity"),
        ("line 16", "need 15 pro max 20 pcs", "a wanted, buying or sold-out post"),
    ]


def test_rejected_is_optional_and_offers_are_the_same_with_it():
    rejected = []
    assert list(extract_offers(RU_RESELLER, rejected=rejected)) == list(extract_offers(RU_RESELLER))
    assert rejected == []
