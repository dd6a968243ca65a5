"""Turn the raw text of a vendor's price list into typed values.

Pure functions, no database: ``parse_price`` -> ``Money``, ``parse_currency``,
``currency_options``, ``is_currency``, ``currency_from_header``,
``groups_with_spaces``, ``parse_quantity`` -> ``int | None`` and
``parse_condition`` -> ``ConditionValue``. Every rejected value raises
``NormalizationError`` whose message names the value, so it can go straight
into a document's ``extra.errors``.

Currencies:

* Symbols and names come from CLDR through Babel, for every currency that is
  legal tender somewhere today: each locale's symbols (``zł``, ``Kč``, ``Rp``,
  ``Ksh``, ``S/``, ``₽``, ``元``), display names (``US dollars``,
  ``российский рубль``) and unit nouns (``naira``, ``yen``, ``دلار``, ``دولار``).
  A short list of vendor spellings goes on top (``Rs``/``Rs.`` and ``₹`` = INR,
  ``TL`` = TRY, ``руб``/``р`` = RUB, ``Dhs``/``درهم`` = AED, ``KShs``, ``Tk``,
  ``원`` = KRW ...). The table is built once per Babel version (a second or two)
  and kept as JSON in ``$PRICEHUB_CACHE_DIR``, else ``.cache/`` in the project (about 0.1 s to read).
* A text several currencies share is read as the one whose English symbol it is
  (``$`` = USD, ``£`` = GBP, ``¥`` = JPY), else as the one legal tender in at
  least twice as many territories as any other (``dollar`` = USD), else it stays
  ambiguous (``kr``, ``peso``, ``franc``, ``riyal``, full-width ``￥``):
  ``parse_currency`` gives ``None``, ``currency_options`` the candidates, and
  ``parse_price`` reads the amount with no currency (the vendor's applies).
* Codes count in any letter case for the common ones (``usd``), else only in
  capitals (``TRY``, ``ALL``, ``MAD`` are also words). One ASCII letter
  (``R``, ``K``, ``L``, ``P``) and words such as ``won``, ``real``, ``rand``,
  ``sum``, ``um`` are never currencies.
* ``N`` glued before the digits is the naira as typed on phones (``N250,000``).

Number rules (prices; quantities use the same separators):

* Digits of any script (Persian ``۷۲۰``, Arabic-Indic ``٧٥٠``, full-width
  ``５９９``) are read as ASCII digits (``offers.text.ascii_digits``).
* Spaces (also no-break and thin spaces) and apostrophes (``1'234.50``) are
  always thousands separators. A space typed after a thousands comma
  (``N440, 000``) is dropped when the group is ``000`` or a currency comes
  before the number.
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
* Thousands groups must be well formed: 1-3 digits, then groups of exactly
  three; or, with commas, the Indian grouping: 1-2 digits, groups of two, then
  one of three (``1,05,000.00``, ``12,34,567``). ``1,23,45`` is an error rather
  than a guess.
* A multiplier after the amount scales it (``MULTIPLIERS``): ``450k``,
  ``₦1.2m``, ``1.65 lakh``, ``15.5L`` (lakh: a price is never in litres),
  ``17,9jt`` (juta), ``250rb`` (ribu), ``52к``, ``52 тыс``, ``2 crore``.
* A trailing ``,-`` / ``.-`` / ``/-`` means "no cents" (``1299,-``, ``₹1,32,500/-``).
* Prices are rounded half-up to 2 decimal places (``Offer.price`` is
  ``Decimal(14, 2)``); zero, negative and amounts of 10^12 or more are errors.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from offers.text import ascii_digits, strip_accents

__all__ = [
    "ConditionValue",
    "Money",
    "NormalizationError",
    "currency_from_header",
    "currency_options",
    "groups_with_spaces",
    "is_currency",
    "join_comma_space",
    "MULTIPLIERS",
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
    currency: str | None  # ISO 4217, or None when the text names no currency (or an ambiguous one)
    # The ISO codes an ambiguous currency text allows ("450 kr": DKK, ISK, NOK, SEK); () otherwise.
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionValue:
    code: str  # one of offers.models.Condition.values
    grade: str  # "A", "B+", ... or ""
    raw: str  # the text as given, stripped


# --------------------------------------------------------------------------- currency

# ISO 4217 codes that vendors write in any letter case ("usd", "Usd", "USD"). Every other
# current code (CLDR's tender currencies) counts only in capitals: "MAD", "TOP", "PEN", "GEL"
# and "ALL" are also ordinary words.
_ISO_CODES = frozenset(
    """
    AED ARS AUD BDT BGN BHD BRL CAD CHF CLP CNY COP CZK DKK EGP EUR GBP GHS HKD HUF IDR ILS INR
    IQD ISK JOD JPY KES KRW KWD KZT LBP LKR MAD MXN MYR NGN NOK NZD OMR PHP PKR PLN QAR RON RSD
    RUB SAR SEK SGD THB TND TWD UAH USD UYU VND XAF XOF ZAR
    """.split()
) - {"MAD"}

# Vendors' own spellings, and the readings this module settles where CLDR leaves a choice. Keyed
# like the CLDR table (case-folded, without spaces, dots and bidi marks); these win over CLDR.
_VENDOR_CURRENCIES = {
    # doubled or local forms of the dollar signs
    "usd$": "USD", "u$s": "USD", "u$d": "USD", "eur€": "EUR", "gbp£": "GBP", "cad$": "CAD", "c$": "CAD",
    "aud$": "AUD", "sgd$": "SGD", "usdollar": "USD", "usdollars": "USD",
    # abbreviations that CLDR has not, or that mean one currency in the phone trade
    "rs": "INR", "rs/": "INR", "inr₹": "INR", "tl": "TRY", "ytl": "TRY", "руб": "RUB", "р": "RUB",
    "рубль": "RUB", "рубля": "RUB", "рублей": "RUB", "рублях": "RUB", "рублей": "RUB", "дол": "USD",
    "kshs": "KES", "tk": "BDT", "rmb": "CNY", "块": "CNY", "円": "JPY", "원": "KRW",
    "dhs": "AED", "dh": "AED", "dirham": "AED", "dirhams": "AED", "درهم": "AED", "د.إ": "AED", "دإ": "AED",
    "zl": "PLN", "lei": "RON", "fr": "CHF", "sfr": "CHF", "franken": "CHF", "reais": "BRL",
}
# Words and units that CLDR lists as a currency's symbol or name but that mean something else next
# to a number in a price list ("won", "real", "sum", "km", "um", "MTN" airtime ...). One letter
# ("R", "K", "L", "P", "m") is never a currency either: those are sizes, multipliers and models.
_NOT_CURRENCIES = frozenset(
    """
    won real reals rand sol sols soles som soms sum sums kip kips dong pula tala kina mark marks lev leve leva dram
    bat bats gold um km mk mtn ar da db dt gs gt cf fc le ls nu rf sr kz br bs ien iro ero uru
    """.split()
)
_KEY_DROP = re.compile("[\\s.\u200e\u200f\u061c\u00a0\u202f\u2009]+")
_CLDR_SCHEMA = 3  # bump when _build_currency_table changes what it stores


def _currency_key(text: str) -> str:
    """How the tables are keyed: case-folded, without spaces, dots and bidi marks."""
    return _KEY_DROP.sub("", text.casefold())


_SPACE_GROUPED_KEY = " space"  # no currency key has a space


def _is_letter(key: str) -> bool:
    """One ASCII letter ("R", "K", "L", "m"): a size, a multiplier or a model, never a currency."""
    return len(key) == 1 and key.isascii() and key.isalpha()


def _build_currency_table() -> dict[str, str]:
    """Every currency symbol and name of CLDR (through Babel), mapped to the codes it can mean.

    Returns ``{key: "USD"}`` for a text with one reading, else ``{key: "chosen|code|code..."}``:
    the code it is read as (empty when the text stays ambiguous, as ``"kr"``:
    ``"|DKK|NOK|ISK|SEK"``), then every code it can mean. Sources, all of
    CLDR, for the currencies that are legal tender somewhere today:

    * each locale's currency symbols (``pl``: ``zł``, ``cs``: ``Kč``, ``id``: ``Rp``, ``en_KE``:
      ``Ksh``, ``es_PE``: ``S/``, ``ru``: ``₽`` ...);
    * each locale's display names, singular and plural (``российский рубль``, ``US dollars``);
    * unit nouns: the last word of each English name (``yen``, ``naira``, ``rupiah``, ``dollar``)
      and, in other scripts, a word shared by the names of several currencies of one unit family
      in one locale (``دلار``, ``دولار``, ``доллар``, ``원``).

    Under the key ``" space"``: the codes of the currencies written ``1 299`` at home (see
    ``_space_grouped_codes``), for ``groups_with_spaces``.

    A text several currencies share is read as the one whose English symbol it is (``$``: USD,
    ``£``: GBP, ``¥``: JPY), else as the one legal tender in at least twice as many territories
    as any other (``dollar``: USD, ``rupee``: INR), else it stays ambiguous (``kr``, ``peso``,
    ``franc``, ``riyal``). Takes a second or two: ``_currency_table`` caches it.
    """
    from collections import Counter, defaultdict
    from datetime import date

    from babel import localedata
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    today = date.today()
    territories = Counter()
    for territory in get_global("territory_currencies"):
        for code in get_territory_currencies(territory, today, tender=True):
            territories[code] += 1
    current = frozenset(territories)
    table: dict[str, set[str]] = defaultdict(set)
    english: dict[str, str] = {}  # key of an English symbol -> its code
    family: dict[str, str] = {}  # code -> the last word of its English name ("dollar")
    shared_words: list[dict[str, set[str]]] = []
    territory_codes = {
        territory: get_territory_currencies(territory, today, tender=True)
        for territory in get_global("territory_currencies")
    }
    groups: dict[str, str] = {}  # locale -> its own thousands separator
    for locale in localedata.locale_identifiers():
        data = localedata.load(locale, merge_inherited=False)
        group = data.get("number_symbols", {}).get("latn", {}).get("group")
        if group:
            groups[locale] = group
        for code, symbol in data.get("currency_symbols", {}).items():
            if code in current:
                table[_currency_key(symbol)].add(code)
                if locale == "en":
                    english[_currency_key(symbol)] = code
        names = [(code, name) for code, name in data.get("currency_names", {}).items() if code in current]
        names += [
            (code, name)
            for code, forms in data.get("currency_names_plural", {}).items() if code in current
            for name in forms.values()
        ]
        words: dict[str, set[str]] = defaultdict(set)
        for code, name in names:
            table[_currency_key(name)].add(code)
            parts = name.casefold().split()
            if locale == "en":
                table[_currency_key(parts[-1])].add(code)
                family.setdefault(code, parts[-1].rstrip("s"))
            elif not name.isascii():
                for part in parts:
                    words[part.strip(".()")].add(code)
        shared_words.append(words)
    for words in shared_words:
        for word, codes in words.items():
            if len(codes) > 1 and not word.isascii() and len({family.get(code) for code in codes}) == 1:
                table[_currency_key(word)].update(codes)

    resolved: dict[str, list[str]] = {}
    for key, codes in table.items():
        if not key or key in _NOT_CURRENCIES or any(ch.isdigit() for ch in key) or _is_letter(key):
            continue
        ranked = sorted(codes, key=lambda code: (-territories[code], code))
        if len(ranked) == 1:
            chosen = ranked[0]
        elif english.get(key) in codes:
            chosen = english[key]
        elif territories[ranked[0]] >= 2 * territories[ranked[1]]:
            chosen = ranked[0]
        else:
            chosen = ""
        resolved[key] = chosen if chosen and len(ranked) == 1 else "|".join([chosen, *ranked])
    for code in current:  # "usd", "mad": how codes are read is settled in parse_currency
        resolved.pop(code.lower(), None)
    resolved[_SPACE_GROUPED_KEY] = "|".join(sorted(_space_grouped_codes(current, territory_codes, groups)))
    return resolved


def _space_grouped_codes(current, territory_codes, groups) -> set[str]:
    """The currencies written with spaces between thousands where they are at home (CLDR).

    A currency's home is the country of its code's first two letters (ISO 4217: ``PL``N, ``CZ``K,
    ``US``D); the country's most spoken language (CLDR territory languages) gives the locale whose
    thousands separator counts. A currency of no one country (``EUR``) counts when a third of the
    territories using it group with spaces.
    """
    from babel.core import get_global

    spoken = get_global("territory_languages")

    def spaced(territory: str) -> bool:
        languages = spoken.get(territory) or {}
        if not languages:
            return False
        language = max(languages, key=lambda name: languages[name].get("population_percent", 0))
        group = groups.get(f"{language}_{territory}") or groups.get(language) or ","
        return not group.strip()

    users: dict[str, list[str]] = {}
    for territory, codes in territory_codes.items():
        for code in codes:
            users.setdefault(code, []).append(territory)
    found = set()
    for code in current:
        home = code[:2]
        if home in territory_codes and code in territory_codes[home]:
            if spaced(home):
                found.add(code)
        elif sum(map(spaced, users.get(code, ()))) * 3 >= len(users.get(code, ())) > 0:
            found.add(code)
    return found


def _cache_path():
    import os
    from pathlib import Path

    import babel

    # The project's own folder by default, never a shared temp dir that another local user could write to.
    folder = Path(os.environ.get("PRICEHUB_CACHE_DIR") or Path(__file__).resolve().parent.parent / ".cache")
    return folder / f"cldr-currencies-babel{babel.__version__}-v{_CLDR_SCHEMA}.json"


@lru_cache(maxsize=1)
def _currency_table() -> dict[str, str]:
    """``_build_currency_table()``, kept in a JSON file (``$PRICEHUB_CACHE_DIR``, else ``.cache/`` in the project).

    The file is named after the Babel version, so a Babel upgrade rebuilds it; a missing,
    unreadable or unwritable file only costs the build (about 1-2 s once per process).
    """
    import json
    import os

    path = _cache_path()
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(table, dict) and all(isinstance(v, str) for v in table.values()):
            return table
    except (OSError, ValueError):
        pass
    table = _build_currency_table()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass
    return table


@lru_cache(maxsize=1)
def _current_codes() -> frozenset[str]:
    from datetime import date

    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    today = date.today()
    return frozenset(
        code for territory in get_global("territory_currencies")
        for code in get_territory_currencies(territory, today, tender=True)
    ) | _ISO_CODES


@lru_cache(maxsize=8192)
def _lookup_currency(stripped: str) -> tuple[str, ...]:
    """``("USD",)``, ``("", "DKK", "ISK", "NOK", "SEK")`` when ambiguous, or ``()`` when unknown."""
    if stripped.isupper() and stripped.isascii() and stripped in _current_codes():
        return (stripped,)
    key = _currency_key(stripped)
    if not key:
        return ()
    code = key.upper()
    if code in _ISO_CODES:
        return (code,)
    if key in _VENDOR_CURRENCIES:
        return (_VENDOR_CURRENCIES[key],)
    if _is_letter(key):
        return ()
    entry = _currency_table().get(key)
    if not entry and not key.isascii():
        entry = _currency_table().get(unicodedata.normalize("NFKC", key))  # "＄", "￡": full-width forms
    if not entry:
        return ()
    if "|" not in entry:
        return (entry,)
    chosen, *codes = entry.split("|")
    return (chosen,) if chosen else ("", *codes)


def parse_currency(text: str) -> str | None:
    """Map a currency symbol, code or name to its ISO 4217 code; ``None`` when unknown or ambiguous.

    ``"$"`` and ``"US$"`` -> ``"USD"``, ``"€"`` -> ``"EUR"``, ``"R$"`` -> ``"BRL"``, ``"zł"`` ->
    ``"PLN"``, ``"Kč"`` -> ``"CZK"``, ``"Rp"`` -> ``"IDR"``, ``"S/"`` -> ``"PEN"``, ``"KSh"`` ->
    ``"KES"``, ``"₽"``/``"руб"`` -> ``"RUB"``, ``"دلار"``/``"دولار"`` -> ``"USD"``, ``"元"`` ->
    ``"CNY"``, ``"円"`` -> ``"JPY"``, ``"Rs"``/``"₹"`` -> ``"INR"``, ``"TL"``/``"₺"`` -> ``"TRY"``.
    Symbols and names come from CLDR through Babel (see ``_build_currency_table``; codes that are
    legal tender today), with a short list of vendor abbreviations on top. A bare ``$`` is US
    dollars and ``¥`` is yen. Codes in any letter case for the common ones (``usd``); other codes
    only in capitals, since some are also words (``TRY``, ``ALL``, ``MAD``). A text that several
    currencies share with no clear first (``kr``, ``peso``, ``franc``) gives ``None``: see
    ``currency_options``. Never raises.
    """
    if not text:
        return None
    found = _lookup_currency(text.strip())
    return found[0] if found and found[0] else None


def iso_currency_code(text: str) -> str | None:
    """``text`` as an ISO 4217 code in use today (``"eur"`` -> ``"EUR"``), else ``None``.

    For what an operator types as a currency (``--currency``, the admin's currency field):
    a code, never a name or sign that would be a guess (``"Dollar"``, ``"kr"``). Source:
    CLDR's territory currencies (legal tender today), through Babel.
    """
    code = (text or "").strip().upper()
    if len(code) == 3 and code.isascii() and code.isalpha() and code in _current_codes():
        return code
    return None


def currency_options(text: str) -> tuple[str, ...]:
    """The ISO codes a currency text can mean: one for a known currency, several for an ambiguous one.

    ``"$"`` -> ``("USD",)``, ``"kr"`` -> ``("DKK", "ISK", "NOK", "SEK")`` (most territories
    first), ``"Black"`` -> ``()``. Where ``parse_currency`` gives ``None`` for an ambiguous text,
    a caller with a default currency (the vendor's) can check the default is one of these.
    """
    if not text:
        return ()
    found = _lookup_currency(text.strip())
    return found[1:] if found and not found[0] else found


def is_currency(text: str) -> bool:
    """True when ``text`` names a currency, even one that ``parse_currency`` cannot settle (``kr``)."""
    return bool(text) and bool(_lookup_currency(text.strip()))


def groups_with_spaces(text: str) -> bool:
    """True when the currency ``text`` names is one whose home locales group thousands with spaces.

    ``"zł"``, ``"Kč"``, ``"₽"``, ``"Ft"``, ``"€"`` (French) -> True: ``3 499 zł`` is one amount.
    ``"$"``, ``"دلار"``, ``"₹"`` -> False: ``iPhone 15 750 $`` is a model and a price. For an
    ambiguous text (``kr``) any of its currencies counts. Source: CLDR number symbols (``group``)
    of each locale and the territory it stands for (likely subtags), through Babel.
    """
    codes = currency_options(text)
    if not codes:
        return False
    grouped = _currency_table().get(_SPACE_GROUPED_KEY, "").split("|")
    return any(code in grouped for code in codes)


# Tokens of a header: symbol groups such as "US$" / "R$" / "€", or words.
_CURRENCY_SYMBOL_CHARS = "".join(
    chr(code) for code in range(0x10000) if unicodedata.category(chr(code)) == "Sc"
) + "円元"
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
_OTHER_DIGIT_RE = re.compile(r"(?![0-9])\d")  # Persian, Arabic-Indic, full-width ... digits
_PLAIN_NUMBER_RE = re.compile(r"\d{1,15}(?:\.\d{1,2})?")
# A number: starts with a digit, continues with digits and separators.
_NUMBER_RE = re.compile(r"\d[\d.,'’ \u00a0\u202f\u2009]*")
_ARABIC_SEPARATORS = str.maketrans({"\u066c": ",", "\u066b": "."})  # Arabic thousands and decimal separators
_SEPARATOR_SPLIT_RE = re.compile(r"([.,'’ \u00a0\u202f\u2009])")
_SPACES = frozenset(" \u00a0\u202f\u2009")
_APOSTROPHES = frozenset("'’")
_NO_CENTS_SUFFIXES = (",-", ".-", "/-", ",--", ".--")
# A VAT remark after a price: "£679 +VAT", "899 ex VAT", "549 inc. VAT", "1.099 € zzgl. MwSt.".
_VAT_REMARK = re.compile(
    r"\s*(?P<how>\+|plus\b|ex\b|excl?\b|exkl\b|zzgl\b|inc\b|incl?\b|inkl\b)\.?\s*"
    r"(?:vat|mwst|iva|kdv|gst|tva|btw|ust)\b\.?\s*$",
    re.IGNORECASE,
)


def split_vat(text: str) -> tuple[str, str]:
    """A price's text without a VAT remark after it, and what the remark says: ``"excluded"``
    (``+VAT``, ``ex VAT``, ``zzgl. MwSt.``), ``"included"`` (``inc VAT``, ``inkl. MwSt.``) or ``""``."""
    found = _VAT_REMARK.search(text)
    if found is None:
        return text, ""
    included = found.group("how").lower().startswith(("inc", "ink"))
    return text[:found.start()], "included" if included else "excluded"


_PRICE_NOISE = frozenset({"each", "ea", "/ea", "/pc", "/unit", "perunit", "/each", "net"})
# Shorthand for a power of ten written after the amount, as vendors do: "450k", "₦1.2m",
# "1.65 lakh", "15.5L" (lakh: ``parse_price`` reads only prices), "17,9jt" (juta), "250rb" (ribu),
# "52к" (Cyrillic k), "52 тыс", "2 crore".
MULTIPLIERS = {
    "k": 3, "к": 3, "тыс": 3, "tys": 3, "rb": 3, "ribu": 3, "rebu": 3,
    "m": 6, "mn": 6, "mio": 6, "jt": 6, "juta": 6, "млн": 6,
    "l": 5, "lakh": 5, "lakhs": 5, "lac": 5, "lacs": 5, "lk": 5, "crore": 7, "crores": 7, "cr": 7,
}
_MULTIPLIER_RE = re.compile(
    r"(?P<word>" + "|".join(sorted(MULTIPLIERS, key=len, reverse=True)) + r")\.?(?![^\W\d_])", re.IGNORECASE
)
# "N440, 000": a space after a thousands comma, before exactly three digits.
_COMMA_SPACE_RE = re.compile(r"(?<=\d),[ \u00a0](?=(\d{3})(?!\d))")


def join_comma_space(text: str, currency_before: bool) -> str:
    """``"440, 000"`` -> ``"440,000"``: a space typed after a thousands comma (same length minus one).

    Joined only where it cannot be a list (``64, 128, 256``): the group after is ``000``, or
    ``currency_before`` says a currency is written before the number (``N440, 500``).
    """
    return _COMMA_SPACE_RE.sub(lambda m: "," if currency_before or m.group(1) == "000" else m.group(), text)


def _join_comma_space(text: str) -> str:
    first_digit = next((i for i, ch in enumerate(text) if ch.isdigit()), 0)
    return join_comma_space(text, bool(text[:first_digit].strip(" -+")))
_NEGATIVE_SIGNS = "-−–"  # hyphen-minus, minus sign, en dash


def _thousands_ok(groups: list[str], sep: str = "") -> bool:
    """Integer groups split by a thousands separator: 1-3 digits (no leading 0), then 3-digit groups.

    With ``,`` the Indian grouping is also well formed: 1-2 digits, 2-digit groups, then one
    3-digit group (``1,05,000``, ``12,34,567``); ``1,23,45`` is neither.
    """
    first = groups[0]
    if not 1 <= len(first) <= 3 or (first[0] == "0" and len(groups) > 1):
        return False
    if all(len(group) == 3 for group in groups[1:]):
        return True
    return (
        sep == "," and len(groups) > 2 and len(first) <= 2 and len(groups[-1]) == 3
        and all(len(group) == 2 for group in groups[1:-1])
    )


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
        elif len(groups[-1]) == 3 and _thousands_ok(groups, last):
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
    if len(integer_groups) > 1 and not _thousands_ok(integer_groups, next(iter(thousands))):
        raise NormalizationError(f"price {original!r} has misplaced thousands separators")
    text = "".join(integer_groups)
    if fraction:
        text = f"{text}.{fraction}"
    return Decimal(text)


def _checked_money(amount: Decimal, currency: str | None, original: object, options: tuple[str, ...] = ()) -> Money:
    if not amount.is_finite():
        raise NormalizationError(f"price {original!r} is not a number")
    amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    if amount <= 0:
        word = "zero" if amount == 0 else "negative"
        raise NormalizationError(f"price {original!r} is {word}; a price must be greater than 0")
    if amount >= _MAX_AMOUNT:
        raise NormalizationError(f"price {original!r} is too large (10^12 or more)")
    return Money(amount, currency, options)


def parse_price(value: str | int | float | Decimal, *, decimal_comma: bool | None = None) -> Money:
    """Parse a price cell or token: ``"$1,045.00"``, ``"629,00 €"``, ``"USD 750"``, ``1045.5``,
    ``"Rs 1,05,000"``, ``"N450k"``, ``"1.65 lakh"``, ``"۷۲۰ دلار"``.

    The currency symbol, code or name may come before or after the number, with or
    without a space; ``Money.currency`` is ``None`` when the value names none, or
    names one that several currencies share (``"450 kr"``: see ``currency_options``).
    Floats are read through their shortest ``repr`` (1045.5 -> ``Decimal("1045.5")``).
    See the module docstring for the separator rules. Raises ``NormalizationError``
    for empty values, words (``call``, ``TBA``, ``POA``, ``-``), zero, negative or
    too-large amounts, several numbers, and text that is not a known currency. A footnote's
    ``*`` after the price is left out; Arabic separators (``٣٬٩٩٩``, ``٣٫٥``) are read as
    ``,`` and ``.``.
    """
    # Fast paths first: the spreadsheet processor calls this for every row.
    if type(value) is str:
        text = value.strip()
        if not text.isascii():
            if _OTHER_DIGIT_RE.search(text):
                text = ascii_digits(text)
            text = text.translate(_ARABIC_SEPARATORS)  # "٣٬٩٩٩": the Arabic thousands separator
        if text.endswith("*"):
            text = text.rstrip("*").rstrip()  # "799*": a footnote's mark, not part of the price
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
        return _parse_price_text(value, ascii_digits(value.strip()), decimal_comma)
    raise NormalizationError(f"price {value!r} is not a number")


def _parse_price_text(original: str, text: str, decimal_comma: bool | None) -> Money:
    if not text:
        raise NormalizationError("price is empty")
    if ", " in text or ",\u00a0" in text:
        text = _join_comma_space(text)
    match = _NUMBER_RE.search(text)
    if match is None:
        raise NormalizationError(f"price {original!r} is not a number")
    number = match.group().rstrip(".,'’ \u00a0\u202f\u2009")
    before = text[: match.start()].strip()
    after = text[match.start() + len(number) :].strip()
    power = 0
    multiplier = _MULTIPLIER_RE.match(after) if after else None
    if multiplier:
        power, after = MULTIPLIERS[multiplier.group("word").lower()], after[multiplier.end():].strip()
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

    currency, options = None, ()
    for part in (before, after):
        if not part:
            continue
        if any(ch.isdigit() for ch in part):
            raise NormalizationError(f"price {original!r} contains more than one number")
        if part == "N" and part is before and text[match.start() - 1] == "N":
            code = "NGN"  # "N250,000", "N450k": the naira sign as typed on a phone
        else:
            found = _lookup_currency(part)
            if not found:
                if part.lower().replace(" ", "") in _PRICE_NOISE:
                    continue
                raise NormalizationError(f"price {original!r} has unrecognised text {part!r}")
            code = found[0] or None  # "kr": a currency, but which one the vendor's context says
            if code is None:
                options = found[1:]
                continue
        if currency is not None and code != currency:
            raise NormalizationError(f"price {original!r} names two currencies")
        currency = code

    try:
        amount = _number_text_to_decimal(number, original, decimal_comma)
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        raise NormalizationError(f"price {original!r} is not a number") from None
    if negative and amount != 0:
        raise NormalizationError(f"price {original!r} is negative; a price must be greater than 0")
    if power:
        amount = amount.scaleb(power)
    return _checked_money(amount, currency, original, () if currency else options)


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
        if not text.isascii() and _OTHER_DIGIT_RE.search(text):
            text = ascii_digits(text)
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
