"""Query-string filters of the offer and product lists; a bad value is a 400 naming the filter."""

import django_filters
from django import forms

from offers.attributes import canonical_colour, canonical_region
from offers.models import Condition, MatchMethod, Offer, Product


# The largest id a database column holds (a signed 64-bit integer): a larger number is a 400, not a
# database overflow (SQLite's driver raises OverflowError; PostgreSQL "out of range").
MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    """A database id: a whole number from 1 to ``MAX_ID``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFilter(django_filters.Filter):
    """A whole-number id from 1 to ``MAX_ID``: ``1.5``, ``abc`` or ``99999999999999999999`` is a 400
    (a ``NumberFilter`` would read ``1.5`` as 1; the database would overflow on the last)."""

    field_class = IdField


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (any case); anything else is an error naming the value. Django's
    boolean form fields read an unknown word as "not given" (the filter would be ignored)."""

    VALUES = {"true": True, "false": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError(f"{value!r} is not true or false", code="invalid") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    """A true/false filter whose other values are a 400 (``StrictBooleanField``)."""

    field_class = StrictBooleanField


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
    # No index of their own: a colour or region alone reads the offers newest first until a page
    # is full; with vendor_id or product_id the (vendor, id) / (product, id) index serves it.
    color = django_filters.CharFilter(
        method="filter_color",
        help_text="Offer colour, case-insensitive, exact (e.g. Natural Titanium); a vendor's spelling of a "
                  "known colour is read as the colour (space grey, Siyah, nat).")
    region = django_filters.CharFilter(
        method="filter_region",
        help_text="Offer region, case-insensitive, exact (e.g. US, HK, EU); a region word is read as its code "
                  "(Japan, usa).")
    # needs_review=true reads the review queue's partial index (offer_review_queue).
    needs_review = StrictBooleanFilter(field_name="needs_review",
                                       help_text="true: only offers whose link waits for an operator; false: the others.")
    match_method = django_filters.ChoiceFilter(choices=MatchMethod.choices,
                                               help_text="How the offer was linked to its product.")

    class Meta:
        model = Offer
        fields = []

    def filter_color(self, queryset, name, value):
        return queryset.filter(color__iexact=canonical_colour(value) or value.strip())

    def filter_region(self, queryset, name, value):
        return queryset.filter(region__iexact=canonical_region(value) or value.strip())

    def filter_currency(self, queryset, name, value):
        return queryset.filter(currency=value.strip().upper())


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    brand = django_filters.CharFilter(field_name="brand", lookup_expr="iexact")
    category_id = IdFilter(field_name="category_id")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", distinct=True)
    merged = StrictBooleanFilter(
        method="filter_merged",
        help_text="false (the default): products not merged into another; true: merged ones only "
                  "(their merged_into_id names the product they were merged into).",
    )

    class Meta:
        model = Product
        fields = []

    def filter_merged(self, queryset, name, value: bool):
        return queryset.filter(merged_into__isnull=not value)

    def filter_queryset(self, queryset):
        """Without ``merged``, merged products are left out: they live on only so that old links
        (``GET /products/{id}``) still answer."""
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("merged") is None:
            queryset = self.filter_merged(queryset, "merged", False)
        return queryset


class BoardFilterForm(forms.Form):
    """The best-price board's filters, shared by ``GET /board`` and the admin's "Best prices"
    page; a bad value is an error naming the filter."""

    q = forms.CharField(required=False, max_length=200, label="Product",
                        help_text="Every word of the product name, or a vendor SKU.")
    brand = forms.CharField(required=False, max_length=100)
    category_id = IdField(required=False, label="Category id")
    condition = forms.ChoiceField(required=False, choices=[("", "Any")] + list(Condition.choices))
    currency = forms.RegexField(required=False, regex=r"^[A-Za-z]{3}$", max_length=3,
                                help_text="Offers in this ISO 4217 currency only.",
                                error_messages={"invalid": "an ISO 4217 code: three letters such as EUR"})
    min_vendors = forms.IntegerField(required=False, min_value=1, max_value=1000, label="Min. vendors")

    def board_arguments(self) -> dict:
        """The cleaned filters as keyword arguments of ``offers.board.board`` (call after ``is_valid``)."""
        data = self.cleaned_data
        return {
            "q": data.get("q") or "", "brand": data.get("brand") or "", "category_id": data.get("category_id"),
            "condition": data.get("condition") or "", "currency": (data.get("currency") or "").upper(),
            "min_vendors": data.get("min_vendors") or 1,
        }
