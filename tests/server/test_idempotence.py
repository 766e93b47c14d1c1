"""Producer state: duplicates recognised, gaps and stale epochs refused, ids unique."""

from __future__ import annotations

from minikafka.protocol import errors
from minikafka.protocol.batch_header import BatchHeader
from minikafka.server.idempotence import (
    CACHED_BATCHES,
    Accept,
    Duplicate,
    ProducerStates,
    Reject,
)

from .conftest import FakeClock
from .helpers import batch


def header(sequence: int, records: int = 1, *, producer_id: int = 42,
           epoch: int = 0) -> BatchHeader:
    return BatchHeader.parse(batch(*[b"v"] * records, producer_id=producer_id,
                                   producer_epoch=epoch, base_sequence=sequence))


def stored(states: ProducerStates, sequence: int, records: int, offset: int, *,
           epoch: int = 0) -> None:
    found = header(sequence, records, epoch=epoch)
    assert states.check("t", 0, found) == Accept()
    states.record("t", 0, found, offset)


def test_ids_are_distinct_and_grow_across_restarts(clock: FakeClock) -> None:
    first = ProducerStates(clock)
    ids = {first.new_producer_id()[0] for _ in range(100)}
    assert len(ids) == 100
    clock.now += 1  # a restart a millisecond later
    assert ProducerStates(clock).new_producer_id()[0] > max(ids)


def test_batches_without_producer_id_are_never_tracked(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    plain = BatchHeader.parse(batch(b"x"))
    for offset in range(3):
        assert states.check("t", 0, plain) == Accept()
        states.record("t", 0, plain, offset)
    assert len(states) == 0


def test_a_retried_batch_is_a_duplicate_with_its_first_offset(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    stored(states, 0, 3, 1)
    stored(states, 3, 2, 4)
    assert states.check("t", 0, header(0, 3)) == Duplicate(1)
    assert states.check("t", 0, header(3, 2)) == Duplicate(4)
    assert states.check("t", 0, header(5, 1)) == Accept()


def test_only_the_last_batches_are_remembered(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    for sequence in range(CACHED_BATCHES + 1):
        stored(states, sequence, 1, sequence + 1)
    oldest = states.check("t", 0, header(0))
    assert isinstance(oldest, Reject)
    assert states.check("t", 0, header(1)) == Duplicate(2)


def test_a_gap_in_sequence_is_refused(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    stored(states, 0, 2, 1)
    verdict = states.check("t", 0, header(3))
    assert isinstance(verdict, Reject)
    assert verdict.error_code == errors.OutOfOrderSequenceNumberError.code
    assert "expected sequence 2" in verdict.message


def test_sequences_are_per_partition(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    stored(states, 0, 5, 1)
    assert states.check("t", 1, header(0)) == Accept()
    assert states.check("other", 0, header(0)) == Accept()


def test_epochs(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    stored(states, 0, 1, 1, epoch=1)
    stale = states.check("t", 0, header(1, epoch=0))
    assert isinstance(stale, Reject)
    assert stale.error_code == errors.InvalidProducerEpochError.code
    assert isinstance(states.check("t", 0, header(7, epoch=2)), Reject)  # new epoch starts at 0
    stored(states, 0, 1, 2, epoch=2)
    assert states.check("t", 0, header(1, epoch=2)) == Accept()


def test_sequence_numbers_wrap_after_int32_max(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    stored(states, 2**31 - 2, 2, 1)
    assert states.check("t", 0, header(0)) == Accept()


def test_an_unknown_producer_is_accepted_at_any_sequence(clock: FakeClock) -> None:
    # After a broker restart the state is gone; the producer carries on numbering.
    states = ProducerStates(clock)
    assert states.check("t", 0, header(1234)) == Accept()


def test_idle_producers_expire(clock: FakeClock) -> None:
    states = ProducerStates(clock)
    stored(states, 0, 1, 1)
    clock.now += 1000
    assert states.expire(clock.now, idle_ms=5000) == 0
    clock.now += 5000
    assert states.expire(clock.now, idle_ms=5000) == 1
    assert states.check("t", 0, header(0)) == Accept()
