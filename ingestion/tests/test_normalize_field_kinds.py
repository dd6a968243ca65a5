"""normalize on the kinds of values in issue 8: CLDR currencies, multipliers, Indian grouping, other digits."""

import json
from decimal import Decimal

import pytest

from ingestion import normalize
from ingestion.normalize import (
    Money,
    NormalizationError,
    currency_from_header,
    currency_options,
    groups_with_spaces,
    is_currency,
    parse_currency,
    parse_price,
    parse_quantity,
)

# --------------------------------------------------------------------------- currencies (CLDR)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Rs.", "INR"), ("Rs", "INR"), ("₹", "INR"), ("Rp", "IDR"), ("TL", "TRY"), ("₺", "TRY"), ("₦", "NGN"),
        ("zł", "PLN"), ("Kč", "CZK"), ("元", "CNY"), ("円", "JPY"), ("원", "KRW"), ("₩", "KRW"),
        ("درهم", "AED"), ("دولار", "USD"), ("دلار", "USD"), ("руб", "RUB"), ("руб.", "RUB"), ("₽", "RUB"),
        ("рублей", "RUB"), ("KSh", "KES"), ("Ksh", "KES"), ("S/", "PEN"), ("S/.", "PEN"), ("₸", "KZT"),
        ("₴", "UAH"), ("৳", "BDT"), ("Tk", "BDT"), ("Ft", "HUF"), ("R$", "BRL"), ("CA$", "CAD"), ("HK$", "HKD"),
        ("US$", "USD"), ("$", "USD"), ("¥", "JPY"), ("£", "GBP"), ("€", "EUR"), ("＄", "USD"),
        ("naira", "NGN"), ("rupiah", "IDR"), ("yen", "JPY"), ("yuan", "CNY"), ("lira", "TRY"), ("dollars", "USD"),
        ("Euro", "EUR"), ("US Dollar", "USD"), ("российский рубль", "RUB"),
        ("usd", "USD"), ("Usd", "USD"), ("MAD", "MAD"), ("TRY", "TRY"), ("GEL", "GEL"), ("KZT", "KZT"),
    ],
)
def test_currencies_from_cldr_and_vendor_abbreviations(text, code):
    assert parse_currency(text) == code
    assert is_currency(text)
    assert currency_options(text) == (code,)


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("kr", {"DKK", "ISK", "NOK", "SEK"}),
        ("peso", {"ARS", "CLP", "COP", "CUP", "DOP", "MXN", "PHP", "UYU"}),
        ("riyal", {"QAR", "SAR"}),
        ("￥", {"CNY", "JPY"}),  # full-width: yen in Japan, yuan in China
    ],
)
def test_a_symbol_many_currencies_share_is_a_currency_but_no_code(text, options):
    assert parse_currency(text) is None
    assert is_currency(text)
    assert options <= set(currency_options(text))
    money = parse_price(f"450 {text}")
    assert (money.amount, money.currency, set(money.options)) == (Decimal("450.00"), None, set(currency_options(text)))


@pytest.mark.parametrize(
    "word",
    [
        "won", "real", "rand", "sol", "sum", "mark", "dong", "gold", "new", "price", "black", "pro", "max", "try",
        "all", "top", "pen", "cup", "mad", "bob", "gel", "um", "km", "R", "K", "L", "P", "m", "k", "N", "lakh", "jt",
        "Model", "Colour", "Qty", "Stock", "Price", "Cena", "Fiyat", "Harga", "Цена", "Valor",
    ],
)
def test_common_words_units_and_single_letters_are_never_currencies(word):
    assert parse_currency(word) is None
    assert not is_currency(word)


def test_headers_name_currencies_in_any_script():
    assert currency_from_header("Unit Price (USD)") == "USD"
    assert currency_from_header("Price in Rs") == "INR"
    assert currency_from_header("Цена, руб") == "RUB"
    assert currency_from_header("Valor (R$)") == "BRL"
    assert currency_from_header("Fiyat TL") == "TRY"
    assert currency_from_header("Model") is None


def test_space_grouping_follows_the_currency_home_locale():
    assert groups_with_spaces("zł") and groups_with_spaces("Kč") and groups_with_spaces("₽")
    assert not groups_with_spaces("$") and not groups_with_spaces("₹") and not groups_with_spaces("Black")


def test_the_cldr_table_is_built_from_babel_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICEHUB_CACHE_DIR", str(tmp_path))
    normalize._currency_table.cache_clear()
    normalize._lookup_currency.cache_clear()
    try:
        assert parse_currency("zł") == "PLN"
        files = list(tmp_path.glob("cldr-currencies-babel*.json"))
        assert len(files) == 1
        table = json.loads(files[0].read_text(encoding="utf-8"))
        assert table["zł"] == "PLN" and table["kč"] == "CZK" and table["ksh"] == "KES"
        assert table["kr"].startswith("|")  # ambiguous: no chosen code
        assert "PLN" in table[" space"].split("|")
        # a second process reads the file instead of building again
        normalize._currency_table.cache_clear()
        monkeypatch.setattr(normalize, "_build_currency_table", lambda: pytest.fail("rebuilt"))
        assert normalize._currency_table()["zł"] == "PLN"
    finally:
        normalize._currency_table.cache_clear()
        normalize._lookup_currency.cache_clear()


def test_an_unreadable_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICEHUB_CACHE_DIR", str(tmp_path))
    normalize._currency_table.cache_clear()
    try:
        normalize._cache_path().parent.mkdir(parents=True, exist_ok=True)
        normalize._cache_path().write_text("{not json", encoding="utf-8")
        monkeypatch.setattr(normalize, "_build_currency_table", lambda: {"zł": "PLN", " space": ""})
        assert normalize._currency_table() == {"zł": "PLN", " space": ""}
    finally:
        normalize._currency_table.cache_clear()
        normalize._lookup_currency.cache_clear()


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        # Indian grouping, in text and in CSV cells
        ("1,05,000.00", "105000", None),
        ("₹1,32,500/-", "132500", "INR"),
        ("Rs 1,05,000", "105000", "INR"),
        ("Rs. 64,900", "64900", "INR"),
        ("12,34,567", "1234567", None),
        ("10,00,000", "1000000", None),
        ("1,00,00,000", "10000000", None),
        # multipliers
        ("450k", "450000", None),
        ("N450k", "450000", "NGN"),
        ("₦1.2m", "1200000", "NGN"),
        ("1.65 lakh", "165000", None),
        ("1.65 Lakh", "165000", None),
        ("2 lakhs", "200000", None),
        ("15.5L", "1550000", None),
        ("17,9jt", "17900000", None),
        ("17.9 juta", "17900000", None),
        ("250rb", "250000", None),
        ("52к", "52000", None),
        ("52 тыс", "52000", None),
        ("1.5k", "1500", None),
        ("$1.2k", "1200", "USD"),
        ("2 crore", "20000000", None),
        # naira as typed
        ("N250,000", "250000", "NGN"),
        ("N440, 000", "440000", "NGN"),
        ("₦440,000", "440000", "NGN"),
        # other scripts' digits
        ("۷۲۰ دلار", "720", "USD"),
        ("٧٥٠ دولار", "750", "USD"),
        ("５９９９元", "5999", "CNY"),
        ("۱۲۵۰", "1250", None),
        # currencies after or before, glued or spaced
        ("54.999 TL", "54999", "TRY"),
        ("61.999₺", "61999", "TRY"),
        ("Rp 17.999.000", "17999000", "IDR"),
        ("S/ 3,499", "3499", "PEN"),
        ("KSh 150,000", "150000", "KES"),
        ("3 499 zł", "3499", "PLN"),
        ("22 990 Kč", "22990", "CZK"),
    ],
)
def test_prices_as_vendors_write_them(text, amount, currency):
    assert parse_price(text) == Money(Decimal(amount).quantize(Decimal("0.01")), currency)


@pytest.mark.parametrize(
    "text",
    [
        "1,23,45",  # neither Indian nor international grouping
        "1,2,345",
        "123,45,678",  # an Indian first group has 1-2 digits
        "1,05,00",
        "64, 128",  # a list, not "64,128"
        "N440, 12",
        "450 kr 500",
    ],
)
def test_malformed_groupings_are_errors(text):
    with pytest.raises(NormalizationError):
        parse_price(text)


def test_indian_grouping_needs_commas():
    with pytest.raises(NormalizationError):
        parse_price("1.05.000")  # dots: thousands groups of three only


def test_a_space_after_a_thousands_comma_needs_a_currency_or_000():
    assert parse_price("5, 000").amount == Decimal("5000.00")
    assert parse_price("$1, 250").amount == Decimal("1250.00")
    with pytest.raises(NormalizationError):
        parse_price("1, 250")


@pytest.mark.parametrize(("text", "quantity"), [("۱۰", 10), ("٣٠ pcs", 30), ("１２", 12), ("x۵", 5)])
def test_quantities_in_other_scripts(text, quantity):
    assert parse_quantity(text) == quantity
