"""What an ingest request names, checked before anything is stored.

``files_to_ingest`` turns the paths a user gives (files and folders) into the
files to ingest, in order, and the ones left out with the reason;
``refusal`` says why a file cannot be ingested at all (empty, or no processor
reads it). Both read only the first bytes of each file; neither touches the
database or storage, so a refused file leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingestion import processors


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One entry of a request: ``given`` is the path as the user wrote it (a file found in a
    folder is the folder as given joined with its name). ``skipped`` says why a file found in
    a folder is left out (not an error); ``refused`` why a path given cannot be ingested."""

    given: str
    path: Path
    skipped: str = ""
    refused: str = ""

    @property
    def to_ingest(self) -> bool:
        return not (self.skipped or self.refused)


def refusal(head: bytes, filename: str, processor: str = "") -> str:
    """Why a file whose first bytes (``processors.HEAD_BYTES`` of them) are ``head`` cannot be
    ingested, or ``""``: it is empty (or blank), or no processor reads it. With ``processor``
    given, the user has chosen, unless that processor does not read the file and another does
    (``--processor whatsapp_text`` on a spreadsheet): then the message names the right one."""
    empty = emptiness(head)
    if empty:
        return empty
    if not processor:
        return "" if processors.detect_name(filename, head) else processors.not_supported_message()
    if not processors.detect_name(filename, head, among=[processor]):
        other = processors.detect_name(filename, head)
        if other:
            return (f"this is not a file the {processor} processor reads; it looks like one for {other} "
                    f"(pass --processor {other}, or leave --processor out)")
    return ""


def emptiness(head: bytes) -> str:
    """``"the file is empty"`` (or holds only blank space) for such a file's first bytes, else ``""``."""
    if not head.strip() and len(head) < processors.HEAD_BYTES:
        return "the file is empty" if not head else "the file holds nothing but blank space"
    return ""


def read_head(path: Path) -> bytes:
    """The first ``processors.HEAD_BYTES`` bytes of a file."""
    with open(path, "rb") as handle:
        return handle.read(processors.HEAD_BYTES)


def files_to_ingest(paths: list[str], *, recursive: bool = False, processor: str = "") -> list[SourceFile]:
    """The entries of a request, in the order given; a folder's files sorted by name.

    In a folder, hidden files (``.name``) and files no processor reads (or, with
    ``processor``, that one does not read) or that are empty are skipped with the
    reason; sub-folders are skipped unless ``recursive``. A folder with no file to
    ingest is refused. A file named directly is always an entry to ingest: the
    ingest itself refuses it if it must (no such file, empty, unsupported).
    """
    entries: list[SourceFile] = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            entries.append(SourceFile(given, path))
            continue
        found = list(_folder_entries(given, path, recursive=recursive, processor=processor, seen=set()))
        entries.extend(found)
        if not any(entry.to_ingest for entry in found):
            skipped = len(found)
            detail = f" ({skipped} skipped, see above)" if skipped else " (it is empty)"
            entries.append(SourceFile(given, path, refused=f"no file in this folder to ingest{detail}"))
    return entries


def _folder_entries(given: str, folder: Path, *, recursive: bool, processor: str, seen: set[Path]):
    seen.add(folder.resolve())
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        shown = str(Path(given) / child.name)
        if child.name.startswith("."):
            kind = "folder" if child.is_dir() else "file"
            yield SourceFile(shown, child, skipped=f"hidden {kind}")
        elif child.is_dir():
            if recursive and child.resolve() in seen:  # a link back up the tree
                yield SourceFile(shown, child, skipped="a link to a folder already read")
            elif recursive:
                yield from _folder_entries(shown, child, recursive=True, processor=processor, seen=seen)
            else:
                yield SourceFile(shown, child, skipped="a folder (--recursive takes folders in folders)")
        elif not child.is_file():
            yield SourceFile(shown, child, skipped="not a regular file")
        else:
            yield SourceFile(shown, child, skipped=_skip_reason(child, processor))


def _skip_reason(path: Path, processor: str) -> str:
    try:
        head = read_head(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    reason = refusal(head, path.name, processor)
    if not reason and processor and not processors.detect_name(path.name, head, among=[processor]):
        reason = f"not a file the {processor} processor reads"
    return reason
