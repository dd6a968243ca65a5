"""An offer's SKU and description read into product attributes (pure Python, no Django).

``parse_offer(sku, description)`` -> ``OfferAttributes``: brand, model, storage,
RAM and connectivity (what makes a product), then colour, region, SIM, lock and
identifiers (what an offer says beside its product). The product is
``brand + model + storage (+ connectivity, + RAM)``; ``product_key()`` is that
key as text and ``product_name()`` the name built from it.

How a line is read, in order (each step removes what it recognised, so that
prices, colours and chat words never reach the model):

1. digits of other scripts folded to ASCII (``offers.text.ascii_digits``);
   prices and quantities removed (``1020$``, ``@ 720``, ``82,500 Rs``, ``54k``,
   ``x3``, ``3pcs``); the result is the cache key, so a product's line with
   today's price is read once;
2. identifiers (``offers.identifiers``) in the description and the SKU: EAN,
   Apple part numbers, Samsung SM- codes, Pixel hardware codes, A numbers; a
   model code names the model;
3. Persian and Arabic product words to English ("آیفون ۱۵ ۱۲۸ گیگ" ->
   "iphone 15 128gb"), accents stripped, case folded; condition grades
   removed; RAM and storage (``8/256``, ``12+512``, ``12GB 256GB``, ``1TB``),
   connectivity, SIM, lock, region (words, ``LL/A``, flag emojis) and colour read;
4. the rest cut into tokens, abbreviations expanded (``IP15PM`` -> iphone 15 pro
   max, ``S24U`` -> s24 ultra, ``8pro`` -> 8 pro, ``2nd gen`` -> 2, ``PS5`` ->
   playstation 5); the model is the run of model words from the first family
   word (iphone, galaxy, pixel...) or brand name, or, without one, from an
   unambiguous iPhone or Galaxy pattern (``15 Pro Max``, ``S24 Ultra``, ``Fold6``,
   ``Tab S9``), up to the first word that is not a model word;
5. the SKU's words are read only when the description names no model (vendor
   SKUs are mostly internal codes).

Products whose maker sells one storage per model (consoles, AirPods, Galaxy
Buds) get no storage; Apple, Sony and Nintendo products no RAM; tablets with no
connectivity word are Wi-Fi (vendors write Cellular, LTE or 5G when it is).

Facts (brands and family words, model codes, colours, Apple region letters)
are PriceHub's own tables in ``offers/data``, each citing its public source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache

from offers.identifiers import find_identifiers, load
from offers.text import ascii_digits, strip_accents

WIFI, CELLULAR = "Wi-Fi", "Wi-Fi + Cellular"

@dataclass(frozen=True, slots=True)
class OfferAttributes:
    """What one offer line says. Strings are "" when the line does not say.

    ``brand``: canonical maker ("Apple"); ``model``: canonical model without brand
    or storage ("iPhone 15 Pro Max"); ``storage``/``ram``: "256GB", "1TB";
    ``connectivity``: "Wi-Fi", "Wi-Fi + Cellular" (tablets) or "5G" (a line sold
    as 4G and 5G models); ``color``; ``region`` ("US", "HK", "EU", "Global"...);
    ``sim`` ("eSIM", "Dual SIM"); ``lock`` ("Unlocked", "Locked");
    ``identifiers``: ``(kind, value)`` pairs (see ``offers.identifiers``);
    ``tokens``: the model's lower-case words, for similarity; ``unread``: the word right after
    the model when nothing read it ("fusion" in "Motorola Edge 50 Fusion 256GB": an unknown
    variant, or a typo such as "Ultr"), "" otherwise. It is kept as the model's last word
    ("Edge 50 Fusion" is not "Edge 50"), and a product made for such a line is a guess that
    matching sends to review (``offers.similarity.link_offer``).
    """

    brand: str = ""
    model: str = ""
    storage: str = ""
    ram: str = ""
    connectivity: str = ""
    color: str = ""
    region: str = ""
    sim: str = ""
    lock: str = ""
    identifiers: tuple[tuple[str, str], ...] = ()
    tokens: tuple[str, ...] = ()
    unread: str = ""

    def __reduce__(self):
        # Pickled as its field values (the ingest's reader sends one per row): several times faster
        # to load than a slotted dataclass's state, set field by field.
        return OfferAttributes, (self.brand, self.model, self.storage, self.ram, self.connectivity, self.color,
                                 self.region, self.sim, self.lock, self.identifiers, self.tokens, self.unread)

    def product_key(self) -> str:
        """``"brand|model|storage|connectivity|ram"`` lower-cased, e.g. ``"apple|iphone 15 pro max|256gb||"``;
        "" when the brand or the model is unknown (the line cannot name a product by itself)."""
        if not self.brand or not self.model:
            return ""
        return f"{self.brand}|{self.model}|{self.storage}|{self.connectivity}|{self.ram}".lower()

    def product_name(self) -> str:
        """The product's display name: ``"Apple iPhone 15 Pro Max 256GB"``, ``"Xiaomi Redmi Note 13 8GB/256GB"``,
        ``"Apple iPad Air 11 M2 128GB Wi-Fi + Cellular"``; "" when brand or model is unknown."""
        if not self.brand or not self.model:
            return ""
        memory = f"{self.ram}/{self.storage}" if self.ram and self.storage else self.storage or self.ram
        return " ".join(part for part in (self.brand, self.model, memory, self.connectivity) if part)


# --- tables ------------------------------------------------------------------------------------


@cache
def _brand_tables() -> tuple[dict[str, str], dict[str, str]]:
    """(brand alias -> brand, family word -> brand)."""
    aliases, families = {}, {}
    for brand, entry in load("brands")["brands"].items():
        for word in entry["aliases"]:
            aliases[word] = brand
        for word in entry["families"]:
            families[word] = brand
    return aliases, families


@cache
def _colour_table() -> tuple[dict[str, str], dict[str, int]]:
    """(colour name in lower-case words -> canonical colour, first word of a name -> the most
    words (up to 3) of a name it begins)."""
    colours = {" ".join(_TOKEN.findall(name)): value for name, value in load("colours")["colours"].items()}
    longest: dict[str, int] = {}
    for name in colours:
        first, size = name.split()[0], min(3, len(name.split()))
        longest[first] = max(size, longest.get(first, 0))
    return colours, longest


def _words(text: str) -> list[str]:
    """``_TOKEN.findall(text)``: the words of the cleaned (lower-case) text. ASCII text without "."
    and "+" whose other characters are spaces and ``-/,()`` is split by ``str.split`` instead
    (the same words, faster than the pattern)."""
    if text.isascii() and "." not in text and "+" not in text:
        plain = text
        for separator in "-/,()":
            if separator in plain:
                plain = plain.replace(separator, " ")
        if plain.replace(" ", "").isalnum():  # only lower-case letters, digits and spaces are left
            return plain.split()
    return _TOKEN.findall(text)


def _read_words(words: list[str]) -> tuple[str, str, list[str], str, int]:
    """One pass over the cleaned text's words: ``(colour, region, tokens, brand, start)``.

    Colour names are taken out (the first one named is the colour; longest names first,
    "titanium gray" before "titanium"); of the words left, the first region word gives the
    region, and each is expanded into model tokens (``_expand``; a number is itself). The
    brand is that of the first family word (iphone, galaxy...) or else of the first brand
    name, and ``start`` the index in ``tokens`` of that word (-1 when there is none).
    What each word is comes from ``_word`` (cached: lines repeat their words).
    """
    colours = _colour_table()[0]
    colour = region = brand = ""
    tokens: list[str] = []
    start = -1
    searching = True  # no family word yet
    done, count = 0, len(words)  # words[:done] are placed (kept or taken as a colour)
    for i, word in enumerate(words):
        if i < done:
            continue  # inside a colour name already taken
        if word.isdigit():  # a number is itself (no colour, region or brand is written in digits)
            tokens.append(word)
            continue
        longest, word_region, expanded, alias_at, alias_brand, family_at, family_brand = _word(word)
        if longest:
            for size in range(min(longest, count - i), 0, -1):
                name = " ".join(words[i: i + size]) if size > 1 else word
                if name in colours:
                    colour = colour or colours[name]
                    done = i + size
                    break
            if done > i:
                continue
        if not region:
            region = word_region
        if searching:
            if alias_at >= 0 and not brand:
                brand, start = alias_brand, len(tokens) + alias_at
            if family_at >= 0:
                brand, start, searching = family_brand, len(tokens) + family_at, False
        tokens += expanded
    return colour, region, tokens, brand, start


@lru_cache(maxsize=8192)  # like _expand's: the words vendors write are far fewer than their lines
def _word(word: str) -> tuple[int, str, tuple[str, ...], int, str, int, str]:
    """What one word (not a number) is, for ``_read_words``: ``(longest, region, tokens, alias_at,
    alias_brand, family_at, family_brand)``: the most words of a colour name it begins (0 when
    none), the region it names (""), its model tokens (``_expand``), and the index in those
    tokens of the first family word and its brand (-1, "" when none), and of the first brand
    name before it and its brand."""
    aliases, families = _brand_tables()
    expanded = _expand(word)
    alias_at, alias_brand, family_at, family_brand = -1, "", -1, ""
    for offset, token in enumerate(expanded):
        if token in families:
            family_at, family_brand = offset, families[token]
            break
        if token in aliases and alias_at < 0:
            alias_at, alias_brand = offset, aliases[token]
    longest = _colour_table()[1].get(word, 0)
    return longest, _REGION_WORDS.get(word, ""), expanded, alias_at, alias_brand, family_at, family_brand


@cache
def _five_g_models() -> frozenset[str]:
    return frozenset(load("model_codes")["five_g_models"]["models"])


# Persian and Arabic words vendors write for products and units (case 07: "آیفون ۱۵ ۱۲۸ گیگ").
_FOREIGN = {
    "آیفون": " iphone ", "ایفون": " iphone ", "ايفون": " iphone ", "آيفون": " iphone ",
    "سامسونگ": " samsung ", "سامسونج": " samsung ", "گلکسی": " galaxy ", "جالكسي": " galaxy ",
    "شیائومی": " xiaomi ", "شاومي": " xiaomi ", "ردمی": " redmi ", "نوت": " note ", "اپل": " apple ",
    "ایرپاد": " airpods ", "آیپد": " ipad ", "ایپد": " ipad ", "پیکسل": " pixel ",
    "گیگابایت": "gb ", "گیگ": "gb ", "جيجا": "gb ", "ترابایت": "tb ", "ترا": "tb ", "تيرا": "tb ",
    "پرومکس": " pro max ", "پرو": " pro ", "برو": " pro ", "مکس": " max ", "ماكس": " max ",
    "پلاس": " plus ", "بلس": " plus ", "اولترا": " ultra ", "الترا": " ultra ", "مینی": " mini ", "رم": " ram ",
}
_FOREIGN_RE = re.compile("|".join(sorted(map(re.escape, _FOREIGN), key=len, reverse=True)))

# The text these patterns read has ASCII digits only (``ascii_digits`` folds every Unicode
# decimal digit, and no accent stripping or case folding makes another), so [0-9] is \d there
# and cheaper to try at every position. A pattern that begins with one character (``[0-9][0-9]{0,3}``,
# not ``[0-9]{1,4}``) lets the engine skip to the places where that character is, instead of
# trying every position; ``*+``, ``?+``, ``{0,3}+`` (possessive) where giving characters back could
# not make a match (fewer digits of a number are followed by a digit, which no unit or "/" is).
_STORAGE_SIZES = {"16", "32", "64", "128", "256", "512"}
_GRADE = re.compile(r"\bgrade\s*[a-d][+-]?(?![a-z0-9])|\b[a-d]\+?\s*grade\b|\b[a-d][+-]?\s*stock\b")
_RAM_PAIR = re.compile(r"([0-9][0-9]?+)\s*(?:gb)?\s*[/+]\s*([0-9]{2,4}|[12])\s*(gb|tb|t|g)?(?![a-z0-9])")
_SIZE = re.compile(r"([0-9][0-9]{0,3}+)\s*(gb|tb|gig|g|t)(?![a-z0-9])")  # the character before is checked in code
_RAM_WORD = re.compile(r"(?<![\d.])(\d{1,2})\s*(?:gb|g)?\s*ram\b|\bram\s*:?\s*(\d{1,2})\s*(?:gb|g)?(?![a-z0-9])")
_CELL = re.compile(r"\bcellular\b|\blte\b|\b[45]g\b|\bcell\b")
_FIVE_G = re.compile(r"\b5g\b")
_ESIM = re.compile(r"\be-?sim\b")
_DUAL = re.compile(r"\bdual\s*-?sim\b|\bdual\b|(?<![a-z])ds\b|\b2\s?sim\b")
_UNLOCKED = re.compile(r"\bunlocked\b|\bfactory unlock\b|\bopen line\b")
_LOCKED = re.compile(r"\b(?:carrier\s*)?locked\b")
_APPLE_REGION = re.compile(r"\b([a-z]{1,2})/a\b")
_REGION_WORDS = {
    "us": "US", "usa": "US", "hk": "HK", "eu": "EU", "euro": "EU", "europe": "EU", "jp": "JP", "japan": "JP",
    "uk": "UK", "cn": "CN", "china": "CN", "global": "Global", "intl": "Global", "international": "Global",
    "uae": "AE", "dubai": "AE", "india": "IN", "kr": "KR", "korea": "KR",
}
_USB_C = re.compile(r"\b(?:usb|type)\s*-?\s*c\b|\blightning\b|\bmagsafe\b")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9]*+(?:\.\d+)?\+?")

# Token expansions: vendor abbreviations to model words.
_ABBREVIATIONS = {
    "ip": ("iphone",), "iph": ("iphone",), "pm": ("pro", "max"), "promax": ("pro", "max"),
    "ps5": ("playstation", "5"), "ps4": ("playstation", "4"), "ps": ("playstation",),
    "airpod": ("airpods",), "2nd": ("2",), "3rd": ("3",), "1st": ("1",),
    "zfold": ("z", "fold"), "zflip": ("z", "flip"), "plus": ("plus",), "+": ("plus",),
    "dig": ("digital",), "de": ("digital",), "mini": ("mini",), "anc": ("anc",),
}
_ORDINAL = re.compile(r"(\d{1,2})(?:st|nd|rd|th)")
_FAMILY_DIGITS = re.compile(
    r"(zfold|zflip|iphone|ipad|ip|pixel|galaxy|playstation|ps|switch|redmi|note|poco|airpods|buds|fold|flip|tab|series|xiaomi|mi|oneplus|nord)"
    r"(\d.*|[a-z]\d.*|(?:pro|air|mini|max|plus|ultra|note|tab|fold|flip|buds)(?:\d.*)?)"
)
_VARIANT_DIGITS = re.compile(r"(pro|air|mini|max|plus|ultra|note|tab|series)(\d{1,2}[a-z]?)")
_SUFFIX = re.compile(r"([a-z]?\d{1,2}[a-z]?)(promax|proxl|pm|pro|max|plus|mini|ultra|fe|lite|slim|oled|u|p)")
_SUFFIX_WORDS = {
    "promax": ("pro", "max"), "proxl": ("pro", "xl"), "pm": ("pro", "max"), "u": ("ultra",), "p": ("pro",),
}
_GALAXY_INFERRED = re.compile(r"s2\d|fold\d?|flip\d?")  # Galaxy S2x, Z Fold, Z Flip: no other maker's names
_GALAXY_TAB = re.compile(r"s\d{1,2}|a\d{1,2}")  # Tab S9, Tab A9: Samsung's tablet names
_ANC = re.compile(r"\bactive noise cancel+(?:ation|ing)\b|\bnoise cancel+(?:ation|ing)\b")
_WORDS = re.compile(r"[a-z0-9][a-z0-9]*+")
_AFTER_NOT_RAM = frozenset("iphone ipad pixel galaxy oneplus xiaomi note redmi poco tab series".split())
_LAST_WORDS = frozenset("max plus mini ultra fe lite slim digital disc oled xl".split())
_ONE_STORAGE = frozenset({"playstation", "switch", "airpods"})
_FILLER = frozenset(
    "console edition inch in smartphone phone tablet model version gen generation the with and chip case "
    "charging usb c type gps nfc 5g 4g lte wifi cellular ram rom mm active noise cancellation cancelling "
    "earbuds headphones wireless apple samsung google sony nintendo xiaomi mi oneplus motorola huawei z "
    "dual sim esim standard wi fi wlan spec version ver".split() + list(_REGION_WORDS)
)
# Words of price lists and chats that follow a model without naming a variant ("iPhone 15 Pro
# 256 available", "S24 Ultra 512 sealed box"): not reported as unread.
_LISTING_WORDS = frozenset(
    "available avail stock instock ready new used sealed box boxed open brand original orig genuine only each "
    "pcs pc piece pieces unit units lot qty price prices best hot deal deals sale offer offers special call dm "
    "whatsapp update updated late today tomorrow limited fresh arrival arrived arriving week weekly list "
    "wholesale retail warranty year years month months day days cpo refurbished refurb grade like mint good "
    "excellent fair damaged minimal scratch scratches battery health activated unactivated non active "
    "inactive locked unlocked factory carrier physical nano color colour colors colours assorted mixed mix "
    "all any other various free shipping ship shipped delivery eta moq min max usd eur gbp aed inr sar "
    "dollar dollars euro euros rs plug joy con konsole adapter charger cable left remaining set sets asap "
    "urgent wanted need needed sell selling buy buying bulk stocks clearance promo".split()
) - frozenset("max".split())
_MODEL_WORDS = frozenset(
    "iphone ipad airpods watch galaxy pixel playstation switch redmi poco note tab buds fold flip z "
    "pro max ultra plus mini fe lite slim digital disc oled air edge xl se e anc series nord razr "
    "mate reno magic macbook imac xperia".split()
)
_MODEL_CODE = re.compile(r"(?:[a-z]{1,4})?\d{1,2}(?:\.\d)?(?!yr|pc|x)[a-z]{0,2}")
_DISPLAY = {
    "iphone": "iPhone", "ipad": "iPad", "airpods": "AirPods", "playstation": "PlayStation", "fe": "FE",
    "xl": "XL", "oled": "OLED", "mini": "mini", "se": "SE", "anc": "ANC", "macbook": "MacBook", "imac": "iMac",
    "5g": "5G", "z": "Z",
}


@lru_cache(maxsize=8192)
def _expand(token: str) -> tuple[str, ...]:
    """One raw token as model words: ``ip15pm`` -> (iphone, 15, pro, max), ``s24+`` -> (s24, plus)."""
    if token in _ABBREVIATIONS:
        return _ABBREVIATIONS[token]
    if token.endswith("+") and len(token) > 1:
        return _expand(token[:-1]) + ("plus",)
    if match := _ORDINAL.fullmatch(token):
        return (match.group(1),)
    if match := _VARIANT_DIGITS.fullmatch(token):  # pro2, pro11: AirPods Pro 2, iPad Pro 11
        return (match.group(1),) + _expand(match.group(2))
    if match := _FAMILY_DIGITS.fullmatch(token):
        family = _ABBREVIATIONS.get(match.group(1), (match.group(1),))
        if not match.group(2)[0].isdigit() and not match.group(2)[1:2].isdigit():
            return family + _expand(match.group(2))
        if match.group(1) in ("buds", "fold", "flip", "zfold", "zflip"):  # Samsung writes Buds2, Fold6
            rest = _expand(match.group(2))
            return (match.group(1).lstrip("z") + rest[0],) + rest[1:]
        return family + _expand(match.group(2))
    if match := _SUFFIX.fullmatch(token):
        suffix = match.group(2)
        head = match.group(1)
        if suffix == "u" and not head.startswith("s"):  # S24U is the Ultra; other "u" endings are names
            return (token,)
        if suffix == "p" and head[0].isalpha():
            return (token,)
        return _expand(head) + _SUFFIX_WORDS.get(suffix, (suffix,))
    return (token,)


def _canonical(text: str) -> str:
    """``text`` (digits already ASCII) with Persian/Arabic product words in English, accents stripped, case folded."""
    if not text.isascii():
        text = _FOREIGN_RE.sub(lambda m: _FOREIGN[m.group(0)], text)
        text = strip_accents(text)
    return text.casefold()


def _gb(number: str, unit: str) -> str:
    value = int(number)
    if unit in ("tb", "t") or (value == 1024):
        return f"{value if unit in ('tb', 't') else 1}TB"
    return f"{value}GB"


_NUMBER = re.compile(r"[0-9][0-9,.]*(?=\s*(\S?))")  # group 1: the first character after the number and any spaces
_MARK_AFTER = re.compile(
    r"\s*k?\s*(?:[$€£₹¥]|usdt|usd|eur|euros?|aed|dollars?|rs|inr|tl|try|ngn|naira|rub|دلار|تومان|ریال)(?![a-z])"
    r"|\s?[kl](?![a-z0-9])|\s?(?:x|pcs|pc|units?|nos|qty)(?![a-z0-9])",
    re.IGNORECASE,
)
_MARK_BEFORE = re.compile(r"(?:[$€£₹¥@]|usd|eur|aed|rs\.?|inr|price\s*:?|qty\s*:?|moq\s*:?)\s*$", re.IGNORECASE)
# The characters (any case, as IGNORECASE folds them) that can begin a mark after a number and end one before it.
_AFTER_FIRST = frozenset("$ADEIKLNPQRTUXadeiklnpqrtux£¥İıتدر€₹\u212a")
_BEFORE_LAST = frozenset("$.:@DEQRSYdeqrsy£¥ſ€₹")
# What the words of a mark after a number begin with (lower-case ASCII; k, l and x alone are marks).
_AFTER_WORDS = ("k", "l", "x", "usd", "eur", "aed", "dollar", "rs", "inr", "tl", "try", "ngn", "naira", "rub",
                "pc", "unit", "nos", "qty")
_ANY_WORDS = re.compile(r"[A-Za-z0-9][A-Za-z0-9]*+")
_NOT_QUANTITY = ("poco", "vivo", "redmi")  # Poco X6: a model, not six pieces


@lru_cache(maxsize=16384)
def _clean(description: str) -> str:
    """``description`` with ASCII digits, without prices and quantities (cached: lists repeat lines)."""
    return _strip_prices(ascii_digits(description))


def _strip_prices(text: str) -> str:
    """``text`` without prices (``1020$``, ``$950``, ``@ 720``, ``82,500 Rs``, ``54k``, ``1.05L``)
    and quantities (``x3``, ``3pcs``, ``qty 5``). One pass over the numbers, each checked by
    what is written just before and after it (far cheaper than a pattern tried at every position)."""
    pieces: list[str] = []
    pos = 0
    for match in _NUMBER.finditer(text):
        start, end = match.span()
        if start < pos:
            continue
        before = text[start - 1] if start else " "
        if before.isalpha():
            # x3 is three pieces, unless it names a model (Poco X6); s24, a15, m2 are names
            if before not in "xX" or (start > 1 and text[start - 2].isalnum()):
                continue
            previous = _ANY_WORDS.findall(text, max(0, start - 8), start - 1)
            if previous and previous[-1].lower() in _NOT_QUANTITY:
                continue
            if end < len(text) and text[end].isalnum():
                continue
            pieces.append(text[pos: start - 1])
            pos = end
            continue
        following = text[end] if end < len(text) else ""
        if following and following in "gGmM":
            continue  # 256gb, 45mm: a size, not a price
        at = end  # where ``following`` is
        if following.isspace():
            following, at = match.group(1), match.start(1)
        # the patterns run only when the first character they need is there (and, for an ASCII
        # word, when it begins a mark's word: "15 Pro" is no price)
        after = None
        if following and following in _AFTER_FIRST:
            word = text[at: at + 6]
            if not (following.isalpha() and word.isascii()) or word.lower().startswith(_AFTER_WORDS):
                after = _MARK_AFTER.match(text, end)
        if after is not None:
            pieces.append(text[pos:start])
            pos = after.end()
        elif start and (before if not before.isspace() else text[max(0, start - 8): start].rstrip()[-1:]) in _BEFORE_LAST \
                and _mark_before(text, start):
            pieces.append(text[pos:start])
            pos = end
    if not pieces:
        return text
    pieces.append(text[pos:])
    return " ".join(pieces)


_BEFORE_WORDS = ("usd", "eur", "aed", "rs", "inr", "price", "qty", "moq")  # the marks before a number ending in a letter


def _mark_before(text: str, start: int) -> bool:
    """True when a price or quantity mark (``$``, ``@``, ``Rs.``, ``price:``...) is written just before
    the number at ``start`` (its last character already checked). ASCII words are compared first."""
    tail = text[max(0, start - 8): start].rstrip()
    if tail.isascii() and tail[-1].isalpha() and not tail.lower().endswith(_BEFORE_WORDS):
        return False  # "iPhone 15", "Galaxy 128": a word, not a mark
    return _MARK_BEFORE.search(text, max(0, start - 8), start) is not None


def _apple_generation(tokens: list[str], i: int) -> bool:
    """True when ``tokens[i]`` starts an iPhone model written without "iPhone" (``15 pro max``, ``16e``)."""
    token = tokens[i]
    if token == "16e":
        return True
    if not token.isdigit() or not 11 <= int(token) <= 17:
        return False
    return i + 1 < len(tokens) and tokens[i + 1] in ("pro", "plus", "mini", "max")


@lru_cache(maxsize=16384)
def parse_offer(sku: str, description: str) -> OfferAttributes:
    """Attributes of one offer from its vendor SKU and description (either may be "").

    Pure and cached (same inputs, same frozen result). Never raises on odd text:
    what it cannot read stays "". Example: ``parse_offer("", "IP15PM 256 NAT
    MTP03LL/A")`` -> brand "Apple", model "iPhone 15 Pro Max", storage "256GB",
    color "Natural Titanium", region "US", identifiers (("mpn", "MTP03"),).
    """
    if sku and not description:
        sku, description = "", sku
    sku_info = find_identifiers(ascii_digits(sku).upper())[:3] if sku else _NO_IDS
    # prices and quantities go first, so that a product's line with today's price is read once
    attrs = _parse(_clean(description), sku_info)
    if not attrs.tokens and sku and sku_info[1] is None:
        # the SKU's words are read only when the description names no model
        other = _parse(sku, _NO_IDS)
        if other.tokens:
            attrs = replace(
                attrs, brand=other.brand, model=other.model, tokens=other.tokens,
                storage=attrs.storage or other.storage, ram=attrs.ram or other.ram,
                connectivity=attrs.connectivity or other.connectivity, color=attrs.color or other.color,
                region=attrs.region or other.region,
            )
    return attrs


_NO_IDS: tuple = ((), None, "")


def clear_caches() -> None:
    """Empty parse_offer's caches (for measuring the parse of new lines)."""
    parse_offer.cache_clear()
    _clean.cache_clear()
    _parse.cache_clear()
    _word.cache_clear()
    _attributes.cache_clear()


@lru_cache(maxsize=32768)  # with _clean and parse_offer: about 26 MB when all three are full (measured)
def _parse(description: str, sku_info: tuple) -> OfferAttributes:
    """The attributes ``description`` gives, with ``sku_info`` (the SKU's identifiers,
    model fact and region, from ``find_identifiers``) taken into account. Cached apart from
    the SKU, so rows that repeat a description under their own SKUs are read once."""
    sku_ids, sku_fact, sku_region = sku_info
    raw = ascii_digits(description)
    upper = raw.upper()
    identifiers, fact, region, spans = find_identifiers(upper)
    if sku_ids or sku_fact or sku_region:  # the SKU's identifiers count
        identifiers = sku_ids + tuple(i for i in identifiers if i not in sku_ids)
        fact = fact or sku_fact
        region = region or sku_region
    if spans and len(upper) == len(raw):  # blank identifiers out of the title
        chars = list(raw)
        for start, end in spans:
            chars[start:end] = " " * (end - start)
        raw = "".join(chars)
    text = _canonical(raw)
    if "grade" in text or "stock" in text:
        text = _GRADE.sub(" ", text)

    ram = storage = ""
    if "/" in text or "+" in text:
        for match in _RAM_PAIR.finditer(text):
            first, second, unit = match.groups()
            if match.start() and (text[match.start() - 1].isalnum() or text[match.start() - 1] == "."):
                continue
            small, big = int(first), int(second)
            before = _WORDS.findall(text, max(0, match.start() - 12), match.start())
            if before and before[-1] in _AFTER_NOT_RAM:
                continue  # "iphone 16/128gb": the 16 is the model
            if small <= 24 and ((unit in ("tb", "t") or big in (1, 2)) or (big >= 32 and str(big) in _STORAGE_SIZES) or big == 1024):
                ram, storage = f"{small}GB", _gb(second, unit or ("tb" if big in (1, 2) else "gb"))
                text = text[: match.start()] + " " + text[match.end():]
                break
    if "ram" in text:
        match = _RAM_WORD.search(text)
        if match:
            ram = ram or f"{int(match.group(1) or match.group(2))}GB"
            text = text[: match.start()] + " " + text[match.end():]
    if not storage:
        sizes = []
        for match in _SIZE.finditer(text):
            number, unit = match.groups()
            if match.start() and text[match.start() - 1] in "0123456789.":
                continue
            if unit == "g" and number in ("3", "4", "5"):
                continue  # 4G / 5G: networks, not memory
            if unit == "t" and number not in ("1", "2"):
                continue  # Xiaomi 14T, Redmi Note 13T: models; a bare T is a terabyte only in 1T and 2T
            sizes.append((match, _gb(number, unit)))
        if len(sizes) == 1:
            storage = sizes[0][1]
        elif sizes:
            values = sorted(sizes, key=lambda item: _bytes(item[1]))
            storage = values[-1][1]
            if not ram and _bytes(values[0][1]) <= 24:
                ram = values[0][1]
        for match, _ in reversed(sizes):
            text = text[: match.start()] + " " + text[match.end():]

    connectivity = ""
    cellular = ("cell" in text or "lte" in text or "4g" in text or "5g" in text) and bool(_CELL.search(text))
    five_g = "5g" in text and bool(_FIVE_G.search(text))
    sim = "eSIM" if "sim" in text and _ESIM.search(text) else ""
    if not sim and "/DS" in upper:
        sim = "Dual SIM"
    if not sim and ("dual" in text or " ds" in text or "/ds" in text or "2" in text and "sim" in text) and _DUAL.search(text):
        sim = "Dual SIM"
    lock = ""
    if "lock" in text or "open line" in text:
        lock = "Unlocked" if _UNLOCKED.search(text) else "Locked" if _LOCKED.search(text) else ""
    if not region and "/a" in text:
        match = _APPLE_REGION.search(text)
        if match:
            region = load("apple_regions")["regions"].get(match.group(1).upper(), "")
    if "usb" in text or "type" in text or "lightning" in text or "magsafe" in text:
        text = _USB_C.sub(" ", text)
    if "noise" in text:
        text = _ANC.sub(" anc ", text)

    if not region and not raw.isascii():
        region = _flag_region(raw)
    color, word_region, tokens, brand, start = _read_words(_words(text))
    region = region or word_region
    brand, model_tokens, storage, unread = _read_model(tokens, brand, start, storage)
    if fact is not None:  # a model code is better evidence than the words
        unread = ""
        brand = fact.brand
        model_tokens = fact.model.lower().split()
        region = region or fact.region
        if fact.connectivity:
            connectivity = fact.connectivity
    elif unread and model_tokens:
        model_tokens = [*model_tokens, unread]  # "Edge 50 Fusion" is not "Edge 50"
    if len(model_tokens) == 1 and model_tokens[0] != "switch" and model_tokens[0].isalpha():
        model_tokens = []  # "iPhone", "Galaxy", "AirPods" alone name no product
    if model_tokens and model_tokens[-1] == "5g":
        model_tokens = model_tokens[:-1]
        five_g = True
    model_key = " ".join(model_tokens)
    family = model_tokens[0] if model_tokens else ""
    if not connectivity:
        if family == "ipad" or (brand == "Samsung" and "tab" in model_tokens) or (family == "pad"):
            connectivity = CELLULAR if cellular else WIFI
        elif five_g and model_key in _five_g_models():
            connectivity = "5G"
    if family in _ONE_STORAGE or (len(model_tokens) > 1 and model_tokens[1].startswith("buds")):
        storage = ""  # consoles and earbuds come in one storage per model: the model names the product
    if brand in ("Apple", "Sony", "Nintendo"):
        ram = ""  # these makers do not sell RAM variants
    tokens = tuple(model_tokens)
    # the fields in their order (see _attributes)
    if not tokens:
        unread = ""
    return _attributes(brand, _display(tokens), storage, ram, connectivity, color, region, sim, lock, identifiers, tokens,
                       unread)


@lru_cache(maxsize=4096)
def _attributes(*fields) -> OfferAttributes:
    """``OfferAttributes(*fields)``, one per distinct set of fields: lines that say the same (a
    product in one colour and region, under other prices and chat words) share one frozen result,
    which is cheaper to look up than a frozen dataclass is to build."""
    return OfferAttributes(*fields)


@lru_cache(maxsize=4096)
def _display(tokens: tuple[str, ...]) -> str:
    """The model's display name from its lower-case tokens: ``("iphone", "15", "pro")`` -> "iPhone 15 Pro"."""
    return " ".join([_DISPLAY.get(t) or (_code_display(t) if t[0].isdigit() else t.capitalize()) for t in tokens])


def _code_display(token: str) -> str:
    """A model code that begins with its number, as its maker writes it: the letters after the
    number in capitals (Xiaomi 14T, OnePlus 12R), but a and e in lower case (Pixel 8a, iPhone 16e)."""
    head = token.rstrip("abcdefghijklmnopqrstuvwxyz")
    tail = token[len(head):]
    return token if tail in ("a", "e") else head + tail.upper()


def canonical_colour(text: str) -> str:
    """The canonical colour a spelling names, as offers store it ("space grey" -> "Space Gray",
    "Siyah" -> "Black", "nat" -> "Natural Titanium"); "" when the colour table has no such name."""
    colours, _ = _colour_table()
    return colours.get(" ".join(_TOKEN.findall(strip_accents(text).casefold())), "")


def canonical_region(text: str) -> str:
    """The region code a word names, as offers store it ("Japan" -> "JP", "usa" -> "US", "LL/A"
    is not a word: ""); "" when it names none."""
    return _REGION_WORDS.get(strip_accents(text).casefold().strip(), "")


@cache
def colour_names() -> tuple[str, ...]:
    """Every canonical colour an offer can have (the values of offers/data/colours.json), sorted."""
    return tuple(sorted(set(_colour_table()[0].values())))


@cache
def region_codes() -> tuple[str, ...]:
    """The regions the words and Apple part numbers name (region words, flag exceptions,
    offers/data/apple_regions.json), sorted; a flag emoji may name any other ISO 3166 code."""
    return tuple(sorted(set(_REGION_WORDS.values()) | set(_FLAG_REGIONS.values())
                        | set(load("apple_regions")["regions"].values())))


_FLAG_REGIONS = {"GB": "UK", "EU": "EU", "AE": "AE"}
_REGIONAL_LETTER = re.compile("[\U0001F1E6-\U0001F1FF]")


def _flag_region(text: str) -> str:
    """The region a flag emoji names (two Unicode regional indicator letters, U+1F1E6-U+1F1FF:
    🇯🇵 -> "JP", 🇬🇧 -> "UK"), "" when the text has none."""
    letters = _REGIONAL_LETTER.findall(text)[:2]
    if len(letters) < 2:
        return ""
    code = "".join(chr(ord(ch) - 0x1F1E6 + 65) for ch in letters)
    return _FLAG_REGIONS.get(code, code)


def _bytes(size: str) -> int:
    return int(size[:-2]) * (1024 if size.endswith("TB") else 1)


def _read_model(tokens: list[str], brand: str, start: int, storage: str) -> tuple[str, list[str], str, str]:
    """``(brand, model tokens, storage, unread)`` from the words' tokens and the brand and start
    ``_read_words`` found (storage read from a bare 256 when none yet); ``unread``: the word that
    ended the model when it is a word of three letters or more that nothing read (see
    ``OfferAttributes.unread``)."""
    aliases = _brand_tables()[0]
    if start < 0 or (brand and tokens[start] in aliases and brand == "Apple"):
        for i, token in enumerate(tokens):
            # an iPhone generation is a number or 16e, Galaxy names begin with s, f or "tab"
            if (token.isdigit() or token == "16e") and brand in ("", "Apple") and _apple_generation(tokens, i):
                brand, start = "Apple", i
                tokens.insert(i, "iphone")
                break
            if not token.startswith(("s", "f", "tab")) or brand not in ("", "Samsung"):
                continue
            galaxy_tab = token == "tab" and i + 1 < len(tokens) and _GALAXY_TAB.fullmatch(tokens[i + 1])
            if galaxy_tab or _GALAXY_INFERRED.fullmatch(token):
                brand, start = "Samsung", i
                break
    if start < 0:
        return brand, [], storage, ""
    model: list[str] = []
    unread = ""
    skipped = _skipped_words()
    model_words = _model_words()
    for token in tokens[start:]:
        if token in skipped:
            continue
        if token.isdigit():
            if token in _STORAGE_SIZES and int(token) >= 32 or token == "1024":
                if not storage:
                    storage = _gb(token, "gb")
                continue
            if int(token) >= 100 or (model and model[-1].isdigit() and token != "5"):
                break
            if model and (model[-1] in _LAST_WORDS or (model[-1] == "pro" and model[0] in ("iphone", "ip"))):
                break  # "iPhone 15 Pro Max 256GB 1 year": no number follows these words in a name
            model.append(token)
            continue
        if token in model_words or (not token.isalpha() and _MODEL_CODE.fullmatch(token)):  # a code has a digit
            model.append(token)
            continue
        if len(token) == 1 and model and model[-1] == "series":  # Xbox Series X / Series S: two consoles
            model.append(token)
            continue
        if token.isalpha() and len(token) >= 3 and token not in _LISTING_WORDS:
            unread = token  # "Edge 50 Fusion", "S24 Ultr": perhaps a variant this reader does not know
        break  # a word that is not a model word ends the model
    return brand, _tidy(brand, model), storage, unread


@cache
def _model_words() -> frozenset[str]:
    """Words that continue a model: ``_MODEL_WORDS`` and every family word of the brands table
    (xbox, surface, camon...: a family word begins a model, so it is one of its words)."""
    return _MODEL_WORDS | frozenset(_brand_tables()[1])


@cache
def _skipped_words() -> frozenset[str]:
    """Words left out of a model: brand names and the filler words that are not model words."""
    return frozenset(_brand_tables()[0]) | (_FILLER - _MODEL_WORDS)


def _tidy(brand: str, model: list[str]) -> list[str]:
    """Canonical order and spelling per maker: Galaxy first, Z before Fold/Flip, Buds2, iPhone first."""
    if not model:
        return model
    out = [model[0]]
    for token in model[1:]:
        last = out[-1]
        if token == last:
            continue
        if last in ("fold", "flip", "buds") and token.isdigit():
            out[-1] += token
            continue
        out.append(token)
    if brand == "Samsung":
        fixed = ["galaxy"]
        for token in out:
            if token == "z" or token == "galaxy":
                continue  # placed again below
            if token.startswith(("fold", "flip")):
                fixed.append("z")
            fixed.append(token)
        out = fixed
    if out[0] == "ipad" and not {"pro", "air", "mini"} & set(out):
        out = [t for t in out if "." not in t]  # the plain iPad's screen size (10.9) is not its name
    if brand == "Sony" and out[0] == "playstation" and len(out) > 1 and out[1] == "playstation":
        out = out[1:]
    return out
