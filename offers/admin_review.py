"""The operators' matching pages in the admin: the review queue, product merges (and their undo),
match rejections, and the product and offer actions "Merge selected products into…" and "Split
offers out". The work is done by ``offers.review`` and ``offers.merge``; this module only asks and
reports.

Registered here: ``OfferToReviewAdmin`` (the review queue, ``OfferToReview``),
``ProductMergeAdmin`` and ``MatchRejectionAdmin``. Two plain admin actions are for other admins:
``merge_products_action`` (for ``ProductAdmin.actions``) and ``split_offers_action`` (for
``OfferAdmin.actions``: the offers list filtered by product, ``?product__id__exact=``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from offers.attributes import parse_offer
from offers.merge import MergeError, blocking_merges, merge_products, split_offers, undo_merge
from offers.models import MatchRejection, Offer, OfferToReview, Product, ProductAlias, ProductMerge
from offers.review import ReviewError, accept, choose, make_new_product
from offers.similarity import normalize_sku

SHOWN = 50  # rows listed on a confirmation page


def product_attributes(product: Product) -> str:
    """"Apple · iPhone 15 Pro Max · 256GB · 8GB RAM · Wi-Fi", or "-" when none is known."""
    parts = [product.brand, product.model, product.storage, f"{product.ram} RAM" if product.ram else "",
             product.connectivity]
    return " · ".join(part for part in parts if part) or "-"


def match_reason(offer: Offer) -> str:
    """Why matching proposed the link, as the matcher left it in ``offer.extra["match_reason"]``
    (``offers.matching.apply_link``); "" when it left none."""
    extra = offer.extra if isinstance(offer.extra, dict) else {}
    return str(extra.get("match_reason") or "")


def search_products(query: str, *, limit: int = 20) -> list[Product]:
    """Products (not merged away) whose name holds every word of ``query``, or whose id it is, or whose
    alias key it is exactly (a vendor SKU, an EAN); at most ``limit``, by name."""
    words = query.split()
    if not words:
        return []
    found = Product.objects.filter(merged_into__isnull=True)
    by_name = Q()
    for word in words:
        by_name &= Q(name__icontains=word)
    keys = {query.strip(), normalize_sku(query)}  # an EAN or description as written, a SKU as remembered
    either = by_name | Q(pk__in=ProductAlias.objects.filter(key__in=keys).values("product_id"))
    if query.strip().isdigit():
        either |= Q(pk=int(query.strip()))
    return list(found.filter(either).order_by("name")[:limit])


def candidates_for(offer: Offer, *, limit: int = 20) -> list[Product]:
    """Products of the same brand and storage as the offer reads (not merged away, not its own
    product): the first suggestions of the "choose another product" page."""
    attrs = parse_offer(offer.sku or "", offer.description or "")
    if not attrs.brand:
        return []
    rows = Product.objects.filter(brand__iexact=attrs.brand, merged_into__isnull=True).exclude(pk=offer.product_id)
    if attrs.storage:
        rows = rows.filter(storage__iexact=attrs.storage)
    return list(rows.order_by("name")[:limit])


# --- the review queue ---------------------------------------------------------------------------


@admin.register(OfferToReview)
class OfferToReviewAdmin(admin.ModelAdmin):
    """The review queue: visible offers with ``needs_review``, newest first (the queue's partial
    index). Each row shows the vendor's raw line and price beside the proposed product's name and
    attributes, the confidence and the reason. Actions: accept, make a new product; the "Choose…"
    link (and the row's own page) opens ``choose_view``: the offer, its suggested products and a
    product search, with accept / new product buttons too. Every decision applies to the offer's
    copies in the queue (``offers.review.same_line``)."""

    list_display = [
        "id", "offer_line", "vendor", "price_shown", "proposed_product", "proposed_attributes",
        "match_confidence", "reason", "choose_link",
    ]
    list_display_links = None
    list_select_related = ["vendor", "product"]
    list_per_page = 50
    search_fields = ["sku", "description", "product__name"]
    search_help_text = "The vendor's SKU or text, or the proposed product's name."
    ordering = ["-id"]
    actions = ["accept_selected", "new_products_for_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(needs_review=True).select_related("vendor", "product")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        return [
            path("<int:pk>/choose/", self.admin_site.admin_view(self.choose_view), name="offers_offertoreview_choose"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        title = "Offers to review: links waiting for an operator (accept, choose another product, or a new product)"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The row's page is the choose page (``choose_view``)."""
        try:
            pk = int(object_id)
        except (TypeError, ValueError):
            return HttpResponseRedirect(reverse("admin:offers_offertoreview_changelist"))
        return self.choose_view(request, pk)

    @admin.display(description="Vendor's line")
    def offer_line(self, offer):
        return format_html("<strong>{}</strong><br>{}", offer.sku or "", offer.description or "")

    @admin.display(description="Price")
    def price_shown(self, offer):
        return f"{offer.price} {offer.currency}"

    @admin.display(description="Proposed product")
    def proposed_product(self, offer):
        url = reverse("admin:offers_product_change", args=[offer.product_id])
        return format_html('<a href="{}">{}</a>', url, offer.product.name)

    @admin.display(description="Attributes")
    def proposed_attributes(self, offer):
        return product_attributes(offer.product)

    @admin.display(description="Reason")
    def reason(self, offer):
        return match_reason(offer) or f"{offer.get_match_method_display() or '-'}"

    @admin.display(description="")
    def choose_link(self, offer):
        return format_html('<a href="{}">Choose…</a>', reverse("admin:offers_offertoreview_choose", args=[offer.pk]))

    def _each(self, queryset):
        """The selected offers still waiting (one decision settles its copies: they are skipped)."""
        for pk in list(queryset.values_list("pk", flat=True)):
            offer = Offer.objects.filter(pk=pk, needs_review=True).select_related("vendor", "product").first()
            if offer is not None:
                yield offer

    def _apply(self, request, queryset, action):
        """``action(offer, user)`` for each selected offer still waiting; refusals become error messages."""
        results = []
        for offer in self._each(queryset):
            try:
                results.append(action(offer, request.user))
            except ReviewError as error:
                self.message_user(request, str(error), messages.ERROR)
        return results

    @admin.action(description="Accept the proposed product", permissions=["change"])
    def accept_selected(self, request, queryset):
        results = self._apply(request, queryset, accept)
        settled = sum(len(result.offer_ids) for result in results)
        remembered = sum(alias.kind == ProductAlias.Kind.SKU for result in results for alias in result.aliases)
        skus = f"{remembered} vendor SKU(s) remembered" if remembered else "no SKU to remember (the lines have none)"
        self.message_user(request, f"Accepted: {settled} offer(s) settled, {skus}.", messages.SUCCESS)

    @admin.action(description="Make a new product for each", permissions=["change"])
    def new_products_for_selected(self, request, queryset):
        results = self._apply(request, queryset, make_new_product)
        created = sum(result.created for result in results)
        self.message_user(
            request,
            f"{sum(len(r.offer_ids) for r in results)} offer(s) moved: {created} new product(s), "
            f"{len(results) - created} to an existing product with the same attributes.",
            messages.SUCCESS,
        )

    def choose_view(self, request, pk):
        """GET: the offer, the proposed product, suggested products and a search (``?q=``).
        POST ``product=<id>``: choose it; ``accept``: accept; ``new``: make a new product.
        An offer that does not wait for review gets a page saying which product it is linked to."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        offer = Offer.objects.select_related("vendor", "product").filter(pk=pk).first()
        changelist = reverse("admin:offers_offertoreview_changelist")
        if offer is None:
            self.message_user(request, f"No offer #{pk}.", messages.WARNING)
            return HttpResponseRedirect(changelist)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "offer": offer,
            "proposed": offer.product,
            "proposed_attributes": product_attributes(offer.product),
            "reason": match_reason(offer),
        }
        if not offer.needs_review:  # settled (by an operator or by matching): say where it is linked
            context["title"] = f"Offer #{offer.pk} does not wait for review"
            return TemplateResponse(request, "admin/offers/review/settled.html", context)
        if request.method == "POST":
            try:
                if "accept" in request.POST:
                    result = accept(offer, request.user)
                elif "new" in request.POST:
                    result = make_new_product(offer, request.user)
                else:
                    product = get_object_or_404(Product, pk=request.POST.get("product") or 0)
                    result = choose(offer, product, request.user)
            except ReviewError as error:
                self.message_user(request, str(error), messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            self.message_user(
                request,
                f"{len(result.offer_ids)} offer(s) linked to “{result.product}”.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(changelist)
        query = request.GET.get("q", "").strip()
        found = [p for p in search_products(query) if p.pk != offer.product_id] if query else []
        context.update({
            "title": f"Choose the product of offer #{offer.pk}",
            "query": query,
            "found": [(p, product_attributes(p)) for p in found],
            "suggested": [(p, product_attributes(p)) for p in candidates_for(offer)],
        })
        return TemplateResponse(request, "admin/offers/review/choose_product.html", context)


# --- merges -------------------------------------------------------------------------------------


class MergeTargetForm(forms.Form):
    target = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Merge into")


@admin.action(description="Merge selected products into…", permissions=["change"])
def merge_products_action(modeladmin, request, queryset):
    """For ``ProductAdmin.actions``: an intermediate page lists the selected products (with their
    offer counts, up to 10,000+); the operator picks the one to keep and the others are merged into
    it (``offers.merge.merge_products``), each merge undoable from the "Product merges" list."""
    products = list(queryset.order_by("pk")[:SHOWN + 1])
    if len(products) < 2:
        modeladmin.message_user(request, "Select at least two products to merge.", messages.WARNING)
        return None
    if len(products) > SHOWN:
        modeladmin.message_user(request, f"Select at most {SHOWN} products to merge at once.", messages.WARNING)
        return None
    form = MergeTargetForm(request.POST if "target" in request.POST else None)
    form.fields["target"].choices = [(p.pk, f"#{p.pk} {p.name}") for p in products]
    if form.is_bound and form.is_valid():
        target = next(p for p in products if p.pk == form.cleaned_data["target"])
        done, failed = [], []
        for source in products:
            if source.pk == target.pk:
                continue
            try:
                done.append(merge_products(source, target, request.user))
            except MergeError as error:
                failed.append(f"#{source.pk}: {error}")
        if done:
            modeladmin.message_user(
                request,
                format_html(
                    '{} product(s) merged into “{}”. <a href="{}">Undo from the merges list</a>.',
                    len(done), target.name, reverse("admin:offers_productmerge_changelist"),
                ),
                messages.SUCCESS,
            )
        for message in failed:
            modeladmin.message_user(request, message, messages.ERROR)
        return None
    rows = [
        (p, product_attributes(p), Offer.all_objects.filter(product=p)[:10_001].count()) for p in products
    ]
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Merge products",
        "rows": rows,
        "form": form,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "action": "merge_products_action",
    }
    return TemplateResponse(request, "admin/offers/review/merge_products.html", context)


@admin.register(ProductMerge)
class ProductMergeAdmin(admin.ModelAdmin):
    """Every merge, newest first, with what it moved and an "Undo" button (a confirmation page,
    then ``offers.merge.undo_merge``; refused, saying which, while a later merge of these products
    stands). Merges are not added or deleted here: deleting one would lose its undo."""

    list_display = ["id", "source_link", "target_link", "moved_counts", "created_by", "created_at", "undone_at",
                    "undo_link"]
    list_display_links = ["id"]
    list_select_related = ["source", "target", "created_by"]
    list_filter = [("undone_at", admin.EmptyFieldListFilter)]
    search_fields = ["source__name", "target__name"]
    readonly_fields = ["source", "target", "created_by", "created_at", "undone_at", "moved_counts"]
    fields = readonly_fields
    actions = ["undo_selected"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Undo the selected merges (newest first)", permissions=["change"])
    def undo_selected(self, request, queryset):
        undone = 0
        for merge in queryset.filter(undone_at__isnull=True).order_by("-pk"):
            try:
                undo_merge(merge, request.user)
                undone += 1
            except MergeError as error:
                self.message_user(request, str(error), messages.ERROR)
        self.message_user(request, f"{undone} merge(s) undone.", messages.SUCCESS if undone else messages.WARNING)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        title = "Product merges (undo the newest first)"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_urls(self):
        return [
            path("<int:pk>/undo/", self.admin_site.admin_view(self.undo_view), name="offers_productmerge_undo"),
        ] + super().get_urls()

    @admin.display(description="Merged product")
    def source_link(self, merge):
        url = reverse("admin:offers_product_change", args=[merge.source_id])
        return format_html('<a href="{}">#{} {}</a>', url, merge.source_id, merge.source.name)

    @admin.display(description="Into")
    def target_link(self, merge):
        url = reverse("admin:offers_product_change", args=[merge.target_id])
        return format_html('<a href="{}">#{} {}</a>', url, merge.target_id, merge.target.name)

    @admin.display(description="Moved")
    def moved_counts(self, merge):
        moved = merge.moved or {}
        return (
            f"{len(moved.get('offers', []))} offers, {len(moved.get('price_history', []))} history points, "
            f"{len(moved.get('aliases', []))} aliases, {len(moved.get('rejections', []))} rejections"
        )

    @admin.display(description="")
    def undo_link(self, merge):
        if merge.undone_at:
            return "undone"
        return format_html('<a class="button" href="{}">Undo</a>',
                           reverse("admin:offers_productmerge_undo", args=[merge.pk]))

    def undo_view(self, request, pk):
        """GET: what the undo will move back (or which later merge blocks it); POST: undo."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        merge = get_object_or_404(ProductMerge.objects.select_related("source", "target"), pk=pk)
        changelist = reverse("admin:offers_productmerge_changelist")
        if request.method == "POST":
            try:
                undo_merge(merge, request.user)
            except MergeError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request, f"Merge #{merge.pk} undone: “{merge.source.name}” is a product of its own again.",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(changelist)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Undo merge #{merge.pk}",
            "merge": merge,
            "moved": self.moved_counts(merge),
            "blocking": list(blocking_merges(merge).select_related("source", "target")[:SHOWN]),
        }
        return TemplateResponse(request, "admin/offers/review/undo_merge.html", context)


@admin.register(MatchRejection)
class MatchRejectionAdmin(admin.ModelAdmin):
    """Links operators rejected (from the review queue or a split): matching never proposes them again.
    Deleting one lets matching propose that link again."""

    list_display = ["key", "vendor", "product", "created_by", "created_at"]
    list_select_related = ["vendor", "product", "created_by"]
    search_fields = ["key", "product__name"]
    raw_id_fields = ["product", "vendor"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# --- split --------------------------------------------------------------------------------------


class SplitForm(forms.Form):
    into = forms.IntegerField(
        required=False, min_value=1, label="Into product id",
        help_text="Leave empty to make a new product from the first offer's attributes.",
    )

    def clean_into(self):
        pk = self.cleaned_data.get("into")
        if pk is None:
            return None
        product = Product.objects.filter(pk=pk).first()
        if product is None:
            raise forms.ValidationError(f"No product #{pk}.")
        return product


@admin.action(description="Split offers out into a new product", permissions=["change"])
def split_offers_action(modeladmin, request, queryset):
    """For ``OfferAdmin.actions`` (the offers list filtered by product): a confirmation page, then the
    selected offers and their history points move to a new product built from the first offer's
    attributes, or into the product id given (``offers.merge.split_offers``)."""
    form = SplitForm(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            product = split_offers(queryset.order_by("pk"), request.user, into=form.cleaned_data["into"])
        except MergeError as error:
            modeladmin.message_user(request, str(error), messages.ERROR)
            return None
        url = reverse("admin:offers_product_change", args=[product.pk])
        modeladmin.message_user(
            request, format_html('Offers split out into <a href="{}">“{}”</a>.', url, product.name), messages.SUCCESS
        )
        return None
    shown = list(queryset.select_related("vendor", "product").order_by("pk")[:SHOWN + 1])
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Split offers out",
        "offers": shown[:SHOWN],
        "more": len(shown) > SHOWN,
        "products": sorted({offer.product.name for offer in shown}),
        "form": form,
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "action": "split_offers_action",
    }
    return TemplateResponse(request, "admin/offers/review/split_offers.html", context)
