"""Committed offsets: the memory store and the durable log, replay, torn tails, compaction, fsync."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minikafka.storage.base import StorageFailure
from minikafka.storage.offsets import (
    MAGIC,
    OFFSETS_FILE,
    CommittedOffset,
    CorruptOffsetLog,
    FileOffsets,
    MemoryOffsets,
    OffsetStore,
)

from .conftest import FakeClock

STORES: dict[str, Callable[[Path, FakeClock], OffsetStore]] = {
    "memory": lambda root, clock: MemoryOffsets(clock=clock),
    "file": lambda root, clock: FileOffsets(root, fsync="never", clock=clock),
}


@pytest.fixture(params=sorted(STORES))
def offsets(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[OffsetStore]:
    store = STORES[request.param](tmp_path, clock)
    yield store
    store.close()


def at(offset: int, metadata: str | None = "", epoch: int = -1) -> CommittedOffset:
    return CommittedOffset(offset, epoch, metadata)


# --- the contract, for both stores --------------------------------------------------


def test_nothing_committed_is_an_empty_mapping(offsets: OffsetStore) -> None:
    assert offsets.committed("nobody") == {}
    assert offsets.groups() == []


def test_commits_are_read_back_and_later_ones_win(offsets: OffsetStore) -> None:
    offsets.commit("g", {("t", 0): at(5, "first"), ("t", 1): at(7, None, epoch=3)})
    offsets.commit("g", {("t", 0): at(9)})
    committed = offsets.committed("g")
    assert {value.commit_timestamp_ms for value in committed.values()} == {1_700_000_000_000}
    assert {key: (value.offset, value.metadata, value.leader_epoch)
            for key, value in committed.items()} == {("t", 0): (9, "", -1), ("t", 1): (7, None, 3)}
    assert offsets.groups() == ["g"]


def test_groups_are_separate(offsets: OffsetStore) -> None:
    offsets.commit("a", {("t", 0): at(1)})
    offsets.commit("b", {("t", 0): at(2)})
    assert offsets.committed("a")[("t", 0)].offset == 1
    assert offsets.committed("b")[("t", 0)].offset == 2
    assert offsets.groups() == ["a", "b"]


def test_committed_returns_a_copy(offsets: OffsetStore) -> None:
    offsets.commit("g", {("t", 0): at(1)})
    offsets.committed("g").clear()
    assert offsets.committed("g") == {("t", 0): offsets.committed("g")[("t", 0)]}


def test_delete_group_forgets_its_offsets_only(offsets: OffsetStore) -> None:
    offsets.commit("a", {("t", 0): at(1), ("t", 1): at(1)})
    offsets.commit("b", {("t", 0): at(2)})
    assert offsets.delete_group("a") == 2
    assert offsets.delete_group("a") == 0
    assert offsets.committed("a") == {}
    assert offsets.groups() == ["b"]


def test_delete_topic_forgets_that_topic_in_every_group(offsets: OffsetStore) -> None:
    offsets.commit("a", {("gone", 0): at(1), ("kept", 0): at(1)})
    offsets.commit("b", {("gone", 3): at(2)})
    assert offsets.delete_topic("gone") == 2
    assert offsets.committed("a") == {("kept", 0): offsets.committed("a")[("kept", 0)]}
    assert offsets.groups() == ["a"]  # b had nothing else


# --- the durable log ------------------------------------------------------------------


def test_commits_survive_reopening(tmp_path: Path, clock: FakeClock) -> None:
    with FileOffsets(tmp_path, fsync="never", clock=clock) as store:
        store.commit("g", {("t", 0): at(5, "meta", epoch=2), ("t", 1): at(6, None)})
        clock.advance(1000)
        store.commit("g", {("t", 1): at(8)})
        store.commit("other", {("u", 0): at(1)})
        store.delete_group("other")
    with FileOffsets(tmp_path, fsync="never", clock=clock) as store:
        assert store.committed("g") == {
            ("t", 0): CommittedOffset(5, 2, "meta", clock.now - 1000),
            ("t", 1): CommittedOffset(8, -1, "", clock.now),
        }
        assert store.groups() == ["g"]


def test_a_torn_tail_is_cut_off_and_the_log_carries_on(tmp_path: Path, clock: FakeClock,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with FileOffsets(tmp_path, clock=clock) as store:
        store.commit("g", {("t", 0): at(5)})
        store.commit("g", {("t", 0): at(6)})
    path = tmp_path / OFFSETS_FILE
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # the last record was half written when the power went
    with caplog.at_level(logging.WARNING), FileOffsets(tmp_path, clock=clock) as store:
        assert store.committed("g")[("t", 0)].offset == 5
        store.commit("g", {("t", 0): at(7)})
    assert "torn or corrupt tail" in caplog.text
    with FileOffsets(tmp_path, clock=clock) as store:
        assert store.committed("g")[("t", 0)].offset == 7


def test_a_record_with_a_bad_checksum_ends_the_replay(tmp_path: Path, clock: FakeClock) -> None:
    with FileOffsets(tmp_path, clock=clock) as store:
        store.commit("g", {("t", 0): at(5)})
        size_after_first = (tmp_path / OFFSETS_FILE).stat().st_size
        store.commit("g", {("t", 0): at(6)})
    path = tmp_path / OFFSETS_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip bits in the second record's body
    path.write_bytes(bytes(data))
    with FileOffsets(tmp_path, clock=clock) as store:
        assert store.committed("g")[("t", 0)].offset == 5
    assert path.stat().st_size == size_after_first


def test_a_file_that_is_not_an_offsets_log_is_refused(tmp_path: Path) -> None:
    (tmp_path / OFFSETS_FILE).write_bytes(b"something else entirely")
    with pytest.raises(CorruptOffsetLog, match="not a MiniKafka offsets log"):
        FileOffsets(tmp_path)


def test_a_new_log_starts_with_its_header(tmp_path: Path) -> None:
    FileOffsets(tmp_path).close()
    assert (tmp_path / OFFSETS_FILE).read_bytes() == MAGIC


def test_the_log_is_compacted_when_it_grows(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / OFFSETS_FILE
    with FileOffsets(tmp_path, fsync="never", compact_bytes=2000, clock=clock) as store:
        for offset in range(1000):
            clock.advance(1)
            store.commit("g", {("t", offset % 3): at(offset, f"m{offset}")})
        store.commit("h", {("t", 0): at(1)})
        # Without compaction 1,000 commits take ~30 kB; the log stays near its threshold.
        assert path.stat().st_size < 4000
    with FileOffsets(tmp_path, fsync="never", clock=clock) as store:
        assert {key: (value.offset, value.metadata) for key, value in store.committed("g").items()} == {
            ("t", 0): (999, "m999"), ("t", 1): (997, "m997"), ("t", 2): (998, "m998")
        }
        assert store.committed("g")[("t", 1)].commit_timestamp_ms == clock.now - 2  # 997 was the 998th commit
        assert store.groups() == ["g", "h"]


def test_a_compaction_interrupted_by_a_crash_leaves_the_log_intact(tmp_path: Path) -> None:
    with FileOffsets(tmp_path) as store:
        store.commit("g", {("t", 0): at(5)})
    leftover = tmp_path / (OFFSETS_FILE + ".compacting")
    leftover.write_bytes(MAGIC + b"\x00\x00")
    with FileOffsets(tmp_path) as store:
        assert store.committed("g")[("t", 0)].offset == 5
    assert not leftover.exists()


def test_a_closed_log_refuses_commits(tmp_path: Path) -> None:
    store = FileOffsets(tmp_path)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StorageFailure, match="closed"):
        store.commit("g", {("t", 0): at(1)})


# --- fsync policies -------------------------------------------------------------------


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records every os.fsync call (and still makes it)."""
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_always_syncs_before_acknowledging_and_waiters_share_an_fsync(tmp_path: Path,
                                                                     fsyncs: list[int]) -> None:
    with FileOffsets(tmp_path, fsync="always") as store:
        assert store.sync_on_append
        fsyncs.clear()
        first = store.commit("g", {("t", 0): at(1)})
        second = store.commit("g", {("t", 0): at(2)})
        assert fsyncs == []  # commit only hands the record to the OS
        store.wait_durable(second)
        store.wait_durable(first)  # covered by the fsync for the later ticket
        assert len(fsyncs) == 1


def test_never_does_not_sync_commits(tmp_path: Path, fsyncs: list[int]) -> None:
    with FileOffsets(tmp_path, fsync="never") as store:
        assert not store.sync_on_append
        fsyncs.clear()
        ticket = store.commit("g", {("t", 0): at(1)})
        store.wait_durable(ticket)
        assert fsyncs == []


def test_an_interval_syncs_in_the_background(tmp_path: Path, fsyncs: list[int]) -> None:
    with FileOffsets(tmp_path, fsync="20ms") as store:
        fsyncs.clear()
        store.commit("g", {("t", 0): at(1)})
        deadline = time.monotonic() + 5
        while not fsyncs and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fsyncs, "the interval flusher never synced the commit"
        synced = len(fsyncs)
        time.sleep(0.1)
        assert len(fsyncs) == synced  # nothing new written: nothing more to sync
