"""The WhatsApp ingest's and extraction's recent log lines, in the database (``IngestEvent``):
every gunicorn and django-q2 worker writes here, and ``/chat/tools/diagnostics`` reads the
latest ones in one place. Lines never hold a token, a secret or a message's text."""

from __future__ import annotations

from whatsapp.models import IngestEvent

KEPT_EVENTS = 5000  # rows kept; older ones are deleted as new ones come
RECENT_EVENTS = 500


def record(kind: str, message: str, *, level: str = IngestEvent.Level.INFO, chat_id: int | None = None,
           request_id: str = "") -> None:
    """Add one line (``kind``: "ingest", "refusal" or "extraction"; ``message`` cut to 1,000
    characters); now and then forget all but the latest ``KEPT_EVENTS``."""
    event = IngestEvent.objects.create(kind=kind[:20], message=message[:1000], level=level, chat_id=chat_id,
                                       request_id=request_id[:64])
    if event.pk % 500 == 0:
        IngestEvent.objects.filter(pk__lte=event.pk - KEPT_EVENTS).delete()


def recent(limit: int = RECENT_EVENTS) -> list[IngestEvent]:
    """The latest ``limit`` lines, newest first."""
    return list(IngestEvent.objects.order_by("-id")[:limit])
