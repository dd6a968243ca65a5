from django.contrib import admin
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.urls import reverse
from django.utils.html import format_html

from whatsapp.models import (
    Chat, ContentFingerprint, Counter, ExtractionPoller, IngestBucket, IngestEvent, IngestFailure, Message,
)


class VendorMappedFilter(admin.SimpleListFilter):
    """Chats with or without a vendor."""

    title = "Vendor"
    parameter_name = "mapped"

    def lookups(self, request, model_admin):
        return [("no", "Unmapped"), ("yes", "Mapped")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(vendor__isnull=True)
        if self.value() == "yes":
            return queryset.filter(vendor__isnull=False)
        return queryset


def chat_page_url(chat_id: int) -> str:
    """The chat's operator page, ``/admin/whatsapp/<chat_id>`` (``whatsapp.chat_page``)."""
    return reverse("whatsapp-chat", args=[chat_id])


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    """The chats list, unmapped chats first then the most recently seen; each chat opens its own
    page (``whatsapp.chat_page``), where it is mapped to a vendor; the admin's change form of a chat
    (its record: title, kind, vendor) leads there too. Chats are made by the ingest, never added here."""

    change_form_template = "admin/whatsapp/chat/change_form.html"

    list_display = ["chat_link", "external_id", "client_id", "vendor", "is_group", "message_count",
                    "extracted_count", "last_seen_at"]
    list_display_links = None
    list_filter = [VendorMappedFilter, "is_group"]
    search_fields = ["title", "external_id", "client_id"]
    list_select_related = ["vendor"]
    autocomplete_fields = ["vendor"]
    readonly_fields = [
        "external_id", "client_id", "first_seen_at", "last_seen_at", "message_count", "extract_due_at",
        "first_pending_at", "extracted_through_message_id", "last_extracted_at", "extracted_count",
    ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "WhatsApp chats: unmapped first, open one to map it to a vendor",
                         **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_ordering(self, request):
        unmapped = ExpressionWrapper(Q(vendor__isnull=True), output_field=BooleanField())
        return [unmapped.desc(), F("last_seen_at").desc(nulls_last=True), "-id"]

    @admin.display(description="Chat")
    def chat_link(self, chat):
        return format_html('<a href="{}">{}</a>', chat_page_url(chat.pk), str(chat))

    def has_add_permission(self, request):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "chat_link", "sender", "short_text", "sent_at", "client_id", "extraction_state"]
    list_filter = ["extraction_state"]
    search_fields = ["text", "sender", "request_id"]
    list_select_related = ["chat"]
    show_full_result_count = False

    @admin.display(description="Chat", ordering="chat")
    def chat_link(self, message):
        return format_html('<a href="{}">{}</a>', chat_page_url(message.chat_id), str(message.chat))

    @admin.display(description="Text")
    def short_text(self, message):
        return message.text[:80]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IngestBucket)
class IngestBucketAdmin(admin.ModelAdmin):
    """Read-only: the collectors' rate-limit buckets move only through ``whatsapp.ratelimit``."""

    list_display = ["client_id", "tat", "allowed"]
    search_fields = ["client_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ContentFingerprint)
class ContentFingerprintAdmin(admin.ModelAdmin):
    list_display = ["chat", "content_hash", "last_seen_at", "message"]
    search_fields = ["content_hash"]
    list_select_related = ["chat"]
    raw_id_fields = ["message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    """Read-only: counters move only through ``whatsapp.counters.add``."""

    list_display = ["name", "chat_key", "value"]
    list_filter = ["name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # counters never reset: a scraper would read a deletion as a counter reset


@admin.register(IngestFailure)
class IngestFailureAdmin(admin.ModelAdmin):
    list_display = ["created_at", "status", "reason", "client_id", "chat_title", "request_id"]
    list_filter = ["status"]
    search_fields = ["client_id", "chat_title", "request_id", "reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IngestEvent)
class IngestEventAdmin(admin.ModelAdmin):
    """Read-only: the ingest's and extraction's recent log (``whatsapp.events``)."""

    list_display = ["created_at", "level", "kind", "chat", "request_id", "message"]
    list_filter = ["level", "kind"]
    search_fields = ["request_id", "message"]
    list_select_related = ["chat"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExtractionPoller)
class ExtractionPollerAdmin(admin.ModelAdmin):
    """Read-only: which worker runs the extraction's poll loop (``whatsapp.tasks``)."""

    list_display = ["name", "owner", "started_at", "beat_at", "expires_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
