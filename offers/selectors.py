"""Reads that shape data: the per-vendor price series of a product (API), and the admin's lists over
millions of rows (product-first search, a paginator that does not count the table, capped counts)."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, Func, IntegerField, OuterRef, Q, Subquery
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from django.utils.timezone import is_naive, make_aware
from rest_framework.exceptions import ValidationError

from offers.similarity import normalize_sku
from offers.models import Offer, PriceHistory, Product, ProductAlias, Vendor, VendorAlias


def parse_time_range(params) -> tuple[datetime | None, datetime | None]:
    """Read ``since`` / ``until`` (ISO 8601) from query parameters; a bad value is a 400."""
    bounds = []
    for name in ("since", "until"):
        raw = params.get(name)
        if not raw:
            bounds.append(None)
            continue
        try:
            value = parse_datetime(raw) or (parse_datetime(raw + "T00:00:00"))
        except ValueError:
            value = None
        if value is None:
            raise ValidationError({name: f"{raw!r} is not an ISO 8601 date or datetime"})
        bounds.append(make_aware(value) if is_naive(value) else value)
    return bounds[0], bounds[1]


def price_series(*, product: Product, since: datetime | None, until: datetime | None) -> list[dict]:
    """The product's price points grouped into one series per vendor, condition and currency."""
    points = PriceHistory.objects.filter(product=product).select_related("vendor")
    if since:
        points = points.filter(observed_at__gte=since)
    if until:
        points = points.filter(observed_at__lt=until)
    points = points.order_by("vendor_id", "condition", "currency", "observed_at", "id")

    def key(point):
        return point.vendor_id, point.condition, point.currency

    return [
        {
            "vendor_id": vendor_id,
            "vendor_name": group[0].vendor.name,
            "condition": condition,
            "currency": currency,
            "points": group,
        }
        for (vendor_id, condition, currency), members in groupby(points, key=key)
        for group in [list(members)]
    ]


# --- Admin lists over millions of rows -------------------------------------------------------------

SEARCH_PRODUCTS_LIMIT = 500
"""Above this many matching products a search term is generic: offers are scanned newest first instead."""


def products_matching(term: str):
    """Products whose name holds every word of ``term`` (case-insensitive), or whose SKU alias is ``term``.

    The product table is searched, not the offers: it is a small fraction of
    their size, and the offers of the products found are then read through
    their ``product_id`` indexes.
    """
    words = term.split()
    if not words:
        return Product.objects.none()
    by_name = Q()
    for word in words:
        by_name &= Q(name__icontains=word)
    skus = ProductAlias.objects.filter(kind=ProductAlias.Kind.SKU, key=normalize_sku(term))
    by_sku = Q(pk__in=skus.values("product"))
    return Product.objects.filter(by_name | by_sku)


def vendors_matching(term: str):
    """Vendors whose name holds every word of ``term``, or with an alias (a WhatsApp number...) holding ``term``."""
    words = term.split()
    if not words:
        return Vendor.objects.none()
    by_name = Q()
    for word in words:
        by_name &= Q(name__icontains=word)
    aliases = VendorAlias.objects.filter(alias__icontains=" ".join(words)).values("vendor")
    return Vendor.objects.filter(by_name | Q(pk__in=aliases))


def search_by_product(queryset, term: str):
    """``queryset`` (offers or price-history points) narrowed to the products matching ``term``.

    A specific term (up to ``SEARCH_PRODUCTS_LIMIT`` products) becomes a list of
    product ids, each read through the ``product_id`` index. A generic term
    matches a large share of the rows anyway: they are then read in the list's
    own order with the product test as a filter, so the first page comes after
    a few hundred rows instead of after sorting every match.
    """
    ids = list(products_matching(term).order_by().values_list("pk", flat=True)[: SEARCH_PRODUCTS_LIMIT + 1])
    if len(ids) <= SEARCH_PRODUCTS_LIMIT:
        return queryset.filter(product_id__in=ids)
    unindexed = Func(F("product_id"), template="+%(expressions)s", output_field=IntegerField())
    return queryset.alias(product_scan=unindexed).filter(
        product_scan__in=products_matching(term).order_by().values("pk")
    )


def estimated_row_count(model) -> int | None:
    """The number of rows of ``model``'s table as the database estimates it, without counting them.

    PostgreSQL: the planner's ``reltuples`` (kept by autovacuum / ANALYZE).
    SQLite: ``sqlite_stat1`` when ANALYZE ran, else the span of the ids (rows
    are never renumbered, so deletions make it an overestimate). None when
    there is no estimate.
    """
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table])
            row = cursor.fetchone()
            return int(row[0]) if row and row[0] >= 0 else None
        if connection.vendor == "sqlite":
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
            if cursor.fetchone():
                cursor.execute(
                    "SELECT stat FROM sqlite_stat1 WHERE tbl = %s ORDER BY idx IS NOT NULL LIMIT 1", [table]
                )
                row = cursor.fetchone()
                if row:
                    return int(row[0].split()[0])
            pk, quoted = connection.ops.quote_name(model._meta.pk.column), connection.ops.quote_name(table)
            # Two subqueries: each is one step down the table's b-tree (MAX(id) - MIN(id) in one scans it).
            cursor.execute(f"SELECT (SELECT MAX({pk}) FROM {quoted}) - (SELECT MIN({pk}) FROM {quoted}) + 1")
            row = cursor.fetchone()
            return int(row[0]) if row and row[0] is not None else 0
    return None


class LookaheadPaginator(Paginator):
    """A paginator that never counts every row of a large list.

    It reads the requested page plus one row: that row says whether a next page
    exists, and the page itself is served from the same read (one query for
    rows and count). An unfiltered list adds the table's estimated size
    (``estimated_row_count``), so its last pages stay linked. ``count`` is
    therefore exact only when the end of the list was reached;
    ``count_label`` says which it is ("about 1,000,000", "more than 200").
    Deep pages are read in two steps: the ids of the page (an OFFSET over the
    narrowest index), then its rows by id.
    """

    DEEP_OFFSET = 10_000

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, page_number=1):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.page_number = max(int(page_number), 1)
        self.count_is_exact = True
        self.count_is_estimate = False
        self._rows = None

    @cached_property
    def count(self) -> int:
        """Rows before the requested page, plus that page's rows and one lookahead row (or the estimate)."""
        bottom = (self.page_number - 1) * self.per_page
        self._rows = self._read(bottom, self.per_page + 1)
        if len(self._rows) <= self.per_page and (self._rows or bottom == 0):
            return bottom + len(self._rows)
        self.count_is_exact = False
        known = bottom + len(self._rows)
        if not self.object_list.query.where:
            estimate = estimated_row_count(self.object_list.model) or 0
            if estimate > known:
                self.count_is_estimate = True
                return estimate
        return known

    @property
    def count_label(self) -> str:
        """The count as an operator should read it."""
        if self.count_is_exact:
            return f"{self.count:,}"
        if self.count_is_estimate:
            return f"about {self.count:,}"
        return f"more than {self.count - 1:,}"

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2):
        """Django's page links, without links to last pages that an estimated or partial count cannot place."""
        pages = super().get_elided_page_range(number, on_each_side=on_each_side, on_ends=on_ends)
        if self.count_is_exact:
            return pages
        window_end = int(number) + on_each_side
        return [page for page in pages if page == self.ELLIPSIS or page <= window_end]

    def page(self, number):
        """The page; the requested one comes from the rows already read for ``count``."""
        number = self.validate_number(number)
        if number == self.page_number and self._rows is not None:
            return self._get_page(self._rows[: self.per_page], number, self)
        bottom = (number - 1) * self.per_page
        return self._get_page(self._read(bottom, self.per_page), number, self)

    def _read(self, offset: int, limit: int) -> list:
        if offset < self.DEEP_OFFSET:
            return list(self.object_list[offset: offset + limit])
        ids = list(self.object_list.values_list("pk", flat=True)[offset: offset + limit])
        return list(self.object_list.filter(pk__in=ids)) if ids else []


def capped_count(queryset, outer_field: str, cap: int):
    """An annotation counting ``queryset`` rows whose ``outer_field`` is the outer row, up to ``cap`` + 1.

    A vendor with half a million offers costs ``cap`` index entries, not half a
    million; a result above ``cap`` means "more than ``cap``".
    """
    capped = queryset.filter(**{outer_field: OuterRef("pk")}).order_by().values("pk")[: cap + 1]
    return CappedCount(capped)


class CappedCount(Subquery):
    """``COUNT(*)`` over a (limited) subquery."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()


def vendors_for_filter(selected: str | None, *, limit: int) -> list[tuple[int, str]]:
    """(id, name) of up to ``limit`` vendors for a list filter, confirmed ones first, plus ``selected``."""
    vendors = list(Vendor.objects.order_by("is_provisional", "name").values_list("pk", "name")[:limit])
    if selected and selected.isdigit() and all(str(pk) != selected for pk, _ in vendors):
        vendors += list(Vendor.objects.filter(pk=int(selected)).values_list("pk", "name"))
    return vendors


def recent_values(model, field: str, selected: str | None, *, sample: int = 10_000) -> list[str]:
    """The distinct values of ``field`` among the latest ``sample`` rows of ``model``, plus ``selected``."""
    # Read in the primary key's order and made distinct here: as an IN (subquery),
    # PostgreSQL hashes the subquery and scans the whole table against it.
    values = set(model.objects.order_by("-pk").values_list(field, flat=True)[:sample])
    if selected:
        values.add(selected)
    return sorted(values)


def product_brands() -> list[str]:
    """The distinct non-empty brands, read from the partial brand index (products without one stay out)."""
    return list(Product.objects.exclude(brand="").order_by("brand").values_list("brand", flat=True).distinct())


VENDOR_OFFERS_BY_ID = 20_000
"""Up to this many offers, a vendor's history points are read through its offers (see ``filter_by_vendor``)."""


def filter_by_vendor(queryset, vendor_id: int):
    """``queryset`` (offers or history points) narrowed to one vendor, through an index in either case.

    Offers have a (vendor, id) index. History points have none of their own
    (one index less to write per point): a vendor with few offers, the newest
    provisional one say, is read through its offers' ids (one probe of the
    points' offer index each); a larger one is dense enough among the points
    that reading them newest first meets a page of its own soon.
    """
    if queryset.model is not PriceHistory:
        return queryset.filter(vendor_id=vendor_id)
    offers = Offer.objects.filter(vendor_id=vendor_id).order_by().values("pk")
    if offers[VENDOR_OFFERS_BY_ID: VENDOR_OFFERS_BY_ID + 1].exists():
        return queryset.filter(vendor_id=vendor_id)
    return queryset.filter(vendor_id=vendor_id, offer_id__in=offers)
