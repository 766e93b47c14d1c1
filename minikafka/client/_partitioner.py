"""Which partition a message goes to: Kafka's default partitioner.

A message with a key goes to ``murmur2(key) & 0x7fffffff`` modulo the
partition count, so a key lands where Kafka's Java client, kafka-python and
librdkafka's ``murmur2_random`` partitioner would put it, and all messages
with one key stay in order in one partition. Messages without a key are
"sticky" (KIP-480, KIP-794): they go to one partition until a batch's worth
of bytes went there, then to the next, so unkeyed traffic spreads evenly
over the partitions, batch by batch, without making many small batches.
"""

from __future__ import annotations

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
    """The partition for unkeyed messages of each topic (Kafka's "uniform sticky" partitioner).

    Unkeyed messages stay on one partition until ``switch_bytes`` of them
    have gone there (Kafka switches after batch.size bytes, KIP-794), then
    move to the next partition in turn. The first is partition 0, so a
    consumer reading one partition sees a low-volume producer's messages.
    """

    def __init__(self, switch_bytes: int) -> None:
        if switch_bytes < 1:
            raise ValueError(f"switch_bytes must be positive, not {switch_bytes}")
        self.switch_bytes = switch_bytes
        self._current: dict[str, int] = {}
        self._filled: dict[str, int] = {}

    def current(self, topic: str, partitions: int) -> int:
        """Where unkeyed messages of ``topic`` go now."""
        chosen = self._current.get(topic, 0)
        if chosen >= partitions:  # the topic looks smaller than before: start again
            chosen = self._current[topic] = 0
            self._filled[topic] = 0
        return chosen

    def sent(self, topic: str, partitions: int, size: int) -> None:
        """``size`` bytes of unkeyed messages went to the current partition."""
        filled = self._filled.get(topic, 0) + size
        if filled >= self.switch_bytes:
            self._current[topic] = (self.current(topic, partitions) + 1) % max(partitions, 1)
            filled = 0
        self._filled[topic] = filled
