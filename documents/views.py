from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.filters import DocumentFilter
from documents.models import SourceDocument
from documents.price_template import build_vendor_price_template
from documents.serializers import (
    UPLOAD_FIELDS,
    DocumentDetailSerializer,
    DocumentQueuedSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
)
from pricehub.api import CanUpload, IsStaffOrTokenUser, KnownQueryParameters

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FileTooLarge(APIException):
    """413: the uploaded file is larger than ``INGESTION_MAX_FILE_BYTES``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"


class DocumentList(generics.ListAPIView):
    """``GET``: ingested documents. ``POST``: upload a price list to ingest (a ``write`` token)."""

    queryset = SourceDocument.objects.select_related("vendor")
    serializer_class = DocumentSerializer
    filter_backends = [KnownQueryParameters, DjangoFilterBackend]
    filterset_class = DocumentFilter
    parser_classes = [MultiPartParser]  # uploads; GET reads no body

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: past the limit the file is not kept (ingestion.uploads).
        self.size_limit = None
        if request.method == "POST":
            from ingestion.uploads import install_size_limit

            self.size_limit = install_size_limit(request)
        return super().initialize_request(request, *args, **kwargs)

    def get_serializer_class(self):
        # The browsable API's upload form asks for the POST serializer.
        return DocumentUploadSerializer if self.request.method == "POST" else DocumentSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsStaffOrTokenUser(), CanUpload()]
        return super().get_permissions()


    @extend_schema(
        operation_id="documents_upload",
        summary="Upload a price list to ingest",
        description=(
            "Needs a token with scope `write`. The file is stored and queued for ingestion; poll `url` until "
            "`status` is `succeeded`, `partial` or `failed`. Files larger than `INGESTION_MAX_FILE_BYTES` "
            "(default 52,428,800 bytes, 50 MB) are refused with 413."
        ),
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={
            202: DocumentQueuedSerializer,
            400: OpenApiResponse(description="A bad request: unknown field, processor, currency or option, an "
                                             "empty file or one no processor reads; the body says which."),
            403: OpenApiResponse(description="The token is read-only (scope `read`)."),
            409: OpenApiResponse(
                description="The same content was already ingested with the same vendor and settings; `document` "
                            "is that earlier one. Send `force=true` to ingest it again.",
                examples=[OpenApiExample("unchanged", value={
                    "detail": "list.xlsx: unchanged: the same content was already ingested as document #12 ... "
                              "send force=true to ingest it again",
                    "document": {"id": 12, "status": "succeeded", "url": "https://pricehub.example.com/documents/12"},
                })],
            ),
            413: OpenApiResponse(description="The file is larger than INGESTION_MAX_FILE_BYTES."),
        },
    )
    def post(self, request):
        from ingestion import services
        from ingestion.tasks import enqueue_ingest

        try:
            data = request.data
        except ParseError:
            self._refuse_if_too_large()
            raise
        self._refuse_if_too_large()
        unknown = sorted(set(data) - set(UPLOAD_FIELDS))
        if unknown:
            raise ValidationError({"detail": f"unknown field(s) {', '.join(map(repr, unknown))}; valid ones: "
                                             f"{', '.join(UPLOAD_FIELDS)}"})
        upload = DocumentUploadSerializer(data=data)
        upload.is_valid(raise_exception=True)
        given = upload.validated_data
        try:
            document = services.register_file(
                given["file"], given["file"].name, vendor_name=given["vendor"], processor=given["processor"],
                options=given["option"], currency=given["currency"], trigger=SourceDocument.Trigger.UPLOAD,
                force=given["force"],
            )
        except services.AlreadyIngested as exc:
            earlier = exc.document
            return Response(
                {
                    "detail": f"{exc}; send force=true to ingest it again",
                    "document": {"id": earlier.pk, "status": earlier.status,
                                 "url": DocumentQueuedSerializer(context={"request": request}).get_url(earlier)},
                },
                status=status.HTTP_409_CONFLICT,
            )
        except services.IngestError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        enqueue_ingest(document)
        document.refresh_from_db()
        body = DocumentQueuedSerializer(document, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    def _refuse_if_too_large(self) -> None:
        if self.size_limit is not None and self.size_limit.exceeded:
            raise FileTooLarge(f"{self.size_limit.message} (The limit is the server's INGESTION_MAX_FILE_BYTES.)")


class DocumentDetail(generics.RetrieveAPIView):
    queryset = SourceDocument.objects.select_related("vendor")
    serializer_class = DocumentDetailSerializer


class VendorPriceTemplate(APIView):
    """The vendor price template workbook (see docs/CHAT_INTERFACE_SPEC.md)."""

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
    def get(self, request):
        response = HttpResponse(build_vendor_price_template(), content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="vendor-price-template.xlsx"'
        return response
