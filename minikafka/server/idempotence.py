"""Idempotent producers: producer ids, and the sequence numbers that make retries safe.

An idempotent producer asks for an id (InitProducerId), then stamps every
batch with that id, an epoch and a per-partition sequence number. When a
batch is retried after a lost response, the broker recognises its sequence
numbers and answers with the offset the first copy was given instead of
storing it twice. As in Kafka, the last ``CACHED_BATCHES`` batches of each
producer on each partition are remembered (a producer keeps at most five
requests in flight, so a retry is always among them).

The state lives in memory. After a broker restart a producer is unknown to
every partition, and its next batch is accepted whatever its sequence number
(Kafka would keep the state in a snapshot file); duplicates are caught again
from then on. Producer ids start from the wall clock, so ids handed out
after a restart never collide with ids still in use from before it.

Sans-I/O: nothing here awaits or touches storage.
"""

from __future__ import annotations

from collections import deque

import attrs

from minikafka.protocol import errors
from minikafka.protocol.batch_header import BatchHeader
from minikafka.storage.base import Clock

__all__ = [
    "ACCEPT",
    "CACHED_BATCHES",
    "PRODUCER_EXPIRATION_MS",
    "Accept",
    "Duplicate",
    "ProducerStates",
    "Reject",
    "Verdict",
]

CACHED_BATCHES = 5  # Kafka's limit on in-flight requests of an idempotent producer
PRODUCER_EXPIRATION_MS = 86_400_000  # Kafka's producer.id.expiration.ms
_SEQUENCE_WRAP = 2**31  # sequence numbers wrap from Int32 max to 0
NO_PRODUCER_ID = -1


@attrs.frozen
class Accept:
    """Store the batch (then ``ProducerStates.record`` it)."""


@attrs.frozen
class Duplicate:
    """A retry of a batch already stored at ``base_offset``: answer with that, store nothing."""

    base_offset: int


@attrs.frozen
class Reject:
    """Refuse the batch with a Kafka error code."""

    error_code: int
    message: str


Verdict = Accept | Duplicate | Reject
ACCEPT = Accept()  # immutable and without fields: the one verdict every accepted batch gets


@attrs.frozen
class _StoredBatch:
    first_sequence: int
    last_sequence: int
    base_offset: int


@attrs.define
class _PartitionProducer:
    """What one producer has stored in one partition."""

    epoch: int
    batches: deque[_StoredBatch]
    last_seen_ms: int


def last_sequence(header: BatchHeader) -> int:
    """The sequence number of the batch's last record (they wrap at Int32 max)."""
    return (header.base_sequence + header.last_offset_delta) % _SEQUENCE_WRAP


@attrs.define
class ProducerStates:
    """Producer ids handed out, and each producer's recent batches per partition."""

    clock: Clock
    _next_id: int = attrs.field(init=False)
    _states: dict[tuple[str, int, int], _PartitionProducer] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        # One id per microsecond since the epoch: ids grow across restarts
        # unless more than a million producers a second were started.
        self._next_id = self.clock() * 1000

    def new_producer_id(self) -> tuple[int, int]:
        """A fresh (producer id, epoch) for InitProducerId."""
        producer_id = self._next_id
        self._next_id += 1
        return producer_id, 0

    def check(self, topic: str, partition: int, header: BatchHeader) -> Verdict:
        """Whether the batch with this header may be appended to the partition."""
        if header.producer_id == NO_PRODUCER_ID:
            return ACCEPT
        state = self._states.get((topic, partition, header.producer_id))
        if state is None:
            return ACCEPT
        if header.producer_epoch < state.epoch:
            return Reject(
                errors.InvalidProducerEpochError.code,
                f"epoch {header.producer_epoch} is older than the current {state.epoch}",
            )
        if header.producer_epoch > state.epoch:
            if header.base_sequence != 0:
                return Reject(
                    errors.OutOfOrderSequenceNumberError.code,
                    f"a new epoch must start at sequence 0, not {header.base_sequence}",
                )
            return ACCEPT
        last = last_sequence(header)
        for stored in state.batches:
            if stored.first_sequence == header.base_sequence and stored.last_sequence == last:
                return Duplicate(stored.base_offset)
        expected = (state.batches[-1].last_sequence + 1) % _SEQUENCE_WRAP
        if header.base_sequence != expected:
            return Reject(
                errors.OutOfOrderSequenceNumberError.code,
                f"expected sequence {expected}, got {header.base_sequence}",
            )
        return ACCEPT

    def record(self, topic: str, partition: int, header: BatchHeader, base_offset: int) -> None:
        """Remember an appended batch so that a retry of it is recognised."""
        if header.producer_id == NO_PRODUCER_ID:
            return
        key = (topic, partition, header.producer_id)
        now = self.clock()
        state = self._states.get(key)
        if state is None or header.producer_epoch != state.epoch:
            state = _PartitionProducer(header.producer_epoch, deque(maxlen=CACHED_BATCHES), now)
            self._states[key] = state
        state.batches.append(_StoredBatch(header.base_sequence, last_sequence(header), base_offset))
        state.last_seen_ms = now

    def forget_topic(self, topic: str) -> None:
        """Drop every producer's state for a deleted topic."""
        for key in [key for key in self._states if key[0] == topic]:
            del self._states[key]

    def expire(self, now_ms: int, idle_ms: int = PRODUCER_EXPIRATION_MS) -> int:
        """Forget producers idle on a partition for longer than ``idle_ms``; returns how many."""
        stale = [key for key, state in self._states.items() if now_ms - state.last_seen_ms > idle_ms]
        for key in stale:
            del self._states[key]
        return len(stale)

    def __len__(self) -> int:
        return len(self._states)
