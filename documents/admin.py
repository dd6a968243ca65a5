from django.contrib import admin

from documents.models import SourceDocument


@admin.register(SourceDocument)
class SourceDocumentAdmin(admin.ModelAdmin):
    list_display = ["id", "original_filename", "vendor", "processor", "status", "trigger", "created_at"]
    list_filter = ["status", "processor", "trigger"]
    search_fields = ["original_filename", "sha256", "vendor__name"]
    list_select_related = ["vendor"]
    readonly_fields = [f.name for f in SourceDocument._meta.fields]
