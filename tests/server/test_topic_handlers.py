"""Topic administration through the dispatcher: CreateTopics, DeleteTopics, CreatePartitions,
DescribeConfigs, multi-partition Metadata, and per-topic retention."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from minikafka.protocol import errors
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.registry import api_by_name
from minikafka.server.broker import Broker
from minikafka.server.config import Config
from minikafka.server.retention import check_interval, evict_once, shortest_retention_ms
from minikafka.storage.memory import MemoryBackend
from minikafka.storage.offsets import CommittedOffset

from .conftest import FakeClock
from .helpers import batch, call, produce_body

CREATE_TOPICS = api_by_name("CreateTopics")
DELETE_TOPICS = api_by_name("DeleteTopics")
CREATE_PARTITIONS = api_by_name("CreatePartitions")
DESCRIBE_CONFIGS = api_by_name("DescribeConfigs")

DAY_MS = 86_400_000


def topic_spec(name: str, partitions: int = 1, *, replication: int = 1,
               configs: dict[str, str | None] | None = None,
               assignments: list[list[int]] | None = None) -> dict[str, Any]:
    return {
        "name": name, "num_partitions": partitions, "replication_factor": replication,
        "assignments": [{"partition_index": index, "broker_ids": brokers}
                        for index, brokers in enumerate(assignments or [])],
        "configs": [{"name": key, "value": value} for key, value in (configs or {}).items()],
    }


async def create(broker: Broker, *topics: dict[str, Any], version: int = 4,
                 validate_only: bool = False) -> list[tuple[str, int, str | None]]:
    body = {"topics": list(topics), "timeout_ms": 5000, "validate_only": validate_only}
    response = await call(broker, CREATE_TOPICS, version, body)
    return [(t.name, t.error_code, t.error_message) for t in response.topics]


@pytest.mark.parametrize("version", [2, 3, 4])
async def test_create_topics_with_partitions_and_retention(broker: Broker, version: int) -> None:
    results = await create(broker, topic_spec("orders", 3, configs={"retention.ms": "60000"}),
                           version=version)
    assert results == [("orders", 0, None)]
    assert broker.storage.topics() == {"orders": 3}
    assert broker.storage.topic_config("orders") == {"retention.ms": "60000"}


async def test_default_partitions_and_replication(clock: FakeClock) -> None:
    broker = Broker(MemoryBackend(clock), Config(default_partitions=4), clock)
    assert await create(broker, topic_spec("defaults", -1, replication=-1)) == [
        ("defaults", 0, None)]
    assert broker.storage.topics() == {"defaults": 4}


async def test_explicit_assignments_on_this_broker(broker: Broker) -> None:
    spec = topic_spec("placed", -1, replication=-1, assignments=[[0], [0]])
    assert await create(broker, spec) == [("placed", 0, None)]
    assert broker.storage.topics() == {"placed": 2}


@pytest.mark.parametrize("spec, error, words", [
    (topic_spec("r", replication=3), errors.InvalidReplicationFactorError,
     "Replication factor: 3 larger than available brokers: 1."),
    (topic_spec("p", 0), errors.InvalidPartitionsError, "non-positive"),
    (topic_spec("bad name!"), errors.InvalidTopicException, "illegal characters"),
    (topic_spec("c", configs={"retention.ms": "soon"}), errors.InvalidConfigError,
     "retention.ms: must be a whole number"),
    (topic_spec("c", configs={"cleanup.policy": "compact"}), errors.InvalidConfigError,
     "no log compaction"),
    (topic_spec("c", configs={"segment.jitter.ms": "5"}), errors.InvalidConfigError,
     "does not support the topic config 'segment.jitter.ms'"),
    (topic_spec("c", configs={"retention.ms": None}), errors.InvalidConfigError, "Null value"),
    (topic_spec("a", -1, replication=-1, assignments=[[1]]),
     errors.InvalidReplicaAssignmentError, "single broker with id 0"),
    (topic_spec("a", 2, replication=-1, assignments=[[0]]), errors.InvalidRequestError,
     "cannot be used at the same time"),
])
async def test_create_topics_refusals(broker: Broker, spec: dict[str, Any],
                                      error: type[errors.KafkaError], words: str) -> None:
    [(_, error_code, message)] = await create(broker, spec)
    assert error_code == error.code
    assert message is not None and words in message
    assert broker.storage.topics() == {}


async def test_accepted_configs_that_match_what_minikafka_does(broker: Broker) -> None:
    configs: dict[str, str | None] = {"cleanup.policy": "delete", "min.insync.replicas": "1",
                                      "retention.ms": "-1"}
    assert await create(broker, topic_spec("spelled-out", configs=configs)) == [
        ("spelled-out", 0, None)]


async def test_existing_and_duplicate_topics(broker: Broker) -> None:
    broker.storage.create_topic("there", 1)
    results = await create(broker, topic_spec("there"), topic_spec("twice"), topic_spec("twice"))
    assert [(name, code) for name, code, _ in results] == [
        ("there", errors.TopicAlreadyExistsError.code),
        ("twice", errors.InvalidRequestError.code), ("twice", errors.InvalidRequestError.code)]
    assert results[0][2] == "Topic 'there' already exists."
    assert broker.storage.topics() == {"there": 1}


async def test_validate_only_creates_nothing(broker: Broker) -> None:
    assert await create(broker, topic_spec("maybe", 2), validate_only=True) == [("maybe", 0, None)]
    assert broker.storage.topics() == {}


async def test_metadata_lists_every_partition(broker: Broker) -> None:
    await create(broker, topic_spec("wide", 3))
    response = await call(broker, METADATA, 8, {
        "topics": [{"name": "wide"}], "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False})
    (topic,) = response.topics
    assert [(p.partition_index, p.leader_id, p.error_code) for p in topic.partitions] == [
        (0, 0, 0), (1, 0, 0), (2, 0, 0)]


async def test_auto_created_topics_get_the_default_partition_count(clock: FakeClock) -> None:
    broker = Broker(MemoryBackend(clock), Config(default_partitions=2), clock)
    response = await call(broker, METADATA, 8, {
        "topics": [{"name": "auto"}], "allow_auto_topic_creation": True,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False})
    assert len(response.topics[0].partitions) == 2
    assert broker.storage.topics() == {"auto": 2}


@pytest.mark.parametrize("version", [1, 2, 3])
async def test_delete_topics(broker: Broker, version: int) -> None:
    await create(broker, topic_spec("doomed", 2), topic_spec("kept"))
    broker.groups.commit_offsets("g", -1, "", {("doomed", 1): CommittedOffset(5),
                                               ("kept", 0): CommittedOffset(6)})
    response = await call(broker, DELETE_TOPICS, version,
                          {"topic_names": ["doomed", "never"], "timeout_ms": 1000})
    assert [(r.name, r.error_code) for r in response.responses] == [
        ("doomed", 0), ("never", errors.UnknownTopicOrPartitionError.code)]
    assert broker.storage.topics() == {"kept": 1}
    assert set(broker.groups.fetch_offsets("g", None)) == {("kept", 0)}


@pytest.mark.parametrize("version", [0, 1])
async def test_create_partitions(broker: Broker, version: int) -> None:
    await create(broker, topic_spec("growing"), topic_spec("fixed", 2))

    async def grow(name: str, count: int, assignments: list[list[int]] | None = None,
                   validate_only: bool = False) -> tuple[int, str | None]:
        body = {"topics": [{"name": name, "count": count, "assignments": None if assignments is None
                            else [{"broker_ids": ids} for ids in assignments]}],
                "timeout_ms": 1000, "validate_only": validate_only}
        (result,) = (await call(broker, CREATE_PARTITIONS, version, body)).results
        return result.error_code, result.error_message

    assert await grow("growing", 5, validate_only=True) == (0, None)
    assert broker.storage.topics()["growing"] == 1
    assert await grow("growing", 3, [[0], [0]]) == (0, None)
    assert broker.storage.topics()["growing"] == 3
    assert await grow("fixed", 2) == (errors.InvalidPartitionsError.code,
                                       "Topic already has 2 partitions.")
    code, message = await grow("fixed", 1)
    assert code == errors.InvalidPartitionsError.code and "higher than the requested 1" in (
        message or "")
    assert (await grow("fixed", 4, [[0]]))[0] == errors.InvalidReplicaAssignmentError.code
    assert (await grow("nope", 2))[0] == errors.UnknownTopicOrPartitionError.code


@pytest.mark.parametrize("version", [1, 2, 3])
async def test_describe_topic_configs(broker: Broker, version: int) -> None:
    await create(broker, topic_spec("short", configs={"retention.ms": "1000"}), topic_spec("plain"))
    body = {"resources": [
        {"resource_type": 2, "resource_name": "short", "configuration_keys": None},
        {"resource_type": 2, "resource_name": "plain", "configuration_keys": ["retention.ms"]},
        {"resource_type": 2, "resource_name": "missing", "configuration_keys": None},
        {"resource_type": 4, "resource_name": "0", "configuration_keys": ["num.partitions"]},
    ], "include_synonyms": True, "include_documentation": True}
    short, plain, missing, broker_resource = (await call(broker, DESCRIBE_CONFIGS, version,
                                                         body)).results
    configs = {c.name: c for c in short.configs}
    assert {"retention.ms", "cleanup.policy"} <= set(configs)
    retention = configs["retention.ms"]
    assert (retention.value, retention.config_source, retention.read_only) == ("1000", 1, False)
    assert [(s.name, s.value, s.source) for s in retention.synonyms] == [
        ("retention.ms", "1000", 1), ("log.retention.ms", str(7 * DAY_MS), 5)]
    assert configs["cleanup.policy"].value == "delete"
    (plain_retention,) = plain.configs
    assert (plain_retention.value, plain_retention.config_source) == (str(7 * DAY_MS), 5)
    if version >= 3:
        assert retention.config_type == 5  # LONG
        assert retention.documentation and "MINIKAFKA_RETENTIONTIME" in retention.documentation
    assert missing.error_code == errors.UnknownTopicOrPartitionError.code
    assert [(c.name, c.value) for c in broker_resource.configs] == [("num.partitions", "1")]


async def test_a_topics_retention_overrides_the_brokers(clock: FakeClock) -> None:
    broker = Broker(MemoryBackend(clock), attrs.evolve(Config(), retention_ms=DAY_MS), clock)
    await create(broker, topic_spec("brief", configs={"retention.ms": "1000"}), topic_spec("kept"))
    for name in ("brief", "kept"):
        response = await call(broker, PRODUCE, 8, produce_body(name, batch(b"x")))
        assert response.responses[0].partition_responses[0].error_code == 0
    # The retention task checks ten times per shortest retention in force.
    assert check_interval(shortest_retention_ms(broker)) == pytest.approx(0.1)
    clock.now += 1001
    assert await evict_once(broker) == 1
    assert broker.storage.log_start_offset("brief", 0) == 2
    assert broker.storage.log_start_offset("kept", 0) == 1
