"""python manage.py recover_documents

Re-run or fail documents whose ingest stopped without ending (its process was killed, ran out of
memory or hit the task timeout), as the worker does every minute. Prints what it did.
"""

from django.core.management.base import BaseCommand

from ingestion.services import recover_stale_documents


class Command(BaseCommand):
    help = "Re-run or fail documents whose ingest stopped without ending (the worker does it every minute)."

    def handle(self, *args, **options):
        done = recover_stale_documents()
        for document, what in done:
            self.stdout.write(f"document #{document.pk} {document.original_filename}: {what}")
        if not done:
            self.stdout.write("nothing to recover: no document is stuck")
