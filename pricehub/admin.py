"""Admin for API tokens: create one (its key is shown once, on the page that follows), give it
an expiry, revoke it. Only the key's hash is stored, so a lost key is replaced, not recovered."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy

from pricehub.models import ApiToken
from pricehub.tokens import set_key

# DRF's own token list would stand beside "API tokens" as a second, unhashed kind of key: its keys
# are moved into ApiToken on first use (pricehub.tokens), so operators make tokens here only.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "scope", "key_prefix", "state", "created_at", "expires_at", "last_used_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_prefix", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke_selected"]
    fields = ["user", "name", "scope", "expires_at", "key_prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
        return readonly + ["user"] if obj is not None else readonly

    @admin.display(description="State")
    def state(self, token):
        return token.state

    def save_model(self, request, obj, form, change):
        if not change:
            request._new_api_token_key = set_key(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """The one page that shows the new key (not a message: those may sit in a cookie)."""
        key = getattr(request, "_new_api_token_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "API token created",
            "token": obj,
            "key": key,
        }
        response = TemplateResponse(request, "admin/pricehub/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API tokens (they stop working at once)", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} API token(s); scripts using them now get 401.", messages.SUCCESS)
