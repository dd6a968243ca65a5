import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from documents import storage
from documents.models import SourceDocument
from offers.models import Offer, PriceHistory
from offers.wording import counted

OFFERS_SHOWN = 50
# A pending or processing document's page reloads itself this often until the ingest ends.
REFRESH_SECONDS = 3
RUNNING = (SourceDocument.Status.PENDING, SourceDocument.Status.PROCESSING)


def stalled_documents(queryset=None):
    """Processing documents whose process stopped renewing its lease (killed, out of memory, timed out)."""
    queryset = SourceDocument.objects.all() if queryset is None else queryset
    return queryset.filter(status=SourceDocument.Status.PROCESSING, lease_expires_at__lt=timezone.now())


class StalledFilter(admin.SimpleListFilter):
    """Documents whose ingest stopped without ending: the worker re-runs or fails them each minute."""

    title = "ingest stopped"
    parameter_name = "stalled"

    def lookups(self, request, model_admin):
        return [("yes", "Stopped without ending (lease expired)")]

    def queryset(self, request, queryset):
        return stalled_documents(queryset) if self.value() == "yes" else queryset


@admin.register(SourceDocument)
class SourceDocumentAdmin(admin.ModelAdmin):
    """The documents dashboard: every ingested artefact, its status, stats and errors."""

    list_display = [
        "id", "original_filename", "vendor", "processor", "status_badge", "offers_created", "error_count",
        "trigger", "created_at",
    ]
    list_filter = ["status", StalledFilter, "processor", "trigger", "vendor"]
    search_fields = ["original_filename", "sha256", "vendor__name"]
    list_select_related = ["vendor"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["original_filename", "download", "vendor", "processor", "status_badge", "failure",
                           "trigger", "previous"]}),
        ("Result", {"fields": ["warnings_list", "notes_list", "stats_table", "errors_table", "skipped_table", "offers_preview"]}),
        ("File", {"fields": ["sha256", "size", "content_type", "stored_path", "options_json"],
                  "classes": ["collapse"]}),
        ("Timing", {"fields": ["created_at", "started_at", "finished_at", "attempts", "recoveries_list",
                               "lease_owner", "lease_expires_at"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "original_filename", "download", "vendor", "processor", "status_badge", "failure", "trigger", "previous",
        "warnings_list", "notes_list", "stats_table", "errors_table", "skipped_table", "offers_preview", "sha256", "size",
        "content_type", "stored_path",
        "options_json", "created_at", "started_at", "finished_at", "attempts", "recoveries_list", "lease_owner",
        "lease_expires_at",
    ]

    def has_add_permission(self, request):
        return False

    def get_deleted_objects(self, objs, request):
        """The delete page counts the offers and price-history points a document takes with it
        (thousands, each titled by its product and vendor) instead of listing every one."""
        documents = list(objs)
        offers = Offer.objects.filter(source_document__in=documents)
        offer_count = offers.count()
        history_count = PriceHistory.objects.filter(offer__in=offers).count() if offer_count else 0
        listed = [format_html("Source document: {}", document) for document in documents]
        if offer_count:
            listed.append(f"{offer_count:,} offers from {'these documents' if len(documents) > 1 else 'it'}, "
                          f"with {history_count:,} price-history points")
        model_count = {"source documents": len(documents), "offers": offer_count, "price history": history_count}
        perms_needed = set()
        for model, name in ((Offer, "offer"), (PriceHistory, "price history")):
            if offer_count and not request.user.has_perm(f"offers.delete_{model._meta.model_name}"):
                perms_needed.add(name)
        return listed, {k: v for k, v in model_count.items() if v}, perms_needed, []

    def changelist_view(self, request, extra_context=None):
        stalled = stalled_documents().count()
        if stalled and request.method == "GET":
            url = reverse("admin:documents_sourcedocument_changelist") + "?stalled=yes"
            messages.warning(request, format_html(
                'The ingest of <a href="{}">{}</a> stopped without ending (its process was killed, ran out of memory '
                "or timed out). The worker re-runs or fails such documents every minute; if this stays, check that "
                "the worker (manage.py qcluster) is running, or run manage.py recover_documents.",
                url, counted(stalled, "document"),
            ))
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A snapshot is read-only: no save buttons (actions such as re-ingest still apply).
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        document = self.get_object(request, unquote(object_id))
        if document is not None and document.status in RUNNING and not document.is_stalled:
            extra_context["refresh_seconds"] = REFRESH_SECONDS
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("<int:pk>/download/", self.admin_site.admin_view(self.download_view),
                 name="documents_sourcedocument_download"),
        ] + super().get_urls()

    def download_view(self, request, pk: int):
        document = self.get_object(request, str(pk))
        if document is None or not self.has_view_permission(request, document):
            raise Http404("no such document")
        try:
            path = storage.resolve(document.stored_path)
        except storage.StorageError:
            raise Http404("the stored file is not available") from None
        if not path.is_file():
            raise Http404("the stored file is missing from storage")
        return FileResponse(open(path, "rb"), as_attachment=True, filename=document.original_filename)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, document):
        colours = {"succeeded": "#2e7d32", "partial": "#ef6c00", "failed": "#c62828"}
        if document.is_stalled:
            return format_html(
                '<strong style="color:#c62828">Processing, stopped</strong> (no sign of its process since {} UTC; '
                "attempt {})", f"{document.lease_expires_at:%Y-%m-%d %H:%M:%S}", document.attempts,
            )
        return format_html(
            '<strong style="color:{}">{}</strong>', colours.get(document.status, "#555"), document.get_status_display()
        )

    @admin.display(description="Offers")
    def offers_created(self, document):
        return document.stats.get("offers_created", "-")

    @admin.display(description="Errors")
    def error_count(self, document):
        return document.stats.get("errors", len(document.errors))

    @admin.display(description="Failure")
    def failure(self, document):
        return document.extra.get("failure", "-")

    @admin.display(description="Original file")
    def download(self, document):
        url = reverse("admin:documents_sourcedocument_download", args=[document.pk])
        return format_html('<a href="{}">Download {}</a>', url, document.original_filename)

    @admin.display(description="Stats")
    def stats_table(self, document):
        if not document.stats:
            return "-"
        scalars = sorted((key, value) for key, value in document.stats.items() if not isinstance(value, (list, dict)))
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", scalars)
        return format_html("<table>{}</table>", rows)

    @admin.display(description="Errors")
    def errors_table(self, document):
        errors = document.errors
        if not errors:
            return "None"
        table = _table(
            ["Where", "Field", "Problem", "Value"],
            "<td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>",
            ((e.get("ref", ""), e.get("field", ""), e.get("message", ""), e.get("value", "")) for e in errors[:500]),
        )
        more = f"… and {len(errors) - 500} more (GET /documents/{document.pk})" if len(errors) > 500 else ""
        return format_html("{}{}", table, more)

    @admin.display(description="Run again after a stop")
    def recoveries_list(self, document):
        recoveries = document.extra.get("recoveries") or []
        if not recoveries:
            return "Never"
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{}: {}</li>", ((r.get("at", ""), r.get("what", "")) for r in recoveries)))

    @admin.display(description="Warnings")
    def warnings_list(self, document):
        if not document.warnings:
            return "None"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in document.warnings)))

    @admin.display(description="Notes")
    def notes_list(self, document):
        if not document.notes:
            return "None"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((n,) for n in document.notes)))

    @admin.display(description="Rows that are not offers")
    def skipped_table(self, document):
        skipped = document.skipped
        lines = document.stats.get("not_offers_sample")  # a chat's lines with numbers that gave no offer
        if not skipped and lines:
            table = _table(
                ["Where", "Why", "Line"], "<td>{}</td><td>{}</td><td><code>{}</code></td>",
                ((line["ref"], line["reason"], line["line"]) for line in lines),
            )
            total = document.stats.get("lines_not_offers", len(lines))
            return format_html("<p>{} with numbers gave no offer; the first:</p>{}", counted(total, "line"), table)
        if not skipped:
            return "None"
        table = _table(
            ["Where", "Why", "Value"],
            "<td>{}</td><td>{}</td><td><code>{}</code></td>",
            ((e.get("ref", ""), e.get("message", ""), e.get("value", "")) for e in skipped[:500]),
        )
        more = f"… and {len(skipped) - 500} more (GET /documents/{document.pk})" if len(skipped) > 500 else ""
        return format_html("{}{}", table, more)

    @admin.display(description="Offers produced")
    def offers_preview(self, document):
        offers = list(document.offers.select_related("product").order_by("id")[:OFFERS_SHOWN])
        if not offers:
            return "None"
        url = reverse("admin:offers_offer_changelist") + f"?source_document__id__exact={document.pk}"
        table = _table(
            ["Where", "As written", "Product", "Price", "Qty", "Condition"],
            "<td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td>",
            ((o.source_ref, " ".join(filter(None, (o.sku, o.description))), o.product.name, o.price, o.currency,
              o.quantity if o.quantity is not None else "", o.get_condition_display()) for o in offers),
        )
        return format_html('<p><a href="{}">All offers from this document</a></p>{}', url, table)

    @admin.display(description="Options")
    def options_json(self, document):
        return format_html("<pre>{}</pre>", json.dumps(document.options, indent=2, ensure_ascii=False))


def _table(headers: list[str], cells: str, rows) -> str:
    """An HTML table: a header row, then ``cells`` (a ``format_html`` string) filled from each row."""
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join("", "<tr>" + cells + "</tr>", rows)
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
