"""OffsetCommit and OffsetFetch: consumer groups store and read back their positions.

Commits are checked by the group coordinator (member and generation) and
kept by its offset store: in the data directory with file storage, where,
with ``MINIKAFKA_FSYNC=always``, the answer waits (in a worker thread) until
the commit is on disk. A partition that does not exist gets
UNKNOWN_TOPIC_OR_PARTITION; a fetch where nothing was committed answers
offset -1, as Kafka does. A null metadata string is stored as "" (Kafka's
"no metadata").
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from minikafka.protocol import errors
from minikafka.storage.base import StorageFailure
from minikafka.storage.offsets import CommittedOffset, TopicPartition

from ..broker import RequestContext

__all__ = ["handle_offset_commit", "handle_offset_fetch"]

logger = logging.getLogger(__name__)

UNKNOWN_TOPIC_OR_PARTITION = errors.UnknownTopicOrPartitionError.code


async def handle_offset_commit(request: Any, ctx: RequestContext) -> dict[str, Any]:
    groups = ctx.broker.groups
    known = ctx.broker.storage.topics()
    results: dict[TopicPartition, int] = {}
    wanted: dict[TopicPartition, CommittedOffset] = {}
    for topic in request.topics:
        for partition in topic.partitions:
            key = (topic.name, partition.partition_index)
            if not 0 <= partition.partition_index < known.get(topic.name, 0):
                results[key] = UNKNOWN_TOPIC_OR_PARTITION
                continue
            wanted[key] = CommittedOffset(
                partition.committed_offset,
                getattr(partition, "committed_leader_epoch", -1),
                partition.committed_metadata or "",
            )
    try:
        outcome, ticket = groups.commit_offsets(
            request.group_id, request.generation_id_or_member_epoch, request.member_id, wanted,
            getattr(request, "group_instance_id", None),
        )
        if ticket and groups.offsets.sync_on_append:
            await trio.to_thread.run_sync(groups.offsets.wait_durable, ticket)
    except StorageFailure as exc:
        # Kafka answers a commit it could not write with this retriable error.
        logger.error("cannot store offsets of group %s: %s", request.group_id, exc)
        outcome = dict.fromkeys(wanted, errors.CoordinatorNotAvailableError.code)
    results.update(outcome)
    return {
        "throttle_time_ms": 0,
        "topics": [
            {"name": topic.name,
             "partitions": [{"partition_index": partition.partition_index,
                             "error_code": results[(topic.name, partition.partition_index)]}
                            for partition in topic.partitions]}
            for topic in request.topics
        ],
    }


def handle_offset_fetch(request: Any, ctx: RequestContext) -> dict[str, Any]:
    if request.topics is None:  # version 2+: every partition the group committed
        fetched = ctx.broker.groups.fetch_offsets(request.group_id, None)
        order: dict[str, list[int]] = {}
        for topic, partition in sorted(fetched):
            order.setdefault(topic, []).append(partition)
    else:
        order = {}
        for topic in request.topics:
            order.setdefault(topic.name, []).extend(topic.partition_indexes)
        fetched = ctx.broker.groups.fetch_offsets(
            request.group_id, [(name, index) for name, indexes in order.items() for index in indexes]
        )
    topics = []
    for name, indexes in order.items():
        partitions = []
        for index in indexes:
            committed = fetched.get((name, index))
            partitions.append({
                "partition_index": index,
                "committed_offset": -1 if committed is None else committed.offset,
                "committed_leader_epoch": -1 if committed is None else committed.leader_epoch,
                "metadata": "" if committed is None else committed.metadata,
                "error_code": 0,
            })
        topics.append({"name": name, "partitions": partitions})
    return {"throttle_time_ms": 0, "topics": topics, "error_code": 0}
