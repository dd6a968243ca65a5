"""The admin's "Export selected offers as CSV" action.

Streams one row per offer (``COLUMNS``), UTF-8 with a byte-order mark so that Excel reads
non-Latin names right; every text cell goes through ``pricehub.cell_safety.neutralise``, so a
vendor's text a spreadsheet would run as a formula opens as text. Prices and quantities are
written as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone

from offers.models import Offer
from pricehub.cell_safety import neutralise_row

COLUMNS = (
    "id", "vendor", "product", "sku", "description", "price", "currency", "quantity", "condition",
    "condition_grade", "observed_at", "source_document_id", "source_ref",
)
CHUNK = 2000


def offer_row(offer: Offer) -> list:
    """The CSV cells of one offer, in ``COLUMNS`` order, neutralised."""
    return neutralise_row([
        offer.pk, offer.vendor.name, offer.product.name, offer.sku, offer.description, offer.price, offer.currency,
        "" if offer.quantity is None else offer.quantity, offer.condition, offer.condition_grade,
        offer.observed_at.isoformat(), offer.source_document_id or "", offer.source_ref,
    ])


class _Line:
    """A file-like object whose ``write`` returns what it was given (for ``csv.writer``)."""

    def write(self, text: str) -> str:
        return text


def csv_lines(offers: Iterable[Offer]) -> Iterator[str]:
    """The CSV text of ``offers``: a byte-order mark and header, then one line per offer."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(COLUMNS)
    for offer in offers:
        yield writer.writerow(offer_row(offer))


@admin.action(description="Export selected offers as CSV", permissions=["view"])
def export_offers_csv(modeladmin, request, queryset):
    """Admin action: the selected offers (all of them when "select all" was used) as a CSV
    download, read in chunks of ``CHUNK`` rows, newest first."""
    offers = queryset.select_related("vendor", "product").order_by("-id").iterator(chunk_size=CHUNK)
    response = StreamingHttpResponse(csv_lines(offers), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="offers-{stamp}.csv"'
    return response
