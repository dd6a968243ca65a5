"""Operator workflows on top of the documents dashboard: upload, re-ingest, schedules."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django_q.tasks import async_task

from documents.admin import SourceDocumentAdmin
from documents.models import SourceDocument
from ingestion import schedules, services
from ingestion.forms import CorrectionForm, UploadForm
from ingestion.models import ImportRun, ImportSchedule
from ingestion.tasks import enqueue_ingest
from ingestion.uploads import install_size_limit

# A document in one of these states offers, on its page, to correct its settings and re-ingest it.
CORRECTABLE = (SourceDocument.Status.FAILED, SourceDocument.Status.PARTIAL)
FINISHED = (SourceDocument.Status.SUCCEEDED, SourceDocument.Status.PARTIAL, SourceDocument.Status.FAILED)


class IngestingDocumentAdmin(SourceDocumentAdmin):
    change_list_template = "admin/documents/sourcedocument/change_list.html"
    actions = ["reingest_selected"]

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="documents_sourcedocument_upload"),
            path("<int:pk>/reingest/", self.admin_site.admin_view(self.reingest_view),
                 name="documents_sourcedocument_reingest"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        document = self.get_object(request, unquote(object_id))
        if (document is not None and document.status in CORRECTABLE
                and self.has_change_permission(request, document)):
            extra_context = {**(extra_context or {}), "correction_form": CorrectionForm(document=document)}
        return super().change_view(request, object_id, form_url, extra_context)

    def reingest_view(self, request, pk: int):
        """Correct a finished document's vendor, processor and options, and re-ingest it."""
        document = self.get_object(request, str(pk))
        if document is None or not self.has_change_permission(request, document):
            raise Http404("no such document")
        change_url = reverse("admin:documents_sourcedocument_change", args=[document.pk])
        if document.status not in FINISHED:
            messages.error(request, f"Document {document} is {document.get_status_display().lower()}; re-ingest it "
                                    "once it has ended.")
            return HttpResponseRedirect(change_url)
        form = CorrectionForm(request.POST if request.method == "POST" else None, document=document)
        if request.method == "POST" and form.is_valid():
            snapshot = form.reingest()
            enqueue_ingest(snapshot)
            messages.success(request, f"The file {document.original_filename} is queued for re-ingestion as "
                                      f"document #{snapshot.pk}.")
            return HttpResponseRedirect(reverse("admin:documents_sourcedocument_change", args=[snapshot.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Correct and re-ingest",
            "original": document,
            "form": form,
        }
        return TemplateResponse(request, "admin/documents/sourcedocument/reingest.html", context)

    @method_decorator(csrf_exempt)  # the size-limit handler must be installed before CSRF reads the body
    def upload_view(self, request):
        return self._upload_view(request, install_size_limit(request))

    @method_decorator(csrf_protect)
    def _upload_view(self, request, handler):
        if not self.has_view_permission(request) or not request.user.has_perm("documents.change_sourcedocument"):
            messages.error(request, "You may not upload documents.")
            return HttpResponseRedirect(reverse("admin:documents_sourcedocument_changelist"))
        if request.method != "POST":
            form = UploadForm()
        else:
            form = UploadForm(request.POST, request.FILES, size_limit=handler)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    document = services.register_file(
                        data["file"], data["file"].name, vendor_name=data["vendor_name"],
                        processor=data["processor"], options=data["options"], currency=data["currency"],
                        force=data.get("force", False),
                    )
                except services.AlreadyIngested as exc:
                    earlier = reverse("admin:documents_sourcedocument_change", args=[exc.document.pk])
                    form.add_error(None, format_html(
                        '{}: {}. See <a href="{}">document #{}</a>; to ingest it again all the same, tick '
                        '"Ingest again" and upload it again.', exc.filename, exc.message, earlier, exc.document.pk,
                    ))
                except services.IngestError as exc:
                    form.add_error(None, str(exc))
                else:
                    enqueue_ingest(document)
                    messages.success(request, f"The file {document.original_filename} is queued for ingestion as "
                                              f"document #{document.pk}.")
                    return HttpResponseRedirect(reverse("admin:documents_sourcedocument_change", args=[document.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload a price list",
            "form": form,
            "max_bytes": settings.INGESTION_MAX_FILE_BYTES,
        }
        return TemplateResponse(request, "admin/documents/sourcedocument/upload.html", context)

    @admin.action(description="Re-ingest selected documents (new snapshots)", permissions=["change"])
    def reingest_selected(self, request, queryset):
        for document in queryset.select_related("vendor"):
            enqueue_ingest(services.reingest(document))
        self.message_user(request, f"{queryset.count()} document(s) queued for re-ingestion.", messages.SUCCESS)


admin.site.unregister(SourceDocument)
admin.site.register(SourceDocument, IngestingDocumentAdmin)


class ImportRunInline(admin.TabularInline):
    model = ImportRun
    extra = 0
    can_delete = False
    fields = ["started_at", "outcome", "sha256", "document", "message"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ImportSchedule)
class ImportScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "path", "vendor", "every", "enabled", "last_run_at", "last_outcome", "runs",
                    "skipped_unchanged", "failures"]
    list_filter = ["enabled", "every", "last_outcome"]
    search_fields = ["name", "path", "vendor__name"]
    list_select_related = ["vendor"]
    autocomplete_fields = ["vendor"]
    readonly_fields = ["last_run_at", "last_outcome", "last_sha256", "last_document", "runs", "skipped_unchanged",
                       "failures", "created_at"]
    inlines = [ImportRunInline]
    actions = ["run_now"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        schedules.sync_q_schedule(obj)

    def delete_model(self, request, obj):
        obj.enabled = False
        schedules.sync_q_schedule(obj)
        super().delete_model(request, obj)

    @admin.action(description="Run selected imports now")
    def run_now(self, request, queryset):
        for schedule in queryset:
            async_task(schedules.TASK, schedule.pk, task_name=f"import {schedule.name}", group="import")
        self.message_user(request, f"{queryset.count()} import(s) queued.", messages.SUCCESS)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "schedule", "outcome", "document", "message"]
    list_filter = ["outcome", "schedule"]
    list_select_related = ["schedule", "document"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
