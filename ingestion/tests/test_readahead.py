"""read_ahead: items produced by a forked child, in order, with their counters and errors."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from ingestion.readahead import ReaderFailed, read_ahead


def numbers(count: int, stats: Counter, fail_at: int | None = None):
    for i in range(count):
        if i == fail_at:
            raise ValueError(f"bad row {i}")
        stats["seen"] += 1
        stats["pid"] = os.getpid()
        yield i, f"row {i}", {"n": i}


def test_items_arrive_in_order_and_counters_come_back():
    stats = Counter()
    items = list(read_ahead(numbers(2500, stats), state=stats, chunk=100))
    assert items == [(i, f"row {i}", {"n": i}) for i in range(2500)]
    assert stats["seen"] == 2500
    assert stats["pid"] != os.getpid()  # produced in another process


def finished_where(item):
    return item[0], os.getpid()


def test_finish_runs_in_the_child_while_the_consumer_lags_behind_and_in_the_consumer_otherwise():
    stats = Counter()
    reader = read_ahead(numbers(60_000, stats), finish=finished_where, state=stats, chunk=500)
    first = [next(reader) for _ in range(500)]  # the pipe is empty when the child sends its first chunk
    assert {pid for _, pid in first} == {os.getpid()}
    time.sleep(0.5)  # a slow consumer: the pipe fills, and the child finishes items itself
    rest = list(reader)
    assert [i for i, _ in first + rest] == list(range(60_000))
    assert len({pid for _, pid in rest} - {os.getpid()}) == 1


def test_an_error_is_raised_where_the_consumer_reaches_it():
    stats = Counter()
    seen = []
    with pytest.raises(ValueError, match="bad row 250"):
        for item in read_ahead(numbers(1000, stats, fail_at=250), state=stats, chunk=100):
            seen.append(item[0])
    assert seen == list(range(250))


def test_an_error_that_does_not_pickle_arrives_as_its_text():
    class Local(Exception):  # a local class cannot be pickled
        pass

    def failing():
        yield 1
        raise Local("unreadable sheet")

    with pytest.raises(RuntimeError, match="Local: unreadable sheet"):
        list(read_ahead(failing()))


def test_a_child_that_dies_is_reported():
    def dying():
        yield 1
        os.kill(os.getpid(), signal.SIGKILL)
        yield 2

    with pytest.raises(ReaderFailed, match="signal 9"):
        list(read_ahead(dying(), chunk=1))


def test_closing_early_stops_the_child():
    stats = Counter()
    reader = read_ahead(numbers(10**9, stats), state=stats, chunk=10)
    assert next(reader) == (0, "row 0", {"n": 0})
    reader.close()  # kills and reaps the child; would hang or leak otherwise
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_without_fork_the_items_are_produced_inline(monkeypatch):
    monkeypatch.setattr("multiprocessing.get_all_start_methods", lambda: ["spawn"])
    stats = Counter()
    assert [i for i, _, _ in read_ahead(numbers(5, stats), state=stats)] == [0, 1, 2, 3, 4]
    assert stats["pid"] == os.getpid()
