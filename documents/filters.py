import django_filters

from documents.models import SourceDocument
from offers.filters import IdFilter


class DocumentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SourceDocument.Status.choices)
    vendor_id = IdFilter(field_name="vendor_id")
    processor = django_filters.CharFilter(field_name="processor")

    class Meta:
        model = SourceDocument
        fields = []
