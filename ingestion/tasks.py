"""django-q2 entry points: thin wrappers that load rows and call the services."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django_q.tasks import async_task

from documents.models import SourceDocument
from ingestion.models import ImportSchedule
from ingestion.schedules import run_import
from ingestion import services
from ingestion.services import process_document

log = logging.getLogger(__name__)

INGEST_TASK = "ingestion.tasks.ingest_document"
RECOVER_TASK = "ingestion.tasks.recover_stale_documents"


def enqueue_ingest(document: SourceDocument) -> None:
    """Queue the django-q2 task that ingests a pending document."""
    async_task(INGEST_TASK, document.pk, task_name=f"ingest document {document.pk}", group="ingest")


def ingest_document(document_id: int) -> str:
    """Ingest a document, unless another live process is at it or it has ended. A redelivered
    task (its worker was killed) finds the document processing with an expired lease and runs
    it again (``ingestion.leases``)."""
    document = SourceDocument.objects.select_related("vendor").filter(pk=document_id).first()
    if document is None:
        return f"document #{document_id} is gone"
    before = document.status
    process_document(document)
    if document.status == before and before == SourceDocument.Status.PROCESSING:
        return f"document #{document_id} is being ingested by {document.lease_owner}; not run again"
    return f"document #{document_id}: {document.status}"


def recover_stale_documents() -> str:
    """Every minute (a django-q2 schedule): re-run or fail documents whose ingest stopped."""
    try:
        done = services.recover_stale_documents()
    except DatabaseError as exc:  # the next run, a minute later, tries again
        log.warning("recovering stopped documents failed, tried again in a minute: %s", exc)
        return f"not run: {exc}"
    for document, what in done:
        log.warning("document #%s (%s): %s", document.pk, document.original_filename, what)
    return f"{len(done)} document(s) recovered" if done else "nothing to recover"


def run_import_schedule(schedule_id: int) -> str:
    schedule = ImportSchedule.objects.select_related("vendor").filter(pk=schedule_id, enabled=True).first()
    if schedule is None:
        return f"import schedule #{schedule_id} is gone or disabled"
    run = run_import(schedule)
    return f"{schedule.name}: {run.outcome} {run.message}"
