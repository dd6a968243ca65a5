"""Lines and columns from the positions of words on a page (a PDF's text layer, or OCR).

A price list printed without rules still lines its columns up: the x ranges
that almost no line's words cover are the gaps between columns. The same
rules serve a PDF's words (pdfplumber) and OCR's (``ingestion.ocr``), so a
scanned list and its born-digital original are read alike:

- ``group_lines(words)``: words into lines, by the overlap of their vertical
  extents (a word joins the line whose middle lies within half a word's
  height of its own), each line sorted left to right.
- ``column_cuts(lines)``: the x positions between columns: the middles of
  the gaps that at most a tenth of the lines (at least one) cross, at least
  ``MIN_GAP_HEIGHTS`` of the median word height wide, between the leftmost
  and the rightmost word. Lines that are one phrase (no gap that wide between
  their words: a title, a footer) do not count when three others do. ``[]``
  when fewer than ``MIN_TABLE_LINES`` lines have two words or more (not a
  table).
- ``cells(line, cuts)``: a line's words split into one text per column, by
  the middle of each word.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

import numpy as np

from ingestion.ocr import Line, Word

MIN_GAP_HEIGHTS = 0.8  # a gap between columns is at least this many word heights wide (a space is ~0.3)
MAX_CROSSING_SHARE = 0.1  # lines (titles, notes) that may cross a gap between columns
MIN_TABLE_LINES = 3


def group_lines(words: Iterable[Word]) -> list[Line]:
    """``words`` (any order) as lines, top to bottom, each left to right."""
    lines: list[tuple[float, float, list[Word]]] = []  # (middle, height, words)
    for word in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        middle, height = (word.y0 + word.y1) / 2, max(1, word.y1 - word.y0)
        if lines and abs(lines[-1][0] - middle) < 0.5 * max(height, lines[-1][1]):
            lines[-1][2].append(word)
            continue
        lines.append((middle, height, [word]))
    return [Line(sorted(group, key=lambda w: w.x0)) for _, _, group in lines]


def column_cuts(lines: Sequence[Line]) -> list[float]:
    """The x positions between the columns of ``lines`` (see the module docstring); ``[]``: no columns."""
    wide = [line for line in lines if len(line.words) >= 2]
    if len(wide) < MIN_TABLE_LINES:
        return []
    words = [word for line in lines for word in line.words]
    left, right = min(w.x0 for w in words), max(w.x1 for w in words)
    if right - left < 2:
        return []
    height = statistics.median(max(1, w.y1 - w.y0) for w in words)
    gap = MIN_GAP_HEIGHTS * height
    # A line whose words are all a word space apart (a title, a footer, a note) is one phrase, no
    # row of cells: it does not vote on the columns, so it cannot hide a gap under a short table.
    rows = [line for line in wide if any(b.x0 - a.x1 >= gap for a, b in zip(line.words, line.words[1:]))]
    if len(rows) >= MIN_TABLE_LINES:
        lines = rows
    coverage = np.zeros(int(right - left) + 2, dtype=np.int32)
    for line in lines:
        covered = np.zeros_like(coverage, dtype=bool)
        for word in line.words:
            covered[int(word.x0 - left):int(word.x1 - left) + 1] = True
        coverage += covered
    allowed = max(1, int(len(lines) * MAX_CROSSING_SHARE))  # a title crosses, even over a short table
    free = coverage <= allowed
    cuts = []
    start = None
    for x, is_free in enumerate(free):
        if is_free and start is None:
            start = x
        elif not is_free and start is not None:
            if start > 0 and x - start >= gap:
                cuts.append(left + (start + x) / 2)
            start = None
    return cuts


def cells(line: Line, cuts: Sequence[float]) -> list[str]:
    """The text of ``line`` in each of the ``len(cuts) + 1`` columns (``""`` where it has none)."""
    texts: list[list[str]] = [[] for _ in range(len(cuts) + 1)]
    for word in line.words:
        middle = (word.x0 + word.x1) / 2
        column = sum(1 for cut in cuts if middle > cut)
        texts[column].append(word.text)
    return [" ".join(parts) for parts in texts]
