"""Benchmark: the admin pages an operator uses, over a million offers.

    .venv/bin/python bench/admin_pages.py [--offers 1000000] [--db sqlite|postgres] [--repeat 5] [--refill] [--drop]

Fills a database with N offers through bench/api_offers_paging.py's filler
(20 vendors, 50,000 products, one history point per offer), logs a staff
user in, and prints the median milliseconds and the query count of each page
an operator opens: the offer and price-history lists (first page, page 2, a
deep page, each filter, a search, a sorted column), their change, add and
delete pages, and the product, vendor and vendor-alias lists and pages.

The filled database is kept for the next run (a million offers take minutes to
write): SQLite under /tmp/pricehub-admin-bench/, PostgreSQL as the database
``pricehub_admin_bench_<N>`` on BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres). ``--refill`` starts again from
an empty database; ``--drop`` removes the database when the run ends.
SQLite gets no ANALYZE, as a deployment does not run one; PostgreSQL gets the
VACUUM ANALYZE that autovacuum would run after the import.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path("/tmp/pricehub-admin-bench")


def main() -> None:
    """Parse the options, point the settings at the kept database, run, and drop it if asked."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=5, help="requests per page; the median is printed")
    parser.add_argument("--refill", action="store_true", help="empty the kept database and fill it again")
    parser.add_argument("--drop", action="store_true", help="remove the database when done")
    args = parser.parse_args()

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    # DEBUG on, as bench/api_offers_paging.py: production's static files need collectstatic first.
    os.environ.update(DEBUG="true", ALLOWED_HOSTS="testserver", LOG_LEVEL="WARNING",
                      INGESTION_STORAGE_DIR=str(BENCH_DIR / "storage"))
    drop = None
    if args.db == "sqlite":
        path = BENCH_DIR / f"offers-{args.offers}.sqlite3"
        if args.refill:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["SQLITE_PATH"] = str(path)
        os.environ.pop("DATABASE_URL", None)
        if args.drop:
            def drop():
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        os.environ["DATABASE_URL"], drop = kept_postgres_database(f"pricehub_admin_bench_{args.offers}", args.refill)
        if not args.drop:
            drop = None
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")
    import django

    django.setup()
    try:
        run(args.offers, args.repeat)
    finally:
        from django.db import connections

        connections.close_all()
        if drop:
            drop()


def kept_postgres_database(name: str, refill: bool):
    """A PostgreSQL database that outlives the run (created when missing); returns its URL and a dropper."""
    import psycopg

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if refill:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def prepare(count: int):
    """Migrate, fill when the kept database holds fewer offers, and return a logged-in staff client."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from api_offers_paging import fill_offers
    from offers.models import Offer, PriceHistory, Vendor, VendorAlias

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - started:.1f} s")
    if not Offer.objects.filter(pk__gte=count).exists():
        if Offer.objects.exists():
            raise SystemExit("the kept database is partly filled: run again with --refill")
        fill_offers(count)
        VendorAlias.objects.bulk_create(
            VendorAlias(vendor=vendor, kind=VendorAlias.Kind.WHATSAPP_SENDER, alias=f"+1 555 {vendor.pk:04d} {n:03d}")
            for vendor in Vendor.objects.all() for n in range(50)
        )
        if connection.vendor == "postgresql":  # what autovacuum does after a large import
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
    if not Vendor.objects.filter(name="Small Vendor").exists():
        # A vendor with a dozen offers, all among the oldest: a page of its own is
        # not met by reading the million newer ones.
        small = Vendor.objects.create(name="Small Vendor")
        Offer.objects.filter(pk__lte=12).update(vendor=small)
        PriceHistory.objects.filter(offer_id__lte=12).update(vendor=small)
        Offer.objects.filter(pk__gt=12, pk__lte=24).update(currency="JPY")  # and a currency as rare and old
        PriceHistory.objects.filter(offer_id__gt=12, offer_id__lte=24).update(currency="JPY")
    user = User.objects.filter(username="bench-operator").first() or User.objects.create_superuser(
        "bench-operator", "bench@example.invalid", secrets.token_urlsafe(16)
    )
    client = Client()
    client.force_login(user)
    return client


def pages(count: int) -> list[tuple[str, str]]:
    """(label, URL) of each page an operator opens, built from rows of the filled database."""
    from offers.admin import OfferAdmin
    from offers.models import Offer, PriceHistory, Product, Vendor, VendorAlias

    offer = Offer.objects.order_by("-pk").only("pk")[12345]
    point = PriceHistory.objects.order_by("-pk").only("pk")[12345]
    vendor = Vendor.objects.order_by("pk")[3]
    small = Vendor.objects.get(name="Small Vendor")
    product = Product.objects.order_by("pk")[12345]
    alias = VendorAlias.objects.order_by("pk").first()
    last = -(-count // OfferAdmin.list_per_page)
    o, h, p, v, a = (f"/admin/offers/{m}/" for m in ("offer", "pricehistory", "product", "vendor", "vendoralias"))
    return [
        ("offers: list", o),
        ("offers: page 2", f"{o}?p=2"),
        ("offers: page 1,000", f"{o}?p=1000"),
        ("offers: last page", f"{o}?p={last}"),
        ("offers: filter vendor", f"{o}?vendor__id__exact={vendor.pk}"),
        ("offers: filter vendor, page 50", f"{o}?vendor__id__exact={vendor.pk}&p=50"),
        ("offers: filter a vendor of 12 old offers", f"{o}?vendor__id__exact={small.pk}"),
        ("offers: filter a currency of 12 old offers", f"{o}?currency__exact=JPY"),
        ("offers: filter condition=used", f"{o}?condition__exact=used"),
        ("offers: filter currency=CHF (0.1%)", f"{o}?currency__exact=CHF"),
        ("offers: filter observed in a month",
         f"{o}?observed_at__gte=2026-03-01+00:00:00%2B00:00&observed_at__lt=2026-04-01+00:00:00%2B00:00"),
        ("offers: filter product (from its page)", f"{o}?product__id__exact={product.pk}"),
        ("offers: search product name", f"{o}?q=Product+12345"),
        ("offers: search, no match", f"{o}?q=no+such+phone"),
        ("offers: sort by price", f"{o}?o=-{OfferAdmin.list_display.index('price') + 1}"),
        ("offers: change page", f"{o}{offer.pk}/change/"),
        ("offers: add page", f"{o}add/"),
        ("offers: delete page", f"{o}{offer.pk}/delete/"),
        ("history: list", h),
        ("history: page 2", f"{h}?p=2"),
        ("history: page 1,000", f"{h}?p=1000"),
        ("history: last page", f"{h}?p={last}"),
        ("history: filter vendor", f"{h}?vendor__id__exact={vendor.pk}"),
        ("history: filter a vendor of 12 old points", f"{h}?vendor__id__exact={small.pk}"),
        ("history: filter a currency of 12 old points", f"{h}?currency__exact=JPY"),
        ("history: filter condition=used", f"{h}?condition__exact=used"),
        ("history: filter currency=CHF (0.1%)", f"{h}?currency__exact=CHF"),
        ("history: search product name", f"{h}?q=Product+12345"),
        ("history: view page", f"{h}{point.pk}/change/"),
        ("products: list", p),
        ("products: page 2", f"{p}?p=2"),
        ("products: search", f"{p}?q=Product+12345"),
        ("products: change page", f"{p}{product.pk}/change/"),
        ("products: add page", f"{p}add/"),
        ("vendors: list", v),
        ("vendors: search", f"{v}?q=Vendor+1"),
        ("vendors: change page", f"{v}{vendor.pk}/change/"),
        ("vendors: add page", f"{v}add/"),
        ("vendors: autocomplete", f"/admin/autocomplete/?app_label=offers&model_name=offer&field_name=vendor&term=Ven"),
        ("vendor aliases: list", a),
        ("vendor aliases: search", f"{a}?q=555"),
        ("vendor aliases: change page", f"{a}{alias.pk}/change/"),
        ("vendor aliases: add page", f"{a}add/"),
    ]


def run(count: int, repeat: int) -> None:
    """Time every page ``repeat`` times, count its queries once, and print the table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = prepare(count)
    rows = []
    for label, url in pages(count):
        samples = []
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{label}: {url} answered {response.status_code}")
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        rows.append((label, statistics.median(samples), len(queries)))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{connection.vendor}, {count:,} offers, median of {repeat} requests (load average {load})")
    print(f"| {'page':<44} | {'ms':>7} | queries |")
    print(f"| {'-' * 44} | {'-' * 7} | ------- |")
    for label, ms, queries in rows:
        print(f"| {label:<44} | {ms:7.1f} | {queries:>7} |")
    print(f"slowest: {max(rows, key=lambda r: r[1])[0]} ({max(r[1] for r in rows):.1f} ms)")


if __name__ == "__main__":
    main()
