"""Raw model numbers and descriptions → canonical ``Product`` rows.

Rules, in order, for one vendor's offer:

1. the vendor's SKU, if that vendor used it before (``ProductAlias`` kind
   ``sku``, scoped to the vendor: SKUs mean different things at different
   vendors);
2. the normalized description (``ProductAlias`` kind ``description``, shared
   by all vendors), or a product whose ``match_key`` is that description;
3. otherwise a new product named after the description (or the SKU).

Whatever matched, the SKU and description keys are recorded as aliases, so
the same product from the same vendor lands on the same row every day. Work
is done per batch: a fixed number of queries whatever the batch size.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from offers.bulk import Adapter, insert_rows, reserve_ids
from offers.models import Product, ProductAlias

_STORAGE = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*(gb|tb|mb)\b")
_NOT_WORD = re.compile(r"[^\w+#./-]+")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def normalize_key(text: str) -> str:
    """A match key: case-folded, accents removed, punctuation to spaces, `128 GB` → `128gb`."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _NOT_WORD.sub(" ", text)
    text = _STORAGE.sub(lambda m: m.group(1).replace(",", ".") + m.group(2), text)
    return _SPACES.sub(" ", text).strip(" ./-")[:300]


def normalize_sku(sku: str) -> str:
    return _SPACES.sub("", sku).upper()[:300]


@dataclass(frozen=True, slots=True)
class ProductRef:
    """What one offer says about its product, as match keys (computed once)."""

    sku_key: str
    description_key: str
    name: str

    @classmethod
    def of(cls, sku: str, description: str) -> ProductRef:
        sku, description = sku.strip(), description.strip()
        return cls(
            sku_key=normalize_sku(sku) if sku else "",
            description_key=normalize_key(description) if description else "",
            name=(description or sku)[:300],
        )

    @property
    def fallback_key(self) -> str:
        return self.description_key or f"sku {self.sku_key.lower()}"


def match_products(vendor_id: int, refs: Sequence[ProductRef]) -> list[int]:
    """The product id for each ref, creating products and aliases as needed.

    Safe against a concurrent ingest creating the same product: on a unique
    conflict the batch is matched again inside a savepoint.
    """
    unique = list(dict.fromkeys(refs))  # rows repeat products; decide once per distinct ref
    for attempt in range(3):
        try:
            with transaction.atomic():
                decided = dict(zip(unique, _match(vendor_id, unique)))
            return [decided[ref] for ref in refs]
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _match(vendor_id: int, refs: Sequence[ProductRef]) -> list[int]:
    sku_keys = {ref.sku_key for ref in refs if ref.sku_key}
    desc_keys = {ref.description_key for ref in refs if ref.description_key}
    fallback_keys = {ref.fallback_key for ref in refs}

    alias_table = ProductAlias._meta.db_table
    by_sku = _lookup(
        f"SELECT key, product_id FROM {alias_table} WHERE vendor_id = %s AND kind = %s AND key",
        [vendor_id, ProductAlias.Kind.SKU.value],
        sku_keys,
    )
    by_desc = _lookup(
        f"SELECT key, product_id FROM {alias_table} WHERE vendor_id IS NULL AND kind = %s AND key",
        [ProductAlias.Kind.DESCRIPTION.value],
        desc_keys,
    )
    by_match_key = _lookup(f"SELECT match_key, id FROM {Product._meta.db_table} WHERE match_key", [], fallback_keys)
    known_sku, known_desc = set(by_sku), set(by_desc)

    # Each ref gets a product id, or the match key of a product still to create.
    decisions: list[int | str] = []
    to_create: dict[str, str] = {}  # match key -> name
    for ref in refs:
        decision = (
            by_sku.get(ref.sku_key)
            or by_desc.get(ref.description_key)
            or by_match_key.get(ref.fallback_key)
        )
        if decision is None:
            decision = ref.fallback_key
            to_create.setdefault(decision, ref.name)
        decisions.append(decision)
        # Later refs in the batch see what earlier ones decided.
        if ref.sku_key:
            by_sku.setdefault(ref.sku_key, decision)
        if ref.description_key:
            by_desc.setdefault(ref.description_key, decision)

    now = Adapter().when(timezone.now())
    created: dict[str, int] = {}
    if to_create:
        ids = reserve_ids(Product, len(to_create))
        created = dict(zip(to_create, ids))
        insert_rows(
            Product,
            ["id", "name", "brand", "model", "storage", "color", "variant", "match_key", "created_at", "updated_at"],
            [(pk, name, "", "", "", "", "", key, now, now) for (key, name), pk in zip(to_create.items(), ids)],
        )

    def product_id(decision: int | str) -> int:
        return created[decision] if isinstance(decision, str) else decision

    # Record every key not known before, so the next file matches without guessing.
    insert_rows(
        ProductAlias,
        ["product_id", "vendor_id", "kind", "key", "created_at"],
        [(product_id(by_sku[key]), vendor_id, ProductAlias.Kind.SKU.value, key, now) for key in sku_keys - known_sku]
        + [
            (product_id(by_desc[key]), None, ProductAlias.Kind.DESCRIPTION.value, key, now)
            for key in desc_keys - known_desc
        ],
    )
    return [product_id(decision) for decision in decisions]


def _lookup(sql: str, params: list, keys: set[str]) -> dict[str, int]:
    """``{key: id}`` for ``sql`` + "key is one of ``keys``".

    On PostgreSQL the keys go as one array parameter (``= ANY(%s)``): a
    2,000-item ``IN`` list costs more to send and plan than to run.
    """
    if not keys:
        return {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{sql} = ANY(%s)", [*params, list(keys)])
        else:
            cursor.execute(f"{sql} IN ({', '.join(['%s'] * len(keys))})", [*params, *keys])
        return dict(cursor.fetchall())
