"""Matching run again over stored offers: ``manage.py rematch [--vendor NAME] [--dry-run]``.

Every stored offer an operator has not settled (``match_method`` "manual") is matched again
with today's attribute reading and products (``offers.matching``, in batches of
``BATCH_SIZE`` offers per vendor). The SKU step follows only the SKU aliases an operator
confirmed: the others record what the matcher decided before, which is what is redone.
Then, for each product whose offers are decided elsewhere:

- all of its offers go to one other product: the product is **merged** into it
  (``offers.merge.merge_products``: offers, history, aliases and rejections move, and the
  merge can be undone from the admin);
- otherwise the offers decided elsewhere are **moved** (with their price-history points),
  and the vendor SKUs the matcher had remembered for them are re-pointed.

Offers whose link is now a guess in the review band are flagged for review, and those no
longer in it cleared; the ``match_method`` and ``match_confidence`` of the offers that move
or had none are brought up to date (an offer left on its product keeps its label). Products
a line needs and that do not exist yet are created as the ingest would.

Running it again right after changes nothing (it is idempotent): the products it made are
now found by their keys, and the offers are where it would put them.

Everything runs in one transaction; a dry run rolls it back, so its report is exactly what a
real run would do. On SQLite other writers wait while it runs (``--vendor`` limits it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max

from offers.matching import ProductRef, match_products
from offers.merge import MergeError, merge_products
from offers.models import MatchMethod, Offer, Product, ProductAlias, Vendor
from offers.review import id_list, key_list, move_offers

BATCH_SIZE = 5000
MERGES_LISTED = 50  # merges and moves listed in the report
OFFERS_LISTED = 5  # offer ids listed per move


@dataclass
class Merged:
    """One merge done (or that a dry run would do): product ids, names and how many offers."""

    source_id: int
    source_name: str
    target_id: int
    target_name: str
    offers: int


@dataclass
class Moved:
    """Offers moved from one product to another outside a merge: ids, names, the offers moved."""

    source_id: int
    source_name: str
    target_id: int
    target_name: str
    offer_ids: list[int]


@dataclass
class RematchReport:
    """What a rematch did, or would do (``dry_run``).

    ``offers``: offers read; ``left_alone``: settled by an operator, not read; ``merged``: the
    merges; ``moves``: the moves outside merges, and ``moved`` the number of offers they moved; ``created``: products created; ``flagged``
    / ``cleared``: offers now waiting for review / no longer; ``relabelled``: offers whose
    ``match_method`` or confidence changed; ``skus``: vendor SKU aliases re-pointed.
    """

    dry_run: bool
    vendors: int = 0
    offers: int = 0
    left_alone: int = 0
    merged: list[Merged] = field(default_factory=list)
    moves: list[Moved] = field(default_factory=list)
    moved: int = 0
    moved_from: int = 0
    created: int = 0
    flagged: int = 0
    cleared: int = 0
    relabelled: int = 0
    skus: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.merged or self.moved or self.created or self.flagged or self.cleared or self.relabelled
                    or self.skus)

    def lines(self) -> list[str]:
        """The report as text lines, for the command's output."""
        would = "would " if self.dry_run else ""
        head = (f"rematch{' (dry run: nothing was written)' if self.dry_run else ''}: {self.offers:,} offer(s) "
                f"of {self.vendors:,} vendor(s) read; {self.left_alone:,} settled by an operator left alone")
        out = [head]
        if not self.changed:
            out.append("nothing to change: every offer is where matching puts it")
            return out
        if self.merged:
            out.append(f"{would}merge {len(self.merged):,} product(s) into others:")
            out += [f"  #{m.source_id} “{m.source_name}” ({m.offers:,} offer(s)) into #{m.target_id} “{m.target_name}”"
                    for m in self.merged[:MERGES_LISTED]]
            if len(self.merged) > MERGES_LISTED:
                out.append(f"  … and {len(self.merged) - MERGES_LISTED:,} more")
        if self.moved:
            out.append(f"{would}move {self.moved:,} offer(s) out of {self.moved_from:,} product(s):")
            for m in self.moves[:MERGES_LISTED]:
                shown = ", ".join(f"#{pk}" for pk in m.offer_ids[:OFFERS_LISTED])
                more = f" and {len(m.offer_ids) - OFFERS_LISTED:,} more" if len(m.offer_ids) > OFFERS_LISTED else ""
                out.append(f"  #{m.source_id} “{m.source_name}” to #{m.target_id} “{m.target_name}”: "
                           f"{len(m.offer_ids):,} offer(s) ({shown}{more})")
            if len(self.moves) > MERGES_LISTED:
                out.append(f"  … and {len(self.moves) - MERGES_LISTED:,} more")
        for count, text in (
            (self.created, f"{would}create {self.created:,} product(s)"),
            (self.flagged, f"{would}flag {self.flagged:,} offer(s) for review"),
            (self.cleared, f"{would}clear {self.cleared:,} offer(s) from review"),
            (self.relabelled, f"{would}update how {self.relabelled:,} offer(s) were linked (method, confidence)"),
            (self.skus, f"{would}re-point {self.skus:,} vendor SKU(s)"),
        ):
            if count:
                out.append(text)
        return out


def rematch(vendor: Vendor | None = None, *, dry_run: bool = False, user=None) -> RematchReport:
    """Match the stored offers of ``vendor`` (every vendor when None) again and apply the outcome
    (see the module docstring); with ``dry_run`` nothing is kept. Returns the report."""
    report = RematchReport(dry_run=dry_run)
    with transaction.atomic():
        newest = Product.objects.aggregate(newest=Max("pk"))["newest"] or 0
        vendors = [vendor] if vendor is not None else list(Vendor.objects.order_by("pk"))
        outcome = _Outcome()
        for each in vendors:
            report.vendors += 1
            _decide(each, outcome, report)
        report.created = Product.objects.filter(pk__gt=newest).count()
        _apply(outcome, report, user)
        if dry_run:
            transaction.set_rollback(True)
    return report


@dataclass
class _Outcome:
    moves: dict[int, dict[int, list[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    labels: dict[tuple, list[int]] = field(default_factory=lambda: defaultdict(list))
    skus: dict[tuple[int, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    flagged: int = 0
    cleared: int = 0


def _decide(vendor: Vendor, outcome: _Outcome, report: RematchReport) -> None:
    """Match ``vendor``'s offers again, batch by batch; collect where each should be."""
    offers = Offer.objects.filter(vendor=vendor)
    report.left_alone += offers.filter(match_method=MatchMethod.MANUAL).count()
    last = 0
    while True:
        batch = list(
            offers.exclude(match_method=MatchMethod.MANUAL).filter(pk__gt=last).order_by("pk").values_list(
                "pk", "sku", "description", "product_id", "match_method", "match_confidence", "needs_review"
            )[:BATCH_SIZE]
        )
        if not batch:
            return
        last = batch[-1][0]
        report.offers += len(batch)
        refs = [ProductRef.of(sku, description) for _, sku, description, *_ in batch]
        links = match_products(vendor.pk, refs, confirmed_skus_only=True)
        for (pk, _, _, product_id, method, confidence, review), ref, link in zip(batch, refs, links):
            decision = link.decision
            now_confidence = None if decision.method == "new" else decision.confidence
            now_review = decision.band == "review"
            if link.product_id != product_id:
                outcome.moves[product_id][link.product_id].append(pk)
                if ref.sku_key:
                    outcome.skus[(vendor.pk, link.product_id)].add(ref.sku_key)
            # The label changes with the link; an offer left where it was keeps how it was linked
            # then ("new" stays "new", not "key"), unless it never had one (before attribute matching).
            relabel = link.product_id != product_id or now_review != review or not method
            if relabel and (decision.method, now_confidence, now_review) != (method, confidence, review):
                outcome.labels[(decision.method, now_confidence, now_review)].append(pk)
                outcome.flagged += now_review and not review
                outcome.cleared += review and not now_review


def _apply(outcome: _Outcome, report: RematchReport, user) -> None:
    """Merge the products whose offers all go to one other product; move the rest; relabel."""
    sources = list(outcome.moves)
    totals = dict(
        Offer.all_objects.filter(product_id__in=id_list(sources)).values("product_id").annotate(n=Count("pk"))
        .values_list("product_id", "n")
    ) if sources else {}
    names = dict(Product.objects.filter(pk__in=id_list(
        sources + [t for targets in outcome.moves.values() for t in targets])).values_list("pk", "name"))
    merged_into: dict[int, int] = {}

    def now(product_id: int) -> int:  # a target merged in this run stands for the product it went to
        while product_id in merged_into:
            product_id = merged_into[product_id]
        return product_id

    rest = []
    for source, targets in outcome.moves.items():
        if len(targets) == 1:
            [(target, offer_ids)] = targets.items()
            target = now(target)
            if len(offer_ids) == totals.get(source) and target != source:
                try:
                    merge_products(Product.objects.get(pk=source), Product.objects.get(pk=target), user)
                except MergeError:
                    pass  # merged away meanwhile: the offers are moved instead
                else:
                    merged_into[source] = target
                    report.merged.append(Merged(source, names[source], target, names[target], len(offer_ids)))
                    continue
        rest.append((source, targets))
    for source, targets in rest:
        moved = 0
        for target, offer_ids in targets.items():
            if now(target) != source:
                moved += move_offers(offer_ids, now(target))
                report.moves.append(Moved(source, names[source], now(target), names.get(now(target), ""), offer_ids))
        report.moved += moved
        report.moved_from += bool(moved)
    for (vendor_id, target), keys in outcome.skus.items():
        report.skus += ProductAlias.objects.filter(
            vendor_id=vendor_id, kind=ProductAlias.Kind.SKU, confirmed=False, key__in=key_list(keys)
        ).exclude(product_id=now(target)).update(product_id=now(target))
    for (method, confidence, review), offer_ids in outcome.labels.items():
        Offer.all_objects.filter(pk__in=id_list(offer_ids)).update(
            match_method=method, match_confidence=confidence, needs_review=review
        )
        report.relabelled += len(offer_ids)
    report.flagged, report.cleared = outcome.flagged, outcome.cleared
