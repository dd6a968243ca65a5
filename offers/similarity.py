"""Which canonical product an offer is: the decision, and the order of the steps (pure Python, no Django).

An offer is linked to a canonical product, never to another offer. Steps, in
order (``link_offer``), each against a ``ProductIndex`` (the database matcher's
prefetched batch, or the in-memory ``Catalogue`` of the quality bench):

1. ``sku``: the vendor's remembered SKU (per vendor), unless the offer's own
   attributes contradict that product (another brand, storage or connectivity);
2. ``identifier``: an EAN or Apple part number already linked to a product
   (model codes and A numbers name a model, not a storage: they only feed the
   parser);
3. ``key``: a product with the same exact attribute key (``product_key()``);
4. ``similar``: ``decide`` inside the block of products of the same brand,
   storage and connectivity: rapidfuzz ``token_sort_ratio`` on model tokens,
   with a veto when the two models differ by a variant word (pro, max, ultra,
   plus, mini, fe, lite, slim, digital, disc, oled, air, cellular...) or any
   number. Indexes give ``decide`` only the products of the block with the
   line's model ``signature`` (its numbers and variant words): the others are
   vetoed anyway, and a block may hold thousands of products;
5. ``new``: a new product built from the offer's attributes.

Bands: ``accept`` (confidence >= 90, no veto), ``review`` (60-89: the offer is
attached to its best candidate and flagged for an operator), ``new`` (< 60).
The thresholds are issue 10's: auto-accept >= 90 without veto, review 60-89,
new below (measured on labelled offers in the issue's research; this
project's own figures: ``bench/matching_quality.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Protocol

from rapidfuzz.fuzz import token_sort_ratio

from offers.attributes import OfferAttributes, parse_offer
from offers.identifiers import PRODUCT_KINDS

ACCEPT, REVIEW = 90, 60

#: ``Decision.reason`` of a new product when nothing was compared (no near miss to explain).
NO_MODEL, NO_CANDIDATE = "no brand or model read", "no candidate in block"

#: Model words whose presence on one side only vetoes a similarity link.
VETO_WORDS = frozenset(
    "pro max ultra plus mini fe lite slim digital disc oled air edge xl se e s anc cellular wifi "
    "fold flip note tab buds watch series ipad iphone pixel redmi poco 5g".split()
)


@dataclass(frozen=True, slots=True)
class CandidateProduct:
    """A canonical product as the decision sees it: ``id``, ``brand`` ("Apple"), ``model``
    ("iPhone 15 Pro Max"), ``storage`` ("256GB" or ""), ``ram``, ``connectivity``, and
    ``tokens`` (the model's lower-case words, as ``OfferAttributes.tokens``)."""

    id: int
    brand: str
    model: str
    storage: str = ""
    ram: str = ""
    connectivity: str = ""
    tokens: tuple[str, ...] = ()

    @classmethod
    def of(cls, product_id: int, attrs: OfferAttributes) -> CandidateProduct:
        """The product an offer's attributes describe, under ``product_id``."""
        return cls(product_id, attrs.brand, attrs.model, attrs.storage, attrs.ram, attrs.connectivity, attrs.tokens)

    def key(self) -> str:
        """The same exact key as ``OfferAttributes.product_key()``."""
        return f"{self.brand}|{self.model}|{self.storage}|{self.connectivity}|{self.ram}".lower()


@dataclass(frozen=True, slots=True)
class Decision:
    """The link chosen for one offer.

    ``product_id``: the product (None for ``new``); ``method``: "sku", "identifier",
    "key", "similar" or "new"; ``confidence``: 0-100 (for "new", the best candidate's
    score, 0 when none); ``band``: "accept", "review" or "new"; ``reason``: a short
    text for the review queue (the vetoed words, the score).
    """

    product_id: int | None
    method: str
    confidence: int
    band: str
    reason: str = ""


def block_of(attrs: OfferAttributes | CandidateProduct) -> tuple[str, str, str]:
    """The blocking key: ``(brand, storage, connectivity)`` lower-cased."""
    return attrs.brand.lower(), attrs.storage.lower(), attrs.connectivity.lower()


def _vetoing(token: str) -> bool:
    return token in VETO_WORDS or any(ch.isdigit() for ch in token)


@lru_cache(maxsize=65536)
def signature(tokens: tuple[str, ...]) -> str:
    """The model's numbers and variant words, sorted and space-separated (``("galaxy", "s24",
    "ultra")`` -> ``"galaxy s24 ultra"``; ``("ipad", "air", "11", "m2")`` -> ``"11 air ipad m2"``).
    Two models ``veto`` does not part have the same signature: matching compares a line only
    with the products of its block that share it."""
    return " ".join(sorted({token for token in tokens if _vetoing(token)}))


def model_signature(model: str) -> str:
    """``signature`` of a product's model as stored ("iPhone 15 Pro Max" -> "15 iphone max pro");
    at most 150 characters (``Product.model_signature``)."""
    return signature(tuple(model.lower().split()))[:150]


def veto(a: Sequence[str], b: Sequence[str]) -> str:
    """The words that make two models different products ("" when none): any word in
    one token list but not the other that is a variant word or holds a digit."""
    if a == b:
        return ""
    return " ".join(sorted(t for t in set(a) ^ set(b) if _vetoing(t)))


def decide(attrs: OfferAttributes, candidates: Sequence[CandidateProduct]) -> Decision:
    """The best candidate product for ``attrs`` among ``candidates`` (any products; those
    outside the offer's block of brand, storage and connectivity are skipped).

    A candidate with the same exact key is a ``key`` link (100). Otherwise each
    candidate is scored with ``token_sort_ratio`` on model tokens (0-100); a
    candidate differing by a variant word or a number is vetoed, so is one whose
    RAM is known on both sides and differs. RAM known on one side only costs 5
    points, and a tie between several candidates caps the link at review. Returns
    a ``Decision`` (band "new" with product_id None when nothing reaches 60).
    """
    if not attrs.brand or not attrs.tokens:
        return Decision(None, "new", 0, "new", NO_MODEL)
    key = attrs.product_key()
    block = block_of(attrs)
    words = " ".join(attrs.tokens)
    scored: list[tuple[int, CandidateProduct]] = []
    vetoed: list[str] = []
    for candidate in candidates:
        if block_of(candidate) != block:
            continue
        if candidate.key() == key:
            return Decision(candidate.id, "key", 100, "accept")
        if attrs.ram and candidate.ram and attrs.ram != candidate.ram:
            vetoed.append(f"RAM {candidate.ram}")
            continue
        why = veto(attrs.tokens, candidate.tokens)
        if why:
            vetoed.append(why)
            continue
        score = round(token_sort_ratio(words, " ".join(candidate.tokens)))
        if bool(attrs.ram) != bool(candidate.ram):
            score -= 5
        scored.append((score, candidate))
    if not scored:
        reason = f"vetoed: {', '.join(vetoed)}" if vetoed else NO_CANDIDATE
        return Decision(None, "new", 0, "new", reason)
    scored.sort(key=lambda item: (-item[0], item[1].id))
    score, best = scored[0]
    if len(scored) > 1 and scored[1][0] == score:
        score = min(score, ACCEPT - 1)  # two products fit as well: an operator chooses
    if score >= ACCEPT:
        return Decision(best.id, "similar", score, "accept", f"score {score}")
    if score >= REVIEW:
        return Decision(best.id, "similar", score, "review", f"score {score}")
    return Decision(None, "new", score, "new", f"best score {score}")


# --- the order of the steps, shared by the database matcher and the bench ------------------------


class ProductIndex(Protocol):
    """What ``link_offer`` asks of a product store (all lookups return product ids or None)."""

    def by_sku(self, vendor: str, sku: str) -> int | None:
        """The product ``vendor``'s SKU (as ``normalize_sku`` gives it) was linked to."""

    def by_identifier(self, kind: str, value: str) -> int | None:
        """The product an identifier of a ``PRODUCT_KINDS`` kind ("ean", "mpn") names."""

    def by_key(self, key: str) -> int | None:
        """The product whose exact attribute key (``product_key()``) is ``key``."""

    def product(self, product_id: int) -> CandidateProduct | None:
        """The product's attributes (to check a SKU or identifier link against the line)."""

    def block(self, brand: str, storage: str, connectivity: str, signature: str) -> Sequence[CandidateProduct]:
        """Every product of this brand, storage and connectivity (canonical spelling, any case) whose
        model has this ``signature`` (the others are vetoed)."""


KEY_LENGTH = 300  # Product.match_key, ProductAlias.key, MatchRejection.key


def normalize_sku(sku: str) -> str:
    """A vendor SKU as remembered: whitespace removed, upper case, at most 300 characters
    ("" stays "")."""
    return "".join(sku.split()).upper()[:KEY_LENGTH]


def text_key(attrs: OfferAttributes, sku: str, description: str) -> str:
    """The text key of an offer line: its attribute key (``attrs.product_key()``, e.g.
    ``"apple|iphone 15 pro|256gb||"``), or, for a line naming no product, ``"raw|"`` + its
    case-folded words (the description, else the SKU). At most 300 characters; "" for an
    empty line. A product made for the line has it as its ``match_key``."""
    key = attrs.product_key()
    if not key:
        words = " ".join((description or sku or "").casefold().split())
        key = f"raw|{words}" if words else ""
    return key[:KEY_LENGTH]


def _consistent(attrs: OfferAttributes, product: CandidateProduct | None) -> bool:
    """False when the offer's own attributes say it is not ``product`` (brand, storage, connectivity)."""
    if product is None:
        return False
    for mine, theirs in ((attrs.brand, product.brand), (attrs.storage, product.storage),
                         (attrs.connectivity, product.connectivity)):
        if mine and theirs and mine.lower() != theirs.lower():
            return False
    if attrs.tokens and product.tokens and veto(attrs.tokens, product.tokens):
        return False
    return True


def link_offer(index: ProductIndex, vendor: str, sku_key: str, attrs: OfferAttributes, raw_key: str = "") -> Decision:
    """The decision for one offer of ``vendor`` with SKU ``sku_key`` (as ``normalize_sku`` gives
    it, "" for none) and parsed ``attrs``, in the order sku -> identifier -> key -> similar -> new. ``raw_key``: for a line whose brand or
    model is unknown, its ``text_key`` (a product made for such a line earlier is found by
    it). Reads ``index`` only; the caller records the outcome (new product, SKU and
    identifier aliases)."""
    if sku_key:
        found = index.by_sku(vendor, sku_key)
        if found is not None and _consistent(attrs, index.product(found)):
            return Decision(found, "sku", 100, "accept")
    for kind, value in attrs.identifiers:
        if kind in PRODUCT_KINDS:
            found = index.by_identifier(kind, value)
            if found is not None and _consistent(attrs, index.product(found)):
                return Decision(found, "identifier", 100, "accept")
    key = attrs.product_key()
    if key:
        found = index.by_key(key)
        if found is not None:
            return Decision(found, "key", 100, "accept")
        decision = decide(attrs, index.block(attrs.brand, attrs.storage, attrs.connectivity, signature(attrs.tokens)))
        if attrs.unread and decision.band == "new":  # a model named with a word nothing read: a guess
            return replace(decision, band="review", reason=f"new product; the word {attrs.unread!r} was not read")
        return decision
    if raw_key:
        found = index.by_key(raw_key)
        if found is not None:
            return Decision(found, "key", 100, "accept")
    return Decision(None, "new", 0, "new", NO_MODEL)


@dataclass
class Catalogue:
    """An in-memory ``ProductIndex`` that grows as offers are matched: the quality bench's
    store, and the database matcher's per-batch index (``offers.matching``), preloaded with
    the batch's products (``add``, ``skus``, ``identifiers``, ``keys``). New products get ids
    from ``new_id`` (by default 1, 2, 3... after the largest known id)."""

    products: dict[int, CandidateProduct] = field(default_factory=dict)
    skus: dict[tuple[str, str], int] = field(default_factory=dict)
    identifiers: dict[tuple[str, str], int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    blocks: dict[tuple[str, str, str, str], list[CandidateProduct]] = field(default_factory=dict)

    def by_sku(self, vendor: str, sku: str) -> int | None:
        return self.skus.get((vendor, sku))

    def by_identifier(self, kind: str, value: str) -> int | None:
        return self.identifiers.get((kind, value))

    def by_key(self, key: str) -> int | None:
        return self.keys.get(key)

    def product(self, product_id: int) -> CandidateProduct | None:
        return self.products.get(product_id)

    def block(self, brand: str, storage: str, connectivity: str, signature: str) -> Sequence[CandidateProduct]:
        return self.blocks.get((brand.lower(), storage.lower(), connectivity.lower(), signature), ())

    def add(self, product: CandidateProduct) -> None:
        """Register an existing product (e.g. loaded from the database): its key and its block."""
        self.products[product.id] = product
        if product.brand and product.tokens:
            self.keys.setdefault(product.key(), product.id)
            self.blocks.setdefault((*block_of(product), signature(product.tokens)), []).append(product)

    def new_id(self) -> int:
        """The id of a product about to be created."""
        return max(self.products, default=0) + 1

    def record(self, vendor: str, sku_key: str, attrs: OfferAttributes, decision: Decision, key: str) -> int:
        """Apply ``decision`` for a line of ``vendor`` with SKU ``sku_key`` (normalized): create the
        product for "new" (``key``, the line's ``text_key``, becomes its key); unless the link waits
        for review, remember the SKU and the product identifiers. Returns the offer's product id."""
        product_id = decision.product_id
        if product_id is None:
            product_id = self.new_id()
            self.add(CandidateProduct.of(product_id, attrs))
            self.keys.setdefault(key, product_id)
        if decision.band == "review":
            return product_id  # a link an operator has not confirmed teaches nothing
        if sku_key:
            self.skus.setdefault((vendor, sku_key), product_id)
        for kind, value in attrs.identifiers:
            if kind in PRODUCT_KINDS:
                self.identifiers.setdefault((kind, value), product_id)
        return product_id


@dataclass(frozen=True, slots=True)
class Match:
    """One offer's outcome in ``match_offers``: the product id, and the decision behind it."""

    product_id: int
    decision: Decision
    attrs: OfferAttributes


def match_offers(rows: Iterable[tuple[str, str, str]], catalogue: Catalogue | None = None) -> list[Match]:
    """Match ``(vendor, sku, description)`` rows in order against ``catalogue`` (a new empty
    one by default), creating products as the ingest would. Returns one ``Match`` per row."""
    catalogue = catalogue if catalogue is not None else Catalogue()
    out: list[Match] = []
    for vendor, sku, description in rows:
        attrs = parse_offer(sku, description)
        key = text_key(attrs, sku, description)
        sku_key = normalize_sku(sku)
        decision = link_offer(catalogue, vendor, sku_key, attrs, key)
        product_id = catalogue.record(vendor, sku_key, attrs, decision, key)
        out.append(Match(product_id, decision, attrs))
    return out
