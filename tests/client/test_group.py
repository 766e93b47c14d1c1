"""Our clients with partitions and groups: keys placed as Kafka places them, group members
(ours, kafka-python's) sharing a topic, commits, against an in-process MiniKafka."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from kafka import KafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from kafka.partitioner.default import murmur2  # type: ignore[import-untyped]

import minikafka
import minikafka.trio
from minikafka.client import ClientError
from minikafka.client._group import range_assign
from minikafka.testing import RunningBroker, running_broker

GROUP_TIMEOUTS: dict[str, Any] = {"session_timeout": 6.0, "heartbeat_interval": 0.5}
WAIT_S = 20


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with running_broker() as running:
        yield running


def new_topic(broker: RunningBroker, name: str, partitions: int) -> str:
    broker.server.storage.create_topic(name, partitions)
    return name


def kafka_python_partition(key: bytes, partitions: int) -> int:
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def read_partition(broker: RunningBroker, topic: str, partition: int) -> list[bytes]:
    consumer = KafkaConsumer(bootstrap_servers=broker.address, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        consumer.assign([TopicPartition(topic, partition)])
        return [record.value for record in consumer]
    finally:
        consumer.close()


# --- placing messages ------------------------------------------------------------------


def test_keyed_messages_land_where_kafka_puts_them(broker: RunningBroker) -> None:
    topic = new_topic(broker, "keyed", 3)
    keys = [f"customer-{n}".encode() for n in range(30)]
    with minikafka.Producer(broker.address) as producer:
        pending = [producer.send_nowait(topic, b"order of " + key, key=key) for key in keys]
        producer.flush()
    for key, message in zip(keys, pending, strict=True):
        assert message.partition == kafka_python_partition(key, 3), key
    for partition in range(3):
        expected = [b"order of " + key for key in keys if kafka_python_partition(key, 3) == partition]
        assert read_partition(broker, topic, partition) == expected  # in order, per partition


def test_unkeyed_batches_take_turns_over_the_partitions(broker: RunningBroker) -> None:
    topic = new_topic(broker, "unkeyed", 2)
    with minikafka.Producer(broker.address, batch_size=300) as producer:
        for n in range(8):  # each call one batch of ~150 bytes: two batches fill a partition
            producer.send_many(topic, [b"%d-%d" % (n, i) * 10 for i in range(3)])
    first, second = read_partition(broker, topic, 0), read_partition(broker, topic, 1)
    assert len(first) == len(second) == 12
    assert first[:6] == [b"%d-%d" % (n, i) * 10 for n in (0, 1) for i in range(3)]


# --- assignment ------------------------------------------------------------------------


def test_range_assignment() -> None:
    assert range_assign({"b": ["t"], "a": ["t"]}, {"t": 3}) == {"a": {"t": (0, 1)}, "b": {"t": (2,)}}
    assert range_assign({"a": ["t", "u"], "b": ["t"]}, {"t": 2, "u": 2}) == {
        "a": {"t": (0,), "u": (0, 1)}, "b": {"t": (1,)}}
    assert range_assign({"a": ["t"], "b": ["t"], "c": ["t"]}, {"t": 1}) == {
        "a": {"t": (0,)}, "b": {}, "c": {}}


# --- groups -----------------------------------------------------------------------------


def test_a_group_of_kafka_python_and_ours_balances_and_reads_everything_once(
        broker: RunningBroker) -> None:
    topic = new_topic(broker, "shared", 2)
    theirs: list[tuple[int, int]] = []
    their_assignment: set[int] = set()
    done = threading.Event()

    def kafka_python_member() -> None:
        consumer = KafkaConsumer(topic, bootstrap_servers=broker.address, group_id="shared",
                                 auto_offset_reset="earliest", session_timeout_ms=6000,
                                 heartbeat_interval_ms=500)
        try:
            while not done.is_set():
                for tp, records in consumer.poll(200).items():
                    theirs.extend((tp.partition, record.offset) for record in records)
                their_assignment.clear()
                their_assignment.update(tp.partition for tp in consumer.assignment())
        finally:
            consumer.close()

    thread = threading.Thread(target=kafka_python_member)
    thread.start()
    ours: list[tuple[int, int]] = []
    try:
        with minikafka.Consumer(broker.address, topic, group="shared",
                                **GROUP_TIMEOUTS) as consumer:
            deadline = time.monotonic() + WAIT_S
            while not (consumer.assignment and their_assignment) and time.monotonic() < deadline:
                ours += [(m.partition, m.number) for m in consumer.poll(0.2)]
            # Both are members: now the messages (both partitions, by key).
            with minikafka.Producer(broker.address) as producer:
                pending = [producer.send_nowait(topic, f"value {n}", key=f"key {n}")
                           for n in range(60)]
                producer.flush()
            sent = {(m.partition, m.number) for m in pending}
            assert {partition for partition, _ in sent} == {0, 1}
            while len(ours) + len(theirs) < len(sent) and time.monotonic() < deadline:
                ours += [(m.partition, m.number) for m in consumer.poll(0.5)]
            our_assignment = consumer.assignment
    finally:
        done.set()
        thread.join(WAIT_S)
    assert len(our_assignment) == 1 and set(our_assignment) | their_assignment == {0, 1}
    assert {p for p, _ in ours} == set(our_assignment)
    assert sorted(ours + theirs) == sorted(sent)  # everything, exactly once


async def test_two_trio_members_split_the_partitions(broker: RunningBroker) -> None:
    topic = new_topic(broker, "trio-shared", 2)
    read: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    assignments: dict[str, tuple[int, ...]] = {"a": (), "b": ()}
    sent: set[tuple[int, int]] = set()

    async def member(name: str) -> None:
        async with minikafka.trio.Consumer(broker.address, topic, group="trio-shared",
                                           **GROUP_TIMEOUTS) as consumer:
            while True:
                read[name] += [(m.partition, m.number) for m in await consumer.poll(0.2)]
                assignments[name] = consumer.assignment

    async with trio.open_nursery() as nursery:
        nursery.start_soon(member, "a")
        nursery.start_soon(member, "b")
        with trio.fail_after(WAIT_S):
            while not (assignments["a"] and assignments["b"]):
                await trio.sleep(0.05)
            async with minikafka.trio.Producer(broker.address) as producer:
                pending = [producer.send_nowait(topic, f"v{n}", key=f"k{n}") for n in range(20)]
                await producer.flush()
            sent = {(m.partition, m.number) for m in pending}
            while len(read["a"]) + len(read["b"]) < len(sent):
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    assert sorted([assignments["a"], assignments["b"]]) == [(0,), (1,)]
    assert sorted(read["a"] + read["b"]) == sorted(sent)


def test_explicit_commits_decide_where_the_next_member_starts(broker: RunningBroker) -> None:
    topic = new_topic(broker, "explicit", 1)
    with minikafka.Producer(broker.address) as producer:
        numbers = producer.send_many(topic, [f"m{n}" for n in range(10)])
    with minikafka.Consumer(broker.address, topic, group="explicit", auto_commit=False,
                            **GROUP_TIMEOUTS) as consumer:
        first = consumer.poll(WAIT_S)  # the one batch: all ten
        assert [m.number for m in first] == numbers
        consumer.commit()
    with minikafka.Producer(broker.address) as producer:
        later = producer.send_many(topic, ["n0", "n1"])
    with minikafka.Consumer(broker.address, topic, group="explicit", auto_commit=False,
                            **GROUP_TIMEOUTS) as consumer:
        assert [m.number for m in consumer.poll(WAIT_S)] == later  # right after the commit
        # closed without committing
    with minikafka.Consumer(broker.address, topic, group="explicit",
                            **GROUP_TIMEOUTS) as consumer:
        assert [m.number for m in consumer.poll(WAIT_S)] == later  # read again: never committed
        # auto-commit: committed on close
    with minikafka.Consumer(broker.address, topic, group="explicit",
                            **GROUP_TIMEOUTS) as consumer:
        assert consumer.poll(1) == []


def test_latest_skips_what_was_there_before_the_first_commit(broker: RunningBroker) -> None:
    topic = new_topic(broker, "latest", 1)
    with minikafka.Producer(broker.address) as producer:
        producer.send_many(topic, ["old"])
    with minikafka.Consumer(broker.address, topic, group="latest", read_from="latest",
                            **GROUP_TIMEOUTS) as consumer:
        assert consumer.poll(1) == []
        with minikafka.Producer(broker.address) as producer:
            producer.send(topic, "new")
        assert [m.value for m in consumer.poll(WAIT_S)] == [b"new"]


def test_group_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="read_from may only be 'earliest' or 'latest'"):
        minikafka.Consumer("localhost:1", "t", group="g", read_from=5)
    with pytest.raises(TypeError, match="auto_commit: only for a consumer with a group"):
        minikafka.Consumer("localhost:1", "t", auto_commit=False)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        minikafka.Consumer("localhost:1", "t", group="g", session_timeout=1, heartbeat_interval=2)
    with pytest.raises(ClientError, match="needs a consumer with a group"):
        minikafka.Consumer("localhost:1", "t").commit()
