"""The operators' admin. Offer and price-history lists hold millions of rows: they are paged
without counting the table, filtered through indexes, and searched product first
(see offers.selectors)."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from offers import board, selectors
from offers.attributes import colour_names, region_codes
from offers.admin_review import merge_products_action, split_offers_action  # registers the review admins
from offers.csv_export import export_offers_csv
from offers.filters import BoardFilterForm
from offers.models import (
    Category,
    ExchangeRate,
    Offer,
    PriceHistory,
    Product,
    ProductAlias,
    Tag,
    Vendor,
    VendorAlias,
)
from offers.vendors import merge_vendors

OFFER_COUNT_CAP = 10_000


class LargeTableAdmin(admin.ModelAdmin):
    """A list of millions of rows: no COUNT(*) of the table, no facet counts, no "show all"."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50  # rendering, not the database, is most of a page's time
    list_max_show_all = 50  # never more than one page at once

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj):
        """The row's checkbox as plain markup (the widget's template costs more than the row's query)."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="Select {}">',
            admin.helpers.ACTION_CHECKBOX_NAME, obj.pk, obj,
        )

    def get_changelist(self, request, **kwargs):
        return LookaheadChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            page_number = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            page_number = 1
        return selectors.LookaheadPaginator(
            queryset, per_page, orphans, allow_empty_first_page, page_number=page_number
        )

    def get_search_results(self, request, queryset, search_term):
        """Search by product: the product table first, then these rows by product id."""
        if not search_term.strip():
            return queryset, False
        return selectors.search_by_product(queryset, search_term), False


class OffersProtectMixin:
    """A vendor or product with offers cannot be deleted (they are PROTECTed): the delete page says so
    with a few of them and a link to all, instead of listing (and titling) every offer."""

    offers_field = ""
    SHOWN = 20

    def get_deleted_objects(self, objs, request):
        blocking = Offer.objects.filter(**{f"{self.offers_field}__in": objs}).select_related("product", "vendor")
        shown = list(blocking.order_by("-id")[: self.SHOWN + 1])
        if not shown:
            return super().get_deleted_objects(objs, request)
        protected = [
            format_html('Offer: <a href="{}">{}</a>', reverse("admin:offers_offer_change", args=[offer.pk]), offer)
            for offer in shown[: self.SHOWN]
        ]
        if len(shown) > self.SHOWN:
            ids = ",".join(str(obj.pk) for obj in objs)
            url = reverse("admin:offers_offer_changelist") + f"?{self.offers_field}__id__in={ids}"
            protected.append(format_html('… <a href="{}">all their offers</a>', url))
        return [], {}, set(), protected


class BrandListFilter(admin.SimpleListFilter):
    """Brands of the products that have one, read from the brand index."""

    title = "brand"
    parameter_name = "brand__exact"

    def lookups(self, request, model_admin):
        return [(brand, brand) for brand in selectors.product_brands()]

    def queryset(self, request, queryset):
        return queryset.filter(brand=self.value()) if self.value() else queryset


class LookaheadChangeList(ChangeList):
    """A one-page list shows the rows its paginator already read, instead of reading them again;
    columns outside ``sortable_by`` cannot be sorted by a hand-made ``?o=`` either."""

    def get_ordering_field(self, field_name):
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)

    def get_results(self, request):
        super().get_results(request)
        if not self.multi_page and isinstance(self.paginator, selectors.LookaheadPaginator):
            self.result_list = self.paginator.page(1).object_list


class VendorListFilter(admin.SimpleListFilter):
    """Vendors to filter by, confirmed ones first, at most ``LIMIT`` (plus the one selected)."""

    title = "vendor"
    parameter_name = "vendor__id__exact"
    LIMIT = 100

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in selectors.vendors_for_filter(self.value(), limit=self.LIMIT)]

    def queryset(self, request, queryset):
        return selectors.filter_by_vendor(queryset, int(self.value())) if self.value() else queryset


class CurrencyListFilter(admin.SimpleListFilter):
    """The currencies of the latest rows (plus the one selected): no DISTINCT over the whole table."""

    title = "currency"
    parameter_name = "currency__exact"

    def lookups(self, request, model_admin):
        return [(code, code) for code in selectors.recent_values(model_admin.model, "currency", self.value())]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset


class CanonicalValueListFilter(admin.SimpleListFilter):
    """An offer attribute's choices from its canonical table (plus the one selected), not a
    DISTINCT over millions of offers; ``field`` is the column, filtered exactly."""

    field = ""

    def values(self) -> tuple[str, ...]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        values = list(self.values())
        if self.value() and self.value() not in values:
            values.append(self.value())
        return [(value, value) for value in values]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class ColourListFilter(CanonicalValueListFilter):
    title = "colour"
    parameter_name = "color__exact"
    field = "color"

    def values(self):
        return colour_names()


class RegionListFilter(CanonicalValueListFilter):
    title = "region"
    parameter_name = "region__exact"
    field = "region"

    def values(self):
        return region_codes()


class MergedListFilter(admin.SimpleListFilter):
    """Products merged into another, or not; all by default (operators undo merges from here)."""

    title = "merged"
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(merged_into__isnull=self.value() == "no")
        return queryset


class VendorAliasInline(admin.TabularInline):
    """Adds aliases to a vendor. Its existing ones are listed as a table (``VendorAdmin.alias_table``):
    a form per alias made the page of a vendor with many WhatsApp senders slow to render."""

    model = VendorAlias
    extra = 1
    fields = ["kind", "alias"]
    verbose_name_plural = "add aliases"

    def get_queryset(self, request):
        return super().get_queryset(request).none()


@admin.register(Vendor)
class VendorAdmin(OffersProtectMixin, admin.ModelAdmin):
    offers_field = "vendor"
    list_display = ["name", "default_currency", "is_provisional", "offer_count", "created_at"]
    list_per_page = 100
    list_filter = ["is_provisional", "default_currency"]
    search_fields = ["name", "aliases__alias"]
    search_help_text = "Name (every word), or part of an alias such as a WhatsApp number."
    inlines = [VendorAliasInline]
    readonly_fields = ["alias_table"]
    actions = ["merge_into"]

    @admin.display(description="Aliases")
    def alias_table(self, vendor):
        if not vendor.pk:
            return "-"
        rows = [
            (reverse("admin:offers_vendoralias_change", args=[alias.pk]), alias.alias, alias.get_kind_display(),
             f"{alias.created_at:%Y-%m-%d}")
            for alias in vendor.aliases.order_by("kind", "alias")
        ]
        if not rows:
            return "None yet"
        body = format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>', rows)
        return format_html("<table><tbody>{}</tbody></table>", body)

    def get_search_results(self, request, queryset, search_term):
        """Name or alias, without the join that repeats each vendor once per alias."""
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=selectors.vendors_matching(search_term).values("pk")), False

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
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "offers_vendor_changelist":
            # Counted for the list only: not for autocompletes, change or delete pages.
            queryset = queryset.annotate(
                offer_total=selectors.capped_count(Offer.objects.all(), "vendor", OFFER_COUNT_CAP)
            )
        return queryset

    @admin.display(description="Offers")
    def offer_count(self, vendor):
        url = reverse("admin:offers_offer_changelist") + f"?vendor__id__exact={vendor.pk}"
        total = f"{OFFER_COUNT_CAP:,}+" if vendor.offer_total > OFFER_COUNT_CAP else f"{vendor.offer_total:,}"
        return format_html('<a href="{}">{}</a>', url, total)


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
    list_select_related = ["vendor"]
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
class ProductAdmin(OffersProtectMixin, admin.ModelAdmin):
    offers_field = "product"
    list_display = ["name", "brand", "model", "storage", "color", "category", "tag_list", "merged_into_link",
                    "offers_link", "created_at"]
    list_filter = ["category", "tags", BrandListFilter, MergedListFilter]
    list_per_page = 50
    search_fields = ["name", "aliases__key"]
    search_help_text = "Name (every word), or a vendor SKU."
    list_select_related = ["category", "merged_into"]
    autocomplete_fields = ["category", "tags"]
    # merged_into is set and cleared only by a merge and its undo (offers.merge), which move the offers too.
    readonly_fields = ["merged_into", "created_at", "updated_at"]
    inlines = [ProductAliasInline]
    actions = [merge_products_action]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_urls(self):
        return [
            path("best-prices/", self.admin_site.admin_view(self.best_prices_view), name="offers_product_best_prices"),
        ] + super().get_urls()

    BEST_PRICES_PER_PAGE = 100

    def best_prices_view(self, request):
        """The "Best prices" page: the board (``offers.board.board``) with the filters of ``GET /board``,
        100 rows a page, each product linked to its page. Staff only (``admin_view``), and users who
        may view products."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = BoardFilterForm(request.GET or None)
        rows = []
        if form.is_bound and form.is_valid():
            rows = board.board(**form.board_arguments())
        elif not form.is_bound:
            form = BoardFilterForm()
            rows = board.board()
        paginator = Paginator(rows, self.BEST_PRICES_PER_PAGE)
        page = paginator.get_page(request.GET.get("p"))
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Best prices",
            "form": form,
            "page": page,
            "rows": page.object_list,
            "query": query.urlencode(),
            "base_currency": board.base_currency(),
            "freshness_hours": settings.OFFER_FRESHNESS_HOURS,
            "rates_url": reverse("admin:offers_exchangerate_changelist"),
        }
        return TemplateResponse(request, "admin/offers/product/best_prices.html", context)

    CHART_DAYS = 180

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The product's page, with its current offers by vendor and a price chart per vendor series."""
        extra_context = dict(extra_context or {})
        product = self.get_object(request, unquote(object_id))
        if product is not None:
            now = timezone.now()
            since = now - timedelta(days=self.CHART_DAYS)
            series = board.price_series(product, since=since)
            extra_context.update({
                "current_offers": board.current_offers(product, now=now),
                "freshness_hours": settings.OFFER_FRESHNESS_HOURS,
                "base_currency": board.base_currency(),
                "chart_days": self.CHART_DAYS,
                "charts": [(s, svg_chart(s, since, now)) for s in series],
                "best_prices_url": reverse("admin:offers_product_best_prices"),
            })
        return super().change_view(request, object_id, form_url, extra_context)

    def get_search_results(self, request, queryset, search_term):
        """The same product search as the offer list's."""
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=selectors.products_matching(search_term).values("pk")), False

    @admin.display(description="Tags")
    def tag_list(self, product):
        return ", ".join(tag.name for tag in product.tags.all())

    @admin.display(description="Merged into")
    def merged_into_link(self, product):
        if not product.merged_into_id:
            return "-"
        url = reverse("admin:offers_product_change", args=[product.merged_into_id])
        return format_html('<a href="{}">→ {}</a>', url, product.merged_into)

    @admin.display(description="Offers")
    def offers_link(self, product):
        url = reverse("admin:offers_offer_changelist") + f"?product__id__exact={product.pk}"
        return format_html('<a href="{}">Offers</a>', url)


@admin.register(ProductAlias)
class ProductAliasAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "vendor", "product", "created_at"]
    list_filter = ["kind"]
    search_fields = ["key", "product__name"]
    list_select_related = ["vendor", "product"]
    autocomplete_fields = ["vendor", "product"]


@admin.register(Offer)
class OfferAdmin(LargeTableAdmin):
    actions = [export_offers_csv, split_offers_action]
    list_display = [
        "id", "product", "vendor", "price", "currency", "quantity", "condition", "color", "region", "observed_at",
        "document_link", "source_ref",
    ]
    # Each filter reads through an index in the list's order (newest first;
    # by observation time when filtered on it). Product and document come
    # as links from their own pages (?product__id__exact=, ?source_document__id__exact=).
    # Needs review reads the review queue's partial index; colour, region and match method
    # read the list's order until a page is full (with a vendor or product, through its index).
    list_filter = [
        "condition", CurrencyListFilter, VendorListFilter, ("observed_at", admin.DateFieldListFilter),
        "needs_review", "match_method", ColourListFilter, RegionListFilter,
    ]
    search_fields = ["product__name"]
    search_help_text = "Product name (every word), or a vendor SKU."
    sortable_by = ["id", "price", "observed_at"]
    list_select_related = ["vendor", "product"]
    raw_id_fields = ["product", "source_document", "source_message"]
    autocomplete_fields = ["vendor"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        # The title (Offer.__str__) names product and vendor: change and delete pages too.
        return super().get_queryset(request).select_related("vendor", "product")

    def get_ordering(self, request):
        if any(name.startswith("observed_at__") for name in request.GET):
            return ["-observed_at", "-id"]  # the observed_at index serves filter and order
        return ["-id"]

    @admin.display(description="Document")
    def document_link(self, offer):
        if not offer.source_document_id:
            return "-"
        url = reverse("admin:documents_sourcedocument_change", args=[offer.source_document_id])
        return format_html('<a href="{}">#{}</a>', url, offer.source_document_id)


@admin.register(PriceHistory)
class PriceHistoryAdmin(LargeTableAdmin):
    list_display = ["product", "vendor", "condition", "price", "currency", "observed_at", "offer_link"]
    list_filter = ["condition", CurrencyListFilter, VendorListFilter]
    search_fields = ["product__name"]
    search_help_text = "Product name (every word), or a vendor SKU."
    ordering = ["-id"]
    sortable_by = []  # newest first; other orders would sort millions of points
    list_select_related = ["product", "vendor"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "vendor")

    @admin.display(description="Offer")
    def offer_link(self, point):
        url = reverse("admin:offers_offer_change", args=[point.offer_id])
        return format_html('<a href="{}">#{}</a>', url, point.offer_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def svg_chart(series: board.Series, start, end, *, width: int = 640, height: int = 160):
    """One price series drawn as inline SVG (a line with a dot per point, each dot titled with its
    date and price): time runs over the series' own points within ``start`` to ``end`` (a day at
    least) on the x axis, the series' lowest to highest price on the y axis, labelled (the left
    margin fits the longer price label). Returns safe HTML; text is escaped."""
    points = series.points
    low = min(price for _, price in points)
    high = max(price for _, price in points)
    high_label, low_label = f"{high:,.2f} {series.currency}", f"{low:,.2f} {series.currency}"
    # 11px labels are at most about 7px a character wide
    left, right, top, bottom = 12 + 7 * max(len(high_label), len(low_label)), 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    first_seen, last_seen = min(when for when, _ in points), max(when for when, _ in points)
    start, end = max(start, first_seen), min(end, max(last_seen, first_seen + timedelta(days=1)))
    span_price = (high - low) or 1
    span_time = (end - start).total_seconds() or 1

    def x(when) -> float:
        return left + plot_w * max(0.0, min(1.0, (when - start).total_seconds() / span_time))

    def y(price) -> float:
        if high == low:
            return top + plot_h / 2
        return top + plot_h * (1 - float((price - low) / span_price))

    coords = [(x(when), y(price), when, price) for when, price in points]
    line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _, _ in coords)
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="2.5"><title>{} — {} {}</title></circle>',
        ((f"{cx:.1f}", f"{cy:.1f}", f"{when:%Y-%m-%d %H:%M}", price, series.currency)
         for cx, cy, when, price in coords),
    )
    return format_html(
        '<svg class="price-chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<rect x="{l}" y="{t}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>'
        '<text x="{lx}" y="{ty}" font-size="11" text-anchor="end">{high}</text>'
        '<text x="{lx}" y="{by}" font-size="11" text-anchor="end">{low}</text>'
        '<text x="{l}" y="{dy}" font-size="11">{first}</text>'
        '<text x="{rx}" y="{dy}" font-size="11" text-anchor="end">{last}</text>'
        '<polyline points="{line}" fill="none" stroke="#417690" stroke-width="1.5"/>'
        '<g fill="#417690">{dots}</g></svg>',
        w=width, h=height, l=left, t=top, pw=plot_w, ph=plot_h, lx=left - 4, ty=top + 10, by=top + plot_h,
        high=high_label, low=low_label, dy=height - 6,
        first=f"{start:%Y-%m-%d}",
        rx=left + plot_w, last=f"{end:%Y-%m-%d}", line=line, dots=dots,
        label=f"{series.vendor_name} {series.condition} prices in {series.currency}",
    )


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["date", "currency", "rate"]

    def clean_currency(self):
        """``eur`` is read as ``EUR``. Refused, by name: anything but an ISO 4217 code known to
        CLDR (``babel.numbers.list_currencies``; ``ZZZ`` is none), and the base currency itself
        (its offers are compared at par: a rate for it would never be used)."""
        from babel.numbers import list_currencies

        code = (self.cleaned_data.get("currency") or "").strip().upper()
        if not (len(code) == 3 and code.isascii() and code.isalpha()) or code not in list_currencies():
            raise forms.ValidationError("an ISO 4217 code: three letters such as EUR")
        if code == board.base_currency():
            raise forms.ValidationError(
                f"{code} is the base currency (EXCHANGE_BASE_CURRENCY): its offers are compared as they are, "
                "so a rate for it would never be used"
            )
        return code


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Operators' exchange rates: units of EXCHANGE_BASE_CURRENCY per unit of a currency, per day."""

    list_display = ["date", "currency", "rate", "created_at"]
    list_filter = ["currency"]
    date_hierarchy = "date"
    ordering = ["-date", "currency"]
    search_fields = ["currency"]
    form = ExchangeRateForm

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "base_currency": board.base_currency(),
                         "best_prices_url": reverse("admin:offers_product_best_prices")}
        return super().changelist_view(request, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["rate"].help_text = (
            f"Units of {board.base_currency()} (the base currency) for 1 unit of this currency."
        )
        return form
