"""Precision and recall of the text offer extractor over the labelled chat corpus and the field cases.

    python bench/extractor_quality.py [-v]

Each ``tests/fixtures/chats/<name>.txt`` is read by the ``whatsapp_text``
processor (parser + ``ingestion.text_offers``); its candidates are compared
with ``<name>.expected.json``. A predicted offer matches an expected one when
the line, the price amount and the currency agree (raw tokens are converted by
``ingestion.normalize``) and the descriptions share enough words (token Dice
coefficient >= 0.5). Quantity and condition are reported as accuracy over the
matched offers. ``-v`` lists every miss and every false offer.

The field cases (``tests/fixtures/field-cases``, the ``.txt`` inputs meant for
``whatsapp_text``) are scored on the extractor alone: each file is cut into
message bodies at its header lines (WhatsApp Android and iOS, Telegram Desktop;
a small reader here, so that a parser fault does not count against the
extractor), ``extract_offers`` reads each body, and the offers are compared with
``answers.json`` as ``field_eval.py`` does: same price to the cent, the same
currency when the offer names one (an offer naming none takes the case's
``--currency``), and most (75 %) of the words of the expected identifier in the
description (for an identifier written ``text (gloss)``, of either half: the Persian
description has no Latin word of the gloss to share). An offer matching a ``maybe`` answer is neither found nor false.
The chat corpus, the field cases and both together are printed separately.
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
from ingestion.text_offers import extract_offers  # noqa: E402
from ingestion.types import IngestContext, OfferCandidate  # noqa: E402
from offers.text import ascii_digits  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "chats"
FIELD_CASES = ROOT / "tests" / "fixtures" / "field-cases"
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


# Header lines of the exports in the field cases: "14.03.2025 12:01 - Name: body", "3/14/25, 9:41 AM - Name: body",
# "[2024/10/31 15:50:46] Name: body" (any space or digits of any script), "Name, [12.09.2025 10:02]" (Telegram).
_SPACE = r"[\s\u00a0\u202f\u2009]"
_HEADER = re.compile(
    rf"^\u200e?(?:\[\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}},?{_SPACE}+\d{{1,2}}:\d\d(?::\d\d)?(?:{_SPACE}*[APap]\.?[Mm]\.?)?\]{_SPACE}*"
    rf"(?:[^:]+):{_SPACE}?(?P<a>.*)"
    rf"|\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}}[,،]?{_SPACE}+\d{{1,2}}:\d\d(?::\d\d)?(?:{_SPACE}*[APap]\.?[Mm]\.?)?{_SPACE}+-{_SPACE}"
    rf"(?:(?:[^:]+):{_SPACE}?(?P<b>.*)|.*))$"
)
_TELEGRAM = re.compile(r"^.+, \[\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d\d(?::\d\d)?\]$")


def message_bodies(text: str) -> list[tuple[int, str]]:
    """(1-based line of the body's first line, body) of each message of an export, by header lines only."""
    bodies: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        plain = ascii_digits(line)
        if _TELEGRAM.match(plain):
            bodies.append((number + 1, []))
            continue
        header = _HEADER.match(plain)
        if header:
            body = header.group("a") if header.group("a") is not None else header.group("b")
            bodies.append((number, [line[len(line) - len(body):]] if body is not None else []))
        elif bodies:
            bodies[-1][1].append(line)
    return [(first, "\n".join(lines)) for first, lines in bodies if lines]


_FIELD_WORD = re.compile(r"[a-z0-9]+")


def _field_matches(expected: list, predicted: dict) -> bool:
    """``field_eval.py``'s rule: same price, same currency where the offer names one, most identifier words."""
    if predicted["price"] is None or abs(predicted["price"] - Decimal(str(expected[1]))) > Decimal("0.005"):
        return False
    if isinstance(expected[2], str) and predicted["currency"] and predicted["currency"] != expected[2]:
        return False
    have = set(_FIELD_WORD.findall(ascii_digits(predicted["description"] + " " + predicted["sku"]).lower()))
    identifier = ascii_digits(str(expected[0]))
    gloss = re.fullmatch(r"(.*?)\s*\((.*)\)", identifier)  # "آیفون ۱۵ ۱۲۸ گیگ (iPhone 15 128GB)": either half
    for text in (identifier, *(gloss.groups() if gloss else ())):
        want = set(_FIELD_WORD.findall(text.lower()))
        if want and len(want & have) >= max(1, int(0.75 * len(want))):
            return True
    return False


def evaluate_field_case(path: Path, answer: dict) -> dict:
    """The extractor's offers for one field case's message bodies, compared with its answers."""
    run_currency = re.search(r"--currency\s+(\w+)", answer.get("run_with", ""))
    predicted = []
    for first_line, body in message_bodies(path.read_text(encoding="utf-8-sig")):
        for candidate in extract_offers(body, first_line=first_line):
            offer = _normalized(candidate)
            offer["sku"] = candidate.sku
            if offer["currency"] is None and run_currency:
                offer["currency"] = run_currency.group(1)
            predicted.append(offer)
    unmatched = list(predicted)
    matched, missed = [], []
    for expected in answer["offers"]:
        hit = next((p for p in unmatched if _field_matches(expected, p)), None)
        if hit is None:
            missed.append(expected)
        else:
            unmatched.remove(hit)
            matched.append((expected, hit))
    for maybe in answer.get("maybe", []):
        hit = next((p for p in unmatched if _field_matches(maybe, p)), None)
        if hit is not None:
            unmatched.remove(hit)
            predicted.remove(hit)
    return {"expected": answer["offers"], "predicted": predicted, "matched": matched, "missed": missed,
            "false": unmatched}


def _figures(label: str, expected: int, predicted: int, matched: int) -> str:
    precision = matched / predicted if predicted else 1.0
    recall = matched / expected if expected else 1.0
    return f"{label:<28} {expected:>8} {predicted:>6} {matched:>6} {precision:>6.3f} {recall:>6.3f}"


def field_cases(verbose: bool) -> tuple[int, int, int]:
    """Print the field cases' figures; returns (expected, predicted, matched)."""
    answers = json.loads((FIELD_CASES / "answers.json").read_text(encoding="utf-8"))
    totals = [0, 0, 0]
    print(f"\n{'field case (extractor)':<28} {'expected':>8} {'found':>6} {'match':>6} {'prec':>6} {'recall':>6}")
    for name, answer in sorted(answers.items()):
        if answer.get("processor") != "whatsapp_text" or not (FIELD_CASES / name).exists():
            continue
        result = evaluate_field_case(FIELD_CASES / name, answer)
        counts = (len(result["expected"]), len(result["predicted"]), len(result["matched"]))
        totals = [total + count for total, count in zip(totals, counts)]
        print(_figures(name[:28], *counts))
        if verbose:
            for offer in result["missed"]:
                print(f"    MISSED {offer}")
            for offer in result["false"]:
                print(f"    FALSE  line {offer['line']}: {offer['description']!r} {offer['price']} {offer['currency']}")
    print(_figures("TOTAL field cases", *totals))
    return totals[0], totals[1], totals[2]


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
    print(f"{'TOTAL chat corpus':<28} {totals['expected']:>8} {totals['predicted']:>6} {matched:>6} {precision:>6.3f} {recall:>6.3f}")
    if matched:
        print(f"quantity accuracy on matched offers:  {totals['quantity_ok'] / matched:.3f}")
        print(f"condition accuracy on matched offers: {totals['condition_ok'] / matched:.3f}")
    field = field_cases(args.verbose)
    print()
    print(_figures("TOTAL chats + field cases", totals["expected"] + field[0], totals["predicted"] + field[1],
                   matched + field[2]))


if __name__ == "__main__":
    main()
