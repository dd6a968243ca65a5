from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from offers import selectors
from pricehub.api import KnownQueryParameters, StrictOrderingFilter, reject_unknown_parameters
from offers.filters import OfferFilter, ProductFilter
from offers.models import Offer, Product, Vendor
from offers.serializers import (
    OfferSerializer,
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
    queryset = PRODUCTS
    serializer_class = ProductSerializer
    filter_backends = [KnownQueryParameters, DjangoFilterBackend]
    filterset_class = ProductFilter


class ProductDetail(generics.RetrieveAPIView):
    queryset = PRODUCTS
    serializer_class = ProductSerializer


class VendorList(generics.ListAPIView):
    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer
    filter_backends = [KnownQueryParameters]


class VendorDetail(generics.RetrieveAPIView):
    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer


class ProductPriceHistory(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Points observed at or after."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Points observed before."),
        ],
        responses=ProductPriceHistorySerializer,
    )
    def get(self, request, pk: int):
        reject_unknown_parameters(request, ("since", "until"))
        product = get_object_or_404(PRODUCTS, pk=pk)
        since, until = selectors.parse_time_range(request.query_params)
        series = selectors.price_series(product=product, since=since, until=until)
        return Response(ProductPriceHistorySerializer({"product": product, "series": series}).data)
