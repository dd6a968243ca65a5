"""The WhatsApp routes: the collectors' signed ingest, extraction, diagnostics, the metrics, and
the operators' chat page."""

from django.urls import path

from whatsapp import chat_page, diagnostics_views, extract_views, metrics_views, views

urlpatterns = [
    path("integrations/whatsapp/ingest", views.ingest, name="whatsapp-ingest"),
    path("integrations/whatsapp/chats/<int:chat_id>/extract-latest", extract_views.extract_latest,
         name="whatsapp-extract-latest"),
    path("chat/tools/diagnostics", diagnostics_views.diagnostics, name="whatsapp-diagnostics"),
    path("chat/tools/diagnostics/log", diagnostics_views.diagnostics_log, name="whatsapp-diagnostics-log"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("metrics/whatsapp", metrics_views.metrics, name="metrics-whatsapp"),
    # Before the admin's own URLs (pricehub.urls), so that /admin/whatsapp/<id> is the chat's page.
    path("admin/whatsapp/<int:chat_id>", chat_page.chat_page, name="whatsapp-chat"),
]
