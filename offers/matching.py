"""Offers → canonical ``Product`` rows, in the ingest's batches, against the database.

The steps and the decision are ``offers.similarity.link_offer``'s (the vendor's
remembered SKU, an identifier, the exact attribute key, similarity inside the
block of brand + storage + connectivity, else a new product). Here they run
against a per-batch ``Catalogue`` preloaded from the database with a fixed
number of queries per batch, whatever its size (``plan_matches``, reading only,
so that the ingest can decide before it takes the write lock):

1. the vendor's SKU aliases for the batch's SKU keys (id, match key and merge of
   their products: a line whose SKU names the product made for that very line,
   the daily case of a known list, is settled here);
2. the identifier aliases (EAN, Apple part number) for the batch's identifiers;
3. the products whose ``match_key`` is a line's text key, or that an operator's
   decision names for it (an alias of kind ``description``: the vendor's own
   first, then an all-vendor one), for the lines step 1 did not settle;
4. the operators' rejections (``offers.review.rejections``) for the batch's keys,
   when there are any: a rejected product is never proposed for that key again;
5. for the lines still open, the attributes of the products steps 1-3 found, and
   the products of their blocks that share their model signature
   (``offers.similarity.signature``: the others would be vetoed);

then, only when the batch meets merged products, one query per link of the
longest merge chain (a key or alias still naming a merged product links to the
product it was merged into). ``match_products`` writes what was decided in three
bulk statements at most: new products (named and keyed by their attributes,
``OfferAttributes.product_name()`` and ``product_key()``; a line naming no
product gets its ``raw|`` text key), new SKU aliases and new identifier
aliases. A link in the review band teaches nothing: its SKU and identifiers are
remembered only once an operator confirms it (``offers.review``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from offers.attributes import OfferAttributes, parse_offer
from offers.bulk import Adapter, OfferRow, insert_rows, reserve_ids
from offers.identifiers import PRODUCT_KINDS
from offers.merge import chain_end
from offers.models import MatchRejection, Product, ProductAlias
from offers.review import free_key, id_list, key_list, rejections
from offers.similarity import (
    NO_CANDIDATE,
    NO_MODEL,
    CandidateProduct,
    Catalogue,
    Decision,
    link_offer,
    model_signature,
    normalize_sku,
    signature,
    text_key,
)


class ProductRef(NamedTuple):
    """What one offer says about its product, read once on the ingest's reader side.

    ``sku_key``: ``normalize_sku(sku)`` ("" without a SKU); ``attrs``: ``parse_offer``'s
    reading; ``key``: the line's text key (``offers.similarity.text_key``); ``name``: the
    name of a product made for it (``attrs.product_name()``, else the raw line).
    """

    sku_key: str
    attrs: OfferAttributes
    key: str
    name: str

    @classmethod
    def of(cls, sku: str, description: str) -> ProductRef:
        sku, description = sku.strip(), description.strip()
        attrs = parse_offer(sku, description)
        key = text_key(attrs, sku, description) or "raw|"
        return cls(normalize_sku(sku), attrs, key, (attrs.product_name() or description or sku)[:300])


class Link(NamedTuple):
    """The outcome for one ref: the product id and the decision behind it."""

    product_id: int
    decision: Decision


@dataclass
class MatchPlan:
    """One vendor's batch decided but not yet written (``plan_matches``): ``links`` per distinct
    line of ``lines``, new products under ids -1, -2, ... in ``catalogue.placeholders``."""

    vendor_id: int
    lines: list[ProductRef]
    links: list[Link]
    catalogue: _BatchCatalogue
    known_skus: set = field(default_factory=set)
    known_identifiers: set = field(default_factory=set)
    in_transaction: bool = False  # decided inside the transaction that writes it: cannot be stale


class _Stale(Exception):
    """A plan made before the write lock links to a product merged or deleted since."""


def _per_row(refs: Sequence[ProductRef], decided: dict[tuple, Link]) -> list[Link]:
    """Each ref's link; a line's later rows found the product its first row created by its key."""
    links, seen = [], set()
    for ref in refs:
        line = _line(ref)
        link = decided[line]
        if link.decision.band == "new" and line in seen:  # (a guess stays one: band "review")
            link = Link(link.product_id, Decision(link.product_id, "key", 100, "accept"))
        seen.add(line)
        links.append(link)
    return links


def _line(ref: ProductRef) -> tuple:
    # Rows repeat lines; a line is decided once per SKU, key and identifiers (colour and region
    # are the offer's own, filled in from each row's ref by ``apply_link``).
    return ref.sku_key, ref.key, ref.attrs.identifiers


def plan_matches(vendor_id: int, refs: Sequence[ProductRef], *, confirmed_skus_only: bool = False) -> MatchPlan:
    """Decide the products of one vendor's batch, reading the database only (a fixed number of
    queries): run it before taking the write lock, then ``match_products(..., plan=)``.

    ``confirmed_skus_only``: the SKU step follows only SKU aliases an operator confirmed (for
    ``offers.rematch``: the others say what the matcher decided before, which is being redone).
    """
    lines = list({_line(ref): ref for ref in reversed(refs)}.values())[::-1]
    return _plan(vendor_id, lines, confirmed_skus_only)


def match_products(vendor_id: int, refs: Sequence[ProductRef], plan: MatchPlan | None = None, *,
                   confirmed_skus_only: bool = False) -> list[Link]:
    """One ``Link`` per ref (same order) for offers of vendor ``vendor_id``, creating products
    and aliases as needed; call inside the transaction that writes the offers.

    ``plan``: the batch decided beforehand by ``plan_matches`` (outside the write lock); it is
    written if still true: when a concurrent writer created one of its products or aliases
    meanwhile (a unique conflict), or merged or deleted a product it links to, the batch is
    decided again inside a savepoint (three tries, then the ``IntegrityError`` is raised).
    ``confirmed_skus_only``: as for ``plan_matches``.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                if plan is None or attempt:
                    plan = plan_matches(vendor_id, refs, confirmed_skus_only=confirmed_skus_only)
                    plan.in_transaction = True
                links = _write(plan)
            if len(plan.lines) == len(refs):  # no line repeated: the plan's lines are the refs
                return links
            return _per_row(refs, dict(zip(map(_line, plan.lines), links)))
        except (IntegrityError, _Stale):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def apply_link(offer: OfferRow, ref: ProductRef, link: Link) -> None:
    """Fill in ``offer``'s product, colour, region and match fields from its ``ref`` and ``link``;
    SIM and lock words go to ``offer.extra`` (``sim``, ``lock``), and so does the reason of a
    link in the review band or of a new product after a near miss (``match_reason``: "score 72",
    "vetoed: pro", "best score 41")."""
    decision, attrs = link.decision, ref.attrs
    offer.product_id = link.product_id
    offer.color, offer.region = attrs.color[:50], attrs.region[:20]
    offer.match_method = decision.method
    offer.match_confidence = None if decision.method == "new" else decision.confidence
    offer.needs_review = decision.band == "review"
    reason = decision.reason if decision.reason not in (NO_MODEL, NO_CANDIDATE) else ""
    if attrs.sim or attrs.lock or reason:
        extra = dict(offer.extra)
        if attrs.sim:
            extra["sim"] = attrs.sim
        if attrs.lock:
            extra["lock"] = attrs.lock
        if reason:
            extra["match_reason"] = reason
        offer.extra = extra


_PRODUCT_COLUMNS = "p.id, p.match_key, p.brand, p.model, p.storage, p.ram, p.connectivity, p.merged_into_id"


class _Row(NamedTuple):
    id: int
    match_key: str
    brand: str
    model: str
    storage: str
    ram: str
    connectivity: str
    merged_into_id: int | None

    def candidate(self) -> CandidateProduct:
        return CandidateProduct(self.id, self.brand, self.model, self.storage, self.ram, self.connectivity,
                                tuple(self.model.lower().split()))


class _BatchCatalogue(Catalogue):
    """The batch's ``Catalogue``: products still to create get ids -1, -2, ... (``placeholders``
    holds their refs), replaced by real ids when they are written."""

    def __init__(self):
        super().__init__()
        self.placeholders: dict[int, ProductRef] = {}

    def new_id(self) -> int:
        return -len(self.placeholders) - 1


class _Excluding:
    """A ``ProductIndex`` view of ``index`` without the products ``excluded`` (rejected by an
    operator for the line's keys)."""

    def __init__(self, index: Catalogue, excluded: set[int]):
        self.index, self.excluded = index, excluded

    def _keep(self, product_id: int | None) -> int | None:
        return None if product_id in self.excluded else product_id

    def by_sku(self, vendor, sku):
        return self._keep(self.index.by_sku(vendor, sku))

    def by_identifier(self, kind, value):
        return self._keep(self.index.by_identifier(kind, value))

    def by_key(self, key):
        return self._keep(self.index.by_key(key))

    def product(self, product_id):
        return self.index.product(product_id)

    def block(self, brand, storage, connectivity, signature):
        return [p for p in self.index.block(brand, storage, connectivity, signature) if p.id not in self.excluded]


def _plan(vendor_id: int, refs: Sequence[ProductRef], confirmed_skus_only: bool = False) -> MatchPlan:
    alias, product = ProductAlias._meta.db_table, Product._meta.db_table
    rows: dict[int, _Row] = {}
    sku_keys = {ref.sku_key for ref in refs if ref.sku_key}
    # Only what the daily case needs (match key, merge): the attributes of the few products open
    # lines need are read below.
    by_sku = _lookup(
        f"SELECT a.product_id FROM {alias} a WHERE a.vendor_id = %s AND a.kind = %s AND a.key = k.key"
        + (" AND a.confirmed" if confirmed_skus_only else ""),
        [vendor_id, ProductAlias.Kind.SKU.value], sku_keys, rows, light=True,
    )
    existing_skus = set(by_sku)
    if confirmed_skus_only and sku_keys:  # the others exist too: not to be created again
        existing_skus.update(ProductAlias.objects.filter(
            vendor_id=vendor_id, kind=ProductAlias.Kind.SKU, key__in=key_list(sku_keys)
        ).values_list("key", flat=True))
    kinds = ", ".join(f"'{kind}'" for kind in sorted(PRODUCT_KINDS))  # the project's own constants
    by_identifier = _lookup(
        f"SELECT MIN(a.product_id) FROM {alias} a WHERE a.vendor_id IS NULL AND a.kind IN ({kinds}) "
        "AND a.key = k.key",
        [], {value for ref in refs for kind, value in ref.attrs.identifiers if kind in PRODUCT_KINDS}, rows,
    )
    # The daily case of a known list: the SKU names the product made for this very line.
    settled = {ref.key for ref in refs if ref.sku_key in by_sku and rows[by_sku[ref.sku_key]].match_key == ref.key}
    line = ProductAlias.Kind.DESCRIPTION.value
    by_key = _lookup(
        f"COALESCE((SELECT a.product_id FROM {alias} a WHERE a.vendor_id = %s AND a.kind = %s AND a.key = k.key), "
        f"(SELECT a.product_id FROM {alias} a WHERE a.vendor_id IS NULL AND a.kind = %s AND a.key = k.key), "
        f"(SELECT p.id FROM {product} p WHERE p.match_key = k.key))",
        [vendor_id, line, line], {ref.key for ref in refs} - settled, rows,
    )
    current = _follow_merges(rows)
    rejected = (
        rejections(vendor_id, {key for ref in refs for key in (ref.sku_key, ref.key)})
        if MatchRejection.objects.exists() else {}
    )

    def excluded(ref: ProductRef) -> set[int]:
        return rejected.get(ref.sku_key, set()) | rejected.get(ref.key, set()) if rejected else set()

    # The daily case of a known list, settled at once: the SKU names the product made for this
    # very line (same attribute key, so nothing in the line contradicts it), not merged away.
    links: list[Link | None] = [None] * len(refs)
    open_lines = []
    for i, ref in enumerate(refs):
        pk = by_sku.get(ref.sku_key)
        if pk is not None and rows[pk].match_key == ref.key and pk not in current and (
                not rejected or pk not in excluded(ref)):
            links[i] = Link(pk, Decision(pk, "sku", 100, "accept"))
        else:
            open_lines.append(i)

    catalogue, vendor = _BatchCatalogue(), str(vendor_id)
    if not open_lines:
        return MatchPlan(vendor_id, list(refs), links, catalogue)
    _complete(rows)
    for row in rows.values():
        if row.merged_into_id is None:
            catalogue.add(row.candidate())
    catalogue.skus = {(vendor, key): current.get(pk, pk) for key, pk in by_sku.items()}
    catalogue.identifiers = {
        (kind, value): current.get(pk, pk) for value, pk in by_identifier.items() for kind in PRODUCT_KINDS
    }
    catalogue.keys.update((key, current.get(pk, pk)) for key, pk in by_key.items())
    for row in rows.values():  # a product's own match key names it (found through a SKU)
        catalogue.keys.setdefault(row.match_key, current.get(row.id, row.id))

    def index_for(ref: ProductRef):
        rejected_here = excluded(ref) if rejected else None
        return _Excluding(catalogue, rejected_here) if rejected_here else catalogue

    # The blocks the open lines may need: those of the lines no product (not rejected) has the key of.
    keys = catalogue.keys
    wanted = {
        (attrs.brand, attrs.storage, attrs.connectivity, signature(attrs.tokens))
        for ref in (refs[i] for i in open_lines)
        if (attrs := ref.attrs).brand and attrs.tokens and (ref.key not in keys or rejected and excluded(ref))
    }
    for row in _blocks(wanted):
        if row.id not in catalogue.products:
            catalogue.add(row.candidate())

    known_skus = {(vendor, key) for key in existing_skus}
    known_identifiers, taken = set(catalogue.identifiers), set(catalogue.keys)
    for i in open_lines:
        ref = refs[i]
        decision = link_offer(index_for(ref), vendor, ref.sku_key, ref.attrs, ref.key)
        product_id = catalogue.record(vendor, ref.sku_key, ref.attrs, decision, ref.key)
        if product_id < 0 and product_id not in catalogue.placeholders:
            if ref.key in taken:  # the product with this key was rejected for this line
                ref = ref._replace(key=free_key(ref.key))
            catalogue.placeholders[product_id] = ref
        links[i] = Link(product_id, decision)
    return MatchPlan(vendor_id, list(refs), links, catalogue, known_skus, known_identifiers)


def _write(plan: MatchPlan) -> list[Link]:
    """Create the plan's new products and aliases; its links with real product ids. Raises
    ``_Stale`` when a plan made outside the transaction links to a product that is no longer
    current, ``IntegrityError`` when one of its products or aliases was created meanwhile."""
    catalogue, vendor_id = plan.catalogue, plan.vendor_id
    if not plan.in_transaction:
        linked = {link.product_id for link in plan.links if link.product_id > 0}
        if linked and Product.objects.filter(pk__in=id_list(linked), merged_into__isnull=True).count() != len(linked):
            raise _Stale
    now = Adapter().when(timezone.now())
    real: dict[int, int] = {}
    if catalogue.placeholders:
        ids = reserve_ids(Product, len(catalogue.placeholders))
        real = dict(zip(catalogue.placeholders, ids))
        insert_rows(
            Product,
            ["id", "name", "brand", "model", "storage", "ram", "connectivity", "color", "variant", "match_key",
             "model_signature", "created_at", "updated_at"],
            [
                (real[placeholder], ref.name, ref.attrs.brand, ref.attrs.model, ref.attrs.storage, ref.attrs.ram,
                 ref.attrs.connectivity, "", "", ref.key, model_signature(ref.attrs.model), now, now)
                for placeholder, ref in catalogue.placeholders.items()
            ],
        )

    def final(product_id: int) -> int:
        return real.get(product_id, product_id)

    sku, vendor = ProductAlias.Kind.SKU.value, str(vendor_id)
    insert_rows(
        ProductAlias,
        ["product_id", "vendor_id", "kind", "key", "created_at"],
        [(final(product_id), vendor_id, sku, key, now)
         for (owner, key), product_id in catalogue.skus.items()
         if owner == vendor and (owner, key) not in plan.known_skus]
        + [(final(product_id), None, kind, value, now)
           for (kind, value), product_id in catalogue.identifiers.items() if (kind, value) not in plan.known_identifiers],
    )
    return [Link(final(link.product_id), link.decision) for link in plan.links]


def _lookup(expression: str, params: list, keys: set[str], rows: dict[int, _Row], *, light: bool = False
            ) -> dict[str, int]:
    """``{key: product id}`` for the keys where ``expression`` (over ``k.key``) finds a product;
    the products' rows are added to ``rows`` (with ``light``, id, match key and merge only: see
    ``_complete``).

    One query, and each key is looked up by its own index probe (a correlated
    subquery), whatever the planner's statistics say: a large first import
    leaves them behind, and PostgreSQL then filters a whole vendor's aliases
    against a 5,000-key array instead.
    """
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        source, batch = "unnest(%s::text[]) AS k(key)", list(keys)
    else:
        source, batch = "(SELECT value AS key FROM json_each(%s)) AS k", json.dumps(list(keys))
    found = {}
    columns = "p.id, p.match_key, p.merged_into_id" if light else _PRODUCT_COLUMNS
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.key, {columns} FROM (SELECT k.key AS key, ({expression}) AS id FROM {source}) m "
            f"JOIN {Product._meta.db_table} p ON p.id = m.id",
            [*params, batch],
        )
        if light:
            for key, pk, match_key, merged_into_id in cursor.fetchall():
                found[key] = pk
                if pk not in rows:
                    rows[pk] = _Row(pk, match_key, None, "", "", "", "", merged_into_id)
        else:
            for key, *row in cursor.fetchall():
                found[key] = row[0]
                rows[row[0]] = _Row(*row)
    return found


def _complete(rows: dict[int, _Row]) -> None:
    """Read the attributes of the products ``_lookup(light=True)`` left out (``brand`` None)."""
    light = [pk for pk, row in rows.items() if row.brand is None]
    if light:
        _load(rows, light)


def _load(rows: dict[int, _Row], ids: Iterable[int]) -> None:
    """Read the products ``ids`` into ``rows``: one query, the ids bound as one parameter."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        source, param = "(SELECT unnest(%s::bigint[]))", ids
    else:
        source, param = "(SELECT value FROM json_each(%s))", json.dumps(ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_PRODUCT_COLUMNS} FROM {Product._meta.db_table} p WHERE p.id IN {source}", [param])
        for row in cursor.fetchall():
            rows[row[0]] = _Row(*row)


def _blocks(blocks: set[tuple[str, str, str, str]]) -> list[_Row]:
    """Every product not merged away in the blocks ``(brand, storage, connectivity, model
    signature)``: one query (the ``product_block_signature`` index)."""
    if not blocks:
        return []
    columns = [list(column) for column in zip(*blocks)]
    if connection.vendor == "postgresql":
        source = "unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS b(brand, storage, connectivity, sig)"
        params = columns
    else:
        source = ("(SELECT json_extract(value, '$[0]') AS brand, json_extract(value, '$[1]') AS storage, "
                  "json_extract(value, '$[2]') AS connectivity, json_extract(value, '$[3]') AS sig "
                  "FROM json_each(%s)) AS b")
        params = [json.dumps(sorted(blocks))]
    with connection.cursor() as cursor:
        # Driven by the blocks: one probe of the index per block, however many products there are.
        cursor.execute(
            f"SELECT {_PRODUCT_COLUMNS} FROM {source} JOIN {Product._meta.db_table} p ON p.brand = b.brand "
            "AND p.storage = b.storage AND p.connectivity = b.connectivity AND p.model_signature = b.sig "
            # Written as the partial index's own condition: SQLite uses the index only then.
            "WHERE NOT (p.brand = '') AND p.merged_into_id IS NULL",
            params,
        )
        return [_Row(*row) for row in cursor.fetchall()]


def _follow_merges(rows: dict[int, _Row]) -> dict[int, int]:
    """``{merged product id: the product it stands for now}`` for the merged products in ``rows``,
    loading the products they were merged into (following chains: one query per link of the
    longest chain, none when the batch met no merged product)."""
    while missing := {r.merged_into_id for r in rows.values() if r.merged_into_id and r.merged_into_id not in rows}:
        _load(rows, missing)
    merged_into = {pk: row.merged_into_id for pk, row in rows.items()}
    return {pk: end for pk in rows if (end := chain_end(merged_into, pk)) != pk}
