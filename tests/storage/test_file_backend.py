"""What only the file backend promises: its files, restarts, crash recovery, fsync policies.

A "crash" here is a copy of the data directory taken while the backend is
open: exactly the files a SIGKILLed process leaves (its writes are in the
page cache, nothing more). Real SIGKILLs are in test_file_crash.py.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minikafka.storage import _partition, _segment
from minikafka.storage.base import (
    InvalidTopicName,
    StorageFailure,
    UnknownTopic,
)
from minikafka.storage.fsync import FsyncPolicy

from .batches import as_stored, headers_of, make_batch, sized_batch, values_of
from .conftest import FakeClock, Opener
from .files import all_records, crash_copy, segment_files

# -- layout -----------------------------------------------------------------


def test_layout_is_a_directory_per_partition_of_segments_named_by_offset(
    open_backend: Opener, root: Path
) -> None:
    backend = open_backend(segment_bytes=500)
    backend.create_topic("t", partitions=2)
    for _ in range(6):
        backend.append("t", 0, [sized_batch(200)])
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["t-0", "t-1"]
    assert segment_files(root) == [
        "00000000000000000001.log", "00000000000000000003.log",
        "00000000000000000005.log",
    ]
    assert segment_files(root, "t-1") == ["00000000000000000001.log"]
    # The log holds the batches exactly as stored, one after another.
    first_segment = (root / "t-0" / "00000000000000000001.log").read_bytes()
    assert first_segment == as_stored(sized_batch(200), 1) + as_stored(sized_batch(200), 2)


def test_segments_roll_by_age(open_backend: Opener, root: Path, clock: FakeClock) -> None:
    backend = open_backend(segment_ms=60_000)
    backend.create_topic("t")
    backend.append("t", 0, [make_batch()])
    clock.advance(59_999)
    backend.append("t", 0, [make_batch()])
    assert len(segment_files(root)) == 1
    clock.advance(1)
    backend.append("t", 0, [make_batch()])
    assert segment_files(root) == ["00000000000000000001.log", "00000000000000000003.log"]


def test_one_append_larger_than_a_segment_still_fits(open_backend: Opener, root: Path) -> None:
    backend = open_backend(segment_bytes=1000)
    backend.create_topic("t")
    backend.append("t", 0, [make_batch()])
    big = sized_batch(5000)
    assert backend.append("t", 0, [big]).base_offset == 2
    assert segment_files(root)[-1] == "00000000000000000002.log"
    assert bytes(backend.read("t", 0, 2, 10).records) == as_stored(big, 2)


def test_a_bad_topic_name_never_reaches_the_file_system(
    open_backend: Opener, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend()
    before = sorted(os.listdir(root))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"file operation {args!r} for an invalid name")

    for name in ("os.open", "os.mkdir", "os.rename", "os.replace", "os.unlink"):
        monkeypatch.setattr(name, forbidden)
    for bad in ("../outside", "a/b", "..", ".", "", "x" * 250, "~trash-x", "a\x00"):
        with pytest.raises(InvalidTopicName):
            backend.create_topic(bad)
        with pytest.raises(UnknownTopic):
            backend.append(bad, 0, [make_batch()])
    monkeypatch.undo()
    assert sorted(os.listdir(root)) == before
    assert not (root.parent / "outside-0").exists()


def test_a_second_backend_on_the_same_directory_is_refused(open_backend: Opener) -> None:
    open_backend()
    with pytest.raises(StorageFailure, match="in use"):
        open_backend()


# -- reading the end of the log ------------------------------------------------


def test_reads_at_the_end_of_the_log_come_from_memory_and_equal_the_files(
    open_backend: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, several per append, a batch larger than the kept tail, segments
    # rolling: every read of the live backend must equal the same read after a
    # restart (which reads the files), and the latest batches need no file read.
    tail = _partition.TAIL_BYTES
    backend = open_backend(segment_bytes=6000)
    backend.create_topic("t")
    sizes = [100, 300, 120, 2 * tail, 90, 5000, 150, 110, 95, 400] + [200] * (tail // 100)
    position = 0
    while position < len(sizes):
        group = sizes[position : position + 1 + position % 3]
        backend.append("t", 0, [sized_batch(size, timestamp=position) for size in group])
        position += len(group)
    end = backend.high_watermark("t", 0)
    budgets = [1, 150, 500, 4000, 1 << 20]
    live = {(offset, budget): bytes(backend.read("t", 0, offset, budget).records)
            for offset in range(1, end + 1) for budget in budgets}
    # The last batches are served without reading the segment
    reads: list[tuple[int, int, int]] = []
    real_pread = os.pread

    def counted_pread(fd: int, length: int, position: int) -> bytes:
        reads.append((fd, length, position))
        return real_pread(fd, length, position)

    monkeypatch.setattr(os, "pread", counted_pread)
    latest = backend.read("t", 0, end - 3, 1 << 20)
    assert values_of(latest.records)[0][0] == end - 3 and not reads
    monkeypatch.undo()
    backend.close()
    reopened = open_backend()
    assert {(offset, budget): bytes(reopened.read("t", 0, offset, budget).records)
            for offset in range(1, end + 1) for budget in budgets} == live
    # After the restart, appends fill the tail again, continuing the numbering
    reopened.append("t", 0, [make_batch([b"x", b"y"])])
    assert values_of(reopened.read("t", 0, end, 100).records) == [(end, b"x"), (end + 1, b"y")]


# -- restarts ----------------------------------------------------------------


def test_everything_survives_a_clean_restart(open_backend: Opener, root: Path) -> None:
    backend = open_backend(segment_bytes=400)
    backend.create_topic("t", partitions=2, config={"retention.ms": "5000"})
    backend.create_topic("u")
    for i in range(10):
        backend.append("t", i % 2, [make_batch([b"v%d" % i, b"w"], timestamp=100 * i)])
    stored = all_records(backend)
    backend.close()
    assert (root / "~clean-shutdown").exists()
    reopened = open_backend()
    assert reopened.was_clean
    assert not (root / "~clean-shutdown").exists()  # a crash from now on must be noticed
    assert reopened.topics() == {"t": 2, "u": 1}
    assert reopened.topic_config("t") == {"retention.ms": "5000"}
    assert all_records(reopened) == stored
    assert reopened.offset_for_timestamp("t", 0, 401) == 5  # the batch of i=4 ends at 401
    assert reopened.offset_for_timestamp("t", 0, 402) == 7
    assert reopened.append("t", 0, [make_batch()]).base_offset == 11
    assert reopened.append("u", 0, [make_batch()]).base_offset == 1


def test_a_clean_restart_reads_no_batches(
    open_backend: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend(segment_bytes=2000)
    backend.create_topic("t")
    for _ in range(200):
        backend.append("t", 0, [sized_batch(300)])
    backend.close()

    def no_scan(self: object) -> Iterator[object]:
        raise AssertionError("a clean open must not scan segments")

    monkeypatch.setattr(_segment.SegmentScan, "__iter__", no_scan)
    reopened = open_backend()
    assert reopened.high_watermark("t", 0) == 201
    assert reopened.append("t", 0, [sized_batch(300)]).base_offset == 201


def test_after_a_crash_only_segments_since_the_clean_point_are_rescanned(
    open_backend: Opener, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend(segment_bytes=2000)
    backend.create_topic("t")
    for _ in range(100):
        backend.append("t", 0, [sized_batch(300)])
    backend.flush()  # the rolled segments are now fsynced: recovery may trust them
    for _ in range(2):  # six 300-byte batches fill the active segment; no roll
        backend.append("t", 0, [sized_batch(300)])
    stored = all_records(backend)
    crashed = crash_copy(root, tmp_path / "crashed")
    scanned: list[int] = []
    original_init = _segment.SegmentScan.__init__

    def counting_init(self: _segment.SegmentScan, fd: int, base: int, size: int) -> None:
        scanned.append(base)
        original_init(self, fd, base, size)

    monkeypatch.setattr(_segment.SegmentScan, "__init__", counting_init)
    recovered = open_backend(crashed)
    assert not recovered.was_clean
    assert all_records(recovered) == stored
    assert scanned == [int(segment_files(crashed)[-1][:20])]  # the active segment alone


def test_a_torn_tail_is_cut_with_one_log_line(
    open_backend: Opener, root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    for i in range(5):
        backend.append("t", 0, [make_batch([b"m%d" % i])])
    stored = all_records(backend)
    crashed = crash_copy(root, tmp_path / "crashed")
    torn = as_stored(make_batch([b"half-written"]), 6)[:40]
    with open(crashed / "t-0" / "00000000000000000001.log", "ab") as log_file:
        log_file.write(torn)
    with caplog.at_level(logging.WARNING, logger="minikafka.storage"):
        recovered = open_backend(crashed)
    assert all_records(recovered) == stored
    assert recovered.append("t", 0, [make_batch([b"next"])]).base_offset == 6
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "t-0" in lines[0] and "00000000000000000001.log" in lines[0]
    assert f"at byte {len(stored)}" in lines[0] and "cutting 40 bytes" in lines[0]


def test_a_corrupt_batch_and_everything_after_it_are_never_served(
    open_backend: Opener, root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = open_backend(segment_bytes=1000)
    backend.create_topic("t")
    for _ in range(12):
        backend.append("t", 0, [sized_batch(300)])  # three batches per segment
    crashed = crash_copy(root, tmp_path / "crashed")
    (crashed / "t-0" / "state.json").unlink(missing_ok=True)  # no clean point: everything is rescanned
    second = crashed / "t-0" / "00000000000000000004.log"
    data = bytearray(second.read_bytes())
    data[300 + 100] ^= 0x01  # a record byte of offset 5: only the CRC notices
    second.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="minikafka.storage"):
        recovered = open_backend(crashed)
    assert recovered.high_watermark("t", 0) == 5
    headers = headers_of(all_records(recovered))
    assert [h.base_offset for h in headers] == [1, 2, 3, 4]
    assert segment_files(crashed) == ["00000000000000000001.log", "00000000000000000004.log"]
    assert "CRC" in caplog.text and "after the corrupt point" in caplog.text


def test_damaged_indexes_on_a_clean_open_are_rebuilt(
    open_backend: Opener, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = open_backend(segment_bytes=3000, index_interval_bytes=200)
    backend.create_topic("t")
    for _ in range(30):
        backend.append("t", 0, [sized_batch(250)])
    stored = all_records(backend)
    backend.close()
    indexes = sorted((root / "t-0").glob("*.index"))
    sealed, active = indexes[0], indexes[-1]
    sealed.write_bytes(b"\x00\x00\x00\x07\x00\x00\x00\x05" * 4)  # points into a batch
    active.write_bytes(b"\xff" * 13)
    with caplog.at_level(logging.WARNING, logger="minikafka.storage"):
        reopened = open_backend()
        assert all_records(reopened) == stored
        for offset in range(1, 31):
            headers = headers_of(reopened.read("t", 0, offset, 1).records)
            assert headers[0].base_offset == offset
    assert caplog.text.count("rebuilding") == 2


def test_leftovers_of_interrupted_topic_operations_are_removed(
    open_backend: Opener, root: Path
) -> None:
    backend = open_backend()
    backend.create_topic("kept")
    backend.append("kept", 0, [make_batch()])
    backend.close()
    # A create that crashed before its topic file, a delete that crashed after it.
    (root / "half-created-0").mkdir()
    (root / "kept-1").mkdir()
    (root / "~trash-0123").mkdir()
    (root / "~tmp-abc").write_bytes(b"{")
    (root / "not a topic-0").mkdir()  # no name this backend makes: not its to remove
    reopened = open_backend()
    assert reopened.topics() == {"kept": 1}
    assert sorted(p.name for p in root.iterdir()) == [
        "kept-0", "kept.topic", "not a topic-0", "~lock",
    ]
    reopened.create_topic("half-created")
    assert reopened.high_watermark("half-created", 0) == 1


def test_deleted_topics_stay_deleted_and_recreated_ones_start_at_one(
    open_backend: Opener, root: Path
) -> None:
    backend = open_backend()
    backend.create_topic("t", partitions=2)
    backend.append("t", 1, [make_batch()])
    backend.delete_topic("t")
    assert sorted(p.name for p in root.iterdir()) == ["~lock"]
    backend.create_topic("t")
    backend.add_partitions("t", 3)
    backend.append("t", 2, [make_batch()])
    backend.close()
    reopened = open_backend()
    assert reopened.topics() == {"t": 3}
    assert reopened.high_watermark("t", 1) == 1
    assert reopened.high_watermark("t", 2) == 2


# -- durability --------------------------------------------------------------


@pytest.fixture
def fsync_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(start, end) monotonic-ns of each data fsync; each takes at least 5 ms."""
    calls: list[tuple[int, int]] = []
    real = os.fdatasync

    def slow_fdatasync(fd: int) -> None:
        start = time.monotonic_ns()
        real(fd)
        time.sleep(0.005)  # a slow disk, so that appends pile up behind it
        calls.append((start, time.monotonic_ns()))

    monkeypatch.setattr(os, "fdatasync", slow_fdatasync)
    return calls


def test_always_fsyncs_before_returning_and_concurrent_appends_share_fsyncs(
    open_backend: Opener, fsync_log: list[tuple[int, int]]
) -> None:
    backend = open_backend(fsync="always")
    assert backend.sync_on_append
    backend.create_topic("t")
    fsync_log.clear()
    acknowledged: list[tuple[int, int]] = []  # (written, returned) in monotonic ns
    def producer() -> None:
        for _ in range(10):
            before = time.monotonic_ns()
            backend.append("t", 0, [make_batch()])
            acknowledged.append((before, time.monotonic_ns()))

    threads = [threading.Thread(target=producer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(acknowledged) == 80
    assert len(fsync_log) < 60  # shared: far fewer fsyncs than appends
    # Every append returned only after an fsync that began after the append began.
    for began, returned in acknowledged:
        assert any(began <= start and end <= returned for start, end in fsync_log)
    assert backend.high_watermark("t", 0) == 81


def test_wait_durable_lets_an_event_loop_append_without_blocking(
    open_backend: Opener, fsync_log: list[tuple[int, int]]
) -> None:
    backend = open_backend(fsync="always")
    backend.create_topic("t")
    fsync_log.clear()
    results = [backend.append_nowait("t", 0, [make_batch()]) for _ in range(20)]
    assert fsync_log == []  # nothing waited for the disk yet
    waiters = [
        threading.Thread(target=backend.wait_durable, args=("t", 0, r.last_offset + 1))
        for r in results
    ]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join()
    assert 1 <= len(fsync_log) <= 2  # one fsync covered all twenty


def test_an_interval_policy_fsyncs_in_the_background(
    open_backend: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = threading.Event()
    real = os.fdatasync

    def noting_fdatasync(fd: int) -> None:
        real(fd)
        synced.set()

    monkeypatch.setattr(os, "fdatasync", noting_fdatasync)
    backend = open_backend(fsync="20ms")
    assert not backend.sync_on_append
    backend.create_topic("t")
    synced.clear()
    backend.append("t", 0, [make_batch()])
    assert synced.wait(5), "no fsync within the interval"


def test_never_does_not_fsync_appends(
    open_backend: Opener, fsync_log: list[tuple[int, int]]
) -> None:
    backend = open_backend(fsync="never")
    backend.create_topic("t")
    fsync_log.clear()
    for _ in range(20):
        backend.append("t", 0, [make_batch()])
    assert fsync_log == []


def test_a_failed_write_stores_nothing(
    open_backend: Opener, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    backend.append("t", 0, [make_batch([b"before"])])
    size = (root / "t-0" / "00000000000000000001.log").stat().st_size

    def disk_full(fd: int, buffers: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwritev", disk_full)
    with pytest.raises(StorageFailure, match="No space"):
        backend.append("t", 0, [make_batch([b"lost"])])
    monkeypatch.undo()
    assert (root / "t-0" / "00000000000000000001.log").stat().st_size == size
    assert backend.high_watermark("t", 0) == 2
    assert backend.append("t", 0, [make_batch([b"after"])]).base_offset == 2
    assert [v for _, v in values_of(all_records(backend))] == [b"before", b"after"]


def test_writes_the_kernel_takes_in_pieces_store_everything(
    open_backend: Opener, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    real_pwritev = os.pwritev

    def seven_bytes_at_a_time(fd: int, buffers: list[bytes], offset: int) -> int:
        return real_pwritev(fd, [b"".join(bytes(b) for b in buffers)[:7]], offset)

    monkeypatch.setattr(os, "pwritev", seven_bytes_at_a_time)
    batches = [make_batch([b"one", b"two"]), make_batch([b"three"])]
    assert backend.append("t", 0, batches).base_offset == 1
    monkeypatch.undo()
    log = (root / "t-0" / "00000000000000000001.log").read_bytes()
    assert log == as_stored(batches[0], 1) + as_stored(batches[1], 3)
    assert [v for _, v in values_of(all_records(backend))] == [b"one", b"two", b"three"]


def test_fsync_policies_are_parsed_from_text() -> None:
    assert FsyncPolicy.parse("always") == FsyncPolicy.always()
    assert FsyncPolicy.parse(" Never ") == FsyncPolicy.never()
    assert FsyncPolicy.parse("1s") == FsyncPolicy.every(1000)
    assert FsyncPolicy.parse("500ms") == FsyncPolicy.every(500)
    assert FsyncPolicy.parse("0.25s") == FsyncPolicy.every(250)
    assert FsyncPolicy.parse("2m") == FsyncPolicy.every(120_000)
    assert str(FsyncPolicy.parse("1s")) == "1s" and str(FsyncPolicy.every(250)) == "250ms"
    for bad in ("", "sometimes", "10", "-1s", "1h", "1 sec"):
        with pytest.raises(ValueError, match="expected 'always', 'never' or an interval"):
            FsyncPolicy.parse(bad)
    for too_short in ("0s", "0.0001s"):
        with pytest.raises(ValueError, match="at least 1ms"):
            FsyncPolicy.parse(too_short)


def test_close_is_clean_only_when_everything_reached_the_disk(
    open_backend: Opener, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    backend.append("t", 0, [make_batch()])

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing_fsync)
    with pytest.raises(StorageFailure, match="not closed cleanly"):
        backend.close()
    monkeypatch.undo()
    assert not (root / "~clean-shutdown").exists()
    reopened = open_backend()
    assert not reopened.was_clean and reopened.high_watermark("t", 0) == 2
