"""ingestion.normalize: prices, currencies, quantities, conditions."""

from decimal import Decimal

import pytest

from ingestion.normalize import (
    ConditionValue,
    Money,
    NormalizationError,
    currency_from_header,
    parse_condition,
    parse_currency,
    parse_price,
    parse_quantity,
)
from offers.models import Condition


# --------------------------------------------------------------------------- parse_price

@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("$1,045.00", "1045.00", "USD"),
        ("750", "750.00", None),
        ("1.049,00", "1049.00", None),
        ("€1.299,00", "1299.00", "EUR"),
        ("629,00 €", "629.00", "EUR"),
        ("629,00€", "629.00", "EUR"),
        ("750usd", "750.00", "USD"),
        ("750 Usd", "750.00", "USD"),
        ("USD 750", "750.00", "USD"),
        ("USD750", "750.00", "USD"),
        ("1 299,50", "1299.50", None),
        ("1\u00a0299,50 €", "1299.50", "EUR"),
        ("1\u202f299,50", "1299.50", None),
        ("1'234.50 CHF", "1234.50", "CHF"),
        ("1’234.50", "1234.50", None),
        ("R$ 3.999,00", "3999.00", "BRL"),
        ("US$ 99.99", "99.99", "USD"),
        ("£12.99", "12.99", "GBP"),
        ("¥ 12000", "12000.00", "JPY"),
        ("AED 2,450", "2450.00", "AED"),
        ("  42.5  ", "42.50", None),
        ("12,5", "12.50", None),
        ("12.5", "12.50", None),
        ("1045.5", "1045.50", None),
        ("1,234,567.89", "1234567.89", None),
        ("1.234.567,89", "1234567.89", None),
        ("1.234.567", "1234567.00", None),
        ("1 234 567", "1234567.00", None),
        ("0,500", "0.50", None),  # a leading 0 cannot start a thousands group
        ("1234.567", "1234.57", None),  # 4-digit first group: decimal point, rounded
        ("0.995", "1.00", None),  # round half up
        ("1299,-", "1299.00", None),
        ("1299.- CHF", "1299.00", "CHF"),
        ("+750", "750.00", None),
        ("750 each", "750.00", None),
        ("0.01", "0.01", None),
    ],
)
def test_price_notations(text, amount, currency):
    assert parse_price(text) == Money(Decimal(amount), currency)


@pytest.mark.parametrize(
    ("text", "decimal_comma", "amount"),
    [
        ("1.234", None, "1234"),  # a lone separator + exactly 3 digits: thousands
        ("1,234", None, "1234"),
        ("1,234", True, "1.23"),  # ... unless the caller knows commas are decimal
        ("1.234", True, "1234"),
        ("1.234", False, "1.23"),
        ("1,234", False, "1234"),
        ("12,5", False, "12.5"),  # unambiguous cases ignore the flag
        ("1,234.50", True, "1234.50"),
        ("1.234,50", False, "1234.50"),
    ],
)
def test_ambiguous_separator_rule(text, decimal_comma, amount):
    assert parse_price(text, decimal_comma=decimal_comma).amount == Decimal(amount).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        (1045.5, "1045.50"),
        (1299.0, "1299.00"),
        (0.1 + 0.2, "0.30"),  # binary noise 0.30000000000000004 is rounded away, not carried
        (19.99, "19.99"),
        (750, "750.00"),
        (Decimal("12.345"), "12.35"),
    ],
)
def test_numbers_from_spreadsheets(value, amount):
    money = parse_price(value)
    assert money.amount == Decimal(amount)
    assert money.amount.as_tuple().exponent == -2
    assert money.currency is None


def test_float_goes_through_its_shortest_repr():
    # Decimal(2.675) is 2.67499999...; read through repr it is 2.675 and rounds half-up to 2.68.
    assert parse_price(2.675).amount == Decimal("2.68")
    assert parse_price(1.005).amount == Decimal("1.01")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("call", "price 'call' is not a number"),
        ("TBA", "price 'TBA' is not a number"),
        ("POA", "price 'POA' is not a number"),
        ("-", "price '-' is not a number"),
        ("", "price is empty"),
        ("   ", "price is empty"),
        ("0", "price '0' is zero"),
        (0.0, "price 0.0 is zero"),
        ("0,00 €", "is zero"),
        ("-750", "price '-750' is negative"),
        ("-$750", "is negative"),
        ("$-750", "is negative"),
        ("USD -750", "is negative"),
        (-12.5, "is negative"),
        ("1000000000000", "too large"),
        (1e12, "too large"),
        ("750 - 800", "more than one number"),
        ("10%", "unrecognised text '%'"),
        ("750 pcs", "unrecognised text 'pcs'"),
        ("750 XYZ", "unrecognised text 'XYZ'"),
        ("$750 EUR", "two currencies"),
        ("1,23,45", "misplaced thousands separators"),
        ("1.234 567,00", "mixes thousands separators"),
        ("1,,234", "two separators in a row"),
        (float("nan"), "is not a number"),
        (float("inf"), "is not a number"),
        (Decimal("NaN"), "is not a number"),
        (True, "is not a number"),
        (None, "is not a number"),
    ],
)
def test_rejected_prices_name_the_value(value, message):
    with pytest.raises(NormalizationError) as excinfo:
        parse_price(value)
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_smallest_rounded_amount_must_stay_positive():
    with pytest.raises(NormalizationError, match="zero"):
        parse_price("0.004")


# --------------------------------------------------------------------------- currency

@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("$", "USD"), ("US$", "USD"), ("us $", "USD"), ("€", "EUR"), ("£", "GBP"), ("R$", "BRL"),
        ("usd", "USD"), ("Usd", "USD"), ("USD", "USD"), ("eur", "EUR"), ("chf", "CHF"), ("aed", "AED"),
        ("¥", "JPY"), ("Fr.", "CHF"), ("₹", "INR"), ("HK$", "HKD"), ("Dhs", "AED"), ("TRY", "TRY"),
    ],
)
def test_parse_currency(text, code):
    assert parse_currency(text) == code


@pytest.mark.parametrize("text", ["", "pcs", "xyz", "try", "all", "price", "new"])
def test_parse_currency_unknown(text):
    assert parse_currency(text) is None


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Unit Price (USD)", "USD"),
        ("Preis €", "EUR"),
        ("Price EUR", "EUR"),
        ("Precio R$", "BRL"),
        ("Price in US$", "USD"),
        ("Prix (eur)", "EUR"),
        ("Price", None),
        ("Unit price all inclusive", None),
        ("", None),
    ],
)
def test_currency_from_header(header, code):
    assert currency_from_header(header) == code


# --------------------------------------------------------------------------- quantity

@pytest.mark.parametrize(
    ("value", "quantity"),
    [
        ("45", 45), (45, 45), (45.0, 45), ("45.0", 45), ("200+", 200), (">10", 10), (">= 10", 10),
        ("10 pcs", 10), ("10pcs", 10), ("x10", 10), ("10x", 10), ("qty 25", 25), ("Qty: 25", 25),
        ("(30 units)", 30), ("1,000", 1000), ("1.000", 1000), ("~50", 50), ("5 Stk.", 5), ("0", 0),
        ("", None), ("   ", None), (None, None), ("in stock", None), ("In Stock", None),
        ("available", None), ("N/A", None), ("-", None), ("auf Lager", None),
        ("out of stock", 0), ("Sold out", 0), ("agotado", 0),
    ],
)
def test_parse_quantity(value, quantity):
    assert parse_quantity(value) == quantity


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "quantity 'abc' is not a number"),
        ("2.5", "quantity '2.5' is not a whole number"),
        (2.5, "quantity 2.5 is not a whole number"),
        ("-3", "quantity '-3' is negative"),
        (-3, "is negative"),
        ("5-10", "is not a number"),
        ("99999999999", "too large"),
        (True, "is not a number"),
    ],
)
def test_parse_quantity_rejects(value, message):
    with pytest.raises(NormalizationError) as excinfo:
        parse_quantity(value)
    assert message in str(excinfo.value)


# --------------------------------------------------------------------------- condition

@pytest.mark.parametrize(
    ("text", "code", "grade"),
    [
        ("New", "new", ""), ("NEW SEALED", "new", ""), ("Brand new", "new", ""), ("Neu", "new", ""),
        ("Nuevo", "new", ""), ("Neuf", "new", ""), ("BNIB", "new", ""),
        ("Refurbished", "refurbished", ""), ("Refurb B", "refurbished", "B"),
        ("Refurbished Grade A+", "refurbished", "A+"), ("Generalüberholt", "refurbished", ""),
        ("Reacondicionado", "refurbished", ""), ("Reconditionné", "refurbished", ""),
        ("Renewed", "refurbished", ""),
        ("Grade A", "used", "A"), ("A-Grade", "used", "A"), ("B", "used", "B"),
        ("Used - B", "used", "B"), ("Used", "used", ""), ("Pre-owned", "used", ""),
        ("Gebraucht", "used", ""), ("Usado", "used", ""), ("Occasion", "used", ""),
        ("Like new", "used", ""), ("Wie neu", "used", ""), ("Comme neuf", "used", ""),
        ("CPO", "cpo", ""), ("Certified pre-owned", "cpo", ""),
        ("Open box", "open_box", ""), ("New - open box", "open_box", ""), ("B-Ware", "open_box", ""),
        ("for parts", "damaged", ""), ("Damaged", "damaged", ""), ("Defekt", "damaged", ""),
        ("", "unknown", ""), ("   ", "unknown", ""), ("see notes", "unknown", ""),
    ],
)
def test_parse_condition(text, code, grade):
    value = parse_condition(text)
    assert (value.code, value.grade) == (code, grade)
    assert value.raw == text.strip()
    assert value.code in Condition.values


def test_parse_condition_keeps_raw_text():
    assert parse_condition("  Refurb B ") == ConditionValue(code="refurbished", grade="B", raw="Refurb B")


@pytest.mark.parametrize(
    "text,code",
    [("Nieuw", "new"), ("NIEUW GESEALD", "new"), ("Gebruikt", "used"), ("zo goed als nieuw", "used"),
     ("Gereviseerd B", "refurbished")],
)
def test_dutch_condition_words(text, code):
    assert parse_condition(text).code == code


@pytest.mark.parametrize("text, price, vat", [
    ("£679 +VAT", "£679", "excluded"), ("£899 ex VAT", "£899", "excluded"), ("£179 + VAT", "£179", "excluded"),
    ("1.099 € zzgl. MwSt.", "1.099 €", "excluded"), ("£549 inc VAT", "£549", "included"),
    ("699 € inkl. MwSt", "699 €", "included"), ("750", "750", ""), ("Vatican 5", "Vatican 5", ""),
])
def test_a_vat_remark_after_a_price_is_split_off(text, price, vat):
    from ingestion.normalize import split_vat

    assert split_vat(text) == (price, vat)


@pytest.mark.django_db
def test_a_price_with_a_vat_remark_is_an_offer_saying_so(tmp_path, settings):
    from documents.models import SourceDocument
    from ingestion.services import ingest_path
    from offers.models import Offer

    settings.INGESTION_STORAGE_DIR = str(tmp_path / "storage")
    sheet = tmp_path / "uk.csv"
    sheet.write_text("Model,Price\niPhone 15 128GB,£679 +VAT\nGalaxy S24 128GB,£549 inc VAT\n", encoding="utf-8")
    document = ingest_path(sheet, vendor_name="UK Trade")
    assert document.status == SourceDocument.Status.SUCCEEDED, document.extra
    got = [(f"{o.price:.2f}", o.currency, o.extra.get("vat")) for o in Offer.objects.order_by("id")]
    assert got == [("679.00", "GBP", "excluded"), ("549.00", "GBP", "included")]


@pytest.mark.parametrize("text, amount, currency", [
    ("799*", "799.00", None), ("1.299,00 €*", "1299.00", "EUR"),  # a footnote's mark
    ("٣٬٩٩٩ درهم", "3999.00", "AED"), ("3٬999 AED", "3999.00", "AED"), ("٣٫٥ د.إ", "3.50", "AED"),
])
def test_a_footnote_mark_and_arabic_separators_are_read(text, amount, currency):
    money = parse_price(text)
    assert (f"{money.amount:.2f}", money.currency) == (amount, currency)
