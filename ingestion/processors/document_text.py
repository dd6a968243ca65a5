"""PDFs and images: ``document_text``.

Formats, told by content (the extension alone does not decide): PDF (``%PDF-``
in the first KB), PNG, JPEG, WebP and TIFF (each frame of a multi-page TIFF
is a page).

A PDF is read page by page:

- A page with a usable text layer (``has_text_layer``: at least
  ``MIN_TEXT_CHARS`` characters that are not blank, with less than 5% of
  ``(cid:NN)`` glyphs or U+FFFD, which are what a font without a Unicode map
  gives) is read from that layer with pdfplumber. Its ruled tables
  (pdfplumber's ``lines`` strategy) and, without rules, the columns its words
  line up in (``ingestion.page_layout``) go through the spreadsheet
  processor's column mapping (header synonyms, title currency, the same
  normalizers); a page continuing a table without repeating its header keeps
  the previous page's header when it has as many columns. Lines that are not
  in a table go line by line through the text offer extractor
  (``ingestion.text_offers``).
- A page without one (a scan, a photo saved as PDF) is rendered at
  ``DOCUMENT_OCR_DPI`` (less when the page is so large that it would pass
  ``DOCUMENT_MAX_PIXELS``) and read by OCR, as an image is. A mixed PDF keeps
  its text pages as text.

An image, or a page without text, is read by OCR:

- Offline OCR (``ingestion.ocr``, tesseract) always runs. Its words' positions
  give columns when they line up (the column mapping above), else its lines
  go to the text offer extractor. Each offer is marked ``extra.read_by =
  "ocr"`` with the lowest confidence of its line's numbers
  (``extra.ocr_confidence``). Below ``LOW_CONFIDENCE`` on its price's words it
  is rejected (a ``RowError`` saying to check the page: a lost decimal point
  makes a price a hundred times too high); below it on another number (a
  quantity) it is flagged (``extra.ocr_low_confidence``), which makes the document
  ``partial`` with a warning naming the lines to check. On a page whose prices
  end in cents, a price of bare digits is rejected too (a decimal point OCR
  lost).
- With ``ENABLE_OPENAI=true`` and ``OPENAI_API_KEY`` set, the image also goes
  to GPT vision (``ingestion.llm``) with the OCR text: the model's offers are
  kept only where the OCR text shows their price. A failed call, or an answer
  with no offer the text supports, falls back to the offline reading, saying
  why in ``extra.notes``; so do the pages of a document past
  ``OPENAI_MAX_CALLS_PER_DOCUMENT`` pages sent to the model.

Text read with ``--option prefer_llm=true`` (and ``ENABLE_OPENAI``) goes to the
LLM pass instead of the heuristics; so does a page whose text gave no offer.

Every offer's ``ref`` names its page and row or line: ``"page 2, row 5"`` (a
ruled table's row, its header counted), ``"page 2, line 7"`` (a line of the
page's text or OCR), ``"page 2, table 2, row 3"`` when a page has several
tables. Each page adds a progress line (``IngestContext.report``): how it was
read, its offers, the seconds it took.

Limits, each failing the document with a message that names the limit:
``DOCUMENT_MAX_PAGES`` pages, ``DOCUMENT_MAX_PIXELS`` pixels in an image,
the file size (``INGESTION_MAX_FILE_BYTES``, checked when it is stored). A
PDF that needs a password, or that cannot be parsed, fails that document only.
A page whose drawing instructions inflate past ``DOCUMENT_MAX_PAGE_CONTENT_BYTES``
(a compression bomb) is an error naming the page, and is not parsed.
"""

from __future__ import annotations

import bisect
import io
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, ImageSequence

from ingestion import llm, ocr
from ingestion.page_layout import cells, column_cuts, group_lines
from ingestion.processors.spreadsheet import (
    HEADER_SCAN_ROWS,
    Header,
    Table,
    find_header,
    match_header,
    process_tables,
    title_currency,
)
from ingestion.normalize import currency_from_header
from ingestion.processors.whatsapp_text import note_lines_not_offers
from ingestion.text_offers import extract_offers
from ingestion.types import IngestContext, Item, Notice, OfferCandidate, RowError
from offers.wording import counted

MIN_TEXT_CHARS = 20
MAX_NOISE_SHARE = 0.05
# % (tesseract's word confidence): below it on its price an offer is rejected, on another number flagged
LOW_CONFIDENCE = 60.0
UNREADABLE_BELOW = 40.0  # % median word confidence of a page: below it, OCR read noise
VISION_MAX_SIDE = 2048  # pixels: the long side of the image sent to GPT vision (it scales larger ones down)
_FORMATS = {"pdf": "PDF", "png": "PNG", "jpeg": "JPEG", "webp": "WebP", "tiff": "TIFF"}


def content_kind(head: bytes) -> str:
    """``"pdf"``, ``"png"``, ``"jpeg"``, ``"webp"``, ``"tiff"`` by a file's first bytes, else ``""``."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return ""


class DocumentLimit(ValueError):
    """A PDF or an image past a limit (``DOCUMENT_MAX_PAGES``, ``DOCUMENT_MAX_PIXELS``): the document
    fails with the message, which names the setting."""


class DocumentTextProcessor:
    """Reads PDFs and images; see the module docstring for the rules."""

    name = "document_text"
    extensions = (".pdf", ".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")

    def detect(self, path: Path, head: bytes) -> int:
        """95 for a PDF or an image by content; 30 for one named like it whose content is not."""
        if content_kind(head):
            return 95
        return 30 if Path(path).suffix.lower() in self.extensions else 0

    def process(self, path: Path, context: IngestContext) -> Iterator[Item]:
        """Yield the offers, errors and notices of a PDF or an image. Raises ``ValueError`` (the
        document fails with its message) for a file that is neither, a PDF that needs a password
        or cannot be parsed, or one past a limit."""
        path = Path(path)
        filename = context.filename or path.name
        with open(path, "rb") as handle:
            kind = content_kind(handle.read(1024))
        if not kind:
            raise ValueError(
                f"{filename} is not a PDF or an image PriceHub reads (PDF, PNG, JPEG, WebP, TIFF), whatever its name"
            )
        reader = _Reader(filename, context)
        if kind == "pdf":
            yield from reader.pdf(path)
        else:
            yield from reader.image_file(path, kind)
        yield from reader.closing_notes()


@dataclass
class _PageResult:
    items: list[Item]
    how: str  # "text layer", "OCR (tesseract)", ...


class _Reader:
    """One document's pages, in order; keeps the header a table may continue under."""

    def __init__(self, filename: str, context: IngestContext):
        self.filename = filename
        self.context = context
        self.stats = context.stats
        self.header: Header | None = None  # the last table's header, for a page that continues it
        self.cuts: list[float] = []  # the column positions of the last text page read as a table
        self.ocr_pages = 0
        self.vision_calls = 0  # pages sent to GPT vision, at most OPENAI_MAX_CALLS_PER_DOCUMENT
        self.vision_pages = 0  # pages whose offers came from GPT vision

    # ------------------------------------------------------------------ files

    def pdf(self, path: Path) -> Iterator[Item]:
        """A PDF's pages. pdfium (C) opens it first: it counts the pages before anything is
        parsed (``DOCUMENT_MAX_PAGES``), tells a password-protected file, and renders pages for OCR;
        pdfplumber reads the text layers."""
        import pdfplumber
        import pypdfium2 as pdfium

        try:
            rendering = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ValueError(f"{self.filename} is protected by a password: save it without one "
                                 "(print to PDF) and ingest that") from None
            raise ValueError(f"cannot read the PDF {self.filename}: it is damaged or not a PDF ({exc})") from None
        try:
            total = len(rendering)
            self._check_pages(total)
            if total == 0:
                raise ValueError(f"the PDF {self.filename} has no pages")
            self.stats["pages"] = total
            try:
                document = pdfplumber.open(path)
                pages = document.pages
            except Exception as exc:  # pdfminer raises many kinds on broken files
                cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
                raise ValueError(f"cannot read the PDF {self.filename}: {_reason(cause)}") from None
            with document:
                yield from self._pdf_pages(pages, rendering, total)
        finally:
            rendering.close()

    def _pdf_pages(self, pages, rendering, total: int) -> Iterator[Item]:
        for number, page in enumerate(pages, start=1):
            started = time.perf_counter()
            try:
                size = content_size(page, settings.DOCUMENT_MAX_PAGE_CONTENT_BYTES)
                if size > settings.DOCUMENT_MAX_PAGE_CONTENT_BYTES:
                    result = _PageResult([RowError(
                        f"page {number}", f"page {number} holds more than {settings.DOCUMENT_MAX_PAGE_CONTENT_BYTES:,} "
                        "bytes of drawing instructions (DOCUMENT_MAX_PAGE_CONTENT_BYTES); a price list page holds "
                        "a few thousand: not read")], "not read: too large")
                elif has_text_layer(page):
                    result = self._text_page(page, number)
                else:
                    result = self._image_page(self._render(rendering[number - 1], number), number)
            except (ocr.OcrUnavailable, DocumentLimit):
                raise
            except Exception as exc:  # one broken page: said, and the other pages still read
                result = _PageResult([RowError(f"page {number}", f"cannot read page {number}: {_reason(exc)}")],
                                     "unreadable")
            finally:
                page.close()
            yield from self._finish_page(result, number, total, started)

    def image_file(self, path: Path, kind: str) -> Iterator[Item]:
        try:
            image = Image.open(path)
            image.size  # noqa: B018 -- the header is read here
        except (OSError, Image.DecompressionBombError, ValueError) as exc:
            raise ValueError(f"cannot read the {_FORMATS[kind]} image {self.filename}: {_reason(exc)}") from None
        with image:
            frames = getattr(image, "n_frames", 1)
            self._check_pages(frames)
            self.stats["pages"] = frames
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                started = time.perf_counter()
                self._check_pixels(frame.width, frame.height, f"page {number}" if frames > 1 else "the image")
                try:
                    upright = ImageOps.exif_transpose(frame)  # any mode: OCR lays transparency on white
                    result = self._image_page(upright, number)
                except (ocr.OcrUnavailable, DocumentLimit):
                    raise
                except (OSError, ValueError) as exc:  # a truncated frame: said, and the other frames still read
                    result = _PageResult([RowError(f"page {number}", f"cannot read page {number}: {_reason(exc)}")],
                                         "unreadable")
                yield from self._finish_page(result, number, frames, started)

    def closing_notes(self) -> Iterator[Item]:
        skipped = self.stats.get("lines_not_offers", 0)
        if skipped:
            first = (self.stats.get("not_offers_sample") or [{}])[0]
            yield Notice("", f"{counted(skipped, 'line')} with digits gave no offer (stats.not_offers_sample lists "
                             f"some), the first: {first.get('ref', '')} {first.get('line', '')!r}: "
                             f"{first.get('reason', '')}")
        if self.ocr_pages:
            engine = "tesseract" + (f", and GPT vision on {counted(self.vision_pages, 'page')}"
                                    if self.vision_pages else "")
            yield Notice("", f"read by OCR ({engine}), having no text layer: {counted(self.ocr_pages, 'page')}; "
                             "their offers carry extra.read_by and extra.ocr_confidence")

    # ------------------------------------------------------------------ pages

    def _finish_page(self, result: _PageResult, number: int, total: int, started: float) -> Iterator[Item]:
        seconds = time.perf_counter() - started
        offers = sum(1 for item in result.items if isinstance(item, OfferCandidate))
        if self.context.report:
            self.context.report(
                f"page {number}/{total}: {result.how}, {counted(offers, 'candidate offer')}, {seconds:.1f} s")
        if self.context.progress:
            self.context.progress(number, total)
        yield from result.items

    def _text_page(self, page, number: int) -> _PageResult:
        """A page read from its text layer: ruled tables, else columns of words, else lines."""
        self.stats["pages_text"] += 1
        started = time.perf_counter()
        tables = [table for table in page.find_tables() if len(table.rows) >= 2]
        words = [ocr.Word(text, w["x0"], w["top"], w["x1"], w["bottom"]) for w in page.extract_words()
                 if (text := _printable(w["text"]))]
        items: list[Item] = []
        if tables:
            boxes = [table.bbox for table in tables]
            loose = [w for w in words if not any(_inside(w, box) for box in boxes)]
            for index, table in enumerate(tables, start=1):
                above = group_lines(w for w in loose if w.y1 <= table.bbox[1])  # a title may name the currency
                rows = _table_cells(table, words)
                label = f"page {number}, table {index}, row " if len(tables) > 1 else f"page {number}, row "
                found = self._table(rows, label, head=[[line.text] for line in above], where=f"page {number}")
                if found is None:  # a ruled box that is no price table: its text as lines
                    found = self._lines([" ".join(c for c in row if c) for row in rows], label.rstrip(),
                                        where=f"page {number}")
                items += found
            if loose:  # the text around the tables, its lines numbered among themselves
                items += self._lines([line.text for line in group_lines(loose)],
                                     f"page {number}, line outside tables", where=f"page {number}")
        else:
            lines = group_lines(words)
            items += self._layout(lines, number, read_by="")
        how = "text layer"
        self.stats["pdf_text_seconds"] = round(self.stats.get("pdf_text_seconds", 0) + time.perf_counter() - started, 3)
        return _PageResult(items, how)

    def _image_page(self, image: Image.Image, number: int) -> _PageResult:
        """A page read by OCR (and GPT vision when it is on)."""
        self.ocr_pages += 1
        self.stats["pages_ocr"] += 1
        page = ocr.read_page(image)
        self.stats["ocr_seconds"] = round(self.stats.get("ocr_seconds", 0) + page.seconds, 3)
        confidences = self.stats.get("ocr_page_confidence") or []
        self.stats["ocr_page_confidence"] = [*confidences, round(page.confidence, 1)]
        if abs(page.skew_degrees) >= 0.1:
            self.stats["ocr_pages_deskewed"] += 1
        if page.turned_degrees:
            self.stats["ocr_pages_turned"] += 1
        if not page.lines:
            self.stats["pages_blank"] += 1
            return _PageResult([Notice(f"page {number}", "blank: OCR found no text on it")], "blank")
        repaired = _repair_misreads(page.lines)
        if repaired:
            self.stats["ocr_words_repaired"] += repaired
        notices: list[Item] = []
        if llm.enabled() and self.vision_calls >= settings.OPENAI_MAX_CALLS_PER_DOCUMENT:
            notices = [Notice(f"page {number}", "read by offline OCR only: GPT vision was asked for "
                                                f"{settings.OPENAI_MAX_CALLS_PER_DOCUMENT} pages of this document "
                                                "already (OPENAI_MAX_CALLS_PER_DOCUMENT)")]
        elif llm.enabled():
            self.vision_calls += 1
            items, notices = self._vision(image, page, number)
            if items is not None and any(isinstance(item, OfferCandidate) for item in items):
                # Lines the model used none of, where the offline reading found an offer: kept, and said.
                used = {item.ref for item in items if isinstance(item, (OfferCandidate, RowError))}
                missed = [item for item in self._layout(page.lines, number, read_by="ocr")
                          if isinstance(item, OfferCandidate) and item.ref not in used]
                if missed:
                    notices.append(Notice(
                        f"page {number}", f"GPT vision listed no offer on {counted(len(missed), 'line')} where the "
                        "offline OCR reading found one; those are kept from the offline reading: "
                        + ", ".join(item.ref for item in missed[:10])))
                self.vision_pages += 1
                return _PageResult([*notices, *items, *missed], "GPT vision, checked against OCR")
            if items is not None:  # nothing the page's text supports: the offline reading, with the model's misses
                notices = [*notices, *[item for item in items if isinstance(item, RowError)],
                           Notice(f"page {number}", "GPT vision found no offer the page's text shows; "
                                                    "the offline OCR reading is used")]
        items = self._layout(page.lines, number, read_by="ocr")
        if page.confidence < UNREADABLE_BELOW:  # garbage read as text: nothing of it is an offer
            self.stats["ocr_pages_unreadable"] += 1
            items = [RowError(item.ref, f"OCR cannot read page {number} reliably (median word confidence "
                                        f"{page.confidence:.0f}%: a blurred, tiny or turned picture?); not stored",
                              "", item.description[:200] or item.price)
                     if isinstance(item, OfferCandidate) else item for item in items]
        return _PageResult([*notices, *items], f"OCR (tesseract, median word confidence {page.confidence:.0f}%)")

    def _vision(self, image: Image.Image, page: ocr.OcrPage, number: int) -> tuple[list[Item] | None, list[Item]]:
        """GPT vision's offers on one page, checked against its OCR lines, and the notices; ``None``
        for the offers when the call failed (the notices say why)."""
        lines = [llm.SourceLine(f"page {number}, line {index}", line.text)
                 for index, line in enumerate(page.lines, start=1)]
        found, notices = llm.normalize(lines, self.context, where=f"page {number}", image=_jpeg(image),
                                       image_mime="image/jpeg", hint="a photo or scan of a price list page")
        if found is not None:
            by_ref = {source.ref: line for source, line in zip(lines, page.lines)}
            found = _without_lost_decimals([_checked_ocr(item, by_ref.get(item.ref))
                                            if isinstance(item, OfferCandidate) else item for item in found])
        return found, list(notices)

    # ------------------------------------------------------------------ lines and tables

    def _layout(self, lines: list[ocr.Line], number: int, *, read_by: str) -> list[Item]:
        """Lines of one page (PDF words or OCR): a table when its words line up in columns under a
        header (or continue the last table's), else its lines through the text offer extractor."""
        label = f"page {number}, line "
        cuts = column_cuts(lines)
        items: list[Item] | None = None
        if cuts:
            rows = [cells(line, cuts) for line in lines]
            if read_by == "ocr":  # specks and rule remnants OCR reads as "|", ")", "'" are no cell text
                rows = [[_without_specks(cell) for cell in row] for row in rows]
            items = self._table(rows, label, where=f"page {number}")
        if items is None and read_by == "" and self.cuts and self.header is not None:
            # A text page continuing the last page's table in the same columns, one of them empty here
            # (a Note column): the last page's column positions (PDF points) split its lines.
            items = self._table([cells(line, self.cuts) for line in lines], label, where=f"page {number}")
        elif items is not None and read_by == "":
            self.cuts = cuts
        if items is None:
            items = self._lines([line.text for line in lines], label.rstrip(), where=f"page {number}")
        if read_by == "ocr":
            items = [_checked_ocr(item, _line_at(lines, item.ref)) if isinstance(item, OfferCandidate) else item
                     for item in items]
            items = _without_lost_decimals(items)
        return items

    def _table(self, rows: list[list[str]], label: str, *, where: str,
               head: list[list[str]] | None = None) -> list[Item] | None:
        """The offers of a table's rows under its header (found, or the last table's when the
        widths agree), through the spreadsheet column mapping; ``None`` without a header.

        A header naming a product and a price twice (``Model | Price | Model | Price``: two lists
        side by side) is two tables, read one after the other, the second's refs saying ``block 2``. Rows after
        the last one with a price (a page footer: the shop's name, its phone number, "page 1 of
        3") go through the text extractor, not as rows without a price."""
        lead = head or []  # the lines above a ruled table: a title may name the currency
        header, guessed = find_header(lead + rows[:HEADER_SCAN_ROWS]), ""
        if header is None:
            header, guessed = _product_column_guessed(lead, rows) or (None, "")
        notes: list[Item] = []
        if guessed:
            self.stats["headers_guessed"] += 1
            notes.append(Notice(where, f"the column {guessed!r} is taken for the products: no header word says so, "
                                       "but it holds the product names beside the prices"))
        if header is not None and header.row_index >= len(lead):
            header.row_index -= len(lead)
            fields = [match_header(cell) if isinstance(cell, str) else None for cell in header.cells]
            prices = [index for index, field in enumerate(fields) if field == "price"]
            if len(prices) > 1 and any(field in ("sku", "description") for field in fields[prices[0] + 1:prices[1]]):
                # side by side (a product column again after the first price): the left list ends at its price
                cut = prices[0] + 1
                self.stats["side_by_side_tables"] += 1
                left = self._table([row[:cut] for row in rows], label, where=where, head=head) or []
                right_label = re.sub(r", (line|row) $", r", block 2, \1 ", label)
                above = [[" ".join(cell for cell in row if cell)] for row in rows[:header.row_index]]
                right = self._table([row[cut:] for row in rows], right_label, where=where,
                                    head=(head or []) + above) or []  # a title over both names the currency
                return [*left, *right]
            if len(prices) > 1:  # "Model | USD | EUR": the first price column is read, the others said
                notes.append(Notice(where, "read the prices of column "
                                           f"{header.cells[header.columns['price']]!r} only; not read: "
                                           + ", ".join(repr(header.cells[index]) for index in prices
                                                       if index != header.columns["price"])))
        else:
            last = self.header
            if last is None or not rows or len(last.cells) != len(rows[0]):
                return None
            header = Header(-1, last.cells, last.columns, last.currency)
            self.stats["pages_continuing_a_table"] += 1
        self.header = header
        price_column = header.columns["price"]
        priced = [index for index, row in enumerate(rows)
                  if index > header.row_index and price_column < len(row) and row[price_column].strip()]
        end = priced[-1] + 1 if priced else len(rows)
        table = Table(name=where, head=rows[:end], rest=iter(()), ref_prefix=label,
                      row_number=lambda index: index + 1, header=header)
        items = [*notes, *process_tables([table], self.context)]
        footer = [" ".join(cell for cell in row if cell) for row in rows[end:]]
        if any(footer):
            self.stats["page_footer_lines"] += sum(1 for text in footer if text)
            items += self._lines(footer, f"{label.rstrip()} {end + 1}, footer line", where=where)
        return items

    def _lines(self, texts: list[str], label: str, *, where: str = "") -> list[Item]:
        """Offers of text lines through the text offer extractor, or the LLM pass: with
        ``prefer_llm``, or when the extractor found no offer in lines with digits and the pass is
        on. The pass's answer stands when it has an offer; else the extractor's, with the pass's
        notices and rejected rows. Lines with digits that gave no offer are counted with a sample
        (``stats.not_offers_sample``)."""
        text = "\n".join(texts)
        place = where or label
        notices: list[Item] = []
        if llm.wanted(self.context) and text.strip():
            found, notices = self._llm_lines(texts, label, place)
            if found is not None:
                return found
        rejected: list[tuple[str, str, str]] = []
        offers: list[Item] = list(extract_offers(text, first_line=1, ref_prefix=label, rejected=rejected))
        if not offers and rejected and not notices and llm.enabled():  # the rules found nothing: ask
            found, notices = self._llm_lines(texts, label, place)
            if found is not None:
                return found
        if rejected:
            note_lines_not_offers(self.stats, rejected)
        return [*notices, *offers]

    def _llm_lines(self, texts: list[str], label: str, where: str) -> tuple[list[Item] | None, list[Item]]:
        """The LLM pass over text lines: (its notices and items, when it gave an offer; else None,
        and the notices and rejected rows to keep beside the extractor's offers)."""
        lines = [llm.SourceLine(f"{label} {index}", line) for index, line in enumerate(texts, start=1)]
        found, notices = llm.normalize(lines, self.context, where=where)
        if found is None:
            return None, list(notices)
        if any(isinstance(item, OfferCandidate) for item in found):
            return [*notices, *found], []
        return None, [*notices, *found, Notice(where, "the LLM pass gave no offer the text shows; the text "
                                                      "offer extractor read it")]

    # ------------------------------------------------------------------ limits

    def _check_pages(self, count: int) -> None:
        limit = settings.DOCUMENT_MAX_PAGES
        if count > limit:
            raise DocumentLimit(f"{self.filename} has {count:,} pages; PriceHub reads at most {limit:,} "
                             "(DOCUMENT_MAX_PAGES): split it, or raise the limit")

    def _check_pixels(self, width: int, height: int, what: str) -> None:
        limit = settings.DOCUMENT_MAX_PIXELS
        if width * height > limit:
            raise DocumentLimit(f"{what} of {self.filename} is {width:,} x {height:,} pixels; PriceHub reads at most "
                             f"{limit:,} pixels (DOCUMENT_MAX_PIXELS): scale it down, or raise the limit")

    def _render(self, page, number: int) -> Image.Image:
        """A pdfium page as a grey image for OCR, at ``DOCUMENT_OCR_DPI`` or less (so that it stays
        within ``DOCUMENT_MAX_PIXELS``)."""
        dpi = settings.DOCUMENT_OCR_DPI
        width, height = page.get_size()  # points
        area = max(1.0, width * height) / (72 * 72)  # square inches
        if area * dpi * dpi > settings.DOCUMENT_MAX_PIXELS:
            dpi = int((settings.DOCUMENT_MAX_PIXELS / area) ** 0.5)
            self.stats["pages_rendered_below_dpi"] += 1
        return page.render(scale=max(dpi, 36) / 72, grayscale=True).to_pil()


def content_size(page, limit: int) -> int:
    """The decoded size (bytes) of a pdfplumber page's content streams, counted up to ``limit + 1``
    without decoding more: a few kilobytes that inflate to gigabytes of drawing instructions
    would hold pdfminer for hours. Flate streams are inflated in a bounded buffer; other
    filters count their encoded length."""
    import zlib

    from pdfminer.pdftypes import LITERALS_FLATE_DECODE, PDFStream, resolve1

    total = 0
    for reference in page.page_obj.contents:
        stream = resolve1(reference)
        if not isinstance(stream, PDFStream):
            continue
        if stream.rawdata is None:  # decoded already
            total += len(stream.data or b"")
        else:
            filters = stream.get_filters()
            if filters and filters[0][0] in LITERALS_FLATE_DECODE:
                inflater = zlib.decompressobj()
                try:
                    total += len(inflater.decompress(stream.rawdata, limit + 1 - total))
                except zlib.error:
                    total += len(stream.rawdata)  # pdfminer says what is wrong when it reads it
            else:
                total += len(stream.rawdata)
        if total > limit:
            return total
    return total


def _product_column_guessed(lead: list[list[str]], rows: list[list[str]]) -> tuple[Header, str] | None:
    """A header for a table whose product column has no header word (``Phones | Qty | USD``,
    ``Accessory | EAN | Pack | Price EUR``): the first row (of the first ``HEADER_SCAN_ROWS``)
    naming a price column and no SKU or description column, its product column the unnamed one
    whose cells below hold the most letters: ``(header, the header text taken)``, or ``None``."""
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        fields = [match_header(cell) if cell else None for cell in row]
        if "price" not in fields or "sku" in fields or "description" in fields:
            continue
        below = rows[index + 1:index + 11]
        letters = {column: sum(sum(ch.isalpha() for ch in other[column]) for other in below if column < len(other))
                   for column, cell in enumerate(row) if cell and fields[column] is None}
        if not letters or max(letters.values()) < 3 * max(1, len(below)):
            continue
        product = max(letters, key=letters.__getitem__)
        columns = {field: column for column, field in reversed(list(enumerate(fields))) if field}
        columns["description"] = product
        currency = currency_from_header(row[columns["price"]]) or title_currency(lead + rows[:index])
        return Header(len(lead) + index, row, columns, currency), row[product]
    return None


def has_text_layer(page) -> bool:
    """Whether a pdfplumber page has text to read rather than OCR: ``MIN_TEXT_CHARS`` characters
    that are not blank, less than ``MAX_NOISE_SHARE`` of them unmapped glyphs (``(cid:NN)``,
    U+FFFD). A text layer of blanks, or of glyphs without Unicode, is no text."""
    real = noise = 0
    for char in page.chars:
        text = char.get("text", "")
        if text.startswith("(cid:") or "\ufffd" in text:
            noise += 1
        elif text.strip():
            real += 1
    return real >= MIN_TEXT_CHARS and noise <= MAX_NOISE_SHARE * (real + noise)


def _checked_ocr(candidate: OfferCandidate, line: ocr.Line | None) -> OfferCandidate | RowError:
    """An offer read by OCR, marked so (``extra.read_by``, and ``extra.ocr_confidence``: the lowest
    confidence of its line's numbers, words of digits without letters). Below ``LOW_CONFIDENCE`` on
    its price it is a ``RowError`` (a misread decimal point makes a price a hundred times too
    high); below it on another number (a quantity) it is flagged (``extra.ocr_low_confidence``:
    the document is partial, with a warning naming it)."""
    candidate.extra.setdefault("read_by", "ocr")
    if line is None:
        return candidate
    numbers = [word for word in line.words  # prices, quantities: not model names such as "Flip6"
               if any(ch.isdigit() for ch in word.text) and not any(ch.isalpha() for ch in word.text)]
    if not numbers:
        return candidate
    lowest = min(word.confidence for word in numbers)
    candidate.extra["ocr_confidence"] = lowest
    price_words = [word for word in numbers if word.text in candidate.price or candidate.price in word.text]
    price_confidence = min((word.confidence for word in price_words), default=100.0)
    if price_confidence < LOW_CONFIDENCE:
        return RowError(candidate.ref, f"OCR is unsure of the price {candidate.price!r} (confidence "
                                       f"{price_confidence:.0f}%): check it against the page", "price",
                        candidate.price)
    if lowest < LOW_CONFIDENCE:
        candidate.extra["ocr_low_confidence"] = lowest
    return candidate


_S_READ_AS_DOLLAR = re.compile(r"\$(?=\d{1,2}(?:[A-Za-z+]*)$)")


def _repair_misreads(lines: list[ocr.Line]) -> int:
    """Undo OCR's S read as $ in a Galaxy model (``Galaxy $23 FE`` -> ``Galaxy S23 FE``), which the
    text extractor would take for a price of $23; returns how many words were repaired."""
    repaired = 0
    for line in lines:
        for before, word in zip(line.words, line.words[1:]):
            if before.text.casefold() == "galaxy" and _S_READ_AS_DOLLAR.match(word.text):
                word.text = "S" + word.text[1:]
                repaired += 1
    return repaired


_CENTS = re.compile(r"\d\s?[.,]\s?\d{2}$")
_BARE_NUMBER = re.compile(r"\d{4,}")
_AMOUNT = re.compile(r"\d(?:[\d.,\s]*\d)?")


def _without_lost_decimals(items: list[Item]) -> list[Item]:
    """OCR's offers of one page, where a price that lost its decimal point is a ``RowError``: when
    two thirds of the page's prices (three or more; the rejected ones counted) end in cents
    (``330.49``), a price of bare digits (``33049``) is one OCR read without its point, a hundred
    times too high."""
    prices = [_amount_text(item.price) for item in items if isinstance(item, OfferCandidate)]
    prices += [_amount_text(item.value) for item in items if isinstance(item, RowError) and item.field == "price"]
    with_cents = sum(1 for price in prices if _CENTS.search(price))
    if with_cents < 3 or with_cents < 2 / 3 * len(prices):
        return items
    return [
        RowError(item.ref, f"OCR read the price {item.price!r} without the decimal point the page's other prices "
                           "have: check it against the page", "price", item.price)
        if isinstance(item, OfferCandidate) and _BARE_NUMBER.fullmatch(_amount_text(item.price)) else item
        for item in items
    ]


def _amount_text(price: str) -> str:
    """The number of a price as written, its currency left out (``"57900 €"`` -> ``"57900"``,
    ``"$1,045.00"`` -> ``"1,045.00"``)."""
    found = _AMOUNT.search(price)
    return found.group() if found else ""


_LINE_NUMBER = re.compile(r"line (\d+)$")


def _line_at(lines: list[ocr.Line], ref: str) -> ocr.Line | None:
    """The OCR line a ref names (``"page 2, line 7"``, ``"page 2, block 2, line 7"`` -> ``lines[6]``)."""
    found = _LINE_NUMBER.search(ref)
    index = int(found.group(1)) - 1 if found else -1
    return lines[index] if 0 <= index < len(lines) else None


_SPACED_POINT = re.compile(r"(?<=\d) ?([.,]) ?(?=\d{2}\b)")


def _printable(text: str) -> str:
    """A PDF word without control characters (a glyph without a Unicode map can come out as NUL)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def _without_specks(text: str) -> str:
    """An OCR cell without its words of punctuation only (``"1446.00 )"`` -> ``"1446.00"``; a
    currency symbol stands) and, in a cell of numbers, without a space OCR put beside a decimal
    point (``"586 .49"`` -> ``"586.49"``)."""
    kept = " ".join(word for word in text.split()
                    if any(ch.isalnum() or unicodedata.category(ch) == "Sc" for ch in word))
    return kept if any(ch.isalpha() for ch in kept) else _SPACED_POINT.sub(r"\1", kept)


def _inside(word: ocr.Word, box: tuple[float, float, float, float]) -> bool:
    middle_x, middle_y = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
    return box[0] <= middle_x <= box[2] and box[1] <= middle_y <= box[3]


def _table_cells(table, words: list[ocr.Word]) -> list[list[str]]:
    """A pdfplumber table's rows as the text of each cell: the page's words placed by their middle
    (four times faster than ``table.extract()``, which filters the page's characters per cell)."""
    rows = [[box for box in row.cells] for row in table.rows]
    tops = [min(box[1] for box in row if box) for row in rows]
    texts: list[list[list[str]]] = [[[] for _ in row] for row in rows]
    for word in words:
        middle_x, middle_y = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
        index = bisect.bisect_right(tops, middle_y) - 1
        if index < 0:
            continue
        for column, box in enumerate(rows[index]):
            if box and box[0] <= middle_x <= box[2] and box[1] <= middle_y <= box[3]:
                texts[index][column].append(word.text)
                break
    return [[" ".join(parts) for parts in row] for row in texts]


def _jpeg(image: Image.Image) -> bytes:
    """The image as a JPEG of at most ``VISION_MAX_SIDE`` pixels on its long side (for GPT vision)."""
    rgba = image.convert("RGBA")  # transparency laid on white, as OCR reads it
    copy = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    copy.thumbnail((VISION_MAX_SIDE, VISION_MAX_SIDE))
    buffer = io.BytesIO()
    copy.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


processor = DocumentTextProcessor()
