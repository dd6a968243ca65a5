"""python manage.py list_documents [--limit N] [--status S] [--vendor NAME]"""

from django.core.management.base import BaseCommand, CommandError

from documents.models import SourceDocument
from ingestion.services import recent_documents


class Command(BaseCommand):
    help = "List ingested documents, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--status", default="", choices=SourceDocument.Status.values)
        parser.add_argument("--vendor", default="")

    def handle(self, *args, limit, status, vendor, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        rows = [
            (
                str(doc.pk),
                doc.created_at.strftime("%Y-%m-%d %H:%M"),
                doc.status,
                doc.processor or "-",
                doc.vendor.name if doc.vendor else "-",
                f"{doc.stats.get('offers_created', 0):,}",
                f"{doc.stats.get('errors', 0):,}",
                doc.original_filename,
            )
            for doc in recent_documents(limit=limit, status=status, vendor_name=vendor)
        ]
        if not rows:
            self.stdout.write("No documents.")
            return
        header = ("ID", "CREATED", "STATUS", "PROCESSOR", "VENDOR", "OFFERS", "ERRORS", "FILE")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        numeric = {0, 5, 6}
        for row in [header] + rows:
            cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
            self.stdout.write("  ".join(cells).rstrip())
