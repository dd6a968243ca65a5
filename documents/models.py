"""Source documents: every artefact that was ingested, kept as a snapshot."""

from __future__ import annotations

from django.db import models


class SourceDocument(models.Model):
    """One ingested artefact. A re-ingest makes a new row; rows are never overwritten.

    ``extra`` holds ``errors`` (a list of ``{ref, field, message, value}``) and
    ``stats`` (rows seen, offers created, rows skipped, errors, duration ...).

    Its offers are visible (``Offer.objects``) only once it has ended: while it is
    ``pending`` or ``processing`` they are being written in batches and hidden
    (``HIDDEN_STATUSES``). A process ingesting it holds a lease (``lease_owner``,
    renewed until ``lease_expires_at``); a ``processing`` document whose lease
    has expired lost its process (killed, out of memory, timed out) and is
    re-run or failed by ``ingestion.services.recover_stale_documents``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    # While a document is in one of these states, its offers are hidden from every reader.
    HIDDEN_STATUSES = (Status.PENDING, Status.PROCESSING)

    class Trigger(models.TextChoices):
        CLI = "cli", "Command line"
        UPLOAD = "upload", "Admin upload"
        SCHEDULE = "schedule", "Scheduled import"
        REINGEST = "reingest", "Re-ingest"
        WHATSAPP = "whatsapp", "WhatsApp"

    original_filename = models.CharField(max_length=255, help_text="As the user named it; metadata only.")
    stored_path = models.CharField(
        max_length=500, blank=True, help_text="Path relative to INGESTION_STORAGE_DIR, chosen by PriceHub."
    )
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=120, blank=True)
    processor = models.CharField(max_length=40, blank=True)
    vendor = models.ForeignKey(
        "offers.Vendor", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.CLI)
    options = models.JSONField(default=dict, blank=True, help_text="Ingestion context (processor options).")
    extra = models.JSONField(default=dict, blank=True)
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reingests",
        help_text="The snapshot this one re-ingests.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(
        max_length=120, blank=True, help_text="The process ingesting it now (host:pid:attempt), while processing."
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Renewed while its process runs; past it, the process is taken for dead."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times an ingest of it has started.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["vendor", "-id"], name="document_vendor_id"),
            # Unchanged content is looked up by its hash and vendor (``register_file``).
            models.Index(fields=["sha256", "vendor"], name="document_sha256_vendor"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_filename}"

    @property
    def is_stalled(self) -> bool:
        """Processing, but its process stopped renewing the lease (killed, out of memory, timed out)."""
        from django.utils import timezone

        return (
            self.status == self.Status.PROCESSING
            and self.lease_expires_at is not None
            and self.lease_expires_at < timezone.now()
        )

    @property
    def errors(self) -> list[dict]:
        return self.extra.get("errors", [])

    @property
    def stats(self) -> dict:
        return self.extra.get("stats", {})

    @property
    def warnings(self) -> list[str]:
        """What an operator should check although the rows were read (a guessed currency...)."""
        return self.extra.get("warnings", [])

    @property
    def notes(self) -> list[str]:
        """How the source was read, for the operator (OCR used, the LLM pass asked for but off,
        a model call that failed and the heuristics that ran instead); no effect on the status."""
        return self.extra.get("notes", [])

    @property
    def skipped(self) -> list[dict]:
        """Rows that are not offers (hidden, filtered, sold out), each ``{ref, field, message, value, reason}``."""
        return self.extra.get("skipped", [])
