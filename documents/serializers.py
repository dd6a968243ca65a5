from rest_framework import serializers

from documents.models import SourceDocument


class DocumentSerializer(serializers.ModelSerializer):
    vendor_id = serializers.IntegerField(read_only=True, allow_null=True)
    vendor_name = serializers.CharField(source="vendor.name", default=None, read_only=True)
    offers_created = serializers.SerializerMethodField()
    error_count = serializers.SerializerMethodField()

    class Meta:
        model = SourceDocument
        fields = [
            "id", "original_filename", "sha256", "size", "content_type", "processor",
            "vendor_id", "vendor_name", "status", "trigger", "offers_created", "error_count",
            "created_at", "started_at", "finished_at",
        ]

    def get_offers_created(self, document) -> int:
        return int(document.stats.get("offers_created", 0))

    def get_error_count(self, document) -> int:
        return len(document.errors)


class DocumentDetailSerializer(DocumentSerializer):
    errors = serializers.ListField(child=serializers.DictField(), read_only=True)
    skipped = serializers.ListField(child=serializers.DictField(), read_only=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)
    failure = serializers.CharField(source="extra.failure", default="", read_only=True)
    stats = serializers.DictField(read_only=True)

    class Meta(DocumentSerializer.Meta):
        fields = DocumentSerializer.Meta.fields + [
            "options", "previous_id", "failure", "warnings", "errors", "skipped", "stats",
        ]
