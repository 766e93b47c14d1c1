"""Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs.

MiniKafka is one broker (id 0): replication factors other than 1 (or -1,
"the default") and replica assignments naming another broker are refused.
A partition count of -1 means MINIKAFKA_DEFAULT_PARTITIONS. Topic configs
are checked against ``topic_configs.TOPIC_CONFIGS`` before anything is
created; ``validate_only`` runs every check and creates nothing. Each topic
is answered with its own error code and a message saying what was wrong,
worded as Kafka words it where Kafka has a message.

Deleting a topic also forgets its producers' sequence state and every
group's committed offsets in it (Kafka does the same), and wakes fetches
waiting on it so they answer UNKNOWN_TOPIC_OR_PARTITION at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import trio

from minikafka.protocol import errors
from minikafka.storage.base import (
    InvalidPartitions,
    InvalidTopicConfig,
    InvalidTopicName,
    StorageError,
    TopicAlreadyExists,
    UnknownTopic,
)
from minikafka.storage.names import validate_topic_name

from ..broker import NODE_ID, RequestContext
from ..topic_configs import BROKER_CONFIGS, TOPIC_CONFIGS, ConfigSource, Setting, check_topic_configs

__all__ = [
    "handle_create_partitions",
    "handle_create_topics",
    "handle_delete_topics",
    "handle_describe_configs",
]

logger = logging.getLogger(__name__)

TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4


class _Refused(Exception):
    """One topic's request cannot be carried out: its error code and message."""

    def __init__(self, error: type[errors.KafkaError], message: str) -> None:
        super().__init__(message)
        self.error_code = error.code
        self.message = message


def _duplicates(names: list[str]) -> set[str]:
    return {name for name, count in Counter(names).items() if count > 1}


def _check_single_broker(broker_ids: list[int], what: str) -> None:
    if list(broker_ids) != [NODE_ID]:
        raise _Refused(errors.InvalidReplicaAssignmentError,
                       f"{what}: replicas {list(broker_ids)} are not [{NODE_ID}]; MiniKafka is "
                       f"a single broker with id {NODE_ID}")


# --- CreateTopics ------------------------------------------------------------------------


def _partition_count(topic: Any, ctx: RequestContext) -> int:
    if topic.assignments:
        if topic.num_partitions != -1 or topic.replication_factor != -1:
            raise _Refused(errors.InvalidRequestError,
                           "Both numPartitions or replicationFactor and replicasAssignments were "
                           "set. Both cannot be used at the same time.")
        indexes = sorted(assignment.partition_index for assignment in topic.assignments)
        if indexes != list(range(len(indexes))):
            raise _Refused(errors.InvalidReplicaAssignmentError,
                           f"partitions {indexes} are not numbered 0 to {len(indexes) - 1}")
        for assignment in topic.assignments:
            _check_single_broker(assignment.broker_ids, f"partition {assignment.partition_index}")
        return len(indexes)
    factor = topic.replication_factor
    if factor != -1 and factor < 1:
        raise _Refused(errors.InvalidReplicationFactorError,
                       "Replication factor must be larger than 0.")
    if factor > 1:
        raise _Refused(errors.InvalidReplicationFactorError,
                       f"Replication factor: {factor} larger than available brokers: 1.")
    count = ctx.broker.config.default_partitions if topic.num_partitions == -1 \
        else topic.num_partitions
    if count < 1:
        raise _Refused(errors.InvalidPartitionsError,
                       "Number of partitions was set to an invalid non-positive value.")
    return int(count)


def _create_topic(topic: Any, validate_only: bool, ctx: RequestContext) -> None:
    storage = ctx.broker.storage
    name = topic.name
    try:
        validate_topic_name(name)
    except InvalidTopicName as exc:
        raise _Refused(errors.InvalidTopicException, str(exc)) from None
    if name in storage.topics():
        raise _Refused(errors.TopicAlreadyExistsError, f"Topic '{name}' already exists.")
    partitions = _partition_count(topic, ctx)
    config_names = [entry.name for entry in topic.configs]
    if _duplicates(config_names):
        raise _Refused(errors.InvalidRequestError,
                       f"config names given twice: {sorted(_duplicates(config_names))}")
    configs = {entry.name: entry.value for entry in topic.configs}
    reason = check_topic_configs(configs)
    if reason is not None:
        raise _Refused(errors.InvalidConfigError, reason)
    if validate_only:
        return
    try:
        storage.create_topic(name, partitions, {key: str(value) for key, value in configs.items()})
    except TopicAlreadyExists:
        raise _Refused(errors.TopicAlreadyExistsError, f"Topic '{name}' already exists.") from None
    except InvalidPartitions as exc:
        raise _Refused(errors.InvalidPartitionsError, str(exc)) from None
    except InvalidTopicConfig as exc:
        raise _Refused(errors.InvalidConfigError, str(exc)) from None
    except StorageError as exc:
        logger.error("cannot create topic %r: %s", name, exc)
        raise _Refused(errors.KafkaStorageError, str(exc)) from None
    logger.info("created topic %s (%d partition%s%s) for %s", name, partitions,
                "" if partitions == 1 else "s",
                "".join(f", {key}={value}" for key, value in configs.items()), ctx.peer)


def handle_create_topics(request: Any, ctx: RequestContext) -> dict[str, Any]:
    duplicates = _duplicates([topic.name for topic in request.topics])
    results = []
    for topic in request.topics:
        error_code, message = 0, None
        try:
            if topic.name in duplicates:
                raise _Refused(errors.InvalidRequestError,
                               f"Create topics request names topic '{topic.name}' more than once.")
            _create_topic(topic, request.validate_only, ctx)
        except _Refused as refused:
            error_code, message = refused.error_code, refused.message
        results.append({"name": topic.name, "error_code": error_code, "error_message": message})
    return {"throttle_time_ms": 0, "topics": results}


# --- DeleteTopics ------------------------------------------------------------------------


async def handle_delete_topics(request: Any, ctx: RequestContext) -> dict[str, Any]:
    broker = ctx.broker
    responses = []
    for name in request.topic_names:
        partitions = broker.storage.topics().get(name)
        if partitions is None:
            responses.append({"name": name,
                              "error_code": errors.UnknownTopicOrPartitionError.code})
            continue
        try:
            # Deleting files can take a while: other connections carry on meanwhile.
            await trio.to_thread.run_sync(broker.storage.delete_topic, name)
        except UnknownTopic:  # deleted meanwhile by another request
            responses.append({"name": name,
                              "error_code": errors.UnknownTopicOrPartitionError.code})
            continue
        except StorageError as exc:
            logger.error("cannot delete topic %r: %s", name, exc)
            responses.append({"name": name, "error_code": errors.KafkaStorageError.code})
            continue
        broker.producers.forget_topic(name)
        forgotten = broker.groups.forget_topic(name)
        for partition in range(partitions):
            broker.signals.notify(name, partition)
        logger.info("deleted topic %s (%d partitions, %d committed offsets) for %s",
                    name, partitions, forgotten, ctx.peer)
        responses.append({"name": name, "error_code": 0})
    return {"throttle_time_ms": 0, "responses": responses}


# --- CreatePartitions --------------------------------------------------------------------


def _add_partitions(topic: Any, validate_only: bool, ctx: RequestContext) -> None:
    storage = ctx.broker.storage
    current = storage.topics().get(topic.name)
    if current is None:
        raise _Refused(errors.UnknownTopicOrPartitionError,
                       f"The topic '{topic.name}' does not exist.")
    if topic.count == current:
        raise _Refused(errors.InvalidPartitionsError, f"Topic already has {current} partitions.")
    if topic.count < current:
        raise _Refused(errors.InvalidPartitionsError,
                       f"Topic currently has {current} partitions, which is higher than the "
                       f"requested {topic.count}.")
    if topic.assignments is not None:
        added = topic.count - current
        if len(topic.assignments) != added:
            raise _Refused(errors.InvalidReplicaAssignmentError,
                           f"Increasing the number of partitions by {added} but "
                           f"{len(topic.assignments)} assignments provided.")
        for offset, assignment in enumerate(topic.assignments):
            _check_single_broker(assignment.broker_ids, f"new partition {current + offset}")
    if validate_only:
        return
    try:
        storage.add_partitions(topic.name, topic.count)
    except InvalidPartitions as exc:
        raise _Refused(errors.InvalidPartitionsError, str(exc)) from None
    except UnknownTopic:
        raise _Refused(errors.UnknownTopicOrPartitionError,
                       f"The topic '{topic.name}' does not exist.") from None
    except StorageError as exc:
        logger.error("cannot add partitions to %r: %s", topic.name, exc)
        raise _Refused(errors.KafkaStorageError, str(exc)) from None
    logger.info("topic %s grew from %d to %d partitions for %s",
                topic.name, current, topic.count, ctx.peer)


def handle_create_partitions(request: Any, ctx: RequestContext) -> dict[str, Any]:
    duplicates = _duplicates([topic.name for topic in request.topics])
    results = []
    for topic in request.topics:
        error_code, message = 0, None
        try:
            if topic.name in duplicates:
                raise _Refused(errors.InvalidRequestError,
                               f"Create partitions request names topic '{topic.name}' more than "
                               "once.")
            _add_partitions(topic, request.validate_only, ctx)
        except _Refused as refused:
            error_code, message = refused.error_code, refused.message
        results.append({"name": topic.name, "error_code": error_code, "error_message": message})
    return {"throttle_time_ms": 0, "results": results}


# --- DescribeConfigs ---------------------------------------------------------------------


def _entry(setting: Setting, value: str, source: int, synonyms: list[dict[str, Any]],
           include_documentation: bool) -> dict[str, Any]:
    return {
        "name": setting.name,
        "value": value,
        "read_only": setting.read_only,
        "config_source": source,
        "is_sensitive": False,
        "synonyms": synonyms,
        "config_type": setting.config_type,
        "documentation": setting.documentation if include_documentation else None,
    }


def _topic_configs(name: str, keys: list[str] | None, request: Any,
                   ctx: RequestContext) -> list[dict[str, Any]]:
    config = ctx.broker.config
    overrides = ctx.broker.storage.topic_config(name)
    entries = []
    for setting in TOPIC_CONFIGS.values():
        if keys is not None and setting.name not in keys:
            continue
        synonyms = []
        if setting.name in overrides:
            value, source = overrides[setting.name], ConfigSource.DYNAMIC_TOPIC_CONFIG
            synonyms.append({"name": setting.name, "value": value, "source": source})
        else:
            value, source = setting.value(config), setting.source(config)
        if setting.broker_name is not None:
            synonyms.append({"name": setting.broker_name, "value": setting.value(config),
                             "source": setting.source(config)})
        entries.append(_entry(setting, value, source,
                              synonyms if request.include_synonyms else [],
                              getattr(request, "include_documentation", False)))
    return entries


def _broker_configs(keys: list[str] | None, request: Any,
                    ctx: RequestContext) -> list[dict[str, Any]]:
    config = ctx.broker.config
    entries = []
    for setting in BROKER_CONFIGS.values():
        if keys is not None and setting.name not in keys:
            continue
        value, source = setting.value(config), setting.source(config)
        synonyms = [{"name": setting.name, "value": value, "source": source}]
        entries.append(_entry(setting, value, source,
                              synonyms if request.include_synonyms else [],
                              getattr(request, "include_documentation", False)))
    return entries


def handle_describe_configs(request: Any, ctx: RequestContext) -> dict[str, Any]:
    results = []
    for resource in request.resources:
        kind, name = resource.resource_type, resource.resource_name
        keys = None if resource.configuration_keys is None else list(resource.configuration_keys)
        error_code, message, configs = 0, None, []
        if kind == TOPIC_RESOURCE:
            if name in ctx.broker.storage.topics():
                configs = _topic_configs(name, keys, request, ctx)
            else:
                error_code = errors.UnknownTopicOrPartitionError.code
                message = f"Topic '{name}' does not exist."
        elif kind == BROKER_RESOURCE:
            if name in ("", str(NODE_ID)):
                configs = _broker_configs(keys, request, ctx)
            else:
                error_code = errors.InvalidRequestError.code
                message = f"Unexpected broker id, expected {NODE_ID} or empty string, but " \
                          f"received {name}"
        else:
            error_code = errors.InvalidRequestError.code
            message = (f"MiniKafka describes topics ({TOPIC_RESOURCE}) and brokers "
                       f"({BROKER_RESOURCE}), not resources of type {kind}")
        results.append({"error_code": error_code, "error_message": message,
                        "resource_type": kind, "resource_name": name, "configs": configs})
    return {"throttle_time_ms": 0, "results": results}
