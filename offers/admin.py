from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from offers.models import Category, Offer, PriceHistory, Product, ProductAlias, Tag, Vendor, VendorAlias
from offers.vendors import merge_vendors


class VendorAliasInline(admin.TabularInline):
    model = VendorAlias
    extra = 0
    fields = ["kind", "alias", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ["name", "default_currency", "is_provisional", "offer_count", "created_at"]
    list_filter = ["is_provisional", "default_currency"]
    search_fields = ["name", "aliases__alias"]
    inlines = [VendorAliasInline]
    actions = ["merge_into"]

    @admin.action(description="Merge selected vendors into another vendor", permissions=["change"])
    def merge_into(self, request, queryset):
        form = MergeVendorsForm(request.POST if "target" in request.POST else None, exclude=queryset)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["target"]
            count = merge_vendors(target, list(queryset))
            self.message_user(request, f"Merged {count} vendor(s) into {target}.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Merge vendors",
            "form": form,
            "vendors": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/offers/vendor/merge.html", context)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(offer_total=Count("offers"))

    @admin.display(description="Offers", ordering="offer_total")
    def offer_count(self, vendor):
        url = reverse("admin:offers_offer_changelist") + f"?vendor__id__exact={vendor.pk}"
        return format_html('<a href="{}">{}</a>', url, vendor.offer_total)


class MergeVendorsForm(forms.Form):
    target = forms.ModelChoiceField(
        Vendor.objects.none(), label="Merge into",
        help_text="Offers, price history, aliases, documents, chats and schedules move to this vendor.",
    )

    def __init__(self, *args, exclude, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = Vendor.objects.exclude(pk__in=exclude.values("pk")).order_by(
            "is_provisional", "name"
        )


@admin.register(VendorAlias)
class VendorAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "kind", "vendor", "created_at"]
    list_filter = ["kind"]
    search_fields = ["alias", "vendor__name"]
    autocomplete_fields = ["vendor"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent"]
    search_fields = ["name"]
    autocomplete_fields = ["parent"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


class ProductAliasInline(admin.TabularInline):
    model = ProductAlias
    extra = 0
    fields = ["kind", "vendor", "key", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["vendor"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "model", "storage", "color", "category", "tag_list", "created_at"]
    list_filter = ["category", "tags", "brand"]
    search_fields = ["name", "brand", "model", "match_key", "aliases__key"]
    list_select_related = ["category"]
    autocomplete_fields = ["category", "tags"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ProductAliasInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="Tags")
    def tag_list(self, product):
        return ", ".join(tag.name for tag in product.tags.all())


@admin.register(ProductAlias)
class ProductAliasAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "vendor", "product", "created_at"]
    list_filter = ["kind"]
    search_fields = ["key", "product__name"]
    list_select_related = ["vendor", "product"]
    autocomplete_fields = ["vendor", "product"]


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = [
        "id", "vendor", "product", "price", "currency", "quantity", "condition", "condition_grade",
        "observed_at", "document_link", "source_ref",
    ]
    list_filter = ["condition", "currency", "vendor", ("observed_at", admin.DateFieldListFilter)]
    search_fields = ["sku", "description", "product__name"]
    list_select_related = ["vendor", "product", "source_document"]
    raw_id_fields = ["product", "source_document", "source_message"]
    autocomplete_fields = ["vendor"]
    readonly_fields = ["created_at"]
    date_hierarchy = "observed_at"
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="Document")
    def document_link(self, offer):
        if not offer.source_document_id:
            return "-"
        url = reverse("admin:documents_sourcedocument_change", args=[offer.source_document_id])
        return format_html('<a href="{}">#{}</a>', url, offer.source_document_id)


@admin.register(PriceHistory)
class PriceHistoryAdmin(admin.ModelAdmin):
    list_display = ["product", "vendor", "condition", "price", "currency", "observed_at", "offer_id"]
    list_filter = ["condition", "currency", "vendor"]
    search_fields = ["product__name"]
    list_select_related = ["product", "vendor"]
    date_hierarchy = "observed_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
