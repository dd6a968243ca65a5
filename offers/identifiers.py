"""Product identifiers found in offer text, and the tables that give them meaning.

Pure Python, no Django. Tables live in ``offers/data/*.json`` (PriceHub's own
files, each citing its public source in its ``_source`` key) and are read once.

Identifier kinds (the ``kind`` of an ``(kind, value)`` pair):

- ``ean``: an EAN-13 or UPC-A (12 digits, written as EAN-13 with a leading 0)
  whose GS1 check digit is right. Source for the check digit: GS1 General
  Specifications, "GS1 check digit calculation" (weights 3 and 1 from the right).
- ``mpn``: an Apple part number such as ``MTP03LL/A``; the value is the base
  (``MTP03``: model, storage and colour), the letters before ``/A`` are the
  region (``offers/data/apple_regions.json``).
- ``model_code``: a Samsung ``SM-`` code without its regional suffix
  (``SM-S928``), or a Google Pixel hardware code (``GC3VE``).
- ``a_number``: an Apple A number (``A2849``), naming a model sold in a region.

Only ``ean`` and ``mpn`` name a whole product (model and storage); the others
name a model, and serve to read the model, never to link an offer alone.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import NamedTuple

DATA = Path(__file__).with_name("data")

#: Identifier kinds that name one product (model and storage): safe as aliases.
PRODUCT_KINDS = frozenset({"ean", "mpn"})


@cache
def load(name: str) -> dict:
    """The JSON table ``offers/data/<name>.json`` (read once). Raises ``FileNotFoundError``."""
    with open(DATA / f"{name}.json", encoding="utf-8") as handle:
        return json.load(handle)


def ean_is_valid(digits: str) -> bool:
    """True when ``digits`` (12 or 13 ASCII digits: UPC-A or EAN-13) ends with its GS1 check digit.

    The check digit makes the weighted sum (weights 3, 1, 3... counted from the
    digit before it, rightwards to left) a multiple of 10 (GS1 General Specifications).
    """
    if len(digits) not in (12, 13) or not digits.isdigit():
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


class ModelFact(NamedTuple):
    """What a model code says: brand, model name (without brand), connectivity ("" when it does not say), region."""

    brand: str
    model: str
    connectivity: str
    region: str


# Apple part number: base of 4-5 characters ending in a digit, region letters, "/A".
_MPN = re.compile(r"\b([A-Z][A-Z0-9]{2,3}\d)([A-Z]{1,2})/A\b")
_SAMSUNG = re.compile(r"\bSM-?([ASFXRT]\d{3})(0|[A-Z]\d?)?[A-Z0-9]*(?:/DS)?\b")
# Each stands alone: not part of a longer word or number. ``[^\W_]`` is one character that
# ``str.isalnum`` accepts; the look-behind comes after the first character, so that the engine
# can still jump to it. An A number (``A2849``) or a Pixel hardware code (``GC3VE``), in one pass.
_A_NUMBER_OR_PIXEL = re.compile(r"[AG](?<![^\W_][AG])(?:(?<=A)\d{4}|(?<=G)[A-Z0-9]{4})(?![^\W_])")
_EAN = re.compile(r"(?<![^\W_])\d{12,13}(?![^\W_])")
# ASCII text without twelve digits in a row has no EAN (a quick test: ``_EAN`` tries every position;
# this one, beginning with one digit, skips to the digits).
_TWELVE_DIGITS = re.compile(r"[0-9][0-9]{11}")


def _digits(text: str) -> int:
    """How many ASCII digits ``text`` (ASCII) has: bytes.translate deletes the others in C."""
    return len(text) - len(text.encode().translate(None, b"0123456789"))


@cache
def _apple_regions() -> dict[str, str]:
    return load("apple_regions")["regions"]


@cache
def _codes() -> dict:
    return load("model_codes")


def _fact(brand: str, entry: str, region: str = "") -> ModelFact:
    model, _, connectivity = entry.partition("|")
    return ModelFact(brand, model, connectivity, region)


def find_identifiers(text: str) -> tuple[tuple[tuple[str, str], ...], ModelFact | None, str, list[tuple[int, int]]]:
    """Identifiers in ``text`` (upper-case ASCII digits expected).

    Returns ``(identifiers, model_fact, region, spans)``: the ``(kind, value)`` pairs
    in the order found, the first model fact a code gives (or None), the region an
    Apple part number or Samsung suffix names ("" when none), and the character
    spans of every identifier (so the caller can blank them out of the title).
    """
    found: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []
    fact: ModelFact | None = None
    region = ""
    if "/A" in text:
        regions = _apple_regions()
        for match in _MPN.finditer(text):
            letters = match.group(2)
            if letters in regions:
                found.append(("mpn", match.group(1)))
                spans.append(match.span())
                region = region or regions[letters]
    if "SM" in text:
        codes = _codes()
        for match in _SAMSUNG.finditer(text):
            base, suffix = match.group(1), match.group(2)
            found.append(("model_code", f"SM-{base}"))
            spans.append(match.span())
            model = codes["samsung"].get(base)
            suffix_region = "" if base[0] == "R" else codes["samsung_regions"].get(suffix or "", "")
            region = region or suffix_region
            if model and fact is None:
                fact = _fact("Samsung", model, suffix_region)
    if "A" in text or "G" in text:
        # A numbers, then Pixel codes, found in one pass (each is a whole word: they never overlap)
        pixels = []
        for match in _A_NUMBER_OR_PIXEL.finditer(text):
            code = match.group(0)
            if code[0] == "G":
                pixels.append(match)
                continue
            model = _codes()["apple"].get(code)
            if model:
                found.append(("a_number", code))
                spans.append(match.span())
                if fact is None:
                    fact = _fact("Apple", model)
        for match in pixels:
            model = _codes()["google"].get(match.group(0))
            if model:
                found.append(("model_code", match.group(0)))
                spans.append(match.span())
                if fact is None:
                    fact = _fact("Google", model)
    if len(text) < 12 or (text.isascii() and (_digits(text) < 12 or not _TWELVE_DIGITS.search(text))):
        return tuple(found), fact, region, spans
    for match in _EAN.finditer(text):
        digits = match.group(0)
        if ean_is_valid(digits):
            found.append(("ean", digits.zfill(13)))
            spans.append(match.span())
    return tuple(found), fact, region, spans
