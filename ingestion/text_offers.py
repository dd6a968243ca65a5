"""Find offers in free text: WhatsApp messages, PDF text, OCR text.

``extract_offers(text)`` yields one ``OfferCandidate`` per product line, with
the raw tokens as written (``price="€1.299,00"``, ``quantity="10"``,
``condition="CPO grade A"``). Turning them into amounts, codes and grades is
the job of ``ingestion.normalize``; this module only decides *which* token is
what. The rules, line by line:

Cleaning
    A trailing edited marker (``<This message was edited>``, ``<Bu mesaj
    düzenlendi>``: ``chat_markers.strip_edited``, the definition the chat
    parsers use too) is dropped, invisible marks (``chat_markers``) go,
    struck text (``~999~``, an old price) is cut out, ``*bold*``, ``_italic_``
    and backtick markers and bidi marks are removed, and emoji, arrows and
    bullets become a ``|`` separator (so ``iPhone 15 👉 750`` reads like
    ``iPhone 15 | 750``). A flag (``🇮🇳``, region of origin) stays as a word of
    its own: it separates like an emoji but belongs in the description.
    Digits of other scripts (Persian, Arabic-Indic, full-width) are read as
    ASCII digits (the line is scanned through ``offers.text.ascii_digits``, which
    keeps positions), while prices, quantities and descriptions keep them as
    written (``۷۲۰ دلار``); ``440, 000`` becomes ``440,000``. Leading list numbers (``1.``,
    ``2)``, keycaps ``1️⃣``) are dropped.

Lines that are never offers
    A text without any digit. A line that is only a time or a date (``09:13``,
    ``10:41 pm``, ``31/12``: a chat screenshot's time under each message), which
    also ends the lines a price-only line below may take its product from. Questions (ending in ``?`` or starting with
    ``¿``). Wanted/buying posts and sold-out lines (``need``, ``looking``,
    ``WTB``, ``budget``, ``busco``, ``suche``, ``sold``, ``out of stock``,
    ``agotado``, ``ausverkauft`` ...). Lines whose description is only chit-chat
    words and numbers (``Best I can do is $720``, ``for 10 I can do £869 each``)
    or a shipping/payment remark without a model number (``Shipping $25``,
    ``Collection from Leicester or £8 next-day``).

Numbers that are never prices
    Numbers glued to a letter (``A2849``, ``S23``, ``Poco X6``, ``N20``; a
    lowercase ``x10`` is a quantity) unless the letters are a currency that
    starts the word (``Rs1,05,000``, ``USD750``, and ``N`` before a naira
    amount: grouped, with ``k``/``m`` or of 5+ digits), followed by a unit
    (``256GB``, ``1TB``, ``128 Go``, ``5G``, ``5000mAh``, ``6.1"``, ``90%``,
    ``500ml``, ``6ft``, ``2nd``, ``15 Pro``, ``4K``/``5K`` up to 16K, ``2m``
    without a currency, ``1.5L`` unless the text prices in rupees), parts of
    ``12/128`` and of dates and times (``31/12``, ``21:00``), numbers with a
    leading zero (``0142``), phone numbers (numbers joined by spaces, dashes or
    brackets with 10+ digits, or 9+ after ``+``, ``(`` or ``0``; never across
    `` - ``), numbers in URLs, quantities (below) and old prices: struck, or
    after ``was``, ``old``, ``RRP``, ``antes``, ``statt``, ``avant`` ...

    Multipliers are part of the number (``normalize.MULTIPLIERS``): ``450k``,
    ``N450k``, ``₦1.2m``, ``1.65 lakh``, ``17,9jt``, ``250rb``, ``52к``,
    ``15.5L`` where the text names rupees. Numbers grouped by spaces are one
    amount when written with a currency whose home locales group that way
    (``3 499 zł``, ``75 000 ₽``; not ``iPhone 15 750 $``).

Prices
    A number is a *marked* price when a currency stands next to it (``$750``,
    ``750$``, ``750usd``, ``USD 750``, ``€1.299,00``, ``629,00 €``, ``£389``,
    ``7.499 reais``, ``54.999 TL``, ``5999元``, ``۷۲۰ دلار``, ``Rp 17.999.000``:
    any symbol, code or name of CLDR that ``normalize.is_currency`` knows, in any
    script, ambiguous ones such as ``kr`` included; a currency between two
    numbers goes with the one after it: ``iPhone 15 Rp 17.999.000``), when
    ``@``, ``now``, ``only``, ``price:``, ``precio``, ``Preis``, ``prix``,
    ``por``, ``ahora``, ``jetzt``, ``down to`` ... comes before it, when a money
    multiplier follows it (``lakh``, ``jt``, ``rb``, ``crore``, ``тыс``), or
    ``/-``, ``,-``, ``.-`` after it. With ``$`` before and a code after
    (``$4,999 MXN``) the code wins: ``$`` is also the peso sign. Of several
    marked prices the one after ``now``/``only``/``@`` wins, else the first
    (``$750 (€690)``); but marked prices with a separator (``/ | ; , -``) and
    text between them are one offer each (``S23 $629 / S23+ $719``).

    A bare number is a price only when no price on the line is marked, it is
    the last number, product text stands before it, and only words like
    ``each``, ``firm``, ``neg``, ``c/u``, variant tags (``2Sim``, ``eSIM``,
    ``dual sim``, ``HK``, ``LL/A``) and flags follow it; the tags and flags stay
    in the description. With a separator (``-``, ``–``, ``:``, ``=``, ``|``,
    ``>``, an emoji or a flag) before it, or a ``k`` after it (``450k``), it is a
    price on its own: ``iPhone 15 128GB - 750``. Without one it is a *tail*
    price (``AirPods 4 ANC 12700``, ``15 128 Black 53500🇮🇳``), and the decision
    is taken for the whole text: tail prices are offers only when the text is
    a price list, that is at least two priced lines (clear or tail), with every
    tail price within a factor of 10 of the median price of the text. A tail
    price is at least 50 (``Redmi Note 13``), not a storage size
    (``iPhone 13 128``) nor a year (``MacBook Air 2020``), above every other
    number of its line, after two words or more (``Honor 200``), and not on a
    line with an address or contact word (a postcode). ``iPhone 15 128GB 750``
    alone is not an offer; a line of chit-chat (``Best I can do is 720``) never
    counts towards a price list.

    A range (``700-750``, ``$700 - $750``, ``700 to 750``; the second number above
    the first and at most twice it, the first not a storage size without a currency:
    ``A55 256 - 329€`` is no range) gives its *lower* bound, the price a buyer
    can get; the range as written goes into ``extra["price_range"]``. Unmarked
    ranges count only where a bare price would (at the end of a product line).

    ``price`` is the number with its adjacent currency and multiplier, as
    written; a currency found apart (``750 (USD)``,
    ``$4,999 MXN``, or a ``Prices in EUR``, ``All prices EUR`` line earlier in the text) goes into
    ``currency``. A price written with a multiplier and no currency
    (``1.65 lakh``, ``520k``) takes the currency the text names elsewhere, when
    it names exactly one (``Rs``/``₹`` on the other lines: INR).

Quantities
    ``x10``, ``x 12``, ``10x``, ``10pcs``, ``10 units``, ``(30 units)``,
    ``qty 25``, ``stock: 40``, ``25 available``, ``200+`` (not ``iPhone 15+``),
    in several languages (``Stück``, ``piezas``, ``pezzi``, ``stuks`` ...). The
    number is kept with its ``+``. A number with a currency next to it is a price
    even after ``stock`` (``A stock 129usd``).

Conditions
    Inline words (``NEW``, ``sealed``, ``CPO grade A``, ``refurb B``, ``used``,
    ``open box``, ``like new``, ``Grade B``, ``nuevo``, ``gebraucht``,
    ``generalüberholt Klasse A``, ``seminovo``, ``neuf``, ``usato`` ...) are cut
    out of the description and become ``condition``. A line without a price
    that is only a condition phrase plus at most two words (``NEW SEALED``,
    ``*CPO grade A*``, ``USED iPhones``) is a section header: its text is the
    condition of the lines below it, until the next header. A line such as
    ``All brand new sealed, US version`` (``all``, ``todos``, ``alle``, ``tous``
    ...) gives its condition to the text's offers that have none. ``condition=``
    is the condition before any header.

Descriptions
    The line without price, quantity, condition, price marks and the words
    after the price. A description with no product name, only specs
    (``256GB``, ``512GB Black``), is prefixed with the last line above it that
    had no price (``iPhone 15 Pro Max``); a price line with no description at
    all (``💰 CA$999``) takes the first such line since the previous offer. A
    blank line ends both. ``sku`` is a part number in the line (``SM-S928B``,
    ``A2849``, ``MTP03LL/A``).

Candidates come out once the whole text is read, because of the closing
"All brand new" line and of tail prices.

Time grows linearly with the length of a line, however many numbers, spans or
products it holds (``bench/hostile_text.py``): each line is scanned once, spans
are blanked and cut in one pass, and a line of many products is split from that
one scan. The chat processors cap lines and messages before they get here
(``ingestion.chat_text``).

Lines without offers
    ``extract_offers(..., rejected=[])`` appends each line that has a digit but
    gave no offer as ``(ref, line, reason)``: a question; a wanted, buying or
    sold-out post; chit-chat or a counter-offer; only a quantity; a bare number
    ending the line outside a price list; no price (specs, model numbers,
    quantities); a price without any product text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from ingestion.chat_markers import INVISIBLE_OR_BACKTICK, strip_edited
from ingestion.normalize import (
    NormalizationError,
    groups_with_spaces,
    is_currency,
    join_comma_space,
    parse_currency,
    parse_price,
)
from ingestion.types import OfferCandidate
from offers.text import ascii_digits

__all__ = ["extract_offers"]

# --------------------------------------------------------------------------- cleaning

_STRUCK = re.compile(r"~(?=\S)[^~\n]*?(?<=\S)~")
_ITALIC = re.compile(r"(?<!\w)_(?=\S)|(?<=\S)_(?!\w)")
_KEYCAP = re.compile(r"\d\ufe0f?\u20e3")
_OTHER_DIGIT = re.compile(r"[^\D0-9]")  # a digit of another script: Persian, Arabic-Indic, full-width ...
# A flag (two regional indicators: region of origin, "🇮🇳") stays in the text as a word of its own.
_FLAG = re.compile("[\U0001f1e6-\U0001f1ff]{2}")
_EMOJI = re.compile(
    "[\U0001f000-\U0001f1e5\U0001f200-\U0001faff\u2190-\u21ff\u2300-\u23ff\u25a0-\u25ff\u2600-\u27bf\u2b00-\u2bff"
    "\u2022\u00b7\u2023\u2043\ufe0f\u200d\u20e3\U000e0020-\U000e007f]+"
)
_HAS_SPECIAL = re.compile("[\u2022\u00b7\u2190-\u2bff\ufe0f\U0001f000-\U0001faff~_]")
_LEADING = re.compile(r"[\s|\-–—>=:.,;+#]*(?:\d{1,2}[.)](?=\s)|\(\d{1,2}\))?[\s|\-–—>=:.,;]*")


def _clean(line: str) -> str:
    if line.endswith(">"):
        line = strip_edited(line)
    plain = line.isascii()  # no marks, emoji or bullets: only "`", "~" and "_" to look for
    if "`" in line if plain else INVISIBLE_OR_BACKTICK.search(line):
        line = INVISIBLE_OR_BACKTICK.sub("", line)
    if "*" in line:
        line = line.replace("*", "")
    if ("~" in line or "_" in line) if plain else _HAS_SPECIAL.search(line):
        if "~" in line:
            line = _STRUCK.sub(" | ", line)
        if "_" in line:
            line = _ITALIC.sub("", line)
        if "\u20e3" in line:
            line = _KEYCAP.sub(" | ", line)
        line = _EMOJI.sub(" | ", line)
        if _FLAG.search(line):
            line = _FLAG.sub(r" \g<0> ", line)
    if ", " in line:
        line = join_comma_space(line, False)  # "N440, 000"
    return line[_LEADING.match(line).end():].rstrip()


# --------------------------------------------------------------------------- numbers

_DIGIT = re.compile(r"\d")
# Digits with their separators; "1 299,00" may group with plain spaces only when cents follow.
# Not after "," "'", a digit or a decimal point; a number glued to a letter (A2849, S23) or after "."
# is dropped in _numbers_in unless the letters are a currency ("Rs1,05,000", "Rs.79,900", "N250,000");
# "x10" is kept.
_NUMBER = re.compile(r"(?<![\d,'])(?<![\d\s]\.)\d[\d.,'\u00a0\u202f]*(?:(?: \d{3})+,\d\d(?!\d))?")
# _NUMBER in parts, for _number_matches: the number, the groups of three digits after it, the cents.
_NUMBER_HEAD = re.compile(r"(?<![\d,'])(?<![\d\s]\.)\d[\d.,'\u00a0\u202f]*")
_THREE_DIGIT_GROUPS = re.compile(r"(?: \d{3})+")
_CENTS_AFTER_GROUPS = re.compile(r",\d\d(?!\d)")
_DIGIT_NEXT = re.compile(r"\s?\d")
# Thousands grouped with plain or thin spaces, "3 499 zł", "75 000 ₽": a number, then groups of three digits.
# Not before a unit ("15 128GB", "8 256 G", "12/256"): those are specs, never amounts.
_SPACED_GROUP = re.compile(
    r"(?<![\d.,'])\d{1,3}(?:[ \u2009]\d{3})+(?![\d.,]\d|\s?(?:[gGtTmM][bBoO]?|mah|mAh|Go|To|[/:\"”%]))"
)
# "N" glued before a naira amount: grouped ("N250,000", "N440, 000"), with a multiplier ("N450k",
# "N1.2m") or of five digits or more. "N20" (a Nord), "N100" (a CPU) are models.
_NAIRA = re.compile(r"\d{1,3}(?:,\s?\d{3})+(?!\d)|\d+(?:[.,]\d+)?[kKmM](?![^\W\d_])|\d{5,}")
_NUMBER_TAIL = ".,'\u00a0\u202f"
_PHONE_GAP = re.compile(r"[\s\-().\u00a0\u2011]{1,3}")
# Every phone number (numbers joined by _PHONE_GAP) starts a run like this; a line without one has none.
_PHONE_LIKE = re.compile(r"\d[\d\s.,'()\-\u00a0\u202f\u2011]{8}")
_QUANTITY_UNITS = (
    r"pcs|pc|pieces?|units?|uds?|unidades|unid|stk|stück|pzs?|pzas|piezas|peças|pçs|pièces?|pezzi|pezzo|pz"
    r"|stuks|stuk|un"
)
# What follows a number: a quantity unit, a unit that makes it a spec (256GB, 6.1", 90%, 12/128, 21:00),
# a multiplier (450k, 1.2m, 17,9jt, 250rb, 52к, 1.65 lakh), a "no cents" suffix (750/-, 1.299,-) or
# letters glued to it (750usd, 15Pro).
_AFTER = re.compile(
    r"(?P<mult>(?:k|к|m|mn|jt|juta|rb|ribu|тыс|млн|lakhs?|lacs?|crores?)\.?(?![^\W\d_])"
    r"|\s(?:lakhs?|lacs?|crores?|juta|ribu|jt|rb|тыс|млн)\.?(?![^\W\d_]))"
    rf"|(?P<quantity>\+?\s?(?:{_QUANTITY_UNITS})\b\.?"
    r"|\+?\s(?:available|avail|in stock|left|on hand|disponibles?|verfügbar|auf lager|em estoque|en stock|dispo)\b"
    r"|[x×](?!\w)|\+(?![\w+]))"
    r"|(?P<spec>[/:]\d|\s?(?:[\"”%″]|''|(?-i:Go|To)\b|(?:gb|tb|mb|g|t|mah|wh|w|hz|mhz|ghz|mm|cm|m|inch|inches|in|kg"
    r"|lbs?|ml|l|mp|k|p|nm|th|st|nd|rd|gen|core|cores|h|hrs?|mins?|days?|weeks?|months?|years?|yrs?|yr|ram|rom|(?-i:ft)"
    r"|series|pro|max|ultra|plus)\b))"
    r"|(?P<no_cents>/-|,-|\.-)(?!\d)"
    r"|(?P<glued>[^\W\d_]+)",
    re.IGNORECASE,
)
# Words that mark the number after them (lower case; "down to" and "instead of" are two words).
_MARK_WORDS = {
    **dict.fromkeys(
        "was old before antes statt vorher era avant rrp msrp retail uvp instead_of list_price".split(), "old"),
    **dict.fromkeys(
        "@ now only just down_to reduced_to dropped_to price prices preço precio preis prix offer special promo sale"
        " ahora agora jetzt nur maintenant solo apenas por".split(), "current"),
    **dict.fromkeys(
        "qty quantity stock avail available cant cantidad qtd quantidade menge qté quantité disponible disponibles"
        " x ×".split(), "quantity"),
}
_MARK_SECOND_WORDS = frozenset({"to", "of", "price"})  # "down to", "instead of", "list price"
_CURRENCY_SIGNS = "$¢£¤¥֏؋߾߿৲৳৻૱௹฿៛₠-⃀꠸﷼﹩＄￠￡￥￦"  # Unicode category Sc (currency symbols)
_CURRENCY_SIGN = re.compile(f"[{_CURRENCY_SIGNS}]")
# A currency written after a number: a sign, or a word in any script ("TL", "zł", "руб.", "دلار", "元").
_CURRENCY_AFTER = re.compile(rf"\s?\(?([{_CURRENCY_SIGNS}]|[^\W\d_]{{1,8}}\.?(?![^\W\d_]))\)?")
# Multipliers that only ever mean money: a number with one is a price ("1.65 lakh", "17,9jt").
_SHORTHAND = re.compile(r"\d\s?[^\W\d_]+\.?$")  # a price token ending in a multiplier: "520k", "1.65 lakh"
_MONEY_MULTIPLIERS = frozenset("jt juta rb ribu lakh lakhs lac lacs crore crores тыс млн".split())
# "15.5L" is 15.5 lakh only where the text prices in rupees; elsewhere L is litres.
_RUPEE_CONTEXT = re.compile(r"₹|\brs\.?(?![^\W\d_])|\binr\b|\blakhs?\b|\blacs?\b", re.IGNORECASE)
# Sizes a bare number at the end of a line is more likely to be than a price (storage, RAM).
_STORAGE_SIZES = frozenset({8, 16, 32, 64, 128, 256, 512, 1024, 2048})
_URL = re.compile(r"https?://\S+|www\.\S+")
_CLOCK_OR_DATE = re.compile(r"\d{1,2}[:.]\d{2}(?:\s?[ap]\.?m\.?)?(?:\s?[✓✔]+)?|\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?",
                            re.IGNORECASE)
_RANGE_GAP = re.compile(r"\s?[-–~]\s?|\s(?:to|a|bis|à)\s", re.IGNORECASE)
_SEPARATOR_BEFORE = re.compile("[-–—:=|>→]\\s*$|[\U0001f1e6-\U0001f1ff]\\s*$")
_LETTER = re.compile(r"[^\W\d_]")
_TRAILER_WORDS = (
    r"each|ea|per unit|pp|firm|fixed|only|neg|negotiable|obo|ono|net|nett|cash"
    r"|final|cada|c/u|uno|pro stück|chacun|cad"
)
_TRAILER = re.compile(rf"[\s|!.,;()\[\]/+\-–—]*(?:(?:{_TRAILER_WORDS})\b[\s|!.,;()\[\]/+\-–—]*)*", re.IGNORECASE)
# Variant tags and flags that may follow a price and stay in the description: "98700🇨🇳2Sim",
# "134500 HK eSIM", "750 LL/A", "52900 🇮🇳".
_TAG = (
    r"[\U0001f1e6-\U0001f1ff]{2}|(?:\d\s?)?(?:e-?sims?|sims?|сим)|dual(?:\s?sim)?|nano(?:\s?sim)?|physical"
    r"|global|intl|international|version|ver|spec|(?-i:[A-Z]{2}(?:/A)?)"
)
_TAIL = re.compile(
    rf"[\s|!.,;()\[\]/+\-–—]*(?:(?:{_TRAILER_WORDS}|{_TAG})(?![^\W_])[\s|!.,;()\[\]/+\-–—]*)*", re.IGNORECASE
)
_TAIL_TAG = re.compile(rf"(?<![^\W_])(?:{_TAG})(?![^\W_])", re.IGNORECASE)
_TAIL_WORD = re.compile(rf"(?<![^\W_])(?:{_TRAILER_WORDS})\b", re.IGNORECASE)
_SEGMENT_GAP = re.compile(r"[^\w$€£]*?(\s[/|;]\s|;\s|,\s|\s[-–—]\s)(?=.*\w)")

# --------------------------------------------------------------------------- words

_CONDITION_PATTERN = (
    r"(?<!\w)(?:"
    r"(?:brand[\s-]?new|factory[\s-]sealed|new|sealed|bnib|nib|cpo|certified pre-?owned|refurb(?:ished)?|renewed"
    r"|used|pre-?owned|open[\s-]?box|like[\s-]new|as new|mint condition|ex[\s-]?demo|b-ware"
    r"|nuevos?|nuevas?|sellados?|usados?|usadas?|seminuevos?|reacondicionados?"
    r"|neu|neuware|ovp|gebraucht|wie neu|generalüberholt"
    r"|novos?|lacrados?|seminovos?|recondicionados?|vitrine"
    r"|neufs?|neuves?|occasion|reconditionnés?|comme neuf"
    r"|nuov[oaie]|usat[oaie]|ricondizionat[oaie]|rigenerat[oaie]|nieuw|gebruikt)"
    r"(?:[\s/,&+-]+(?:sealed|in box|lacrados?|sellados?|ovp|(?:grade|grado|klasse)\s?[a-d]\+?|box|stock)"
    r"|[\s-]+[a-d]\+?(?![\w+$€£]))*"
    r"|(?:grade|grado|klasse)\s?[a-d]\+?|[a-d]\+?[\s-]?(?:grade|stock))(?![\w+])"
)
_CONDITION_LOWER = re.compile(_CONDITION_PATTERN)  # on the lower-cased line: much faster than IGNORECASE
# Every condition phrase contains one of these words; the regex runs only on lines that have one.
_CONDITION_WORDS = frozenset(
    """
    new sealed bnib nib cpo certified refurb refurbished renewed used pre-owned preowned open open-box openbox mint
    demo ex-demo b-ware grade stock box nuevo nuevos nueva nuevas sellado sellados usado usados usada usadas
    seminuevo seminuevos reacondicionado reacondicionados grado neu neuware ovp gebraucht generalüberholt klasse
    novo novos lacrado lacrados seminovo seminovos recondicionado recondicionados vitrine neuf neufs neuve neuves
    occasion reconditionné reconditionnés nuovo nuova nuovi nuove usato usata usati usate ricondizionato
    ricondizionata ricondizionati ricondizionate rigenerato rigenerata rigenerati rigenerate nieuw gebruikt
    """.split()
)
_SKU = re.compile(  # every part number starts with a capital: "(?=[A-Z])" lets the engine skip to one
    r"(?=[A-Z])(?<![\w-])(?:SM-[A-Z]\d{3}[A-Z0-9]*(?:/[A-Z0-9]+)?|A\d{4}|[MF][A-Z0-9]{4}[A-Z]{1,2}/A|[A-Z]{2,3}-[A-Z0-9]*\d[A-Z0-9]*)"
    r"(?![\w-])"
)
# _CURRENCY_HINT in two parts, for _currency_hint: the words before the lazy gap, and the words after it.
_HINT_WORD = re.compile(r"\b(?:all\s+)?(?:prices?|preise?|precios?|preços?|prix|tarifs?|valores)\b", re.IGNORECASE)
_HINT_TAIL = re.compile(r"\b(?:in|en|em|na)\s+([^\s.,;:!)]+)", re.IGNORECASE)
_CURRENCY_HINT = re.compile(
    r"\b(?:all\s+)?(?:prices?|preise?|precios?|preços?|prix|tarifs?|valores)\b[^\d]*?\b(?:in|en|em|na)\s+([^\s.,;:!)]+)",
    re.IGNORECASE,
)
# "All prices EUR", "Prices: USD", "prices €": the price word, then the currency straight away.
_PRICES_NAMED = re.compile(
    r"\b(?:prices?|preise?|precios?|preços?|prix|tarifs?|valores)\s*:?\s+([A-Za-z]{3}|[^\w\s])(?!\w)",
    re.IGNORECASE,
)
# Words of wanted/buying posts and sold-out lines: such a line is never an offer.
_SKIP_WORDS = frozenset(
    """
    need needed needs looking wtb wanted buying budget target require requesting busco buscando necesito procuro
    preciso suche cherche recherche sold agotado agotados ausverkauft esgotado esgotados épuisé épuisés vendido
    vendida vendidos vendidas verkauft vendu vendus
    """.split()
)
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”„‘’…–—•·"
_BLANKET = re.compile(r"\b(?:all|todos|todas|alle|tous|toutes|everything|tutti)\b")
_WORD = re.compile(r"[^\W_]+")
_NAME_WORD = re.compile(r"(?<![\w])[^\W\d_]{3,}(?![\w])")
_SEPARATOR_CHARS = "|-–—:=>→,;/()[]"
_DESCRIPTION_EDGES = " \t|-–—:=>→,;/+()[].!"

# Words that make up chit-chat; a description made only of these is no product.
_CHAT_WORDS = frozenset(
    """
    i me my we us our you your u he she it they them the a an and or but if of to in on at for from with by is are
    am be been was were have has had do does did can could will would should shall may might must please pls plz
    thanks thank thx ty ok okay yes no yeah yep nope hi hello hey good morning afternoon evening night guys bro
    boss sir madam dear all any anyone some how much many what when where who which why this that these those
    there here send sent need want buy sell selling take get give got deal best final last offer discount total
    shipping delivery deposit fee fees paid pay payment cash transfer bank order orders today tomorrow yesterday
    just only more less also too still ready stock available let know dm pm call contact check cheers nice great
    sure done confirmed confirm each per unit can't don't i'm it's i'll we're that's so very really then than
    price prices cost costs rate rates new old same as asap fast quick tax vat incl included excl free
    grand subtotal insurance handling freight amount balance due charge charges surcharge
    hola buenos buenas días dias gracias por favor precio cuánto cuanto tienes tengo el la los las un una de del
    y o en con para que es son hay mañana manana hoy envío envio
    olá ola bom boa obrigado obrigada preço quanto tem tenho os um uma do da e em com é são hoje amanhã frete
    hallo guten morgen tag danke bitte preis wie viel hast du habe ich der die das ein eine und oder mit für ist
    sind heute versand gesamt
    bonjour salut merci prix combien tu as j'ai le les une des et ou avec pour est sont aujourd'hui demain livraison
    à l unité l'unité pièce c/u
    per pezzi pezzo cad cadauno prezzo prezzi ciao grazie buongiorno sì si ok hai ho il lo gli di da con su
    voor per stuk stuks prijs bedankt hoi ja nee je ik heb de het een en of met
    """.split()
)
# Shipping and payment remarks: "Collection from Leicester or £8 next-day", "Frete grátis acima de R$ 10.000".
_LOGISTICS_WORDS = frozenset(
    """
    ship shipping shipped delivery deliver delivered courier postage post collection collect pickup dpd dhl ups
    fedex tnt usps freight deposit fee fees tax vat customs frete envío envio envíos versand lieferung livraison
    expédition port
    """.split()
)
# Words of addresses and contacts: the number ending such a line is no tail price.
_CONTACT_WORDS = frozenset(
    """
    address addr plot shop street str road rd st ave avenue floor suite unit zip postcode pincode pin tel call
    whatsapp contact location near opposite office plaza mall block building sector lane
    """.split()
)
# Words that describe a variant rather than name a product: "256GB Black" still needs its heading.
_SPEC_WORDS = frozenset(
    """
    black white blue red green gold silver purple pink yellow orange titanium natural desert graphite midnight
    starlight gray grey space sierra alpine deep cream lavender mint violet bronze phantom ram rom storage dual sim
    esim single version unlocked locked international global usa spec battery
    """.split()
)


@dataclass(slots=True)
class _Number:
    start: int
    end: int  # of the number itself
    token_start: int  # with its currency or "/-" suffix
    token_end: int
    currency: str  # currency text next to it ("" if none)
    adjacent: bool  # the currency is written as part of the price ("$750", "750 USD")
    marked: bool  # currency, "@", "now", "/-" ...
    current: bool  # after "now", "only", "@" ...
    mark_start: int  # where the word before it ("now", "@", "down to") begins
    scaled: str = ""  # the multiplier it is written with ("k" in "450k", "lakh"), part of [start, end)


@dataclass(slots=True)
class _Line:
    """What one cleaned line says: its numbers sorted into prices, quantities and old prices."""

    text: str
    numbers: list[_Number] = field(default_factory=list)
    cut: list[tuple[int, int]] = field(default_factory=list)  # spans that are not description
    quantity: str = ""
    quantity_span: tuple[int, int] = (0, 0)  # of the quantity's digits
    condition: str = ""
    spaced_until: int = -1  # where the last number starting a pair "15 750" is, -1: none (see _numbers_in)


@dataclass(slots=True)
class _Offer:
    price: str
    currency: str  # a currency found apart from the price token
    priced_in: bool  # the price names its currency, next to it or apart
    quantity: str
    condition: str
    sku: str
    description: str
    price_range: str
    tail: bool = False  # a bare number ending a line without a separator: a price only in a price list
    named: str = ""  # the currency text the price names ("Rs", "₹", "TL"), "" when none
    scaled: bool = False  # the price is written with a multiplier ("1.65 lakh", "520k")
    amount: float | None = None  # of a tail price


@lru_cache(maxsize=4096)
def _is_currency(text: str) -> bool:
    """A currency symbol, code or name (``normalize.is_currency``), ambiguous ones (``kr``) included.

    ``AMD`` is the chip maker in a price list, never the Armenian dram.
    """
    return text != "AMD" and is_currency(text)


@lru_cache(maxsize=4096)
def _amount(text: str) -> float | None:
    try:
        return float(parse_price(text).amount)
    except NormalizationError:
        return None


def _numbers_in(text: str) -> list[tuple[int, int]]:
    """Spans of the numbers in ``text`` not glued to a letter (A2849, S23).

    Kept: ``x10`` (a quantity), and numbers glued to a currency that starts a word
    (``Rs1,05,000``, ``Rs.79,900``, ``USD750``, ``N250,000``: see ``_NAIRA``).
    Amounts grouped by spaces with their currency are one span (``_join_spaced_groups``).
    """
    return _number_spans(text)[0]


def _number_spans(text: str) -> tuple[list[tuple[int, int]], int]:
    """``_numbers_in(text)``, and where the last number that starts a pair like ``15 750`` is
    (-1 when there is none): only a text with such a pair joins amounts grouped by spaces."""
    spans = []
    spaced = -1
    matches = _number_matches(text) if len(text) > _LONG_LINE else map(re.Match.span, _NUMBER.finditer(text))
    for start, end in matches:
        while text[end - 1] in _NUMBER_TAIL:  # "750," or "1.299.": the separator after it is no part of it
            end -= 1
        if start:
            before = text[start - 1]
            if (before == "." or (before.isalpha() and before != "x")) and not _glued_currency(text, start):
                continue
            if spans and start - spans[-1][1] == 1 and end - start == 3 and before in " \u2009" and (
                end == len(text) or text[end] not in "GgTtMm/"  # "15 128GB": a spec
            ):
                spaced = spans[-1][0]
        spans.append((start, end))
    if spaced >= 0:
        spans = _join_spaced_groups(text, spans)
    return spans, spaced


def _number_matches(text: str) -> Iterator[tuple[int, int]]:
    """The spans ``_NUMBER.finditer(text)`` gives, in time linear in ``text``.

    The regex tries its optional groups of three digits and cents (``1 299,00``) from every number of a run
    such as ``1 234 234 234 ...``, each time to the run's end (20,000 numbers took 16 s). Only the
    whole run can be followed by the cents (a shorter one is followed by a space), so where the
    run ends is found once and reused by the numbers inside it.
    """
    position = 0
    run_start = run_end = -1  # the last run of groups found: groups start at run_start + 4k
    while (head := _NUMBER_HEAD.search(text, position)) is not None:
        end = head.end()
        if not (run_start <= end < run_end and (end - run_start) % 4 == 0):
            groups = _THREE_DIGIT_GROUPS.match(text, end)
            run_start, run_end = (end, groups.end()) if groups else (-1, -1)
        if run_end > end and _CENTS_AFTER_GROUPS.match(text, run_end):
            end = run_end + 3
        yield head.start(), end
        position = end


def _glued_currency(text: str, start: int) -> bool:
    """Whether the letters glued before the number at ``start`` are a currency starting a word."""
    word_start = start - 1 - (text[start - 1] == ".")  # "Rs.79,900"
    while word_start > 0 and text[word_start - 1].isalpha():
        word_start -= 1
    if word_start and text[word_start - 1].isalnum():
        return False
    letters = text[word_start:start].rstrip(".")
    if letters == "N":
        return _NAIRA.match(text, start) is not None
    return len(letters) > 1 and _is_currency(letters)


@lru_cache(maxsize=256)
def _groups_with_spaces(currency: str) -> bool:
    return groups_with_spaces(currency)


def _join_spaced_groups(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Numbers grouped by spaces and written with a currency as one: ``3 499 zł``, ``₽ 75 000``.

    A number of 1-3 digits followed by groups of exactly three digits, each after one space,
    is one amount when a currency stands right after the last group or right before the first,
    and that currency's home locales group thousands with spaces (``normalize.groups_with_spaces``:
    zł, Kč, ₽, Ft ...; not $: ``iPhone 15 750 $`` is a model and a price). A storage size
    after another number starts no amount (``iPhone 13 128 450 kr``: 450).
    """
    chains = []  # (start, end) of each amount, in order and disjoint
    for chain in _SPACED_GROUP.finditer(text):
        start, close = chain.span()
        after = _CURRENCY_AFTER.match(text, close)
        if after is not None and _is_currency(after.group(1)):
            currency = after.group(1)
        else:
            word_start, word = _word_before(text, start)
            before = _currency_before(text, word_start, word, start) if start else None
            if before is None:
                continue
            currency = text[before:start].strip()
        if not _groups_with_spaces(currency):
            continue
        groups = chain.group().split()
        first = 0
        while len(groups) - first > 2 and int(groups[first + 1]) in _STORAGE_SIZES:
            start += len(groups[first]) + 1  # "13 128 450 kr": 13 and 128 name the model
            first += 1
        if int(groups[first]) in _STORAGE_SIZES and start and _word_before(text, start)[1].isdigit():
            continue
        chains.append((start, close))
    if not chains:
        return spans
    joined = []  # the spans that start in no amount, then the amounts
    index = 0
    for span in spans:
        while index < len(chains) and chains[index][1] <= span[0]:
            index += 1
        if not (index < len(chains) and chains[index][0] <= span[0]):
            joined.append(span)
    return sorted(joined + chains)


def _blocked_spans(text: str, numbers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of URLs and phone numbers, whose digits are never prices.

    A phone number is a run of numbers joined by spaces, dashes or brackets with
    at least 10 digits, or 9 when it starts with ``+``, ``(`` or ``0``; a dash with a
    space on each side is a price separator, never inside a phone number, and an amount
    grouped by spaces with its currency (``1 299 000 ₽``) is never part of one.
    """
    spans = [match.span() for match in _URL.finditer(text)] if "://" in text or "www." in text else []
    if not _PHONE_LIKE.search(text):
        return spans  # no run of 9+ digits and gap characters: no phone number
    index = 0
    while index < len(numbers):
        last = index
        if numbers[index][1] - numbers[index][0] > 4 and text[numbers[index][1] - 4] in " \u2009":
            index += 1  # "1 299 000 ₽": an amount with its currency (_join_spaced_groups), no phone number
            continue
        while (
            last + 1 < len(numbers) and _PHONE_GAP.fullmatch(text, numbers[last][1], numbers[last + 1][0])
            and text[numbers[last][1]:numbers[last + 1][0]] not in (" - ", " – ")  # "iPhone 15 - 17.999.000"
            and not (numbers[last + 1][1] - numbers[last + 1][0] > 4 and text[numbers[last + 1][1] - 4] in " \u2009")
        ):
            last += 1
        start, end = numbers[index][0], numbers[last][1]
        if end - start >= 9 and (last > index or end - start >= 10):  # fewer characters, fewer digits
            lead = text[start - 1] if start else " "  # a space: no "+" or "(" before the text
            digits = sum(ch.isdigit() for ch in text[start:end])
            if digits >= 10 or (digits >= 9 and (lead in "+(" or text[start] == "0")):
                spans.append((start - (lead in "+("), end))
        index = last + 1
    return spans


def _word_before(text: str, position: int, spaces: _Spaces | None = None) -> tuple[int, str]:
    """The word that ends just before ``position`` (spaces skipped, an opening bracket dropped), and its start.

    ``spaces`` (a ``_Spaces`` of ``text``) finds the word's start without searching back through
    the same long word for every number in it, and gives ``""`` for a word too long to be a
    currency or a mark word (see ``_Spaces.short``): the same answers wherever they matter.
    """
    end = position
    while end and text[end - 1] == " ":
        end -= 1
    if spaces is None:
        start = text.rfind(" ", 0, end) + 1
        while start < end and text[start] in "([":
            start += 1
    else:
        start = spaces.word_start(end)
        if not spaces.short(start, end):
            return start, ""
    return start, text[start:end]


# A currency key (``normalize``: case-folded, without spaces, dots and bidi marks; CLDR's longest has 53
# characters, NFKC may shorten a key a little) or a mark word ("down", "@") is never longer than this.
_KEY_CHARS_MAX = 256
# Lines up to this long take the plain ways (the regex for numbers, a search back for word starts, a copy
# of the line per span blanked): quicker on short lines, and their cost, which grows with the square of
# a line's length, stays small up to here. Longer lines take the ways that grow linearly.
_LONG_LINE = 4096
_FEW_SPANS = 8
_NOT_IN_KEY = re.compile("[\\s.\u200e\u200f\u061c]+")  # what normalize._KEY_DROP drops, and any space
_MARK_ENDS = ":=."


class _Spaces:
    """The spaces of one line, for ``_word_before`` to find word starts in time linear in the line.

    Queries come mostly in increasing order of position (number after number): the answer of the
    last one is reused while no space lies between, so a long word without spaces is searched
    once, not once per number in it.
    """

    __slots__ = ("text", "searched", "found", "counted", "brackets")

    def __init__(self, text: str):
        self.text = text
        self.searched = 0  # text[:searched] has been searched ...
        self.found = -1  # ... and its last space is here (-1: none)
        self.counted: dict[int, tuple[int, int]] = {}  # word start -> (end counted to, key characters so far)
        self.brackets: dict[int, int] = {}  # position after a space -> the first character there not "(" or "["

    def word_start(self, end: int) -> int:
        """Where the word ending at ``end`` starts: after the last space before it and its opening brackets."""
        text = self.text
        start = self.last_before(end) + 1
        skipped = self.brackets.get(start)
        if skipped is None:
            skipped = start
            while skipped < end and text[skipped] in "([":
                skipped += 1
            if skipped < end:  # stopped at another character: the same for any later end
                self.brackets[start] = skipped
            return skipped
        return min(skipped, end)

    def last_before(self, end: int) -> int:
        """The position of the last space in ``text[:end]``, -1 when there is none."""
        if end < self.searched:
            if end > self.found:
                return self.found
            return self.text.rfind(" ", 0, end)
        found = self.text.rfind(" ", self.searched, end)
        if found >= 0:
            self.found = found
        self.searched = end
        return self.found

    def short(self, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` may be a currency or a mark word (``_currency_before``, ``_mark``).

        A word is kept when, without its final ``:=.``, it is at most ``_KEY_CHARS_MAX`` characters
        long, or when at most that many of its characters count in a currency key (dots, spaces and
        bidi marks do not: ``U.S.D.``). Longer words are neither, so ``""`` stands for them; the
        count is carried on from one number to the next in the same word.
        """
        if end - start <= _KEY_CHARS_MAX:
            return True
        text = self.text
        stripped = end
        while stripped > start and text[stripped - 1] in _MARK_ENDS:
            stripped -= 1
        if stripped - start <= _KEY_CHARS_MAX:
            return True
        counted_to, count = self.counted.get(start, (start, 0))
        if counted_to > end:
            counted_to, count = start, 0
        while counted_to < end and count <= _KEY_CHARS_MAX:
            chunk_end = min(end, counted_to + _KEY_CHARS_MAX)
            count += len(_NOT_IN_KEY.sub("", text[counted_to:chunk_end]))
            counted_to = chunk_end
        self.counted[start] = (counted_to, count)  # once above the limit, the count need not go on
        return count <= _KEY_CHARS_MAX


def _mark(text: str, lower: str, start: int, word: str) -> tuple[str | None, int]:
    """The kind of mark (``old``, ``current``, ``quantity`` or ``None``) that ``word`` (at ``start``) is, and where it starts."""
    word = word.rstrip(":=.")
    if not word:
        return None, start
    if word in ("@", "×") or (word == "x" and text[start] == "x"):  # "X 64" is an iPhone X, not a quantity
        return _MARK_WORDS[word], start
    if word in _MARK_SECOND_WORDS:
        first_start, first = _word_before(lower, start)
        if f"{first}_{word}" in _MARK_WORDS:
            return _MARK_WORDS[f"{first}_{word}"], first_start
    return _MARK_WORDS.get(word), start


def _currency_before(text: str, start: int, word: str, position: int) -> int | None:
    """Where a currency written just before ``position`` begins ("$", "R$ ", "USD ", "CA$", "(€"), or ``None``."""
    if word and _is_currency(text[start:start + len(word)].rstrip(".")):
        return start
    sign = _CURRENCY_SIGN.search(text, max(start, position - 4), position)
    while sign is not None:  # "price:$750": a sign glued to other text
        if _is_currency(text[sign.start():position].strip()):
            return sign.start()
        sign = _CURRENCY_SIGN.search(text, sign.start() + 1, position)
    return None


@lru_cache(maxsize=2)  # the same message for each of its lines; a string keeps its hash, so a hit costs nothing
def _prices_in_rupees(message: str) -> bool:
    """Whether ``message`` prices in rupees (``₹``, ``Rs``, ``INR``, ``lakh``): then ``15.5L`` is lakh."""
    return _RUPEE_CONTEXT.search(message) is not None


def _scan(text: str, lower: str, words: list[str], message: str = "") -> _Line:
    """Sort the numbers of a line into prices (candidates), quantities, specs and old prices.

    ``message``: the whole text the line is from; where it prices in rupees (``₹``, ``Rs``,
    ``INR``, ``lakh``), a glued ``L`` is lakh (``15.5L``), not litres.
    """
    line = _Line(text)
    numbers, line.spaced_until = _number_spans(text)
    blocked = _blocked_spans(text, numbers)
    line.cut.extend(blocked)
    size = len(text)
    spaces = _Spaces(lower) if size > _LONG_LINE else None
    if blocked:  # a sweep over the blocked spans by start, numbers coming in order
        blocked_by_start, next_blocked, reach = sorted(blocked), 0, -1
    for start, end in numbers:
        if blocked:
            while next_blocked < len(blocked_by_start) and blocked_by_start[next_blocked][0] <= start:
                reach = max(reach, blocked_by_start[next_blocked][1])
                next_blocked += 1
            if start < reach:  # inside a URL or a phone number
                continue
        if text[start] == "0" and end - start > 1 and text[start + 1].isdigit():
            continue  # 0142: part of a phone number or a code
        if start >= 2 and text[start - 1] in "/:" and text[start - 2].isdigit():
            continue  # the 256 of 8/256, the 00 of 21:00 (their first half is a spec: _AFTER)
        if start >= 2 and text[start - 1] == "-" and text[start - 2].isdigit():
            token_start = text.rfind(" ", 0, start) + 1
            if text[token_start].isalpha():
                continue  # the 118 of PI-2026-118: a document or part number, not a price
        after = kind = None
        if end < size and (text[end] != " " or (end + 1 < size and (text[end + 1].isalpha() or text[end + 1] in "\"”%″'"))):
            after = _AFTER.match(text, end)
            kind = after.lastgroup if after else None
        if kind == "spec" and text[end] in "Ll" and after.end() == end + 1 and _prices_in_rupees(message or text):
            kind = "mult"
        if kind == "spec" or (kind == "glued" and not _is_currency(after.group())):
            continue  # 256GB, 12/128, 5G, 15Pro
        word_start, word = _word_before(lower, start, spaces)
        cur_before = _currency_before(text, word_start, word, start) if start else None
        if cur_before is None and start and text[start - 1] == "N" and (start == 1 or not text[start - 2].isalnum()):
            cur_before = start - 1  # "N250,000": kept by _numbers_in only when shaped like naira
        scaled, money_word = "", False
        if kind == "mult":
            unit = after.group().strip().rstrip(".").lower()
            money_word = unit in _MONEY_MULTIPLIERS
            if not money_word and cur_before is None:
                digits = text[start:end]
                if unit in ("k", "к") and digits.isdigit() and int(digits) <= 16 and after.group() != "к":
                    continue  # 4K, 5K, 8K: a resolution
                if unit == "m" and digits.isdigit():
                    continue  # 1m, 2m: a length, unless a currency says otherwise ("₦2m")
            end, scaled = after.end(), unit
        token_start, token_end = start, (after.end() if kind in ("no_cents", "mult") else end)
        cur_after = None if kind == "quantity" or token_end >= size else _CURRENCY_AFTER.match(text, token_end)
        if cur_after and (not _is_currency(cur_after.group(1)) or _DIGIT_NEXT.match(text, cur_after.end())):
            cur_after = None  # "2 £389", "iPhone 15 Rp 17.999.000": the currency belongs to the next number
        if cur_before is not None:
            token_start = cur_before
            word_start, word = _word_before(lower, token_start, spaces)
        mark_kind, mark_start = _mark(text, lower, word_start, word)
        if cur_before is None and not cur_after and (kind == "quantity" or mark_kind == "quantity"):
            if kind == "quantity" and after.group() == "+" and _LETTER.match(text, max(0, start - 2)):
                continue  # "iPhone 15+": a model, not "200+" in stock
            plus = "+" if kind == "quantity" and "+" in after.group() else ""
            if not line.quantity:
                line.quantity, line.quantity_span = text[start:end] + plus, (start, end)
            line.cut.append((mark_start if mark_kind == "quantity" else start, after.end() if kind else end))
            continue
        if mark_kind == "old":
            line.cut.append((mark_start, cur_after.end() if cur_after else end))
            continue
        currency, adjacent = "", False
        if cur_before is not None and cur_after and cur_after.group(1).isalpha():
            # "$4,999 MXN": the code is the more precise of the two, "$" is also the peso sign.
            currency, token_end = cur_after.group(1), cur_after.end()
        elif cur_before is not None:
            currency, adjacent = text[cur_before:start].strip(), True
        elif cur_after:
            currency, adjacent, token_end = cur_after.group(1), "(" not in cur_after.group(), cur_after.end()
        current = mark_kind == "current"
        marked = current or bool(currency) or kind == "no_cents" or money_word
        line.numbers.append(
            _Number(start, end, token_start, token_end, currency, adjacent, marked, current, mark_start, scaled)
        )
    conditions = () if _CONDITION_WORDS.isdisjoint(words) else _CONDITION_LOWER.finditer(lower)
    for match in conditions:
        line.condition = line.condition or text[match.start():match.end()]
        line.cut.append(match.span())
    return line


def _without(text: str, spans: list[tuple[int, int]], start: int = 0) -> str:
    """``text[start:]`` with the spans (possibly overlapping, in any order) overwritten by spaces.

    A span reaching past the end of ``text`` (``text`` cut short by the caller) pads it with
    spaces, as overwriting one span after the other would. Built once from the merged spans:
    linear in the length of ``text`` and the number of spans.
    """
    if len(spans) <= _FEW_SPANS:  # few spans: overwriting one after the other is quicker
        for low, high in spans:
            if high > start:
                text = text[:low] + " " * (high - low) + text[high:]
        return text[start:]
    size = length = len(text)
    covered = []
    for low, high in spans:
        if high > start:
            if low <= length:
                covered.append((low, high))
                length = max(length, high)
            else:  # past the (padded) end: more padding
                length += high - low
    if not covered:
        return (text + " " * (length - size))[start:] if length > size else text[start:]
    pieces = []
    position = 0
    for low, high in _merged(covered):
        if low >= size:
            break
        pieces.append(text[position:low])
        pieces.append(" " * (min(high, size) - low))
        position = min(high, size)
    pieces.append(text[position:])
    pieces.append(" " * (length - size))
    return "".join(pieces)[start:]


def _merged(spans: list[tuple[int, int]]) -> list[list[int]]:
    """The union of ``spans`` as sorted, disjoint ``[start, end]`` pairs (touching spans joined)."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _choose_price(line: _Line) -> tuple[_Number, _Number | None, bool] | None:
    """The price among the numbers, the upper end when it is a range, and whether it is a tail price.

    A tail price is the last number of a product line with nothing but tags after it and no
    separator before it (``AirPods 4 ANC 12700``): an offer only where the text is a price list.
    """
    text, numbers = line.text, line.numbers
    for low, high in zip(numbers, numbers[1:]):
        if not _RANGE_GAP.fullmatch(text, low.token_end, high.token_start):
            continue
        if not (low.marked or high.marked or (high is numbers[-1] and _ends_line(line, high, low))):
            continue  # "iPhone 14 - 15 cases": no price marks, and not at the end of a product line
        low_amount, high_amount = _amount(text[low.start:low.end]), _amount(text[high.start:high.end])
        if not low.currency and low_amount in _STORAGE_SIZES:
            continue  # "Galaxy A55 256 - 329€": a storage size, then the price
        if low_amount and high_amount and low_amount < high_amount <= 2 * low_amount:
            if not low.currency and high.currency:
                low.currency, low.adjacent = high.currency, False
            low.marked = low.marked or high.marked
            return low, high, False
    marked = [number for number in numbers if number.marked]
    if marked:
        current = [number for number in marked if number.current]
        return (current or marked)[0], None, False
    if numbers and _ends_line(line, numbers[-1]):
        last = numbers[-1]
        separated = _SEPARATOR_BEFORE.search(_without(text[:last.token_start], line.cut))
        return last, None, not separated and last.scaled not in ("k", "к")  # "450k" ending a line is a price
    return None


def _tail_amount(line: _Line, number: _Number) -> float | None:
    """The amount of a tail price that could be a price, else ``None``.

    Not: below 50 (model numbers: ``Redmi Note 13``), a storage size (``13 128``), a year
    (``MacBook Air 2020``), a number not above every other number of the line, a number after
    fewer than two words (``Honor 200``, ``Nokia 3310``), or one on a line with an address or
    contact word (a postcode, a shop number). A multiplier (``450k``) passes the first three.
    """
    text = line.text
    amount = _amount(text[number.start:number.end])
    if amount is None:
        return None
    if not number.scaled and (amount < 50 or amount in _STORAGE_SIZES or 1990 <= amount <= 2035):
        return None
    for other in line.numbers:
        if other is not number:
            other_amount = _amount(text[other.start:other.end])
            if other_amount is not None and other_amount >= amount:
                return None
    before = _without(text[:number.token_start], line.cut)
    if sum(1 for word in before.split() if _WORD.search(word)) < 2:
        return None
    if not _CONTACT_WORDS.isdisjoint(_WORD.findall(text.lower())):
        return None  # "Address Plot 155 Ikeja 100271": a postcode
    return amount


def _ends_line(line: _Line, last: _Number, first: _Number | None = None) -> bool:
    """True when product text stands before ``first`` (default ``last``) and after ``last`` only words
    like "each", "firm", variant tags ("2Sim", "eSIM", "HK") and flags."""
    before = line.text[:(first or last).token_start]
    if not _LETTER.search(before):
        return False
    rest = _without(line.text, line.cut, last.token_end)
    return _TRAILER.fullmatch(rest) is not None or _TAIL.fullmatch(rest) is not None


def _split_points(line: _Line) -> list[int]:
    """Where a line with several priced products splits (``S23 $629 / S23+ $719``), in order.

    Two marked prices split when a separator (``/ | ; , -``) stands between
    them and text follows it; ``$750 (€690)`` or ``$700 - $750`` do not split.
    """
    marked = [number for number in line.numbers if number.marked and not number.current]
    points = []
    for first, second in zip(marked, marked[1:]):
        gap = _SEGMENT_GAP.match(line.text, first.token_end, second.token_start)
        if gap and gap.group(1).strip():
            points.append(gap.start(1))
    return points


def _segments(text: str, lower: str, message: str, line: _Line) -> list[int]:
    """The split points of a line (``_split_points``) as reading it part after part finds them.

    The rule is applied to the line, then again to the rest after each split point. The rest
    is read as the line reads there (a separator stands at the split point, and nothing in
    ``_scan`` looks back across one) except for amounts grouped by spaces: the line joins them
    only when it has a number of three digits after a space anywhere (``_numbers_in``), so the
    rest after the last such number is read again once. Each rest is never read whole again:
    a line of thousands of products takes linear time.
    """
    points = _split_points(line)
    if not points or line.spaced_until < 0 or points[-1] <= line.spaced_until:
        return points
    kept = [point for point in points if point <= line.spaced_until]
    start = next(point for point in points if point > line.spaced_until)
    rest = _scan(text[start:], lower[start:], [], message)
    return kept + [start] + [start + point for point in _segments(text[start:], lower[start:], message, rest)]


def _read_line(text: str, lower: str, words: list[str], message: str = "", shown: str = "") -> list[_Offer]:
    """The offers of one cleaned line: none, one, or one per priced product in it.

    ``text`` has ASCII digits; ``shown`` (default ``text``) is the same line as written, with
    the same length (``offers.text.ascii_digits``): prices and descriptions are cut from it.

    An offer with ``tail=True`` is a tail price (see ``_choose_price``), for the caller to keep
    only where the whole text is a price list.
    """
    line = _scan(text, lower, words, message)
    if not line.numbers:
        return []
    if len(line.numbers) > 1:
        points = _segments(text, lower, message, line)
        if points:
            offers = []
            for start, end in zip([0, *points], [*points, len(text)]):
                part = lower[start:end]  # same length as text: see _lower
                offers += _read_line(text[start:end], part, _words(part), message, shown[start:end])
            return offers
    choice = _choose_price(line)
    if choice is None:
        return []
    number, upper, tail_price = choice
    amount = None
    if tail_price:
        amount = _tail_amount(line, number)
        if amount is None:
            return []
    cut = line.cut
    end = (upper or number).token_end
    rest = _without(text, cut, end)
    if _TRAILER.fullmatch(rest):
        end = len(text)  # "each", "firm", "c/u" after the price: not description
    elif rest:  # variant tags and flags stay in the description, "each", "firm" do not
        cut.extend((end + match.start(), end + match.end()) for match in _TAIL_WORD.finditer(rest))
    cut.append((number.token_start, end))
    if number.current:
        cut.append((number.mark_start, number.token_start))
    cut.extend((other.token_start, other.token_end) for other in line.numbers if other.marked)  # another currency
    quantity = line.quantity
    if shown and shown is not text:
        if quantity:
            low, high = line.quantity_span
            quantity = shown[low:high] + quantity[high - low:]
        text = shown  # the tokens as written ("۷۲۰ دلار")
    sku = _SKU.search(text)
    return [_Offer(
        price=text[number.token_start:number.token_end] if number.adjacent else text[number.start:number.end],
        currency="" if number.adjacent else number.currency,
        priced_in=bool(number.currency),
        quantity=quantity,
        condition=line.condition,
        sku=sku.group() if sku else "",
        description=_tidy(_cut(text, cut)),
        price_range=text[number.token_start:upper.token_end] if upper else "",
        tail=tail_price,
        amount=amount,
        named=number.currency,
        scaled=bool(number.scaled),
    )]


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the (possibly overlapping) spans replaced by a separator, built in one pass."""
    if len(spans) <= _FEW_SPANS:  # few spans: one copy each is quicker
        for start, end in reversed(_merged(spans)):
            text = f"{text[:start]} | {text[end:]}"
        return text
    pieces = []
    position = 0
    for start, end in _merged(spans):
        pieces.append(text[position:start])
        position = max(position, end)
    pieces.append(text[position:])
    return " | ".join(pieces)


def _tidy(description: str) -> str:
    """Drop separator-only words ("|", "-", "( )") and the separators at both ends."""
    words = [word for word in description.split() if word.strip(_SEPARATOR_CHARS)]
    return " ".join(words).strip(_DESCRIPTION_EDGES)


def _section_condition(text: str, lower: str, words: list[str]) -> str:
    """The condition a header line sets (``NEW SEALED``), or ``""`` when it is no header."""
    if _CONDITION_WORDS.isdisjoint(words):
        return ""
    match = _CONDITION_LOWER.search(lower)
    if match is None:
        return ""
    rest = lower[:match.start()] + " " + lower[match.end():]
    if _DIGIT.search(rest) or len(_WORD.findall(rest)) > 2:  # "NEW SEALED", "USED iPhones"
        return ""
    return text[match.start():match.end()]


def _lower(text: str) -> str:
    """``text.lower()`` with the same length, so that positions in one are positions in the other."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)  # "İ" lowers to two characters


def _words(lower: str) -> list[str]:
    """The words of a lower-cased line without the punctuation around them (may include "")."""
    return [word.strip(_PUNCTUATION) for word in lower.split()]


def _not_a_product(lower: str, words: list[str]) -> bool:
    """Chit-chat only, or a shipping/payment remark without any model number."""
    if all(not word or word in _CHAT_WORDS or word.isdigit() for word in words):
        return True
    return not _DIGIT.search(lower) and not _LOGISTICS_WORDS.isdisjoint(words)


def _needs_heading(description: str) -> bool:
    return not any(word.lower() not in _SPEC_WORDS for word in _NAME_WORD.findall(description))


def extract_offers(
    text: str,
    *,
    first_line: int = 1,
    ref_prefix: str = "line",
    condition: str = "",
    rejected: list[tuple[str, str, str]] | None = None,
) -> Iterator[OfferCandidate]:
    """Yield one candidate per product line of ``text`` (see the module docstring).

    ``first_line`` is the number of the first line of ``text`` in its source;
    each candidate's ``ref`` is ``f"{ref_prefix} {line number}"``. Candidates
    come out when the whole text has been read (a closing "All brand new"
    line still applies to them, and whether bare numbers ending lines are
    prices is decided for the whole text).

    ``rejected``: when a list is given, each line that has a digit but gives no
    offer is appended to it as ``(ref, line as cleaned, reason)``, the reason in
    plain words for an operator (``"a question"``, ``"no price: its numbers are
    specs, model numbers or quantities"`` ...). ``None`` (the default) costs nothing.
    """
    if not _DIGIT.search(text):
        return  # every price has a digit: chit-chat ends here
    # Pass 1: each line on its own. A row is (offset, line with ASCII digits, line as written, lower, words,
    # has_digit, offers, has a tail price);
    # offers is None for a blank line and False for a question or a wanted post.
    rows: list[tuple] = []
    tails: list[float] = []
    for offset, raw in enumerate(text.split("\n")):
        line = shown = _clean(raw)
        if not line:
            rows.append((offset, "", "", "", [], False, None, False))
            continue
        if not line.isascii() and _OTHER_DIGIT.search(line):
            line = ascii_digits(line)  # "۷۲۰", "１２８": same length, so positions in one are positions in the other
        lower = _lower(line)
        words = _words(lower)
        has_digit = _DIGIT.search(line) is not None
        if line.endswith("?") or line.startswith("¿") or (has_digit and _is_skipped(lower, words)):
            rows.append((offset, line, shown, lower, words, has_digit, False, False))
            continue
        found = _read_line(line, lower, words, text, shown) if has_digit else []
        tail = False
        for item in found:
            if item.tail:
                tail = True
                if not _not_a_product(lowered := item.description.lower(), _words(lowered)):
                    tails.append(item.amount)
        rows.append((offset, line, shown, lower, words, has_digit, found, tail))
    keep_tails = bool(tails) and _is_price_list(rows, tails)

    # Pass 2: headings, sections and the text's currency, line after line.
    section = condition
    currency_hint = blanket = ""
    heading = title = ""  # last / first line without a price since the previous offer
    offers: list[OfferCandidate] = []
    named: list[str] = []  # the currency text each offer names, "" when none
    shorthand = False  # an offer priced with a multiplier and no currency
    for offset, line, shown, lower, words, has_digit, found, tail in rows:
        if not line:
            heading = title = ""
            continue
        if has_digit and not found and _CLOCK_OR_DATE.fullmatch(line):
            heading = title = ""  # a chat screenshot's time under each message: the next starts below it
            if rejected is not None:
                rejected.append((f"{ref_prefix} {first_line + offset}", shown, "a time or a date"))
            continue
        if found is False:  # a question or a wanted post
            if has_digit and rejected is not None:
                question = line.endswith("?") or line.startswith("¿")
                rejected.append((f"{ref_prefix} {first_line + offset}", shown,
                                 "a question" if question else "a wanted, buying or sold-out post"))
            continue
        if not has_digit:
            header = _section_condition(line, lower, words)
            if header:
                section, heading, title = header, "", ""
                continue
        dropped = False
        if tail and not keep_tails:
            found, dropped = [item for item in found if not item.tail], True
        if not found:
            if len(line) > _LONG_LINE:
                hint = _currency_hint(line)
            else:
                hint = _CURRENCY_HINT.search(line)
                hint = hint and hint.group(1)
            if not (hint and _is_currency(hint)):
                title_hint = _PRICES_NAMED.search(line)
                hint = title_hint and title_hint.group(1)
            if hint and _is_currency(hint):
                currency_hint = hint
            elif _BLANKET.search(lower) and _CONDITION_LOWER.search(lower):
                blanket = blanket or _CONDITION_LOWER.search(lower).group()
            elif _not_a_product(lower, words):
                if has_digit and rejected is not None:
                    rejected.append((f"{ref_prefix} {first_line + offset}", shown,
                                     "chit-chat or a counter-offer, not a product"))
            elif has_digit and _only_quantity(line, lower, words):
                if rejected is not None:
                    rejected.append((f"{ref_prefix} {first_line + offset}", shown, "only a quantity"))
            else:
                heading = shown
                title = title or shown
                if has_digit and rejected is not None:
                    rejected.append((f"{ref_prefix} {first_line + offset}", shown, (
                        "a bare number ends the line: a price only in a list of such lines" if dropped
                        else "no price: its numbers are specs, model numbers or quantities")))
            continue
        for item in found:
            description = item.description
            if not description:
                description = title
            elif _not_a_product(lowered := description.lower(), _words(lowered)):
                if rejected is not None:
                    rejected.append((f"{ref_prefix} {first_line + offset}", shown,
                                     "chit-chat or a counter-offer, not a product"))
                continue
            elif heading and _needs_heading(description):
                description = f"{heading} {description}"
            if not description:
                if rejected is not None:
                    rejected.append((f"{ref_prefix} {first_line + offset}", shown, "a price without any product text"))
                continue
            title = ""
            currency = item.currency or ("" if item.priced_in else currency_hint)
            offers.append(OfferCandidate(
                ref=f"{ref_prefix} {first_line + offset}",
                sku=item.sku,
                description=description,
                price=item.price,
                currency=currency,
                quantity=item.quantity,
                condition=item.condition or section,
                extra={"price_range": item.price_range} if item.price_range else {},
            ))
            named.append(item.named or currency)
            shorthand = shorthand or (item.scaled and not named[-1])
    # A price in a vendor's shorthand ("1.65 lakh", "520k") is in the one currency the text names.
    if shorthand:
        codes = {_currency_code(text) for text in named if text} - {None}
        if len(codes) == 1:
            code = codes.pop()
            for offer, text in zip(offers, named):
                if not text and _SHORTHAND.search(offer.price):
                    offer.currency = code
    for offer in offers:
        if blanket and not offer.condition:
            offer.condition = blanket
        yield offer


def _currency_hint(line: str) -> str | None:
    """The currency a line such as ``Prices in EUR`` names (``_CURRENCY_HINT``'s group), or ``None``.

    The same match as ``_CURRENCY_HINT.search(line)``, found in time linear in the line: the
    regex alone tries its lazy gap from every price word to the next digit, again and again on
    a line of many price words (a 70 KB line of them took 19 s).
    """
    position, tail = 0, None
    while (word := _HINT_WORD.search(line, position)) is not None:
        end = word.end()
        digit = _DIGIT.search(line, end)
        limit = digit.start() if digit else len(line)
        if tail is None or tail.start() < end:  # the first "in X" from here (an earlier one still is, if not passed)
            tail = _HINT_TAIL.search(line, end)
            if tail is None:
                return None
        if tail.start() < limit:  # no digit in the gap
            return tail.group(1)
        position = limit  # every price word before the digit has the same gap, up to it: none matches
    return None


@lru_cache(maxsize=1024)
def _currency_code(text: str) -> str | None:
    return parse_currency(text)


def _is_price_list(rows: list[tuple], tails: list[float]) -> bool:
    """Whether the tail prices of a text (amounts) belong to a price list, so are offers.

    A price list: at least two priced lines (tail prices, or clear ones: marked or after
    a separator), and every tail price within a factor of 10 of the median of all prices
    of the text, so that a model number or a size among list prices is not taken for one.
    """
    clear = [
        item.amount if item.amount is not None else _amount(item.price)
        for row in rows if row[6] for item in row[6] if not item.tail
    ]
    clear = [amount for amount in clear if amount]
    if len(clear) + len(tails) < 2:
        return False
    amounts = sorted(clear + tails)
    median = amounts[len(amounts) // 2]
    return all(median / 10 <= amount <= median * 10 for amount in tails)


def _is_skipped(lower: str, words: list[str]) -> bool:
    """Wanted/buying posts and sold-out lines (see ``_SKIP_WORDS``)."""
    return not _SKIP_WORDS.isdisjoint(words) or "out of stock" in lower or "want to buy" in lower


def _only_quantity(text: str, lower: str, words: list[str]) -> bool:
    """True for lines such as ``Qty: 20`` or ``40 pcs``: nothing but a quantity."""
    line = _scan(text, lower, words)
    return bool(line.quantity) and not _LETTER.search(_without(text, line.cut))
