"""Retention: messages expire by the time the server stored them, on a clock the test moves.

No test sleeps. The contract suite covers the basic cases on every backend;
here a random history is checked against a model on every backend, and the
file backend's own promises are checked: whole segments deleted, the log
start and the numbering kept across restarts and crashes, store times kept
in the time index.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest

from minikafka.storage.base import OffsetOutOfRange

from .batches import headers_of, make_batch, sized_batch, values_of
from .conftest import BACKENDS, FakeClock, Opener
from .files import crash_copy, segment_files

HOUR = 3_600_000


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
@pytest.mark.parametrize("seed", range(6))
def test_random_histories_match_a_model(backend_name: str, seed: int) -> None:
    """Appends, clock jumps and evictions at random; the backend agrees with a simple model."""
    rng = random.Random(seed)
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as directory:
        store = BACKENDS[backend_name](clock, Path(directory) / "data")
        try:
            store.create_topic("t", partitions=2)
            stored: list[list[tuple[int, int, int]]] = [[], []]  # (first, last, store time)
            next_offsets = [1, 1]
            log_starts = [1, 1]
            for _ in range(120):
                action = rng.random()
                partition = rng.randrange(2)
                if action < 0.6:
                    records = rng.randint(1, 4)
                    result = store.append("t", partition, [make_batch([b"x"] * records)])
                    assert result.base_offset == next_offsets[partition]
                    stored[partition].append((result.base_offset, result.last_offset, clock.now))
                    next_offsets[partition] = result.last_offset + 1
                elif action < 0.85:
                    clock.advance(rng.choice([0, 1, 999, 1000, 60_000, 600_000]))
                else:
                    retention = rng.choice([0, 1000, 60_000, 300_000])
                    expected = 0
                    for p in (0, 1):
                        kept = [b for b in stored[p] if b[2] >= clock.now - retention]
                        start = kept[0][0] if kept else next_offsets[p]
                        expected += start - log_starts[p]
                        log_starts[p] = start
                        stored[p] = kept
                    assert store.evict(clock.now, retention) == expected
                for p in (0, 1):
                    assert store.log_start_offset("t", p) == log_starts[p]
                    assert store.high_watermark("t", p) == next_offsets[p]
            for p in (0, 1):
                if log_starts[p] > 1:
                    with pytest.raises(OffsetOutOfRange):
                        store.read("t", p, log_starts[p] - 1, 1 << 20)
                read = store.read("t", p, log_starts[p], 1 << 20).records
                assert [(h.base_offset, h.last_offset) for h in headers_of(read)] == [
                    (first, last) for first, last, _ in stored[p]
                ]
        finally:
            store.close()


def test_numbering_continues_across_eviction_and_restart_with_an_empty_log(
    open_backend: Opener, root: Path, tmp_path: Path, clock: FakeClock
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    for _ in range(5):
        backend.append("t", 0, [make_batch()])
    clock.advance(HOUR + 1)
    assert backend.evict(clock.now, HOUR) == 5
    assert segment_files(root) == ["00000000000000000006.log"]
    crashed = crash_copy(root, tmp_path / "crashed")
    backend.close()
    for path in (root, crashed):
        reopened = open_backend(path)
        assert (reopened.log_start_offset("t", 0), reopened.high_watermark("t", 0)) == (6, 6)
        assert reopened.append("t", 0, [make_batch()]).base_offset == 6


def test_the_log_start_survives_a_restart_inside_a_segment(
    open_backend: Opener, root: Path, tmp_path: Path, clock: FakeClock
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    for _ in range(3):
        backend.append("t", 0, [make_batch([b"old"])])
    clock.advance(HOUR)
    backend.append("t", 0, [make_batch([b"young"])])
    clock.advance(1)
    assert backend.evict(clock.now, HOUR) == 3
    assert len(segment_files(root)) == 1  # the segment still holds "young"
    crashed = crash_copy(root, tmp_path / "crashed")
    backend.close()
    for path in (root, crashed):
        reopened = open_backend(path)
        assert reopened.log_start_offset("t", 0) == 4
        with pytest.raises(OffsetOutOfRange):
            reopened.read("t", 0, 1, 1024)
        assert [v for _, v in values_of(reopened.read("t", 0, 4, 1024).records)] == [b"young"]
        assert reopened.offset_for_timestamp("t", 0, 0) == 4


def test_store_times_survive_restarts_and_crashes(
    open_backend: Opener, root: Path, tmp_path: Path, clock: FakeClock
) -> None:
    backend = open_backend(segment_bytes=300)
    backend.create_topic("t")
    for _ in range(4):
        backend.append("t", 0, [make_batch(timestamp=0)])
        clock.advance(10 * 60_000)
    crashed = crash_copy(root, tmp_path / "crashed")
    backend.close()
    clock.advance(HOUR)  # the first append is now 100 minutes old, the last 70
    for path in (root, crashed):
        reopened = open_backend(path)
        assert reopened.evict(clock.now, 85 * 60_000) == 2
        assert reopened.log_start_offset("t", 0) == 3


def test_a_lost_time_index_tail_is_estimated_from_batch_timestamps(
    open_backend: Opener, root: Path, tmp_path: Path, clock: FakeClock
) -> None:
    # A power failure can lose index writes that the log's writes survived.
    backend = open_backend()
    backend.create_topic("t")
    backend.append("t", 0, [make_batch(timestamp=clock.now)])
    clock.advance(2 * HOUR)
    backend.append("t", 0, [make_batch(timestamp=clock.now)])
    crashed = crash_copy(root, tmp_path / "crashed")
    (crashed / "t-0" / "00000000000000000001.timeindex").write_bytes(b"")
    clock.advance(1)
    recovered = open_backend(crashed)
    assert recovered.evict(clock.now, HOUR) == 1
    assert recovered.high_watermark("t", 0) == 3
    assert recovered.log_start_offset("t", 0) == 2


# -- retention on disk -------------------------------------------------------


def test_whole_segments_are_deleted_once_all_their_messages_expire(
    open_backend: Opener, root: Path, clock: FakeClock
) -> None:
    backend = open_backend(segment_bytes=700)
    backend.create_topic("t")
    for _ in range(9):  # 300-byte batches, two to a 700-byte segment
        backend.append("t", 0, [sized_batch(300)])
        clock.advance(60_000)
    assert len(segment_files(root)) == 5
    # Now the batches are 9, 8, ... 1 minutes old. Keep those younger than 5.5 minutes.
    assert backend.evict(clock.now, 5 * 60_000 + 30_000) == 4
    assert backend.log_start_offset("t", 0) == 5
    assert segment_files(root) == [
        "00000000000000000005.log", "00000000000000000007.log", "00000000000000000009.log",
    ]
    # Their indexes went with them (the active segment's offset index is written
    # when it is sealed or closed).
    remaining = {name[:20] for name in segment_files(root)}
    assert {name[:20] for name in segment_files(root, suffix=".timeindex")} == remaining
    assert {name[:20] for name in segment_files(root, suffix=".index")} <= remaining
    assert headers_of(backend.read("t", 0, 5, 1 << 20).records)[0].base_offset == 5


def test_an_expired_message_is_never_read_even_inside_a_kept_segment(
    open_backend: Opener, clock: FakeClock
) -> None:
    backend = open_backend()
    backend.create_topic("t")
    backend.append("t", 0, [make_batch([b"expired"])])
    clock.advance(HOUR)
    backend.append("t", 0, [make_batch([b"young"])])
    clock.advance(1)
    backend.evict(clock.now, HOUR)
    with pytest.raises(OffsetOutOfRange):
        backend.read("t", 0, 1, 1 << 20)
    assert [v for _, v in values_of(backend.read("t", 0, 2, 1 << 20).records)] == [b"young"]




def test_a_steady_stream_keeps_a_bounded_number_of_segments(
    open_backend: Opener, root: Path, clock: FakeClock
) -> None:
    backend = open_backend(segment_ms=HOUR)
    backend.create_topic("t")
    for minute in range(0, 10 * 60, 10):  # ten hours, one batch every ten minutes
        backend.append("t", 0, [make_batch([b"%d" % minute])])
        clock.advance(10 * 60_000)
        backend.evict(clock.now, 2 * HOUR)
        # Hourly segments, two hours kept: the active one and at most two older ones.
        assert len(segment_files(root)) <= 3
    assert backend.log_start_offset("t", 0) == 60 - 12 + 1  # the last two hours' 12 batches
    values = [value for _, value in values_of(backend.read("t", 0, 49, 1 << 20).records)]
    assert values == [b"%d" % minute for minute in range(480, 600, 10)]
