"""What the live tests check in the database they share with real processes (see tests/conftest.py):
a document by its file name, its offers as readers see them and as rows in the table, and waits
that fail saying what did not happen."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection

TERMINAL = ("succeeded", "partial", "failed")


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.05):
    """Poll ``condition`` until it returns something true (returned); fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)


def document_named(filename: str):
    """The newest document of ``filename``, or ``None``."""
    from documents.models import SourceDocument

    return SourceDocument.objects.filter(original_filename=filename).order_by("-id").first()


def visible_offers(document_id: int) -> int:
    """The document's offers as every reader sees them (``Offer.objects``)."""
    from offers.models import Offer

    return Offer.objects.filter(source_document_id=document_id).count()


def visible_history(document_id: int) -> int:
    """The price-history points of the document's offers as readers see them (``PriceHistory.objects``)."""
    from offers.models import Offer, PriceHistory

    offers = Offer.objects.filter(source_document_id=document_id).values("pk")
    return PriceHistory.objects.filter(offer_id__in=offers).count()


def offer_rows(document_id: int) -> int:
    """The document's rows in the offers table, hidden or not (plain SQL, no manager)."""
    from offers.models import Offer

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {Offer._meta.db_table} WHERE source_document_id = %s", [document_id])
        return cursor.fetchone()[0]


def history_rows(document_id: int) -> int:
    """The price-history rows of the document's offer rows, hidden or not (plain SQL)."""
    from offers.models import Offer, PriceHistory

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {PriceHistory._meta.db_table} h JOIN {Offer._meta.db_table} o ON o.id = h.offer_id "
            "WHERE o.source_document_id = %s", [document_id],
        )
        return cursor.fetchone()[0]


def status_of(document_id: int) -> str:
    """The document's status as stored now ("" when there is no such document)."""
    from documents.models import SourceDocument

    return SourceDocument.objects.filter(pk=document_id).values_list("status", flat=True).first() or ""
