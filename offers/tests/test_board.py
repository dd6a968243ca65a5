"""offers.board: the freshness window, one current offer per vendor, product and condition,
cheapest first, exchange rates (never a silent conversion), the board's filters and rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from documents.models import SourceDocument
from offers import board
from offers.models import Category, ExchangeRate

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def window(settings):
    settings.OFFER_FRESHNESS_HOURS = 72
    settings.EXCHANGE_BASE_CURRENCY = "USD"
    settings.TIME_ZONE = "UTC"


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def current(product, **kw):
    return [(o.vendor_name, o.condition, o.price) for o in board.current_offers(product, now=NOW, **kw)]


def test_window_edges_are_inclusive_and_older_offers_are_history(build):
    phone = build.product("Phone")
    edge, older, future = build.vendor("Edge"), build.vendor("Older"), build.vendor("Future")
    build.offer(vendor=edge, product=phone, price="100", observed_at=ago(72))
    build.offer(vendor=older, product=phone, price="90", observed_at=ago(72) - timedelta(seconds=1))
    build.offer(vendor=future, product=phone, price="80", observed_at=NOW + timedelta(seconds=1))
    assert current(phone) == [("Edge", "unknown", Decimal("100.00"))]
    # A shorter window leaves the edge offer out too.
    assert board.current_offers(phone, now=NOW, hours=71) == []


def test_latest_offer_per_vendor_wins_even_when_dearer(build):
    phone, acme = build.product("Phone"), build.vendor("Acme")
    build.offer(vendor=acme, product=phone, price="90", observed_at=ago(30))
    build.offer(vendor=acme, product=phone, price="110", observed_at=ago(2))
    assert current(phone) == [("Acme", "unknown", Decimal("110.00"))]


def test_same_time_twice_keeps_the_cheaper_line(build):
    phone, acme = build.product("Phone"), build.vendor("Acme")
    build.offer(vendor=acme, product=phone, price="105", observed_at=ago(2), history=False)
    build.offer(vendor=acme, product=phone, price="99", observed_at=ago(2), history=False)
    build.offer(vendor=acme, product=phone, price="101", observed_at=ago(2), history=False)
    assert current(phone) == [("Acme", "unknown", Decimal("99.00"))]


def test_condition_is_part_of_the_key(build):
    phone, acme = build.product("Phone"), build.vendor("Acme")
    build.offer(vendor=acme, product=phone, price="900", condition="new", observed_at=ago(5))
    build.offer(vendor=acme, product=phone, price="650", condition="refurbished", observed_at=ago(1))
    assert current(phone) == [("Acme", "refurbished", Decimal("650.00")), ("Acme", "new", Decimal("900.00"))]
    assert current(phone, condition="new") == [("Acme", "new", Decimal("900.00"))]


def test_cheapest_first_across_vendors(build):
    phone = build.product("Phone")
    for name, price in [("Bolt", "120"), ("Acme", "95.50"), ("Core", "101")]:
        build.offer(vendor=build.vendor(name), product=phone, price=price, observed_at=ago(3))
    assert [row[0] for row in current(phone)] == ["Acme", "Core", "Bolt"]
    first = board.current_offers(phone, now=NOW)[0]
    assert first.age_hours == 3.0 and first.base_price == Decimal("95.50") and first.base_currency == "USD"


def test_offers_of_a_document_still_ingesting_are_hidden(build):
    phone = build.product("Phone")
    pending = build.document(status=SourceDocument.Status.PROCESSING)
    build.offer(vendor=build.vendor("Hidden"), product=phone, price="10", observed_at=ago(1), source_document=pending)
    build.offer(vendor=build.vendor("Shown"), product=phone, price="20", observed_at=ago(1))
    assert [row[0] for row in current(phone)] == ["Shown"]


def test_rate_is_the_latest_on_or_before_the_observed_day(build):
    phone = build.product("Phone")
    ExchangeRate.objects.create(date=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    ExchangeRate.objects.create(date=date(2026, 11, 9), currency="EUR", rate=Decimal("1.20"))
    ExchangeRate.objects.create(date=date(2026, 11, 10), currency="EUR", rate=Decimal("1.50"))
    offer = build.offer(vendor=build.vendor("Euro"), product=phone, price="100", currency="EUR",
                        observed_at=datetime(2026, 11, 9, 23, 0, tzinfo=dt_timezone.utc))
    [row] = board.current_offers(phone, now=NOW)
    assert (row.offer_id, row.base_price, row.rate, row.rate_date) == (offer.id, Decimal("120.00"),
                                                                       Decimal("1.2"), date(2026, 11, 9))
    assert row.conversion_note == ""


def test_no_rate_means_no_conversion_and_a_reason(build):
    phone = build.product("Phone")
    # A rate dated after the offer's day does not count.
    ExchangeRate.objects.create(date=date(2026, 11, 10), currency="BRL", rate=Decimal("0.2"))
    build.offer(vendor=build.vendor("Real"), product=phone, price="50", currency="BRL", observed_at=ago(20))
    build.offer(vendor=build.vendor("Dollar"), product=phone, price="500", currency="USD", observed_at=ago(20))
    rows = board.current_offers(phone, now=NOW)
    assert [(r.vendor_name, r.base_price) for r in rows] == [("Dollar", Decimal("500.00")), ("Real", None)]
    assert "no exchange rate BRL→USD dated on or before 2026-11-09" in rows[1].conversion_note


def test_exchange_rate_constraints(db):
    ExchangeRate.objects.create(date=date(2026, 11, 1), currency="EUR", rate=Decimal("1.1"))
    bad = [dict(currency="EUR", rate=Decimal("1.2")), dict(currency="GBP", rate=Decimal("0")),
           dict(currency="GBP", rate=Decimal("-1")), dict(currency="eur", rate=Decimal("1")),
           dict(currency="EU", rate=Decimal("1"))]
    for values in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            ExchangeRate.objects.create(date=date(2026, 11, 1), **values)


@pytest.fixture
def market(build):
    """Two phones; Acme and Bolt in USD, Euro in EUR, Real in BRL (no rate), new and used."""
    phones = Category.objects.create(name="Phones")
    iphone = build.product("Apple iPhone 15 128GB", brand="Apple", category=phones)
    galaxy = build.product("Samsung Galaxy S24 256GB", brand="Samsung")
    acme, bolt, euro, real = (build.vendor(n) for n in ("Acme", "Bolt", "Euro", "Real"))
    build.offer(vendor=acme, product=iphone, price="700", condition="new", quantity=5, observed_at=ago(10))
    build.offer(vendor=bolt, product=iphone, price="720", condition="new", quantity=2, observed_at=ago(1))
    build.offer(vendor=euro, product=iphone, price="600", currency="EUR", condition="new", observed_at=ago(4))
    build.offer(vendor=real, product=iphone, price="3500", currency="BRL", condition="new", observed_at=ago(4))
    build.offer(vendor=acme, product=iphone, price="500", condition="used", observed_at=ago(6))
    build.offer(vendor=bolt, product=galaxy, price="800", condition="new", observed_at=ago(6))
    build.offer(vendor=acme, product=galaxy, price="100", condition="new", observed_at=ago(100))  # history
    return {"iphone": iphone, "galaxy": galaxy, "phones": phones, "acme": acme, "bolt": bolt, "euro": euro}


def summary(rows):
    return [(r.product_name.split()[1], r.condition, r.currency, r.converted, r.best.vendor_name, r.best_price,
             r.vendor_count, r.spread) for r in rows]


def test_board_without_rates_compares_within_each_currency(market):
    rows = board.board(now=NOW)
    assert summary(rows) == [
        ("iPhone", "new", "USD", True, "Acme", Decimal("700.00"), 2, Decimal("20.00")),
        ("iPhone", "new", "BRL", False, "Real", Decimal("3500.00"), 1, Decimal("0.00")),
        ("iPhone", "new", "EUR", False, "Euro", Decimal("600.00"), 1, Decimal("0.00")),
        ("iPhone", "used", "USD", True, "Acme", Decimal("500.00"), 1, Decimal("0.00")),
        ("Galaxy", "new", "USD", True, "Bolt", Decimal("800.00"), 1, Decimal("0.00")),
    ]
    by_key = {(r.product_name, r.condition, r.currency): r for r in rows}
    assert [k for k in by_key] == [
        ("Apple iPhone 15 128GB", "new", "USD"), ("Apple iPhone 15 128GB", "new", "BRL"),
        ("Apple iPhone 15 128GB", "new", "EUR"), ("Apple iPhone 15 128GB", "used", "USD"),
        ("Samsung Galaxy S24 256GB", "new", "USD"),
    ]
    usd = by_key[("Apple iPhone 15 128GB", "new", "USD")]
    assert (usd.best.vendor_name, usd.best_price, usd.best.quantity, usd.best.age_hours) == ("Acme",
                                                                                            Decimal("700.00"), 5, 10.0)
    assert (usd.vendor_count, usd.vendors_all_currencies, usd.spread) == (2, 4, Decimal("20.00"))
    eur = by_key[("Apple iPhone 15 128GB", "new", "EUR")]
    assert not eur.converted and eur.best_price == Decimal("600.00") and "no exchange rate EUR→USD" in eur.note
    assert by_key[("Samsung Galaxy S24 256GB", "new", "USD")].best_price == Decimal("800.00")  # 100 is history


def test_board_with_rates_compares_in_the_base_currency(market):
    ExchangeRate.objects.create(date=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"))
    rows = [r for r in board.board(now=NOW) if r.product_name.startswith("Apple") and r.condition == "new"]
    usd, brl = rows
    assert (usd.currency, usd.converted, usd.vendor_count) == ("USD", True, 3)
    assert (usd.best.vendor_name, usd.best_price, usd.best.price, usd.best.currency) == (
        "Euro", Decimal("660.00"), Decimal("600.00"), "EUR")
    assert usd.spread == Decimal("60.00")
    assert (brl.currency, brl.converted, brl.vendor_count) == ("BRL", False, 1)  # still not converted


def test_board_filters(market):
    def names(**kw):
        return sorted({(r.product_name, r.condition, r.currency) for r in board.board(now=NOW, **kw)})

    assert {n for n, _, _ in names(q="galaxy")} == {"Samsung Galaxy S24 256GB"}
    assert {n for n, _, _ in names(brand="apple")} == {"Apple iPhone 15 128GB"}
    assert {n for n, _, _ in names(category_id=market["phones"].id)} == {"Apple iPhone 15 128GB"}
    assert {c for _, c, _ in names(condition="used")} == {"used"}
    assert names(currency="eur") == [("Apple iPhone 15 128GB", "new", "EUR")]
    assert names(min_vendors=2) == [("Apple iPhone 15 128GB", "new", "USD")]
    assert names(q="nothing like it") == []


def test_price_series_per_vendor_condition_and_currency(build):
    phone, acme = build.product("Phone"), build.vendor("Acme")
    build.offer(vendor=acme, product=phone, price="100", condition="new", observed_at=ago(50))
    build.offer(vendor=acme, product=phone, price="90", condition="new", observed_at=ago(5))
    build.offer(vendor=acme, product=phone, price="70", condition="used", observed_at=ago(5))
    series = board.price_series(phone)
    assert [(s.vendor_name, s.condition, [p for _, p in s.points]) for s in series] == [
        ("Acme", "new", [Decimal("100.00"), Decimal("90.00")]), ("Acme", "used", [Decimal("70.00")]),
    ]
    assert [len(s.points) for s in board.price_series(phone, since=ago(10))] == [1, 1]


def test_board_reads_a_fixed_number_of_queries(build, django_assert_max_num_queries):
    ExchangeRate.objects.create(date=date(2026, 11, 1), currency="EUR", rate=Decimal("1.1"))

    def fill(n):
        for _ in range(n):
            build.offer(product=build.product(), price="10", currency=("USD", "EUR")[_ % 2], observed_at=ago(1))

    fill(3)
    with django_assert_max_num_queries(10) as small:
        board.board(now=NOW)
    fill(30)
    with django_assert_max_num_queries(10) as large:
        board.board(now=NOW)
    assert len(small.captured_queries) == len(large.captured_queries)


def test_the_window_follows_the_setting(build, settings):
    phone = build.product("Phone")
    build.offer(vendor=build.vendor("Day old"), product=phone, price="100", observed_at=ago(30))
    assert len(board.current_offers(phone, now=NOW)) == 1
    settings.OFFER_FRESHNESS_HOURS = 24
    assert board.current_offers(phone, now=NOW) == [] and board.board(now=NOW) == []


def test_base_currency_follows_the_setting(build, settings):
    settings.EXCHANGE_BASE_CURRENCY = "EUR"
    phone = build.product("Phone")
    build.offer(vendor=build.vendor("Euro"), product=phone, price="100", currency="EUR", observed_at=ago(1))
    build.offer(vendor=build.vendor("Dollar"), product=phone, price="100", currency="USD", observed_at=ago(1))
    ExchangeRate.objects.create(date=date(2026, 11, 1), currency="USD", rate=Decimal("0.9"))
    rows = board.board(now=NOW)
    assert [(r.currency, r.best.vendor_name, r.best_price, r.spread) for r in rows] == [
        ("EUR", "Dollar", Decimal("90.00"), Decimal("10.00"))]
