"""Precision and recall of the text offer extractor over the labelled chat corpus.

    python bench/extractor_quality.py [-v]

Each ``tests/fixtures/chats/<name>.txt`` is read by the ``whatsapp_text``
processor (parser + ``ingestion.text_offers``); its candidates are compared
with ``<name>.expected.json``. A predicted offer matches an expected one when
the line, the price amount and the currency agree (raw tokens are converted by
``ingestion.normalize``) and the descriptions share enough words (token Dice
coefficient >= 0.5). Quantity and condition are reported as accuracy over the
matched offers. ``-v`` lists every miss and every false offer.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestion.normalize import NormalizationError, parse_condition, parse_currency, parse_price, parse_quantity  # noqa: E402
from ingestion.processors.whatsapp_text import processor  # noqa: E402
from ingestion.types import IngestContext, OfferCandidate  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "chats"
_TOKEN = re.compile(r"[^\W_]+")


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def description_similarity(expected: str, predicted: str) -> float:
    """Token Dice coefficient: 1.0 for the same words, 0.0 for none in common."""
    a, b = _tokens(expected), _tokens(predicted)
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0


def _normalized(candidate: OfferCandidate) -> dict:
    try:
        money = parse_price(candidate.price)
        amount, currency = money.amount, money.currency
    except NormalizationError:
        amount, currency = None, None
    currency = currency or (parse_currency(candidate.currency) if candidate.currency else None)
    try:
        quantity = parse_quantity(candidate.quantity) if candidate.quantity else None
    except NormalizationError:
        quantity = "invalid"
    return {
        "line": int(candidate.ref.split()[-1]),
        "description": candidate.description,
        "price": amount,
        "currency": currency,
        "quantity": quantity,
        "condition": parse_condition(candidate.condition).code,
        "raw": f"price={candidate.price!r} currency={candidate.currency!r} qty={candidate.quantity!r} "
        f"cond={candidate.condition!r}",
    }


def _matches(expected: dict, predicted: dict) -> bool:
    return (
        expected["line"] == predicted["line"]
        and Decimal(expected["price"]) == predicted["price"]
        and expected["currency"] == predicted["currency"]
        and description_similarity(expected["description"], predicted["description"]) >= 0.5
    )


def evaluate(path: Path) -> dict:
    """Compare the processor's offers for one corpus file with its labels."""
    expected = json.loads(path.with_name(path.name.replace(".txt", ".expected.json")).read_text(encoding="utf-8"))
    context = IngestContext(filename=path.name, timezone=timezone.utc)
    predicted = [_normalized(item) for item in processor.process(path, context) if isinstance(item, OfferCandidate)]
    unmatched = list(predicted)
    matched, missed = [], []
    for offer in expected["offers"]:
        hit = next((p for p in unmatched if _matches(offer, p)), None)
        if hit is None:
            missed.append(offer)
        else:
            unmatched.remove(hit)
            matched.append((offer, hit))
    return {"expected": expected["offers"], "predicted": predicted, "matched": matched, "missed": missed,
            "false": unmatched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list misses and false offers")
    args = parser.parse_args()

    totals = {"expected": 0, "predicted": 0, "matched": 0, "quantity_ok": 0, "condition_ok": 0}
    print(f"{'file':<28} {'expected':>8} {'found':>6} {'match':>6} {'prec':>6} {'recall':>6}")
    for path in sorted(CORPUS.glob("*.txt")):
        result = evaluate(path)
        n_exp, n_pred, n_match = len(result["expected"]), len(result["predicted"]), len(result["matched"])
        totals["expected"] += n_exp
        totals["predicted"] += n_pred
        totals["matched"] += n_match
        totals["quantity_ok"] += sum(e["quantity"] == p["quantity"] for e, p in result["matched"])
        totals["condition_ok"] += sum(e["condition"] == p["condition"] for e, p in result["matched"])
        precision = n_match / n_pred if n_pred else 1.0
        recall = n_match / n_exp if n_exp else 1.0
        print(f"{path.stem:<28} {n_exp:>8} {n_pred:>6} {n_match:>6} {precision:>6.3f} {recall:>6.3f}")
        if args.verbose:
            for offer in result["missed"]:
                print(f"    MISSED line {offer['line']}: {offer['description']!r} {offer['price']} {offer['currency']}")
            for offer in result["false"]:
                print(f"    FALSE  line {offer['line']}: {offer['description']!r} {offer['price']} "
                      f"{offer['currency']} ({offer['raw']})")
            for exp, pred in result["matched"]:
                if exp["quantity"] != pred["quantity"] or exp["condition"] != pred["condition"]:
                    print(f"    FIELDS line {exp['line']}: qty {exp['quantity']}/{pred['quantity']} "
                          f"condition {exp['condition']}/{pred['condition']} ({pred['raw']})")
    matched = totals["matched"]
    precision = matched / totals["predicted"] if totals["predicted"] else 1.0
    recall = matched / totals["expected"] if totals["expected"] else 1.0
    print(f"{'TOTAL':<28} {totals['expected']:>8} {totals['predicted']:>6} {matched:>6} {precision:>6.3f} {recall:>6.3f}")
    if matched:
        print(f"quantity accuracy on matched offers:  {totals['quantity_ok'] / matched:.3f}")
        print(f"condition accuracy on matched offers: {totals['condition_ok'] / matched:.3f}")


if __name__ == "__main__":
    main()
