"""What processors yield, and the context they run in.

A processor reads bytes and yields ``OfferCandidate`` (raw text fields, as found
in the source) and ``RowError`` (a row or line it could not use, with the
reason). It never touches the database; the ingest service normalizes,
matches and persists. Counters a processor wants in the document's stats go
into ``context.stats``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol


@dataclass(slots=True)
class OfferCandidate:
    """One offer as found in the source, before normalization.

    ``ref`` points back into the source: ``"Pricing!12"`` (sheet and 1-based
    row), ``"line 34"`` (1-based line of a text file).
    """

    ref: str
    sku: str = ""
    description: str = ""
    price: str = ""
    currency: str = ""
    quantity: str = ""
    condition: str = ""
    observed_at: datetime | None = None
    sender: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self):
        # Pickled as its field values (the ingest's reader process sends
        # candidates by the 100,000): several times faster to load.
        return OfferCandidate, (
            self.ref, self.sku, self.description, self.price, self.currency, self.quantity, self.condition,
            self.observed_at, self.sender, self.extra,
        )


@dataclass(slots=True)
class RowError:
    """A row or line that was rejected, and why; recorded in ``extra.errors``.

    With ``skipped`` set (``"hidden"``, ``"filtered"``, ``"sold_out"``), the row is not an
    error but is not an offer either (a row the vendor hid, a sold-out line): it is recorded
    with its reason in ``extra.skipped`` and counted in ``stats["rows_<skipped>"]``.
    """

    ref: str
    message: str
    field: str = ""
    value: str = ""
    skipped: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "field": self.field, "message": self.message, "value": self.value}


@dataclass(slots=True)
class IngestContext:
    """Options and counters shared by one run of a processor.

    ``options`` holds the ``--option KEY=VALUE`` pairs as strings (``prefer_llm``,
    ``day_first``, ``timezone`` ...). ``progress(done, total)`` may be called by
    long-running processors; ``total`` may be ``None`` when unknown. ``report(line)``, when
    set, takes one line of progress in words (the ``document_text`` processor's line per page);
    processors may call it from the reader process.
    """

    filename: str = ""
    options: dict[str, str] = field(default_factory=dict)
    currency: str = ""
    timezone: tzinfo | None = None
    stats: Counter = field(default_factory=Counter)
    progress: Callable[[int, int | None], None] | None = None
    report: Callable[[str], None] | None = None

    def option_bool(self, name: str, default: bool | None = None) -> bool | None:
        """Read a boolean option strictly; a bad value is a ``ValueError`` naming it."""
        raw = self.options.get(name)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"option {name}={raw!r} is not a boolean (use true or false)")


@dataclass(slots=True)
class Notice:
    """Something an operator should know about how a source was read that is neither an offer
    nor a rejected row: ``prefer_llm`` ignored (``ENABLE_OPENAI`` is off), a model call that
    failed so the heuristics ran instead, a page read by OCR. Recorded in ``extra.notes``;
    it does not change the document's status. ``ref`` names the part it is about (``"page 3"``,
    the file name) and ``message`` says what happened, in plain words."""

    ref: str
    message: str

    def text(self) -> str:
        """``"page 3: read by OCR ..."``; the message alone when ``ref`` is empty."""
        return f"{self.ref}: {self.message}" if self.ref else self.message


Item = OfferCandidate | RowError | Notice


class Processor(Protocol):
    """A processor: ``name``, ``detect`` and ``process``."""

    name: str

    def detect(self, path: Path, head: bytes) -> int:
        """How sure (0-100) this processor is that it reads this file."""

    def process(self, path: Path, context: IngestContext) -> Iterator[Item]:
        """Yield candidates and errors from the file."""
