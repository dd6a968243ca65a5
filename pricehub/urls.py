from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from documents import views as documents
from pricehub.views import WhoAmI
from offers import views as offers


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    # The back office is the front door: `/` opens the admin (which asks anonymous users to log in).
    path("", RedirectView.as_view(url=reverse_lazy("admin:index")), name="home"),
    path("", include("whatsapp.urls")),  # before the admin: /admin/whatsapp/<id> is a chat's page
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/schema", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/whoami", WhoAmI.as_view(), name="whoami"),
    path("documents", documents.DocumentList.as_view(), name="document-list"),
    path("documents/<int:pk>", documents.DocumentDetail.as_view(), name="document-detail"),
    path("documents/templates/vendor-price", documents.VendorPriceTemplate.as_view(), name="vendor-price-template"),
    path("offers", offers.OfferList.as_view(), name="offer-list"),
    path("offers/<int:pk>", offers.OfferDetail.as_view(), name="offer-detail"),
    path("products", offers.ProductList.as_view(), name="product-list"),
    path("products/<int:pk>", offers.ProductDetail.as_view(), name="product-detail"),
    path("products/<int:pk>/offers/current", offers.ProductCurrentOffers.as_view(), name="product-current-offers"),
    path("board", offers.Board.as_view(), name="board"),
    path("vendors", offers.VendorList.as_view(), name="vendor-list"),
    path("vendors/<int:pk>", offers.VendorDetail.as_view(), name="vendor-detail"),
    path("price-history/product/<int:pk>", offers.ProductPriceHistory.as_view(), name="price-history-product"),
]

admin.site.site_header = "PriceHub back office"
admin.site.site_title = "PriceHub"
admin.site.index_title = "Operations"
handler404 = "pricehub.schema.not_found"
