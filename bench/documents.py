"""Benchmark: the document_text processor on generated price lists (SQLite).

    .venv/bin/python bench/documents.py [--pages 20] [--photos 5] [--dpi 300]

Makes, with ``tests/document_factory.py``, a ruled price list of ``--pages`` A4 pages (40 rows
a page: SKU, model, quantity, price), then ingests it three ways through the whole pipeline
(``ingestion.services.ingest_path``: read, normalize, match, persist):

- the PDF itself (text layer): offers a second, and how many offers are exact (SKU, model,
  quantity and price as listed);
- the same pages as a scan (an image-only PDF at ``--dpi``): seconds per page (OCR's own time,
  and the whole pipeline's), prices exact with their product line (SKU and model), all fields;
- ``--photos`` phone photos of pages (turned 2-3 degrees, blurred, lit unevenly, JPEG quality
  60): the same figures.

Targets (issue 13): text PDF >= 500 rows/s with every price exact; OCR <= 2 s per A4 page,
>= 98% of prices exact on the clean scan and >= 95% on the photos, each with its product line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_spreadsheet import django_database  # noqa: E402

from tests import document_factory as factory  # noqa: E402

ROWS_PER_PAGE = 40


def score(document, rows) -> tuple[int, int, int]:
    """(offers, prices exact with their product line, offers exact in every field) against ``rows``."""
    from offers.models import Offer

    listed = {sku: (model, qty, price) for sku, model, qty, price in rows}
    offers = list(Offer.objects.filter(source_document=document))
    with_line = exact = 0
    for offer in offers:
        model, qty, price = listed.get(offer.sku, ("", "", ""))
        if f"{offer.price:.2f}" == price and offer.currency == "USD" and offer.description == model:
            with_line += 1
            exact += str(offer.quantity) == qty
    return len(offers), with_line, exact


def ingest(path: Path, rows) -> tuple[object, float, tuple[int, int, int]]:
    """Ingest one file; (document, seconds, score)."""
    from ingestion.services import ingest_path

    started = time.perf_counter()
    document = ingest_path(path, vendor_name="Bench Warehouse", processor="document_text", force=True)
    return document, time.perf_counter() - started, score(document, rows)


def report(name: str, statuses: list[str], rows: int, found: tuple[int, int, int], seconds: float, ocr: float,
           pages: int) -> None:
    offers, with_line, exact = found
    per_page = f"{seconds / pages:.2f} s/page" + (f" (OCR {ocr / pages:.2f})" if ocr else "")
    print(f"{name:<18} {','.join(sorted(set(statuses))):<9} {rows:>5} rows {offers:>5} offers "
          f"{rows / seconds:>7.0f} rows/s  {per_page:<25} prices exact with their line {with_line}/{rows} "
          f"({with_line / rows * 100:.1f}%), every field {exact}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--dpi", type=int, default=300)
    args = parser.parse_args()
    rows = factory.rows(args.pages * ROWS_PER_PAGE, seed=2026)
    pdf = factory.table_pdf(rows, per_page=ROWS_PER_PAGE)
    with django_database("sqlite", "pricehub-documents-", PRICEHUB_ENV_FILE="none", LOG_LEVEL="ERROR",
                         ENABLE_OPENAI="false") as tmp:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"{args.pages} pages x {ROWS_PER_PAGE} rows; scans at {args.dpi} dpi; {args.photos} photos")
        for name, data, pages in (("text PDF", pdf, args.pages), ("scanned PDF", None, args.pages)):
            path = tmp / f"{name.replace(' ', '_')}.pdf"
            if data is None:
                scans = factory.render(pdf, dpi=args.dpi)
                data = factory.scanned_pdf(scans, dpi=args.dpi)
            path.write_bytes(data)
            document, seconds, found = ingest(path, rows)
            report(name, [document.status], len(rows), found, seconds, document.stats.get("ocr_seconds", 0), pages)

        totals, seconds, ocr, statuses = [0, 0, 0], 0.0, 0.0, []
        for index, page in enumerate(scans[:args.photos]):
            angle = (2.0 + index % 3 * 0.5) * (-1) ** index  # -2, 2.5, -3, 2, -2.5 degrees
            path = tmp / f"photo{index}.jpg"
            path.write_bytes(factory.jpeg(factory.photo(page, seed=index, angle=angle), quality=60))
            document, took, found = ingest(path, rows[index * ROWS_PER_PAGE:(index + 1) * ROWS_PER_PAGE])
            totals = [a + b for a, b in zip(totals, found)]
            seconds += took
            ocr += document.stats.get("ocr_seconds", 0)
            statuses.append(document.status)
        report("photos (JPEG q60)", statuses, args.photos * ROWS_PER_PAGE, tuple(totals), seconds, ocr, args.photos)


if __name__ == "__main__":
    main()
