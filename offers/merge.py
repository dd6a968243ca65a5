"""Merge two products into one, undo a merge, and split offers out of a product.

``merge_products(source, target, user)`` moves everything that points at ``source`` to
``target``: offers, price-history points, aliases (vendor SKUs, descriptions, EANs and part
numbers) and match rejections; ``source`` stays as a row with ``merged_into = target``
(its name and match key remain findable) and a ``ProductMerge`` keeps the ids of every row
moved, so that ``undo_merge`` moves exactly those back.

Aliases are unique over all products (a vendor's SKU, an EAN, a description names one
product), so re-pointing them never collides. Rejections are unique per product: a rejection
of the source that the target already has (same key and vendor) stays on the source, is
listed in ``moved["rejections_kept"]``, and is not lost.

All writes are bulk ``UPDATE``s, one statement per table with the ids bound as one parameter
(``offers.review.id_list``), not row by row: a product may have 100,000 offers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from offers.models import MatchRejection, Offer, PriceHistory, Product, ProductAlias, ProductMerge
from offers.review import (
    _user,
    id_list,
    move_offers,
    new_product_from,
    offer_keys,
    record_rejections,
    remember_line,
    remember_skus,
)


class MergeError(ValueError):
    """A merge, undo or split that cannot be done; the message says why and what to do."""


def _lock(*product_ids: int) -> dict[int, Product]:
    """The products, locked for this transaction (in id order: two merges never deadlock).
    On PostgreSQL the lock also holds back offers being inserted for them until commit."""
    rows = Product.objects.select_for_update().filter(pk__in=product_ids).order_by("pk")
    found = {product.pk: product for product in rows}
    missing = set(product_ids) - set(found)
    if missing:
        raise MergeError(f"Product #{min(missing)} no longer exists.")
    return found


def _update(queryset: QuerySet, ids: list[int], **values) -> int:
    """``UPDATE`` the rows of ``queryset`` among ``ids`` in one statement; the number updated."""
    return queryset.filter(pk__in=id_list(ids)).update(**values) if ids else 0


def merge_products(source: Product, target: Product, user=None) -> ProductMerge:
    """Merge ``source`` into ``target``; returns the ``ProductMerge`` recorded.

    ``moved`` holds the ids moved: ``{"offers": [...], "price_history": [...], "aliases": [...],
    "rejections": [...], "rejections_kept": [...]}`` (kept: rejections the target already had,
    left on the source). ``source.merged_into`` becomes ``target``.

    Raises ``MergeError`` when source and target are the same product, when ``source`` was
    already merged, or when ``target`` was merged into another product (merge into that one).
    """
    if source.pk == target.pk:
        raise MergeError("A product cannot be merged into itself.")
    with transaction.atomic():
        locked = _lock(source.pk, target.pk)
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id:
            raise MergeError(f"“{source}” was already merged into product #{source.merged_into_id}.")
        if target.merged_into_id:
            raise MergeError(
                f"“{target}” was merged into product #{target.merged_into_id}: merge into that product instead."
            )
        offer_ids = list(Offer.all_objects.filter(product_id=source.pk).order_by("pk").values_list("pk", flat=True))
        point_ids = list(
            PriceHistory.all_objects.filter(product_id=source.pk).order_by("pk").values_list("pk", flat=True)
        )
        alias_ids = list(ProductAlias.objects.filter(product_id=source.pk).order_by("pk").values_list("pk", flat=True))
        held = set(MatchRejection.objects.filter(product_id=target.pk).values_list("key", "vendor_id"))
        moving, kept = [], []
        for pk, key, vendor_id in MatchRejection.objects.filter(product_id=source.pk).order_by("pk").values_list(
            "pk", "key", "vendor_id"
        ):
            (kept if (key, vendor_id) in held else moving).append(pk)

        _update(Offer.all_objects.all(), offer_ids, product_id=target.pk)
        _update(PriceHistory.all_objects.all(), point_ids, product_id=target.pk)
        _update(ProductAlias.objects.all(), alias_ids, product_id=target.pk)
        _update(MatchRejection.objects.all(), moving, product_id=target.pk)
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        return ProductMerge.objects.create(
            source=source,
            target=target,
            created_by=_user(user),
            moved={
                "offers": offer_ids,
                "price_history": point_ids,
                "aliases": alias_ids,
                "rejections": moving,
                "rejections_kept": kept,
            },
        )


def current_product_ids(product_ids: Iterable[int]) -> dict[int, int]:
    """``{product id: the product it now stands for}``, following ``merged_into`` to the end of each
    chain (a product not merged maps to itself; an unknown id is absent). For matching, so that a
    key or alias still naming a merged product links to the product it was merged into. One query
    per link of the longest chain."""
    start = set(product_ids)
    merged_into: dict[int, int | None] = {}
    frontier = set(start)
    while frontier:
        rows = Product.objects.filter(pk__in=frontier).values_list("pk", "merged_into_id")
        merged_into.update(rows)
        frontier = {then for then in merged_into.values() if then is not None and then not in merged_into}
    return {first: chain_end(merged_into, first) for first in start if first in merged_into}


def chain_end(merged_into: Mapping[int, int | None], product_id: int) -> int:
    """The product ``product_id`` stands for now: ``merged_into`` (product id -> the product it was
    merged into, or None) followed to the end of the chain (a loop ends where it closes)."""
    pk, seen = product_id, {product_id}
    while merged_into.get(pk) is not None and merged_into[pk] not in seen:
        pk = merged_into[pk]
        seen.add(pk)
    return pk


def blocking_merges(merge: ProductMerge) -> QuerySet:
    """The merges done after ``merge``, not undone, that must be undone first (newest first): those
    that moved its target (or its source) away, or merged a product into its source. Another
    product merged into the same target later does not block: an undo moves back exactly the
    rows it moved, by id."""
    return ProductMerge.objects.filter(undone_at__isnull=True, pk__gt=merge.pk).filter(
        Q(source_id__in=[merge.source_id, merge.target_id]) | Q(target_id=merge.source_id)
    ).order_by("-pk")


def undo_merge(merge: ProductMerge, user=None) -> ProductMerge:
    """Undo ``merge``: the offers, price-history points, aliases and rejections it moved go back
    to its source (those still on the target: a row moved elsewhere since, by a split or a
    review, stays where the operator put it), ``source.merged_into`` is cleared and
    ``undone_at`` set. Rows that reached the target after the merge stay on the target.
    ``moved["undo"]`` records the counts moved back and the user.

    Raises ``MergeError`` when the merge was already undone, or when a later merge that must be
    undone first (``blocking_merges``) stands (naming it).
    """
    with transaction.atomic():
        merge = ProductMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at:
            raise MergeError(f"Merge #{merge.pk} was already undone on {merge.undone_at:%Y-%m-%d %H:%M}.")
        later = blocking_merges(merge).first()
        if later is not None:
            raise MergeError(
                f"Merge #{later.pk} (product #{later.source_id} into #{later.target_id}) was done later and moved "
                f"these products on: undo it first."
            )
        locked = _lock(merge.source_id, merge.target_id)
        source, target = locked[merge.source_id], locked[merge.target_id]
        moved = merge.moved or {}
        on_target = {"product_id": target.pk}
        counts = {
            "offers": _update(Offer.all_objects.filter(**on_target), moved.get("offers", []), product_id=source.pk),
            "price_history": _update(
                PriceHistory.all_objects.filter(**on_target), moved.get("price_history", []), product_id=source.pk
            ),
            "aliases": _update(
                ProductAlias.objects.filter(**on_target), moved.get("aliases", []), product_id=source.pk
            ),
            "rejections": _update(
                MatchRejection.objects.filter(**on_target), moved.get("rejections", []), product_id=source.pk
            ),
        }
        source.merged_into = None
        source.save(update_fields=["merged_into", "updated_at"])
        merge.undone_at = timezone.now()
        user = _user(user)
        merge.moved = {**moved, "undo": {**counts, "by": user.pk if user else None}}
        merge.save(update_fields=["undone_at", "moved"])
        return merge


def split_offers(offers: Iterable[Offer] | QuerySet, user=None, *, into: Product | None = None) -> Product:
    """Move ``offers`` (all of one product) and their price-history points out of their product,
    into ``into`` or, by default, into a new product built from the first offer's attributes
    (``offers.review.new_product_from``; its match key gets `` #2``... when taken). Returns that
    product.

    The split is an operator's decision like a review: the offers are settled ("manual"), their
    vendors' SKUs and lines are remembered for the new product (each for its vendor), and their
    lines' keys are rejected for the product they leave, so that the next lists do not put them
    back.

    Raises ``MergeError`` when no offer is given, when the offers belong to several products,
    when ``into`` is their own product, or when ``into`` was merged into another product.
    """
    if isinstance(offers, QuerySet):
        rows = list(offers.model.all_objects.filter(pk__in=offers.values("pk")).order_by("pk").values_list(
            "pk", "product_id", "vendor_id", "sku", "description"
        ))
        first_pk = offers.values_list("pk", flat=True).first()
    else:
        offers = list(offers)
        rows = [(o.pk, o.product_id, o.vendor_id, o.sku, o.description) for o in offers]
        first_pk = offers[0].pk if offers else None
    if not rows:
        raise MergeError("No offers chosen to split out.")
    products = {row[1] for row in rows}
    if len(products) > 1:
        raise MergeError("The offers chosen belong to several products: split the offers of one product at a time.")
    (source_id,) = products
    with transaction.atomic():
        _lock(source_id, *([into.pk] if into is not None else []))
        if into is not None:
            into = Product.objects.get(pk=into.pk)
            if into.pk == source_id:
                raise MergeError("The offers already belong to that product.")
            if into.merged_into_id:
                raise MergeError(f"“{into}” was merged into product #{into.merged_into_id}: split into that one.")
            product = into
        else:
            first = next(row for row in rows if row[0] == first_pk)
            product = new_product_from(first[3], first[4])
        ids = [row[0] for row in rows]
        move_offers(ids, product.pk, settle=True)
        lines = dict.fromkeys((row[2], row[3], row[4]) for row in rows)
        remember_skus(((vendor_id, sku) for vendor_id, sku, _ in lines), product)
        for vendor_id, sku, description in lines:
            # The vendor's line, with or without a SKU, means the new product from now on (for that
            # vendor only: the line may read like the product it leaves, "Edge 50" for everyone).
            remember_line(sku, description, product, vendor_id=vendor_id)
        keys = [key for vendor_id, sku, description in lines for key in offer_keys(vendor_id, sku, description)]
        record_rejections(keys, source_id, user)
        return product
