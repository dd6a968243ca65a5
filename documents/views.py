from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics

from documents.filters import DocumentFilter
from documents.models import SourceDocument
from documents.serializers import DocumentDetailSerializer, DocumentSerializer


class DocumentList(generics.ListAPIView):
    queryset = SourceDocument.objects.select_related("vendor")
    serializer_class = DocumentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DocumentFilter


class DocumentDetail(generics.RetrieveAPIView):
    queryset = SourceDocument.objects.select_related("vendor")
    serializer_class = DocumentDetailSerializer
