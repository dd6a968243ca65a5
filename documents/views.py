from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.views import APIView

from documents.filters import DocumentFilter
from documents.models import SourceDocument
from documents.price_template import build_vendor_price_template
from documents.serializers import DocumentDetailSerializer, DocumentSerializer
from pricehub.api import KnownQueryParameters

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DocumentList(generics.ListAPIView):
    queryset = SourceDocument.objects.select_related("vendor")
    serializer_class = DocumentSerializer
    filter_backends = [KnownQueryParameters, DjangoFilterBackend]
    filterset_class = DocumentFilter


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
