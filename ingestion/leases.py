"""Who is ingesting a document now: a lease in its row, so a killed process is noticed.

A process claims a document (``Lease.claim``) with one conditional UPDATE: it
must be ``pending``, or ``processing`` with a lease that has expired (its
process was killed, ran out of memory or hit the task timeout) and attempts
left. Several workers on several hosts may race for it; one wins. The owner
renews the lease in every batch it commits (``Lease.renew``, inside the batch's
transaction, so a batch can only commit while its process still owns the
document) and from a heartbeat thread when no batch has been written for a
third of the lease (a slow file). A process that lost its lease (another took
the document over) gets ``LeaseLost`` at its next batch and stops; the rows it
wrote are discarded by the new owner.

Settings: ``INGESTION_LEASE_SECONDS`` (default 60), ``INGESTION_MAX_ATTEMPTS``
(default 2).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Q
from django.utils import timezone

from documents.models import SourceDocument

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This process no longer owns the document: another process took it over after the lease expired."""


def lease_seconds() -> int:
    return getattr(settings, "INGESTION_LEASE_SECONDS", 60)


def max_attempts() -> int:
    return getattr(settings, "INGESTION_MAX_ATTEMPTS", 2)


def claimable(now) -> Q:
    """Documents a process may start ingesting at ``now``: pending, or processing with an expired
    lease (a lease-less processing row, from before leases existed, once a lease has passed since
    its last update) and attempts left."""
    stale = Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True,
                                            updated_at__lt=now - timedelta(seconds=lease_seconds()))
    return Q(status=SourceDocument.Status.PENDING) | (
        Q(status=SourceDocument.Status.PROCESSING, attempts__lt=max_attempts()) & stale
    )


class Lease:
    """This process's claim on one document, as ``owner`` (``host:pid:random``)."""

    def __init__(self, document: SourceDocument, owner: str):
        self.document = document
        self.owner = owner
        self.seconds = lease_seconds()
        self._renewed = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    @classmethod
    def claim(cls, document: SourceDocument) -> Lease | None:
        """Take ``document`` for this process, or ``None`` when it is not claimable (another live
        process has it, or it has ended). On success ``document`` is refreshed: processing, with
        ``attempts`` counting this one."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        now = timezone.now()
        lease = cls(document, owner)
        claimed = SourceDocument.objects.filter(claimable(now), pk=document.pk).update(
            status=SourceDocument.Status.PROCESSING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease.seconds),
            attempts=F("attempts") + 1,
            started_at=now,
            updated_at=now,
        )
        document.refresh_from_db()
        return lease if claimed else None

    def renew(self) -> None:
        """Extend the lease; raises ``LeaseLost`` if another process owns the document now. Called
        inside each batch's transaction, it also keeps the batch from committing after a takeover."""
        renewed = SourceDocument.objects.filter(pk=self.document.pk, lease_owner=self.owner).update(
            lease_expires_at=timezone.now() + timedelta(seconds=self.seconds)
        )
        if not renewed:
            self.lost = True
            raise LeaseLost(f"document #{self.document.pk} was taken over by another process")
        self._renewed = time.monotonic()

    def ours(self):
        """The document's row, as a queryset, while this process owns it (for the final update)."""
        return SourceDocument.objects.filter(pk=self.document.pk, lease_owner=self.owner)

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._heartbeat, name=f"lease-{self.document.pk}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _heartbeat(self) -> None:
        """Renew the lease when no batch has for a third of it, on this thread's own connection."""
        interval = max(self.seconds / 3, 0.2)
        try:
            while not self._stop.wait(interval / 4):
                if time.monotonic() - self._renewed < interval:
                    continue
                try:
                    self.renew()
                except LeaseLost:
                    log.warning("document #%s: lease lost to another process", self.document.pk)
                    return
                except DatabaseError as exc:  # the next try, or the batch, will say more
                    log.warning("document #%s: lease not renewed: %s", self.document.pk, exc)
        finally:
            connection.close()
