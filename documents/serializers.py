from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
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
    notes = serializers.ListField(child=serializers.CharField(), read_only=True)
    failure = serializers.CharField(source="extra.failure", default="", read_only=True)
    stats = serializers.DictField(read_only=True)

    class Meta(DocumentSerializer.Meta):
        fields = DocumentSerializer.Meta.fields + [
            "options", "previous_id", "failure", "warnings", "notes", "errors", "skipped", "stats",
        ]


UPLOAD_FIELDS = ("file", "vendor", "processor", "currency", "option", "force")


@extend_schema_field(OpenApiTypes.BINARY)
class UploadedFileField(serializers.FileField):
    """A file sent in a multipart body (binary in the OpenAPI schema, not a URL)."""


class DocumentUploadSerializer(serializers.Serializer):
    """``POST /documents`` (multipart): a price list and how to ingest it."""

    file = UploadedFileField(
        help_text="The price list: spreadsheet (.xlsx, .xls, .ods, .csv), WhatsApp transcript (.txt), Telegram "
                  "chat (.txt copy, result.json), PDF or image (.pdf, .png, .jpg, .webp, .tif)."
    )
    vendor = serializers.CharField(required=False, default="", allow_blank=True, max_length=200,
                                   help_text="The vendor's name (made if new). Needed for spreadsheets; a chat may "
                                             "go without, each sender becoming a provisional vendor.")
    processor = serializers.CharField(required=False, default="", allow_blank=True, max_length=40,
                                      help_text="The processor to read it with; empty: detected from the file.")
    currency = serializers.CharField(required=False, default="", allow_blank=True, max_length=10,
                                     help_text="ISO 4217 code for prices that name no currency, e.g. EUR.")
    option = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                   help_text="A processor option as KEY=VALUE; repeat the field for several.")
    force = serializers.BooleanField(required=False, default=False,
                                     help_text="true: ingest again content already ingested with the same vendor "
                                               "and settings (otherwise 409).")

    def validate(self, data):
        """A file whose processor needs a vendor (spreadsheets: only chats can go without, their
        senders becoming provisional vendors) is refused without one, before anything is stored,
        as the admin's upload form refuses it."""
        from ingestion import processors
        from ingestion.forms import read_upload_head, senders_become_vendors

        if data["vendor"].strip():
            return data
        upload = data["file"]
        name = data["processor"] or processors.detect_name(upload.name or "", read_upload_head(upload))
        if name in processors.names() and not senders_become_vendors(name):
            raise serializers.ValidationError({"vendor": [
                f"{upload.name} is read by the {name} processor, which needs a vendor: send vendor=NAME (only chat "
                "transcripts can go without, their senders becoming provisional vendors)"
            ]})
        return data

    def validate_option(self, values: list[str]) -> dict[str, str]:
        options: dict[str, str] = {}
        for value in values:
            key, sep, setting = value.partition("=")
            key = key.strip()
            if not sep or not key:
                raise serializers.ValidationError(f"{value!r} is not KEY=VALUE")
            if key in options:
                raise serializers.ValidationError(f"option {key!r} is given twice")
            options[key] = setting.strip()
        return options


class DocumentQueuedSerializer(DocumentSerializer):
    """The answer to an upload: the document and where to poll it."""

    url = serializers.SerializerMethodField(help_text="GET it to follow the document's status.")

    class Meta(DocumentSerializer.Meta):
        fields = DocumentSerializer.Meta.fields + ["url"]

    def get_url(self, document) -> str:
        from django.urls import reverse

        path = reverse("document-detail", args=[document.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
