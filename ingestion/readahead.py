"""Pure work in a forked child process, alongside the process that consumes it.

Reading, extracting and normalizing rows is pure Python, and so is most of
matching and writing them: a thread cannot overlap the two (both hold the
interpreter lock), a forked child can, on the machine's second core. The
child inherits what it works on (a generator not yet started, a list of
messages) and sends its results back through a pipe, pickled, a chunk at a
time. A thread of the consumer takes them off the pipe as they come, so the
child goes on while the consumer is busy in the database (its writes release
the interpreter lock); it stays at most ``AHEAD_BYTES`` of pickled chunks
ahead.

- ``read_ahead(items, finish=...)``: the child runs an iterator (a
  processor). ``finish``, a pure function of one item, runs on whichever side
  has time: the child applies it while the pipe holds a backlog (the consumer
  is the slower side, as with a spreadsheet whose rows are quick to read and
  slow to write), else it sends items as they are for the consumer to finish
  (a chat, whose offers are slow to extract).
- ``split_map(function, items)``: ``function`` over a list, every other
  chunk computed by the child (extracting the offers of a chat's messages).

The work must not touch the database: in the child, a query raises
``RuntimeError`` (the parent's connections stay open, untouched, until the
child ends with ``os._exit``). Where ``fork`` is not
available, everything runs inline.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

PIPE_BYTES = 1 << 20
# Pickled chunks received and not yet consumed, at most (about 200,000 spreadsheet rows): while the
# consumer writes a batch of 5,000 offers to the database, the child reads the next batches.
AHEAD_BYTES = 32 << 20
WAIT_SLICE = 0.2  # seconds between two calls of read_ahead's on_wait while the consumer waits for the child


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
    on_wait: Callable[[], None] | None = None,
) -> Iterator:
    """Yield ``finish(item)`` for each of ``items``, in order, the items produced by a forked child.

    An exception raised by ``items`` or ``finish`` is raised here, where the
    consumer reaches it. ``state``, a dict the iterator updates as it goes (a
    processor's counters), is copied back from the child when it is done.
    ``on_wait`` is called every ``WAIT_SLICE`` seconds while the consumer waits
    for the child (an ingest commits then if another writer waits for its lock).
    Closing this generator early stops the child.
    """
    if not _can_fork():
        yield from map(finish, items)
        return

    def produce(pipe: _Pipe) -> None:
        backlog = pipe.capacity // 4  # bytes not yet consumed above which the child finishes items itself

        def flush(buffer: list) -> None:
            if finish is _unchanged or pipe.unread() < backlog:
                pipe.send("raw", buffer)
            else:
                pipe.send("finished", [finish(item) for item in buffer])

        buffer: list = []
        try:
            for item in items:
                buffer.append(item)
                if len(buffer) >= chunk:
                    flush(buffer)
                    buffer = []
            flush(buffer)
            pipe.send("done", dict(state) if state is not None else None)
        except Exception as exc:
            try:
                pipe.send("raw", buffer)  # the items before the error still count
            except Exception:
                pass
            pipe.send_error(exc)

    child = _Child(produce)
    try:
        while True:
            kind, value = child.receive(on_wait)
            if kind == "finished":
                yield from value
            elif kind == "raw":
                yield from map(finish, value)
            else:  # "done"
                if state is not None:
                    state.clear()
                    state.update(value)
                return
    finally:
        child.close()


def split_map(function: Callable[[Any], Any], items: Sequence, *, chunk: int = 500) -> Iterator:
    """Yield ``function(item)`` for each of ``items``, in order; a forked child computes every other chunk.

    Inline when there is a single chunk. An exception raised by ``function``
    is raised here, at its item's chunk. Closing this generator early stops
    the child.
    """
    starts = range(0, len(items), chunk)
    if len(starts) < 2 or not _can_fork():
        yield from map(function, items)
        return

    def compute(pipe: _Pipe) -> None:
        try:
            for start in starts[1::2]:
                pipe.send("finished", [function(item) for item in items[start:start + chunk]])
        except Exception as exc:
            pipe.send_error(exc)

    child = _Child(compute)
    try:
        for index, start in enumerate(starts):
            if index % 2 == 0:
                yield from map(function, items[start:start + chunk])
            else:
                yield from child.receive()[1]
    finally:
        child.close()


# --------------------------------------------------------------------------- the child and its pipe


class _Pipe:
    """The child's end: pickled ``(kind, value)`` messages."""

    def __init__(self, connection, capacity: int, received):
        self.connection, self.capacity, self.received = connection, capacity, received

    def send(self, kind: str, value) -> None:
        self.connection.send_bytes(pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL))

    def send_error(self, exc: Exception) -> None:
        try:
            self.send("error", exc)
        except Exception:  # an exception that does not pickle still reaches the parent, as its text
            self.send("error", RuntimeError(f"{exc.__class__.__name__}: {exc}"))

    def unread(self) -> int:
        """Bytes sent and not yet consumed by the parent: those in the pipe (a full pipe where that
        cannot be asked) and those its receiving thread holds."""
        try:
            import array
            import fcntl
            import termios

            count = array.array("i", [0])
            fcntl.ioctl(self.connection.fileno(), termios.FIONREAD, count, True)
            in_pipe = count[0]
        except (ImportError, OSError):
            in_pipe = self.capacity
        return in_pipe + self.received.value


class _Child:
    """A forked child running ``work(pipe)``, and the parent's end of the pipe, emptied by a
    thread into memory (up to ``AHEAD_BYTES``); the child sees how much waits there
    (``_Pipe.unread``, through a shared counter)."""

    def __init__(self, work: Callable[[_Pipe], None]):
        for stream in (sys.stdout, sys.stderr):  # or the child would write the parent's buffered text again
            stream.flush()
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        capacity = _widen(writer)
        received = context.RawValue("q", 0)  # bytes the thread holds: shared memory, seen by both processes
        pid = os.fork()
        if pid == 0:
            reader.close()
            code = 0
            try:
                _forbid_database()
                work(_Pipe(writer, capacity, received))
            except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code
                code = 1
            finally:
                os._exit(code)
        writer.close()
        self.pid, self.reader, self.status = pid, reader, ""
        self._received = received
        self._messages: collections.deque = collections.deque()  # pickled messages, then None at the end
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._take, name=f"reader-{pid}", daemon=True)
        self._thread.start()

    def _take(self) -> None:
        """In a thread: move messages from the pipe into memory, while less than ``AHEAD_BYTES`` wait."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._received.value < AHEAD_BYTES)
            try:
                data = self.reader.recv_bytes()
            except (EOFError, OSError):  # the child ended (or was stopped): its messages are all here
                data = None
            with self._changed:
                self._messages.append(data)
                if data is not None:
                    self._received.value += len(data)
                self._changed.notify_all()
            if data is None:
                return

    def receive(self, on_wait: Callable[[], None] | None = None) -> tuple[str, Any]:
        """The next message; raises the child's error, or ``ReaderFailed`` if it died. While none has
        come, ``on_wait`` is called every ``WAIT_SLICE`` seconds (outside the lock)."""
        while on_wait is not None:
            with self._changed:
                if self._changed.wait_for(lambda: self._messages, timeout=WAIT_SLICE):
                    break
            on_wait()
        with self._changed:
            self._changed.wait_for(lambda: self._messages)
            data = self._messages[0]
            if data is not None:
                self._messages.popleft()
                self._received.value -= len(data)
                self._changed.notify_all()
        if data is None:
            raise ReaderFailed(f"the reader process ended unexpectedly ({self._reap()})")
        kind, value = pickle.loads(data)
        if kind == "error":
            raise value
        return kind, value

    def close(self) -> None:
        """Stop the child, wherever it is (done, mid-chunk, blocked on the pipe), and reap it."""
        if not self.status:  # not reaped yet, so the pid is still this child's
            os.kill(self.pid, 9)  # a child that already exited is unharmed
            self._reap()
        with self._changed:  # a thread waiting for room reads on, to the end of the pipe
            self._messages.clear()
            self._received.value = 0
            self._changed.notify_all()
        self._thread.join()
        self.reader.close()

    def _reap(self) -> str:
        _, status = os.waitpid(self.pid, 0)
        if os.WIFSIGNALED(status):
            self.status = f"signal {os.WTERMSIG(status)}"
        else:
            self.status = f"exit code {os.WEXITSTATUS(status)}"
        return self.status


_INHERITED: list = []  # the parent's database connections, held in the child so that nothing closes them


def _forbid_database() -> None:
    """In the child: using a database raises, and the parent's connections stay untouched.

    Closing an inherited connection would end the parent's session (PostgreSQL)
    or release its locks (SQLite), so each is kept referenced until ``os._exit``.
    """
    from django.conf import settings
    from django.db import connections

    if not settings.configured:  # a plain script (a benchmark) that never set Django up: no database at all
        return

    def no_database(*args, **kwargs):
        raise RuntimeError("the ingest's reader process must not use the database")

    for connection in connections.all(initialized_only=True):
        _INHERITED.append(connection.connection)
        connection.connection = None
        connection.connect = no_database


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _widen(connection) -> int:
    """Ask for a 1 MiB pipe buffer (Linux; 64 KiB by default); the size the pipe has."""
    try:
        import fcntl

        return fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        return 1 << 16
