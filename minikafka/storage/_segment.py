"""One log segment of the file backend: a batch file and its two sparse indexes.

A segment is named by the offset of its first message, zero-padded to 20
digits as Kafka does (``00000000000000000001.log``), and holds:

``.log``
    record batches exactly as they travel on the wire, base offsets already
    rewritten by the broker, one after another.
``.index``
    sparse offset index: an entry (offset - segment base: uint32, byte
    position: uint32) for the first batch after every ``index_interval_bytes``
    bytes. A lookup bisects it, then reads batch headers forward.
``.timeindex``
    time index: an entry (append time ms: int64, running maximum of the
    batches' maxTimestamp: int64, offset - segment base: uint32) whenever a
    batch is stored at a later millisecond than the last entry or raises the
    running maximum. So every batch between two entries was stored at the
    earlier entry's time (retention is exact to the millisecond), and the first
    entry whose running maximum reaches a timestamp names the first batch
    whose own timestamp does (ListOffsets needs no scan).

The active segment keeps its offset index in memory only (written out when
the segment is sealed or closed, rebuilt from the log after a crash) and its
time index both in memory and on disk, written with each append, since store
times cannot be rebuilt from the log. A sealed segment loads its offset index
into arrays and maps its time index on first use. Nothing here locks (but the
IndexCache): the partition that owns a segment serialises access to it.
"""

from __future__ import annotations

import bisect
import errno
import mmap
import os
import struct
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import attrs

from minikafka.protocol.batch_header import (
    BATCH_HEADER_SIZE,
    LOG_OVERHEAD,
    BatchHeader,
    InvalidBatch,
    check_batch,
)

__all__ = [
    "INDEX_SUFFIX",
    "LOG_SUFFIX",
    "MAX_RELATIVE_OFFSET",
    "TIME_INDEX_SUFFIX",
    "IndexCache",
    "OffsetIndex",
    "Segment",
    "SegmentScan",
    "TimeEntry",
    "TimeIndex",
    "iter_headers",
    "pwrite_all",
    "segment_name",
]

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
MAX_RELATIVE_OFFSET = 2**31 - 1  # index entries hold offsets relative to the segment base
_SCAN_CHUNK = 8 << 20  # recovery reads segments in pieces this large
_BATCH_FRAME = struct.Struct(">qi")  # baseOffset, batchLength: enough to step over a batch
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class _EntryTable:
    """Fixed-size entries in a file: mirrored in memory while writable, mapped once sealed."""

    def __init__(self, path: Path, entry: struct.Struct) -> None:
        self.path = path
        self._entry = entry
        self._buffer: bytearray | mmap.mmap | bytes | None = None
        self._count = 0
        self._fd: int | None = None  # open for writing while the segment is active

    # -- opening ------------------------------------------------------------

    def open_writable(self) -> None:
        """Open for appending, read what is there, drop a torn trailing entry."""
        self.release()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        whole = size - size % self._entry.size
        if whole != size:
            os.ftruncate(self._fd, whole)
        data = bytearray(os.pread(self._fd, whole, 0)) if whole else bytearray()
        self._buffer = data
        self._count = len(data) // self._entry.size

    def _mapped(self) -> bytearray | mmap.mmap | bytes:
        if self._buffer is None:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                self._buffer = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if size else b""
            finally:
                os.close(fd)  # the mapping keeps its own reference
            self._count = size // self._entry.size  # a torn tail entry is ignored
        return self._buffer

    # -- entries ------------------------------------------------------------

    def __len__(self) -> int:
        self._mapped()
        return self._count

    def entry(self, index: int) -> tuple[int, ...]:
        return self._entry.unpack_from(self._mapped(), index * self._entry.size)

    def column(self, field: int) -> _Column:
        return _Column(self, field)

    def append(self, data: bytes) -> None:
        """Add packed entries (writable tables only)."""
        assert self._fd is not None and isinstance(self._buffer, bytearray)
        os.write(self._fd, data)
        self._buffer += data
        self._count += len(data) // self._entry.size

    def truncate(self, count: int) -> None:
        """Keep the first ``count`` entries (writable tables only)."""
        assert self._fd is not None and isinstance(self._buffer, bytearray)
        os.ftruncate(self._fd, count * self._entry.size)
        del self._buffer[count * self._entry.size :]
        self._count = count

    def replace(self, data: bytes) -> None:
        """Rewrite the whole file with ``data`` (an index rebuilt by recovery)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self.release()
        self._buffer = bytes(data)
        self._count = len(data) // self._entry.size

    def fsync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def seal(self) -> None:
        """Stop writing; the in-memory copy stays and serves lookups."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if isinstance(self._buffer, bytearray):
            self._buffer = bytes(self._buffer)

    def release(self) -> None:
        """Close the file and drop the entries from memory (they reload on demand)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if isinstance(self._buffer, mmap.mmap):
            self._buffer.close()
        self._buffer = None
        self._count = 0


@attrs.frozen
class _Column:
    """One field of every entry, as a read-only sequence that ``bisect`` can search."""

    table: _EntryTable
    field: int

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> int:
        return self.table.entry(index)[self.field]


class IndexCache:
    """Bounds how many sealed segments keep their offset index loaded in memory.

    A sealed segment's offset index is read into two arrays on first use, so
    lookups bisect in C; the least recently used ones are dropped (and read
    again when needed) once more than ``capacity`` are loaded. Shared by all
    partitions of a backend, hence its own lock.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._loaded: OrderedDict[OffsetIndex, None] = OrderedDict()

    def touch(self, index: OffsetIndex) -> None:
        with self._lock:
            self._loaded[index] = None
            self._loaded.move_to_end(index)
            while len(self._loaded) > self.capacity:
                oldest, _ = self._loaded.popitem(last=False)
                oldest.unload()

    def forget(self, index: OffsetIndex) -> None:
        with self._lock:
            self._loaded.pop(index, None)


class OffsetIndex:
    """Sparse map from relative offset to byte position, bisected in memory.

    The file holds big-endian (uint32 relative offset, uint32 position)
    pairs; in memory they are two native arrays. The active segment's index
    lives in memory only and is written out when the segment is sealed or
    the backend closes cleanly: after a crash the active segment is rescanned
    anyway, so writing it on every append would buy nothing. A sealed
    segment's index loads on demand (see IndexCache).
    """

    ENTRY = struct.Struct(">II")

    def __init__(self, path: Path, cache: IndexCache) -> None:
        self.path = path
        self._cache = cache
        self._relative: array[int] | None = None
        self._positions: array[int] | None = None
        self._writable = False
        self._unwritten = False  # the arrays hold entries the file lacks

    @staticmethod
    def _columns(data: bytes) -> tuple[array[int], array[int]]:
        pairs = array("I")
        pairs.frombytes(data[: len(data) - len(data) % OffsetIndex.ENTRY.size])
        if sys.byteorder == "little":
            pairs.byteswap()
        return pairs[0::2], pairs[1::2]

    def open_writable(self) -> None:
        """Load the file (a torn trailing entry is ignored) to go on appending in memory."""
        self.release()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        self._relative, self._positions = self._columns(data)
        self._writable = True
        self._unwritten = len(data) % self.ENTRY.size != 0 or not self.path.exists()

    def _loaded(self) -> tuple[array[int], array[int]]:
        relative, positions = self._relative, self._positions
        if relative is None or positions is None:
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                data = b""
            relative, positions = self._columns(data)
            self._relative, self._positions = relative, positions
            self._cache.touch(self)
        return relative, positions

    def unload(self) -> None:
        """Drop the arrays of a sealed index (the cache's choice); they reload on demand."""
        if not self._writable and not self._unwritten:
            self._relative = self._positions = None

    def __len__(self) -> int:
        return len(self._loaded()[0])

    def entry(self, index: int) -> tuple[int, int]:
        relative, positions = self._loaded()
        return relative[index], positions[index]

    def position_before(self, relative_offset: int) -> tuple[int, int]:
        """(relative offset, position) of the last entry at or before ``relative_offset``."""
        relative, positions = self._loaded()
        index = bisect.bisect_right(relative, relative_offset) - 1
        return (relative[index], positions[index]) if index >= 0 else (0, 0)

    def pack(self, relative_offset: int, position: int) -> bytes:
        return self.ENTRY.pack(relative_offset, position)

    def append(self, data: bytes) -> None:
        """Add packed entries (writable indexes only)."""
        assert self._writable and self._relative is not None and self._positions is not None
        relative, positions = self._columns(data)
        self._relative.extend(relative)
        self._positions.extend(positions)
        self._unwritten = True

    def truncate(self, count: int) -> None:
        """Keep the first ``count`` entries (writable indexes only)."""
        assert self._writable and self._relative is not None and self._positions is not None
        del self._relative[count:], self._positions[count:]
        self._unwritten = True

    def replace(self, data: bytes) -> None:
        """Rewrite the whole file with ``data`` (an index rebuilt by recovery)."""
        _write_file(self.path, data)
        writable = self._writable
        self.release()
        self._relative, self._positions = self._columns(data)
        self._writable = writable
        if not writable:
            self._cache.touch(self)

    def persist(self) -> None:
        """Write the in-memory entries to the file if it lacks some."""
        if not self._unwritten or self._relative is None or self._positions is None:
            return
        pairs = array("I", bytes(8 * len(self._relative)))
        pairs[0::2] = self._relative
        pairs[1::2] = self._positions
        if sys.byteorder == "little":
            pairs.byteswap()
        _write_file(self.path, pairs.tobytes())
        self._unwritten = False

    def seal(self) -> None:
        """Stop appending: write the file; the arrays serve lookups until the cache drops them."""
        self.persist()
        if self._writable:
            self._writable = False
            self._cache.touch(self)

    def release(self) -> None:
        """Drop the arrays (entries not yet written are lost: call persist first)."""
        self._relative = self._positions = None
        self._writable = self._unwritten = False
        self._cache.forget(self)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        pwrite_all(fd, [data], 0)
    finally:
        os.close(fd)


@attrs.frozen
class TimeEntry:
    append_ms: int
    max_timestamp: int  # running maximum within the segment, through this entry's batch
    relative_offset: int


class TimeIndex(_EntryTable):
    """Store times and running maximum client timestamps, by relative offset."""

    ENTRY = struct.Struct(">qqI")

    def __init__(self, path: Path) -> None:
        super().__init__(path, self.ENTRY)

    def at(self, index: int) -> TimeEntry:
        return TimeEntry(*self.entry(index))

    def last(self) -> TimeEntry | None:
        count = len(self)
        return self.at(count - 1) if count else None

    def first_stored_at_or_after(self, append_ms: int) -> int | None:
        """Relative offset of the first batch stored at or after ``append_ms``."""
        index = bisect.bisect_left(self.column(0), append_ms)
        return self.at(index).relative_offset if index < len(self) else None

    def first_reaching(self, timestamp: int) -> int | None:
        """Relative offset of the first batch whose maxTimestamp is >= ``timestamp``."""
        index = bisect.bisect_left(self.column(1), timestamp)
        return self.at(index).relative_offset if index < len(self) else None

    def pack(self, entry: TimeEntry) -> bytes:
        return self.ENTRY.pack(entry.append_ms, entry.max_timestamp, entry.relative_offset)


class SegmentScan:
    """Every batch of a segment checked from its start: framing, magic, CRC, contiguous offsets.

    Iterating yields (position, header) of each valid batch; afterwards
    ``valid_bytes``, ``next_offset`` and ``problem`` (why the scan stopped
    before the end, or None) describe the valid prefix. Used by crash
    recovery; a segment trusted as clean is never scanned.
    """

    def __init__(self, fd: int, base_offset: int, size: int) -> None:
        self._fd = fd
        self.size = size
        self.valid_bytes = 0
        self.next_offset = base_offset
        self.batches = 0
        self.problem: str | None = None

    def __iter__(self) -> Iterator[tuple[int, BatchHeader]]:
        for position, buffer, offset in _frames(self._fd, 0, self.size):
            try:
                header = check_batch(buffer, offset)
            except InvalidBatch as error:
                self.problem = f"batch at byte {position}: {error}"
                return
            if header.base_offset != self.next_offset:
                self.problem = (
                    f"batch at byte {position} has base offset {header.base_offset}, "
                    f"expected {self.next_offset}"
                )
                return
            yield position, header
            self.valid_bytes = position + header.size
            self.next_offset = header.last_offset + 1
            self.batches += 1
        if self.valid_bytes < self.size:
            remaining = self.size - self.valid_bytes
            self.problem = f"{remaining} bytes at byte {self.valid_bytes} are not a whole batch"


def _frames(fd: int, start: int, end: int) -> Iterator[tuple[int, bytes, int]]:
    """(position, buffer, offset in buffer) of each whole batch frame from ``start`` to ``end``.

    Reads in large chunks and yields a batch only once all its bytes are in
    the buffer. A frame with an impossible length, or one running past
    ``end``, is yielded as is so that the caller's check rejects it.
    """
    position = start
    while position < end:
        chunk = os.pread(fd, min(_SCAN_CHUNK, end - position), position)
        offset = 0
        while len(chunk) - offset >= LOG_OVERHEAD:
            _, length = _BATCH_FRAME.unpack_from(chunk, offset)
            size = length + LOG_OVERHEAD
            if length < BATCH_HEADER_SIZE - LOG_OVERHEAD or position + offset + size > end:
                yield position + offset, chunk, offset
                return
            if offset + size > len(chunk):
                if offset == 0:  # one batch larger than the chunk: read it whole
                    yield position, os.pread(fd, size, position), 0
                    offset = size
                break
            yield position + offset, chunk, offset
            offset += size
        if offset == 0:
            yield position, chunk, 0  # a fragment shorter than a frame header
            return
        position += offset


def iter_headers(fd: int, start: int, end: int, window: int = 16384) -> Iterator[tuple[int, BatchHeader]]:
    """(position, header) of each batch from ``start`` to ``end``, reading headers only.

    For stepping over trusted batches (from an index entry to an offset, or to
    the end of a segment). Raises InvalidBatch where the bytes cannot be a
    batch frame.
    """
    buffer = b""
    buffer_start = start
    position = start
    while position < end:
        if position + BATCH_HEADER_SIZE > buffer_start + len(buffer):
            buffer = os.pread(fd, min(window, end - position), position)
            buffer_start = position
        header = BatchHeader.parse(buffer, position - buffer_start)
        if header.size < BATCH_HEADER_SIZE or position + header.size > end:
            raise InvalidBatch(f"no batch frame at byte {position}")
        yield position, header
        position += header.size


def pwrite_all(fd: int, buffers: list[bytes | memoryview], position: int) -> None:
    """Write every buffer at ``position`` with as few system calls as the kernel allows."""
    pending = [buffer for buffer in buffers if len(buffer)]
    first = 0
    while first < len(pending):
        written = os.pwritev(fd, pending[first : first + _IOV_MAX], position)
        if written <= 0:
            raise OSError(errno.ENOSPC, "the file system accepted no bytes")
        position += written
        while written:  # skip what was written; trim a partly written buffer
            head = pending[first]
            if written >= len(head):
                written -= len(head)
                first += 1
            else:
                pending[first] = memoryview(head)[written:]
                written = 0


def _after(buffers: list[bytes | memoryview], written: int) -> list[bytes | memoryview]:
    """What is left of ``buffers`` once their first ``written`` bytes are written."""
    rest: list[bytes | memoryview] = []
    for buffer in buffers:
        if written >= len(buffer):
            written -= len(buffer)
        else:
            rest.append(memoryview(buffer)[written:] if written else buffer)
            written = 0
    return rest


class Segment:
    """A segment's files and what is known about them without reading its batches."""

    def __init__(self, directory: Path, base_offset: int, index_cache: IndexCache) -> None:
        self.base_offset = base_offset
        stem = directory / segment_name(base_offset)
        self.log_path = stem.with_suffix(LOG_SUFFIX)
        self.offset_index = OffsetIndex(stem.with_suffix(INDEX_SUFFIX), index_cache)
        self.time_index = TimeIndex(stem.with_suffix(TIME_INDEX_SUFFIX))
        self._fd: int | None = None
        self.size = 0  # bytes of whole, acknowledged batches
        self.writable = False
        self.dirty = False  # written since the last fsync
        # Known while active (from appends, or from the indexes at open):
        self.next_offset = base_offset
        self.bytes_since_index_entry = 0
        self.first_append_ms: int | None = None
        self.last_time_entry: TimeEntry | None = None

    def __repr__(self) -> str:
        return f"<Segment {self.log_path.name} {self.size} bytes>"

    # -- files --------------------------------------------------------------

    @property
    def fd(self) -> int:
        """The log file, opened on first use (sealed segments open lazily)."""
        if self._fd is None:
            flags = os.O_RDWR if self.writable else os.O_RDONLY
            self._fd = os.open(self.log_path, flags | os.O_CREAT, 0o644)
        return self._fd

    def create(self) -> None:
        """Make the three empty files of a new active segment."""
        self.writable = True
        self._fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        self.offset_index.open_writable()
        self.time_index.open_writable()

    def open_active(self) -> None:
        """Open an existing segment for appending; its indexes load into memory."""
        self.writable = True
        if self._fd is None:
            self._fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT, 0o644)
        self.size = os.fstat(self._fd).st_size
        self.offset_index.open_writable()
        self.time_index.open_writable()

    def open_sealed(self) -> None:
        self.writable = False
        self.size = os.stat(self.log_path).st_size

    def seal(self) -> None:
        """No more appends: the indexes become read-only (the log stays open for reads)."""
        self.writable = False
        self.offset_index.seal()
        self.time_index.seal()

    def latest_time_entry(self) -> TimeEntry | None:
        """The last time index entry: store time and running maximum timestamp of the end."""
        if self.last_time_entry is None and not self.writable:
            self.last_time_entry = self.time_index.last()
        return self.last_time_entry

    def fsync_data(self) -> None:
        os.fdatasync(self.fd)

    def fsync_all(self) -> None:
        """Log and both indexes (when a sealed segment becomes trusted, and at a clean close)."""
        self.offset_index.persist()
        os.fdatasync(self.fd)
        for path in (self.offset_index.path, self.time_index.path):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.offset_index.release()
        self.time_index.release()

    def delete(self) -> None:
        self.close()
        for path in (self.log_path, self.offset_index.path, self.time_index.path):
            path.unlink(missing_ok=True)

    # -- appending ----------------------------------------------------------

    def write(self, buffers: list[bytes | memoryview], total: int) -> None:
        """Write ``buffers`` at the end of the log; on OSError the file is cut back first."""
        try:
            # Almost always one call writes everything; pwrite_all handles the rest.
            written = os.pwritev(self.fd, buffers, self.size) if len(buffers) <= _IOV_MAX else 0
            if written < total:
                pwrite_all(self.fd, _after(buffers, written), self.size + written)
        except OSError:
            os.ftruncate(self.fd, self.size)
            raise
        self.size += total
        self.dirty = True

    def read(self, position: int, length: int) -> bytes:
        return os.pread(self.fd, length, position)

    # -- locating -----------------------------------------------------------

    def locate(self, offset: int, end: int) -> tuple[int, BatchHeader]:
        """(byte position, header) of the batch holding ``offset``, which this segment has.

        Bisects the sparse index, then steps over batch headers (reading 4 KiB
        at a time: about what lies between two index entries). Raises
        InvalidBatch if the index and the log disagree.
        """
        relative, position = self.offset_index.position_before(offset - self.base_offset)
        expected = self.base_offset + relative
        for batch_position, header in iter_headers(self.fd, position, end, window=4096):
            if header.base_offset != expected:
                raise InvalidBatch(
                    f"{self.log_path.name} has a batch numbered {header.base_offset} at byte "
                    f"{batch_position}, where {expected} was due (from {self.offset_index.path.name})"
                )
            if header.last_offset >= offset:
                return batch_position, header
            expected = header.last_offset + 1
        raise InvalidBatch(f"offset {offset} is not in {self.log_path.name} where indexed")
