"""Fast bulk inserts for the rows an ingest writes by the thousand.

The ORM's ``bulk_create`` builds a model instance and prepares every value
field by field; for a 100,000-row price list that alone takes longer than
the rest of the pipeline. Here ids are reserved up front (a sequence range on
PostgreSQL; on SQLite the write lock is already held by the batch's
transaction, which uses IMMEDIATE mode), rows go in as plain tuples — ``COPY``
on PostgreSQL, ``executemany`` on SQLite — and values are adapted with the
backend's own ``connection.ops`` adapters. Constraints are the database's:
a duplicate key raises ``IntegrityError`` as ``bulk_create`` would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from offers.models import Offer, PriceHistory


@dataclass(slots=True)
class OfferRow:
    """One offer ready to write; ``product_id``, ``color``, ``region`` and the ``match_*`` fields
    are filled in by matching (``offers.matching``)."""

    vendor_id: int
    sku: str
    description: str
    price: Decimal
    currency: str
    quantity: int | None
    condition: str
    condition_grade: str
    condition_raw: str
    observed_at: datetime
    source_ref: str
    extra: dict = field(default_factory=dict)
    product_id: int = 0
    color: str = ""
    region: str = ""
    match_method: str = ""
    match_confidence: int | None = None
    needs_review: bool = False

    def __reduce__(self):
        # Pickled as its field values (the ingest's reader process sends rows
        # by the 100,000): several times faster to load than slot-by-slot state.
        return OfferRow, (
            self.vendor_id, self.sku, self.description, self.price, self.currency, self.quantity, self.condition,
            self.condition_grade, self.condition_raw, self.observed_at, self.source_ref, self.extra, self.product_id,
            self.color, self.region, self.match_method, self.match_confidence, self.needs_review,
        )


def insert_offers(rows: Sequence[OfferRow], *, source_document_id: int | None = None) -> list[int]:
    """Insert offers and one price-history point each (none where the series has that point); returns the offer ids."""
    if not rows:
        return []
    with transaction.atomic():
        ids = reserve_ids(Offer, len(rows))
        adapt = Adapter()
        created = adapt.when(timezone.now())
        offers = [
            (
                offer_id, r.vendor_id, r.product_id, source_document_id, None, r.sku,
                r.description, adapt.price(r.price), r.currency, r.quantity, r.condition, r.condition_grade,
                r.condition_raw, adapt.when(r.observed_at), r.source_ref, adapt.json(r.extra), created,
                r.color, r.region, r.match_method, r.match_confidence, r.needs_review,
            )
            for offer_id, r in zip(ids, rows)
        ]
        insert_rows(Offer, [
            "id", "vendor_id", "product_id", "source_document_id", "source_message_id", "sku", "description", "price",
            "currency", "quantity", "condition", "condition_grade", "condition_raw", "observed_at", "source_ref",
            "extra", "created_at", "color", "region", "match_method", "match_confidence", "needs_review",
        ], offers)
        _copy_history(ids, source_document_id)
    return ids


def _copy_history(offer_ids: list[int], source_document_id: int | None) -> None:
    """One price-history point per offer, copied inside the database from the offers just written.

    An offer whose point is already in the series (same product, vendor,
    condition, currency and price, observed at the same time: a re-ingest of
    the same chat or file) adds none. That test costs an index probe per offer,
    so it runs only when a repeat is possible at all (``_may_repeat``). Offers
    of one batch are not compared with each other (the database reads the
    batch before writing it, on SQLite as on PostgreSQL).
    """
    history = connection.ops.quote_name(PriceHistory._meta.db_table)
    offers = connection.ops.quote_name(Offer._meta.db_table)
    select = (
        f"INSERT INTO {history} (product_id, vendor_id, condition, price, currency, observed_at, offer_id, "
        "source_document_id) "
        "SELECT o.product_id, o.vendor_id, o.condition, o.price, o.currency, o.observed_at, o.id, "
        f"o.source_document_id FROM {offers} o WHERE "
    )
    batch, params = _batch_condition(offer_ids)
    if _may_repeat(batch, params, offer_ids[0], source_document_id):
        select += (
            f"NOT EXISTS (SELECT 1 FROM {history} h WHERE h.product_id = o.product_id "
            "AND h.vendor_id = o.vendor_id AND h.condition = o.condition AND h.observed_at = o.observed_at "
            "AND h.currency = o.currency AND h.price = o.price) AND "
        )
    with connection.cursor() as cursor:
        cursor.execute(select + batch, params)


def _batch_condition(offer_ids: list[int]) -> tuple[str, list]:
    """SQL selecting the offers ``o`` of this batch by id, with its parameters."""
    if offer_ids[-1] - offer_ids[0] == len(offer_ids) - 1:  # one range, unless another ingest took ids between
        return "o.id BETWEEN %s AND %s", [offer_ids[0], offer_ids[-1]]
    if connection.vendor == "postgresql":
        return "o.id = ANY(%s)", [offer_ids]
    return "o.id IN (SELECT value FROM json_each(%s))", [json.dumps(offer_ids)]


def _may_repeat(batch: str, params: list, first_id: int, source_document_id: int | None) -> bool:
    """Whether a point of this batch can repeat one already written.

    A point repeats one only at the same observed time, and every point has
    an offer observed at that time. So when no offer written before this
    document (before this batch, without a document) was observed at one of
    the batch's times, none can: the usual case of a file, whose offers carry
    the document's own time, or of new chat messages. Both probes read the
    (observed_at, id) and (source_document, id) indexes.
    """
    offers = connection.ops.quote_name(Offer._meta.db_table)
    with connection.cursor() as cursor:
        if source_document_id is not None:
            cursor.execute(
                f"SELECT id FROM {offers} WHERE source_document_id = %s ORDER BY id LIMIT 1", [source_document_id]
            )
            first_id = min(first_id, cursor.fetchone()[0])
        cursor.execute(
            f"SELECT 1 FROM {offers} e WHERE e.id < %s AND e.observed_at IN "
            f"(SELECT DISTINCT o.observed_at FROM {offers} o WHERE {batch}) LIMIT 1",
            [first_id, *params],
        )
        return cursor.fetchone() is not None


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``; call inside the transaction that inserts them."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            # The transaction holds SQLite's write lock (IMMEDIATE mode), so no
            # other writer can take these ids before they are inserted.
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                f"COALESCE((SELECT MAX(id) FROM {quoted}), 0))",
                [table],
            )
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    raise NotImplementedError(f"bulk insert is not written for {connection.vendor}")


def insert_rows(model: type[models.Model], columns: list[str], rows: Sequence[tuple]) -> None:
    """Insert already-adapted tuples (in ``columns`` order) into ``model``'s table."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)


class Adapter:
    """Backend adaptation of the few non-trivial types, memoized for repeated values."""

    def __init__(self):
        self.ops = connection.ops
        self.postgres = connection.vendor == "postgresql"
        self._when: dict[datetime, object] = {}
        self._json: dict[tuple, str] = {}

    def price(self, value: Decimal):
        return value if self.postgres else self.ops.adapt_decimalfield_value(value, 14, 2)

    def when(self, value: datetime):
        adapted = self._when.get(value)
        if adapted is None:
            adapted = self._when[value] = value if self.postgres else self.ops.adapt_datetimefield_value(value)
        return adapted

    def json(self, value: dict) -> str:
        if not value:
            return "{}"
        try:  # rows of one file mostly carry the same few extras
            key = tuple(value.items())
            text = self._json.get(key)
        except TypeError:  # a nested value: not memoized
            return json.dumps(value, ensure_ascii=False)
        if text is None:
            if len(self._json) > 1000:
                self._json.clear()
            text = self._json[key] = json.dumps(value, ensure_ascii=False)
        return text


def delete_offers(offer_ids: Sequence[int]) -> None:
    """Delete offers and their price-history points by id, in two statements (the ORM's delete
    would load every offer first); call inside a transaction."""
    if not offer_ids:
        return
    history = connection.ops.quote_name(PriceHistory._meta.db_table)
    offers = connection.ops.quote_name(Offer._meta.db_table)
    placeholders = ", ".join(["%s"] * len(offer_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {history} WHERE offer_id IN ({placeholders})", list(offer_ids))
        cursor.execute(f"DELETE FROM {offers} WHERE id IN ({placeholders})", list(offer_ids))
