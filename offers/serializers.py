from rest_framework import serializers

from offers.models import Offer, PriceHistory, Product, Vendor


class VendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = ["id", "name", "default_currency", "is_provisional", "created_at"]


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", default=None, read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    merged_into_id = serializers.IntegerField(
        read_only=True, allow_null=True,
        help_text="The product this one was merged into (its offers are there now); null unless merged.",
    )

    class Meta:
        model = Product
        fields = [
            "id", "name", "brand", "model", "storage", "ram", "connectivity", "color", "variant",
            "match_key", "category", "tags", "merged_into_id", "created_at", "updated_at",
        ]


class OfferSerializer(serializers.ModelSerializer):
    vendor_id = serializers.IntegerField(read_only=True)
    vendor_name = serializers.CharField(source="vendor.name", read_only=True)
    product_id = serializers.IntegerField(read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    source_document_id = serializers.IntegerField(read_only=True, allow_null=True)
    source_message_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Offer
        fields = [
            "id", "vendor_id", "vendor_name", "product_id", "product_name", "sku", "description",
            "price", "currency", "quantity", "condition", "condition_grade", "condition_raw",
            "observed_at", "source_document_id", "source_message_id", "source_ref", "color", "region",
            "match_method", "match_confidence", "needs_review", "extra",
        ]


class PricePointSerializer(serializers.ModelSerializer):
    offer_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = PriceHistory
        fields = ["observed_at", "price", "offer_id"]


class PriceSeriesSerializer(serializers.Serializer):
    vendor_id = serializers.IntegerField()
    vendor_name = serializers.CharField()
    condition = serializers.CharField()
    currency = serializers.CharField()
    points = PricePointSerializer(many=True)


class ProductPriceHistorySerializer(serializers.Serializer):
    product = ProductSerializer()
    series = PriceSeriesSerializer(many=True)


class CurrentOfferSerializer(serializers.Serializer):
    """One vendor's current offer (``offers.board.CurrentOffer``). ``base_price`` is the price in
    ``base_currency`` with ``rate`` of ``rate_date``; null when no rate exists, with
    ``conversion_note`` saying why (never converted silently)."""

    offer_id = serializers.IntegerField()
    vendor_id = serializers.IntegerField()
    vendor_name = serializers.CharField()
    condition = serializers.CharField()
    price = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    quantity = serializers.IntegerField(allow_null=True)
    observed_at = serializers.DateTimeField()
    age_hours = serializers.FloatField(help_text="Hours since observed_at.")
    base_currency = serializers.CharField()
    base_price = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    rate = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True,
                                    help_text="Base-currency units per unit of currency; null for the base currency "
                                              "itself or without a rate.")
    rate_date = serializers.DateField(allow_null=True)
    conversion_note = serializers.CharField(allow_blank=True)


class ProductCurrentOffersSerializer(serializers.Serializer):
    """The answer of ``GET /products/{id}/offers/current``: the product, the window's end and
    length, the base currency, and its current offers cheapest first."""

    product_id = serializers.IntegerField()
    product_name = serializers.CharField()
    merged_into_id = serializers.IntegerField(
        allow_null=True, help_text="Set when the product was merged into another: its offers are there now."
    )
    as_of = serializers.DateTimeField(help_text="End of the freshness window (the request's time).")
    freshness_hours = serializers.IntegerField()
    base_currency = serializers.CharField()
    results = CurrentOfferSerializer(many=True)


class BoardRowSerializer(serializers.Serializer):
    """One row of the board (``offers.board.BoardRow``): prices are in ``currency``, which is the
    base currency when ``converted``, else the offers' own currency (``note`` says why)."""

    product_id = serializers.IntegerField()
    product_name = serializers.CharField()
    brand = serializers.CharField(allow_blank=True)
    condition = serializers.CharField()
    currency = serializers.CharField()
    converted = serializers.BooleanField()
    best_price = serializers.DecimalField(max_digits=20, decimal_places=2)
    best_vendor_id = serializers.IntegerField(source="best.vendor_id")
    best_vendor_name = serializers.CharField(source="best.vendor_name")
    best_offer_id = serializers.IntegerField(source="best.offer_id")
    best_offer_price = serializers.DecimalField(source="best.price", max_digits=14, decimal_places=2,
                                                help_text="The best offer's price in its own currency.")
    best_offer_currency = serializers.CharField(source="best.currency")
    best_quantity = serializers.IntegerField(source="best.quantity", allow_null=True)
    best_observed_at = serializers.DateTimeField(source="best.observed_at")
    best_age_hours = serializers.FloatField(source="best.age_hours")
    vendor_count = serializers.IntegerField()
    vendors_all_currencies = serializers.IntegerField()
    min_price = serializers.DecimalField(max_digits=20, decimal_places=2)
    max_price = serializers.DecimalField(max_digits=20, decimal_places=2)
    spread = serializers.DecimalField(max_digits=20, decimal_places=2, help_text="max_price - min_price.")
    note = serializers.CharField(allow_blank=True)


class BoardPageSerializer(serializers.Serializer):
    """A page of ``GET /board``: links to the next and previous pages, the window's end and
    length, the base currency, and the rows."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    as_of = serializers.DateTimeField()
    freshness_hours = serializers.IntegerField()
    base_currency = serializers.CharField()
    results = BoardRowSerializer(many=True)
