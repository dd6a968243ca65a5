"""Scheduled imports: a file path ingested again and again by django-q2."""

from __future__ import annotations

from django.db import models


class ImportSchedule(models.Model):
    """Re-ingest a file under ``INGESTION_STORAGE_DIR`` on a schedule.

    A run whose file has the same sha256 as the last ingested one is skipped
    and counted; a missing file is a recorded failure. Each run leaves an
    ``ImportRun`` row.
    """

    class Every(models.TextChoices):
        HOURLY = "H", "Hourly"
        DAILY = "D", "Daily"
        WEEKLY = "W", "Weekly"
        MINUTES = "I", "Every N minutes"
        CRON = "C", "Cron expression"

    name = models.CharField(max_length=120, unique=True)
    path = models.CharField(
        max_length=500,
        help_text="File under INGESTION_STORAGE_DIR, absolute or relative to it, "
        "e.g. vendors/acme/latest.xlsx",
    )
    vendor = models.ForeignKey("offers.Vendor", on_delete=models.PROTECT, related_name="import_schedules")
    processor = models.CharField(max_length=40, blank=True, help_text="Blank: detected from the file.")
    options = models.JSONField(default=dict, blank=True, help_text='Processor options, e.g. {"prefer_llm": "true"}')
    currency = models.CharField(max_length=3, blank=True)
    every = models.CharField(max_length=1, choices=Every.choices, default=Every.DAILY)
    minutes = models.PositiveIntegerField(null=True, blank=True, help_text="For 'Every N minutes'.")
    cron = models.CharField(max_length=100, blank=True, help_text="For 'Cron expression', e.g. 0 6 * * 1-5")
    enabled = models.BooleanField(default=True)
    q_schedule = models.OneToOneField(
        "django_q.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=20, blank=True)
    last_sha256 = models.CharField(max_length=64, blank=True)
    last_document = models.ForeignKey(
        "documents.SourceDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    runs = models.PositiveIntegerField(default=0)
    skipped_unchanged = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    class Outcome(models.TextChoices):
        INGESTED = "ingested", "Ingested"
        UNCHANGED = "unchanged", "Skipped: unchanged"
        MISSING = "missing", "Failed: file missing"
        FAILED = "failed", "Failed"

    schedule = models.ForeignKey(ImportSchedule, on_delete=models.CASCADE, related_name="run_log")
    started_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    sha256 = models.CharField(max_length=64, blank=True)
    document = models.ForeignKey(
        "documents.SourceDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["schedule", "-id"], name="importrun_schedule_id")]

    def __str__(self) -> str:
        return f"{self.schedule} {self.outcome} @ {self.started_at:%Y-%m-%d %H:%M}"
