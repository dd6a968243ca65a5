from rest_framework import serializers

from offers.models import Offer, PriceHistory, Product, Vendor


class VendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = ["id", "name", "default_currency", "is_provisional", "created_at"]


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", default=None, read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Product
        fields = [
            "id", "name", "brand", "model", "storage", "color", "variant",
            "match_key", "category", "tags", "created_at", "updated_at",
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
            "observed_at", "source_document_id", "source_message_id", "source_ref", "extra",
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
