"""Kafka's primitive wire types, as construct building blocks.

Every request and response structure in ``minikafka.protocol.messages`` is
assembled from these. The names follow the "Protocol Primitive Types" table
of Kafka's protocol guide. Each type parses to a plain Python value
(``int``, ``str``, ``bytes``, ``None``, ``uuid.UUID``, ``list``) and builds
from the same.

Flexible API versions (KIP-482) use the ``Compact*`` forms, whose lengths are
unsigned varints holding length + 1 (0 meaning null), and end every structure
with ``TaggedFields``: a map of tag -> raw bytes that this module keeps
verbatim, so unknown tags survive a decode/encode round trip.
"""

from __future__ import annotations

import uuid
from typing import Any

import construct as c

__all__ = [
    "UUID",
    "Array",
    "Boolean",
    "Bytes",
    "CompactArray",
    "CompactBytes",
    "CompactNullableArray",
    "CompactNullableBytes",
    "CompactNullableString",
    "CompactRecords",
    "CompactString",
    "Float64",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "NullableArray",
    "NullableBytes",
    "NullableString",
    "Records",
    "String",
    "TaggedFields",
    "UInt32",
    "UnsignedVarInt",
    "VarInt",
    "VarLong",
    "ViewReader",
]

Int8 = c.Int8sb
Int16 = c.Int16sb
Int32 = c.Int32sb
Int64 = c.Int64sb
UInt32 = c.Int32ub
Float64 = c.Float64b
# Not construct's Flag: compiled, Flag reads a missing byte as True, so a frame cut
# before a trailing boolean would decode. A struct field raises on a short read.
Boolean = c.FormatField(">", "?")
# Kafka's varint and varlong are zigzag-encoded LEB128; unsigned varints are plain LEB128.
VarInt = c.ZigZag
VarLong = c.ZigZag
UnsignedVarInt = c.VarInt


class ViewReader:
    """A read-only stream over a buffer whose ``read`` returns zero-copy memoryviews.

    construct reads from file-like streams; ``io.BytesIO.read`` copies, which
    for a 1 MiB record batch costs more than parsing the whole envelope. Parsing
    from a ``ViewReader`` lets ``Records`` fields come out as slices of the
    request buffer, so batches pass through the broker without being copied.
    """

    __slots__ = ("_position", "_view")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._position = 0

    def read(self, size: int = -1) -> memoryview:
        start = self._position
        end = len(self._view) if size < 0 else min(start + size, len(self._view))
        self._position = end
        return self._view[start:end]

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._position, len(self._view))[whence]
        self._position = max(0, min(base + offset, len(self._view)))
        return self._position

    def remaining(self) -> int:
        return len(self._view) - self._position


def _read(stream: Any, length: int, path: str) -> bytes | memoryview:
    data: bytes | memoryview = c.stream_read(stream, length, path)
    return data


def _write(stream: Any, data: bytes, path: str) -> None:
    c.stream_write(stream, data, len(data), path)


def _read_uvarint(stream: Any, path: str) -> int:
    value: int = UnsignedVarInt._parsereport(stream, None, path)
    return value


def _write_uvarint(stream: Any, value: int, path: str) -> None:
    UnsignedVarInt._build(value, stream, None, path)


class _Sized(c.Construct):  # type: ignore[misc]
    """Base of the length-prefixed types: a length prefix, then the payload.

    Subclasses choose the length encoding and whether null (length -1, or
    compact length 0) is allowed.
    """

    nullable = False
    compact = False
    _width = 4  # bytes of the non-compact length prefix

    def _read_length(self, stream: Any, path: str) -> int:
        if self.compact:
            return _read_uvarint(stream, path) - 1
        raw = _read(stream, self._width, path)
        return int.from_bytes(raw, "big", signed=True)

    def _write_length(self, length: int, stream: Any, path: str) -> None:
        if self.compact:
            _write_uvarint(stream, length + 1, path)
        else:
            _write(stream, length.to_bytes(self._width, "big", signed=True), path)

    def _parse_payload(self, stream: Any, length: int, context: Any, path: str) -> Any:
        raise NotImplementedError

    def _build_payload(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        raise NotImplementedError

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        length = self._read_length(stream, path)
        if length < 0:
            if length == -1 and self.nullable:
                return None
            raise c.ExplicitError(f"{type(self).__name__}: invalid length {length}", path=path)
        return self._parse_payload(stream, length, context, path)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        if obj is None:
            if not self.nullable:
                raise c.ExplicitError(f"{type(self).__name__} cannot be null", path=path)
            self._write_length(-1, stream, path)
            return obj
        self._build_payload(obj, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError(path=path)


class _BytesType(_Sized):
    def _parse_payload(self, stream: Any, length: int, context: Any, path: str) -> bytes:
        return bytes(_read(stream, length, path))

    def _build_payload(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        data = bytes(obj)
        self._write_length(len(data), stream, path)
        _write(stream, data, path)


class _RecordsType(_Sized):
    """Record batches carried inside a request or response, as nullable bytes.

    Parsed from a ``ViewReader`` they stay a ``memoryview`` into the frame
    (no copy); parsed from any other stream they are ``bytes``.
    """

    def _parse_payload(self, stream: Any, length: int, context: Any, path: str) -> Any:
        return _read(stream, length, path)

    def _build_payload(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        # A memoryview (a slice of a request frame or of the log) is written as
        # is, without a copy; construct's stream_write would refuse it.
        data = obj if isinstance(obj, bytes) else memoryview(obj).cast("B")
        self._write_length(len(data), stream, path)
        stream.write(data)


class _StringType(_Sized):
    _width = 2

    def _parse_payload(self, stream: Any, length: int, context: Any, path: str) -> str:
        raw = _read(stream, length, path)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError as exc:
            raise c.ExplicitError(f"string is not valid UTF-8: {exc}", path=path) from None

    def _build_payload(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        data = obj.encode("utf-8")
        self._write_length(len(data), stream, path)
        _write(stream, data, path)


class _ArrayType(_Sized):
    def __init__(self, subcon: Any) -> None:
        super().__init__()
        self.subcon = subcon

    def _parse_payload(self, stream: Any, length: int, context: Any, path: str) -> list[Any]:
        parse = self.subcon._parsereport
        items: list[Any] = c.ListContainer(parse(stream, context, path) for _ in range(length))
        return items

    def _build_payload(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        self._write_length(len(obj), stream, path)
        build = self.subcon._build
        for item in obj:
            build(item, stream, context, path)


def _flavour(base: type[_Sized], name: str, *, nullable: bool, compact: bool) -> type[_Sized]:
    return type(name, (base,), {"nullable": nullable, "compact": compact, "__doc__": base.__doc__})


String: c.Construct = _flavour(_StringType, "String", nullable=False, compact=False)()
NullableString: c.Construct = _flavour(_StringType, "NullableString", nullable=True, compact=False)()
CompactString: c.Construct = _flavour(_StringType, "CompactString", nullable=False, compact=True)()
CompactNullableString: c.Construct = _flavour(
    _StringType, "CompactNullableString", nullable=True, compact=True
)()
Bytes: c.Construct = _flavour(_BytesType, "Bytes", nullable=False, compact=False)()
NullableBytes: c.Construct = _flavour(_BytesType, "NullableBytes", nullable=True, compact=False)()
CompactBytes: c.Construct = _flavour(_BytesType, "CompactBytes", nullable=False, compact=True)()
CompactNullableBytes: c.Construct = _flavour(
    _BytesType, "CompactNullableBytes", nullable=True, compact=True
)()

Records: c.Construct = _flavour(_RecordsType, "Records", nullable=True, compact=False)()
CompactRecords: c.Construct = _flavour(_RecordsType, "CompactRecords", nullable=True, compact=True)()

_ArrayClass = _flavour(_ArrayType, "Array", nullable=False, compact=False)
_NullableArrayClass = _flavour(_ArrayType, "NullableArray", nullable=True, compact=False)
_CompactArrayClass = _flavour(_ArrayType, "CompactArray", nullable=False, compact=True)
_CompactNullableArrayClass = _flavour(
    _ArrayType, "CompactNullableArray", nullable=True, compact=True
)


def Array(subcon: Any) -> c.Construct:
    """An array: int32 count, then that many ``subcon`` values."""
    return _ArrayClass(subcon)  # type: ignore[call-arg]


def NullableArray(subcon: Any) -> c.Construct:
    """An array whose count -1 means null (``None``)."""
    return _NullableArrayClass(subcon)  # type: ignore[call-arg]


def CompactArray(subcon: Any) -> c.Construct:
    """A flexible-version array: unsigned varint count + 1."""
    return _CompactArrayClass(subcon)  # type: ignore[call-arg]


def CompactNullableArray(subcon: Any) -> c.Construct:
    """A flexible-version array where count + 1 == 0 means null."""
    return _CompactNullableArrayClass(subcon)  # type: ignore[call-arg]


class _UUIDAdapter(c.Adapter):  # type: ignore[misc]
    def _decode(self, obj: bytes, context: Any, path: str) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(obj))

    def _encode(self, obj: uuid.UUID, context: Any, path: str) -> bytes:
        return obj.bytes


UUID = _UUIDAdapter(c.Bytes(16))


class _TaggedFieldsType(c.Construct):  # type: ignore[misc]
    """KIP-482 tagged fields: uvarint count, then (uvarint tag, uvarint size, bytes).

    Parses to a ``dict[int, bytes]`` in tag order. MiniKafka sets none of
    Kafka's optional tagged fields, so they travel as raw bytes.
    """

    def _parse(self, stream: Any, context: Any, path: str) -> dict[int, bytes]:
        count = _read_uvarint(stream, path)
        fields: dict[int, bytes] = {}
        previous = -1
        for _ in range(count):
            tag = _read_uvarint(stream, path)
            if tag <= previous:
                raise c.ExplicitError("tagged fields out of order or repeated", path=path)
            previous = tag
            size = _read_uvarint(stream, path)
            fields[tag] = bytes(_read(stream, size, path))
        return fields

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        fields = obj or {}
        _write_uvarint(stream, len(fields), path)
        for tag in sorted(fields):
            data = bytes(fields[tag])
            _write_uvarint(stream, tag, path)
            _write_uvarint(stream, len(data), path)
            _write(stream, data, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError(path=path)


# Absent tagged fields build as an empty map, so callers may leave the key out.
TaggedFields = c.Default(_TaggedFieldsType(), {})
