"""Which partition a message goes to: Kafka's default partitioner.

A message with a key goes to ``murmur2(key) & 0x7fffffff`` modulo the
partition count, so a key lands where Kafka's Java client, kafka-python and
librdkafka's ``murmur2_random`` partitioner would put it, and all messages
with one key stay in order in one partition. Messages without a key are
"sticky" (KIP-480): they fill one partition's batch, and the next batch goes
to the next partition, so unkeyed traffic spreads evenly batch by batch
without making many small batches.
"""

from __future__ import annotations

import random

__all__ = ["StickyPartitions", "murmur2", "partition_for_key"]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 (32-bit) as Kafka computes it: seed 0x9747b28c, unsigned result."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for start in range(0, whole, 4):
        k = int.from_bytes(data[start:start + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` among ``partitions``."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class StickyPartitions:
    """The partition for unkeyed messages of each topic: one until its batch is done, then the next."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._current: dict[str, int] = {}

    def current(self, topic: str, partitions: int) -> int:
        """Where unkeyed messages of ``topic`` go now (a random start, then in turn)."""
        chosen = self._current.get(topic)
        if chosen is None or chosen >= partitions:
            chosen = self._current[topic] = self._rng.randrange(partitions)
        return chosen

    def batch_done(self, topic: str, partitions: int) -> None:
        """The current partition's batch was sent: unkeyed messages move to the next one."""
        if topic in self._current:
            self._current[topic] = (self._current[topic] + 1) % max(partitions, 1)
