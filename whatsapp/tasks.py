"""django-q2 entry points of the WhatsApp extraction: the poll loop that extracts due chats.

django-q2 has no countdown and looks at its schedules about every 30 s, so the debounce is not a
queued task: the chat's due time is a column (``whatsapp.extraction``), and a poll loop claims due
chats about every second while any chat is pending. The ingest queues it (``wake``) when a batch
leaves a chat pending and no loop runs; it ends after ``IDLE_SECONDS`` with nothing pending, so
no worker is held when there is nothing to extract. The schedule ``SCHEDULE_NAME`` (made by
migration ``whatsapp.0006_extraction_schedule``; type MINUTES, every minute) starts it too, as a
safety net; a run polls for up to ``LOOP_SECONDS`` and hands over to the next run of the schedule:

- One loop for the whole cluster (every worker, every host): each run takes the
  ``ExtractionPoller`` row over (``owner`` = its token) and a loop whose row another run took
  stops at its next poll. A loop whose schedule stopped ends by ``expires_at``.
- Each poll (``whatsapp.extraction.extract_due_chats``) claims each due chat by a conditional
  ``UPDATE`` and extracts it, so two loops that overlap for a second, or an operator's "extract
  latest" at the same time, never extract a chat twice.
- The lag between a chat's due time and its extraction is at most ``POLL_SECONDS`` plus the run
  itself while the loop runs; the hand-over leaves no gap as long as the scheduler fires within
  ``LOOP_SECONDS`` (it fires every 60-90 s). While chats are pending the loop keeps one worker of
  the cluster busy (``Q_WORKERS`` defaults to 3).

All state lives in the database; nothing here keeps anything in process memory between polls.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from whatsapp import extraction
from whatsapp.models import ExtractionPoller

log = logging.getLogger(__name__)

POLL_TASK = "whatsapp.tasks.poll_due_chats"
SCHEDULE_NAME = "whatsapp: extract due chats"
POLLER = "extraction"
LOOP_SECONDS = 150.0  # longer than the schedule's period (60 s, fired up to 30 s late): the next run takes over
POLL_SECONDS = 1.0
BEAT_SECONDS = 10.0  # how often the loop writes its beat_at (a read checks its ownership every poll)
IDLE_SECONDS = 20.0  # a loop with no chat pending for this long ends, freeing its worker (an ingest wakes the next)
WAKING = "waking"  # the owner of a loop an ingest has queued and no worker has started yet
WAKE_SECONDS = 60.0  # how long a queued loop may wait for a worker before another ingest queues one again


def wake(now=None) -> bool:
    """Queue the poll loop unless one runs or is queued: called by the ingest when a batch leaves
    a chat pending, so that the loop runs only while there is something to extract (and no
    worker is held when nothing is). One conditional ``UPDATE`` of the ``ExtractionPoller`` row
    decides (safe on SQLite and PostgreSQL, across workers and hosts); returns whether this call
    queued it. Inside the caller's transaction on the ORM broker, the task is queued only if
    that transaction commits."""
    from django_q.tasks import async_task

    now = now or timezone.now()
    values = {"owner": WAKING, "beat_at": now, "expires_at": now + timedelta(seconds=WAKE_SECONDS)}
    free = Q(owner="") | Q(expires_at__isnull=True) | Q(expires_at__lte=now)
    # The row is made by migrate (whatsapp.0008) and, if deleted, by the schedule's next run (take_over).
    if not ExtractionPoller.objects.filter(name=POLLER).filter(free).update(**values):
        return False  # a loop runs, or is queued
    # For a worker, always (sync=False): never run inline in the ingest's request, whatever the cluster's mode.
    async_task(POLL_TASK, task_name="whatsapp: extract due chats (woken)", sync=False)
    return True


def take_over(token: str, *, seconds: float = LOOP_SECONDS) -> None:
    """Make ``token`` the poll loop's owner for ``seconds`` (any loop running stops at its next poll)."""
    now = timezone.now()
    values = {"owner": token[:100], "started_at": now, "beat_at": now, "expires_at": now + timedelta(seconds=seconds)}
    if not ExtractionPoller.objects.filter(name=POLLER).update(**values):
        ExtractionPoller.objects.get_or_create(name=POLLER, defaults=values)
        ExtractionPoller.objects.filter(name=POLLER).update(**values)


def still_owner(token: str) -> bool:
    """Whether ``token`` still owns the loop (one read)."""
    return ExtractionPoller.objects.filter(name=POLLER, owner=token[:100], expires_at__gt=timezone.now()).exists()


def poll_due_chats(seconds: float = LOOP_SECONDS, interval: float = POLL_SECONDS, idle: float = IDLE_SECONDS) -> str:
    """The schedule's task (and the one ``wake`` queues): take the loop over, then every
    ``interval`` seconds extract the due chats, for ``seconds`` at most (and 15 s less than
    django-q2's task ``timeout``), until another run takes over, or until no chat has been
    pending for ``idle`` seconds. A database error (a busy SQLite, a dropped connection) skips
    one poll. Returns a summary for the task's result."""
    timeout = settings.Q_CLUSTER.get("timeout")
    if timeout:  # never past the task's timeout, where the cluster would kill the worker mid-poll
        seconds = max(1.0, min(seconds, float(timeout) - 15))
    token = extraction.new_token()
    take_over(token, seconds=seconds)
    deadline = time.monotonic() + seconds
    last_beat = time.monotonic()
    polls = chats = offers = 0
    busy_at = time.monotonic()  # when a chat was last seen pending
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            if not still_owner(token):
                break
            runs = extraction.extract_due_chats()
            polls += 1
            chats += len(runs)
            offers += sum(run.offers for run in runs)
            if runs or extraction.any_pending():
                busy_at = started
            elif started - busy_at >= idle:
                break
            if started - last_beat >= BEAT_SECONDS:
                ExtractionPoller.objects.filter(name=POLLER, owner=token[:100]).update(beat_at=timezone.now())
                last_beat = started
        except DatabaseError as exc:
            log.warning("WhatsApp extraction poll failed, trying again: %s", exc)
            if not connection.in_atomic_block:
                connection.close()  # the next query opens a new connection
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    try:
        ExtractionPoller.objects.filter(name=POLLER, owner=token[:100]).update(owner="", expires_at=timezone.now())
    except DatabaseError:
        pass
    return f"{polls} poll(s), {chats} chat run(s), {offers} offer(s)"


def extract_chat(chat_id: int) -> str:
    """Extract one chat's pending messages now (a task for scripts: ``async_task(EXTRACT_TASK, id)``)."""
    try:
        run = extraction.extract_latest(chat_id, trigger="task")
    except extraction.ChatNotFound as exc:
        return str(exc)
    return run.summary()


EXTRACT_TASK = "whatsapp.tasks.extract_chat"
