"""Where ingested artefacts live: copies under ``INGESTION_STORAGE_DIR``.

PriceHub chooses every stored name itself: the content's sha256 and a plain
extension, so the same bytes are stored once however often they are
ingested. The user's filename is kept only as metadata on the
``SourceDocument``. Every path read back is resolved and checked to be inside
the storage directory, so no filename or database value can point outside it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from django.conf import settings

CHUNK = 1024 * 1024
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


class StorageError(Exception):
    """A file cannot be stored or read back; the message is for the operator."""


class FileTooLarge(StorageError):
    pass


@dataclass(frozen=True)
class StoredFile:
    relative_path: str
    sha256: str
    size: int
    content_type: str


def storage_root() -> Path:
    root = Path(settings.INGESTION_STORAGE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def safe_suffix(filename: str) -> str:
    """The file's extension, lower-cased, if it is a plain one; else ''."""
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


def display_name(filename: str) -> str:
    """The last path component of a user-supplied name, without control characters."""
    name = PurePath(filename.replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:255] or "unnamed"


def store_stream(source: BinaryIO, original_filename: str, *, max_bytes: int | None = None) -> StoredFile:
    """Copy a stream into storage under a name PriceHub chooses; hash and size it on the way.

    Raises ``FileTooLarge`` (and leaves nothing behind) past ``max_bytes``
    (default ``INGESTION_MAX_FILE_BYTES``).
    """
    limit = settings.INGESTION_MAX_FILE_BYTES if max_bytes is None else max_bytes
    root = storage_root()
    temporary = root / f".incoming-{secrets.token_hex(8)}"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(temporary, "xb") as target:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(
                        f"{display_name(original_filename)} is larger than the {limit:,}-byte limit "
                        "(INGESTION_MAX_FILE_BYTES)"
                    )
                digest.update(chunk)
                target.write(chunk)
        sha256 = digest.hexdigest()
        final = root / sha256[:2] / f"{sha256}{safe_suffix(original_filename)}"
        final.parent.mkdir(exist_ok=True)
        if final.exists():  # content-addressed: the same bytes are stored once
            temporary.unlink()
        else:
            temporary.replace(final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    content_type = mimetypes.guess_type(final.name)[0] or "application/octet-stream"
    return StoredFile(final.relative_to(root).as_posix(), sha256, size, content_type)


def resolve(relative_path: str) -> Path:
    """The absolute path of a stored file; refuses anything that resolves outside storage."""
    root = storage_root()
    candidate = (root / relative_path).resolve()
    if not relative_path or not candidate.is_relative_to(root) or candidate == root:
        raise StorageError(f"stored path {relative_path!r} is outside the storage directory")
    return candidate


def resolve_inside(path: str | Path) -> Path:
    """An operator-given path (absolute, or relative to storage) that must lie inside storage."""
    root = storage_root()
    given = Path(path)
    candidate = (given if given.is_absolute() else root / given).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise StorageError(f"{path} is outside the storage directory {root}")
    return candidate


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
