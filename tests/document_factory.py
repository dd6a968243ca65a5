"""Price lists as PDFs and images, made on the spot for the document_text tests and
``bench/documents.py``: a ruled or unruled table PDF (reportlab), the same pages as a scan
(rendered by pdfium) and as phone photos (rotated a few degrees, blurred, lit unevenly, saved
as JPEG), a multi-page TIFF, a password-protected PDF and a broken one.

Every list is ``rows(n, seed)``: ``(sku, model, qty, price)`` tuples of text, the price with two
decimals in US dollars (the title line says "all prices USD").
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageFilter

BRANDS = (
    ("iPhone", ("15", "15 Pro", "15 Pro Max", "16", "16 Pro", "14 Plus", "13 mini")),
    ("Galaxy", ("S24", "S24 Ultra", "A55", "Z Flip6", "S23 FE", "A15")),
    ("Pixel", ("8", "8 Pro", "8a", "9 Pro XL")),
    ("Xiaomi", ("14", "14T Pro", "Redmi Note 13", "Poco X6")),
    ("OnePlus", ("12", "12R", "Nord 4")),
)
COLOURS = ("Black", "Blue", "Silver", "Green", "Titanium", "Pink")
HEADER = ("SKU", "Model", "Qty", "Price")
TITLE = "Price list - all prices USD"
ROWS_PER_PAGE = 40


def rows(count: int, seed: int = 1) -> list[tuple[str, str, str, str]]:
    """``count`` offers ``(sku, model, qty, price)``, the same for the same seed."""
    draw = random.Random(seed)
    made = []
    for index in range(count):
        brand, models = draw.choice(BRANDS)
        model = f"{brand} {draw.choice(models)} {draw.choice((64, 128, 256, 512))}GB {draw.choice(COLOURS)}"
        price = f"{draw.randint(89, 1899)}.{draw.choice(('00', '50', '99', '49'))}"
        made.append((f"SKU-{10000 + index}", model, str(draw.randint(1, 250)), price))
    return made


def table_pdf(data, *, ruled: bool = True, per_page: int = ROWS_PER_PAGE, password: str = "",
              repeat_header: bool = True, footer: str = "") -> bytes:
    """The rows as an A4 price list, ``per_page`` rows a page under a title and the header
    (repeated on each page unless ``repeat_header`` is false); with ``ruled`` a full grid, else
    columns aligned by white space only (numbers right-aligned). ``password``: encrypted,
    needing it to open. ``footer``: a line under each page's table (``{page}`` is its number)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    encrypt = None
    if password:
        from reportlab.lib.pdfencrypt import StandardEncryption

        encrypt = StandardEncryption(password, canPrint=0)
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt)
    width, height = A4
    edges = (40, 120, 380, 440, 555)
    for start in range(0, len(data), per_page):
        top = y = height - 60
        headed = start == 0 or repeat_header
        if headed:
            pdf.setFont("Helvetica-Bold", 10)
            pdf.drawString(40, height - 40, TITLE)
        for index, row in enumerate(((HEADER,) if headed else ()) + tuple(data[start:start + per_page])):
            pdf.setFont("Helvetica-Bold" if headed and index == 0 else "Helvetica", 9)
            for column, text in enumerate(row):
                if column >= 2:
                    pdf.drawRightString(edges[column + 1] - 4, y - 12, text)
                else:
                    pdf.drawString(edges[column] + 4, y - 12, text)
            if ruled:
                pdf.line(edges[0], y, edges[-1], y)
            y -= 17
        if ruled:
            pdf.line(edges[0], y, edges[-1], y)
            for x in edges:
                pdf.line(x, top, x, y)
        if footer:
            pdf.setFont("Helvetica", 8)
            pdf.drawString(44, y - 30, footer.format(page=start // per_page + 1))
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def text_pdf(lines: list[str]) -> bytes:
    """Free text lines (no table) on one A4 page, as a WhatsApp-style offer list printed to PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    y = A4[1] - 50
    pdf.setFont("Helvetica", 11)
    for line in lines:
        pdf.drawString(50, y, line)
        y -= 18
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def render(pdf_bytes: bytes, dpi: int = 300) -> list[Image.Image]:
    """The PDF's pages as grey images at ``dpi`` (a clean scan)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf_bytes)
    try:
        return [page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for page in document]
    finally:
        document.close()


def photo(page: Image.Image, *, seed: int = 0, angle: float = 2.5, quality: int = 60) -> Image.Image:
    """A phone photo of a page: turned by ``angle`` degrees on a grey desk, blurred, lit from one
    corner (the far side about a third darker), saved as JPEG at ``quality``."""
    draw = random.Random(seed)
    turned = page.convert("L").rotate(angle + draw.uniform(-0.3, 0.3), resample=Image.Resampling.BICUBIC,
                                      expand=True, fillcolor=235)
    blurred = turned.filter(ImageFilter.GaussianBlur(1.0))
    light = Image.linear_gradient("L").resize(blurred.size).rotate(30 + draw.uniform(-10, 10))
    lit = ImageChops.multiply(blurred, light.point(lambda value: 255 - value * 0.35))
    return Image.open(io.BytesIO(jpeg(lit, quality=quality)))


def jpeg(image: Image.Image, *, quality: int = 60) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def scanned_pdf(pages: list[Image.Image], dpi: int = 200) -> bytes:
    """Page images as an image-only PDF (what a scanner makes): no text layer."""
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return buffer.getvalue()


def tiff(pages: list[Image.Image]) -> bytes:
    """Page images as one multi-page TIFF."""
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def bomb_pdf(inflated_bytes: int, offer_line: str = "iPhone 15 128GB Black $699") -> bytes:
    """A two-page PDF: page 1's content stream inflates from a few kilobytes to ``inflated_bytes``
    of drawing instructions (a compression bomb), page 2 shows ``offer_line`` in Helvetica."""
    import zlib

    bomb = zlib.compress(b"0 0 m\n" * (inflated_bytes // 6), 9)
    text = f"BT /F1 11 Tf 50 780 Td ({offer_line}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R "
        b"/Resources << /Font << /F1 7 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def side_by_side_pdf(left, right) -> bytes:
    """Two lists ``(model, price)`` side by side on one page under one header line
    ``Model  Price  Model  Price``, columns lined up by white space (no rules)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    y = A4[1] - 60
    pdf.setFont("Helvetica-Bold", 10)
    pdf.drawString(40, A4[1] - 40, TITLE)
    for index, row in enumerate((("Model", "Price", "Model", "Price"),
                                 *[(*a, *b) for a, b in zip(left, right)])):
        pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", 9)
        pdf.drawString(44, y, row[0])
        pdf.drawRightString(250, y, row[1])
        pdf.drawString(320, y, row[2])
        pdf.drawRightString(540, y, row[3])
        y -= 17
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def ruled_tables_pdf(tables, title: str = "") -> bytes:
    """Ruled tables one above the other on one A4 page; ``tables`` is a list of ``(header, rows)``,
    each row a tuple of cell texts, columns 130 points wide from x=40."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    y = A4[1] - 50
    if title:
        pdf.setFont("Helvetica-Bold", 10)
        pdf.drawString(40, y, title)
        y -= 30
    for header, body in tables:
        top = y
        width = 130 * len(header)
        for index, row in enumerate((header, *body)):
            pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", 9)
            for column, text in enumerate(row):
                pdf.drawString(44 + 130 * column, y - 12, text)
            pdf.line(40, y, 40 + width, y)
            y -= 17
        pdf.line(40, y, 40 + width, y)
        for column in range(len(header) + 1):
            pdf.line(40 + 130 * column, top, 40 + 130 * column, y)
        y -= 40
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
