"""The storage contract: what the broker asks of a backend, and nothing more.

A backend keeps topics, each with numbered partitions, each an append-only
log of record batches held byte-for-byte as they travel on the wire. Offsets
are message numbers: a new partition's first message is 1 (its log start
offset is 1, as if message 0 had expired), and a number is never reused, not
after eviction and not after a restart.

Backends raise the typed errors below; the server maps them to Kafka error
codes (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE, INVALID_TOPIC_EXCEPTION,
KAFKA_STORAGE_ERROR, TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_CONFIG).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

from minikafka.protocol.batch_header import BatchHeader

__all__ = [
    "FIRST_OFFSET",
    "AppendResult",
    "Clock",
    "InvalidPartitions",
    "InvalidTopicConfig",
    "InvalidTopicName",
    "OffsetOutOfRange",
    "ReadResult",
    "Storage",
    "StorageError",
    "StorageFailure",
    "TopicAlreadyExists",
    "UnknownTopic",
]

FIRST_OFFSET = 1  # the number of the first message of a new partition

Clock = Callable[[], int]
"""Milliseconds since the epoch; injected so retention tests need not sleep."""


class StorageError(Exception):
    """Base of every error a backend raises."""


class UnknownTopic(StorageError):
    """The topic (or partition) does not exist."""

    def __init__(self, topic: str, partition: int | None = None) -> None:
        self.topic = topic
        self.partition = partition
        where = topic if partition is None else f"{topic}-{partition}"
        super().__init__(f"unknown topic or partition: {where}")


class TopicAlreadyExists(StorageError):
    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(f"topic already exists: {topic}")


class InvalidTopicName(StorageError):
    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        super().__init__(f"invalid topic name {topic!r}: {reason}")


class InvalidPartitions(StorageError):
    """A partition count below 1, or add_partitions not growing the topic."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        super().__init__(f"invalid partitions for topic {topic!r}: {reason}")


class InvalidTopicConfig(StorageError):
    """A per-topic setting the backend understands has a value it cannot use."""

    def __init__(self, topic: str, key: str, value: str, reason: str) -> None:
        self.topic = topic
        self.key = key
        self.value = value
        super().__init__(f"invalid config {key}={value!r} for topic {topic!r}: {reason}")


class OffsetOutOfRange(StorageError):
    def __init__(self, offset: int, log_start: int, next_offset: int) -> None:
        self.offset = offset
        self.log_start = log_start
        self.next_offset = next_offset
        super().__init__(f"offset {offset} is outside {log_start}..{next_offset}")


class StorageFailure(StorageError):
    """The medium failed (disk full, read-only, I/O error); nothing was stored."""


# The two results below are named tuples rather than frozen attrs classes: one is
# made per append and per read, and a tuple is built at C speed (0.9 and 0.5 us
# for the attrs classes, which set each field through object.__setattr__).

class AppendResult(NamedTuple):
    """Where an append put its batches."""

    base_offset: int  # number given to the first message of the first batch
    last_offset: int  # number of the last message appended
    append_time_ms: int  # when the server stored them (drives retention)
    log_start_offset: int


class ReadResult(NamedTuple):
    """Whole batches from the requested position, and the partition's bounds.

    ``records`` may start with a batch that begins before the requested offset
    (a read from the middle of a batch returns that whole batch, as Kafka
    does); readers skip the records below the offset they asked for.
    """

    records: bytes | memoryview
    high_watermark: int  # next offset to be assigned
    log_start_offset: int


class Storage(Protocol):
    """The interface the server uses. Both backends pass one contract suite."""

    def create_topic(
        self, topic: str, partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> None:
        """Create ``topic`` with partitions 0..partitions-1.

        Raises TopicAlreadyExists, InvalidTopicName, InvalidPartitions, or
        InvalidTopicConfig (a ``retention.ms`` that is not a whole number).
        """

    def delete_topic(self, topic: str) -> None:
        """Remove the topic and all its messages (UnknownTopic)."""

    def add_partitions(self, topic: str, total: int) -> None:
        """Grow ``topic`` to ``total`` partitions (UnknownTopic, InvalidPartitions)."""

    def topics(self) -> dict[str, int]:
        """Every topic and its partition count."""

    def topic_config(self, topic: str) -> dict[str, str]:
        """Per-topic settings given at creation (e.g. retention.ms)."""

    def append(self, topic: str, partition: int, batches: Sequence[bytes | memoryview], *,
               headers: Sequence[BatchHeader] | None = None) -> AppendResult:
        """Append validated magic-2 batches, rewriting their base offsets to the next numbers.

        When this returns, the bytes are with the operating system (a killed
        process loses nothing); the fsync policy decides when they reach the disk.
        Equivalent to ``append_nowait`` followed, when ``sync_on_append`` is true,
        by ``wait_durable``.

        ``headers``, when given, are the batches' headers as ``check_batch``
        returned them when the caller validated the batches (one per batch, in
        order); the storage then neither parses nor checks them again, beyond
        that each header's length is its batch's size.
        """

    # The three members below let a caller on an event loop append without
    # blocking on the disk and then wait for durability in a worker thread,
    # where concurrent waiters share one fsync (group commit).

    @property
    def sync_on_append(self) -> bool:
        """True when the fsync policy is "always": acknowledge only after ``wait_durable``."""

    def append_nowait(
        self, topic: str, partition: int, batches: Sequence[bytes | memoryview], *,
        headers: Sequence[BatchHeader] | None = None,
    ) -> AppendResult:
        """``append`` without waiting for the disk: returns once the OS has the bytes."""

    def wait_durable(self, topic: str, partition: int, offset: int) -> None:
        """Block until the messages below ``offset`` are on disk (when ``sync_on_append``).

        Threads that wait at the same time share one fsync. Returns at once when
        the policy does not sync on append. Safe to call from any thread.
        """

    def read(self, topic: str, partition: int, offset: int, max_bytes: int) -> ReadResult:
        """Batches from ``offset`` up to ``max_bytes`` (at least one whole batch if any).

        ``offset`` equal to the high watermark gives empty records; below the
        log start or above the high watermark raises OffsetOutOfRange.
        """

    def log_start_offset(self, topic: str, partition: int) -> int: ...

    def high_watermark(self, topic: str, partition: int) -> int:
        """The next offset to be assigned (one past the last stored message)."""

    def offset_for_timestamp(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        """First offset whose batch has a timestamp >= ``timestamp_ms``, or None."""

    def evict(self, now_ms: int, retention_ms: int) -> int:
        """Drop messages stored more than ``retention_ms`` before ``now_ms``; returns how many.

        A topic's ``retention.ms`` config overrides ``retention_ms``.
        """

    def flush(self) -> None:
        """Force everything appended so far to durable storage."""

    def close(self) -> None: ...
