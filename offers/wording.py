"""Counts in messages, in the right number: ``counted(1, "rejected row")`` is ``"1 rejected row"``.

The bottom of the app layers, so the commands, services and admin of every app can use it.
"""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``"1 offer"``, ``"2 offers"``, ``"1,250 rejected rows"``: the count (with thousands
    separators) and the noun in its number. ``plural`` for nouns that do not just add an s."""
    noun = singular if count == 1 else (plural or _plural(singular))
    return f"{count:,} {noun}"


def _plural(singular: str) -> str:
    if singular.endswith(("s", "x", "ch", "sh")):
        return singular + "es"
    if singular.endswith("y") and singular[-2:-1] not in "aeiou":
        return singular[:-1] + "ies"
    return singular + "s"
