"""python manage.py rematch [--vendor NAME] [--dry-run]"""

from django.core.management.base import BaseCommand, CommandError

from offers.rematch import rematch
from offers.vendors import vendor_by_name


class Command(BaseCommand):
    help = (
        "Match stored offers again with today's attribute reading and products; merge, move, flag and "
        "report (offers.rematch). Offers settled by an operator are left alone. Running it twice changes "
        "nothing the second time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--vendor", default="", help="Only this vendor's offers (its name or an alias).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args, vendor, dry_run, **options):
        chosen = None
        if vendor.strip():
            chosen = vendor_by_name(vendor, create=False)
            if chosen is None:
                raise CommandError(f"no vendor named {vendor!r} (list them in the admin, or with the API's GET /vendors)")
        report = rematch(chosen, dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
