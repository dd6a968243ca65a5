"""Running scheduled imports, and keeping django-q2's schedule rows in step."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from documents import storage
from documents.models import SourceDocument
from ingestion import intake
from ingestion.models import ImportRun, ImportSchedule
from ingestion.services import AlreadyIngested, IngestError, ingest_path

TASK = "ingestion.tasks.run_import_schedule"


def sync_q_schedule(schedule: ImportSchedule) -> None:
    """Create, update or remove the django-q2 ``Schedule`` that runs this import."""
    if not schedule.enabled:
        if schedule.q_schedule_id:
            Schedule.objects.filter(pk=schedule.q_schedule_id).delete()
            ImportSchedule.objects.filter(pk=schedule.pk).update(q_schedule=None)
            schedule.q_schedule = None
        return
    fields = {
        "name": f"import: {schedule.name}",
        "func": TASK,
        "args": repr(schedule.pk) + ",",
        "schedule_type": {"H": Schedule.HOURLY, "D": Schedule.DAILY, "W": Schedule.WEEKLY,
                          "I": Schedule.MINUTES, "C": Schedule.CRON}[schedule.every],
        "minutes": schedule.minutes if schedule.every == ImportSchedule.Every.MINUTES else None,
        "cron": schedule.cron if schedule.every == ImportSchedule.Every.CRON else None,
        "repeats": -1,
    }
    q = Schedule.objects.filter(pk=schedule.q_schedule_id).first() if schedule.q_schedule_id else None
    if q is None:
        q = Schedule.objects.create(next_run=timezone.now(), **fields)
        ImportSchedule.objects.filter(pk=schedule.pk).update(q_schedule=q)
        schedule.q_schedule = q
    else:
        Schedule.objects.filter(pk=q.pk).update(**fields)


def run_import(schedule: ImportSchedule) -> ImportRun:
    """One run: skip an unchanged file (the same sha256 as the last run's, or content already
    ingested for this vendor with these settings), record a missing one, else ingest it."""
    now = timezone.now()
    sha256, document = "", None
    try:
        path = storage.resolve_inside(schedule.path)  # links resolved: their target must lie inside storage
        refused = intake.path_refusal(path) if path.exists() else ""
        if not path.exists():
            outcome, message = ImportRun.Outcome.MISSING, f"file not found: {path}"
        elif refused:  # a folder, a FIFO, an unreadable file...
            outcome, message = ImportRun.Outcome.FAILED, f"{path}: {refused}"
        else:
            sha256 = storage.sha256_of(path)
            if sha256 == schedule.last_sha256:
                outcome, message = ImportRun.Outcome.UNCHANGED, "unchanged since the last run (same sha256)"
            else:
                document = ingest_path(
                    path,
                    vendor_name=schedule.vendor.name,
                    processor=schedule.processor,
                    options={k: str(v) for k, v in (schedule.options or {}).items()},
                    currency=schedule.currency,
                    trigger=SourceDocument.Trigger.SCHEDULE,
                )
                failed = document.status == SourceDocument.Status.FAILED
                outcome = ImportRun.Outcome.FAILED if failed else ImportRun.Outcome.INGESTED
                message = document.extra.get("failure", "") if failed else f"document #{document.pk}: {document.status}"
    except AlreadyIngested as exc:  # the file went back to content already ingested
        outcome, message = ImportRun.Outcome.UNCHANGED, exc.message
    except (storage.StorageError, IngestError) as exc:
        outcome, message = ImportRun.Outcome.FAILED, str(exc)

    with transaction.atomic():
        run = ImportRun.objects.create(schedule=schedule, outcome=outcome, sha256=sha256, document=document,
                                       message=message)
        updates = {"last_run_at": now, "last_outcome": outcome, "runs": schedule.runs + 1}
        if outcome == ImportRun.Outcome.UNCHANGED:
            updates["skipped_unchanged"] = schedule.skipped_unchanged + 1
        elif outcome == ImportRun.Outcome.INGESTED:
            updates.update(last_sha256=sha256, last_document=document)
        else:
            updates["failures"] = schedule.failures + 1
            if document is not None:
                updates["last_document"] = document
        for name, value in updates.items():
            setattr(schedule, name, value)
        schedule.save(update_fields=list(updates))
    return run
