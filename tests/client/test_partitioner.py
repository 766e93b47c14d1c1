"""The default partitioner: the same partition as kafka-python's (Kafka's) for every key."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner.default import DefaultPartitioner  # type: ignore[import-untyped]
from kafka.partitioner.default import murmur2 as kafka_murmur2

from minikafka.client._partitioner import StickyPartitions, murmur2, partition_for_key

KEYS = [
    b"", b"a", b"ab", b"abc", b"abcd", b"abcde", b"key-0", b"key-1", b"user:42", b"\x00",
    b"\xff\xfe\xfd", bytes(range(256)), "clé".encode(), "訂單-17".encode(), b"x" * 1000,
    *[f"order-{n}".encode() for n in range(200)],
    *[random.Random(seed).randbytes(seed % 37) for seed in range(200)],
]


class Cluster:
    """The part of kafka-python's ClusterMetadata its partitioner reads."""

    def __init__(self, partitions: int) -> None:
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


@pytest.mark.parametrize("partitions", [1, 2, 3, 7, 12, 100])
def test_every_key_lands_where_kafka_python_puts_it(partitions: int) -> None:
    cluster = Cluster(partitions)
    for key in KEYS:
        theirs = DefaultPartitioner().partition("t", key, key, b"v", b"v", cluster)
        assert partition_for_key(key, partitions) == theirs, key


def test_murmur2_matches_kafka_pythons() -> None:
    for key in KEYS:
        assert murmur2(key) == kafka_murmur2(key) & 0xFFFFFFFF, key


def test_known_values_from_kafkas_own_tests() -> None:
    # Kafka's UtilsTest.testMurmur2 (as signed Java ints).
    assert murmur2(b"21") & 0xFFFFFFFF == -973932308 & 0xFFFFFFFF
    assert murmur2(b"foobar") == -790332482 & 0xFFFFFFFF
    assert murmur2(b"a-little-bit-long-string") == -985981536 & 0xFFFFFFFF
    assert murmur2(b"a-little-bit-longer-string") == -1486304829 & 0xFFFFFFFF
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971 & 0xFFFFFFFF
    assert murmur2(b"abc") == 479470107


def test_a_topic_needs_a_partition() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for_key(b"k", 0)


def test_unkeyed_messages_move_on_after_a_batch_worth_of_bytes() -> None:
    sticky = StickyPartitions(switch_bytes=100)
    seen = []
    for _ in range(12):  # 40-byte batches: a partition takes three, then the next
        seen.append(sticky.current("t", 3))
        sticky.sent("t", 3, 40)
    assert seen == [0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0]
    assert sticky.current("other", 3) == 0  # each topic by itself


def test_a_topic_that_looks_smaller_starts_again_at_partition_0() -> None:
    sticky = StickyPartitions(switch_bytes=10)
    sticky.sent("t", 3, 10)
    sticky.sent("t", 3, 10)
    assert sticky.current("t", 3) == 2
    assert sticky.current("t", 2) == 0
