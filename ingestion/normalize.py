"""Turn the raw text of a vendor's price list into typed values.

Pure functions, no database: ``parse_price`` -> ``Money``, ``parse_currency``,
``currency_from_header``, ``parse_quantity`` -> ``int | None`` and
``parse_condition`` -> ``ConditionValue``. Every rejected value raises
``NormalizationError`` whose message names the value, so it can go straight
into a document's ``extra.errors``.

Number rules (prices; quantities use the same separators):

* Spaces (also no-break and thin spaces) and apostrophes (``1'234.50``) are
  always thousands separators.
* When both ``.`` and ``,`` appear, the one that comes last is the decimal
  separator: ``1,234.50`` and ``1.234,50`` are both 1234.50.
* A separator that appears more than once is a thousands separator:
  ``1.234.567`` / ``1,234,567``.
* A single ``.`` or ``,`` followed by exactly three digits and nothing else
  (``1.234``, ``1,234``) is ambiguous. It is read as a thousands separator
  (1234) unless ``decimal_comma`` says otherwise: with ``decimal_comma=True``
  a ``,`` is the decimal separator (``1,234`` -> 1.23) and with
  ``decimal_comma=False`` a ``.`` is. ``0,500`` and ``1234.567`` cannot be
  thousands groupings, so their separator is decimal.
* Any other single ``.`` or ``,`` is the decimal separator: ``12,5`` = 12.5,
  ``1045.50`` = 1045.50. ``decimal_comma`` only ever settles the ambiguous case.
* Thousands groups must be well formed (1-3 digits, then groups of exactly
  three): ``1,23,45`` is an error rather than a guess.
* A trailing ``,-`` / ``.-`` / ``/-`` means "no cents" (``1299,-``).
* Prices are rounded half-up to 2 decimal places (``Offer.price`` is
  ``Decimal(14, 2)``); zero, negative and amounts of 10^12 or more are errors.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from offers.text import strip_accents

__all__ = [
    "ConditionValue",
    "Money",
    "NormalizationError",
    "currency_from_header",
    "parse_condition",
    "parse_currency",
    "parse_price",
    "parse_quantity",
]


class NormalizationError(ValueError):
    """A raw value that cannot be turned into the typed value; the message names it."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str | None  # ISO 4217, or None when the text names no currency


@dataclass(frozen=True, slots=True)
class ConditionValue:
    code: str  # one of offers.models.Condition.values
    grade: str  # "A", "B+", ... or ""
    raw: str  # the text as given, stripped


# --------------------------------------------------------------------------- currency

# ISO 4217 codes accepted in any letter case ("usd", "Usd", "USD").
_ISO_CODES = frozenset(
    """
    AED ARS AUD BDT BGN BHD BRL CAD CHF CLP CNY COP CZK DKK EGP EUR GBP GHS HKD HUF IDR ILS INR
    IQD ISK JOD JPY KES KRW KWD KZT LBP LKR MAD MXN MYR NGN NOK NZD OMR PHP PKR PLN QAR RON RSD
    RUB SAR SEK SGD THB TND TWD UAH USD UYU VND XAF XOF ZAR
    """.split()
)
# Codes that are also ordinary words ("try", "all", "top", "pen", "cup", "bob", "mop"):
# accepted only when written in capitals.
_ISO_CODES_UPPER_ONLY = frozenset({"TRY", "ALL", "TOP", "PEN", "CUP", "BOB", "MOP"})

# Symbols and names, keyed by lower-cased text with spaces and dots removed.
_CURRENCY_ALIASES = {
    "$": "USD", "us$": "USD", "usd$": "USD", "u$s": "USD", "u$d": "USD", "dollar": "USD",
    "dollars": "USD", "usdollar": "USD", "usdollars": "USD",
    "€": "EUR", "eur€": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp£": "GBP", "pound": "GBP", "pounds": "GBP",
    "r$": "BRL", "reais": "BRL",
    "¥": "JPY", "円": "JPY", "yen": "JPY", "jp¥": "JPY",
    "cn¥": "CNY", "rmb": "CNY", "元": "CNY", "yuan": "CNY",
    "fr": "CHF", "sfr": "CHF", "chf": "CHF", "franken": "CHF",
    "dhs": "AED", "dh": "AED", "dirham": "AED", "dirhams": "AED", "د.إ": "AED", "دإ": "AED",
    "₹": "INR", "hk$": "HKD", "c$": "CAD", "ca$": "CAD", "cad$": "CAD", "a$": "AUD", "au$": "AUD",
    "aud$": "AUD", "s$": "SGD", "sgd$": "SGD", "nz$": "NZD", "mx$": "MXN", "₩": "KRW", "₺": "TRY",
    "₽": "RUB", "zł": "PLN", "zl": "PLN", "kč": "CZK", "₪": "ILS", "₫": "VND", "₱": "PHP",
    "฿": "THB", "₦": "NGN", "₴": "UAH", "lei": "RON",
}

_CURRENCY_SYMBOL_CHARS = "$€£¥₹₩₺₽₪₫₱฿₦₴円元"


def parse_currency(text: str) -> str | None:
    """Map a currency symbol, code or name to its ISO 4217 code; ``None`` when unknown.

    ``"$"`` and ``"US$"`` -> ``"USD"``, ``"€"`` -> ``"EUR"``, ``"R$"`` -> ``"BRL"``,
    ``"usd"`` / ``"Usd"`` -> ``"USD"``, ``"¥"`` -> ``"JPY"``. A bare ``$`` is taken as
    US dollars. Codes that are also English words (TRY, ALL, ...) count only in capitals.
    """
    if not text:
        return None
    stripped = text.strip()
    if stripped in _ISO_CODES_UPPER_ONLY:
        return stripped
    key = stripped.lower().replace(" ", "").replace(".", "")
    code = key.upper()
    if code in _ISO_CODES:
        return code
    return _CURRENCY_ALIASES.get(key)


# Tokens of a header: symbol groups such as "US$" / "R$" / "€", or words.
_HEADER_TOKEN_RE = re.compile(r"[A-Za-z]{0,3}[" + re.escape(_CURRENCY_SYMBOL_CHARS) + r"]|[^\W\d_]+")


def currency_from_header(header: str) -> str | None:
    """The currency a column header names: ``"Unit Price (USD)"``, ``"Preis €"``, ``"Price EUR"``.

    Returns the first currency token found, or ``None``.
    """
    for token in _HEADER_TOKEN_RE.findall(header or ""):
        code = parse_currency(token)
        if code:
            return code
    return None


# --------------------------------------------------------------------------- numbers

_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal(10) ** 12
# Digits with at most two decimals: never ambiguous ("1.234" is not plain).
_PLAIN_NUMBER_RE = re.compile(r"\d{1,15}(?:\.\d{1,2})?")
# A number: starts with a digit, continues with digits and separators.
_NUMBER_RE = re.compile(r"\d[\d.,'’ \u00a0\u202f\u2009]*")
_SEPARATOR_SPLIT_RE = re.compile(r"([.,'’ \u00a0\u202f\u2009])")
_SPACES = frozenset(" \u00a0\u202f\u2009")
_APOSTROPHES = frozenset("'’")
_NO_CENTS_SUFFIXES = (",-", ".-", "/-", ",--", ".--")
_PRICE_NOISE = frozenset({"each", "ea", "/ea", "/pc", "/unit", "perunit", "/each", "net"})
_NEGATIVE_SIGNS = "-−–"  # hyphen-minus, minus sign, en dash


def _thousands_ok(groups: list[str]) -> bool:
    """Integer groups split by a thousands separator: 1-3 digits (no leading 0), then 3-digit groups."""
    first = groups[0]
    if not 1 <= len(first) <= 3 or (first[0] == "0" and len(groups) > 1):
        return False
    return all(len(group) == 3 for group in groups[1:])


def _kind(sep: str) -> str:
    """Spaces and apostrophes each form one kind of separator, whatever the code point."""
    if sep in _SPACES:
        return " "
    if sep in _APOSTROPHES:
        return "'"
    return sep


def _number_text_to_decimal(number: str, original: object, decimal_comma: bool | None) -> Decimal:
    """Apply the separator rules of the module docstring to a digits-and-separators string."""
    parts = _SEPARATOR_SPLIT_RE.split(number)
    groups = parts[0::2]
    seps = [_kind(sep) for sep in parts[1::2]]
    if not seps:
        return Decimal(number)
    if any(group == "" for group in groups):
        raise NormalizationError(f"price {original!r} has two separators in a row")

    decimal_sep = None
    last = seps[-1]
    if last in ".,":
        if seps.count(last) > 1:
            decimal_sep = None  # repeated: thousands
        elif len(seps) > 1:
            decimal_sep = last  # another separator before it: "1.234,50", "1 234,5"
        elif len(groups[-1]) == 3 and _thousands_ok(groups):
            # The ambiguous "1.234" / "1,234".
            if decimal_comma is True and last == ",":
                decimal_sep = ","
            elif decimal_comma is False and last == ".":
                decimal_sep = "."
        else:
            decimal_sep = last

    if decimal_sep is not None:
        integer_groups, fraction = groups[:-1], groups[-1]
        thousands = set(seps[:-1])
    else:
        integer_groups, fraction = groups, ""
        thousands = set(seps)
    if len(thousands) > 1:
        raise NormalizationError(f"price {original!r} mixes thousands separators")
    if len(integer_groups) > 1 and not _thousands_ok(integer_groups):
        raise NormalizationError(f"price {original!r} has misplaced thousands separators")
    text = "".join(integer_groups)
    if fraction:
        text = f"{text}.{fraction}"
    return Decimal(text)


def _checked_money(amount: Decimal, currency: str | None, original: object) -> Money:
    if not amount.is_finite():
        raise NormalizationError(f"price {original!r} is not a number")
    amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    if amount <= 0:
        word = "zero" if amount == 0 else "negative"
        raise NormalizationError(f"price {original!r} is {word}; a price must be greater than 0")
    if amount >= _MAX_AMOUNT:
        raise NormalizationError(f"price {original!r} is too large (10^12 or more)")
    return Money(amount, currency)


def parse_price(value: str | int | float | Decimal, *, decimal_comma: bool | None = None) -> Money:
    """Parse a price cell or token: ``"$1,045.00"``, ``"629,00 €"``, ``"USD 750"``, ``1045.5``.

    The currency symbol or code may come before or after the number, with or
    without a space; ``Money.currency`` is ``None`` when the value names none.
    Floats are read through their shortest ``repr`` (1045.5 -> ``Decimal("1045.5")``).
    See the module docstring for the separator rules. Raises ``NormalizationError``
    for empty values, words (``call``, ``TBA``, ``POA``, ``-``), zero, negative or
    too-large amounts, several numbers, and text that is not a known currency.
    """
    # Fast paths first: the spreadsheet processor calls this for every row.
    if type(value) is str:
        text = value.strip()
        if _PLAIN_NUMBER_RE.fullmatch(text):
            return _checked_money(Decimal(text), None, value)
        return _parse_price_text(value, text, decimal_comma)
    if isinstance(value, bool):
        raise NormalizationError(f"price {value!r} is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NormalizationError(f"price {value!r} is not a number")
        return _checked_money(Decimal(repr(float(value))), None, value)
    if isinstance(value, (int, Decimal)):
        return _checked_money(Decimal(value), None, value)
    if isinstance(value, str):
        return _parse_price_text(value, value.strip(), decimal_comma)
    raise NormalizationError(f"price {value!r} is not a number")


def _parse_price_text(original: str, text: str, decimal_comma: bool | None) -> Money:
    if not text:
        raise NormalizationError("price is empty")
    match = _NUMBER_RE.search(text)
    if match is None:
        raise NormalizationError(f"price {original!r} is not a number")
    number = match.group().rstrip(".,'’ \u00a0\u202f\u2009")
    before = text[: match.start()].strip()
    after = text[match.start() + len(number) :].strip()
    for suffix in _NO_CENTS_SUFFIXES:
        if after.startswith(suffix):
            after = after[len(suffix) :].strip()
            break

    negative = False
    if before and before[-1] in _NEGATIVE_SIGNS:  # "-750", "$-750", "USD -750"
        negative, before = True, before[:-1].strip()
    if before and before[0] in _NEGATIVE_SIGNS:  # "-$750"
        negative, before = True, before[1:].strip()
    if before.startswith("+"):
        before = before[1:].strip()

    currency = None
    for part in (before, after):
        if not part:
            continue
        if any(ch.isdigit() for ch in part):
            raise NormalizationError(f"price {original!r} contains more than one number")
        code = parse_currency(part)
        if code is None:
            if part.lower().replace(" ", "") in _PRICE_NOISE:
                continue
            raise NormalizationError(f"price {original!r} has unrecognised text {part!r}")
        if currency is not None and code != currency:
            raise NormalizationError(f"price {original!r} names two currencies")
        currency = code

    try:
        amount = _number_text_to_decimal(number, original, decimal_comma)
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        raise NormalizationError(f"price {original!r} is not a number") from None
    if negative and amount != 0:
        raise NormalizationError(f"price {original!r} is negative; a price must be greater than 0")
    return _checked_money(amount, currency, original)


# --------------------------------------------------------------------------- quantity

_MAX_QUANTITY = 2_147_483_647  # PositiveIntegerField
# Words meaning "available, amount not given" -> None, and "none left" -> 0.
_QTY_UNKNOWN = frozenset({
    "in stock", "instock", "stock", "available", "avail", "yes", "y", "many", "lots", "plenty",
    "limited", "on request", "ask", "call", "tba", "tbc", "n/a", "na", "-", "–", "—", "?",
    "auf lager", "lagernd", "verfügbar", "ja", "en stock", "disponible", "disponibles", "si", "sí", "oui",
})
_QTY_ZERO = frozenset({
    "out of stock", "sold out", "none", "no", "no stock", "nicht verfügbar", "ausverkauft",
    "agotado", "sin stock", "épuisé", "rupture", "non",
})
_QUANTITY_RE = re.compile(
    r"""
    \(?\s*
    (?:qty|quantity|menge|stock|cant(?:idad)?|qté|quantité|avail(?:able)?)?\s*[:.]?\s*
    (?:x|×|>=?|≥|~|\+|ca\.?|approx\.?|aprox\.?|env\.?|min\.?)?\s*
    (?P<number>\d{1,3}(?:[,.'’ \u00a0\u202f]\d{3})+|\d+)(?:[.,]0+)?
    \s*(?:\+|x|×|pcs?\.?|pieces?|units?|u|uds?\.?|unidades|stk\.?|stück|pièces?|pz|ea|each)?
    \s*\)?
    """,
    re.VERBOSE | re.IGNORECASE,
)


def parse_quantity(value: str | int | float | None) -> int | None:
    """Parse a quantity / stock cell into a whole number, or ``None`` when unknown.

    Accepts ``45``, ``45.0``, ``"45"``, ``"200+"``, ``">10"``, ``"10 pcs"``, ``"x10"``,
    ``"qty 25"``, ``"(30 units)"`` and thousands separators (``"1,000"`` = 1000, a
    separator followed by exactly three digits). Lower bounds (``200+``, ``>10``) give
    the bound. Empty, ``"in stock"``, ``"available"``, ``"call"`` -> ``None`` (not an
    error); ``"out of stock"``, ``"sold out"`` -> 0. Fractions, negatives and other
    text raise ``NormalizationError``.
    """
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float:
        if not math.isfinite(value) or not value.is_integer():
            raise NormalizationError(f"quantity {value!r} is not a whole number")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii():
            number = int(text)
        else:
            number = _parse_quantity_text(value, text)
            if number is None:
                return None
    else:
        raise NormalizationError(f"quantity {value!r} is not a number")
    if number < 0:
        raise NormalizationError(f"quantity {value!r} is negative")
    if number > _MAX_QUANTITY:
        raise NormalizationError(f"quantity {value!r} is too large")
    return number


def _parse_quantity_text(original: str, text: str) -> int | None:
    if not text:
        return None
    lowered = " ".join(text.lower().split())
    if lowered in _QTY_UNKNOWN:
        return None
    if lowered in _QTY_ZERO:
        return 0
    if lowered[0] in _NEGATIVE_SIGNS and lowered[1:].strip().isdigit():
        raise NormalizationError(f"quantity {original!r} is negative")
    match = _QUANTITY_RE.fullmatch(lowered)
    if match is None:
        if re.fullmatch(r"\d+[.,]\d+", lowered):
            raise NormalizationError(f"quantity {original!r} is not a whole number")
        raise NormalizationError(f"quantity {original!r} is not a number")
    return int(re.sub(r"\D", "", match.group("number")))


# --------------------------------------------------------------------------- condition

# Phrases per condition code, already case-folded and accent-free. Checked in
# this order, so "new open box" is open box, "like new" is used and
# "refurbished like new" is refurbished; a phrase matches whole words only.
_CONDITION_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("damaged", (
        "for parts", "parts only", "spares", "damaged", "broken", "defect", "defective", "faulty",
        "not working", "as is", "salvage", "beschadigt", "defekt", "danado", "para piezas",
        "para repuestos", "pour pieces", "endommage", "hs", "averiado",
    )),
    ("cpo", ("cpo", "certified pre owned", "certified preowned", "certified used")),
    ("open_box", (
        "open box", "openbox", "opened box", "box opened", "opened", "ob", "b ware", "bware",
        "geoffnet", "geoffnete verpackung", "offene verpackung", "caja abierta", "abierto",
        "deballe", "boite ouverte", "boite ouverte",
    )),
    ("refurbished", (
        "refurbished", "refurb", "refurbish", "refurbed", "rfb", "renewed", "remanufactured", "reman",
        "recertified", "generaluberholt", "uberholt", "aufbereitet", "reacondicionado",
        "reacondicionada", "restaurado", "reconditionne", "reconditionnee", "ricondizionato", "gereviseerd",
        "recondicionado", "recondicionada",
    )),
    ("used", (
        "used", "pre owned", "preowned", "second hand", "secondhand", "2nd hand", "like new",
        "as new", "mint", "gebraucht", "wie neu", "neuwertig", "usado", "usada", "como nuevo",
        "seminuevo", "seminovo", "occasion", "d occasion", "comme neuf", "usato", "gebruikt",
        "tweedehands", "zo goed als nieuw",
    )),
    ("new", (
        "new", "brand new", "sealed", "new sealed", "factory sealed", "nib", "bnib", "bnew", "bn",
        "neu", "neuware", "originalverpackt", "ovp", "nuevo", "nueva", "neuf", "neuve", "nuovo",
        "novo", "nova", "lacrado", "nieuw", "geseald",
    )),
)

_GRADE_RES = (
    re.compile(r"\b(?:grade|grado|class|klasse|categorie|categoria)\s*([a-e]\+?)(?![a-z])"),
    re.compile(r"(?<![a-z])([a-e]\+?)\s*(?:grade|stock|klasse)\b"),
)
# A lone trailing grade letter after a condition word: "refurb b", "used - a+".
_TRAILING_GRADE_RE = re.compile(r"\s([a-e]\+?)$")


def _fold(text: str) -> str:
    """Case-fold, strip accents, keep letters/digits/+ and collapse the rest to single spaces."""
    plain = strip_accents(text.casefold())
    return " ".join(re.sub(r"[^\w+]+", " ", plain.replace("'", " ")).split())


@lru_cache(maxsize=4096)
def _classify_condition(text: str) -> tuple[str, str]:
    folded = _fold(text)
    if not folded:
        return "unknown", ""
    padded = f" {folded} "
    code = "unknown"
    for candidate, phrases in _CONDITION_PHRASES:
        if any(f" {phrase} " in padded for phrase in phrases):
            code = candidate
            break

    grade = ""
    for pattern in _GRADE_RES:
        match = pattern.search(folded)
        if match:
            grade = match.group(1)
            break
    else:
        match = _TRAILING_GRADE_RE.search(folded)
        if match and code != "unknown":
            grade = match.group(1)
        elif re.fullmatch(r"[a-e]\+?", folded):  # a bare "A" / "B+" in a grade column
            grade = folded
    if code == "unknown" and grade:
        code = "used"  # a bare grade ("Grade A", "B") is how pre-owned stock is described
    return code, grade.upper()


def parse_condition(text: str) -> ConditionValue:
    """Map a condition cell or phrase to the ``Condition`` vocabulary, with its grade.

    English, German, Spanish, French (and some Italian/Portuguese) words are
    understood: ``"NEW SEALED"``/``"Neu"``/``"Nuevo"``/``"Neuf"`` -> new,
    ``"Refurb B"``/``"Generalüberholt"``/``"Reconditionné"`` -> refurbished (grade B),
    ``"CPO"`` -> cpo, ``"Open box"`` -> open_box, ``"Used - B"``/``"Gebraucht"``/
    ``"Occasion"``/``"Like new"`` -> used, ``"for parts"`` -> damaged. A bare grade
    (``"Grade A"``, ``"B"``) is used stock. Empty or unrecognised text -> ``"unknown"``;
    this never raises, the raw text is kept beside the code.
    """
    raw = (text or "").strip()
    code, grade = _classify_condition(raw)
    return ConditionValue(code=code, grade=grade, raw=raw)
