"""Metadata: the broker (at the address the client reached) and each topic's partitions.

MiniKafka is a cluster of one: broker ``NODE_ID`` leads every partition,
is its only replica and the controller. A requested topic that does not
exist is created (with MINIKAFKA_DEFAULT_PARTITIONS partitions, 1 unless
set) when the broker allows it
(MINIKAFKA_AUTO_CREATE_TOPICS) and the request does too (versions 4 and up
say so; versions 1-3 always allow it, as in Kafka).
"""

from __future__ import annotations

import logging
from typing import Any

from minikafka.protocol import errors
from minikafka.storage.base import InvalidTopicName, StorageError, TopicAlreadyExists

from ..broker import CLUSTER_ID, NODE_ID, RequestContext

__all__ = ["handle_metadata"]

logger = logging.getLogger(__name__)

# authorized_operations when the client did not ask for them (Kafka's INT32_MIN).
_OPERATIONS_NOT_REQUESTED = -(2**31)


def _partition(index: int) -> dict[str, Any]:
    return {
        "error_code": 0,
        "partition_index": index,
        "leader_id": NODE_ID,
        "leader_epoch": 0,
        "replica_nodes": [NODE_ID],
        "isr_nodes": [NODE_ID],
        "offline_replicas": [],
    }


def _topic(name: str, error_code: int, partitions: int) -> dict[str, Any]:
    return {
        "error_code": error_code,
        "name": name,
        "is_internal": False,
        "partitions": [_partition(index) for index in range(partitions)],
        "authorized_operations": _OPERATIONS_NOT_REQUESTED,
    }


def handle_metadata(request: Any, ctx: RequestContext) -> dict[str, Any]:
    broker = ctx.broker
    existing = broker.storage.topics()
    if request.topics is None:
        names = sorted(existing)
    else:
        names = [topic.name for topic in request.topics]
    may_create = broker.config.auto_create_topics and getattr(
        request, "allow_auto_topic_creation", True
    )
    topics = []
    for name in names:
        if name in existing:
            topics.append(_topic(name, 0, existing[name]))
        elif may_create:
            topics.append(_create(ctx, name))
        else:
            topics.append(_topic(name, errors.UnknownTopicOrPartitionError.code, 0))
    host, port = ctx.advertised_address()
    return {
        "throttle_time_ms": 0,
        "brokers": [{"node_id": NODE_ID, "host": host, "port": port, "rack": None}],
        "cluster_id": CLUSTER_ID,
        "controller_id": NODE_ID,
        "topics": topics,
        "authorized_operations": _OPERATIONS_NOT_REQUESTED,
    }


def _create(ctx: RequestContext, name: str) -> dict[str, Any]:
    storage = ctx.broker.storage
    partitions = ctx.broker.config.default_partitions
    try:
        storage.create_topic(name, partitions)
    except InvalidTopicName as exc:
        logger.info("%s asked for metadata of an invalid topic: %s", ctx.peer, exc)
        return _topic(name, errors.InvalidTopicException.code, 0)
    except TopicAlreadyExists:  # created meanwhile, e.g. by CreateTopics
        return _topic(name, 0, storage.topics().get(name, partitions))
    except StorageError as exc:
        logger.error("cannot create topic %r: %s", name, exc)
        return _topic(name, errors.KafkaStorageError.code, 0)
    logger.info("created topic %s (%d partition%s) for %s", name, partitions,
                "" if partitions == 1 else "s", ctx.peer)
    return _topic(name, 0, storage.topics().get(name, partitions))
