"""The review queue's actions: an operator confirms, changes or replaces an offer's proposed product.

Matching links an offer in the review band to its best candidate product and sets
``needs_review`` (``offers.similarity``: confidence 60-89). An operator then:

- ``accept(offer, user)``: the proposed product is right;
- ``choose(offer, product, user)``: another product is right (found with a search);
- ``make_new_product(offer, user)``: no existing product is right.

Each action runs in one transaction and returns a ``ReviewResult`` saying what it did.
Every action settles the link: ``needs_review`` False, ``match_method`` "manual",
``match_confidence`` 100, and the vendor's SKU is remembered as a confirmed ``ProductAlias``
(kind ``sku``, per vendor) for the chosen product, so the vendor's next list links at once;
so is the line's text key (kind ``description``, for every vendor: ``remember_line``), so
that the same line without a SKU, from anyone, links there too.
``choose`` and ``make_new_product`` also record ``MatchRejection`` rows for the product
that was proposed: matching consults them (``rejected``, ``rejections``) and never
proposes that link again.

Which offers one action applies to: the offer and every other offer still waiting for
review from the same vendor, proposed for the same product, with the same line (the same
SKU once normalised, or, without a SKU, the same description). That is one line of a
vendor's list seen in several lists or days: an operator deciding about it means all of
its copies. Offers of other vendors, or already settled, are left alone.

Keys (``offer_keys``), as matching keys an offer's text:

- the SKU key: ``offers.similarity.normalize_sku(sku)`` ("IP15PM256NAT"), with the
  vendor (a SKU means different things at different vendors);
- the text key: ``parse_offer(sku, description).product_key()``
  ("apple|iphone 15 pro max|256gb||"), or, for a line naming no product,
  ``"raw|"`` + its case-folded text (``text_key``); with no vendor (an attribute reading
  means the same at every vendor).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL

from offers.attributes import parse_offer
from offers.models import MatchMethod, MatchRejection, Offer, PriceHistory, Product, ProductAlias
from offers.similarity import KEY_LENGTH, normalize_sku
from offers.similarity import text_key as line_key


class ReviewError(ValueError):
    """An action that cannot apply (the chosen product is the proposed one, or was merged away)."""


@dataclass(frozen=True)
class ReviewResult:
    """What one review action did.

    ``action``: "accept", "choose" or "new"; ``product``: the product the offers are now
    linked to; ``previous_product_id``: the proposed product; ``offer_ids``: every offer
    settled (the given one first); ``aliases``: the SKU aliases remembered (created or
    re-pointed); ``rejections``: the ``MatchRejection`` rows recorded (created or already
    there); ``created``: True when ``make_new_product`` created the product (False when a
    product with the offer's exact attributes already existed and was used).
    """

    action: str
    product: Product
    previous_product_id: int
    offer_ids: tuple[int, ...]
    aliases: tuple[ProductAlias, ...] = ()
    rejections: tuple[MatchRejection, ...] = ()
    created: bool = False


# --- keys ---------------------------------------------------------------------------------------


def text_key(sku: str, description: str) -> str:
    """The text key of an offer line: its parsed product key ("apple|iphone 15 pro|256gb||"), or
    for a line naming no product ``"raw|" + its case-folded words`` (description, else SKU).
    At most 300 characters; "" for an empty line (``offers.similarity.text_key``)."""
    return line_key(parse_offer(sku or "", description or ""), sku, description)


def offer_keys(vendor_id: int, sku: str, description: str) -> list[tuple[int | None, str]]:
    """The ``(vendor_id or None, key)`` pairs a rejection of this line is recorded under: the
    SKU key with the vendor (when the line has a SKU), then the text key without a vendor."""
    keys: list[tuple[int | None, str]] = []
    sku_key = normalize_sku(sku or "")[:KEY_LENGTH]
    if sku_key:
        keys.append((vendor_id, sku_key))
    text = text_key(sku, description)
    if text:
        keys.append((None, text))
    return keys


def rejected(vendor_id: int | None, key: str, product_id: int) -> bool:
    """True when an operator said that ``key`` is not product ``product_id``: a rejection recorded
    for this vendor, or for every vendor (``vendor`` null). One query; for a batch use
    ``rejections``."""
    return MatchRejection.objects.filter(
        Q(vendor_id=vendor_id) | Q(vendor__isnull=True), key=key, product_id=product_id
    ).exists()


def rejections(vendor_id: int | None, keys: Iterable[str]) -> dict[str, set[int]]:
    """``{key: {product ids never to propose for it}}`` for one vendor's batch of keys (SKU keys
    and text keys alike; vendor-wide and all-vendor rejections). One query per call, the keys
    bound as one parameter (``key_list``); keys without a rejection are absent."""
    keys = {key for key in keys if key}
    found: dict[str, set[int]] = {}
    if not keys:
        return found
    rows = MatchRejection.objects.filter(Q(vendor_id=vendor_id) | Q(vendor__isnull=True), key__in=key_list(keys))
    for key, product_id in rows.values_list("key", "product_id"):
        found.setdefault(key, set()).add(product_id)
    return found


# --- shared writes (also used by offers.merge) --------------------------------------------------


def id_list(ids: Sequence[int]) -> RawSQL:
    """A subquery of the ids ``ids`` bound as one parameter (a PostgreSQL array, a JSON text read by
    SQLite's ``json_each``), for ``filter(pk__in=id_list(ids))``: one statement whatever the number
    of ids, where a plain list binds one parameter per id."""
    ids = [int(pk) for pk in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(ids),))


def key_list(keys: Iterable[str]) -> RawSQL:
    """``id_list`` for text keys: ``filter(key__in=key_list(keys))``."""
    keys = [str(key) for key in keys]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[])", (keys,))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(keys),))


def move_offers(offer_ids: Sequence[int], product_id: int, *, settle: bool = False) -> int:
    """Link the offers ``offer_ids`` and their price-history points to ``product_id`` in bulk (one
    UPDATE for the offers, one for the points). With ``settle``, the offers are also marked
    reviewed by an operator (``needs_review`` False, ``match_method`` "manual", confidence 100).
    Returns the number of offers updated."""
    values: dict = {"product_id": product_id}
    if settle:
        values.update(needs_review=False, match_method=MatchMethod.MANUAL, match_confidence=100)
    if not offer_ids:
        return 0
    count = Offer.all_objects.filter(id__in=id_list(offer_ids)).update(**values)
    PriceHistory.all_objects.filter(offer_id__in=id_list(offer_ids)).update(product_id=product_id)
    return count


def remember_skus(lines: Iterable[tuple[int, str]], product: Product) -> list[ProductAlias]:
    """Remember each ``(vendor_id, raw sku)`` as a confirmed SKU alias of ``product``: created, or
    re-pointed when the vendor's SKU was remembered for another product. Empty SKUs are skipped.
    Returns the aliases (one per distinct vendor and normalised SKU)."""
    aliases = []
    distinct = dict.fromkeys((vendor_id, normalize_sku(sku or "")[:KEY_LENGTH]) for vendor_id, sku in lines)
    for vendor_id, sku_key in distinct:
        if not sku_key:
            continue
        alias, _ = ProductAlias.objects.update_or_create(
            vendor_id=vendor_id, kind=ProductAlias.Kind.SKU, key=sku_key,
            defaults={"product": product, "confirmed": True},
        )
        aliases.append(alias)
    return aliases


def remember_line(sku: str, description: str, product: Product, *, vendor_id: int | None = None
                  ) -> list[ProductAlias]:
    """Remember the line's text key (``text_key``) as meaning ``product`` (an alias of kind
    ``description``, confirmed): for every vendor, or with ``vendor_id`` for that vendor only
    (which matching asks first). The next line that reads the same, with or without a SKU,
    links to it by its key. Nothing when the key is the product's own match key or the line is
    empty. Returns the alias in a list (or an empty list)."""
    key = text_key(sku, description)
    if not key or key == product.match_key:
        return []
    alias, _ = ProductAlias.objects.update_or_create(
        vendor_id=vendor_id, kind=ProductAlias.Kind.DESCRIPTION, key=key,
        defaults={"product": product, "confirmed": True},
    )
    return [alias]


def record_rejections(keys: Iterable[tuple[int | None, str]], product_id: int, user) -> list[MatchRejection]:
    """A ``MatchRejection`` of ``product_id`` for each ``(vendor_id or None, key)`` (kept when it is
    already there). A key that is the product's own match key is skipped: it would reject the
    product for every offer that reads exactly as it. Returns the rows."""
    rows = []
    own_key = Product.objects.filter(pk=product_id).values_list("match_key", flat=True).first()
    for vendor_id, key in dict.fromkeys(keys):
        if key == own_key:
            continue
        row, _ = MatchRejection.objects.get_or_create(
            vendor_id=vendor_id, key=key, product_id=product_id, defaults={"created_by": _user(user)}
        )
        rows.append(row)
    return rows


def new_product_from(sku: str, description: str) -> Product:
    """A new product built from an offer line's parsed attributes (name ``product_name()``, match
    key ``product_key()``); a line naming no product gives a product named after its text with
    the ``raw|`` text key. When the key is taken, `` #2``, `` #3``... is appended to it."""
    attrs = parse_offer(sku or "", description or "")
    key = text_key(sku, description) or "raw|"
    name = attrs.product_name() or (description or sku or "").strip()[:300] or "Unnamed product"
    return Product.objects.create(
        name=name, brand=attrs.brand, model=attrs.model, storage=attrs.storage, ram=attrs.ram,
        connectivity=attrs.connectivity, match_key=free_key(key),
    )


def free_key(key: str) -> str:
    """``key``, or ``key #n`` for the first n from 2 not yet a product's match key (one query)."""
    taken = set(Product.objects.filter(match_key__startswith=key[:KEY_LENGTH - 8]).values_list("match_key", flat=True))
    if key not in taken:
        return key
    n = 2
    while f"{key[:KEY_LENGTH - 8]} #{n}" in taken:
        n += 1
    return f"{key[:KEY_LENGTH - 8]} #{n}"


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# --- the actions --------------------------------------------------------------------------------


def same_line(offer: Offer) -> list[int]:
    """The ids of the offers one decision about ``offer`` applies to: ``offer`` first, then the
    other visible offers waiting for review of the same vendor, proposed for the same product,
    with the same normalised SKU (or, without a SKU, the same description)."""
    sku_key = normalize_sku(offer.sku or "")
    words = " ".join((offer.description or "").casefold().split())
    ids = [offer.pk]
    waiting = Offer.objects.filter(vendor_id=offer.vendor_id, product_id=offer.product_id, needs_review=True)
    for pk, sku, description in waiting.exclude(pk=offer.pk).values_list("id", "sku", "description"):
        if sku_key:
            if normalize_sku(sku or "") == sku_key:
                ids.append(pk)
        elif not normalize_sku(sku or "") and " ".join((description or "").casefold().split()) == words:
            ids.append(pk)
    return ids


def _locked(offer: Offer, *, waiting: bool = False) -> Offer:
    """The offer, locked; with ``waiting``, ``ReviewError`` when it no longer waits for review (another
    operator settled it meanwhile: deciding again would undo their decision)."""
    offer = Offer.all_objects.select_for_update().get(pk=offer.pk)
    if waiting and not offer.needs_review:
        raise ReviewError(f"Offer #{offer.pk} was settled meanwhile (now on product #{offer.product_id}).")
    return offer


def accept(offer: Offer, user=None) -> ReviewResult:
    """Confirm the proposed link of ``offer`` (and of its copies, see ``same_line``): the offers
    are settled on their product and the vendor's SKU is remembered for it."""
    with transaction.atomic():
        offer = _locked(offer)
        ids = same_line(offer)
        move_offers(ids, offer.product_id, settle=True)
        aliases = remember_skus([(offer.vendor_id, offer.sku)], offer.product) + remember_line(
            offer.sku, offer.description, offer.product)
        return ReviewResult("accept", offer.product, offer.product_id, tuple(ids), tuple(aliases))


def choose(offer: Offer, product: Product, user=None) -> ReviewResult:
    """Link ``offer`` (and its copies, see ``same_line``) to ``product`` instead of the proposed
    one: offers and their price-history points move, the vendor's SKU is remembered for
    ``product``, and the line's keys (``offer_keys``) are rejected for the proposed product.

    Raises ``ReviewError`` when ``product`` is the proposed product (use ``accept``) or was
    merged into another product (choose that one), or when the offer no longer waits for review
    (settled meanwhile; moving settled offers is ``offers.merge.split_offers``).
    """
    with transaction.atomic():
        offer = _locked(offer, waiting=True)
        product = Product.objects.get(pk=product.pk)
        if product.pk == offer.product_id:
            raise ReviewError("That is the proposed product: accept the link instead.")
        if product.merged_into_id:
            raise ReviewError(f"“{product}” was merged into product #{product.merged_into_id}: choose that one.")
        proposed = offer.product_id
        ids = same_line(offer)
        move_offers(ids, product.pk, settle=True)
        aliases = remember_skus([(offer.vendor_id, offer.sku)], product) + remember_line(
            offer.sku, offer.description, product)
        rows = record_rejections(offer_keys(offer.vendor_id, offer.sku, offer.description), proposed, user)
        return ReviewResult("choose", product, proposed, tuple(ids), tuple(aliases), tuple(rows))


def make_new_product(offer: Offer, user=None) -> ReviewResult:
    """Link ``offer`` (and its copies, see ``same_line``) to a product built from its own
    attributes (``new_product_from``) instead of the proposed one; the SKU is remembered for
    it and the line's keys are rejected for the proposed product.

    When a product with exactly the offer's attribute key already exists (and is not the
    proposed one, nor merged away), the offers go there instead (``created`` False): two
    products with the same attributes would only wait for a merge.

    Raises ``ReviewError`` when the offer no longer waits for review (settled meanwhile).
    """
    with transaction.atomic():
        offer = _locked(offer, waiting=True)
        proposed = offer.product_id
        key = text_key(offer.sku, offer.description)
        existing = (
            Product.objects.filter(match_key=key, merged_into__isnull=True).exclude(pk=proposed).first()
            if key else None
        )
        product = existing or new_product_from(offer.sku, offer.description)
        ids = same_line(offer)
        move_offers(ids, product.pk, settle=True)
        aliases = remember_skus([(offer.vendor_id, offer.sku)], product) + remember_line(
            offer.sku, offer.description, product)
        rows = record_rejections(offer_keys(offer.vendor_id, offer.sku, offer.description), proposed, user)
        return ReviewResult("new", product, proposed, tuple(ids), tuple(aliases), tuple(rows), created=existing is None)
