"""Benchmark: paging /offers over a million offers, with and without filters.

    .venv/bin/python bench/api_offers_paging.py [--offers 1000000] [--db sqlite|postgres]

Fills a fresh database with N offers (20 vendors, 50,000 products, five
currencies, 1 in 1,000 offers in CHF), then times API requests through
Django's test client with a token: the first page, a page 1,000 pages deep
(following `next` links), and filtered first pages. Each figure is the
median of several requests, in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from ingest_spreadsheet import django_database

    with django_database(args.db, "pricehub-paging-"):
        run(args.offers)


def run(count: int) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from pricehub.tokens import issue_token

    call_command("migrate", verbosity=0)
    vendors, products = fill_offers(count)

    user = User.objects.create_user("bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user, name='bench', scope='read')[1]}")

    def timed(url: str, repeat: int = 7) -> float:
        samples = []
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (url, response.content[:300])
        return statistics.median(samples)

    print(f"first page (50):                {timed('/offers'):7.1f} ms")
    url = "/offers?page_size=50"
    for _ in range(1000):
        url = client.get(url).json()["next"]
    print(f"page 1,000 deep (cursor):       {timed(url):7.1f} ms")
    print(f"page of 500:                    {timed('/offers?page_size=500'):7.1f} ms")
    cases = {
        "vendor_id": f"/offers?vendor_id={vendors[3]}",
        "product_id": f"/offers?product_id={products[123]}",
        "currency=CHF (0.1% of rows)": "/offers?currency=CHF",
        "condition=used": "/offers?condition=used",
        "price 500-510": "/offers?price_min=500&price_max=510",
        "observed in one day": "/offers?observed_since=2026-03-01T00:00:00Z&observed_until=2026-03-02T00:00:00Z",
        "ordering=price": "/offers?ordering=price",
    }
    for label, url in cases.items():
        print(f"filter {label:<24} {timed(url):7.1f} ms")


def fill_offers(count: int) -> tuple[list[int], list[int]]:
    """Write 20 vendors, 50,000 products and ``count`` offers (with history); returns the vendor and product ids.

    Shared with bench/admin_pages.py. Offers go through ``offers.bulk.insert_offers``
    by 20,000, one minute apart from 2026-01-01, five currencies (1 in 1,000 in CHF).
    """
    from django.db import transaction

    from offers.bulk import OfferRow, insert_offers
    from offers.models import Product, Vendor

    rng = random.Random(7)
    vendors = [Vendor.objects.create(name=f"Vendor {i}").pk for i in range(20)]
    Product.objects.bulk_create(Product(name=f"Product {i}", match_key=f"product {i}") for i in range(50_000))
    products = list(Product.objects.values_list("pk", flat=True))
    start_time = datetime(2026, 1, 1, tzinfo=dt_timezone.utc)
    started = time.perf_counter()
    batch = 20_000
    for offset in range(0, count, batch):
        rows = [
            OfferRow(
                vendor_id=rng.choice(vendors), sku=f"SKU{i}", description=f"Offer {i}",
                price=Decimal(rng.randrange(1000, 200000)) / 100,
                currency="CHF" if i % 1000 == 0 else ("USD", "EUR", "GBP", "BRL")[i % 4], quantity=rng.randrange(100),
                condition=("new", "used", "refurbished", "cpo")[i % 4], condition_grade="", condition_raw="",
                observed_at=start_time + timedelta(minutes=i), source_ref=f"line {i}", product_id=rng.choice(products),
            )
            for i in range(offset, min(offset + batch, count))
        ]
        with transaction.atomic():
            insert_offers(rows)
    print(f"filled {count:,} offers in {time.perf_counter() - started:.0f} s")
    return vendors, products


if __name__ == "__main__":
    main()
