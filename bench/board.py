"""Benchmark: current offers and the best-price board over a million offers.

    .venv/bin/python bench/board.py [--offers 1000000] [--db sqlite|postgres] [--window-share 0.1]

Fills a fresh database with N offers (with their history points) of 200 vendors and 50,000
products (ten brands), observed evenly over the time span that puts ``--window-share`` of
them in the last OFFER_FRESHNESS_HOURS (72): 10% by default, 100,000 offers, as if every
vendor had sent its lists of the last three days. Four currencies; EUR and GBP have daily
exchange rates, BRL none (its offers stay unconverted). Then times, as the median of several
runs in milliseconds, with the number of queries:

- ``offers.board.board()`` unfiltered and filtered (q, brand, condition, currency, min_vendors);
- ``offers.board.current_offers(product)`` for products picked at random;
- ``GET /board`` (first page of 50), ``GET /board?format=csv`` (every row),
  ``GET /products/{id}/offers/current`` through Django's test client with a token.

No figure is asserted: the output is for reading (README, issue 10).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRANDS = ["Apple", "Samsung", "Google", "Xiaomi", "OnePlus", "Motorola", "Sony", "Nokia", "Oppo", "Honor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--window-share", type=float, default=0.1,
                        help="share of the offers observed within the freshness window (default 0.1)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from ingest_spreadsheet import django_database

    with django_database(args.db, "pricehub-board-"):
        run(args.offers, args.window_share)


def fill(count: int, window_share: float) -> list[int]:
    """200 vendors, 50,000 products, ``count`` offers ending now; EUR and GBP daily rates. Returns product ids."""
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from offers.bulk import OfferRow, insert_offers
    from offers.models import ExchangeRate, Product, Vendor

    rng = random.Random(10)
    Vendor.objects.bulk_create(Vendor(name=f"Vendor {i}") for i in range(200))
    vendors = list(Vendor.objects.values_list("pk", flat=True))
    Product.objects.bulk_create(
        Product(name=f"{BRANDS[i % 10]} Phone {i} 256GB", brand=BRANDS[i % 10], match_key=f"product {i}")
        for i in range(50_000)
    )
    products = list(Product.objects.values_list("pk", flat=True))
    now = timezone.now()
    span = timedelta(hours=settings.OFFER_FRESHNESS_HOURS) / window_share
    start = now - span
    step = span / count
    days = (span.days + 2)
    ExchangeRate.objects.bulk_create(
        ExchangeRate(date=(start + timedelta(days=d - 1)).date(), currency=code, rate=Decimal(rate))
        for d in range(days) for code, rate in (("EUR", "1.08"), ("GBP", "1.27"))
    )
    began = time.perf_counter()
    batch = 20_000
    for offset in range(0, count, batch):
        rows = [
            OfferRow(
                vendor_id=rng.choice(vendors), sku=f"SKU{i}", description=f"Offer {i}",
                price=Decimal(rng.randrange(10000, 200000)) / 100,
                currency=("USD", "USD", "EUR", "GBP", "BRL")[i % 5], quantity=rng.randrange(100),
                condition=("new", "new", "refurbished", "used")[i % 4], condition_grade="", condition_raw="",
                observed_at=start + step * i, source_ref=f"line {i}", product_id=rng.choice(products),
            )
            for i in range(offset, min(offset + batch, count))
        ]
        with transaction.atomic():
            insert_offers(rows)
    print(f"filled {count:,} offers ({window_share:.0%} in the {settings.OFFER_FRESHNESS_HOURS} h window) "
          f"in {time.perf_counter() - began:.0f} s")
    return products


def run(count: int, window_share: float) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from offers import board
    from pricehub.tokens import issue_token

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the rate limit's counters (PostgreSQL)
    products = fill(count, window_share)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rng = random.Random(3)

    def timed(label: str, call, repeat: int = 5, describe=None):
        """Median time of ``repeat`` calls; each result is dropped before the next call (a board
        kept alive would make every later collection of Python's garbage walk it)."""
        samples, queries, size, note = [], 0, "", ""
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                result = call()
                samples.append((time.perf_counter() - began) * 1000)
            queries = len(captured.captured_queries)
            size = f"{len(result):>7,} rows" if isinstance(result, list) else ""
            note = describe(result) if describe else ""
            del result
        print(f"{label:<44} {statistics.median(samples):9.1f} ms  {queries:3d} queries  {size}")
        if note:
            print(f"    ({note})")

    timed("board() unfiltered", board.board, repeat=3, describe=lambda rows: (
        f"{sum(row.vendor_count for row in rows):,} current offers; "
        f"{sum(not row.converted for row in rows):,} rows in a currency without rate"))
    timed("board(q='Phone 4242')", lambda: board.board(q="Phone 4242"))
    timed("board(brand='Apple')", lambda: board.board(brand="Apple"), repeat=3)
    timed("board(condition='used')", lambda: board.board(condition="used"), repeat=3)
    timed("board(currency='BRL')", lambda: board.board(currency="BRL"), repeat=3)
    timed("board(min_vendors=3)", lambda: board.board(min_vendors=3), repeat=3)
    picks = [rng.choice(products) for _ in range(20)]
    cursor = iter(picks * 10)
    timed("current_offers(product) (random products)", lambda: board.current_offers(next(cursor)), repeat=20)
    timed("price_series(product) (random products)", lambda: board.price_series(next(cursor)), repeat=20)

    user = User.objects.create_user("bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user, name='bench', scope='read')[1]}")

    def get(url: str):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.content[:300])
            return response
        return call

    timed("GET /board (first page of 50)", get("/board"), repeat=3)
    timed("GET /board?brand=Apple&min_vendors=2", get("/board?brand=Apple&min_vendors=2"), repeat=3)
    timed("GET /board?format=csv (every row)", get("/board?format=csv"), repeat=3,
          describe=lambda response: f"{len(response.content) / 1e6:.1f} MB of CSV")
    timed("GET /products/{id}/offers/current", get(f"/products/{picks[0]}/offers/current"), repeat=7)


if __name__ == "__main__":
    main()
