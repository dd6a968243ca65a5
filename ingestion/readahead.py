"""Run an iterator in a forked child process, ahead of its consumer.

The ingest reads and normalizes rows (pure Python) while it matches and
writes earlier batches. Both halves are bound to the interpreter lock, so a
thread cannot overlap them; a forked child can, on the second core. The
child inherits the generator (not yet started), runs it, and sends its items
back through a pipe a chunk at a time (pickled); the pipe's buffer keeps it a
few chunks ahead and no further.

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
from collections.abc import Iterable, Iterator, MutableMapping
from typing import TypeVar

T = TypeVar("T")

PIPE_BYTES = 1 << 20


class ReaderFailed(RuntimeError):
    """The child process ended without finishing (killed, out of memory, ...)."""


def read_ahead(items: Iterable[T], *, state: MutableMapping | None = None, chunk: int = 1000) -> Iterator[T]:
    """Yield ``items`` in order, produced by a forked child; inline where fork is not available.

    An exception raised by ``items`` is raised here, where the consumer
    reaches it. Closing this generator early stops the child.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        yield from items
        return
    for stream in (sys.stdout, sys.stderr):  # or the child would write the parent's buffered text again
        stream.flush()
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)
    _widen(writer)
    pid = os.fork()
    if pid == 0:  # the child
        reader.close()
        code = 0
        try:
            _produce(items, state, writer, chunk)
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
            if kind == "items":
                yield from value
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


def _produce(items: Iterable, state: MutableMapping | None, writer, chunk: int) -> None:
    def send(kind: str, value) -> None:
        writer.send_bytes(pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL))

    buffer: list = []
    try:
        for item in items:
            buffer.append(item)
            if len(buffer) >= chunk:
                send("items", buffer)
                buffer = []
        send("items", buffer)
        send("done", dict(state) if state is not None else None)
    except Exception as exc:
        try:
            send("items", buffer)  # the items before the error still count
        except Exception:
            pass
        try:
            send("error", exc)
        except Exception:  # an exception that does not pickle still reaches the parent, as its text
            send("error", RuntimeError(f"{exc.__class__.__name__}: {exc}"))


def _widen(connection) -> None:
    """A 1 MiB pipe buffer (Linux; 64 KiB by default) lets the child run a few chunks ahead."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


def _exit_status(pid: int) -> str:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "already reaped"
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"
