"""Pairwise precision, recall and F1 of the product matcher over the labelled offer files, and parse speed.

    python bench/matching_quality.py [-v] [--rows 100000]

Each ``tests/fixtures/matching/*.csv`` (columns vendor, sku, description,
product: the gold product) is matched as the ingest will match it
(``offers.similarity.match_offers``): offers in file order against an
in-memory catalogue that starts empty and grows (vendor SKU memory ->
identifier alias -> exact product key -> similarity inside the brand + storage
+ connectivity block -> new product). ``corpus.csv`` and ``heldout.csv`` (written
differently, with products absent from the corpus) are scored separately.

A pair of offers is a true positive when both the gold labels and the matcher
put them in one product; precision = true pairs / pairs the matcher made,
recall = true pairs / gold pairs. Review-band links count as links (the offer
is attached to its best candidate, flagged). ``-v`` lists each wrong merge and
each missed link.

Parse speed: ``parse_offer`` over ``--rows`` distinct generated rows, caches
cleared first, in microseconds per row, for three kinds of rows (``KINDS``):
spreadsheet rows (the labelled descriptions, each row with its own SKU: texts
repeat, as products do across a list), chat lines (the same with prices and
quantities: read once per product text, prices stripped first), and rows whose
every description is new (the parse's worst case); then the same rows again.
Each figure is the best of three runs, in CPU time of this process.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from offers.attributes import clear_caches, parse_offer  # noqa: E402
from offers.similarity import match_offers  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "matching"


def read_rows(path: Path) -> list[dict[str, str]]:
    """The labelled rows of one CSV file (dicts with vendor, sku, description, product)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _pairs(counts: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def score(rows: list[dict[str, str]]) -> dict:
    """Match ``rows`` and return ``{"precision", "recall", "f1", "review", "products", "gold_products",
    "methods", "matches"}`` (pairwise figures as fractions 0-1)."""
    matches = match_offers((row["vendor"], row["sku"], row["description"]) for row in rows)
    gold = Counter(row["product"] for row in rows)
    predicted = Counter(m.product_id for m in matches)
    both = Counter((row["product"], m.product_id) for row, m in zip(rows, matches))
    true, made, wanted = _pairs(both), _pairs(predicted), _pairs(gold)
    precision = true / made if made else 1.0
    recall = true / wanted if wanted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision, "recall": recall, "f1": f1,
        "review": sum(m.decision.band == "review" for m in matches),
        "products": len(predicted), "gold_products": len(gold),
        "methods": Counter(m.decision.method for m in matches), "matches": matches,
    }


def explain(rows: list[dict[str, str]], result: dict) -> None:
    """Print wrong merges (one matched product, several gold ones) and split gold products."""
    by_product: dict[int, list[int]] = defaultdict(list)
    by_gold: dict[str, set[int]] = defaultdict(set)
    for i, (row, match) in enumerate(zip(rows, result["matches"])):
        by_product[match.product_id].append(i)
        by_gold[row["product"]].add(match.product_id)
    for product_id, members in by_product.items():
        labels = {rows[i]["product"] for i in members}
        if len(labels) > 1:
            print(f"  WRONG MERGE into product {product_id}:")
            for i in members:
                print(f"    {rows[i]['product']!r:45} <- {rows[i]['description']!r} ({result['matches'][i].decision.method})")
    for label, products in by_gold.items():
        if len(products) > 1:
            print(f"  SPLIT {label!r}:")
            for i, row in enumerate(rows):
                if row["product"] == label:
                    m = result["matches"][i]
                    print(f"    product {m.product_id:3} {m.attrs.product_name()!r:50} <- {row['description']!r} [{m.decision.reason}]")


KINDS = {
    "spreadsheet": "spreadsheet rows (labelled descriptions, a SKU per row)",
    "chat": "chat lines (labelled descriptions with a price, a quantity or condition)",
    "new": "every description new (labelled descriptions + a row number)",
}


def generated_lines(rows: list[dict[str, str]], count: int, kind: str) -> list[tuple[str, str]]:
    """``count`` distinct (sku, description) rows made from the labelled rows (seeded: the same
    rows every run), of one of the ``KINDS``: "spreadsheet" (the description as written, a
    row SKU of its own), "chat" (a price and a quantity or condition in the text, as chat
    lines have), "new" (a row number in the description: no two rows share a text, the
    parse's worst case)."""
    rng = random.Random(10)
    extras = ["", " new", " sealed", " used A+", " x3", " 5pcs", " ✅", " HK spec", " Dual SIM"]
    lines, seen = [], set()
    while len(lines) < count:
        row = rng.choice(rows)
        if kind == "chat":
            line = ("", f"{row['description']}{rng.choice(extras)} {rng.randint(100, 99999)}$")
        elif kind == "new":
            line = (f"R-{len(lines):07d}", f"{row['description']} lot {len(lines)}")
        else:
            line = (f"R-{len(lines):07d}", row["description"])
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def parse_speed(lines: list[tuple[str, str]], runs: int = 3) -> tuple[float, float]:
    """(cold, warm) microseconds per line of ``parse_offer`` over ``lines``: the best of ``runs``
    runs each (CPU time of this process: a shared machine's other work counts less)."""
    cold = warm = float("inf")
    for _ in range(runs):
        clear_caches()
        start = time.process_time()
        for sku, description in lines:
            parse_offer(sku, description)
        cold = min(cold, (time.process_time() - start) / len(lines) * 1e6)
        start = time.process_time()
        for sku, description in lines:
            parse_offer(sku, description)
        warm = min(warm, (time.process_time() - start) / len(lines) * 1e6)
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="list wrong merges and split products")
    parser.add_argument("--rows", type=int, default=100_000, help="generated lines for the parse speed (100,000)")
    args = parser.parse_args()
    all_rows = []
    for name in ("corpus.csv", "heldout.csv"):
        rows = read_rows(FIXTURES / name)
        all_rows += rows
        result = score(rows)
        methods = ", ".join(f"{k} {v}" for k, v in sorted(result["methods"].items()))
        print(
            f"{name:12} offers {len(rows):4}  gold products {result['gold_products']:3}  matched products {result['products']:3}  "
            f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}  "
            f"review {result['review']}  ({methods})"
        )
        if args.verbose:
            explain(rows, result)
    for kind, label in KINDS.items():
        cold, warm = parse_speed(generated_lines(all_rows, args.rows, kind))
        print(f"parse_offer, {args.rows:,} {label}: {cold:.1f} us/row (caches cleared), "
              f"{warm:.2f} us/row for the same rows again")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
