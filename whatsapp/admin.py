from django.contrib import admin

from whatsapp.models import Chat, ContentFingerprint, Counter, IngestFailure, Message


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["__str__", "external_id", "vendor", "message_count", "extracted_count", "last_seen_at"]
    list_filter = [("vendor", admin.EmptyFieldListFilter), "is_group"]
    search_fields = ["title", "external_id"]
    list_select_related = ["vendor"]
    autocomplete_fields = ["vendor"]
    readonly_fields = [
        "external_id", "first_seen_at", "last_seen_at", "message_count", "extract_due_at",
        "first_pending_at", "extracted_through_message_id", "last_extracted_at", "extracted_count",
    ]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "chat", "sender", "short_text", "sent_at", "client_id", "extraction_state"]
    list_filter = ["extraction_state"]
    search_fields = ["text", "sender", "request_id"]
    list_select_related = ["chat"]
    show_full_result_count = False

    @admin.display(description="Text")
    def short_text(self, message):
        return message.text[:80]

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


@admin.register(IngestFailure)
class IngestFailureAdmin(admin.ModelAdmin):
    list_display = ["created_at", "status", "reason", "client_id", "chat_title", "request_id"]
    list_filter = ["status"]
    search_fields = ["client_id", "chat_title", "request_id", "reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
