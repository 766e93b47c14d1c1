"""Consumer groups' committed offsets: kept in memory, or in a durable log in the data directory.

The group coordinator records what each group committed for each partition
and asks for it back (OffsetFetch). Two stores honour one interface:

``MemoryOffsets``
    For memory storage: everything is lost when the process ends.
``FileOffsets``
    An append-only log, ``~group-offsets.log`` in the data directory (the
    file backend never uses '~' in a topic's files, so no topic can collide
    with it). Every change is one record, written to the operating system
    before the call returns, so killing the broker loses nothing that was
    acknowledged; the fsync policy (MINIKAFKA_FSYNC) decides when it reaches
    the disk, as it does for messages. Opening replays the log; a torn or
    corrupt tail (a crash in the middle of a write) is cut off with a
    warning. When the log has grown to several times what it holds live, it
    is rewritten as a snapshot of the live offsets (written aside, fsynced,
    then renamed over the log, so a crash leaves the old or the new file).

The log's byte layout (big-endian, as everything in Kafka)::

    file    := MAGIC record*
    MAGIC   := b"MKOFFS" version:uint16 (= 1)
    record  := length:int32 crc:uint32 body     crc is CRC-32C of body; length = len(body)
    body    := kind:int8 timestamp_ms:int64 rest
      kind 1, commit:        group:str count:int32 (topic:str partition:int32 offset:int64
                                                    leader_epoch:int32 metadata:nstr)*count
      kind 2, delete group:  group:str
      kind 3, delete topic:  topic:str              (every group forgets its offsets)
    str     := length:int16 utf-8 bytes           nstr: length -1 means null

A commit request is one record, so it is replayed whole or not at all.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import attrs
import crc32c

from minikafka.storage._common import wall_clock_ms
from minikafka.storage.base import Clock, StorageFailure
from minikafka.storage.fsync import DEFAULT_FSYNC, FsyncPolicy

__all__ = [
    "OFFSETS_FILE",
    "CommittedOffset",
    "CorruptOffsetLog",
    "FileOffsets",
    "MemoryOffsets",
    "OffsetStore",
    "TopicPartition",
]

log = logging.getLogger(__name__)

OFFSETS_FILE = "~group-offsets.log"
_COMPACTING_SUFFIX = ".compacting"
MAGIC = b"MKOFFS\x00\x01"
DEFAULT_COMPACT_BYTES = 4 * 1024 * 1024  # below this the log is never rewritten

TopicPartition = tuple[str, int]

_FRAME = struct.Struct(">iI")  # length, crc
_KIND_TIME = struct.Struct(">bq")
_COUNT = struct.Struct(">i")
_STRING_LENGTH = struct.Struct(">h")
_POSITION = struct.Struct(">iqi")  # partition, offset, leader epoch

_COMMIT = 1
_DELETE_GROUP = 2
_DELETE_TOPIC = 3


@attrs.frozen
class CommittedOffset:
    """A committed position: the next offset the group will read, and what came with it."""

    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""
    commit_timestamp_ms: int = -1


class CorruptOffsetLog(StorageFailure):
    """The offsets file is not one this code wrote (wrong magic): refuse to guess."""


class OffsetStore(Protocol):
    """What the group coordinator needs. Safe to call from several threads."""

    @property
    def sync_on_append(self) -> bool:
        """True when commits must wait for ``wait_durable`` before they are acknowledged."""

    def commit(self, group: str, offsets: Mapping[TopicPartition, CommittedOffset]) -> int:
        """Record ``offsets`` for ``group``, all or nothing; returns a ticket for ``wait_durable``.

        Each offset is stored with the store's clock as its commit time.

        When this returns the commit is visible to ``committed`` and, for a
        durable store, handed to the operating system.
        """

    def wait_durable(self, ticket: int) -> None:
        """Block until the change ``ticket`` names is on disk (at once if not ``sync_on_append``)."""

    def committed(self, group: str) -> dict[TopicPartition, CommittedOffset]:
        """Every offset ``group`` committed (a copy; empty for an unknown group)."""

    def groups(self) -> list[str]:
        """Every group with at least one committed offset."""

    def delete_group(self, group: str) -> int:
        """Forget every offset of ``group``; returns how many there were."""

    def delete_topic(self, topic: str) -> int:
        """Forget every group's offsets in ``topic``; returns how many there were."""

    def flush(self) -> None:
        """Force every change to disk."""

    def close(self) -> None: ...


class _Table:
    """The live offsets, group -> partition -> offset: what the log replays into."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[TopicPartition, CommittedOffset]] = {}

    def commit(self, group: str, offsets: Mapping[TopicPartition, CommittedOffset]) -> None:
        if offsets:
            self.groups.setdefault(group, {}).update(offsets)

    def delete_group(self, group: str) -> int:
        return len(self.groups.pop(group, {}))

    def delete_topic(self, topic: str) -> int:
        removed = 0
        for group in list(self.groups):
            offsets = self.groups[group]
            doomed = [key for key in offsets if key[0] == topic]
            for key in doomed:
                del offsets[key]
            removed += len(doomed)
            if not offsets:
                del self.groups[group]
        return removed

    def count(self) -> int:
        return sum(len(offsets) for offsets in self.groups.values())


class MemoryOffsets:
    """Committed offsets in memory only: the store for memory storage."""

    sync_on_append = False

    def __init__(self, *, clock: Clock = wall_clock_ms) -> None:
        self._clock = clock
        self._table = _Table()
        self._lock = threading.Lock()

    def commit(self, group: str, offsets: Mapping[TopicPartition, CommittedOffset]) -> int:
        now = self._clock()
        stamped = {key: attrs.evolve(value, commit_timestamp_ms=now) for key, value in offsets.items()}
        with self._lock:
            self._table.commit(group, stamped)
        return 0

    def wait_durable(self, ticket: int) -> None:
        return None

    def committed(self, group: str) -> dict[TopicPartition, CommittedOffset]:
        with self._lock:
            return dict(self._table.groups.get(group, {}))

    def groups(self) -> list[str]:
        with self._lock:
            return sorted(self._table.groups)

    def delete_group(self, group: str) -> int:
        with self._lock:
            return self._table.delete_group(group)

    def delete_topic(self, topic: str) -> int:
        with self._lock:
            return self._table.delete_topic(topic)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


# --- the log's records ---------------------------------------------------------------


def _string(text: str) -> bytes:
    data = text.encode()
    if len(data) > 32767:
        raise ValueError(f"{len(data)} bytes is too long for a name (at most 32767)")
    return _STRING_LENGTH.pack(len(data)) + data


def _nullable_string(text: str | None) -> bytes:
    return _STRING_LENGTH.pack(-1) if text is None else _string(text)


def _frame(body: bytes) -> bytes:
    return _FRAME.pack(len(body), crc32c.crc32c(body)) + body


def commit_record(group: str, offsets: Mapping[TopicPartition, CommittedOffset],
                  timestamp_ms: int) -> bytes:
    """One framed commit record (also what a snapshot holds per group)."""
    parts = [_KIND_TIME.pack(_COMMIT, timestamp_ms), _string(group), _COUNT.pack(len(offsets))]
    for (topic, partition), committed in offsets.items():
        parts += [
            _string(topic),
            _POSITION.pack(partition, committed.offset, committed.leader_epoch),
            _nullable_string(committed.metadata),
        ]
    return _frame(b"".join(parts))


def _delete_record(kind: int, name: str, timestamp_ms: int) -> bytes:
    return _frame(_KIND_TIME.pack(kind, timestamp_ms) + _string(name))


class _Reader:
    """Reads the fields of one record body; struct.error or ValueError when it runs short."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.position = 0

    def unpack(self, layout: struct.Struct) -> tuple[int, ...]:
        values = layout.unpack_from(self.body, self.position)
        self.position += layout.size
        return values

    def string(self) -> str | None:
        (length,) = self.unpack(_STRING_LENGTH)
        if length < 0:
            return None
        end = self.position + length
        if end > len(self.body):
            raise ValueError("string runs past the record")
        text = self.body[self.position:end].decode()
        self.position = end
        return text

    def name(self) -> str:
        text = self.string()
        if text is None:
            raise ValueError("null where a name is required")
        return text


def _apply(table: _Table, body: bytes) -> None:
    """Replay one record body into ``table`` (ValueError/struct.error if it is malformed)."""
    reader = _Reader(body)
    kind, timestamp_ms = reader.unpack(_KIND_TIME)
    if kind == _COMMIT:
        group = reader.name()
        (count,) = reader.unpack(_COUNT)
        offsets = {}
        for _ in range(count):
            topic = reader.name()
            partition, offset, epoch = reader.unpack(_POSITION)
            metadata = reader.string()
            offsets[(topic, partition)] = CommittedOffset(offset, epoch, metadata, timestamp_ms)
        table.commit(group, offsets)
    elif kind == _DELETE_GROUP:
        table.delete_group(reader.name())
    elif kind == _DELETE_TOPIC:
        table.delete_topic(reader.name())
    else:
        raise ValueError(f"unknown record kind {kind}")
    if reader.position != len(body):
        raise ValueError("bytes left over after the record")


def _records(data: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    """(end position, body) of each whole record with a matching CRC; stops at the first bad one."""
    position = start
    while position + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, position)
        end = position + _FRAME.size + length
        if length < _KIND_TIME.size or end > len(data):
            return
        body = data[position + _FRAME.size:end]
        if crc32c.crc32c(body) != crc:
            return
        yield end, body
        position = end


def replay(data: bytes, table: _Table) -> int:
    """Apply every good record of a log image to ``table``; returns where the good part ends."""
    if not data.startswith(MAGIC):
        raise ValueError("no offsets-log header")
    good = len(MAGIC)
    for end, body in _records(data, len(MAGIC)):
        try:
            _apply(table, body)
        except (ValueError, struct.error, UnicodeDecodeError):
            break  # a record with a valid CRC that we cannot read: written by something else
        good = end
    return good


# --- the durable store ---------------------------------------------------------------


class FileOffsets:
    """The committed-offsets log in ``directory`` (see the module docstring).

    ``compact_bytes``: the log is rewritten once it is larger than this and
    more than twice the size of a snapshot of its live offsets.
    ``clock`` gives the commit time in ms, recorded with each commit.
    """

    def __init__(self, directory: str | os.PathLike[str], *,
                 fsync: FsyncPolicy | str = DEFAULT_FSYNC,
                 compact_bytes: int = DEFAULT_COMPACT_BYTES,
                 clock: Clock = wall_clock_ms) -> None:
        self.fsync_policy = FsyncPolicy.parse(fsync) if isinstance(fsync, str) else fsync
        if compact_bytes < 1:
            raise ValueError(f"compact_bytes must be positive, not {compact_bytes}")
        self.path = Path(directory) / OFFSETS_FILE
        self.compact_bytes = compact_bytes
        self._clock = clock
        self._table = _Table()
        self._lock = threading.Lock()  # the table, the file descriptor and the counters
        self._sync_lock = threading.Lock()  # one fsync at a time; waiters share it
        self._written = 0  # changes written to the OS
        self._durable = 0  # changes known to be on disk
        self._closed = False
        self._fd = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._size, self._snapshot_size = self._open()
        except OSError as error:
            raise StorageFailure(f"cannot open {self.path}: {error}") from error
        self._stop_flusher = threading.Event()
        self._flusher: threading.Thread | None = None
        if self.fsync_policy.interval_ms is not None:
            self._flusher = threading.Thread(target=self._flush_periodically,
                                             name="minikafka-offsets-fsync", daemon=True)
            self._flusher.start()

    def __repr__(self) -> str:
        return f"<FileOffsets {str(self.path)!r} fsync={self.fsync_policy}>"

    @property
    def sync_on_append(self) -> bool:
        return self.fsync_policy.mode == "always"

    def _open(self) -> tuple[int, int]:
        """Replay the log (creating it if missing); returns (its size, its live size)."""
        leftover = self.path.with_name(self.path.name + _COMPACTING_SUFFIX)
        if leftover.exists():  # a compaction a crash interrupted: the log itself is intact
            leftover.unlink()
        if not self.path.exists():
            self._write_snapshot(b"")
        data = self.path.read_bytes()
        if not data.startswith(MAGIC):
            raise CorruptOffsetLog(f"{self.path} is not a MiniKafka offsets log; refusing to guess")
        good = replay(data, self._table)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        if good < len(data):
            log.warning("%s: cut off %d bytes of a torn or corrupt tail after byte %d",
                        self.path, len(data) - good, good)
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)
        return good, len(self._snapshot_bytes())

    # -- changes ----------------------------------------------------------------------

    def commit(self, group: str, offsets: Mapping[TopicPartition, CommittedOffset]) -> int:
        if not offsets:
            with self._lock:
                return self._written
        now = self._clock()
        stamped = {key: attrs.evolve(value, commit_timestamp_ms=now) for key, value in offsets.items()}
        record = commit_record(group, stamped, now)
        with self._lock:
            ticket = self._append(record)
            self._table.commit(group, stamped)
            grown = self._size > self.compact_bytes and self._size > 2 * self._snapshot_size
        if grown:
            self.compact()
        return ticket

    def delete_group(self, group: str) -> int:
        with self._lock:
            if group not in self._table.groups:
                return 0
            self._append(_delete_record(_DELETE_GROUP, group, self._clock()))
            return self._table.delete_group(group)

    def delete_topic(self, topic: str) -> int:
        with self._lock:
            if not any(key[0] == topic for offsets in self._table.groups.values() for key in offsets):
                return 0
            self._append(_delete_record(_DELETE_TOPIC, topic, self._clock()))
            return self._table.delete_topic(topic)

    def _append(self, record: bytes) -> int:
        """Write one record (the lock is held); returns its ticket."""
        self._check_open()
        try:
            written = os.write(self._fd, record)
            if written != len(record):
                # The disk filled up mid-record: take the partial record back.
                os.ftruncate(self._fd, self._size)
                raise OSError(f"short write ({written} of {len(record)} bytes)")
        except OSError as error:
            raise StorageFailure(f"cannot write {self.path}: {error}") from error
        self._size += len(record)
        self._written += 1
        return self._written

    # -- durability -------------------------------------------------------------------

    def wait_durable(self, ticket: int) -> None:
        if not self.sync_on_append:
            return
        self._sync_up_to(ticket)

    def _sync_up_to(self, ticket: int) -> None:
        with self._sync_lock:
            if self._durable >= ticket:
                return  # another waiter's fsync covered this change
            with self._lock:
                self._check_open()
                target, fd = self._written, self._fd
            try:
                os.fsync(fd)
            except OSError as error:
                raise StorageFailure(f"cannot fsync {self.path}: {error}") from error
            self._durable = max(self._durable, target)

    def flush(self) -> None:
        with self._lock:
            if self._closed:
                return
            written = self._written
        self._sync_up_to(written)

    def _flush_periodically(self) -> None:
        interval = self.fsync_policy.interval_ms
        assert interval is not None
        while not self._stop_flusher.wait(interval / 1000):
            try:
                self.flush()
            except StorageFailure as error:
                log.error("%s", error)

    # -- reading ----------------------------------------------------------------------

    def committed(self, group: str) -> dict[TopicPartition, CommittedOffset]:
        with self._lock:
            return dict(self._table.groups.get(group, {}))

    def groups(self) -> list[str]:
        with self._lock:
            return sorted(self._table.groups)

    # -- compaction -------------------------------------------------------------------

    def _snapshot_bytes(self) -> bytes:
        now = self._clock()
        records = []
        for group, offsets in self._table.groups.items():
            by_time: dict[int, dict[TopicPartition, CommittedOffset]] = {}
            for key, committed in offsets.items():
                by_time.setdefault(committed.commit_timestamp_ms, {})[key] = committed
            # One record per commit time keeps each offset's timestamp through compaction.
            for stamp, group_offsets in by_time.items():
                records.append(commit_record(group, group_offsets, stamp if stamp >= 0 else now))
        return b"".join(records)

    def compact(self) -> None:
        """Rewrite the log as a snapshot of the live offsets."""
        with self._sync_lock, self._lock:  # always in this order: see _sync_up_to
            self._check_open()
            snapshot = self._snapshot_bytes()
            try:
                self._write_snapshot(snapshot)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            except OSError as error:
                raise StorageFailure(f"cannot compact {self.path}: {error}") from error
            os.close(self._fd)
            self._fd = fd
            self._size = len(MAGIC) + len(snapshot)
            self._snapshot_size = len(snapshot)
            self._durable = self._written  # the snapshot was fsynced
        log.debug("%s: compacted to %d bytes", self.path, self._size)

    def _write_snapshot(self, records: bytes) -> None:
        temporary = self.path.with_name(self.path.name + _COMPACTING_SUFFIX)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(MAGIC + records)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    # -- closing ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageFailure(f"{self.path} is closed")

    def close(self) -> None:
        """fsync what was written and close the file (idempotent)."""
        self._stop_flusher.set()
        if self._flusher is not None:
            self._flusher.join()
        with self._sync_lock, self._lock:
            if self._closed:
                return
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._closed = True

    def __enter__(self) -> FileOffsets:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
