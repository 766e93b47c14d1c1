"""A volatile backend that keeps every partition's batches in lists: for tests and embedding.

It honours the whole storage contract (numbering, eviction by store time,
byte budgets, timestamp lookup) so the contract suite can hold the file
backend to the same behaviour. Everything is lost when the process ends.
Methods may be called from several threads; one lock serialises them.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping, Sequence
from itertools import accumulate

import attrs

from minikafka.protocol.batch_header import BatchHeader
from minikafka.storage._common import (
    batches_from,
    check_partition_count,
    check_topic_config,
    encode_base_offset,
    find_partition,
    parse_appended,
    retention_override,
    wall_clock_ms,
)
from minikafka.storage.base import (
    FIRST_OFFSET,
    AppendResult,
    Clock,
    InvalidPartitions,
    OffsetOutOfRange,
    ReadResult,
    StorageFailure,
    TopicAlreadyExists,
    UnknownTopic,
)
from minikafka.storage.names import validate_topic_name

__all__ = ["MemoryBackend"]


@attrs.define
class _Partition:
    """One partition's log: parallel lists, one entry per stored batch, oldest first."""

    next_offset: int = FIRST_OFFSET
    log_start: int = FIRST_OFFSET
    last_append_ms: int = 0
    base_offsets: list[int] = attrs.Factory(list)
    batches: list[bytes] = attrs.Factory(list)
    append_times: list[int] = attrs.Factory(list)  # non-decreasing: bisectable
    max_timestamps: list[int] = attrs.Factory(list)  # each batch's maxTimestamp
    # Running maximum of the batches' max timestamps: non-decreasing, so the
    # first batch whose timestamp reaches a target is found by bisection.
    running_max_timestamps: list[int] = attrs.Factory(list)

    def drop_before(self, index: int) -> int:
        """Forget the first ``index`` batches; returns how many messages that evicted."""
        if index == 0:
            return 0
        del self.base_offsets[:index], self.batches[:index]
        del self.append_times[:index], self.max_timestamps[:index]
        # The running maximum of what remains must not remember dropped batches.
        self.running_max_timestamps = list(accumulate(self.max_timestamps, max))
        new_start = self.base_offsets[0] if self.base_offsets else self.next_offset
        evicted = new_start - self.log_start
        self.log_start = new_start
        return evicted


@attrs.define
class _Topic:
    config: dict[str, str]
    partitions: list[_Partition]


class MemoryBackend:
    """The storage contract held in memory. ``clock`` gives the store time in ms."""

    sync_on_append = False  # nothing ever reaches a disk

    def __init__(self, clock: Clock = wall_clock_ms) -> None:
        self._clock = clock
        self._topics: dict[str, _Topic] = {}
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"<MemoryBackend with {len(self._topics)} topics>"

    # -- topics ---------------------------------------------------------------

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
            self._topics[topic] = _Topic(settings, [_Partition() for _ in range(partitions)])

    def delete_topic(self, topic: str) -> None:
        with self._lock:
            self._check_open()
            if self._topics.pop(topic, None) is None:
                raise UnknownTopic(topic)

    def add_partitions(self, topic: str, total: int) -> None:
        with self._lock:
            existing = self._topic(topic).partitions
            check_partition_count(topic, total)
            if total <= len(existing):
                raise InvalidPartitions(
                    topic, f"it has {len(existing)} partitions; {total} would not add any"
                )
            existing.extend(_Partition() for _ in range(total - len(existing)))

    def topics(self) -> dict[str, int]:
        with self._lock:
            return {name: len(topic.partitions) for name, topic in self._topics.items()}

    def topic_config(self, topic: str) -> dict[str, str]:
        with self._lock:
            return dict(self._topic(topic).config)

    # -- the log --------------------------------------------------------------

    def append(
        self, topic: str, partition: int, batches: Sequence[bytes | memoryview], *,
        headers: Sequence[BatchHeader] | None = None,
    ) -> AppendResult:
        return self.append_nowait(topic, partition, batches, headers=headers)

    def append_nowait(
        self, topic: str, partition: int, batches: Sequence[bytes | memoryview], *,
        headers: Sequence[BatchHeader] | None = None,
    ) -> AppendResult:
        parsed = parse_appended(batches, headers)
        with self._lock:
            log = self._partition(topic, partition)
            now = max(self._clock(), log.last_append_ms)  # store times never go backwards
            base_offset = next_offset = log.next_offset
            running_maxima = log.running_max_timestamps
            running_max = running_maxima[-1] if running_maxima else None
            for view, header in parsed:
                max_timestamp = header.max_timestamp
                log.base_offsets.append(next_offset)
                # one copy of the batch: join takes the view itself
                log.batches.append(b"".join((encode_base_offset(next_offset), view[8:])))
                log.append_times.append(now)
                log.max_timestamps.append(max_timestamp)
                if running_max is None or max_timestamp > running_max:
                    running_max = max_timestamp
                running_maxima.append(running_max)
                next_offset += header.last_offset_delta + 1
            log.next_offset = next_offset
            log.last_append_ms = now
            return AppendResult(
                base_offset=base_offset,
                last_offset=log.next_offset - 1,
                append_time_ms=now,
                log_start_offset=log.log_start,
            )

    def wait_durable(self, topic: str, partition: int, offset: int) -> None:
        with self._lock:
            self._partition(topic, partition)  # only checks that it exists

    def read(self, topic: str, partition: int, offset: int, max_bytes: int) -> ReadResult:
        with self._lock:
            log = self._partition(topic, partition)
            if not log.log_start <= offset <= log.next_offset:
                raise OffsetOutOfRange(offset, log.log_start, log.next_offset)
            records = b""
            if offset < log.next_offset:
                records = batches_from(log.batches, log.base_offsets, offset, max_bytes)
            return ReadResult(records, log.next_offset, log.log_start)

    def log_start_offset(self, topic: str, partition: int) -> int:
        with self._lock:
            return self._partition(topic, partition).log_start

    def high_watermark(self, topic: str, partition: int) -> int:
        with self._lock:
            return self._partition(topic, partition).next_offset

    def offset_for_timestamp(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        with self._lock:
            log = self._partition(topic, partition)
            index = bisect.bisect_left(log.running_max_timestamps, timestamp_ms)
            return log.base_offsets[index] if index < len(log.base_offsets) else None

    def evict(self, now_ms: int, retention_ms: int) -> int:
        evicted = 0
        with self._lock:
            self._check_open()
            for topic in self._topics.values():
                retention = retention_override(topic.config, retention_ms)
                if retention is None:
                    continue
                cutoff = now_ms - retention  # stored before this instant: expired
                for log in topic.partitions:
                    expired = bisect.bisect_left(log.append_times, cutoff)
                    evicted += log.drop_before(expired)
        return evicted

    def flush(self) -> None:
        with self._lock:
            self._check_open()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._topics.clear()

    # -- helpers --------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageFailure("the memory backend is closed")

    def _topic(self, topic: str) -> _Topic:
        self._check_open()
        found = self._topics.get(topic)
        if found is None:
            raise UnknownTopic(topic)
        return found

    def _partition(self, topic: str, partition: int) -> _Partition:
        if self._closed:
            self._check_open()
        found: _Partition = find_partition(self._topics, topic, partition)
        return found
