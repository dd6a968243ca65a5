"""read_ahead: items produced by a forked child, in order, with their counters and errors."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from ingestion.readahead import ReaderFailed, read_ahead, split_map


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


def square_where(n):
    if n == 1234:
        raise ValueError("bad message 1234")
    return n * n, os.getpid()


def test_split_map_keeps_order_and_shares_the_chunks_with_a_child():
    results = list(split_map(square_where, list(range(1000)), chunk=100))
    assert [value for value, _ in results] == [n * n for n in range(1000)]
    pids = [pid for _, pid in results]
    assert set(pids[:100]) == {os.getpid()}  # even chunks here
    assert set(pids[100:200]) == {pids[150]} != {os.getpid()}  # odd chunks in the child


def test_split_map_raises_an_error_at_its_chunk_from_either_side():
    # 1234 falls in chunk 12 of 100 (computed here, lazily), then in chunk 3 of 400 (computed by the child).
    for chunk, results_before in ((100, 1234), (400, 1200)):
        seen = []
        with pytest.raises(ValueError, match="bad message 1234"):
            for value, _ in split_map(square_where, list(range(2000)), chunk=chunk):
                seen.append(value)
        assert len(seen) == results_before


def test_split_map_of_a_single_chunk_runs_inline():
    assert {pid for _, pid in split_map(square_where, list(range(10)), chunk=100)} == {os.getpid()}


def test_closing_split_map_early_stops_the_child():
    results = split_map(square_where, list(range(100_000)), chunk=10)
    assert next(results) == (0, os.getpid())
    results.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.django_db
def test_the_child_cannot_use_the_database_and_the_parents_connection_survives(build):
    from offers.models import Vendor

    vendor = build.vendor(name="Kept")

    def querying():
        yield 1
        yield Vendor.objects.count()

    with pytest.raises(RuntimeError, match="must not use the database"):
        list(read_ahead(querying(), chunk=1))
    assert Vendor.objects.get(pk=vendor.pk).name == "Kept"  # same session, same transaction


def counted_blobs(count: int, size: int, progress_file):
    """``count`` items of ``size`` bytes each (all different: pickle would send a repeated one once);
    the child writes how many it has produced to ``progress_file``."""
    for i in range(count):
        yield i, b"%08d" % i * (size // 8)
        with open(progress_file, "w") as handle:
            handle.write(str(i + 1))


def produced(progress_file) -> int:
    try:
        return int(progress_file.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def wait_until_still(progress_file, settle: float = 0.5, timeout: float = 20.0) -> int:
    """The child's count once it has not moved for ``settle`` seconds (it is blocked or done)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = produced(progress_file)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            return now
        time.sleep(0.05)
    return produced(progress_file)


def test_the_child_reads_on_while_the_consumer_is_busy_beyond_what_the_pipe_holds(tmp_path):
    progress = tmp_path / "progress"
    reader = read_ahead(counted_blobs(400, 20_000, progress), chunk=10)  # 8 MB in all, the pipe holds 1 MiB
    assert next(reader)[0] == 0
    # The consumer does not ask for more (as while it writes a batch to the database): the child still produces
    # every item, far more than the 1 MiB pipe holds, because the consumer's thread empties the pipe.
    assert wait_until_still(progress) == 400
    assert [i for i, _ in reader] == list(range(1, 400))


def test_the_child_stays_at_most_ahead_bytes_ahead(tmp_path, monkeypatch):
    from ingestion import readahead

    monkeypatch.setattr(readahead, "AHEAD_BYTES", 2 << 20)
    progress = tmp_path / "progress"
    reader = read_ahead(counted_blobs(5000, 20_000, progress), chunk=10)  # 100 MB in all
    assert next(reader)[0] == 0
    ahead = wait_until_still(progress) * 20_000
    # held by the consumer's thread (2 MiB), in the pipe (1 MiB), and the chunk the child is sending
    assert ahead <= (2 << 20) + (1 << 20) + 3 * 10 * 20_000
    assert [i for i, _ in reader] == list(range(1, 5000))


def slow(count: int, pause: float):
    for i in range(count):
        time.sleep(pause)
        yield i


def test_on_wait_is_called_while_the_consumer_waits_for_a_slow_child_and_not_for_a_quick_one():
    waits = []
    assert list(read_ahead(slow(3, 0.5), chunk=1, on_wait=lambda: waits.append(time.monotonic()))) == [0, 1, 2]
    assert len(waits) >= 3  # about every 0.2 s of the 1.5 s the child took
    quick = []
    assert list(read_ahead(range(5), chunk=5, on_wait=lambda: quick.append(1))) == list(range(5)) and len(quick) <= 1
