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

from django.db import IntegrityError, transaction

from offers.models import Product, ProductAlias, Vendor

_STORAGE = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*(gb|tb|mb)\b")
_NOT_WORD = re.compile(r"[^\w+#./-]+")
_SPACES = re.compile(r"\s+")


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
    """What one offer says about its product."""

    sku: str
    description: str

    @property
    def sku_key(self) -> str:
        return normalize_sku(self.sku) if self.sku.strip() else ""

    @property
    def description_key(self) -> str:
        return normalize_key(self.description) if self.description.strip() else ""

    @property
    def fallback_key(self) -> str:
        return self.description_key or f"sku {self.sku_key.lower()}"


def match_products(vendor: Vendor, refs: Sequence[ProductRef]) -> list[Product]:
    """The product for each ref, creating products and aliases as needed.

    Safe against a concurrent ingest creating the same product: on a unique
    conflict the batch is matched again inside a savepoint.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _match(vendor, refs)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _match(vendor: Vendor, refs: Sequence[ProductRef]) -> list[Product]:
    sku_keys = {ref.sku_key for ref in refs if ref.sku_key}
    desc_keys = {ref.description_key for ref in refs if ref.description_key}
    fallback_keys = {ref.fallback_key for ref in refs}

    by_sku = {
        alias.key: alias.product
        for alias in ProductAlias.objects.filter(vendor=vendor, kind=ProductAlias.Kind.SKU, key__in=sku_keys)
        .select_related("product")
    }
    by_desc = {
        alias.key: alias.product
        for alias in ProductAlias.objects.filter(
            vendor__isnull=True, kind=ProductAlias.Kind.DESCRIPTION, key__in=desc_keys
        ).select_related("product")
    }
    by_match_key = {product.match_key: product for product in Product.objects.filter(match_key__in=fallback_keys)}

    results: list[Product | None] = []
    new_products: dict[str, Product] = {}
    for ref in refs:
        product = (
            by_sku.get(ref.sku_key)
            or by_desc.get(ref.description_key)
            or by_match_key.get(ref.fallback_key)
            or new_products.get(ref.fallback_key)
        )
        if product is None:
            product = Product(name=(ref.description.strip() or ref.sku.strip())[:300], match_key=ref.fallback_key)
            new_products[ref.fallback_key] = product
        results.append(product)
        # Later refs in the batch see what earlier ones decided.
        if ref.sku_key:
            by_sku.setdefault(ref.sku_key, product)
        if ref.description_key:
            by_desc.setdefault(ref.description_key, product)

    if new_products:
        Product.objects.bulk_create(new_products.values())
        if any(p.pk is None for p in new_products.values()):  # backends without RETURNING
            saved = Product.objects.filter(match_key__in=new_products.keys()).in_bulk(field_name="match_key")
            for key, product in new_products.items():
                product.pk = saved[key].pk

    _record_aliases(vendor, refs, results)
    return results  # type: ignore[return-value]


def _record_aliases(vendor: Vendor, refs: Sequence[ProductRef], products: Sequence[Product]) -> None:
    wanted: dict[tuple, ProductAlias] = {}
    for ref, product in zip(refs, products):
        if ref.sku_key:
            wanted.setdefault(
                (vendor.pk, "sku", ref.sku_key),
                ProductAlias(product=product, vendor=vendor, kind=ProductAlias.Kind.SKU, key=ref.sku_key),
            )
        if ref.description_key:
            wanted.setdefault(
                (None, "description", ref.description_key),
                ProductAlias(product=product, vendor=None, kind=ProductAlias.Kind.DESCRIPTION, key=ref.description_key),
            )
    if not wanted:
        return
    existing = set(
        ProductAlias.objects.filter(
            vendor=vendor, kind=ProductAlias.Kind.SKU, key__in=[k for v, kind, k in wanted if kind == "sku"]
        ).values_list("key", flat=True)
    )
    existing_desc = set(
        ProductAlias.objects.filter(
            vendor__isnull=True,
            kind=ProductAlias.Kind.DESCRIPTION,
            key__in=[k for v, kind, k in wanted if kind == "description"],
        ).values_list("key", flat=True)
    )
    new = [
        alias
        for (vendor_id, kind, key), alias in wanted.items()
        if key not in (existing if kind == "sku" else existing_desc)
    ]
    ProductAlias.objects.bulk_create(new)
