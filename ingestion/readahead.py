"""Run an iterator in a forked child process, ahead of its consumer.

The ingest reads and normalizes rows (pure Python) while it matches and
writes earlier batches. Both halves are bound to the interpreter lock, so a
thread cannot overlap them; a forked child can, on the second core. The
child inherits the generator (not yet started), runs it, and sends its items
back through a pipe a chunk at a time (pickled); the pipe's buffer keeps it a
few chunks ahead and no further.

``finish``, a pure function of one item, runs on whichever side has time:
the child applies it while the pipe holds a backlog (the consumer is the
slower side, as with a spreadsheet whose rows are quick to read and slow to
write), and otherwise sends the items as they are for the consumer to finish
(as with a chat, whose offers are slow to extract).

The iterator must not touch the database: the child leaves the parent's
connections alone and ends with ``os._exit``. ``state``, a dict the iterator
updates as it goes (a processor's counters), is copied back into the
parent's when the child is done.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

PIPE_BYTES = 1 << 20


class ReaderFailed(RuntimeError):
    """The child process ended without finishing (killed, out of memory, ...)."""


def _unchanged(item: Any) -> Any:
    return item


def read_ahead(
    items: Iterable,
    *,
    finish: Callable[[Any], Any] = _unchanged,
    state: MutableMapping | None = None,
    chunk: int = 1000,
) -> Iterator:
    """Yield ``finish(item)`` for each of ``items``, in order, produced by a forked child.

    Where fork is not available, everything runs inline. An exception raised
    by ``items`` or ``finish`` is raised here, where the consumer reaches it.
    Closing this generator early stops the child.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        yield from map(finish, items)
        return
    for stream in (sys.stdout, sys.stderr):  # or the child would write the parent's buffered text again
        stream.flush()
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)
    backlog = _widen(writer) // 4  # unread bytes above which the child finishes items itself
    pid = os.fork()
    if pid == 0:  # the child
        reader.close()
        code = 0
        try:
            _produce(items, finish, state, writer, chunk, backlog)
        except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code
            code = 1
        finally:
            os._exit(code)
    writer.close()
    finished = False
    try:
        while True:
            try:
                kind, value = pickle.loads(reader.recv_bytes())
            except EOFError:
                raise ReaderFailed(f"the reader process ended unexpectedly ({_exit_status(pid)})") from None
            if kind == "finished":
                yield from value
            elif kind == "raw":
                yield from map(finish, value)
            elif kind == "done":
                if state is not None:
                    state.clear()
                    state.update(value)
                finished = True
                return
            else:
                raise value
    finally:
        reader.close()
        if not finished:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        _exit_status(pid)


def _produce(
    items: Iterable, finish: Callable, state: MutableMapping | None, writer, chunk: int, backlog: int
) -> None:
    def send(kind: str, value) -> None:
        writer.send_bytes(pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL))

    def flush(buffer: list) -> None:
        if finish is _unchanged or _unread(writer) < backlog:
            send("raw", buffer)
        else:
            send("finished", [finish(item) for item in buffer])

    buffer: list = []
    try:
        for item in items:
            buffer.append(item)
            if len(buffer) >= chunk:
                flush(buffer)
                buffer = []
        flush(buffer)
        send("done", dict(state) if state is not None else None)
    except Exception as exc:
        try:
            send("raw", buffer)  # the items before the error still count
        except Exception:
            pass
        try:
            send("error", exc)
        except Exception:  # an exception that does not pickle still reaches the parent, as its text
            send("error", RuntimeError(f"{exc.__class__.__name__}: {exc}"))


def _widen(connection) -> int:
    """Ask for a 1 MiB pipe buffer (Linux; 64 KiB by default); the size the pipe has."""
    try:
        import fcntl

        return fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        return 1 << 16


def _unread(connection) -> int:
    """Bytes in the pipe not yet read by the parent; a full pipe where that cannot be asked."""
    try:
        import array
        import fcntl
        import termios

        count = array.array("i", [0])
        fcntl.ioctl(connection.fileno(), termios.FIONREAD, count, True)
        return count[0]
    except (ImportError, OSError):
        return PIPE_BYTES


def _exit_status(pid: int) -> str:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "already reaped"
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"
