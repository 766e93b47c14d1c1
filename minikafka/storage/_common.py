"""Pieces both backends share: reading appended batch headers, choosing stored batches to
read, finding a partition, topic settings, the clock."""

from __future__ import annotations

import bisect
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

from minikafka.protocol.batch_header import LOG_OVERHEAD, BatchHeader, InvalidBatch
from minikafka.storage.base import InvalidPartitions, InvalidTopicConfig, UnknownTopic

__all__ = [
    "MAX_PARTITIONS",
    "RETENTION_MS",
    "batches_from",
    "check_partition_count",
    "check_topic_config",
    "encode_base_offset",
    "find_partition",
    "parse_appended",
    "retention_override",
    "wall_clock_ms",
]

RETENTION_MS = "retention.ms"
MAX_PARTITIONS = 100_000  # far beyond what one process can serve; catches typos, not policy

_BASE_OFFSET = struct.Struct(">q")
encode_base_offset = _BASE_OFFSET.pack


def wall_clock_ms() -> int:
    """The default clock: milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def batches_from(batches: Sequence[bytes], base_offsets: Sequence[int], offset: int,
                 max_bytes: int) -> bytes:
    """The stored batch holding ``offset`` (the last one starting at or before it), then
    those after it that fit within ``max_bytes`` with it; the first goes whole, whatever
    its size, as Kafka serves it. ``offset`` must be within the batches.

    One batch (what a consumer at the log's end reads) is returned as it is stored,
    not copied.
    """
    first = bisect.bisect_right(base_offsets, offset) - 1
    records = batches[first]
    total = len(records)
    end = first + 1
    while end < len(batches) and total + len(batches[end]) <= max_bytes:
        total += len(batches[end])
        end += 1
    if end > first + 1:
        records = b"".join(batches[first:end])
    return records


def find_partition(topics: Mapping[str, Any], topic: str, partition: int) -> Any:
    """``topics[topic].partitions[partition]``, or UnknownTopic naming what is missing."""
    found = topics.get(topic)
    if found is None:
        raise UnknownTopic(topic)
    partitions = found.partitions
    if not isinstance(partition, int) or not 0 <= partition < len(partitions):
        raise UnknownTopic(topic, partition)
    return partitions[partition]


def parse_appended(
    batches: Sequence[bytes | bytearray | memoryview],
    headers: Sequence[BatchHeader] | None = None,
) -> list[tuple[memoryview, BatchHeader]]:
    """Headers of batches the broker has already validated, with a cheap sanity check.

    The broker checks each batch (``check_batch``: magic, framing, CRC-32C)
    before appending, once. Given those ``headers``, only that each belongs to
    its batch is checked here (its length field is the batch's size); without
    them the fixed header is read and its magic and offset delta checked too.
    Either way a batch whose length field disagrees with its size is refused
    (InvalidBatch), since storing it would corrupt the log's framing.
    """
    if not batches:
        raise ValueError("append needs at least one record batch")
    if headers is not None and len(headers) != len(batches):
        raise ValueError(f"{len(headers)} headers given for {len(batches)} batches")
    parsed: list[tuple[memoryview, BatchHeader]] = []
    for position, batch in enumerate(batches):
        view = memoryview(batch)
        if view.format != "B":
            view = view.cast("B")
        if headers is None:
            header = BatchHeader.parse(view)
            if header.magic != 2:
                raise InvalidBatch(f"unsupported magic {header.magic} (only 2 is stored)")
            if header.last_offset_delta < 0:
                raise InvalidBatch(f"negative last offset delta {header.last_offset_delta}")
        else:
            header = headers[position]
        size = header.batch_length + LOG_OVERHEAD
        if size != len(view):
            raise InvalidBatch(f"batch length field says {size} bytes but {len(view)} were given")
        parsed.append((view, header))
    return parsed


def check_partition_count(topic: str, partitions: int) -> None:
    if not isinstance(partitions, int) or partitions < 1:
        raise InvalidPartitions(topic, f"{partitions!r} is not a positive partition count")
    if partitions > MAX_PARTITIONS:
        raise InvalidPartitions(topic, f"{partitions} is more than {MAX_PARTITIONS}")


def check_topic_config(topic: str, config: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``config``, refusing values this storage would misread."""
    settings = dict(config or {})
    for key, value in settings.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidTopicConfig(topic, str(key), str(value), "keys and values are strings")
    if RETENTION_MS in settings:
        value = settings[RETENTION_MS]
        try:
            retention = int(value)
        except ValueError:
            raise InvalidTopicConfig(topic, RETENTION_MS, value, "not a whole number") from None
        if retention < -1:
            raise InvalidTopicConfig(
                topic, RETENTION_MS, value, "use -1 for unlimited, or a number of milliseconds"
            )
    return settings


def retention_override(config: Mapping[str, str], default_ms: int) -> int | None:
    """The retention in force for a topic; None means keep messages forever."""
    retention = int(config[RETENTION_MS]) if RETENTION_MS in config else default_ms
    return None if retention < 0 else retention
