"""WhatsApp chats seen by collectors, and the messages they posted."""

from __future__ import annotations

from django.db import models


class Chat(models.Model):
    """A chat (group or direct) a collector reported; operators map it to a vendor.

    Extraction is debounced: each inbound message pushes ``extract_due_at``
    forward; a poller claims due chats by compare-and-set on that column and
    extracts messages above ``extracted_through_message_id``.

    A chat appears on its first message (``whatsapp.ingest``). It is known by the collector's
    ``chat_id`` when the collector sends one (``external_id``, unique across collectors), else
    by its title for the collector that posted it (``client_id`` + ``title``, ``external_id``
    empty): two unique constraints make either lookup race-free.
    """

    external_id = models.CharField(max_length=200, blank=True,
                                   help_text="The collector's chat id; empty for a chat known by its title.")
    client_id = models.CharField(max_length=100, blank=True,
                                 help_text="The collector that first posted to it (with the title, the key of a "
                                           "chat known by its title).")
    title = models.CharField(max_length=300, blank=True)
    is_group = models.BooleanField(default=True)
    vendor = models.ForeignKey(
        "offers.Vendor", null=True, blank=True, on_delete=models.SET_NULL, related_name="whatsapp_chats"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    extract_due_at = models.DateTimeField(null=True, blank=True)
    first_pending_at = models.DateTimeField(null=True, blank=True)
    extracted_through_message_id = models.BigIntegerField(default=0)
    last_extracted_at = models.DateTimeField(null=True, blank=True)
    extracted_count = models.PositiveIntegerField(default=0, help_text="Offers created from this chat.")
    provisional_vendor = models.ForeignKey(
        "offers.Vendor", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The vendor (is_provisional) its offers go to while the chat is not mapped; a full rerun after "
                  "mapping moves them to the chat's vendor.",
    )
    extract_claimed_until = models.DateTimeField(
        null=True, blank=True,
        help_text="While set and in the future, a worker is extracting the chat (whatsapp.extraction.claim_chat); "
                  "once past, the claim has lapsed (its worker died) and the chat is due again.",
    )
    extract_claimed_by = models.CharField(max_length=100, blank=True,
                                          help_text="The claim's token (host, process, random part).")

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [
            models.Index(
                fields=["extract_due_at"],
                name="chat_extract_due",
                condition=models.Q(extract_due_at__isnull=False),
            ),
            models.Index(
                fields=["extract_claimed_until"],
                name="chat_extract_claimed",
                condition=models.Q(extract_claimed_until__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], condition=~models.Q(external_id=""),
                                    name="chat_external_id_unique"),
            models.UniqueConstraint(fields=["client_id", "title"], condition=models.Q(external_id=""),
                                    name="chat_client_title_unique"),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id


class Message(models.Model):
    class Extraction(models.TextChoices):
        PENDING = "pending", "Pending"
        EXTRACTED = "extracted", "Extracted"
        NO_OFFERS = "no_offers", "No offers"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages", db_index=False)
    external_id = models.CharField(max_length=200, blank=True, help_text="WhatsApp message id, when known.")
    client_id = models.CharField(max_length=100, blank=True, help_text="The collector that posted it.")
    sender = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    content_hash = models.CharField(max_length=64, help_text="sha256 of the normalized content, for dedupe.")
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    extraction_state = models.CharField(
        max_length=20, choices=Extraction.choices, default=Extraction.PENDING, db_index=True
    )
    extraction_error = models.TextField(blank=True)
    media_document = models.ForeignKey(
        "documents.SourceDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="whatsapp_messages",
        help_text="The attachment, stored as a document (a spreadsheet is ingested like an upload).",
    )
    edited_at = models.DateTimeField(null=True, blank=True,
                                     help_text="When a collector last sent this message id with a new text (its "
                                               "offers are replaced at the next extraction).")
    extracted_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When it was first extracted after it arrived or was edited (a "
                                                  "full rerun leaves it: it measures the pipeline's lag).")
    media_error = models.CharField(max_length=300, blank=True,
                                   help_text="Why the attachment was not kept (the text was).")

    class Meta:
        ordering = ["chat", "id"]
        indexes = [
            models.Index(fields=["chat", "id"], name="message_chat_id"),
            models.Index(fields=["chat", "content_hash"], name="message_chat_hash"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["chat", "external_id"],
                condition=~models.Q(external_id=""),
                name="message_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id}:{self.pk} {self.sender}"


class ContentFingerprint(models.Model):
    """The last time a given content was seen in a chat.

    One row per (chat, content hash): the unique constraint makes the dedupe
    window race-free across workers and hosts (claim by insert, or by a
    conditional update when the previous sighting is older than the window).
    """

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="fingerprints", db_index=False)
    content_hash = models.CharField(max_length=64)
    last_seen_at = models.DateTimeField()
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat", "content_hash"], name="fingerprint_chat_hash_unique"),
        ]


class Counter(models.Model):
    """One ingest counter (``whatsapp.counters.NAMES``): for every chat (``chat_key`` 0) or for
    the chat whose id is ``chat_key``. Only ever incremented in one statement
    (``whatsapp.counters.add``), so it is exact under concurrent requests from any number
    of processes and hosts."""

    name = models.CharField(max_length=40)
    chat_key = models.BigIntegerField(default=0, help_text="The chat's id; 0 for the totals.")
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "chat_key"], name="counter_name_chat_unique")]

    def __str__(self) -> str:
        return f"{self.name}[{self.chat_key or 'total'}] = {self.value}"


class IngestFailure(models.Model):
    """A refused ingest request or a failed attachment, for ``recent_failures`` in the metrics."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client_id = models.CharField(max_length=100, blank=True)
    chat_title = models.CharField(max_length=300, blank=True)
    status = models.PositiveSmallIntegerField(help_text="The HTTP status answered (401, 403, 413, 429...), or 200 "
                                                        "for a failed attachment of an accepted message.")
    reason = models.CharField(max_length=300)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.status} {self.reason} ({self.client_id})"


class IngestBucket(models.Model):
    """One collector's (``client_id``) rate-limit bucket for the ingest, in the database
    (``whatsapp.ratelimit``; Redis instead when ``REDIS_URL`` is set, and a side SQLite file on an
    embedded SQLite database). A token bucket kept as its GCRA form: ``tat`` is the time (unix
    seconds) at which the bucket would be full again; each request moves it on by one token's
    refill time, in one statement."""

    client_id = models.CharField(max_length=100, primary_key=True)
    tat = models.FloatField(help_text="Unix seconds at which the bucket is full again.")
    allowed = models.BooleanField(default=True, help_text="Whether the last request was let through.")

    def __str__(self) -> str:
        return self.client_id


class IngestEvent(models.Model):
    """One line of the WhatsApp ingest's and extraction's recent log, kept in the database so every
    worker's lines are read in one place (``/chat/tools/diagnostics`` downloads them): ``kind``
    "ingest", "refusal" or "extraction"; ``message`` the line's text (never a token or secret)."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    kind = models.CharField(max_length=20)
    chat = models.ForeignKey(Chat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=1000)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.level} {self.kind}: {self.message}"


class ExtractionPoller(models.Model):
    """Who runs the extraction poll loop (``whatsapp.tasks.poll_due_chats``): one row, taken over by
    each new run of the every-minute schedule, so that one django-q2 worker of the whole cluster
    (every host) polls at a time; ``expires_at`` ends a loop whose schedule stopped."""

    name = models.CharField(max_length=40, primary_key=True)
    owner = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    beat_at = models.DateTimeField(null=True, blank=True, help_text="The loop's latest poll.")

    def __str__(self) -> str:
        return f"{self.name}: {self.owner or 'idle'}"
