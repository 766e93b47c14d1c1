"""The file-segment backend, MiniKafka's default store: Kafka's log design on local disk.

Layout under the root directory::

    <topic>.topic                    {"partitions": n, "config": {...}}: the topic exists
    <topic>-<partition>/             one directory per partition
        00000000000000000001.log     record batches byte-for-byte, base offsets assigned
        00000000000000000001.index   sparse offset index (see _segment)
        00000000000000000001.timeindex  store times and timestamps (see _segment)
        state.json                   log start offset and recovery point
    ~clean-shutdown                  present only between a clean close and the next open
    ~lock                            held (flock) while a process has the directory open

Topic names are checked against Kafka's rules before any file operation, and
'~' (used by the backend's own files) never occurs in one.

Appending writes the batches with one ``pwritev`` and any new time index
entry with one ``write`` (the active segment's offset index is kept in memory
and written when the segment is sealed or closed; a crash rebuilds it). A
read locates its offset by bisecting the segment list and the segment's
sparse index, then returns whole batches with one ``pread`` per segment,
stepping over their 12-byte frames to stop at a batch boundary and to check
that each is numbered where the previous one ended: no per-record work. A
read within the latest few KiB appended (a consumer keeping up, woken by
each produce) is served from a copy kept in memory, without a system call.

Durability, by MINIKAFKA_FSYNC (see ``fsync.FsyncPolicy``):

* Every policy: an append is written to the operating system before it
  returns, so killing the process (SIGKILL included) loses nothing
  acknowledged. A rolled segment and its indexes are fsynced once, in the
  background, before recovery may trust them.
* ``always``: a produce is acknowledged after its data is fsynced; appends
  waiting at the same time share one fsync (``wait_durable``). A power failure
  loses nothing acknowledged.
* ``1s`` (the default) or another interval: a background thread fsyncs what
  was appended once per interval. A power failure loses at most about that
  long of acknowledged messages.
* ``never``: only rolled segments are fsynced; a power failure can lose
  whatever the operating system had not yet written back, up to the whole
  active segment.

After a power failure the lost messages' numbers may be handed out again,
because the log ends earlier than it did; a process crash never does that.

Recovery: a clean close fsyncs everything and leaves ``~clean-shutdown``; the
next open then trusts the indexes and does work proportional to the number
of partitions and segments, not to the bytes stored. After a crash, each
partition rescans the segments from its recovery point (in practice the
active segment and any rolled segment not yet fsynced): every batch's length,
magic and CRC are checked, and offsets must be contiguous. A torn or corrupt
tail is cut off (with everything after it) and one warning says what was cut.
A damaged index is rebuilt from its segment, when it is opened or when a
lookup finds that it disagrees with the log. Segments that recovery trusts
(fsynced before the crash, or everything after a clean close) are not
re-read, as in Kafka: decay of their bytes at rest is left to the consumers'
CRC checks, except that reads refuse batches whose numbering is broken.

Retention: each batch's store time (the clock's, not the client's) is in the
time index. ``evict`` moves the log start offset past every expired batch, so
they are never read again, and deletes each segment whose batches have all
expired. The log always keeps an active segment named by the next offset, so
numbering continues after everything expired, across restarts too. The
broker calls ``evict`` periodically (a batch is served until the call that
expires it); when nothing has expired it costs a bisection or two per
partition.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from minikafka.protocol.batch_header import BatchHeader
from minikafka.storage._common import (
    check_partition_count,
    check_topic_config,
    find_partition,
    retention_override,
    wall_clock_ms,
)
from minikafka.storage._files import (
    TEMPORARY_PREFIX,
    fsync_directory,
    read_json,
    write_atomically,
)
from minikafka.storage._partition import Partition, PartitionSettings
from minikafka.storage._segment import IndexCache
from minikafka.storage.base import (
    AppendResult,
    Clock,
    InvalidPartitions,
    InvalidTopicName,
    ReadResult,
    StorageFailure,
    TopicAlreadyExists,
    UnknownTopic,
)
from minikafka.storage.fsync import DEFAULT_FSYNC, FsyncPolicy
from minikafka.storage.names import validate_topic_name

__all__ = [
    "DEFAULT_INDEX_INTERVAL_BYTES",
    "DEFAULT_SEGMENT_BYTES",
    "DEFAULT_SEGMENT_MS",
    "FileBackend",
]

log = logging.getLogger("minikafka.storage")

DEFAULT_SEGMENT_BYTES = 128 << 20  # bounds what a crash makes recovery rescan
DEFAULT_SEGMENT_MS = 7 * 24 * 3_600_000  # Kafka's log.roll.hours default
DEFAULT_INDEX_INTERVAL_BYTES = 4096  # Kafka's index.interval.bytes default
MAX_SEGMENT_BYTES = 2**31 - 1  # index positions are 32-bit
# Sealed segments whose offset index stays loaded (at most ~256 KiB each with the defaults).
SEALED_INDEXES_IN_MEMORY = 256

CLEAN_SHUTDOWN = "~clean-shutdown"
LOCK_FILE = "~lock"
TRASH_PREFIX = "~trash-"
TOPIC_SUFFIX = ".topic"
_PARTITION_DIRECTORY = re.compile(r"(?P<topic>.+)-(?P<partition>0|[1-9][0-9]*)")


@attrs.define
class _Topic:
    config: dict[str, str]
    partitions: list[Partition]


class FileBackend:
    """Topics in segment files under ``root``. Safe to call from several threads.

    ``fsync`` is a FsyncPolicy or its text ("always", "never", "1s", ...).
    ``segment_bytes`` and ``segment_ms`` roll the active segment by size and by
    age. Opening takes an exclusive lock on the directory (StorageFailure if
    another process holds it); ``close`` flushes everything and marks the
    shutdown clean.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        clock: Clock = wall_clock_ms,
        fsync: FsyncPolicy | str = DEFAULT_FSYNC,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        segment_ms: int = DEFAULT_SEGMENT_MS,
        index_interval_bytes: int = DEFAULT_INDEX_INTERVAL_BYTES,
    ) -> None:
        policy = FsyncPolicy.parse(fsync) if isinstance(fsync, str) else fsync
        if not 1 <= segment_bytes <= MAX_SEGMENT_BYTES:
            raise ValueError(f"segment_bytes must be 1..{MAX_SEGMENT_BYTES}, not {segment_bytes}")
        if segment_ms < 1:
            raise ValueError(f"segment_ms must be positive, not {segment_ms}")
        if index_interval_bytes < 0:
            raise ValueError(f"index_interval_bytes must be >= 0, not {index_interval_bytes}")
        self.root = Path(root)
        self.fsync_policy = policy
        self._settings = PartitionSettings(
            clock, policy, segment_bytes, segment_ms, index_interval_bytes, threading.Event(),
            IndexCache(SEALED_INDEXES_IN_MEMORY),
        )
        self._lock = threading.Lock()
        self._topics: dict[str, _Topic] = {}
        self._closed = False
        self._lock_fd = -1
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StorageFailure(f"{self.root} is in use by another process") from None
            self.was_clean = self._open()
        except BaseException as error:
            for topic in self._topics.values():
                for partition in topic.partitions:
                    partition.close(clean=False)
            self._release_lock()
            if isinstance(error, OSError):
                raise StorageFailure(f"cannot open {self.root}: {error}") from error
            raise
        self._flusher = threading.Thread(
            target=self._flush_in_background, name="minikafka-fsync", daemon=True
        )
        self._flusher.start()

    def __repr__(self) -> str:
        return f"<FileBackend {str(self.root)!r} fsync={self.fsync_policy}>"

    @property
    def sync_on_append(self) -> bool:
        return self.fsync_policy.mode == "always"

    # -- opening ------------------------------------------------------------------

    def _open(self) -> bool:
        marker = self.root / CLEAN_SHUTDOWN
        clean = marker.exists()
        if clean:
            marker.unlink()  # from now on, a crash must be noticed
            fsync_directory(self.root)
        declared: dict[str, tuple[int, dict[str, str]]] = {}
        directories: list[Path] = []
        for path in sorted(self.root.iterdir()):
            name = path.name
            if name.startswith(TRASH_PREFIX) or name.startswith(TEMPORARY_PREFIX):
                _remove(path)
            elif name.endswith(TOPIC_SUFFIX) and path.is_file():
                topic = name[: -len(TOPIC_SUFFIX)]
                if _is_topic_name(topic):
                    declared[topic] = self._read_topic_file(path)
                else:
                    log.warning("ignoring %s: not a topic this backend could have made", path)
            elif path.is_dir() and _PARTITION_DIRECTORY.fullmatch(name):
                directories.append(path)
        for path in directories:
            match = _PARTITION_DIRECTORY.fullmatch(path.name)
            assert match is not None
            topic, number = match["topic"], int(match["partition"])
            if not _is_topic_name(topic):
                continue  # not ours: leave it alone
            if topic not in declared or number >= declared[topic][0]:
                # Left by a create, delete or add_partitions that a crash interrupted.
                log.warning("removing %s: it belongs to no topic", path)
                self._discard_directory(path)
        for topic, (count, config) in declared.items():
            partitions: list[Partition] = []
            self._topics[topic] = _Topic(config, partitions)  # filled as they open
            for index in range(count):
                partition = Partition(self._settings, self._partition_path(topic, index),
                                       topic, index)
                if not partition.directory.is_dir():
                    log.warning("%s: directory missing; starting it empty", partition.name)
                    partition.create()
                else:
                    partition.load(clean)
                partitions.append(partition)
        return clean

    def _read_topic_file(self, path: Path) -> tuple[int, dict[str, str]]:
        content = read_json(path)
        count = content.get("partitions") if content else None
        config = content.get("config") if content else None
        if not isinstance(count, int) or count < 1 or not isinstance(config, dict):
            raise StorageFailure(f"{path} is not a topic description; refusing to guess")
        return count, {str(k): str(v) for k, v in config.items()}

    def _partition_path(self, topic: str, partition: int) -> Path:
        return self.root / f"{topic}-{partition}"

    def _topic_path(self, topic: str) -> Path:
        return self.root / f"{topic}{TOPIC_SUFFIX}"

    def _discard_directory(self, path: Path) -> None:
        """Rename ``path`` out of the way (atomic), then delete it."""
        trash = self.root / f"{TRASH_PREFIX}{uuid.uuid4().hex}"
        path.rename(trash)
        _remove(trash)

    # -- topics -------------------------------------------------------------------

    def create_topic(
        self, topic: str, partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> None:
        validate_topic_name(topic)
        check_partition_count(topic, partitions)
        settings = check_topic_config(topic, config)
        with self._lock:
            self._check_open()
            if topic in self._topics:
                raise TopicAlreadyExists(topic)
            created = self._create_partitions(topic, 0, partitions)
            try:
                self._write_topic_file(topic, partitions, settings)
            except OSError as error:
                for partition in created:
                    partition.close(clean=False)
                    self._discard_directory(partition.directory)
                raise StorageFailure(f"cannot create topic {topic}: {error}") from error
            self._topics[topic] = _Topic(settings, created)

    def _create_partitions(self, topic: str, first: int, end: int) -> list[Partition]:
        """Make partition directories ``first``..``end``-1; the topic file commits them."""
        created: list[Partition] = []
        try:
            for index in range(first, end):
                partition = Partition(self._settings, self._partition_path(topic, index),
                                       topic, index)
                if partition.directory.exists():
                    self._discard_directory(partition.directory)  # an interrupted attempt
                partition.create()
                created.append(partition)
            fsync_directory(self.root)
        except OSError as error:
            for partition in created:
                partition.close(clean=False)
                self._discard_directory(partition.directory)
            raise StorageFailure(f"cannot create partitions of {topic}: {error}") from error
        return created

    def _write_topic_file(self, topic: str, partitions: int, config: dict[str, str]) -> None:
        content = {"partitions": partitions, "config": config}
        write_atomically(self._topic_path(topic), json.dumps(content).encode())

    def delete_topic(self, topic: str) -> None:
        with self._lock:
            self._check_open()
            found = self._topics.get(topic)
            if found is None:
                raise UnknownTopic(topic)
            try:
                self._topic_path(topic).unlink()
                fsync_directory(self.root)  # the topic is gone once this is durable
            except OSError as error:
                raise StorageFailure(f"cannot delete topic {topic}: {error}") from error
            del self._topics[topic]
            for partition in found.partitions:
                partition.close(clean=False)
                try:
                    self._discard_directory(partition.directory)
                except OSError as error:  # the next open removes what is left
                    log.warning("could not remove %s: %s", partition.directory, error)

    def add_partitions(self, topic: str, total: int) -> None:
        with self._lock:
            self._check_open()
            found = self._topic(topic)
            check_partition_count(topic, total)
            existing = len(found.partitions)
            if total <= existing:
                raise InvalidPartitions(
                    topic, f"it has {existing} partitions; {total} would not add any"
                )
            created = self._create_partitions(topic, existing, total)
            try:
                self._write_topic_file(topic, total, found.config)
            except OSError as error:
                for partition in created:
                    partition.close(clean=False)
                    self._discard_directory(partition.directory)
                raise StorageFailure(f"cannot add partitions to {topic}: {error}") from error
            found.partitions.extend(created)

    def topics(self) -> dict[str, int]:
        with self._lock:
            self._check_open()
            return {name: len(topic.partitions) for name, topic in self._topics.items()}

    def topic_config(self, topic: str) -> dict[str, str]:
        with self._lock:
            return dict(self._topic(topic).config)

    # -- the log ------------------------------------------------------------------

    def append(
        self, topic: str, partition: int, batches: Sequence[bytes | memoryview], *,
        headers: Sequence[BatchHeader] | None = None,
    ) -> AppendResult:
        log_ = self._partition(topic, partition)
        result = log_.append(batches, headers)
        if self.sync_on_append:
            log_.wait_durable(result.last_offset + 1)
        return result

    def append_nowait(
        self, topic: str, partition: int, batches: Sequence[bytes | memoryview], *,
        headers: Sequence[BatchHeader] | None = None,
    ) -> AppendResult:
        return self._partition(topic, partition).append(batches, headers)

    def wait_durable(self, topic: str, partition: int, offset: int) -> None:
        log_ = self._partition(topic, partition)
        if self.sync_on_append:
            log_.wait_durable(offset)

    def read(self, topic: str, partition: int, offset: int, max_bytes: int) -> ReadResult:
        return self._partition(topic, partition).read(offset, max_bytes)

    def log_start_offset(self, topic: str, partition: int) -> int:
        return self._partition(topic, partition).log_start

    def high_watermark(self, topic: str, partition: int) -> int:
        return self._partition(topic, partition).next_offset

    def offset_for_timestamp(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        return self._partition(topic, partition).offset_for_timestamp(timestamp_ms)

    def evict(self, now_ms: int, retention_ms: int) -> int:
        evicted = 0
        for topic, partitions in self._snapshot():
            retention = retention_override(topic.config, retention_ms)
            if retention is not None:
                for partition in partitions:
                    evicted += partition.evict(now_ms - retention)
        return evicted

    def flush(self) -> None:
        self._check_open()
        for _, partitions in self._snapshot():
            for partition in partitions:
                partition.sync()

    def close(self) -> None:
        """Flush and close everything, and mark the shutdown clean (StorageFailure if not)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._settings.wake_flusher.set()
        self._flusher.join()
        failures: list[str] = []
        with self._lock:
            for topic in self._topics.values():
                for partition in topic.partitions:
                    try:
                        partition.close(clean=True)
                    except (OSError, StorageFailure) as error:
                        failures.append(str(error))
                    if partition.failure is not None:
                        failures.append(partition.failure)
            try:
                if not failures:
                    (self.root / CLEAN_SHUTDOWN).touch()
                    fsync_directory(self.root)
            except OSError as error:
                failures.append(str(error))
            finally:
                self._release_lock()
        if failures:
            raise StorageFailure(f"{self.root} was not closed cleanly: {'; '.join(failures)}")

    # -- helpers ------------------------------------------------------------------

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = -1

    def _check_open(self) -> None:
        if self._closed:
            raise StorageFailure(f"the file backend at {self.root} is closed")

    def _topic(self, topic: str) -> _Topic:
        self._check_open()
        found = self._topics.get(topic)
        if found is None:
            raise UnknownTopic(topic)
        return found

    def _partition(self, topic: str, partition: int) -> Partition:
        with self._lock:
            if self._closed:
                self._check_open()
            found: Partition = find_partition(self._topics, topic, partition)
            return found

    def _snapshot(self) -> list[tuple[_Topic, list[Partition]]]:
        with self._lock:
            self._check_open()
            return [(topic, list(topic.partitions)) for topic in self._topics.values()]

    def _flush_in_background(self) -> None:
        """fsync on the interval policy's schedule, and rolled segments under every policy."""
        interval = self.fsync_policy.interval_ms
        wake = self._settings.wake_flusher
        while True:
            wake.wait(None if interval is None else interval / 1000)
            wake.clear()
            if self._closed:
                return
            with self._lock:
                partitions = [p for t in self._topics.values() for p in t.partitions]
            for partition in partitions:
                wanted = partition.unsynced_sealed or (
                    interval is not None and partition.needs_sync()
                )
                if wanted:
                    try:
                        partition.sync()
                    except StorageFailure as error:
                        log.error("%s", error)


def _is_topic_name(name: str) -> bool:
    try:
        validate_topic_name(name)
    except InvalidTopicName:
        return False
    return True


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
