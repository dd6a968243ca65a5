"""Text folding shared by product match keys and ingestion's normalizers (no Django imports)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def strip_accents(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks: ``"Café"`` -> ``"Cafe"``, ``"ﬁ"`` -> ``"fi"``."""
    if text.isascii():  # nothing to decompose
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _digit_table() -> dict[int, int]:
    """Every Unicode decimal digit (category Nd) that is not ASCII, mapped to its ASCII digit."""
    import sys

    table = {}
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        value = unicodedata.decimal(char, None)
        if value is not None:
            table[code] = 0x30 + value
    return table


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of another script written as its ASCII digit.

    Persian ``"۱۲۸"``, Arabic-Indic ``"١٢٨"``, full-width ``"１２８"``, Devanagari
    ``"१२८"`` -> ``"128"``; the length and every other character stay as they are,
    so positions in the result are positions in ``text``. Source: the Unicode
    Character Database's ``Nd`` category, through ``unicodedata.decimal``.
    """
    if text.isascii():
        return text
    return text.translate(_digit_table())


# C0 controls but tab, line feed and carriage return; DEL; C1 controls. PostgreSQL refuses NUL in
# text and JSON, and none of them is part of what a vendor wrote.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def strip_control_characters(text: str) -> tuple[str, int]:
    """``(text without control characters, how many were removed)``: NUL and the other C0
    controls except tab, line feed and carriage return, DEL (U+007F) and the C1 controls
    (U+0080-U+009F). Source: Unicode general category Cc."""
    if text.isprintable():  # the usual case, without a regex
        return text, 0
    cleaned, removed = _CONTROL.subn("", text)
    return cleaned, removed
