"""The processor registry: find a processor by name, or detect one from a file;
the options each processor takes, declared once (``OPTIONS``) and checked by
``validate_options`` for the CLI, the admin forms and schedules alike.

A processor module exposes a module-level ``processor`` object (see
``ingestion.types.Processor``). Modules are imported on first use.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path, PurePath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestion.types import Processor

MODULES = {
    "spreadsheet": "ingestion.processors.spreadsheet",
    "whatsapp_text": "ingestion.processors.whatsapp_text",
    "telegram": "ingestion.processors.telegram",
    "document_text": "ingestion.processors.document_text",
}
HEAD_BYTES = 64 * 1024


class UnknownProcessor(ValueError):
    """No processor by that name, or none that reads the file; the message is for the user."""


def names() -> list[str]:
    return list(MODULES)


def get(name: str) -> Processor:
    try:
        module = MODULES[name]
    except KeyError:
        raise UnknownProcessor(f"unknown processor {name!r}; choose one of {', '.join(MODULES)}") from None
    return import_module(module).processor


def detect(path: Path, filename: str = "") -> Processor:
    """The processor most confident it reads this file, by content and extension.

    ``filename`` is the name the user knows the file by (a stored copy's own
    name is PriceHub's, never shown); the ``UnknownProcessor`` message uses it.
    """
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    name = detect_name(path, head)
    if not name:
        raise UnknownProcessor(not_supported_message(filename))
    return get(name)


def detect_name(path: str | PurePath, head: bytes, among: list[str] | None = None) -> str:
    """The name of the processor (of ``among``, default all) most sure it reads a file whose
    name is ``path`` and whose first bytes are ``head``; ``""`` when none does."""
    scored = [(get(name).detect(Path(path), head), name) for name in (among or list(MODULES))]
    score, name = max(scored)
    return name if score > 0 else ""


def supported_files() -> str:
    """What PriceHub reads, for messages: ``"spreadsheet (.xlsx, .csv ...), whatsapp_text (.txt)"``."""
    kinds = []
    for name in MODULES:
        extensions = getattr(get(name), "extensions", ())
        kinds.append(f"{name} ({', '.join(extensions)})" if extensions else name)
    return ", ".join(kinds)


def not_supported_message(filename: str = "") -> str:
    """Why a file was refused when no processor reads it, naming the file as the user knows it."""
    label = filename or "this"
    return f"cannot tell what kind of file {label} is; PriceHub reads {supported_files()}"


# --------------------------------------------------------------------------- options


class InvalidOption(ValueError):
    """An option a processor does not take, or a value it cannot use; the message names the
    known options (or the values allowed)."""


def _boolean(raw: str) -> str:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return "true"
    if lowered in {"0", "false", "no", "off"}:
        return "false"
    raise ValueError("is not a boolean (use true or false)")


def _time_zone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("is not a known IANA time zone (Area/City, e.g. Europe/Berlin)") from None
    return raw


def _encoding(raw: str) -> str:
    try:
        info = codecs.lookup(raw)
    except LookupError:
        raise ValueError("is not a known text encoding (e.g. utf-8, cp1252, latin-1, utf-16)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError("is not a text encoding (e.g. utf-8, cp1252, latin-1, utf-16)")
    return raw


def _delimiter(raw: str) -> str:
    if raw in ("tab", "\\t") or len(raw) == 1:
        return raw
    raise ValueError("is not one character (or tab)")


@dataclass(frozen=True)
class Option:
    """One option a processor takes: its name, the kind of value (for help texts), what it
    does, and ``clean(raw) -> str`` (the value as stored; ``ValueError`` saying what is wrong)."""

    name: str
    kind: str
    help: str
    clean: Callable[[str], str]

    def describe(self) -> str:
        """``"day_first=true|false: ..."`` for help texts."""
        return f"{self.name}={self.kind}: {self.help}"


PREFER_LLM = Option("prefer_llm", "true|false", "the playbook's flag asking for the LLM normalization pass "
                    "(ENABLE_OPENAI=true); recorded on the document", _boolean)
CHAT_OPTIONS = (
    Option("day_first", "true|false", "read dates as day/month (true) or month/day (false) when the "
                                      "export alone cannot tell", _boolean),
    Option("timezone", "Area/City", "the time zone of the chat's timestamps (default TIME_ZONE)", _time_zone),
)
# Every option of every processor, declared here once. A processor not listed takes COMMON_OPTIONS only.
COMMON_OPTIONS = (PREFER_LLM,)
OPTIONS: dict[str, tuple[Option, ...]] = {
    "spreadsheet": (
        Option("encoding", "NAME", "the CSV's text encoding, when detection guesses wrong (utf-8, cp1252 ...)",
               _encoding),
        Option("delimiter", "CHAR", "the CSV's field separator (one character, or tab), when sniffing fails",
               _delimiter),
    ),
    "whatsapp_text": CHAT_OPTIONS,
    "telegram": CHAT_OPTIONS,
}


def options_for(name: str) -> tuple[Option, ...]:
    """The options processor ``name`` takes (``UnknownProcessor`` for an unknown name)."""
    get(name)
    return OPTIONS.get(name, ()) + COMMON_OPTIONS


def validate_options(name: str, options: dict[str, str]) -> dict[str, str]:
    """The options checked for processor ``name`` and cleaned (``true``/``false`` for booleans,
    blanks dropped). Raises ``InvalidOption`` (a ``ValueError``) for an unknown key, naming the
    known ones, or for a bad value, saying what is allowed; ``UnknownProcessor`` for a bad name."""
    known = {option.name: option for option in options_for(name)}
    cleaned = {}
    for key, raw in options.items():
        key, value = str(key).strip(), str(raw).strip()
        option = known.get(key)
        if option is None:
            raise InvalidOption(
                f"unknown option {key!r} for the {name} processor; known options: "
                + "; ".join(o.describe() for o in known.values())
            )
        if not value:
            continue
        try:
            cleaned[key] = option.clean(value)
        except ValueError as exc:
            raise InvalidOption(f"option {key}={value!r} {exc}") from None
    return cleaned


def describe_options() -> str:
    """Every processor's options in one line, for ``--help``."""
    parts = [f"{name}: {', '.join(o.name for o in OPTIONS.get(name, ())) or '-'}" for name in MODULES]
    parts.append(f"any: {', '.join(o.name for o in COMMON_OPTIONS)}")
    return "; ".join(parts)
