"""The WhatsApp routes: the collectors' signed ingest, the metrics, and the operators' chat page."""

from django.urls import path

from whatsapp import chat_page, metrics_views, views

urlpatterns = [
    path("integrations/whatsapp/ingest", views.ingest, name="whatsapp-ingest"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("metrics/whatsapp", metrics_views.metrics, name="metrics-whatsapp"),
    # Before the admin's own URLs (pricehub.urls), so that /admin/whatsapp/<id> is the chat's page.
    path("admin/whatsapp/<int:chat_id>", chat_page.chat_page, name="whatsapp-chat"),
]
