"""Reads that shape data for the API: the per-vendor price series of a product."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware
from rest_framework.exceptions import ValidationError

from offers.models import PriceHistory, Product


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
