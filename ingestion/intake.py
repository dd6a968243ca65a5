"""What an ingest request names, checked before anything is stored.

``files_to_ingest`` turns the paths a user gives (files and folders) into the
files to ingest, in order, and the ones left out with the reason;
``path_refusal`` says why a path must not be read at all (missing, a symbolic
link, a special file such as a FIFO, a device or a /proc file, not readable);
``refusal`` says why a file's content cannot be ingested (empty, or no
processor reads it). They look at a path with ``lstat``/``stat`` and read only
the first bytes of a regular file, opened by ``open_regular`` (which never
blocks on a FIFO); none touches the database or storage, so a refused file
leaves nothing behind.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingestion import chat_text, processors

# Kernel file systems whose files are made up when read (/proc/self/environ, /sys/...):
# "regular" files by their mode, but never a price list.
PSEUDO_FILESYSTEMS = ("/proc", "/sys")
FOLLOW_HINT = "--follow-symlinks"


class PathRefused(OSError):
    """A path that must not be read as a file to ingest; ``str()`` is the reason (see
    ``path_refusal``), without the path."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One entry of a request: ``given`` is the path as the user wrote it (a file found in a
    folder is the folder as given joined with its name). ``path`` is the file to read: the
    path given, or with ``follow_symlinks`` the real location a link points to. ``skipped``
    says why a file found in a folder is left out (not an error); ``refused`` why a path given
    cannot be ingested."""

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
    (``--processor whatsapp_text`` on a spreadsheet): then the message names the right one.
    Text in UTF-16 without a byte-order mark whose byte order cannot be told is refused saying
    so (``chat_text.encoding_problem``)."""
    empty = emptiness(head)
    if empty:
        return empty
    if not processor:
        if processors.detect_name(filename, head):
            return ""
        return chat_text.encoding_problem(head, filename) or processors.not_supported_message()
    if not processors.detect_name(filename, head, among=[processor]):
        other = processors.detect_name(filename, head)
        if other:
            return (f"this is not a file the {processor} processor reads; it looks like one for {other} "
                    f"(pass --processor {other}, or leave --processor out)")
        return chat_text.encoding_problem(head, filename)
    return ""


def emptiness(head: bytes) -> str:
    """Why a file whose first bytes are ``head`` has nothing to ingest, or ``""``: it is empty
    (0 bytes) or holds only blank space (spaces, tabs, line breaks). Both messages start
    ``"the file is empty"`` / ``"the file holds nothing but blank space"`` and say what to do."""
    if not head.strip() and len(head) < processors.HEAD_BYTES:
        if not head:
            return "the file is empty (0 bytes): save or export the price list again, and check it is the right file"
        return (f"the file holds nothing but blank space ({len(head):,} bytes of spaces and line breaks): "
                "save or export the price list again, and check it is the right file")
    return ""


def path_refusal(path: str | os.PathLike, *, follow_symlinks: bool = False, folder_ok: bool = False) -> str:
    """Why ``path`` must not be read as a file to ingest, or ``""`` when it is a regular file
    this process can read (or, with ``folder_ok``, a folder).

    Refused, each with a message that says what the path is and what to do: a path that does
    not exist (or runs through a file as if it were a folder); a symbolic link, unless
    ``follow_symlinks`` (the message names what it points to); whatever a path or a followed
    link really is when it is not a regular file: a FIFO, a device, a socket, a file of
    /proc or /sys (refused even with ``follow_symlinks``); a folder unless ``folder_ok``; a
    file that cannot be opened for reading (permission denied names the user, the file's
    owner and mode). Only the last component of ``path`` is checked for a link: the folders
    on the way are the user's own choice. A FIFO or device is never opened, so the check
    never blocks. Callers: ``files_to_ingest`` (the ingest command), and
    ``services.ingest_path`` for schedules. The empty file is left to ``emptiness``.
    """
    name = os.fspath(path)
    try:
        info = os.lstat(name)
    except FileNotFoundError:
        return _missing(name)
    except NotADirectoryError:
        return f"no such file: {_file_on_the_way(name)} is a file, not a folder, so nothing can be inside it"
    except OSError as exc:
        return f"cannot be looked at ({exc.strerror or exc}): check the folders on the way to it"
    real = os.path.realpath(name)
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(name)
        try:
            info = os.stat(name)
        except FileNotFoundError:
            return f"is a symbolic link to {target}, which does not exist: name the file itself"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"is a symbolic link to {target}, which loops back on itself: name the file itself"
            return f"is a symbolic link to {target}, which cannot be looked at ({exc.strerror or exc})"
        special = _special(info.st_mode, real)
        if special:
            return (f"is a symbolic link to {real}, {special}, not a regular file: PriceHub reads only files "
                    "saved on disk, with or without " + FOLLOW_HINT)
        if not follow_symlinks:
            kind = "folder" if stat.S_ISDIR(info.st_mode) else "file"
            return (f"is a symbolic link to the {kind} {real}: links are not followed unless asked; pass "
                    f"{FOLLOW_HINT} to ingest what it points to, or name {real} itself")
    special = _special(info.st_mode, real)
    if special:
        return f"is {special}, not a regular file: PriceHub reads only spreadsheets and chat exports saved on disk"
    if stat.S_ISDIR(info.st_mode):
        if folder_ok:
            return ""
        return ("is a folder, not a file: name one of the files in it, or give the folder to "
                "`manage.py ingest`, which ingests the files it holds")
    try:
        with open_regular(name, follow_symlinks=True):
            pass
    except PermissionError:
        return _unreadable(name, info)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return ""


def open_regular(path: str | os.PathLike, *, follow_symlinks: bool = False) -> BinaryIO:
    """``path`` opened for reading in binary, only if it is a regular file (checked on the
    open file, so nothing can be swapped in between). Opened non-blocking, so a FIFO never
    hangs the caller; without ``follow_symlinks`` a symbolic link is refused by the kernel
    (``O_NOFOLLOW``). Raises ``PathRefused`` (an ``OSError``) with ``path_refusal``'s
    message for a link or a special file, and ``OSError`` (``PermissionError`` ...) as
    ``open`` does. The caller closes the returned file."""
    name = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise PathRefused(path_refusal(name)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or _special(info.st_mode, os.path.realpath(name)):
            raise PathRefused(path_refusal(name, follow_symlinks=True) or "is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_head(path: Path) -> bytes:
    """The first ``processors.HEAD_BYTES`` bytes of a regular file (``open_regular``, links
    followed: callers decide about links before)."""
    with open_regular(path, follow_symlinks=True) as handle:
        return handle.read(processors.HEAD_BYTES)


def files_to_ingest(paths: list[str], *, recursive: bool = False, processor: str = "",
                    follow_symlinks: bool = False) -> list[SourceFile]:
    """The entries of a request, in the order given; a folder's files sorted by name.

    A path given that ``path_refusal`` refuses (missing, a link without ``follow_symlinks``,
    a special file, unreadable) is an entry refused with the reason. In a folder, hidden
    files (``.name``), links (unless ``follow_symlinks``), special files, and files no
    processor reads (or, with ``processor``, that one does not read) or that are empty or
    unreadable are skipped with the reason; sub-folders are skipped unless ``recursive``. A
    folder with no file to ingest is refused. Otherwise a file named directly is an entry to
    ingest (its content is checked by the ingest itself: empty, unsupported). A followed link
    is an entry whose ``path`` is the link's real location.
    """
    entries: list[SourceFile] = []
    for given in paths:
        reason = path_refusal(given, follow_symlinks=follow_symlinks, folder_ok=True)
        path = Path(given)
        if reason:
            entries.append(SourceFile(given, path, refused=reason))
            continue
        if path.is_symlink():
            path = Path(os.path.realpath(given))
        if not path.is_dir():
            entries.append(SourceFile(given, path))
            continue
        found = list(_folder_entries(given, path, recursive=recursive, processor=processor, seen=set(),
                                     follow_symlinks=follow_symlinks))
        entries.extend(found)
        if not any(entry.to_ingest for entry in found):
            skipped = len(found)
            detail = (f" ({skipped} skipped, see above)" if skipped
                      else " (it is empty): put the price lists in it, or name a file")
            entries.append(SourceFile(given, path, refused=f"no file in this folder to ingest{detail}"))
    return entries


def _folder_entries(given: str, folder: Path, *, recursive: bool, processor: str, seen: set[Path],
                    follow_symlinks: bool):
    seen.add(folder.resolve())
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        shown = str(Path(given) / child.name)
        if child.name.startswith("."):
            kind = "folder" if child.is_dir() else "file"
            yield SourceFile(shown, child, skipped=f"hidden {kind}")
            continue
        reason = path_refusal(child, follow_symlinks=follow_symlinks, folder_ok=True)
        if reason:
            yield SourceFile(shown, child, skipped=reason)
        elif child.is_dir():
            if recursive and child.resolve() in seen:  # a link back up the tree
                yield SourceFile(shown, child, skipped="a link to a folder already read")
            elif recursive:
                yield from _folder_entries(shown, child, recursive=True, processor=processor, seen=seen,
                                           follow_symlinks=follow_symlinks)
            else:
                yield SourceFile(shown, child, skipped="a folder (--recursive takes folders in folders)")
        else:
            path = Path(os.path.realpath(child)) if child.is_symlink() else child
            yield SourceFile(shown, path, skipped=_skip_reason(path, processor))


def _skip_reason(path: Path, processor: str) -> str:
    try:
        head = read_head(path)
    except OSError as exc:
        return str(exc) if isinstance(exc, PathRefused) else f"cannot be read ({exc.strerror or exc})"
    reason = refusal(head, path.name, processor)
    if not reason and processor and not processors.detect_name(path.name, head, among=[processor]):
        reason = f"not a file the {processor} processor reads"
    return reason


def _special(mode: int, real: str) -> str:
    """``"a named pipe (FIFO)"`` and the like for what is not a regular file or a folder, a
    file of a kernel file system (``PSEUDO_FILESYSTEMS``) too; ``""`` otherwise."""
    kinds = [
        (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
    ]
    for test, kind in kinds:
        if test(mode):
            return kind
    for root in PSEUDO_FILESYSTEMS:
        if real == root or real.startswith(root + "/"):
            return f"a kernel file under {root} (made up when read)"
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "a special file"
    return ""


def _missing(name: str) -> str:
    """``"no such file"``; for a relative path, the folder it was looked for in too."""
    return "no such file" if os.path.isabs(name) else f"no such file (looked for in {os.getcwd()})"


def _file_on_the_way(name: str) -> str:
    """The first component of ``name`` that is a file though the path goes on past it."""
    for parent in reversed(Path(name).parents):
        if str(parent) not in ("", ".") and parent.exists() and not parent.is_dir():
            return str(parent)
    return str(Path(name).parent)


def _unreadable(name: str, info: os.stat_result) -> str:
    user = _user_name(os.geteuid())
    owner = _user_name(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return (f"cannot be read: permission denied to the user {user} (the file is {stat.filemode(info.st_mode)}, "
            f"owned by {owner}:{group}); make it readable for that user (chmod, chown), or run the command as a "
            "user who may read it")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
