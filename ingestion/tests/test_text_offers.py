"""The text offer extractor: prices, quantities, conditions and descriptions from free text."""

import importlib.util
from pathlib import Path

import pytest

from ingestion.text_offers import extract_offers

ROOT = Path(__file__).resolve().parents[2]


def offers(text, **options):
    return list(extract_offers(text, **options))


def one(line, **options):
    found = offers(line, **options)
    assert len(found) == 1, found
    return found[0]


def fields(candidate):
    return candidate.description, candidate.price, candidate.currency, candidate.quantity, candidate.condition


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("line", "description", "price", "currency"),
    [
        ("iPhone 15 128GB $750", "iPhone 15 128GB", "$750", ""),
        ("iPhone 15 128GB 750$", "iPhone 15 128GB", "750$", ""),
        ("iPhone 15 128GB 750usd", "iPhone 15 128GB", "750usd", ""),
        ("USD 750 iPhone 15 Pro", "iPhone 15 Pro", "USD 750", ""),
        ("iPhone 15 128GB @ 750", "iPhone 15 128GB", "750", ""),
        ("Galaxy S24 Ultra 256GB €1.299,00", "Galaxy S24 Ultra 256GB", "€1.299,00", ""),
        ("Pixel 8 Pro 629,00 €", "Pixel 8 Pro", "629,00 €", ""),
        ("AirPods Pro 2 £389", "AirPods Pro 2", "£389", ""),
        ("MacBook Air M2 - 1,299.99", "MacBook Air M2", "1,299.99", ""),
        ("iPhone 13 128GB - $450", "iPhone 13 128GB", "$450", ""),
        ("12/128GB - 750$", "12/128GB", "750$", ""),
        ("12.5 - 13.0 kg: R$ 3.999,00", "12.5 13.0 kg", "R$ 3.999,00", ""),
        ("iPhone 14 Pro - US$750", "iPhone 14 Pro", "US$750", ""),
        ("Samsung Galaxy S24 128GB 649,- €", "Samsung Galaxy S24 128GB", "649,- €", ""),
        ("iPhone 11 64GB 750/-", "iPhone 11 64GB", "750", ""),
        ("iPhone 15 Pro 256 Go neuf : 1\u202f049,00 €", "iPhone 15 Pro 256 Go", "1\u202f049,00 €", ""),
        ("iPhone 15 - 750 (USD)", "iPhone 15", "750", "USD"),
        ("Redmi Note 13 Pro 8/256 a $4,999 MXN c/u", "Redmi Note 13 Pro 8/256 a", "4,999", "MXN"),
        ("Galaxy S24 Ultra 512GB lacrado por 7.499 reais", "Galaxy S24 Ultra 512GB", "7.499 reais", ""),
        ("iPhone 5s 16GB refurbished A stock 129usd", "iPhone 5s 16GB", "129usd", ""),  # not "stock 129"
        ("İPHONE 15 NEW - 750", "İPHONE 15", "750", ""),  # "İ" lowers to two characters
    ],
)
def test_price_notations(line, description, price, currency):
    candidate = one(line)
    assert (candidate.description, candidate.price, candidate.currency) == (description, price, currency)


def test_bare_number_needs_a_price_line_shape():
    assert one("iPhone 15 128GB - 750").price == "750"
    assert one("iPhone 15 128GB – 750 firm").price == "750"
    assert one("iPhone 15 👉 750").price == "750"  # an emoji between text and number separates them
    assert offers("iPhone 15 128GB 750") == []  # could be a storage size or a model
    assert offers("Pixel 8 - 500 pcs left") == []  # the number is a quantity


def test_was_now_struck_and_old_prices():
    assert fields(one("iPhone 14 Pro 128GB was 999 now 750"))[:2] == ("iPhone 14 Pro 128GB", "750")
    assert one("iPhone 13 mini 128GB was $429 now $389").price == "$389"
    assert one("🔥 *iPhone 15 Pro 256GB* ~$999~ *$750* 🔥").price == "$750"
    assert one("iPhone 15 128GB ~850~ 750").price == "750"
    assert one("AirPods Pro 2 - antes 249 ahora 199 USD").price == "199 USD"
    assert one("iPhone 15 128GB jetzt 675 € (statt 689 €)").price == "675 €"
    assert fields(one("Price drop iPhone 14 Pro 128GB $769 (was $789)"))[:2] == ("Price drop iPhone 14 Pro 128GB", "$769")


def test_ranges_give_the_lower_bound():
    candidate = one("iPhone 13 mini 700-750")
    assert (candidate.price, candidate.extra) == ("700", {"price_range": "700-750"})
    candidate = one("Samsung Galaxy Tab S9 FE 128GB - 340-360$")
    assert (candidate.price, candidate.currency, candidate.extra) == ("340", "$", {"price_range": "340-360$"})
    assert one("iPhone 13 mini $700 - $750").price == "$700"
    assert one("Pixel 8 - 500").extra == {}  # 8 and 500 are no range
    candidate = one("iPhone 14 - 15 cases $10")  # an unmarked pair inside the line is no range
    assert (candidate.price, candidate.extra) == ("$10", {})


def test_second_price_in_another_currency_is_not_a_second_offer():
    candidate = one("iPhone 15 128GB $750 (€690)")
    assert (candidate.description, candidate.price) == ("iPhone 15 128GB", "$750")


def test_two_products_on_one_line():
    found = offers("Last call for today: Galaxy S23 256GB $629 / S23+ 256GB $719")
    assert [(c.description, c.price) for c in found] == [
        ("Last call for today: Galaxy S23 256GB", "$629"),
        ("S23+ 256GB", "$719"),
    ]


# --------------------------------------------------------------------------- numbers that are never prices


@pytest.mark.parametrize(
    "line",
    [
        "Call me +44 7911 123456",
        "Call 📞 (917) 555-0142",
        "WhatsApp 0803 123 4567",
        "iPhone 15 Pro Max 256GB",
        "Galaxy S24 Ultra SM-S928B 1TB",
        "iPhone 14 A2849",
        "Valid until 31/12/23, 21:00 - while stock lasts",
        "Battery health 90%",
        "[2,4,0,4,11,2602,36] ->   11",
        "Minimum order 5 pcs",
        "https://example.com/list/2024/750",
    ],
)
def test_no_price_in_model_numbers_storage_phones_dates(line):
    assert offers(line) == []


def test_model_number_becomes_sku():
    assert one("Galaxy S24 Ultra 512GB Titanium Gray SM-S928B NEW - €1.099,00").sku == "SM-S928B"
    assert one("iPhone 14 128GB A2649 $545").sku == "A2649"


# --------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("line", "quantity"),
    [
        ("AirPods Pro 2 £389 x10", "10"),
        ("Galaxy Watch6 44mm - £169 x 12", "12"),
        ("Samsung A55 256GB 10pcs 310usd", "10"),
        ("iPhone 12 @ 300 qty 25", "25"),
        ("iPad Air 5 64GB (30 units) - $420", "30"),
        ("Apple Watch S9 45mm - 350 - 200+", "200+"),
        ("Galaxy S23 128GB used grade A — USD 410, 25 available", "25"),
        ("Selling 20x Galaxy A54 5G 128GB brand new £249 each", "20"),
        ("Stock: 40 Pixel 8 128GB - $399", "40"),
        ("Apple Watch SE 40mm - 219 USD (10 piezas)", "10"),
    ],
)
def test_quantity_notations(line, quantity):
    assert one(line).quantity == quantity


def test_model_names_are_not_quantities():
    assert one("Poco X6 Pro 12/512 lacrado R$ 1.899,00").quantity == ""
    assert one("iPhone 15+ 128GB - $699").quantity == ""


# --------------------------------------------------------------------------- conditions


def test_section_headers_set_the_condition_below_them():
    text = "*NEW SEALED* 🔒\niPhone 15 128GB - 689\n\n*CPO grade A* ♻️\niPhone 14 128GB - 519\niPhone 13 128GB refurb B - 399"
    assert [(c.description, c.condition) for c in offers(text)] == [
        ("iPhone 15 128GB", "NEW SEALED"),
        ("iPhone 14 128GB", "CPO grade A"),
        ("iPhone 13 128GB", "refurb B"),  # inline beats the section
    ]


def test_condition_option_and_closing_blanket_line():
    assert one("iPhone 15 - $700", condition="used").condition == "used"
    text = "1. iPhone 14 Pro 128GB - $789\n2. iPhone 13 128GB - $469\nAll brand new sealed, US version"
    assert [c.condition for c in offers(text)] == ["brand new sealed", "brand new sealed"]


@pytest.mark.parametrize(
    ("line", "condition"),
    [
        ("iPhone 15 Pro Max 256GB NEW $1050", "NEW"),
        ("iPhone 14 CPO grade A - $560", "CPO grade A"),
        ("iPhone 13 refurb B 380 USD", "refurb B"),
        ("Z Flip5 256GB open box £579", "open box"),
        ("iPhone 13 Pro 128GB Grade A £449", "Grade A"),
        ("iPhone 14 128GB reacondicionado grado A 👉 455", "reacondicionado grado A"),
        ("Pixel 8 128GB generalüberholt Klasse A - 379 EUR", "generalüberholt Klasse A"),
        ("Pixel 8 Pro 256GB used grade A, C$ 749 each", "used grade A"),
    ],
)
def test_inline_conditions(line, condition):
    candidate = one(line)
    assert candidate.condition == condition
    assert condition.split()[0].lower() not in candidate.description.lower()


# --------------------------------------------------------------------------- lines and descriptions


def test_forty_line_list_in_one_message_with_refs():
    lines = ["*TODAY'S LIST*"] + [f"{'📱 ' if n % 2 else '✅ '}iPhone {11 + n % 5} {64 * (1 + n % 3)}GB - ${300 + n}" for n in range(40)]
    found = offers("\n".join(lines), first_line=120)
    assert len(found) == 40
    assert (found[0].ref, found[0].price, found[-1].ref, found[-1].price) == ("line 121", "$300", "line 160", "$339")


def test_ref_prefix():
    assert one("iPhone 15 - $700", ref_prefix="page 3 line", first_line=7).ref == "page 3 line 7"


def test_emoji_bullets_bold_markup_and_keycaps_are_cleaned():
    assert one("▪️ *iPhone 15 128GB* lacrado R$ 4.399,00").description == "iPhone 15 128GB"
    assert one("1\ufe0f\u20e3 iPhone 14 - 550usd").description == "iPhone 14"
    assert one("🔹 _Galaxy S23 FE_ 128GB – £429").description == "Galaxy S23 FE 128GB"


def test_trailing_edited_marker_is_dropped():
    assert fields(one("Pixel 9 128GB - 700 <This message was edited>"))[:2] == ("Pixel 9 128GB", "700")


def test_variant_lines_take_the_heading_and_price_lines_the_title():
    text = "*iPhone 15 Pro Max*\n256GB - 1,489\n512GB Black - 1,729"
    assert [c.description for c in offers(text)] == ["iPhone 15 Pro Max 256GB", "iPhone 15 Pro Max 512GB Black"]
    single = "📱 iPhone 14 Pro 128GB Deep Purple\n✅ Battery 100%\n✅ Unlocked, no scratches\n💰 CA$999"
    assert fields(one(single))[:2] == ("iPhone 14 Pro 128GB Deep Purple", "CA$999")


def test_currency_named_once_for_the_whole_text():
    found = offers("Lista de precios en USD:\niPhone 15 128GB nuevo sellado 👉 710\nS23 256GB - $640")
    assert [(c.price, c.currency) for c in found] == [("710", "USD"), ("$640", "")]


@pytest.mark.parametrize(
    "line",
    [
        "Do you have iPhone 15 for 700?",
        "¿Tienes Samsung S23 a 500?",
        "Best I can do is $720",
        "for 10 I can do £869 each",
        "ok I take 3, can you do 1000",
        "Shipping $25",
        "Collection from Leicester or £8 next-day",
        "Frete grátis acima de R$ 10.000,00",
        "Need iPhone 15 128GB x50, target $650",
        "iPhone 15 Pro 256GB $950 - SOLD",
        "Pickup on 8th ave, open till 7:30 pm",
        "Per 20 pezzi 105€ cad.",
        "Hello all, brand new stock arrived",
    ],
)
def test_questions_chit_chat_and_wanted_posts_are_no_offers(line):
    assert offers(line) == []


# --------------------------------------------------------------------------- corpus


def test_corpus_precision_and_recall():
    spec = importlib.util.spec_from_file_location("extractor_quality", ROOT / "bench" / "extractor_quality.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    expected = found = matched = 0
    for path in sorted(bench.CORPUS.glob("*.txt")):
        result = bench.evaluate(path)
        expected += len(result["expected"])
        found += len(result["predicted"])
        matched += len(result["matched"])
    assert expected >= 100
    assert matched / found >= 0.95
    assert matched / expected >= 0.95


def test_phone_like_number_at_the_very_start_does_not_duplicate_text():
    from ingestion.text_offers import extract_offers

    line = "23-03-2024 14:05 Bas Telecom: Ja, Pixel 8 128GB - 450"
    descriptions = [c.description for c in extract_offers(line)]
    assert all(d.count("Bas Telecom") <= 1 for d in descriptions), descriptions
    assert [c.description for c in extract_offers("123456789 is our number, iPhone 15 - 700")] != []


@pytest.mark.parametrize("line, price, description", [
    ("Galaxy A55 8/256 - 329€", "329€", "Galaxy A55 8/256"),  # the 256 of 8/256 is no price, nor a range's low end
    ("Galaxy A55 256 - 329€", "329€", "Galaxy A55 256"),  # a storage size, then the price: no range
    ("Redmi Note 13 8/256 - 185 usd", "185 usd", "Redmi Note 13 8/256"),
])
def test_memory_and_storage_before_a_dash_are_not_a_price_range(line, price, description):
    [offer] = extract_offers(line)
    assert (offer.price, offer.description, offer.extra) == (price, description, {})
    [ranged] = extract_offers("Pixel 8 700-750$")  # a range still gives its lower bound
    assert (ranged.price, ranged.extra) == ("700", {"price_range": "700-750$"})


def test_a_time_under_each_message_of_a_chat_screenshot_is_no_product():
    text = ("Ahmed Phones HK\nGood morning bro, today's stock:\n09:12\niPhone 16 Pro Max 256GB Desert\n"
            "$1,045 x 30pcs\n09:13\nGalaxy S24 FE 128GB\n$389\n09:14")
    rejected = []
    got = [(c.ref, c.description, c.price) for c in extract_offers(text, rejected=rejected)]
    assert got == [("line 5", "iPhone 16 Pro Max 256GB Desert", "$1,045"), ("line 8", "Galaxy S24 FE 128GB", "$389")]
    assert ("line 6", "09:13", "a time or a date") in rejected


@pytest.mark.parametrize("title", ["All prices EUR", "Prices: EUR", "Offer of the day, prices EUR", "prices in EUR",
                                   "Prices valid until Friday, all in EUR"])
def test_a_title_line_naming_the_currency_prices_the_lines_below(title):
    [offer] = extract_offers(f"{title}\niPhone 15 128GB Blue - 649")
    assert (offer.price, offer.currency) == ("649", "EUR")
