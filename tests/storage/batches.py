"""Record batches for storage tests, built with kafka-python's encoder (an independent one)."""

from __future__ import annotations

from collections.abc import Sequence

from kafka.record.default_records import (  # type: ignore[import-untyped]
    DefaultRecordBatch,
    DefaultRecordBatchBuilder,
)

from minikafka.protocol.batch_header import BatchHeader, iter_batches, set_base_offset


def make_batch(
    values: Sequence[bytes] = (b"value",), timestamp: int = 1_000, *, key: bytes | None = None
) -> bytes:
    """One uncompressed magic-2 batch with base offset 0, records stamped ``timestamp``+i."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for delta, value in enumerate(values):
        builder.append(delta, timestamp=timestamp + delta, key=key, value=value, headers=[])
    return bytes(builder.build())


def sized_batch(total_bytes: int, timestamp: int = 1_000) -> bytes:
    """One single-record batch of exactly ``total_bytes`` bytes (at least 80)."""
    overhead = len(make_batch([b""], timestamp))
    # The record's length varints grow with the value; shrink the value to fit.
    value_size = total_bytes - overhead
    while value_size >= 0:
        batch = make_batch([b"x" * value_size], timestamp)
        if len(batch) == total_bytes:
            return batch
        value_size -= 1
    raise ValueError(f"no single-record batch is {total_bytes} bytes")


def as_stored(batch: bytes, base_offset: int) -> bytes:
    """``batch`` as a backend must hand it back: identical except for its base offset."""
    stored = bytearray(batch)
    set_base_offset(stored, base_offset)
    return bytes(stored)


def headers_of(records: bytes | memoryview) -> list[BatchHeader]:
    """Every batch header in a read result, checking each batch's CRC and framing."""
    return [header for _, header in iter_batches(records)]


def values_of(records: bytes | memoryview) -> list[tuple[int, bytes]]:
    """(offset, value) of every record in a read result, decoded by kafka-python."""
    found: list[tuple[int, bytes]] = []
    for position, header in iter_batches(records):
        batch = DefaultRecordBatch(bytes(records[position : position + header.size]))
        found.extend((record.offset, record.value) for record in batch)
    return found
