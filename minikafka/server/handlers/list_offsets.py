"""ListOffsets: a partition's earliest offset, its latest, or the first at a timestamp.

Timestamp -2 asks for the log start offset, -1 for the high watermark (also
the last stable offset: there are no transactions); both answer with
timestamp -1, as Kafka does. Any other timestamp asks for the first message
whose timestamp is at or after it: the storage finds the batch, and the
records of that one batch are read to give the exact message and its
timestamp. -1/-1 means no message is that recent.
"""

from __future__ import annotations

from typing import Any

from minikafka.protocol import errors
from minikafka.protocol.batch_header import BatchHeader, InvalidBatch
from minikafka.protocol.compression import CodecUnavailable
from minikafka.protocol.records import parse_batch
from minikafka.storage.base import OffsetOutOfRange, Storage, StorageError, UnknownTopic

from ..broker import RequestContext

__all__ = ["EARLIEST", "LATEST", "handle_list_offsets", "offset_for_timestamp"]

LATEST = -1
EARLIEST = -2


def offset_for_timestamp(storage: Storage, topic: str, partition: int,
                         timestamp: int) -> tuple[int, int]:
    """(timestamp, offset) of the first message at or after ``timestamp``, or (-1, -1)."""
    offset = storage.offset_for_timestamp(topic, partition, timestamp)
    if offset is None:
        return -1, -1
    try:
        records = storage.read(topic, partition, offset, 1).records
    except OffsetOutOfRange:  # evicted since the lookup
        return -1, -1
    if not records:
        return -1, -1
    header = BatchHeader.parse(records)
    try:
        batch = parse_batch(records)
    except (InvalidBatch, CodecUnavailable):
        # Records we cannot open: answer at batch granularity.
        return header.max_timestamp, max(offset, header.base_offset)
    for record in batch.records:
        if record.offset >= offset and record.timestamp >= timestamp:
            return record.timestamp, record.offset
    return header.max_timestamp, max(offset, header.base_offset)


def _lookup(storage: Storage, topic: str, partition: int, timestamp: int) -> dict[str, Any]:
    if timestamp == EARLIEST:
        found = -1, storage.log_start_offset(topic, partition)
    elif timestamp == LATEST:
        found = -1, storage.high_watermark(topic, partition)
    else:
        found = offset_for_timestamp(storage, topic, partition, timestamp)
    return {"error_code": 0, "timestamp": found[0], "offset": found[1]}


def handle_list_offsets(request: Any, ctx: RequestContext) -> dict[str, Any]:
    storage = ctx.broker.storage
    topics = []
    for topic in request.topics:
        partitions = []
        for wanted in topic.partitions:
            try:
                answer = _lookup(storage, topic.name, wanted.partition_index, wanted.timestamp)
            except UnknownTopic:
                answer = {"error_code": errors.UnknownTopicOrPartitionError.code}
            except StorageError:
                answer = {"error_code": errors.KafkaStorageError.code}
            partitions.append({"partition_index": wanted.partition_index, "timestamp": -1,
                               "offset": -1, "leader_epoch": 0, **answer})
        topics.append({"name": topic.name, "partitions": partitions})
    return {"throttle_time_ms": 0, "topics": topics}
