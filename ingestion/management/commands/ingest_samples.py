"""Ingest the sample files in docs/samples/ once, so a first look shows real offers."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from documents import storage
from documents.models import SourceDocument
from ingestion.services import ingest_path
from offers.wording import counted

SAMPLES_DIR = Path(settings.BASE_DIR) / "docs" / "samples"
# file name -> (vendor, processor, currency)
SAMPLES = {
    "vendor-template.xlsx": ("Template Traders", "spreadsheet", "USD"),
    "messy-vendor.xlsx": ("Messy Mobiles Ltd", "spreadsheet", ""),
    "european-prices.csv": ("Euro Parts GmbH", "spreadsheet", "EUR"),
    "whatsapp-chat.txt": ("", "whatsapp_text", ""),
}


class Command(BaseCommand):
    help = "Ingest docs/samples/ (each file once: skipped when its content was ingested before)."

    def handle(self, *args, **options):
        for name, (vendor, processor, currency) in SAMPLES.items():
            path = SAMPLES_DIR / name
            if not path.is_file():
                continue
            if SourceDocument.objects.filter(sha256=storage.sha256_of(path)).exists():
                self.stdout.write(f"sample {name}: already ingested")
                continue
            document = ingest_path(path, vendor_name=vendor, processor=processor, currency=currency)
            self.stdout.write(
                f"sample {name}: {document.status}, {counted(document.stats.get('offers_created', 0), 'offer')}, "
                f"{counted(document.stats.get('errors', 0), 'rejected row')} (document #{document.pk})"
            )
