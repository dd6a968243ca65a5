import django_filters

from documents.models import SourceDocument


class DocumentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SourceDocument.Status.choices)
    vendor_id = django_filters.NumberFilter(field_name="vendor_id")
    processor = django_filters.CharFilter(field_name="processor")

    class Meta:
        model = SourceDocument
        fields = []
