from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from offers import selectors
from offers.filters import OfferFilter, ProductFilter
from offers.models import Offer, Product, Vendor
from offers.serializers import (
    OfferSerializer,
    ProductPriceHistorySerializer,
    ProductSerializer,
    VendorSerializer,
)


class OfferList(generics.ListAPIView):
    queryset = Offer.objects.select_related("vendor", "product")
    serializer_class = OfferSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = OfferFilter
    ordering_fields = ["id", "price", "observed_at"]
    ordering = ["-id"]


class OfferDetail(generics.RetrieveAPIView):
    queryset = Offer.objects.select_related("vendor", "product")
    serializer_class = OfferSerializer


class ProductList(generics.ListAPIView):
    queryset = Product.objects.select_related("category").prefetch_related("tags")
    serializer_class = ProductSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter


class ProductDetail(generics.RetrieveAPIView):
    queryset = Product.objects.select_related("category").prefetch_related("tags")
    serializer_class = ProductSerializer


class VendorList(generics.ListAPIView):
    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer


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
        product = get_object_or_404(Product.objects.select_related("category").prefetch_related("tags"), pk=pk)
        since, until = selectors.parse_time_range(request.query_params)
        series = selectors.price_series(product=product, since=since, until=until)
        return Response(ProductPriceHistorySerializer({"product": product, "series": series}).data)
