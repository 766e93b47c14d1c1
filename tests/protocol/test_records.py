"""Record batches: we read what Kafka's Python clients build, they read what we build.

Each client library appears once in a table of builders and a table of
readers; every test runs over every codec, so a difference in any field of
any record, in any direction, fails a test.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

import crc32c
import pytest
from aiokafka.record.default_records import (  # type: ignore[import-untyped]
    DefaultRecordBatch as AiokafkaBatch,
)
from aiokafka.record.default_records import (
    DefaultRecordBatchBuilder as AiokafkaBuilder,
)
from aiokafka.record.default_records import (
    _DefaultRecordBatchBuilderPy as AiokafkaPyBuilder,
)
from aiokafka.record.default_records import (
    _DefaultRecordBatchPy as AiokafkaPyBatch,
)
from aiokafka.record.memory_records import (  # type: ignore[import-untyped]
    MemoryRecords as AiokafkaMemoryRecords,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import (  # type: ignore[import-untyped]
    DefaultRecordBatch as KafkaBatch,
)
from kafka.record.default_records import (
    DefaultRecordBatchBuilder as KafkaBuilder,
)
from kafka.record.memory_records import (  # type: ignore[import-untyped]
    MemoryRecords as KafkaMemoryRecords,
)
from kafka.record.memory_records import (
    MemoryRecordsBuilder as KafkaMemoryRecordsBuilder,
)

from minikafka.protocol.batch_header import BATCH_HEADER_SIZE, CRC_OFFSET, CRC_START, BatchHeader
from minikafka.protocol.compression import Codec
from minikafka.protocol.records import (
    NO_TIMESTAMP,
    CorruptBatch,
    InvalidBatch,
    Record,
    RecordBatchBuilder,
    TimestampType,
    TruncatedBatch,
    build_batch,
    build_values_batch,
    checked_batches,
    decode_records,
    parse_batch,
    parse_records,
    records_of,
)

BASE_TIMESTAMP = 1_700_000_000_000
CODECS = list(Codec)


def sample_records(base_offset: int = 0) -> list[Record]:
    """Records covering the awkward cases: nulls, empties, NUL bytes, headers, odd timestamps."""
    return [
        Record(base_offset, BASE_TIMESTAMP, b"key", b"value"),
        Record(base_offset + 1, BASE_TIMESTAMP + 5, None, b"null key"),
        Record(base_offset + 2, BASE_TIMESTAMP - 1000, b"null value", None),  # earlier than base
        Record(base_offset + 3, BASE_TIMESTAMP, None, None),
        Record(base_offset + 4, BASE_TIMESTAMP, b"", b""),
        Record(base_offset + 5, BASE_TIMESTAMP + 2**40, b"\x00\x00k\x00", b"\x00v\x00\xff\x00"),
        Record(
            base_offset + 6,
            BASE_TIMESTAMP + 1,
            b"h",
            b"with headers",
            (("trace-id", b"\x00\x01"), ("empty", b""), ("null", None), ("ünïcode", b"x")),
        ),
        *(
            Record(base_offset + i, BASE_TIMESTAMP + i * 37, b"k%d" % i, b"v" * i, (("i", b"%d" % i),))
            for i in range(7, 300)
        ),
    ]


# --- the clients, as tables ----------------------------------------------------

Builder = Callable[[Sequence[Record], Codec], bytes]
Reader = Callable[[bytes], list[Record]]


def _with_client_builder(builder: Any, records: Sequence[Record]) -> bytes:
    # Both clients' builders take offsets relative to a base offset of 0.
    for record in records:
        builder.append(record.offset, record.timestamp, record.key, record.value,
                       list(record.headers))
    return bytes(builder.build())


def kafka_python_builder(records: Sequence[Record], codec: Codec) -> bytes:
    builder = KafkaBuilder(magic=2, compression_type=codec, is_transactional=False,
                           producer_id=-1, producer_epoch=-1, base_sequence=-1,
                           batch_size=2**30)
    return _with_client_builder(builder, records)


def kafka_python_memory_records_builder(records: Sequence[Record], codec: Codec) -> bytes:
    builder = KafkaMemoryRecordsBuilder(magic=2, compression_type=codec, batch_size=2**30)
    for record in records:
        assert builder.next_offset() == record.offset
        builder.append(record.timestamp, record.key, record.value, list(record.headers))
    builder.close()
    return bytes(builder.buffer())


def aiokafka_builder(records: Sequence[Record], codec: Codec) -> bytes:
    builder = AiokafkaBuilder(magic=2, compression_type=codec, is_transactional=0,
                              producer_id=-1, producer_epoch=-1, base_sequence=-1,
                              batch_size=2**30)
    return _with_client_builder(builder, records)


def aiokafka_python_builder(records: Sequence[Record], codec: Codec) -> bytes:
    builder = AiokafkaPyBuilder(magic=2, compression_type=codec, is_transactional=0,
                                producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                batch_size=2**30)
    return _with_client_builder(builder, records)


BUILDERS: dict[str, Builder] = {
    "kafka-python DefaultRecordBatchBuilder": kafka_python_builder,
    "kafka-python MemoryRecordsBuilder": kafka_python_memory_records_builder,
    "aiokafka DefaultRecordBatchBuilder (C)": aiokafka_builder,
    "aiokafka DefaultRecordBatchBuilder (Python)": aiokafka_python_builder,
}


def _as_records(their_records: Any) -> list[Record]:
    return [Record(r.offset, r.timestamp, r.key, r.value, tuple(r.headers)) for r in their_records]


def kafka_python_reader(data: bytes) -> list[Record]:
    batch = KafkaBatch(data)
    assert batch.validate_crc()
    return _as_records(batch)


def kafka_python_memory_records_reader(data: bytes) -> list[Record]:
    memory_records = KafkaMemoryRecords(data)
    records: list[Record] = []
    while memory_records.has_next():
        batch = memory_records.next_batch()
        assert batch.validate_crc()
        records.extend(_as_records(batch))
    return records


def aiokafka_reader(data: bytes) -> list[Record]:
    batch = AiokafkaBatch(data)
    assert batch.validate_crc()
    return _as_records(batch)


def aiokafka_python_reader(data: bytes) -> list[Record]:
    batch = AiokafkaPyBatch(data)
    assert batch.validate_crc()
    return _as_records(batch)


def aiokafka_memory_records_reader(data: bytes) -> list[Record]:
    memory_records = AiokafkaMemoryRecords(data)
    records: list[Record] = []
    while memory_records.has_next():
        batch = memory_records.next_batch()
        assert batch.validate_crc()
        records.extend(_as_records(batch))
    return records


READERS: dict[str, Reader] = {
    "kafka-python DefaultRecordBatch": kafka_python_reader,
    "kafka-python MemoryRecords": kafka_python_memory_records_reader,
    "aiokafka DefaultRecordBatch (C)": aiokafka_reader,
    "aiokafka DefaultRecordBatch (Python)": aiokafka_python_reader,
    "aiokafka MemoryRecords": aiokafka_memory_records_reader,
}


def _pairs(table: dict[str, Any]) -> list[Any]:
    return [
        pytest.param(table[name], codec, id=f"{name}-{codec.name}")
        for name in table
        for codec in CODECS
    ]


# --- interoperability -------------------------------------------------------------


@pytest.mark.parametrize(("build", "codec"), _pairs(BUILDERS))
def test_we_read_batches_clients_build(build: Builder, codec: Codec) -> None:
    records = sample_records()
    batch = parse_batch(build(records, codec))
    assert list(batch.records) == records
    assert batch.compression is codec
    assert batch.timestamp_type is TimestampType.CREATE_TIME
    assert batch.header.base_timestamp == BASE_TIMESTAMP
    assert batch.header.max_timestamp == BASE_TIMESTAMP + 2**40
    assert batch.header.records_count == len(records)
    assert batch.next_offset == len(records)


@pytest.mark.parametrize(("read", "codec"), _pairs(READERS))
def test_clients_read_batches_we_build(read: Reader, codec: Codec) -> None:
    records = sample_records(base_offset=1000)
    assert read(build_batch(records, compression=codec)) == records


@pytest.mark.parametrize(("build", "codec"), _pairs(BUILDERS))
def test_we_read_a_one_megabyte_value_clients_build(build: Builder, codec: Codec) -> None:
    value = bytes(range(256)) * 3906 + b"\x00" * 64  # 1,000,000 bytes, NULs included
    assert len(value) == 1_000_000
    records = [Record(0, BASE_TIMESTAMP, b"big", value), Record(1, BASE_TIMESTAMP, None, b"after")]
    assert list(parse_batch(build(records, codec)).records) == records


@pytest.mark.parametrize(("read", "codec"), _pairs(READERS))
def test_clients_read_a_one_megabyte_value_we_build(read: Reader, codec: Codec) -> None:
    value = bytes(range(256)) * 3906 + b"\x00" * 64
    records = [Record(7, BASE_TIMESTAMP, b"big", value), Record(8, BASE_TIMESTAMP, None, b"after")]
    assert read(build_batch(records, compression=codec)) == records


@pytest.mark.parametrize("codec", CODECS)
def test_many_records_both_ways(codec: Codec) -> None:
    records = [
        Record(i, BASE_TIMESTAMP + i, None if i % 5 == 0 else b"%d" % i, b"x" * (i % 200))
        for i in range(10_000)
    ]
    assert list(parse_batch(kafka_python_builder(records, codec)).records) == records
    assert aiokafka_reader(build_batch(records, compression=codec)) == records


def test_batch_attributes_reach_kafka_python() -> None:
    data = build_batch(
        sample_records(base_offset=50),
        compression=Codec.ZSTD,
        transactional=True,
        producer_id=4242,
        producer_epoch=7,
        base_sequence=99,
        partition_leader_epoch=3,
    )
    theirs = KafkaBatch(data)
    assert (theirs.base_offset, theirs.leader_epoch, theirs.producer_id, theirs.producer_epoch,
            theirs.base_sequence) == (50, 3, 4242, 7, 99)
    assert theirs.is_transactional and not theirs.is_control_batch
    assert theirs.compression_type == Codec.ZSTD
    assert theirs.records_count == 300 and theirs.last_offset == 349


def test_batch_attributes_from_kafka_python() -> None:
    builder = KafkaBuilder(magic=2, compression_type=Codec.LZ4, is_transactional=True,
                           producer_id=4242, producer_epoch=7, base_sequence=99,
                           batch_size=2**20)
    builder.append(0, BASE_TIMESTAMP, b"k", b"v" * 1000, [])
    data = bytes(builder.build())
    header = parse_batch(data).header
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (4242, 7, 99)
    assert header.is_transactional and not header.is_control
    assert header.compression == Codec.LZ4
    assert header.partition_leader_epoch == KafkaBatch(data).leader_epoch


def test_control_batch_bit() -> None:
    # A COMMIT marker: key is version 0 + type 1, value is version 0 + coordinator epoch.
    marker = Record(10, BASE_TIMESTAMP, struct.pack(">hh", 0, 1), struct.pack(">hi", 0, 5))
    data = build_batch([marker], control=True, transactional=True, producer_id=1,
                       producer_epoch=0)
    batch = parse_batch(data)
    assert batch.header.is_control and batch.header.is_transactional
    assert batch.records == (marker,)
    theirs = KafkaBatch(data)
    assert theirs.is_control_batch
    assert [record.commit for record in theirs] == [True]


@pytest.mark.parametrize("read", list(READERS.values()), ids=list(READERS))
def test_log_append_time_gives_every_record_the_batch_time(read: Reader) -> None:
    records = sample_records()[:5]
    data = build_batch(records, timestamp_type=TimestampType.LOG_APPEND_TIME,
                       max_timestamp=BASE_TIMESTAMP + 999)
    batch = parse_batch(data)
    assert batch.timestamp_type is TimestampType.LOG_APPEND_TIME
    expected = [Record(r.offset, BASE_TIMESTAMP + 999, r.key, r.value, r.headers) for r in records]
    assert list(batch.records) == expected
    assert read(data) == expected


def test_several_batches_in_one_records_field_clients_read() -> None:
    first = build_batch(sample_records(base_offset=0)[:10], compression=Codec.GZIP)
    second = build_batch(sample_records(base_offset=10)[:10], compression=Codec.SNAPPY)
    records = sample_records(base_offset=0)[:10] + sample_records(base_offset=10)[:10]
    assert kafka_python_memory_records_reader(first + second) == records
    assert aiokafka_memory_records_reader(first + second) == records


# --- our own behaviour -----------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_header_fields_round_trip(codec: Codec) -> None:
    records = sample_records(base_offset=2**40)
    data = build_batch(records, compression=codec, producer_id=77, producer_epoch=3,
                       base_sequence=12, partition_leader_epoch=9)
    header = parse_batch(data).header
    assert header == BatchHeader.parse(data)
    assert header.base_offset == 2**40
    assert header.batch_length == len(data) - 12
    assert header.magic == 2
    assert header.crc == crc32c.crc32c(data[CRC_START:])
    assert header.compression == codec
    assert header.last_offset_delta == len(records) - 1
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (77, 3, 12)
    assert header.partition_leader_epoch == 9


def test_empty_batch() -> None:
    data = build_batch([], base_offset=5)
    batch = parse_batch(data)
    assert batch.records == ()
    assert batch.header.base_timestamp == batch.header.max_timestamp == NO_TIMESTAMP
    assert len(data) == BATCH_HEADER_SIZE
    assert kafka_python_reader(data) == []


def test_builder_assigns_offsets_and_timestamps() -> None:
    builder = RecordBatchBuilder(base_offset=100, compression=Codec.GZIP)
    first = builder.append(b"one", key=b"k", headers=[("h", b"v")], timestamp=BASE_TIMESTAMP)
    before = time.time_ns() // 1_000_000
    second = builder.append(b"two")
    after = time.time_ns() // 1_000_000
    builder.append_record(Record(105, BASE_TIMESTAMP, None, b"gap"))  # offsets may skip
    third = builder.append(b"three", timestamp=BASE_TIMESTAMP)
    assert (first.offset, second.offset, third.offset) == (100, 101, 106)
    assert first.headers == (("h", b"v"),)
    assert before <= second.timestamp <= after  # "now", in milliseconds
    assert len(builder) == 4
    batch = parse_batch(builder.build())
    assert [r.offset for r in batch.records] == [100, 101, 105, 106]
    assert batch.header.last_offset_delta == 6


def test_builder_refuses_offsets_that_go_backwards() -> None:
    builder = RecordBatchBuilder(base_offset=10)
    with pytest.raises(ValueError, match="does not follow"):
        builder.append_record(Record(9, 0, None, b"before the base"))
    builder.append_record(Record(10, 0, None, b"x"))
    with pytest.raises(ValueError, match="does not follow"):
        builder.append_record(Record(10, 0, None, b"same offset"))


def test_builder_refuses_offset_deltas_beyond_int32() -> None:
    with pytest.raises(ValueError, match="int32"):
        build_batch([Record(2**31, 0)], base_offset=0)


def test_builder_base_offset_is_read_only() -> None:
    builder = RecordBatchBuilder(base_offset=7)
    builder.append(b"x", timestamp=BASE_TIMESTAMP)
    with pytest.raises(AttributeError):
        builder.base_offset = 0  # type: ignore[misc]
    assert parse_batch(builder.build()).records[0].offset == 7


# Value lengths and offset deltas on both sides of the one-, two- and
# three-byte varint limits (63/64, 8191/8192), and a null-length value.
VALUE_SIZES = [0, 1, 63, 64, 100, 8186, 8191, 8192, 20_000]


@pytest.mark.parametrize("codec", [Codec.NONE, Codec.GZIP])
def test_append_values_builds_what_append_builds(codec: Codec) -> None:
    values = [bytes([n]) * size for n, size in enumerate(VALUE_SIZES)]
    values += [b"%d" % n for n in range(8300)]  # offset deltas past 8191
    one_by_one = RecordBatchBuilder(base_offset=5, compression=codec)
    together = RecordBatchBuilder(base_offset=5, compression=codec)
    for builder in (one_by_one, together):  # a first record sets the base timestamp
        builder.append(b"first", key=b"k", headers=[("h", None)], timestamp=BASE_TIMESTAMP)
    for value in values:
        one_by_one.append(value, timestamp=BASE_TIMESTAMP - 1)
    assert together.append_values(values, BASE_TIMESTAMP - 1) == 6
    assert len(together) == len(values) + 1 and together.next_offset == len(values) + 6
    assert together.build() == one_by_one.build()
    batch = parse_batch(together.build())
    assert [r.value for r in batch.records[1:]] == values
    assert batch.records[-1] == Record(len(values) + 5, BASE_TIMESTAMP - 1, None, values[-1])
    assert batch.header.max_timestamp == BASE_TIMESTAMP
    assert kafka_python_reader(together.build()) == list(batch.records)


def test_append_values_appends_nothing_when_a_value_is_not_bytes() -> None:
    builder = RecordBatchBuilder()
    builder.append_values([b"a"], BASE_TIMESTAMP)
    with pytest.raises(TypeError):
        builder.append_values([b"b", "text", b"c"], BASE_TIMESTAMP)  # type: ignore[list-item]
    assert builder.append_values([], BASE_TIMESTAMP) == 1
    assert [r.value for r in parse_batch(builder.build()).records] == [b"a"]


def test_decode_records_makes_each_record_from_the_first_offset() -> None:
    data = build_batch(sample_records(base_offset=10)[:4]) + build_batch(
        sample_records(base_offset=14)[:2], compression=Codec.GZIP)
    batches = checked_batches(data + data[:30])  # a trailing partial batch is left out
    assert [(position, header.base_offset) for position, header in batches] == [
        (0, 10), (batches[1][0], 14)]

    def as_tuple(offset: int, timestamp: int, key: bytes | None, value: bytes | None,
                 headers: tuple[tuple[str, bytes | None], ...]) -> tuple[Any, ...]:
        return (offset, timestamp, key, value, headers)

    decoded = [row for position, header in batches
               for row in decode_records(data, position, header, as_tuple, first_offset=12)]
    expected = [r for r in sample_records(base_offset=10)[:4] + sample_records(base_offset=14)[:2]
                if r.offset >= 12]
    assert decoded == [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in expected]
    with pytest.raises(TruncatedBatch):
        checked_batches(data + data[:30], allow_partial=False)


def test_header_lists_are_stored_as_tuples() -> None:
    record = Record(0, 0, None, b"v", [("a", b"1")])  # type: ignore[arg-type]
    assert record.headers == (("a", b"1"),)
    assert parse_batch(build_batch([record])).records == (record,)


def test_parse_batch_at_an_offset() -> None:
    first = build_batch(sample_records()[:3])
    second = build_batch(sample_records(base_offset=3)[:3])
    batch = parse_batch(first + second, len(first))
    assert list(batch.records) == sample_records(base_offset=3)[:3]


# --- corruption and truncation ----------------------------------------------------------


def _small_batch(codec: Codec = Codec.NONE) -> bytes:
    return build_batch(sample_records()[:8], compression=codec)


@pytest.mark.parametrize("codec", CODECS)
def test_every_flipped_byte_under_the_crc_is_a_crc_error(codec: Codec) -> None:
    data = _small_batch(codec)
    for position in range(CRC_OFFSET, len(data)):  # the CRC itself, then everything it covers
        corrupt = bytearray(data)
        corrupt[position] ^= 0x01
        with pytest.raises(CorruptBatch, match="CRC mismatch"):
            parse_batch(corrupt)
        with pytest.raises(CorruptBatch):
            parse_records(bytes(corrupt))


def test_corrupt_batch_message_gives_both_crcs() -> None:
    corrupt = bytearray(_small_batch())
    corrupt[-1] ^= 0xFF
    with pytest.raises(CorruptBatch) as excinfo:
        parse_batch(corrupt)
    stated = struct.unpack_from(">I", corrupt, CRC_OFFSET)[0]
    assert f"{stated:#010x}" in str(excinfo.value)
    assert f"{crc32c.crc32c(bytes(corrupt[CRC_START:])):#010x}" in str(excinfo.value)


def test_base_offset_and_leader_epoch_are_outside_the_crc() -> None:
    corrupt = bytearray(_small_batch())
    corrupt[7] ^= 0x01  # lowest byte of the base offset
    corrupt[15] ^= 0x01  # lowest byte of the partition leader epoch
    batch = parse_batch(corrupt)
    assert batch.base_offset == 1
    assert batch.header.partition_leader_epoch == -2
    assert batch.records[0].offset == 1


def test_wrong_magic_is_named() -> None:
    corrupt = bytearray(_small_batch())
    corrupt[16] = 1
    with pytest.raises(InvalidBatch, match="unsupported magic 1"):
        parse_batch(corrupt)


@pytest.mark.parametrize("codec", CODECS)
def test_every_truncation_is_a_truncated_batch(codec: Codec) -> None:
    data = _small_batch(codec)
    for length in range(len(data)):
        with pytest.raises(TruncatedBatch, match=r"shorter than a batch header|truncated to"):
            parse_batch(data[:length])
        with pytest.raises(TruncatedBatch):
            parse_records(data[: max(length, 1)], allow_partial=False)


def test_fetch_response_ending_in_a_partial_batch() -> None:
    batches = [build_batch(sample_records(base_offset=i * 8)[:8], compression=Codec(i % 5))
               for i in range(3)]
    whole = b"".join(batches)
    for cut in (1, 11, 12, 60, 61, len(batches[2]) - 1):
        parsed = parse_records(whole + batches[2][:cut])
        assert [batch.base_offset for batch in parsed] == [0, 8, 16]
        assert records_of(parsed) == [r for b in batches for r in parse_batch(b).records]
    assert parse_records(batches[0][:100]) == []  # a batch larger than the fetch size


def _recrc(data: bytearray) -> bytes:
    struct.pack_into(">I", data, CRC_OFFSET, crc32c.crc32c(bytes(data[CRC_START:])))
    return bytes(data)


def test_record_fields_overrunning_the_record_are_an_error() -> None:
    data = bytearray(build_batch([Record(0, 0, b"key", b"value")]))
    # Record: length, attributes, timestamp delta, offset delta, then the key length.
    key_length_at = BATCH_HEADER_SIZE + 4
    assert data[key_length_at] == 6  # zigzag(3)
    data[key_length_at] = 40  # zigzag(20): past the record's end
    with pytest.raises(InvalidBatch, match="record 0 is malformed: key of 20 bytes"):
        parse_batch(_recrc(data))
    data[key_length_at] = 5  # zigzag(-3): only -1 (null) may be negative
    with pytest.raises(InvalidBatch, match="key length -3"):
        parse_batch(_recrc(data))


def test_record_count_beyond_the_records_is_an_error() -> None:
    data = bytearray(build_batch([Record(0, 0, b"k", b"v")]))
    struct.pack_into(">i", data, BATCH_HEADER_SIZE - 4, 2)
    with pytest.raises(InvalidBatch, match="record 1 runs past the end of the batch"):
        parse_batch(_recrc(data))


def test_records_are_read_within_their_batch_when_more_follow() -> None:
    # Uncompressed records are decoded in place, in the bytes of the whole
    # records field: a batch's records must not run on into the next batch.
    following = build_batch([Record(5, 0, b"k", b"v" * 200)])
    data = bytearray(build_batch([Record(0, 0, b"k", b"v")]))
    struct.pack_into(">i", data, BATCH_HEADER_SIZE - 4, 2)
    with pytest.raises(InvalidBatch, match="record 1 runs past the end of the batch"):
        parse_records(_recrc(data) + following)
    data = bytearray(build_batch([Record(0, 0, b"k", b"v")]))
    data[BATCH_HEADER_SIZE] += 4  # zigzag: the record is 2 bytes longer, into the next batch
    with pytest.raises(InvalidBatch, match="record 0 is malformed: length 10 with 8 bytes left"):
        parse_records(_recrc(data) + following)


def test_bytes_after_the_last_record_are_an_error() -> None:
    data = bytearray(build_batch([Record(0, 0, b"k", b"v"), Record(1, 0, b"k", b"v")]))
    struct.pack_into(">i", data, BATCH_HEADER_SIZE - 4, 1)
    with pytest.raises(InvalidBatch, match="bytes left over after 1 records"):
        parse_batch(_recrc(data))


def test_header_key_that_is_not_utf8_is_an_error() -> None:
    data = bytearray(build_batch([Record(0, 0, None, b"v", (("k", b"v"),))]))
    position = data.index(b"k", BATCH_HEADER_SIZE + 6)  # the header key
    data[position] = 0xFF
    with pytest.raises(InvalidBatch, match="not UTF-8"):
        parse_batch(_recrc(data))


def test_records_that_do_not_decompress_are_an_error() -> None:
    data = bytearray(_small_batch(Codec.GZIP))
    data[BATCH_HEADER_SIZE + 20 : BATCH_HEADER_SIZE + 30] = b"\x00" * 10
    with pytest.raises(InvalidBatch, match="records do not decompress: gzip"):
        parse_batch(_recrc(data))


def test_unknown_codec_in_attributes_is_an_error() -> None:
    data = bytearray(_small_batch())
    data[CRC_START + 1] |= 0x07  # codec 7
    with pytest.raises(InvalidBatch, match="unknown compression codec 7"):
        parse_batch(_recrc(data))


# --- property ------------------------------------------------------------------------------

_headers = st.lists(
    st.tuples(st.text(max_size=10), st.one_of(st.none(), st.binary(max_size=20))), max_size=3
).map(tuple)
_record_fields = st.tuples(
    st.integers(min_value=1, max_value=2**20),  # gap to the previous offset
    st.integers(min_value=-(2**61), max_value=2**61),  # deltas up to 2**62: 10-byte varints
    st.one_of(st.none(), st.binary(max_size=40)),
    st.one_of(st.none(), st.binary(max_size=200)),
    _headers,
)


@settings(max_examples=150, deadline=None)
@given(
    base_offset=st.integers(min_value=0, max_value=2**62),
    fields=st.lists(_record_fields, max_size=25),
    codec=st.sampled_from(CODECS),
)
def test_parse_inverts_build(base_offset: int, fields: list[Any], codec: Codec) -> None:
    records = []
    offset = base_offset - 1
    for gap, timestamp, key, value, headers in fields:
        offset += gap
        records.append(Record(offset, timestamp, key, value, headers))
    records = [r for r in records if r.offset - base_offset < 2**31]
    data = build_batch(records, base_offset=base_offset, compression=codec)
    assert list(parse_batch(data).records) == records


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.binary(max_size=300) | st.sampled_from([b"x" * 9000, b"y" * 70000]),
                    min_size=1, max_size=20),
    timestamp=st.integers(0, 2**41),
    producer=st.tuples(st.integers(-1, 2**63 - 1), st.integers(-1, 2**15 - 1),
                       st.integers(-1, 2**31 - 1)),
)
def test_values_batch_is_the_builders_batch(values: list[bytes], timestamp: int,
                                            producer: tuple[int, int, int]) -> None:
    # the producer's shortcut for plain values must give byte for byte what the
    # builder gives, or batches would differ by the path that sent them
    producer_id, producer_epoch, base_sequence = producer
    builder = RecordBatchBuilder(producer_id=producer_id, producer_epoch=producer_epoch,
                                 base_sequence=base_sequence)
    builder.append_values(values, timestamp)
    assert build_values_batch(values, timestamp, producer_id=producer_id,
                              producer_epoch=producer_epoch,
                              base_sequence=base_sequence) == builder.build()


def test_values_batch_refuses_what_a_batch_cannot_hold() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        build_values_batch([], 0)
    with pytest.raises(ValueError, match="out of range"):
        build_values_batch([b"v"], 0, producer_epoch=2**15)
