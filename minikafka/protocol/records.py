"""Record batches (magic 2): building them from records and parsing them back.

The broker moves batches as bytes and reads only their fixed header
(``batch_header``); this module is for the ends of the pipe, the clients,
tools and tests, which need the records themselves.
"""

# A batch, as Kafka's DefaultRecordBatch writes it (big-endian; the header
# fields and their offsets live in batch_header)::
#
#     baseOffset            int64
#     batchLength           int32    bytes after this field
#     partitionLeaderEpoch  int32
#     magic                 int8     2
#     crc                   uint32   CRC-32C of attributes .. end of batch
#     attributes            int16    bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
#     lastOffsetDelta       int32
#     baseTimestamp         int64
#     maxTimestamp          int64
#     producerId            int64
#     producerEpoch         int16
#     baseSequence          int32
#     recordsCount          int32
#     records               recordsCount x Record, compressed as one block if the codec is not 0
#
# A record (varint / varlong are zigzag LEB128, as in protobuf)::
#
#     length                varint   bytes after this field
#     attributes            int8     unused, 0
#     timestampDelta        varlong  timestamp - baseTimestamp
#     offsetDelta           varint   offset - baseOffset
#     keyLength             varint   -1 for a null key
#     key                   bytes
#     valueLength           varint   -1 for a null value
#     value                 bytes
#     headersCount          varint
#     headers               headersCount x (keyLength varint, key utf-8,
#                                          valueLength varint (-1 null), value bytes)

from __future__ import annotations

import enum
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import attrs
import crc32c

from .batch_header import (
    BATCH_HEADER_SIZE,
    COMPRESSION_MASK,
    CONTROL_BIT,
    CRC_OFFSET,
    CRC_START,
    LOG_OVERHEAD,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    BatchHeader,
    CorruptBatch,
    InvalidBatch,
    TruncatedBatch,
    check_batch,
)
from .compression import Codec, DecompressionFailed, UnknownCodec, compress, decompress

# The batch errors are re-exported so that callers need only this module.
__all__ = [
    "NO_TIMESTAMP",
    "CorruptBatch",
    "Header",
    "InvalidBatch",
    "Record",
    "RecordBatch",
    "RecordBatchBuilder",
    "RecordMaker",
    "TimestampType",
    "TruncatedBatch",
    "build_batch",
    "build_values_batch",
    "checked_batches",
    "decode_records",
    "parse_batch",
    "parse_records",
    "records_of",
]

Buffer = bytes | bytearray | memoryview
T = TypeVar("T")
Header = tuple[str, bytes | None]

NO_TIMESTAMP = -1  # an empty batch's timestamps, as Kafka writes them
_MAGIC = 2
_INT32_MAX = 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_CRC = struct.Struct(">I")


class TimestampType(enum.IntEnum):
    """Attribute bit 3: who set the timestamps."""

    CREATE_TIME = 0  # the producer, per record
    LOG_APPEND_TIME = 1  # the broker, once per batch (its maxTimestamp)


def _headers(value: Iterable[Header]) -> tuple[Header, ...]:
    return value if type(value) is tuple else tuple(value)


def _codec(value: int) -> Codec:
    if type(value) is Codec:  # the usual case, without an enum lookup
        return value
    try:
        return Codec(value)
    except ValueError:
        raise UnknownCodec(value) from None


def _timestamp_type(value: int) -> TimestampType:
    return value if type(value) is TimestampType else TimestampType(value)


@attrs.frozen
class Record:
    """One record: its absolute offset and timestamp, key, value and headers."""

    offset: int
    timestamp: int
    key: bytes | None = None
    value: bytes | None = None
    headers: tuple[Header, ...] = attrs.field(default=(), converter=_headers)


@attrs.frozen
class RecordBatch:
    """A parsed batch: its fixed header and its records, decompressed."""

    header: BatchHeader
    records: tuple[Record, ...]

    @property
    def base_offset(self) -> int:
        return self.header.base_offset

    @property
    def next_offset(self) -> int:
        """The offset after this batch's last (even when compaction removed that record)."""
        return self.header.last_offset + 1

    @property
    def compression(self) -> Codec:
        return Codec(self.header.compression)

    @property
    def timestamp_type(self) -> TimestampType:
        return TimestampType(self.header.uses_log_append_time)

    @property
    def size(self) -> int:
        """The batch's size on the wire, in bytes."""
        return self.header.size


# --- building ----------------------------------------------------------------


def _varint(value: int) -> bytes:
    """``value`` as a zigzag varint."""
    zigzag = value << 1 if value >= 0 else ((-value) << 1) - 1
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


# The encoded varints of 0 .. 8191 (every one of one or two bytes), by value:
# record lengths, value lengths and offset deltas are nearly always among
# them, and a list lookup is several times cheaper than encoding.
_SMALL_VARINTS = [_varint(value) for value in range(1 << 13)]
_SMALL_LIMIT = len(_SMALL_VARINTS)
_NULL = _varint(-1)  # the length of a null key or value
# A null key followed by the varint of a value's length, by that length: what
# precedes the value of every keyless record.
_NULL_KEY_THEN = [_NULL + encoded for encoded in _SMALL_VARINTS]


def _small_varint(value: int) -> bytes:
    return _SMALL_VARINTS[value] if 0 <= value < _SMALL_LIMIT else _varint(value)


def _length_prefixed(data: bytes | None) -> bytes:
    return _NULL if data is None else _small_varint(len(data)) + data


def _encode_record(out: bytearray, offset_delta: int, timestamp_delta: int,
                   key: bytes | None, value: bytes | None, headers: tuple[Header, ...]) -> None:
    fields = (b"\x00"  # attributes: unused
              + _small_varint(timestamp_delta) + _small_varint(offset_delta)
              + _length_prefixed(key) + _length_prefixed(value))
    if headers:
        parts = [fields, _small_varint(len(headers))]
        for name, header_value in headers:
            parts.append(_length_prefixed(name.encode("utf-8")))
            parts.append(_length_prefixed(header_value))
        fields = b"".join(parts)
    else:
        fields += b"\x00"  # no headers
    out += _small_varint(len(fields))
    out += fields


def _encode_values(out: bytearray, values: Sequence[bytes], first_offset_delta: int,
                   timestamp_delta: int) -> None:
    """Records of ``values`` (no key, no headers, one timestamp) at consecutive offsets.

    The producer's hot loop: a record costs a few list lookups, where
    ``_encode_record`` encodes each field separately; joining the pieces
    once is cheaper than growing ``out`` piece by piece.
    """
    small = _SMALL_VARINTS
    limit = _SMALL_LIMIT
    null_key_then = _NULL_KEY_THEN
    # attributes (0) and the timestamp delta, the same for every record
    head = b"\x00" + _small_varint(timestamp_delta)
    fixed = len(head) + 1  # and the headers count (0) after the value
    offset_delta = first_offset_delta
    pieces: list[bytes] = []
    extend = pieces.extend
    for value in values:
        size = len(value)
        prefix = null_key_then[size] if size < limit else _NULL + _varint(size)
        delta = small[offset_delta] if offset_delta < limit else _varint(offset_delta)
        length = fixed + len(delta) + len(prefix) + size
        extend((small[length] if length < limit else _varint(length), head, delta, prefix, value,
                b"\x00"))
        offset_delta += 1
    out += b"".join(pieces)


class _EncodedRecords:
    """The records appended to a batch so far: their bytes and what the header needs.

    A plain class, not attrs: the builder's converters would give an attrs
    class a ``__setattr__`` that every append pays for.
    """

    __slots__ = ("base_offset", "body", "count", "first_timestamp", "last_offset",
                 "max_timestamp")

    def __init__(self, base_offset: int) -> None:
        self.base_offset = base_offset
        self.body = bytearray()
        self.count = 0
        self.last_offset = base_offset - 1
        self.first_timestamp = self.max_timestamp = NO_TIMESTAMP

    def add_record(self, record: Record) -> None:
        if record.offset <= self.last_offset:
            raise ValueError(
                f"record offset {record.offset} does not follow {self.last_offset} "
                f"(offsets in a batch increase, starting at base offset {self.base_offset})"
            )
        self._check_room(record.offset, record.timestamp)
        _encode_record(self.body, record.offset - self.base_offset,
                       record.timestamp - self.first_timestamp, record.key, record.value,
                       record.headers)
        self._added(record.offset, 1, record.timestamp)

    def add_values(self, values: Sequence[bytes], timestamp: int) -> None:
        first = self.last_offset + 1
        self._check_room(first + len(values) - 1, timestamp)
        # (a value that is not bytes raises before anything is written)
        _encode_values(self.body, values, first - self.base_offset,
                       timestamp - self.first_timestamp)
        self._added(first + len(values) - 1, len(values), timestamp)

    def _check_room(self, last_offset: int, timestamp: int) -> None:
        if last_offset - self.base_offset > _INT32_MAX:
            raise ValueError(f"record offset {last_offset} is too far from base offset "
                             f"{self.base_offset} for an int32 delta")
        if not self.count:
            self.first_timestamp = timestamp
        elif not _INT64_MIN <= timestamp - self.first_timestamp <= _INT64_MAX:
            raise ValueError(f"timestamp {timestamp} is too far from the batch's first")

    def _added(self, last_offset: int, count: int, timestamp: int) -> None:
        if not self.count or timestamp > self.max_timestamp:
            self.max_timestamp = timestamp
        self.count += count
        self.last_offset = last_offset


@attrs.define
class RecordBatchBuilder:
    """Collects records, then encodes them as one batch with ``build()``.

    Offsets given to records are absolute; the batch stores them relative to
    ``base_offset``, which a producer leaves at 0 (the broker assigns the
    real one). Records are encoded as they are appended, relative to it, so
    it is read-only. ``max_timestamp`` overrides the computed maximum: a
    broker that stamps LOG_APPEND_TIME writes its append time there, and
    readers then report it as every record's timestamp.
    """

    _base_offset: int = attrs.field(default=0, alias="base_offset")
    compression: Codec = attrs.field(default=Codec.NONE, converter=_codec)
    timestamp_type: TimestampType = attrs.field(
        default=TimestampType.CREATE_TIME, converter=_timestamp_type
    )
    transactional: bool = False
    control: bool = False
    producer_id: int = -1
    producer_epoch: int = -1
    base_sequence: int = -1
    partition_leader_epoch: int = -1
    max_timestamp: int | None = None
    _records: _EncodedRecords = attrs.field(
        default=attrs.Factory(lambda self: _EncodedRecords(self._base_offset), takes_self=True),
        init=False, repr=False)

    def __len__(self) -> int:
        return self._records.count

    @property
    def base_offset(self) -> int:
        return self._base_offset

    @property
    def next_offset(self) -> int:
        """The offset ``append`` gives the next record."""
        return self._records.last_offset + 1

    def append(
        self,
        value: bytes | None,
        key: bytes | None = None,
        headers: Iterable[Header] = (),
        timestamp: int | None = None,
    ) -> Record:
        """Add a record at the next offset; ``timestamp`` defaults to now (ms)."""
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        record = Record(self._records.last_offset + 1, timestamp, key, value, tuple(headers))
        self._records.add_record(record)
        return record

    def append_record(self, record: Record) -> None:
        """Add a record with its own offset, which must follow the previous one's."""
        self._records.add_record(record)

    def append_values(self, values: Sequence[bytes], timestamp: int) -> int:
        """Add a record for each of ``values``, at the next offsets, with no key or
        headers and one ``timestamp`` (ms); returns the first one's offset.

        The same records as ``append`` would make, encoded several times faster.
        """
        first = self.next_offset
        if values:
            self._records.add_values(values, timestamp)
        return first

    def build(self) -> bytes:
        """The batch's bytes, with lengths, counts, timestamps and CRC-32C filled in."""
        records = self._records
        if records.count:
            base_timestamp, max_timestamp = records.first_timestamp, records.max_timestamp
            last_offset_delta = records.last_offset - self._base_offset
        else:
            base_timestamp = max_timestamp = NO_TIMESTAMP
            last_offset_delta = 0
        if self.max_timestamp is not None:
            max_timestamp = self.max_timestamp

        body = records.body
        payload = body if self.compression is Codec.NONE else compress(self.compression, body)

        attributes = int(self.compression) & COMPRESSION_MASK
        if self.timestamp_type is TimestampType.LOG_APPEND_TIME:
            attributes |= TIMESTAMP_TYPE_BIT
        if self.transactional:
            attributes |= TRANSACTIONAL_BIT
        if self.control:
            attributes |= CONTROL_BIT

        batch = bytearray(BATCH_HEADER_SIZE)
        batch += payload
        header = BatchHeader(
            base_offset=self._base_offset,
            batch_length=len(batch) - LOG_OVERHEAD,
            partition_leader_epoch=self.partition_leader_epoch,
            magic=_MAGIC,
            crc=0,
            attributes=attributes,
            last_offset_delta=last_offset_delta,
            base_timestamp=base_timestamp,
            max_timestamp=max_timestamp,
            producer_id=self.producer_id,
            producer_epoch=self.producer_epoch,
            base_sequence=self.base_sequence,
            records_count=records.count,
        )
        try:
            header.pack_into(batch)
        except struct.error as exc:
            raise ValueError(f"batch header field out of range: {exc}") from None
        _CRC.pack_into(batch, CRC_OFFSET, crc32c.crc32c(memoryview(batch)[CRC_START:]))
        return bytes(batch)


# A batch header in two parts: what precedes the CRC, and what follows it
# (attributes .. records count), which the CRC covers along with the records.
_BEFORE_CRC = struct.Struct(">qiibI")
_AFTER_CRC = struct.Struct(">hiqqqhii")


def build_values_batch(values: Sequence[bytes], timestamp: int, *, producer_id: int = -1,
                       producer_epoch: int = -1, base_sequence: int = -1) -> bytes:
    """An uncompressed batch of ``values`` (no keys, no headers, one ``timestamp``)
    at offsets 0, 1, ...: the bytes ``RecordBatchBuilder.append_values`` then
    ``build()`` make, without the builder's objects.

    The producer's path for a message sent on its own, where building the
    batch is a large part of the cost of a send.
    """
    count = len(values)
    if not count:
        raise ValueError("a batch of values needs at least one value")
    try:
        out = bytearray(_AFTER_CRC.pack(0, count - 1, timestamp, timestamp, producer_id,
                                        producer_epoch, base_sequence, count))
    except struct.error as exc:
        raise ValueError(f"batch header field out of range: {exc}") from None
    _encode_values(out, values, 0, 0)
    # batch length: what follows the length field (leader epoch, magic, CRC: 9 bytes, then out)
    return _BEFORE_CRC.pack(0, len(out) + 9, -1, _MAGIC, crc32c.crc32c(out)) + out


def build_batch(
    records: Iterable[Record],
    *,
    base_offset: int | None = None,
    compression: Codec | int = Codec.NONE,
    timestamp_type: TimestampType = TimestampType.CREATE_TIME,
    transactional: bool = False,
    control: bool = False,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    max_timestamp: int | None = None,
) -> bytes:
    """One batch holding ``records``; ``base_offset`` defaults to the first record's offset."""
    records = list(records)
    if base_offset is None:
        base_offset = records[0].offset if records else 0
    builder = RecordBatchBuilder(
        base_offset=base_offset,
        compression=compression,
        timestamp_type=timestamp_type,
        transactional=transactional,
        control=control,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        partition_leader_epoch=partition_leader_epoch,
        max_timestamp=max_timestamp,
    )
    for record in records:
        builder.append_record(record)
    return builder.build()


# --- parsing -----------------------------------------------------------------


class _Overrun(Exception):
    """A length inside a record points past the record's end."""


def _read_varint(data: Buffer, position: int) -> tuple[int, int]:
    """(value, next position) of the zigzag varint at ``position``; IndexError past the end."""
    byte = data[position]
    if byte < 0x80:  # one byte: by far the most common case
        return (byte >> 1) ^ -(byte & 1), position + 1
    zigzag = byte & 0x7F
    shift = 7
    while True:
        position += 1
        byte = data[position]
        zigzag |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (zigzag >> 1) ^ -(zigzag & 1), position + 1
        shift += 7
        if shift > 63:
            raise _Overrun("varint longer than 10 bytes")


# Decoded zigzag varints of one byte (index: the byte) and of two (index:
# low 7 bits | second byte << 7), for the inlined fast paths below.
_VARINT1 = [(bits >> 1) ^ -(bits & 1) for bits in range(1 << 7)]
_VARINT2 = [(bits >> 1) ^ -(bits & 1) for bits in range(1 << 14)]


RecordMaker = Callable[[int, int, bytes | None, bytes | None, tuple[Header, ...]], T]
"""What ``decode_records`` calls for each record: ``make(offset, timestamp, key,
value, headers)``, with absolute offset and timestamp (``Record`` is one)."""


def _decode_records(data: bytes, start: int, end: int, count: int, base_offset: int,
                    base_timestamp: int, append_time: int | None, make: RecordMaker[T],
                    first_offset: int) -> list[T]:
    """The ``count`` records in ``data[start:end]``, each made by ``make``."""
    # The hot loop of every consumer, so it trades brevity for speed (about
    # 1.4x faster than calling _read_varint for every field). Each varint
    # read is inlined for one and two bytes, which covers nearly every
    # length and delta, and falls back to _read_varint for longer ones.
    # Slicing past the end of ``data`` does not raise, so every length is
    # checked against the record's end; reading a byte past it raises
    # IndexError (and a record that reaches past ``end`` is refused).
    read = _read_varint
    varint1 = _VARINT1
    varint2 = _VARINT2
    position = start
    records: list[T] = []
    append = records.append
    index = 0
    try:
        for index in range(count):  # noqa: B007 - index names the record in errors
            byte = data[position]
            if byte < 0x80:
                length = varint1[byte]
                position += 1
            elif data[position + 1] < 0x80:
                length = varint2[(byte & 0x7F) | data[position + 1] << 7]
                position += 2
            else:
                length, position = read(data, position)
            record_end = position + length
            if length <= 0 or record_end > end:
                if position > end:  # the length itself was read from beyond the batch
                    raise IndexError
                raise _Overrun(f"length {length} with {end - position} bytes left")

            byte = data[position + 1]  # after the record's attributes, an unused int8
            if byte < 0x80:
                timestamp_delta = varint1[byte]
                position += 2
            else:
                timestamp_delta, position = read(data, position + 1)

            byte = data[position]
            if byte < 0x80:
                offset_delta = varint1[byte]
                position += 1
            elif data[position + 1] < 0x80:
                offset_delta = varint2[(byte & 0x7F) | data[position + 1] << 7]
                position += 2
            else:
                offset_delta, position = read(data, position)

            byte = data[position]
            if byte == 1:  # zigzag -1: a null key, the usual case
                key: bytes | None = None
                position += 1
            else:
                if byte < 0x80:
                    size = varint1[byte]
                    position += 1
                else:
                    size, position = read(data, position)
                if size >= 0:
                    if position + size > record_end:
                        raise _Overrun(f"key of {size} bytes")
                    key = data[position : position + size]
                    position += size
                elif size != -1:
                    raise _Overrun(f"key length {size}")

            byte = data[position]
            if byte < 0x80:
                size = varint1[byte]
                position += 1
            elif data[position + 1] < 0x80:
                size = varint2[(byte & 0x7F) | data[position + 1] << 7]
                position += 2
            else:
                size, position = read(data, position)
            value_end = position + size
            if size >= 0 and value_end + 1 == record_end and data[value_end] == 0:
                # the usual ending, checked at once: the value, then no headers
                value: bytes | None = data[position:value_end]
                headers: tuple[Header, ...] = ()
            else:
                if size >= 0:
                    if value_end > record_end:
                        raise _Overrun(f"value of {size} bytes")
                    value = data[position:value_end]
                    position = value_end
                elif size == -1:
                    value = None
                else:
                    raise _Overrun(f"value length {size}")
                if data[position] == 0:  # no headers
                    position += 1
                    headers = ()
                else:
                    headers, position = _read_headers(data, position, record_end)
                if position != record_end:
                    raise _Overrun(f"fields end at {position - record_end:+d} bytes from its length")
            position = record_end
            offset = base_offset + offset_delta
            if offset >= first_offset:
                append(make(
                    offset,
                    base_timestamp + timestamp_delta if append_time is None else append_time,
                    key,
                    value,
                    headers,
                ))
    except _Overrun as exc:
        raise InvalidBatch(f"record {index} is malformed: {exc}") from None
    except IndexError:
        raise InvalidBatch(f"record {index} runs past the end of the batch") from None
    except UnicodeDecodeError as exc:
        raise InvalidBatch(f"record {index} has a header key that is not UTF-8: {exc}") from None
    if position != end:
        raise InvalidBatch(f"{end - position} bytes left over after {count} records")
    return records


def _read_headers(data: bytes, position: int, record_end: int) -> tuple[tuple[Header, ...], int]:
    """A record's headers from its header count on, and the position after them."""
    header_count, position = _read_varint(data, position)
    if header_count < 0 or header_count > record_end - position:
        raise _Overrun(f"header count {header_count}")
    headers: list[Header] = []
    for _ in range(header_count):
        size, position = _read_varint(data, position)
        if size < 0 or position + size > record_end:
            raise _Overrun(f"header key length {size}")
        name = data[position : position + size].decode("utf-8")
        position += size
        size, position = _read_varint(data, position)
        if size >= 0:
            if position + size > record_end:
                raise _Overrun(f"header value of {size} bytes")
            headers.append((name, data[position : position + size]))
            position += size
        elif size == -1:
            headers.append((name, None))
        else:
            raise _Overrun(f"header value length {size}")
    return tuple(headers), position


def _records_data(data: Buffer, position: int, header: BatchHeader) -> tuple[bytes, int, int]:
    """The batch's records as bytes, decompressed, and where in them they start and end."""
    start, end = position + BATCH_HEADER_SIZE, position + header.size
    if header.compression == Codec.NONE:
        if type(data) is bytes:
            return data, start, end  # read in place: slices of bytes are bytes
        # One copy: slices of bytes are the records' keys and values, where
        # slices of a memoryview would each need a second copy.
        return bytes(memoryview(data)[start:end]), 0, end - start
    try:
        records = decompress(header.compression, memoryview(data)[start:end])
    except UnknownCodec as exc:
        raise InvalidBatch(str(exc)) from None
    except DecompressionFailed as exc:
        raise InvalidBatch(f"records do not decompress: {exc}") from None
    return records, 0, len(records)


def decode_records(data: Buffer, position: int, header: BatchHeader, make: RecordMaker[T],
                   *, first_offset: int = 0) -> list[T]:
    """The records of the batch at ``position``, whose checked header is ``header``
    (from ``check_batch`` or ``checked_batches``), decompressed and decoded.

    Each record becomes ``make(offset, timestamp, key, value, headers)``, so
    that a client can build its own message objects without an intermediate
    ``Record``; records below ``first_offset`` are skipped. Raises as
    ``parse_batch`` does.
    """
    append_time = header.max_timestamp if header.uses_log_append_time else None
    records, start, end = _records_data(data, position, header)
    return _decode_records(records, start, end, header.records_count, header.base_offset,
                           header.base_timestamp, append_time, make, first_offset)


def checked_batches(data: Buffer, *, allow_partial: bool = True) -> list[tuple[int, BatchHeader]]:
    """The position and checked header of every batch in a records field, in order.

    A Fetch response may cut its last batch short to respect the size limit;
    with ``allow_partial`` (the default) such a trailing partial batch is
    skipped, as Kafka's consumers do, and otherwise it raises
    ``TruncatedBatch``. A consumer that gets no batch from non-empty data
    has hit a batch larger than its fetch size.
    """
    batches: list[tuple[int, BatchHeader]] = []
    position = 0
    while position < len(data):
        try:
            header = check_batch(data, position)
        except TruncatedBatch:
            if allow_partial:
                break
            raise
        batches.append((position, header))
        position += header.size
    return batches


def parse_batch(data: Buffer, offset: int = 0) -> RecordBatch:
    """The batch at ``offset``: header checked (magic, length, CRC-32C), records decoded.

    Raises ``CorruptBatch`` when the CRC does not match, ``TruncatedBatch``
    when the bytes end early, ``InvalidBatch`` for anything else malformed
    (including records that do not decompress), and ``CodecUnavailable``
    when the codec's library is not installed.
    """
    header = check_batch(data, offset)
    return RecordBatch(header, tuple(decode_records(data, offset, header, Record)))


def parse_records(data: Buffer, *, allow_partial: bool = True) -> list[RecordBatch]:
    """Every batch in a records field, in order; a trailing partial batch is
    skipped or raises ``TruncatedBatch``, as ``checked_batches`` says."""
    return [RecordBatch(header, tuple(decode_records(data, position, header, Record)))
            for position, header in checked_batches(data, allow_partial=allow_partial)]


def records_of(batches: Sequence[RecordBatch]) -> list[Record]:
    """All records of ``batches``, in order (a convenience for consumers and tests)."""
    return [record for batch in batches for record in batch.records]
