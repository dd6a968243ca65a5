"""Query-string filters of the offer and product lists; a bad value is a 400 naming the filter."""

import django_filters
from django import forms

from offers.models import Condition, Offer, Product


class IdFilter(django_filters.Filter):
    """A whole-number id: ``1.5`` or ``abc`` is a 400 (a ``NumberFilter`` would read ``1.5`` as 1)."""

    field_class = forms.IntegerField


class OfferFilter(django_filters.FilterSet):
    vendor_id = IdFilter(field_name="vendor_id")
    product_id = IdFilter(field_name="product_id")
    document_id = IdFilter(field_name="source_document_id")
    condition = django_filters.ChoiceFilter(choices=Condition.choices)
    currency = django_filters.CharFilter(method="filter_currency")
    price_min = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    price_max = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    observed_since = django_filters.IsoDateTimeFilter(field_name="observed_at", lookup_expr="gte")
    observed_until = django_filters.IsoDateTimeFilter(field_name="observed_at", lookup_expr="lt")

    class Meta:
        model = Offer
        fields = []

    def filter_currency(self, queryset, name, value):
        return queryset.filter(currency=value.strip().upper())


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    brand = django_filters.CharFilter(field_name="brand", lookup_expr="iexact")
    category_id = IdFilter(field_name="category_id")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", distinct=True)

    class Meta:
        model = Product
        fields = []
