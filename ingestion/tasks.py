"""django-q2 entry points: thin wrappers that load rows and call the services."""

from __future__ import annotations

from documents.models import SourceDocument
from ingestion.models import ImportSchedule
from ingestion.schedules import run_import
from ingestion.services import process_document


def ingest_document(document_id: int) -> str:
    document = SourceDocument.objects.select_related("vendor").get(pk=document_id)
    if document.status != SourceDocument.Status.PENDING:
        return f"document #{document_id} is {document.status}; not run again"
    process_document(document)
    return f"document #{document_id}: {document.status}"


def run_import_schedule(schedule_id: int) -> str:
    schedule = ImportSchedule.objects.select_related("vendor").filter(pk=schedule_id, enabled=True).first()
    if schedule is None:
        return f"import schedule #{schedule_id} is gone or disabled"
    run = run_import(schedule)
    return f"{schedule.name}: {run.outcome} {run.message}"
