import base64
import csv
import io

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from offers import board as board_logic, selectors
from pricehub.api import IdCursorPagination, KnownQueryParameters, StrictOrderingFilter, reject_unknown_parameters
from pricehub.cell_safety import neutralise_row
from offers.filters import BoardFilterForm, OfferFilter, ProductFilter
from offers.models import Offer, Product, Vendor
from offers.serializers import (
    BoardPageSerializer,
    OfferSerializer,
    ProductCurrentOffersSerializer,
    ProductPriceHistorySerializer,
    ProductSerializer,
    VendorSerializer,
)

# Each use clones these (DRF's get_queryset, get_object_or_404): they are never evaluated here.
OFFERS = Offer.objects.select_related("vendor", "product")
PRODUCTS = Product.objects.select_related("category").prefetch_related("tags")


class OfferList(generics.ListAPIView):
    queryset = OFFERS
    serializer_class = OfferSerializer
    filter_backends = [KnownQueryParameters, DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = OfferFilter
    ordering_fields = ["id", "price", "observed_at"]
    ordering = ["-id"]


class OfferDetail(generics.RetrieveAPIView):
    queryset = OFFERS
    serializer_class = OfferSerializer


class ProductList(generics.ListAPIView):
    """Products not merged into another by default; ``?merged=true`` lists the merged ones
    (``ProductFilter``)."""

    queryset = PRODUCTS
    serializer_class = ProductSerializer
    filter_backends = [KnownQueryParameters, DjangoFilterBackend]
    filterset_class = ProductFilter


class ProductDetail(generics.RetrieveAPIView):
    """Any product, a merged one too (with its ``merged_into_id``): old links keep working."""

    queryset = PRODUCTS
    serializer_class = ProductSerializer


class VendorList(generics.ListAPIView):
    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer
    filter_backends = [KnownQueryParameters]


class VendorDetail(generics.RetrieveAPIView):
    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` through DRF's content negotiation; the views write the CSV
    themselves (``csv_response``), so this renders only what reaches it as text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else str(data)


class CsvOrJsonMixin:
    """A view answering JSON, or CSV with ``?format=csv``; errors are always JSON."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]
    FORMAT_PARAMETER = OpenApiParameter(
        "format", OpenApiTypes.STR, enum=["json", "csv"],
        description="csv: a CSV file (UTF-8 with byte-order mark; text cells that a spreadsheet would run as a "
                    "formula start with ')",
    )

    def wants_csv(self, request) -> bool:
        return getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv"

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400 and self.wants_csv(request):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def csv_response(header, rows, filename: str) -> HttpResponse:
    """A CSV download: byte-order mark, ``header``, then ``rows``, every cell through
    ``pricehub.cell_safety.neutralise`` (numbers stay numbers)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(neutralise_row(row))
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _blank(value):
    return "" if value is None else value


PRICE_HISTORY_CSV = ("product_id", "product_name", "vendor_id", "vendor_name", "condition", "currency",
                     "observed_at", "price", "offer_id")


class ProductPriceHistory(CsvOrJsonMixin, APIView):
    """``GET /price-history/product/{id}``: the product's price series (JSON), or one CSV line
    per point (``PRICE_HISTORY_CSV`` columns) with ``?format=csv``."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Points observed at or after."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Points observed before."),
            CsvOrJsonMixin.FORMAT_PARAMETER,
        ],
        responses={(200, "application/json"): ProductPriceHistorySerializer,
                   (200, "text/csv"): OpenApiTypes.STR},
        description="The product's price points, one series per vendor, condition and currency. With "
                    "`?format=csv`: one line per point, columns " + ", ".join(PRICE_HISTORY_CSV) + ".",
    )
    def get(self, request, pk: int):
        reject_unknown_parameters(request, ("since", "until"))
        product = get_object_or_404(PRODUCTS, pk=pk)
        since, until = selectors.parse_time_range(request.query_params)
        series = selectors.price_series(product=product, since=since, until=until)
        if self.wants_csv(request):
            rows = (
                [product.pk, product.name, s["vendor_id"], s["vendor_name"], s["condition"], s["currency"],
                 point.observed_at.isoformat(), point.price, point.offer_id]
                for s in series for point in s["points"]
            )
            return csv_response(PRICE_HISTORY_CSV, rows, f"price-history-product-{product.pk}.csv")
        return Response(ProductPriceHistorySerializer({"product": product, "series": series}).data)


class ProductCurrentOffers(APIView):
    """``GET /products/{id}/offers/current``: ``offers.board.current_offers`` of the product as
    ``ProductCurrentOffersSerializer``; 404 for an unknown product, 400 for a bad ``condition``
    or an unknown parameter."""

    @extend_schema(
        parameters=[OpenApiParameter("condition", OpenApiTypes.STR, description="One condition only.",
                                     enum=[value for value, _ in Offer._meta.get_field("condition").choices])],
        responses=ProductCurrentOffersSerializer,
        description="Each vendor's current offer for the product (its latest within the last "
                    "OFFER_FRESHNESS_HOURS, one per vendor and condition), cheapest first in the base currency; "
                    "offers whose currency has no exchange rate follow, per currency, with base_price null and "
                    "conversion_note saying why.",
    )
    def get(self, request, pk: int):
        reject_unknown_parameters(request, ("condition",))
        product = get_object_or_404(Product.objects.all(), pk=pk)
        condition = request.query_params.get("condition", "")
        valid = [value for value, _ in Offer._meta.get_field("condition").choices]
        if condition and condition not in valid:
            raise ValidationError({"condition": [f"{condition!r} is not one of {', '.join(valid)}"]})
        now = timezone.now()
        offers = board_logic.current_offers(product, now=now, condition=condition or None)
        return Response(ProductCurrentOffersSerializer({
            "product_id": product.pk, "product_name": product.name, "merged_into_id": product.merged_into_id,
            "as_of": now,
            "freshness_hours": settings.OFFER_FRESHNESS_HOURS, "base_currency": board_logic.base_currency(),
            "results": offers,
        }).data)


class BoardPagination(IdCursorPagination):
    """Pages of the computed board: ``page_size`` as the other lists (default 50, up to 500);
    ``cursor`` is an opaque position from the ``next`` / ``previous`` links."""

    def page(self, request, rows: list) -> tuple[list, str | None, str | None]:
        size = self.get_page_size(request)
        raw = request.query_params.get(self.cursor_query_param)
        offset = 0
        if raw:
            try:
                offset = int(base64.urlsafe_b64decode(raw.encode()).decode().removeprefix("o="))
            except (ValueError, UnicodeDecodeError):
                offset = -1
            if offset < 0:
                raise ValidationError({self.cursor_query_param: ["not a cursor this API gave out; follow the "
                                                                 "next/previous links"]})
        url = request.build_absolute_uri()

        def link(position: int) -> str:
            from rest_framework.utils.urls import remove_query_param, replace_query_param

            if position <= 0:
                return remove_query_param(url, self.cursor_query_param)
            token = base64.urlsafe_b64encode(f"o={position}".encode()).decode()
            return replace_query_param(url, self.cursor_query_param, token)

        following = link(offset + size) if offset + size < len(rows) else None
        preceding = link(max(offset - size, 0)) if offset > 0 else None
        return rows[offset: offset + size], following, preceding


BOARD_CSV = ("product_id", "product_name", "brand", "condition", "currency", "converted", "best_price",
             "best_vendor", "best_offer_price", "best_offer_currency", "best_quantity", "best_observed_at",
             "best_age_hours", "vendor_count", "vendors_all_currencies", "min_price", "max_price", "spread", "note")
BOARD_FILTERS = tuple(BoardFilterForm.base_fields)


class Board(CsvOrJsonMixin, APIView):
    """``GET /board``: ``offers.board.board`` with the filters of ``BoardFilterForm``, as pages of
    ``BoardRowSerializer`` rows (``BoardPagination``), or every row as CSV (``BOARD_CSV``
    columns) with ``?format=csv``. A bad filter value or unknown parameter is a 400 (JSON)."""

    pagination_class = BoardPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Every word of the product name, or a vendor SKU."),
            OpenApiParameter("brand", OpenApiTypes.STR, description="Product brand (case-insensitive, exact)."),
            OpenApiParameter("category_id", OpenApiTypes.INT),
            OpenApiParameter("condition", OpenApiTypes.STR,
                             enum=[value for value, _ in Offer._meta.get_field("condition").choices]),
            OpenApiParameter("currency", OpenApiTypes.STR, description="Offers in this ISO 4217 currency only."),
            OpenApiParameter("min_vendors", OpenApiTypes.INT,
                             description="Rows compared across at least this many vendors (default 1)."),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From the next/previous links."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 500, default 50."),
            CsvOrJsonMixin.FORMAT_PARAMETER,
        ],
        responses={(200, "application/json"): BoardPageSerializer, (200, "text/csv"): OpenApiTypes.STR},
        description="Per product and condition, the best current price, its vendor, quantity and age, the number "
                    "of vendors and the spread (max - min), in the base currency where exchange rates allow; "
                    "offers without a rate form rows of their own currency (converted false, note says why). "
                    "With `?format=csv`: every row (no paging), columns " + ", ".join(BOARD_CSV) + ".",
    )
    def get(self, request):
        paginator = self.pagination_class()
        reject_unknown_parameters(request, BOARD_FILTERS + (paginator.cursor_query_param,
                                                            paginator.page_size_query_param))
        form = BoardFilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
        now = timezone.now()
        rows = board_logic.board(**form.board_arguments(), now=now)
        if self.wants_csv(request):
            lines = (
                [row.product_id, row.product_name, row.brand, row.condition, row.currency, row.converted,
                 row.best_price, row.best.vendor_name, row.best.price, row.best.currency, _blank(row.best.quantity),
                 row.best.observed_at.isoformat(), row.best.age_hours, row.vendor_count, row.vendors_all_currencies,
                 row.min_price, row.max_price, row.spread, row.note]
                for row in rows
            )
            return csv_response(BOARD_CSV, lines, f"board-{now:%Y%m%d-%H%M%S}.csv")
        shown, following, preceding = paginator.page(request, rows)
        return Response(BoardPageSerializer({
            "next": following, "previous": preceding, "as_of": now,
            "freshness_hours": settings.OFFER_FRESHNESS_HOURS, "base_currency": board_logic.base_currency(),
            "results": shown,
        }).data)
