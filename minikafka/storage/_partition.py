"""One partition of the file backend: its segments, appends, reads, recovery and retention.

See ``file`` for the directory layout and the durability promises, and
``_segment`` for the segment and index formats.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import attrs
import crc32c

from minikafka.protocol.batch_header import LOG_OVERHEAD, BatchHeader, InvalidBatch
from minikafka.storage._common import batches_from, encode_base_offset, parse_appended
from minikafka.storage._files import (
    TEMPORARY_PREFIX,
    fsync_directory,
    read_json,
    write_atomically,
)
from minikafka.storage._segment import (
    MAX_RELATIVE_OFFSET,
    IndexCache,
    Segment,
    SegmentScan,
    TimeEntry,
    iter_headers,
)
from minikafka.storage.base import (
    FIRST_OFFSET,
    AppendResult,
    Clock,
    OffsetOutOfRange,
    ReadResult,
    StorageFailure,
    UnknownTopic,
)
from minikafka.storage.fsync import FsyncPolicy

__all__ = ["STATE_FILE", "Partition", "PartitionSettings"]

log = logging.getLogger("minikafka.storage")

STATE_FILE = "state.json"
# The start of a batch header, up to lastOffsetDelta (see batch_header): enough to
# step over a batch and check that it is numbered where the previous one ended.
_STEP = struct.Struct(">qiibIhi")
# Bytes of the latest appended batches each partition keeps in memory for reads at the
# end of the log: what a consumer keeping up with small produces asks for next.
TAIL_BYTES = 16 * 1024
_SEGMENT_FILE = re.compile(r"(?P<base>[0-9]{20})\.(?P<kind>log|index|timeindex)")


@attrs.frozen
class PartitionSettings:
    clock: Clock
    fsync: FsyncPolicy
    segment_bytes: int
    segment_ms: int
    index_interval_bytes: int
    wake_flusher: threading.Event
    index_cache: IndexCache


def _next_time_entry(
    last: TimeEntry | None, append_ms: int, max_timestamp: int, relative_offset: int
) -> TimeEntry | None:
    """The time index entry a batch needs, or None (see _segment for the rule)."""
    if last is None:
        return TimeEntry(append_ms, max_timestamp, relative_offset)
    running_max = max(last.max_timestamp, max_timestamp)
    if append_ms > last.append_ms or running_max > last.max_timestamp:
        return TimeEntry(append_ms, running_max, relative_offset)
    return None


class Partition:
    """One partition's segments. ``lock`` guards its state; ``sync_lock`` serialises fsyncs.

    Lock order: backend lock, then ``sync_lock``, then ``lock``. Appends and
    reads take only ``lock``, so they never wait for a disk flush; anything
    that closes files (eviction, deletion, close) also takes ``sync_lock`` so
    that no fsync is in flight on a file being closed.
    """

    def __init__(self, settings: PartitionSettings, directory: Path, topic: str, index: int) -> None:
        self.settings = settings
        self.directory = directory
        self.topic = topic
        self.index = index
        self.lock = threading.Lock()
        self.sync_lock = threading.Lock()
        self.segments: list[Segment] = []
        self.base_offsets: list[int] = []
        self.log_start = FIRST_OFFSET
        self.next_offset = FIRST_OFFSET
        self.recovery_point = FIRST_OFFSET  # first segment base a crash must rescan from
        self.synced_offset = FIRST_OFFSET  # messages below this are on disk
        self.unsynced_sealed: list[Segment] = []  # rolled, not yet fsynced with their indexes
        self.directory_dirty = False
        self.last_append_ms = 0
        self.failure: str | None = None
        # A failed append whose bytes could not be cut off yet (a read-only medium refuses
        # ftruncate too): (segment, size, offset entries, time entries) to go back to.
        self.pending_undo: tuple[Segment, int, int, int] | None = None
        self.closed = False
        # The latest batches appended by this process, as stored: a consumer at the end
        # of the log (a long poll woken by each produce) is served from here, without
        # locating and reading them in the file. Valid while ``tail_end`` is next_offset.
        self.tail_offsets: list[int] = []  # base offsets, ascending
        self.tail_batches: list[bytes] = []
        self.tail_bytes = 0
        self.tail_end = FIRST_OFFSET

    def __repr__(self) -> str:
        return f"<partition {self.topic}-{self.index} {self.log_start}..{self.next_offset}>"

    @property
    def active(self) -> Segment:
        return self.segments[-1]

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.index}"

    # -- creating and opening ---------------------------------------------------

    def create(self) -> None:
        """Make the directory and an empty first segment of a new partition."""
        self.directory.mkdir()
        self._add_segment(FIRST_OFFSET)
        fsync_directory(self.directory)

    def _add_segment(self, base_offset: int) -> Segment:
        segment = Segment(self.directory, base_offset, self.settings.index_cache)
        segment.create()
        self.segments.append(segment)
        self.base_offsets.append(base_offset)
        self.next_offset = base_offset
        self.directory_dirty = True
        return segment

    def load(self, clean: bool) -> None:
        """Open the partition's segments, recovering them unless the last close was clean."""
        state = _open_state(self.directory / STATE_FILE, self.name)
        bases = self._segment_bases()
        saved_start = _int_or(state.get("log_start_offset"), FIRST_OFFSET)
        if not bases:
            self._add_segment(max(FIRST_OFFSET, saved_start))
            self.log_start = self.next_offset
            return
        self.segments = [Segment(self.directory, base, self.settings.index_cache) for base in bases]
        self.base_offsets = list(bases)
        if clean:
            for segment in self.segments[:-1]:
                segment.open_sealed()
            self._resume_active()
        else:
            self._recover(_int_or(state.get("recovery_point"), 0))
        self._settle_log_start(saved_start)
        self.last_append_ms = self._latest_append_ms()
        if clean:
            self.recovery_point = self.active.base_offset
            self.synced_offset = self.next_offset
        else:
            # Make what recovery kept (and rebuilt) durable, then record the new clean point.
            self._sync_locked(full=False)
            self.recovery_point = self.active.base_offset
            self._save_state()

    def _segment_bases(self) -> list[int]:
        """Base offsets of the segments on disk; stray index files are removed."""
        logs: set[int] = set()
        others: list[tuple[int, Path]] = []
        for path in self.directory.iterdir():
            match = _SEGMENT_FILE.fullmatch(path.name)
            if path.name.startswith(TEMPORARY_PREFIX):
                path.unlink()
            elif match is None:
                continue
            elif match["kind"] == "log":
                logs.add(int(match["base"]))
            else:
                others.append((int(match["base"]), path))
        for base, path in others:
            if base not in logs:
                path.unlink()  # an index whose segment was deleted or never written
        return sorted(logs)

    def _resume_active(self) -> None:
        """After a clean close: trust the active segment's indexes, checked at the tail only."""
        segment = self.active
        segment.open_active()
        try:
            self._check_active_indexes(segment)
        except (InvalidBatch, ValueError) as error:
            log.warning("%s: indexes of %s do not match it (%s); rebuilding them",
                        self.name, segment.log_path.name, error)
            self._recover_segment(segment, lower_bound_ms=self._time_before(segment))
            segment.open_active()  # reload the rebuilt indexes for appending
            self._check_active_indexes(segment)

    def _check_active_indexes(self, segment: Segment) -> None:
        """Derive the active segment's append state from its indexes and last batches."""
        index = segment.offset_index
        relative, position = (0, 0)
        if len(index):
            relative, position = index.entry(len(index) - 1)
        if position >= segment.size > 0 or (position and not segment.size):
            raise ValueError(f"offset index points past the end ({position} > {segment.size})")
        next_offset = segment.base_offset + relative
        for batch_position, header in iter_headers(segment.fd, position, segment.size):
            if header.base_offset != next_offset:
                raise ValueError(
                    f"batch at byte {batch_position} has base offset {header.base_offset}, "
                    f"expected {next_offset}"
                )
            next_offset = header.last_offset + 1
        times = segment.time_index
        last = times.last()
        if segment.size and (last is None or last.relative_offset + segment.base_offset
                             >= next_offset):
            raise ValueError("time index does not cover the last batches")
        segment.next_offset = next_offset
        segment.bytes_since_index_entry = segment.size - position
        segment.last_time_entry = last
        segment.first_append_ms = times.at(0).append_ms if last is not None else None
        self.next_offset = next_offset

    def _recover(self, recovery_point: int) -> None:
        """After a crash: rescan every segment from the recovery point, cutting a bad tail."""
        segments = self.segments
        first_rescanned = len(segments) - 1
        for position in range(len(segments) - 1):
            if segments[position + 1].base_offset > recovery_point:
                first_rescanned = position
                break
        for segment in segments[:first_rescanned]:
            segment.open_sealed()
        cut: list[str] = []
        keep = len(segments)
        for position in range(first_rescanned, len(segments)):
            segment = segments[position]
            segment.writable = True
            scan = self._recover_segment(segment, lower_bound_ms=self._time_before(segment))
            following = segments[position + 1].base_offset if position + 1 < len(segments) else None
            if scan.problem is None and following is not None and scan.next_offset != following:
                scan.problem = (
                    f"it ends at offset {scan.next_offset} but the next segment starts at "
                    f"{following}"
                )
            if scan.problem is not None:
                cut.append(
                    f"truncated {segment.log_path.name} at byte {scan.valid_bytes} "
                    f"(offset {scan.next_offset}), cutting {scan.size - scan.valid_bytes} "
                    f"bytes: {scan.problem}"
                )
                keep = position + 1
                break
            if following is not None:
                segment.seal()
                self.unsynced_sealed.append(segment)
        dropped = segments[keep:]
        if dropped:
            dropped_bytes = sum(segment.log_path.stat().st_size for segment in dropped)
            cut.append(
                f"deleted the {len(dropped)} later segments ({dropped_bytes} bytes, "
                f"{dropped[0].log_path.name} to {dropped[-1].log_path.name}) "
                "after the corrupt point"
            )
        for segment in dropped:
            segment.delete()
        del segments[keep:], self.base_offsets[keep:]
        self.active.open_active()
        self._check_active_indexes(self.active)
        self.active.dirty = True  # what the scan read may be only in the page cache
        self.synced_offset = self.active.base_offset
        if cut:
            log.warning("%s: recovered after a crash; %s", self.name, "; ".join(cut))

    def _time_before(self, segment: Segment) -> int | None:
        """The last store time of the segment before ``segment`` (a floor for estimates)."""
        position = self.segments.index(segment)
        if position == 0:
            return None
        last = self.segments[position - 1].latest_time_entry()
        return None if last is None else last.append_ms

    def _recover_segment(self, segment: Segment, lower_bound_ms: int | None) -> SegmentScan:
        """Check every batch of ``segment``, cut it after the valid prefix, rebuild its indexes.

        Store times come from the old time index where its entries still
        match the batches. A batch that should have had an entry but has none
        (the index lost its tail in a power failure) gets an estimate: its own
        timestamp, kept between the previous store time and now.
        """
        settings = self.settings
        size = os.fstat(segment.fd).st_size
        old_times = _read_time_entries(segment)
        now = settings.clock()
        scan = SegmentScan(segment.fd, segment.base_offset, size)
        offsets = bytearray()
        times = bytearray()
        bytes_since_entry = 0
        last: TimeEntry | None = None
        store_ms = lower_bound_ms
        old_position = 0
        for position, header in scan:
            relative = header.base_offset - segment.base_offset
            if bytes_since_entry >= settings.index_interval_bytes:
                offsets += segment.offset_index.pack(relative, position)
                bytes_since_entry = 0
            bytes_since_entry += header.size
            while old_position < len(old_times) and old_times[old_position].relative_offset < relative:
                old_position += 1
            old = old_times[old_position] if old_position < len(old_times) else None
            if old is not None and old.relative_offset == relative and (
                store_ms is None or old.append_ms >= store_ms
            ):
                store_ms = old.append_ms
            elif store_ms is None or last is None or header.max_timestamp > last.max_timestamp:
                floor = store_ms if store_ms is not None else header.max_timestamp
                store_ms = min(max(header.max_timestamp, floor), max(now, floor))
            entry = _next_time_entry(last, store_ms, header.max_timestamp, relative)
            if entry is not None:
                times += segment.time_index.pack(entry)
                last = entry
        if scan.valid_bytes < size:
            os.ftruncate(segment.fd, scan.valid_bytes)
        segment.size = scan.valid_bytes
        segment.next_offset = scan.next_offset
        segment.offset_index.replace(bytes(offsets))
        segment.time_index.replace(bytes(times))
        segment.last_time_entry = last
        return scan

    def _settle_log_start(self, saved_start: int) -> None:
        """Clamp the saved log start to the log, dropping segments wholly below it."""
        start = max(saved_start, self.base_offsets[0])
        if start >= self.next_offset:
            # Everything kept is below the start (or recovery cut the log short of it):
            # continue from the start, since numbers below it were handed out already.
            self._roll_empty_at(start)
        self.log_start = start
        self._delete_segments_below(start)

    def _roll_empty_at(self, offset: int) -> None:
        if self.active.size == 0 and self.active.base_offset == offset:
            return
        self.active.seal()
        self.unsynced_sealed.append(self.active)
        self._add_segment(offset)

    def _delete_segments_below(self, offset: int) -> None:
        """Delete every sealed segment whose messages are all below ``offset``."""
        doomed = 0
        while doomed + 1 < len(self.segments) and self.base_offsets[doomed + 1] <= offset:
            doomed += 1
        for segment in self.segments[:doomed]:
            segment.delete()
            if segment in self.unsynced_sealed:
                self.unsynced_sealed.remove(segment)
        if doomed:
            del self.segments[:doomed], self.base_offsets[:doomed]
            self.directory_dirty = True

    def _latest_append_ms(self) -> int:
        for segment in reversed(self.segments):
            last = segment.latest_time_entry()
            if last is not None:
                return last.append_ms
        return 0

    # -- appending --------------------------------------------------------------

    def append(self, batches: Sequence[bytes | memoryview],
               headers: Sequence[BatchHeader] | None = None) -> AppendResult:
        parsed = parse_appended(batches, headers)
        total = count = 0
        for _, header in parsed:
            total += header.batch_length + LOG_OVERHEAD
            count += header.last_offset_delta + 1
        if count > MAX_RELATIVE_OFFSET:
            raise InvalidBatch(f"{count} offsets in one append is more than a segment can index")
        settings = self.settings
        with self.lock:
            self._check_usable()
            self._finish_undo()
            now = max(settings.clock(), self.last_append_ms)
            segment = self.active
            if segment.size and (
                segment.size + total > settings.segment_bytes
                or (segment.first_append_ms is not None
                    and now - segment.first_append_ms >= settings.segment_ms)
                or self.next_offset + count - 1 - segment.base_offset > MAX_RELATIVE_OFFSET
            ):
                self._roll()
                segment = self.active
            buffers: list[bytes | memoryview] = []
            offset_entries = bytearray()
            time_entries = bytearray()
            offset = self.next_offset
            position = segment.size
            bytes_since_entry = segment.bytes_since_index_entry
            last = segment.last_time_entry
            for view, header in parsed:
                buffers += (encode_base_offset(offset), view[8:])
                relative = offset - segment.base_offset
                if bytes_since_entry >= settings.index_interval_bytes:
                    offset_entries += segment.offset_index.pack(relative, position)
                    bytes_since_entry = 0
                bytes_since_entry += header.size
                entry = _next_time_entry(last, now, header.max_timestamp, relative)
                if entry is not None:
                    time_entries += segment.time_index.pack(entry)
                    last = entry
                position += header.size
                offset += header.last_offset_delta + 1
            self._write(segment, buffers, total, bytes(offset_entries), bytes(time_entries))
            self._remember_tail(buffers, parsed)
            base_offset = self.next_offset
            segment.next_offset = self.next_offset = offset
            segment.bytes_since_index_entry = bytes_since_entry
            segment.last_time_entry = last
            if segment.first_append_ms is None:
                segment.first_append_ms = now
            self.last_append_ms = now
            return AppendResult(
                base_offset=base_offset,
                last_offset=offset - 1,
                append_time_ms=now,
                log_start_offset=self.log_start,
            )

    def _remember_tail(self, buffers: list[bytes | memoryview],
                       parsed: list[tuple[memoryview, BatchHeader]]) -> None:
        """Add the batches just written (``buffers``: base offset, rest; per batch) to the tail."""
        if self.tail_end != self.next_offset:
            self._clear_tail()
        offset = self.next_offset
        for position, (_, header) in enumerate(parsed):
            size = header.size
            if size > TAIL_BYTES:
                self._clear_tail()
            else:
                self.tail_offsets.append(offset)
                self.tail_batches.append(b"".join(buffers[2 * position : 2 * position + 2]))
                self.tail_bytes += size
            offset += header.last_offset_delta + 1
        self.tail_end = offset
        if self.tail_bytes > 2 * TAIL_BYTES:  # drop the older half at once, not one by one
            keep, kept_bytes = len(self.tail_batches), 0
            while keep and kept_bytes + len(self.tail_batches[keep - 1]) <= TAIL_BYTES:
                keep -= 1
                kept_bytes += len(self.tail_batches[keep])
            del self.tail_offsets[:keep], self.tail_batches[:keep]
            self.tail_bytes = kept_bytes

    def _clear_tail(self) -> None:
        self.tail_offsets.clear()
        self.tail_batches.clear()
        self.tail_bytes = 0

    def _read_tail(self, offset: int, max_bytes: int) -> ReadResult | None:
        """What ``read`` returns, from the tail, when it holds ``offset`` (else None)."""
        offsets = self.tail_offsets
        if (not offsets or offset < offsets[0] or offset >= self.next_offset
                or self.tail_end != self.next_offset):
            return None
        return ReadResult(batches_from(self.tail_batches, offsets, offset, max_bytes),
                          self.next_offset, self.log_start)

    def _write(
        self, segment: Segment, buffers: list[bytes | memoryview], total: int,
        offset_entries: bytes, time_entries: bytes,
    ) -> None:
        """Write batches then index entries; on failure undo all three, or fail the partition."""
        size = segment.size
        offset_count = time_count = -1  # the index sizes to go back to, read when needed
        try:
            segment.write(buffers, total)
            if offset_entries:
                offset_count = len(segment.offset_index)
                segment.offset_index.append(offset_entries)
            if time_entries:
                time_count = len(segment.time_index)
                segment.time_index.append(time_entries)
        except OSError as error:
            if offset_count < 0:
                offset_count = len(segment.offset_index)
            if time_count < 0:
                time_count = len(segment.time_index)
            self.pending_undo = (segment, size, offset_count, time_count)
            try:
                self._finish_undo()
            except StorageFailure as undo_error:
                # Reads stop at segment.size, so the bytes past it are never served; the
                # next append tries again to cut them off before writing anything.
                log.warning("%s", undo_error)
            raise StorageFailure(f"{self.name}: append failed: {error}") from error

    def _finish_undo(self) -> None:
        """Cut off what a failed append left (StorageFailure while that is impossible)."""
        if self.pending_undo is None:
            return
        segment, size, offset_count, time_count = self.pending_undo
        try:
            os.ftruncate(segment.fd, size)
            segment.size = size
            segment.offset_index.truncate(offset_count)
            segment.time_index.truncate(time_count)
        except OSError as error:
            raise StorageFailure(
                f"{self.name}: cannot yet undo a failed append ({error}); appends wait for it"
            ) from error
        self.pending_undo = None

    def _roll(self) -> None:
        """Seal the active segment and start a new one at the next offset."""
        sealed = self.active
        try:
            self._add_segment(self.next_offset)
        except OSError as error:
            raise StorageFailure(f"{self.name}: cannot start a new segment: {error}") from error
        sealed.seal()
        self.unsynced_sealed.append(sealed)
        self.settings.wake_flusher.set()  # fsync the sealed segment in the background

    def _check_readable(self) -> None:
        """Reads go on after append or fsync failures: what was stored is still there."""
        if self.closed:
            raise UnknownTopic(self.topic, self.index)

    def _check_usable(self) -> None:
        if self.closed:
            raise UnknownTopic(self.topic, self.index)
        if self.failure is not None:
            raise StorageFailure(f"{self.name}: {self.failure}")

    # -- durability -------------------------------------------------------------

    def wait_durable(self, offset: int) -> None:
        """Return once messages below ``offset`` are fsynced; waiters share one fsync."""
        if self.synced_offset >= offset:
            return
        with self.sync_lock:
            # Whoever held the lock before us may have synced our messages too.
            if self.synced_offset < offset:
                self._sync_locked(full=False)

    def sync(self, full: bool = False) -> None:
        """fsync what was appended; ``full`` also fsyncs the active segment's indexes."""
        with self.sync_lock:
            self._sync_locked(full)

    def needs_sync(self) -> bool:
        return bool(self.active.dirty or self.unsynced_sealed or self.directory_dirty)

    def _sync_locked(self, full: bool) -> None:
        with self.lock:
            if self.closed:
                return
            self._check_usable()
            target = self.next_offset
            active = self.active
            write_active = active.dirty or full
            active.dirty = False  # appends made during the fsync set it again
            sealed = list(self.unsynced_sealed)
            directory_dirty = self.directory_dirty
            self.directory_dirty = False
        try:
            for segment in sealed:
                segment.fsync_all()
            if write_active:
                if full:
                    active.fsync_all()
                else:
                    active.fsync_data()
            if directory_dirty:
                fsync_directory(self.directory)
        except OSError as error:
            # After a failed fsync the kernel may have dropped the dirty pages; nothing
            # appended since can be promised durable, so the partition stops accepting.
            with self.lock:
                self.failure = f"fsync failed: {error}"
            raise StorageFailure(f"{self.name}: fsync failed: {error}") from error
        with self.lock:
            self.synced_offset = max(self.synced_offset, target)
            if not sealed:
                return
            for segment in sealed:
                if segment in self.unsynced_sealed:
                    self.unsynced_sealed.remove(segment)
            pending = self.unsynced_sealed[0] if self.unsynced_sealed else self.active
            self.recovery_point = pending.base_offset
            state = self._state()
        # Outside the lock, so appends go on; sync_lock keeps state writers in order.
        try:
            write_atomically(self.directory / STATE_FILE, state)
        except OSError as error:  # only the recovery point lags: a crash rescans more
            raise StorageFailure(f"{self.name}: cannot save {STATE_FILE}: {error}") from error

    def _state(self) -> bytes:
        state = {"log_start_offset": self.log_start, "recovery_point": self.recovery_point}
        return _seal_state(state)

    def _save_state(self) -> None:
        write_atomically(self.directory / STATE_FILE, self._state())

    # -- reading ----------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> ReadResult:
        with self.lock:
            if self.closed:
                self._check_readable()
            if not self.log_start <= offset <= self.next_offset:
                raise OffsetOutOfRange(offset, self.log_start, self.next_offset)
            from_tail = self._read_tail(offset, max_bytes)
            if from_tail is not None:
                return from_tail
            parts: list[bytes | memoryview] = []
            if offset < self.next_offset:
                first = bisect.bisect_right(self.base_offsets, offset) - 1
                budget = max_bytes
                for segment in self.segments[first:]:
                    if segment.size == 0:
                        continue
                    if parts:
                        start, first_offset, first_size = 0, segment.base_offset, 0
                    else:
                        start, header = self._locate(segment, offset)
                        first_offset, first_size = header.base_offset, header.size
                    data, reached_end = _whole_batches(
                        segment, start, max(budget, first_size), first_offset
                    )
                    if data:
                        parts.append(data)
                    budget -= len(data)
                    if not reached_end or budget <= 0:
                        break
            records: bytes | memoryview = parts[0] if len(parts) == 1 else b"".join(parts)
            return ReadResult(records, self.next_offset, self.log_start)

    def _locate(self, segment: Segment, offset: int) -> tuple[int, BatchHeader]:
        """(position, header) of the batch holding ``offset``."""
        try:
            return segment.locate(offset, segment.size)
        except InvalidBatch as error:
            # The index and the log disagree (a damaged index file): rebuild it once.
            log.warning("%s: %s; rebuilding the indexes of %s",
                        self.name, error, segment.log_path.name)
            self._rebuild_indexes(segment)
            return segment.locate(offset, segment.size)

    def _rebuild_indexes(self, segment: Segment) -> None:
        writable = segment.writable
        scan = SegmentScan(segment.fd, segment.base_offset, segment.size)
        for _ in scan:
            pass
        if scan.problem is not None:
            self.failure = f"{segment.log_path.name} is corrupt: {scan.problem}"
            raise StorageFailure(f"{self.name}: {self.failure}")
        self._recover_segment(segment, lower_bound_ms=self._time_before(segment))
        if writable:
            segment.open_active()
            self._check_active_indexes(segment)

    def offset_for_timestamp(self, timestamp_ms: int) -> int | None:
        with self.lock:
            self._check_readable()
            first = bisect.bisect_right(self.base_offsets, self.log_start) - 1
            for segment in self.segments[first:]:
                last = segment.latest_time_entry()
                if last is None or last.max_timestamp < timestamp_ms:
                    continue
                relative = segment.time_index.first_reaching(timestamp_ms)
                assert relative is not None  # the last entry reaches it
                offset = segment.base_offset + relative
                if offset >= self.log_start:
                    return offset
                # Only the first segment, partly evicted: look past the log start.
                start, _ = segment.locate(self.log_start, segment.size)
                for _, header in iter_headers(segment.fd, start, segment.size):
                    if header.max_timestamp >= timestamp_ms:
                        return header.base_offset
            return None

    # -- retention --------------------------------------------------------------

    def evict(self, cutoff_ms: int) -> int:
        """Drop every batch stored before ``cutoff_ms``; returns how many messages went."""
        with self.sync_lock, self.lock:
            if self.closed or self.log_start == self.next_offset:
                return 0
            self._check_usable()
            new_start = self.next_offset
            first = bisect.bisect_right(self.base_offsets, self.log_start) - 1
            for segment in self.segments[first:]:
                last = segment.latest_time_entry()
                if last is None or last.append_ms < cutoff_ms:
                    continue  # empty, or every batch in it expired
                relative = segment.time_index.first_stored_at_or_after(cutoff_ms)
                assert relative is not None
                new_start = segment.base_offset + relative
                break
            if new_start <= self.log_start:
                return 0
            evicted = new_start - self.log_start
            try:
                if new_start == self.next_offset:
                    self._roll_empty_at(new_start)  # the empty segment's name keeps the number
                self.log_start = new_start
                self._save_state()
                self._delete_segments_below(new_start)
            except OSError as error:
                raise StorageFailure(f"{self.name}: eviction failed: {error}") from error
            return evicted

    # -- closing ----------------------------------------------------------------

    def close(self, clean: bool) -> None:
        """Close the files; when ``clean``, fsync everything first so the next open trusts it."""
        with self.sync_lock:
            try:
                if clean and self.failure is None and not self.closed:
                    self._sync_locked(full=True)
                    with self.lock:
                        self.recovery_point = self.active.base_offset
                        self._save_state()
            finally:
                with self.lock:
                    self.closed = True
                    for segment in self.segments:
                        segment.close()


def _seal_state(state: dict[str, int]) -> bytes:
    """The state file's bytes: the fields and a CRC-32C of them, so damage is noticed."""
    payload = json.dumps(state, sort_keys=True)
    return json.dumps({"state": state, "crc32c": crc32c.crc32c(payload.encode())}).encode()


def _open_state(path: Path, name: str) -> dict[str, object]:
    """The saved state, or {} (meaning: rescan everything) if it is missing or damaged."""
    content = read_json(path)
    if content is None:
        if path.exists():
            log.warning("%s: %s is unreadable; recovering from the first segment", name, path.name)
        return {}
    state = content.get("state")
    payload = json.dumps(state, sort_keys=True).encode()
    if not isinstance(state, dict) or content.get("crc32c") != crc32c.crc32c(payload):
        log.warning("%s: %s fails its checksum; recovering from the first segment",
                    name, path.name)
        return {}
    return state


def _int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _read_time_entries(segment: Segment) -> list[TimeEntry]:
    """The time index entries on disk that are in order (a damaged tail is ignored)."""
    try:
        data = segment.time_index.path.read_bytes()
    except FileNotFoundError:
        return []
    entries: list[TimeEntry] = []
    size = segment.time_index.ENTRY.size
    for at in range(0, len(data) - len(data) % size, size):
        entry = TimeEntry(*segment.time_index.ENTRY.unpack_from(data, at))
        if entries and (
            entry.relative_offset <= entries[-1].relative_offset
            or entry.append_ms < entries[-1].append_ms
            or entry.max_timestamp < entries[-1].max_timestamp
        ):
            break
        entries.append(entry)
    return entries


def _whole_batches(
    segment: Segment, start: int, budget: int, first_offset: int
) -> tuple[bytes | memoryview, bool]:
    """Whole batches from byte ``start`` within ``budget`` bytes, and whether the segment ended.

    One pread. The frames in it are stepped over to cut at the last whole
    batch, checking as they pass that each is magic 2 and numbered where the
    previous one ended: a damaged segment stops a read (StorageFailure) rather
    than serving misnumbered bytes. (The caller makes the budget at least the
    first batch's size, so that one is always returned whole.)
    """
    data = segment.read(start, min(segment.size - start, max(budget, _STEP.size)))
    end = 0
    expected = first_offset
    while end + _STEP.size <= len(data):
        base_offset, length, _, magic, _, _, last_offset_delta = _STEP.unpack_from(data, end)
        if base_offset != expected or magic != 2 or length < _STEP.size - LOG_OVERHEAD:
            if end:
                break  # serve what precedes the damage; the next read reports it
            raise StorageFailure(
                f"{segment.log_path} holds no batch numbered {expected} at byte {start}"
            )
        if end + length + LOG_OVERHEAD > len(data):
            break
        end += length + LOG_OVERHEAD
        expected = base_offset + last_offset_delta + 1
    reached_end = start + end == segment.size
    return (data if end == len(data) else memoryview(data)[:end]), reached_end
