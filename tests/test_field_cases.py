"""Vendor-shaped inputs (``tests/fixtures/field-cases``) ingested end to end, against their right answers.

Each case stands for a kind of fault found on real vendor files and chats.
``answers.json`` gives, per file, the flags it is ingested with and its right
offers as ``[identifier, price, currency, quantity, condition]``:

* ``identifier`` is a SKU or the product's key words; an offer matches it when
  its SKU is the same, or when it holds at least three quarters of its words
  (in SKU or description); a gloss in brackets (``"آیفون ۱۵ ۱۲۸ گیگ (iPhone 15
  128GB)"``) is another way to say the same, and either part may match; digits
  of any script are the same digits;
* ``currency`` ``null`` means the source names none (any fallback will do);
* ``quantity`` and ``condition`` ``null`` mean the source says nothing: the
  offer must have no quantity and the ``unknown`` condition.

Every expected offer must be found exactly once, and no other offer may be
made but those listed as ``maybe`` (a reading the source allows).
"""

from __future__ import annotations

import json
import re
import shlex
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.services import ingest_path
from offers.models import Offer
from offers.text import ascii_digits

pytestmark = pytest.mark.django_db

CASES = Path(__file__).parent / "fixtures" / "field-cases"
ANSWERS = json.loads((CASES / "answers.json").read_text(encoding="utf-8"))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", ascii_digits(text or "").lower()))


def _identifies(identifier: str, offer: Offer) -> bool:
    if offer.sku and offer.sku.lower() == identifier.lower():
        return True
    gloss = re.fullmatch(r"(.+?)\s*\((.+)\)", identifier)
    if gloss:
        return any(_identifies(part, offer) for part in gloss.groups())
    wanted = _words(identifier)
    have = _words(offer.sku) | _words(offer.description)
    return len(wanted & have) >= max(1, int(0.75 * len(wanted)))


def _matches(expected: list, offer: Offer) -> bool:
    identifier, price, currency, quantity, condition = expected
    return (
        offer.price == Decimal(str(price)).quantize(Decimal("0.01"))
        and (currency is None or offer.currency == currency)
        and offer.quantity == quantity
        and offer.condition == (condition or "unknown")
        and _identifies(identifier, offer)
    )


def _ingest(name: str):
    spec = ANSWERS[name]
    flags = shlex.split(spec.get("run_with") or f"--processor {spec['processor']}")
    options = dict(zip(flags[0::2], flags[1::2]))
    return ingest_path(
        CASES / name,
        vendor_name="Field Vendor",
        processor=options.get("--processor", ""),
        currency=options.get("--currency", ""),
    )


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_field_case_gives_its_right_offers(name):
    document = _ingest(name)
    offers = list(Offer.objects.filter(source_document=document).order_by("id"))
    expected = ANSWERS[name]["offers"]
    maybe = ANSWERS[name].get("maybe", [])

    unmatched = list(offers)
    missed = []
    for row in expected:
        hit = next((offer for offer in unmatched if _matches(row, offer)), None)
        if hit is None:
            missed.append(row)
        else:
            unmatched.remove(hit)
    extra = [
        (offer.sku, offer.description, offer.price, offer.currency, offer.quantity, offer.condition)
        for offer in unmatched
        if not any(_matches(row, offer) for row in maybe)
    ]
    assert (missed, extra) == ([], []), f"{name}: document {document.status}, errors {document.errors[:5]}"
