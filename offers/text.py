"""Text folding shared by product match keys and ingestion's normalizers (no Django imports)."""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks: ``"Café"`` -> ``"Cafe"``, ``"ﬁ"`` -> ``"fi"``."""
    if text.isascii():  # nothing to decompose
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
