"""Password-protected (encrypted) workbooks: recognised, so the operator is told what to do.

* An .xlsx/.xlsm saved with a password is not a zip package but an OLE2
  compound file ([MS-OFFCRYPTO] 2.3.4.1 and 2.3.4.4: storages and streams
  ``EncryptionInfo`` and ``EncryptedPackage``, the package encrypted inside).
* An encrypted .xls (BIFF8) keeps its OLE2 container and ``Workbook`` stream, and
  has a FILEPASS record (type 0x002F, [MS-XLS] 2.4.117) among the workbook
  globals, before their EOF record (0x000A); the record headers stay in clear text.

The compound file's directory is read with ``xlrd.compdoc`` (xlrd is already a
dependency) over a read-only memory map: only the directory's and the globals'
sectors are touched, however large the file.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

try:
    from xlrd import compdoc
except ImportError:  # pragma: no cover - without xlrd, calamine's own PasswordError still says so
    compdoc = None

_ENCRYPTED_STREAMS = {"EncryptionInfo", "EncryptedPackage"}
_FILEPASS = 0x002F
_EOF = 0x000A
_BOF_TYPES = {0x0809, 0x0409, 0x0209, 0x0009}
_MAX_GLOBAL_RECORDS = 100_000  # the globals of a real workbook hold a few thousand records


class _Discard:
    def write(self, text: str) -> int:
        return len(text)


def password_message(filename: str) -> str:
    """What the operator reads for a password-protected workbook."""
    return (
        f"{filename} is password-protected (encrypted), so PriceHub cannot read it: open it in Excel, "
        f"remove the password (File > Info > Protect Workbook > Encrypt with Password, clear it), "
        f"save it and send it again"
    )


def is_encrypted(path: Path) -> bool:
    """Whether the OLE2 compound file at ``path`` is an encrypted workbook (either kind above).

    ``False`` for anything that cannot be read as a compound file (calamine then reports it)
    and when xlrd is not installed.
    """
    if compdoc is None:
        return False
    with open(path, "rb") as handle:
        try:
            mem = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            return False
        try:
            try:
                document = compdoc.CompDoc(mem, logfile=_Discard())
            except Exception:  # not a compound file xlrd can read: not ours to judge
                return False
            names = {entry.name for entry in document.dirlist}
            if names & _ENCRYPTED_STREAMS:
                return True
            for name in ("Workbook", "Book"):
                if name in names:
                    try:
                        data, start, size = document.locate_named_stream(name)
                    except Exception:
                        return False
                    return data is not None and _has_filepass(data, start, start + size)
            return False
        finally:
            mem.close()


def _has_filepass(data, position: int, end: int) -> bool:
    """Whether the BIFF workbook globals starting at ``position`` hold a FILEPASS record."""
    for count in range(_MAX_GLOBAL_RECORDS):
        if position + 4 > end:
            return False
        kind, length = struct.unpack("<HH", data[position:position + 4])
        if kind == _FILEPASS:
            return True
        if kind == _EOF or (count and kind in _BOF_TYPES):
            return False
        position += 4 + length
    return False
