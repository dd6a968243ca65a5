"""python manage.py recover_documents

Re-run or fail documents whose ingest stopped without ending (its process was killed, ran out of
memory or hit the task timeout), as the worker does every minute. Prints what it did.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ingestion.services import recover_stale_documents


class Command(BaseCommand):
    help = "Re-run or fail documents whose ingest stopped without ending (the worker does it every minute)."

    def handle(self, *args, **options):
        try:
            done = recover_stale_documents()
        except DatabaseError as exc:  # a stopped (not killed) process still holding SQLite's write lock
            raise CommandError(f"the database refused the recovery ({exc}): a process may still hold its write "
                               "lock (a paused ingest?); run it again once that process has ended", returncode=1)
        for document, what in done:
            self.stdout.write(f"document #{document.pk} {document.original_filename}: {what}")
        if not done:
            self.stdout.write("nothing to recover: no document is stuck")
