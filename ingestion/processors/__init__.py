"""The processor registry: find a processor by name, or detect one from a file.

A processor module exposes a module-level ``processor`` object (see
``ingestion.types.Processor``). Modules are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from ingestion.types import Processor

MODULES = {
    "spreadsheet": "ingestion.processors.spreadsheet",
    "whatsapp_text": "ingestion.processors.whatsapp_text",
    "telegram": "ingestion.processors.telegram",
}
HEAD_BYTES = 64 * 1024


class UnknownProcessor(ValueError):
    pass


def names() -> list[str]:
    return list(MODULES)


def get(name: str) -> Processor:
    try:
        module = MODULES[name]
    except KeyError:
        raise UnknownProcessor(f"unknown processor {name!r}; choose one of {', '.join(MODULES)}") from None
    return import_module(module).processor


def detect(path: Path) -> Processor:
    """The processor most confident it reads this file, by content and extension."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    scored = sorted(((get(name).detect(path, head), name) for name in MODULES), reverse=True)
    score, name = scored[0]
    if score <= 0:
        raise UnknownProcessor(
            f"cannot tell what kind of file {path.name} is; pass --processor ({', '.join(MODULES)})"
        )
    return get(name)
