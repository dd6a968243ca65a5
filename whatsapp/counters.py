"""The WhatsApp ingest's counters and its recent failures, kept in the database.

Counters are exact under concurrency: each change is one ``INSERT ... ON CONFLICT DO UPDATE
SET value = value + n`` statement (SQLite and PostgreSQL), never a read then a write, so
gunicorn workers on several hosts add to the same rows. ``NAMES`` are the playbook's
(section 8): ``totals.accepted``, ``totals.auth_failures``...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection, transaction

from whatsapp.models import Counter, IngestFailure

NAMES = ("accepted", "created", "deduped", "extracted", "errors", "auth_failures", "forbidden", "rate_limited",
         "signature_failures", "media_failed")
RECENT_FAILURES = 50
KEPT_FAILURES = 1000  # rows kept in IngestFailure; older ones are deleted as new ones come


def add(counts: Mapping[str, int], *, chat_id: int | None = None) -> None:
    """Add ``counts`` (``{name: n}``, names from ``NAMES``; zeros are skipped) to the totals and,
    with ``chat_id``, to that chat's counters. Raises ``ValueError`` for an unknown name."""
    add_per_chat({chat_id or 0: counts})


def add_per_chat(counts_by_chat: Mapping[int, Mapping[str, int]]) -> None:
    """Add each chat's ``{name: n}`` to its counters and all of them to the totals, in one
    statement (chat id 0: to the totals only). Raises ``ValueError`` for an unknown name."""
    totals: dict[str, int] = {}
    rows = []
    for chat_id, counts in counts_by_chat.items():
        unknown = set(counts) - set(NAMES)
        if unknown:
            raise ValueError(f"unknown counter(s): {', '.join(sorted(unknown))}")
        for name, n in counts.items():
            if n:
                totals[name] = totals.get(name, 0) + n
                if chat_id:
                    rows.append((name, chat_id, n))
    rows = sorted([(name, 0, n) for name, n in totals.items()] + rows)  # one lock order for every writer
    if not rows:
        return
    table = connection.ops.quote_name(Counter._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, chat_key, value) VALUES {values} "
            f"ON CONFLICT (name, chat_key) DO UPDATE SET value = {table}.value + excluded.value",
            [part for row in rows for part in row],
        )


def totals() -> dict[str, int]:
    """``{name: value}`` for every name in ``NAMES`` (0 when never counted)."""
    found = dict(Counter.objects.filter(chat_key=0).values_list("name", "value"))
    return {name: found.get(name, 0) for name in NAMES}


def per_chat(chat_ids: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
    """``{chat id: {name: value}}`` for the chats with any counter (names never counted are 0); with
    ``chat_ids``, for those chats only (one query either way)."""
    rows = Counter.objects.exclude(chat_key=0)
    if chat_ids is not None:
        rows = rows.filter(chat_key__in=list(chat_ids))
    chats: dict[int, dict[str, int]] = {}
    for chat_key, name, value in rows.values_list("chat_key", "name", "value"):
        chats.setdefault(chat_key, dict.fromkeys(NAMES, 0))[name] = value
    return chats


def record_failure(*, status: int, reason: str, client_id: str = "", chat_title: str = "", request_id: str = "") -> None:
    """Remember one failure for ``recent_failures`` (texts cut to their columns' sizes)."""
    with transaction.atomic():
        failure = IngestFailure.objects.create(
            status=status, reason=reason[:300], client_id=client_id[:100], chat_title=chat_title[:300],
            request_id=request_id[:64],
        )
        if failure.pk % 100 == 0:  # now and then, forget the oldest
            IngestFailure.objects.filter(pk__lte=failure.pk - KEPT_FAILURES).delete()


def recent_failures(limit: int = RECENT_FAILURES) -> list[dict]:
    """The latest ``limit`` failures, newest first: ``client_id``, ``chat_title``, ``status``,
    ``reason``, ``request_id`` and ``at`` (ISO 8601, UTC)."""
    return [
        {"client_id": f.client_id, "chat_title": f.chat_title, "status": f.status, "reason": f.reason,
         "request_id": f.request_id, "at": f.created_at.isoformat().replace("+00:00", "Z")}
        for f in IngestFailure.objects.order_by("-id")[:limit]
    ]
