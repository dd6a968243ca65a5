"""Raw model numbers and descriptions → canonical ``Product`` rows.

Rules, in order, for one vendor's offer:

1. the vendor's SKU, if that vendor used it before (``ProductAlias`` kind
   ``sku``, scoped to the vendor: SKUs mean different things at different
   vendors);
2. the normalized description (``ProductAlias`` kind ``description``, shared
   by all vendors), or a product whose ``match_key`` is that description;
3. otherwise a new product named after the description (or the SKU).

Whatever matched, keys not known before are recorded as aliases (a
description that is the product's own match key needs none), so the same
product from the same vendor lands on the same row every day. Work is done
per batch: a fixed number of queries whatever the batch size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from offers.bulk import Adapter, insert_rows, reserve_ids
from offers.models import Product, ProductAlias
from offers.text import strip_accents

_STORAGE = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*(gb|tb|mb)\b")
_NOT_WORD = re.compile(r"[^\w+#./-]+")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def normalize_key(text: str) -> str:
    """A match key: case-folded, accents removed, punctuation to spaces, `128 GB` → `128gb`."""
    text = _STORAGE.sub(_storage, strip_accents(text).casefold())
    # Each run of spaces and punctuation becomes one space: no run of spaces is left.
    return _NOT_WORD.sub(" ", text).strip(" ./-")[:300]


def _storage(match: re.Match) -> str:
    return match.group(1).replace(",", ".") + match.group(2)


def normalize_sku(sku: str) -> str:
    return _SPACES.sub("", sku).upper()[:300]


class ProductRef(NamedTuple):
    """What one offer says about its product, as match keys (computed once)."""

    sku_key: str
    description_key: str
    name: str
    fallback_key: str  # the description key, else "sku <sku key>": the match key of a product made for it

    @classmethod
    def of(cls, sku: str, description: str) -> ProductRef:
        sku, description = sku.strip(), description.strip()
        sku_key = normalize_sku(sku) if sku else ""
        description_key = normalize_key(description) if description else ""
        return cls(sku_key, description_key, (description or sku)[:300], description_key or f"sku {sku_key.lower()}")


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
    alias, product = ProductAlias._meta.db_table, Product._meta.db_table
    found = _lookup(
        f"SELECT a.product_id FROM {alias} a WHERE a.vendor_id = %s AND a.kind = %s AND a.key = k.key",
        [vendor_id, ProductAlias.Kind.SKU.value],
        {ref.sku_key for ref in refs if ref.sku_key},
        with_match_key=True,
    )
    by_sku = {key: product_id for key, (product_id, _) in found.items()}
    own_key = dict(found.values())  # product id -> its match key, for the products the SKUs found
    # A description key names the product it is an alias of, else the product
    # whose match key it is (products are created with it as their match key).
    # Not asked for when the ref's SKU found the product whose match key it is:
    # the daily case of a known list.
    by_key = _lookup(
        f"COALESCE((SELECT a.product_id FROM {alias} a WHERE a.vendor_id IS NULL AND a.kind = %s AND a.key = k.key), "
        f"(SELECT p.id FROM {product} p WHERE p.match_key = k.key))",
        [ProductAlias.Kind.DESCRIPTION.value],
        {ref.fallback_key for ref in refs if own_key.get(by_sku.get(ref.sku_key)) != ref.fallback_key},
    )
    new_sku: dict[str, int | str] = {}
    new_description: dict[str, int | str] = {}

    # Each ref gets a product id, or the match key of a product still to create.
    decisions: list[int | str] = []
    to_create: dict[str, str] = {}  # match key -> name
    for ref in refs:
        decision = by_sku.get(ref.sku_key) or by_key.get(ref.fallback_key)
        if decision is None:
            decision = ref.fallback_key
            to_create.setdefault(decision, ref.name)
        decisions.append(decision)
        # Later refs in the batch see what earlier ones decided; keys not known
        # before become aliases, unless the product's own match key says it.
        if ref.sku_key and ref.sku_key not in by_sku:
            by_sku[ref.sku_key] = new_sku[ref.sku_key] = decision
        if ref.fallback_key not in by_key:
            by_key[ref.fallback_key] = decision
            if ref.description_key not in ("", decision, own_key.get(decision)):
                new_description[ref.description_key] = decision

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

    sku, description = ProductAlias.Kind.SKU.value, ProductAlias.Kind.DESCRIPTION.value
    insert_rows(
        ProductAlias,
        ["product_id", "vendor_id", "kind", "key", "created_at"],
        [(product_id(decision), vendor_id, sku, key, now) for key, decision in new_sku.items()]
        + [(product_id(decision), None, description, key, now) for key, decision in new_description.items()],
    )
    return [product_id(decision) for decision in decisions]


def _lookup(expression: str, params: list, keys: set[str], *, with_match_key: bool = False) -> dict:
    """``{key: id}`` for the keys where ``expression`` (over ``k.key``) finds a product id.

    With ``with_match_key``, ``{key: (id, the product's match key)}``. One query
    per batch, and each key is looked up by its own index probe (a correlated
    subquery), whatever the planner's statistics say: a large first import
    leaves them behind, and PostgreSQL then filters a whole vendor's aliases
    against a 2,000-key array instead.
    """
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        source, batch = "unnest(%s::text[]) AS k(key)", list(keys)
    else:
        source, batch = "(SELECT value AS key FROM json_each(%s)) AS k", json.dumps(list(keys))
    match_key = f", (SELECT p.match_key FROM {Product._meta.db_table} p WHERE p.id = m.id)" if with_match_key else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT key, id{match_key} FROM (SELECT k.key AS key, ({expression}) AS id FROM {source}) m "
            "WHERE id IS NOT NULL",
            [*params, batch],
        )
        if with_match_key:
            return {key: (product_id, key_of_product) for key, product_id, key_of_product in cursor.fetchall()}
        return dict(cursor.fetchall())
