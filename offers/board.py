"""Who sells a product, at what price, today: current offers and the best-price board.

A vendor's *current* offer is its latest one, by observed time, for one product **and one
condition**, observed within the freshness window (``settings.OFFER_FRESHNESS_HOURS``, 72 by
default: from ``now - hours`` inclusive to ``now`` inclusive). Older offers are history;
offers dated after ``now`` are not current yet. Condition is part of the key because a
vendor's list often carries the same phone new and refurbished (or new and used) at very
different prices on different lines of the same list: keyed by vendor and product alone, the
later line would hide the other, and a refurbished price would be compared with new ones.
Two offers of the same key observed at the same time (a list naming a product twice, a list
ingested again) are told apart by the lower price, then the later id.

Prices compare in ``settings.EXCHANGE_BASE_CURRENCY`` through ``ExchangeRate``: an offer is
converted with the latest rate of its currency dated on or before the day it was observed
(its date in ``settings.TIME_ZONE``). An offer whose currency has no such rate is never
converted: its ``base_price`` is ``None`` and ``conversion_note`` says why, and on the board
it is compared only with offers in its own currency (a row of its own).

Reads use the visible managers (rows of documents still ingesting are hidden). The board
reads the window's offers through the offers' ``(observed_at, id)`` index, newest first,
keeping the first offer met per key: one pass over the window, whatever the table's size.
A product's current offers read its offers through the ``(product, id)`` index. Price
series (charts) read history points through the ``pricehistory_point`` index.
"""

from __future__ import annotations

import bisect
import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from offers.models import ExchangeRate, Offer, PriceHistory, Product, Vendor

CENT = Decimal("0.01")
ID_CHUNK = 5_000  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def base_currency() -> str:
    """The currency prices are compared in (``settings.EXCHANGE_BASE_CURRENCY``)."""
    return settings.EXCHANGE_BASE_CURRENCY


def freshness_window(now: datetime | None = None, hours: int | None = None) -> tuple[datetime, datetime]:
    """``(start, end)`` of the freshness window: ``end`` is ``now`` (default: the current time),
    ``start`` is ``hours`` (default ``settings.OFFER_FRESHNESS_HOURS``) before it; both inclusive."""
    end = now or timezone.now()
    span = settings.OFFER_FRESHNESS_HOURS if hours is None else hours
    return end - timedelta(hours=span), end


@dataclass(slots=True)
class CurrentOffer:
    """One vendor's current offer for a product in one condition.

    ``price`` and ``currency`` are the vendor's; ``base_price`` is ``price`` in the base
    currency (2 decimals) with ``rate`` of ``rate_date``, or ``None`` with
    ``conversion_note`` saying why. ``age_hours`` is the time since ``observed_at``.
    """

    offer_id: int
    vendor_id: int
    vendor_name: str
    product_id: int
    product_name: str
    condition: str
    price: Decimal
    currency: str
    quantity: int | None
    observed_at: datetime
    age_hours: float = 0.0
    base_currency: str = ""
    base_price: Decimal | None = None
    rate: Decimal | None = None
    rate_date: date | None = None
    conversion_note: str = ""

    @property
    def comparable_price(self) -> Decimal:
        """The price to compare with: ``base_price`` when converted, else the vendor's own."""
        return self.price if self.base_price is None else self.base_price


@dataclass(slots=True)
class BoardRow:
    """The board's answer for one product in one condition and one comparison currency.

    ``currency`` is the base currency when ``converted`` (every offer of the row was in it or
    had a rate), else the one currency of offers that have no rate (``note`` says so).
    ``best_price``, ``min_price``, ``max_price`` and ``spread`` (max - min) are in
    ``currency``; ``best`` is the cheapest offer; ``vendor_count`` counts the row's vendors,
    ``vendors_all_currencies`` the vendors of this product and condition in every row.
    """

    product_id: int
    product_name: str
    brand: str
    condition: str
    currency: str
    converted: bool
    best: CurrentOffer
    vendor_count: int
    best_price: Decimal
    min_price: Decimal
    max_price: Decimal
    spread: Decimal
    vendors_all_currencies: int = 0
    note: str = ""
    offers: list[CurrentOffer] = field(default_factory=list)


class RateTable:
    """Exchange rates of some currencies over a span of days, read once, looked up in memory.

    ``RateTable.load(currencies, first_day, last_day)`` reads the rates dated in the span plus
    the latest one before it, per currency (through the ``(currency, date)`` unique index).
    """

    def __init__(self, base: str, rates: dict[str, list[tuple[date, Decimal]]]):
        self.base = base
        self._days = {code: [day for day, _ in series] for code, series in rates.items()}
        self._rates = rates

    @classmethod
    def load(cls, currencies, first_day: date, last_day: date) -> RateTable:
        """The rates of ``currencies`` (the base currency needs none) usable from ``first_day`` to ``last_day``."""
        base = base_currency()
        wanted = sorted({code for code in currencies if code != base})
        rates: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        if wanted:
            for code in wanted:
                before = (ExchangeRate.objects.filter(currency=code, date__lt=first_day)
                          .order_by("-date").values_list("date", "rate")[:1])
                rates[code].extend(before)
            in_span = (ExchangeRate.objects.filter(currency__in=wanted, date__gte=first_day, date__lte=last_day)
                       .order_by("currency", "date").values_list("currency", "date", "rate"))
            for code, day, rate in in_span:
                rates[code].append((day, rate))
        return cls(base, dict(rates))

    def convert(self, price: Decimal, currency: str,
                day: date) -> tuple[Decimal | None, Decimal | None, date | None, str]:
        """``(base_price, rate, rate_date, note)`` for ``price`` in ``currency`` observed on ``day``;
        ``(None, None, None, reason)`` when no rate of that currency is dated on or before ``day``."""
        if currency == self.base:
            return price, None, None, ""
        days = self._days.get(currency, [])
        index = bisect.bisect_right(days, day) - 1
        if index < 0:
            return None, None, None, (
                f"no exchange rate {currency}→{self.base} dated on or before {day:%Y-%m-%d}: "
                f"compared only with other {currency} offers"
            )
        rate_day, rate = self._rates[currency][index]
        return (price * rate).quantize(CENT, rounding=ROUND_HALF_UP), rate, rate_day, ""


def _convert_all(offers: list[CurrentOffer], now: datetime) -> None:
    """Fill each offer's age and base-currency price (one rate read for all)."""
    if not offers:
        return
    zone = timezone.get_current_timezone()  # once: localdate() looks it up per call
    days = [offer.observed_at.astimezone(zone).date() for offer in offers]
    table = RateTable.load({offer.currency for offer in offers}, min(days), max(days))
    for offer, day in zip(offers, days):
        offer.age_hours = round((now - offer.observed_at).total_seconds() / 3600, 1)
        offer.base_currency = table.base
        offer.base_price, offer.rate, offer.rate_date, offer.conversion_note = table.convert(
            offer.price, offer.currency, day
        )


def cheapest_first_key(offer: CurrentOffer):
    """Sort key: converted (or base-currency) offers by base price first; then offers without a
    rate, grouped by currency, cheapest first within each; ties by vendor name."""
    if offer.base_price is not None:
        return (0, "", offer.base_price, offer.vendor_name.casefold(), offer.offer_id)
    return (1, offer.currency, offer.price, offer.vendor_name.casefold(), offer.offer_id)


OFFER_FIELDS = ("id", "vendor_id", "product_id", "condition", "price", "currency", "quantity", "observed_at")


def _latest_per_key(rows) -> dict[tuple[int, int, str], tuple]:
    """The first row per (vendor, product, condition) of ``rows`` read newest first (then cheapest)."""
    latest: dict[tuple[int, int, str], tuple] = {}
    for row in rows:
        _, vendor_id, product_id, condition, price, _, _, observed_at = row
        key = (vendor_id, product_id, condition)
        kept = latest.get(key)
        if kept is None or (kept[7] == observed_at and price < kept[4]):
            latest[key] = row
    return latest


def _names(model, ids) -> dict[int, str]:
    names: dict[int, str] = {}
    ids = list(ids)
    for start in range(0, len(ids), ID_CHUNK):
        names.update(model.objects.filter(pk__in=ids[start: start + ID_CHUNK]).order_by().values_list("pk", "name"))
    return names


def _current(latest: dict, now: datetime, product_names: dict[int, str] | None = None) -> list[CurrentOffer]:
    vendors = _names(Vendor, {key[0] for key in latest})
    if product_names is None:
        product_names = _names(Product, {key[1] for key in latest})
    offers = [
        CurrentOffer(
            offer_id=row[0], vendor_id=row[1], vendor_name=vendors.get(row[1], ""), product_id=row[2],
            product_name=product_names.get(row[2], ""), condition=row[3], price=row[4], currency=row[5],
            quantity=row[6], observed_at=row[7],
        )
        for row in latest.values()
    ]
    _convert_all(offers, now)
    return offers


def current_offers(product: Product | int, *, now: datetime | None = None, hours: int | None = None,
                   condition: str | None = None) -> list[CurrentOffer]:
    """Each vendor's current offer for ``product`` (one per vendor and condition), cheapest first
    (``cheapest_first_key``). ``condition`` keeps one condition only. Reads the product's
    offers in the window through the ``(product, id)`` index: a few queries whatever the count."""
    product_id = product.pk if isinstance(product, Product) else int(product)
    start, end = freshness_window(now, hours)
    offers = Offer.objects.filter(product_id=product_id, observed_at__gte=start, observed_at__lte=end)
    if condition:
        offers = offers.filter(condition=condition)
    rows = offers.order_by("-observed_at", "-id").values_list(*OFFER_FIELDS)
    names = None
    if isinstance(product, Product):
        names = {product.pk: product.name}
    result = _current(_latest_per_key(rows), end, names)
    result.sort(key=cheapest_first_key)
    return result


def board_products(*, q: str = "", brand: str = "", category_id: int | None = None):
    """The products the board's ``q`` (every word of the name, or a vendor SKU), ``brand``
    (case-insensitive, exact) and ``category_id`` filters keep, as a queryset; ``None`` when
    no filter is given (every product)."""
    from offers.selectors import products_matching

    if not (q or brand or category_id):
        return None
    products = products_matching(q) if q and q.strip() else Product.objects.all()
    if brand:
        products = products.filter(brand__iexact=brand.strip())
    if category_id:
        products = products.filter(category_id=category_id)
    return products


@contextmanager
def _collector_paused():
    """Python's cycle collector off while the board builds its 100,000s of objects, none of
    them in a cycle: each full collection walks every object built so far, which took a third
    of the board's time at 100,000 current offers. It is on again (if it was) at the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def board(q: str = "", brand: str = "", category_id: int | None = None, condition: str = "", currency: str = "",
          min_vendors: int = 1, *, now: datetime | None = None, hours: int | None = None) -> list[BoardRow]:
    """The best-price board: one ``BoardRow`` per product, condition and comparison currency
    holding at least ``min_vendors`` vendors, ordered by product name, then condition, the
    converted row before the per-currency ones.

    Filters: ``q``, ``brand``, ``category_id`` narrow the products (``board_products``);
    ``condition`` (a ``Condition`` value) and ``currency`` (an ISO code: offers in that
    currency only) narrow the offers. The window's offers are read once, newest first,
    through the ``(observed_at, id)`` index.
    """
    with _collector_paused():
        return _board(q, brand, category_id, condition, currency, min_vendors, now, hours)


def _board(q, brand, category_id, condition, currency, min_vendors, now, hours) -> list[BoardRow]:
    start, end = freshness_window(now, hours)
    offers = Offer.objects.filter(observed_at__gte=start, observed_at__lte=end)
    products = board_products(q=q, brand=brand, category_id=category_id)
    if products is not None:
        offers = offers.filter(product_id__in=products.order_by().values("pk"))
    if condition:
        offers = offers.filter(condition=condition)
    if currency:
        offers = offers.filter(currency=currency.upper())
    rows = offers.order_by("-observed_at", "-id").values_list(*OFFER_FIELDS)
    latest = _latest_per_key(rows)
    product_info: dict[int, tuple[str, str]] = {}
    ids = list({key[1] for key in latest})
    for first in range(0, len(ids), ID_CHUNK):
        for pk, name, brand_name in Product.objects.filter(pk__in=ids[first: first + ID_CHUNK]).order_by().values_list(
            "pk", "name", "brand"
        ):
            product_info[pk] = (name, brand_name)
    current = _current(latest, end, {pk: info[0] for pk, info in product_info.items()})

    groups: dict[tuple[int, str, str], list[CurrentOffer]] = defaultdict(list)
    vendors_per_condition: dict[tuple[int, str], int] = defaultdict(int)
    for offer in current:
        compared_in = offer.base_currency if offer.base_price is not None else offer.currency
        groups[(offer.product_id, offer.condition, compared_in)].append(offer)
        vendors_per_condition[(offer.product_id, offer.condition)] += 1

    result = []
    for (product_id, condition_value, compared_in), members in groups.items():
        if len(members) < max(min_vendors, 1):
            continue
        members.sort(key=cheapest_first_key)
        prices = [offer.comparable_price for offer in members]
        converted = members[0].base_price is not None
        name, brand_name = product_info.get(product_id, ("", ""))
        result.append(BoardRow(
            product_id=product_id, product_name=name, brand=brand_name, condition=condition_value,
            currency=compared_in, converted=converted, best=members[0], vendor_count=len(members),
            best_price=prices[0], min_price=min(prices), max_price=max(prices), spread=max(prices) - min(prices),
            vendors_all_currencies=vendors_per_condition[(product_id, condition_value)],
            note="" if converted else members[0].conversion_note, offers=members,
        ))
    result.sort(key=lambda row: (row.product_name.casefold(), row.product_id, row.condition, not row.converted,
                                 row.currency))
    return result


@dataclass(slots=True)
class Series:
    """One vendor's price series of a product in one condition and currency: ``points`` are
    ``(observed_at, price)`` oldest first."""

    vendor_id: int
    vendor_name: str
    condition: str
    currency: str
    points: list[tuple[datetime, Decimal]]


def price_series(product: Product | int, *, since: datetime | None = None, per_series: int = 500) -> list[Series]:
    """The product's history points per vendor, condition and currency, read through the
    ``pricehistory_point`` index (product, vendor, condition, observed_at, ...), keeping the
    latest ``per_series`` points of each series. Series are ordered by vendor name."""
    product_id = product.pk if isinstance(product, Product) else int(product)
    points = PriceHistory.objects.filter(product_id=product_id)
    if since:
        points = points.filter(observed_at__gte=since)
    rows = points.order_by("vendor_id", "condition", "observed_at").values_list(
        "vendor_id", "condition", "currency", "observed_at", "price"
    )
    grouped: dict[tuple[int, str, str], list[tuple[datetime, Decimal]]] = defaultdict(list)
    for vendor_id, condition, currency, observed_at, price in rows:
        grouped[(vendor_id, condition, currency)].append((observed_at, price))
    names = _names(Vendor, {key[0] for key in grouped})
    result = [
        Series(vendor_id=key[0], vendor_name=names.get(key[0], ""), condition=key[1], currency=key[2],
               points=values[-per_series:])
        for key, values in grouped.items()
    ]
    result.sort(key=lambda s: (s.vendor_name.casefold(), s.vendor_id, s.condition, s.currency))
    return result


__all__ = [
    "BoardRow", "CurrentOffer", "RateTable", "Series", "base_currency", "board", "board_products",
    "cheapest_first_key", "current_offers", "freshness_window", "price_series",
]
