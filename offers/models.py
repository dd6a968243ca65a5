"""The domain: vendors, canonical products, their offers and price history."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from offers.expressions import IsCurrencyCode
from offers.similarity import model_signature


class Condition(models.TextChoices):
    """Controlled vocabulary for an offer's condition; the raw text is kept beside it."""

    NEW = "new", "New"
    OPEN_BOX = "open_box", "Open box"
    CPO = "cpo", "Certified pre-owned"
    REFURBISHED = "refurbished", "Refurbished"
    USED = "used", "Used"
    DAMAGED = "damaged", "Damaged / for parts"
    UNKNOWN = "unknown", "Unknown"


class Vendor(models.Model):
    name = models.CharField(max_length=200)
    default_currency = models.CharField(
        max_length=3, blank=True, help_text="ISO 4217 code used when a price list names no currency."
    )
    is_provisional = models.BooleanField(
        default=False,
        help_text="Created automatically (e.g. from a WhatsApp sender) and not yet confirmed by an operator.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="vendor_name_unique_ci"),
            models.CheckConstraint(
                condition=models.Q(default_currency="") | models.Q(IsCurrencyCode("default_currency")),
                name="vendor_default_currency_iso",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VendorAlias(models.Model):
    """Another name a vendor appears under (a WhatsApp sender, a spelling variant)."""

    class Kind(models.TextChoices):
        NAME = "name", "Name variant"
        WHATSAPP_SENDER = "whatsapp_sender", "WhatsApp sender"

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="aliases")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NAME)
    alias = models.CharField(max_length=200, help_text="Normalized: case-folded, spaces collapsed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "vendor aliases"
        constraints = [models.UniqueConstraint(fields=["kind", "alias"], name="vendor_alias_unique")]

    def __str__(self) -> str:
        return f"{self.alias} → {self.vendor}"


class Category(models.Model):
    name = models.CharField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), "parent", name="category_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A canonical product that offers from many vendors point at."""

    name = models.CharField(max_length=300, help_text="Canonical display name.")
    brand = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=150, blank=True)
    storage = models.CharField(max_length=30, blank=True, help_text="e.g. 256GB, 1TB")
    # db_default: the bulk writers (offers.bulk, offers.matching) name their columns; older ones stay valid.
    ram = models.CharField(max_length=20, blank=True, default="", db_default="",
                           help_text="e.g. 12GB, where the maker sells it as a variant.")
    connectivity = models.CharField(
        max_length=30, blank=True, default="", db_default="", help_text="Wi-Fi, Wi-Fi + Cellular (tablets) or 5G, where it names a model."
    )
    color = models.CharField(max_length=50, blank=True)
    variant = models.CharField(max_length=150, blank=True, help_text="Any other variant detail.")
    # Kept from ``model`` by ``save`` (and by matching's bulk insert): see offers.similarity.model_signature.
    model_signature = models.CharField(
        max_length=150, blank=True, default="", db_default="", editable=False,
        help_text="The model's numbers and variant words: only products with the same can be the same model.",
    )
    match_key = models.CharField(max_length=300, help_text="Normalized key used to match raw offers to this product.")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products", db_index=False
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="products")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_products", db_index=False,
        help_text="Set when this product was merged into another (its offers moved there; the merge can be undone).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # Products are created by the thousand with no brand and no category yet:
        # they stay out of these indexes until an operator or matching sets them.
        indexes = [
            # Matching's block: the products of one brand, storage and connectivity that can be the
            # line's model (the same model signature); also the brand lists' and filters' index.
            models.Index(
                fields=["brand", "storage", "connectivity", "model_signature"], condition=~models.Q(brand=""),
                name="product_block_signature",
            ),
            models.Index(fields=["category"], condition=models.Q(category__isnull=False), name="product_category"),
        ]
        # A constraint rather than unique=True: PostgreSQL gets no second
        # (LIKE) index on the column, which matching never searches by prefix.
        constraints = [models.UniqueConstraint(fields=["match_key"], name="product_match_key_unique")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.model_signature = model_signature(self.model)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "model" in update_fields:
            kwargs["update_fields"] = {*update_fields, "model_signature"}
        super().save(*args, **kwargs)


class ProductAlias(models.Model):
    """A raw key (a vendor's SKU, a line's text key, an EAN or Apple part number) known to mean a
    product.

    ``vendor`` is set for vendor-specific keys (SKUs); null for keys that hold
    across vendors. ``confirmed``: an operator decided it (the review queue); the
    matcher made the others, and ``manage.py rematch`` decides those again.
    """

    class Kind(models.TextChoices):
        SKU = "sku", "SKU"
        DESCRIPTION = "description", "Description"
        EAN = "ean", "EAN / UPC"
        MPN = "mpn", "Apple part number (MPN)"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="aliases")
    # No index of its own: the two unique indexes below serve every lookup, and a
    # plain vendor_id index tempts PostgreSQL into filtering 100,000s of rows
    # when its statistics lag behind a large first import.
    vendor = models.ForeignKey(
        Vendor, null=True, blank=True, on_delete=models.CASCADE, related_name="product_aliases", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=300)
    confirmed = models.BooleanField(
        default=False, db_default=False, help_text="An operator decided this link (the review queue)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "product aliases"
        constraints = [
            # key before kind: lookups send a batch of keys, which must be the
            # index condition whatever the planner's statistics say.
            models.UniqueConstraint(
                fields=["vendor", "key", "kind"],
                condition=models.Q(vendor__isnull=False),
                name="product_alias_vendor_unique",
            ),
            models.UniqueConstraint(
                fields=["key", "kind"], condition=models.Q(vendor__isnull=True), name="product_alias_global_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} → {self.product_id}"


class MatchMethod(models.TextChoices):
    """How an offer was linked to its product (``offers.similarity.Decision.method``)."""

    SKU = "sku", "Vendor SKU remembered"
    IDENTIFIER = "identifier", "Identifier (EAN, part number)"
    KEY = "key", "Same attributes"
    SIMILAR = "similar", "Similar model"
    NEW = "new", "New product"
    MANUAL = "manual", "Operator"


class MatchRejection(models.Model):
    """An operator's "this offer text is not that product": never proposed again.

    ``key`` is the offer's text as matching keys it (its normalised SKU, or its description key);
    ``vendor`` is set for SKUs (they mean different things at different vendors).
    """

    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    key = models.CharField(max_length=300)
    product = models.ForeignKey("Product", on_delete=models.CASCADE, related_name="rejections", db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "product", "vendor"], name="matchrejection_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} is not product {self.product_id}"


class ProductMerge(models.Model):
    """One merge of ``source`` into ``target``, with what moved (``moved``: lists of offer,
    price-history point and alias ids), so that it can be undone (``undone_at``)."""

    source = models.ForeignKey("Product", on_delete=models.CASCADE, related_name="merges_out")
    target = models.ForeignKey("Product", on_delete=models.CASCADE, related_name="merges_in")
    moved = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"product {self.source_id} merged into {self.target_id}"


class VisibleQuerySet(models.QuerySet):
    """Rows of documents that have ended: the rows of a document still being ingested
    (``SourceDocument.HIDDEN_STATUSES``) are written in batches and appear all at once
    when it completes. The test reads the few unfinished documents through their status
    index; rows without a document (chat messages) are always visible."""

    def visible(self):
        from documents.models import SourceDocument

        unfinished = SourceDocument.objects.filter(status__in=SourceDocument.HIDDEN_STATUSES).values("pk")
        return self.exclude(source_document_id__in=unfinished)


class VisibleManager(models.Manager.from_queryset(VisibleQuerySet)):
    """The default manager of offers and price history: every reader (API, admin, selectors,
    reverse relations) sees visible rows only. ``all_objects`` sees every row (ingest internals)."""

    def get_queryset(self):
        return super().get_queryset().visible()


class Offer(models.Model):
    """One price a vendor asked for a product, as seen in one source.

    ``Offer.objects`` shows the offers of ended documents only (``VisibleManager``);
    ``Offer.all_objects`` every row.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="offers", db_index=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="offers", db_index=False)
    source_document = models.ForeignKey(
        "documents.SourceDocument",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="offers",
        db_index=False,
    )
    source_message = models.ForeignKey(
        "whatsapp.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="offers", db_index=False
    )
    sku = models.CharField(max_length=120, blank=True, help_text="SKU or model number as the vendor wrote it.")
    description = models.TextField(blank=True, help_text="Description as the vendor wrote it.")
    price = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    quantity = models.PositiveIntegerField(null=True, blank=True)
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.UNKNOWN)
    condition_grade = models.CharField(max_length=10, blank=True, help_text="Grade such as A, B, C.")
    condition_raw = models.CharField(max_length=200, blank=True)
    observed_at = models.DateTimeField()
    source_ref = models.CharField(max_length=120, blank=True, help_text="Sheet and row, or line, in the source.")
    # db_default on the matching columns: offers.bulk's insert names its columns.
    color = models.CharField(max_length=50, blank=True, default="", db_default="",
                             help_text="Colour read from the offer line.")
    region = models.CharField(max_length=20, blank=True, default="", db_default="",
                              help_text="Region or spec read from the line: US, HK, EU...")
    match_method = models.CharField(
        max_length=12, choices=MatchMethod.choices, blank=True, default="", db_default="",
        help_text="How the offer was linked to its product (blank: before attribute matching).",
    )
    match_confidence = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0-100.")
    needs_review = models.BooleanField(
        default=False, db_default=False, help_text="The link is a guess in the review band: an operator accepts or changes it."
    )
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VisibleManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["-id"]
        base_manager_name = "all_objects"
        indexes = [
            models.Index(fields=["vendor", "-id"], name="offer_vendor_id"),
            models.Index(fields=["product", "-id"], name="offer_product_id"),
            models.Index(fields=["source_document", "-id"], name="offer_document_id"),
            # Only chat offers have a message: file offers stay out of this index.
            models.Index(
                fields=["source_message"], condition=models.Q(source_message__isnull=False), name="offer_message"
            ),
            # With the id: "observed at T, written before id N" is one probe
            # (offers.bulk's re-ingest test), and newest-first by time needs no sort.
            models.Index(fields=["observed_at", "id"], name="offer_observed_at_id"),
            models.Index(fields=["price"], name="offer_price"),
            # The review queue: the few offers whose link waits for an operator.
            models.Index(fields=["-id"], condition=models.Q(needs_review=True), name="offer_review_queue"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="offer_price_positive"),
            models.CheckConstraint(condition=models.Q(IsCurrencyCode("currency")), name="offer_currency_iso"),
            models.CheckConstraint(
                condition=models.Q(condition__in=Condition.values), name="offer_condition_vocabulary"
            ),
        ]

    def __str__(self) -> str:
        """"Apple iPhone 15 128GB — Acme Mobile — 689.00 USD": admin titles, breadcrumbs, confirmations."""
        return price_title(self)


class PriceHistory(models.Model):
    """A point of the per-product price series, one per offer; hidden with its offer while its
    document is ingested (``objects``; ``all_objects`` sees every point)."""

    # Every point is copied inside the database from the offer just written
    # (offers.bulk), so the database does not check its offer, product and
    # vendor again for every point; the ORM still deletes points with their
    # offer. The series index serves lookups.
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="price_history", db_index=False, db_constraint=False
    )
    vendor = models.ForeignKey(
        Vendor, on_delete=models.CASCADE, related_name="price_history", db_index=False, db_constraint=False
    )
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.UNKNOWN)
    price = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    observed_at = models.DateTimeField()
    offer = models.OneToOneField(Offer, on_delete=models.CASCADE, related_name="history_point", db_constraint=False)
    # The offer's document, copied with it: hides the point with the offer while the
    # document is ingested (``VisibleManager``) without a join. No index: no lookup by it.
    source_document = models.ForeignKey(
        "documents.SourceDocument", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_index=False, db_constraint=False,
    )

    objects = VisibleManager()
    all_objects = models.Manager()

    class Meta:
        base_manager_name = "all_objects"
        verbose_name_plural = "price history"
        ordering = ["product", "observed_at"]
        indexes = [
            # Currency and price last: a series is read by its first four columns, and the ingest's
            # "is this point already there" probe (offers.bulk) is one seek on all six, however many
            # offers of a product a vendor's list has at the same time.
            models.Index(
                fields=["product", "vendor", "condition", "observed_at", "currency", "price"],
                name="pricehistory_point",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="pricehistory_price_positive"),
        ]

    def __str__(self) -> str:
        """"Apple iPhone 15 128GB — Acme Mobile — 689.00 USD on 2026-11-01"."""
        when = f" on {self.observed_at:%Y-%m-%d}" if self.observed_at else ""
        return price_title(self) + when


def price_title(row: Offer | PriceHistory) -> str:
    """Product — vendor — price currency, for an offer or a history point (select_related both for lists)."""
    product = row.product.name if row.product_id else "(no product)"
    vendor = row.vendor.name if row.vendor_id else "(no vendor)"
    try:
        price = f"{Decimal(row.price):.2f}"
    except (TypeError, ValueError, ArithmeticError):
        price = str(row.price)
    return f"{product} — {vendor} — {price} {row.currency}".rstrip()


class ExchangeRate(models.Model):
    """How many units of ``settings.EXCHANGE_BASE_CURRENCY`` one unit of ``currency`` was worth on ``date``.

    Kept by operators (admin). An offer is converted with the latest rate dated on or before
    the day it was observed (``offers.board``); an offer whose currency has no such rate is
    compared only with offers in its own currency, never converted with a guess.
    """

    date = models.DateField(help_text="Day the rate holds from (until a later rate of the same currency).")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code of the currency the rate converts from.")
    rate = models.DecimalField(
        max_digits=20, decimal_places=10,
        help_text="Units of the base currency (EXCHANGE_BASE_CURRENCY) per 1 unit of this currency.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "currency"]
        constraints = [
            # Currency first: every lookup is "this currency, on or before that day".
            models.UniqueConstraint(fields=["currency", "date"], name="exchangerate_currency_date_unique"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchangerate_rate_positive"),
            models.CheckConstraint(condition=models.Q(IsCurrencyCode("currency")), name="exchangerate_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} on {self.date:%Y-%m-%d}: {self.rate}"


class OfferToReview(Offer):
    """An offer whose link to its product waits for an operator (``needs_review``): the rows of
    the admin's review queue (``offers.admin_review``). Same table as ``Offer``."""

    class Meta:
        proxy = True
        verbose_name = "offer to review"
        verbose_name_plural = "offers to review"
