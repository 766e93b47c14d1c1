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

Every type here also implements construct's compiler hooks (``_emitparse``,
``_emitbuild``), and ``compile_structure`` compiles a whole declared
structure into straight-line Python: ``struct.unpack_from``/``pack`` on
merged runs of fixed-width fields, slices for length-prefixed payloads, plain
loops for arrays. The declaration stays the only description of the wire
format; the compiled code is generated from it, and parses and builds exactly
what the plain construct objects do (``tests/protocol/test_compiled.py``).
"""

from __future__ import annotations

import ast
import io
import struct
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    "compile_structure",
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


# Lengths, counts and tags are unsigned varints of at most 5 bytes: Kafka's own
# reader refuses longer ones, and an unbounded one would let a frame of
# continuation bytes cost time quadratic in its size.
_MAX_UVARINT_BYTES = 5


def _read_uvarint(stream: Any, path: str) -> int:
    value = 0
    for shift in range(0, 7 * _MAX_UVARINT_BYTES, 7):
        byte = _read(stream, 1, path)[0]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
    raise c.ExplicitError(f"unsigned varint longer than {_MAX_UVARINT_BYTES} bytes", path=path)


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

    # -- compiled code: the same steps as _parse/_build, written out (see _Source) --

    def _emitparse(self, code: Any) -> str:
        return _parse_function(self, code)

    def _emitbuild(self, code: Any) -> str:
        return _build_function(self, code)

    def _emit_parse_code(self, src: _Source, target: str) -> None:
        length = src.fresh("length")
        if self.compact:
            src.line(f"{length} = buf[pos]")
            with src.block(f"if {length} < 128:"):
                src.line("pos += 1")
            with src.block("else:"):
                src.line(f"{length}, pos = _uvarint_at(buf, pos)")
            src.line(f"{length} -= 1")
        else:
            src.line(f"{length} = {src.fixed(self._length_format)}.unpack_from(buf, pos)[0]")
            src.line(f"pos += {self._width}")
        with src.block(f"if {length} < 0:"):
            if self.nullable:
                with src.block(f"if {length} != -1:"):
                    src.line(f"raise _invalid_length({type(self).__name__!r}, {length})")
                src.line(f"{target} = None")
            else:
                src.line(f"raise _invalid_length({type(self).__name__!r}, {length})")
        with src.block("else:"):
            self._emit_parse_payload(src, length, target)

    def _emit_build_code(self, src: _Source, value: str) -> None:
        with src.block(f"if {value} is None:"):
            if self.nullable:
                null = b"\x00" if self.compact else (-1).to_bytes(self._width, "big", signed=True)
                src.line(f"w({null!r})")
            else:
                src.line(f"raise _cannot_be_null({type(self).__name__!r})")
        with src.block("else:"):
            self._emit_build_payload(src, value)

    @property
    def _length_format(self) -> str:
        return ">h" if self._width == 2 else ">i"

    def _emit_write_length(self, src: _Source, length: str) -> None:
        if self.compact:
            prefix = src.fresh("prefix")
            src.line(f"{prefix} = {length} + 1")
            src.line(f"w(_SMALL_UVARINTS[{prefix}] if {prefix} < 128 else _uvarint_bytes({prefix}))")
        else:
            src.line(f"w({src.fixed(self._length_format)}.pack({length}))")

    def _emit_parse_payload(self, src: _Source, length: str, target: str) -> None:
        raise NotImplementedError

    def _emit_build_payload(self, src: _Source, value: str) -> None:
        raise NotImplementedError


class _BytesType(_Sized):
    def _parse_payload(self, stream: Any, length: int, context: Any, path: str) -> bytes:
        return bytes(_read(stream, length, path))

    def _build_payload(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        data = bytes(obj)
        self._write_length(len(data), stream, path)
        _write(stream, data, path)

    def _emit_parse_payload(self, src: _Source, length: str, target: str) -> None:
        stop = src.checked_stop(length)
        src.line(f"{target} = bytes(buf[pos:{stop}])")
        src.line(f"pos = {stop}")

    def _emit_build_payload(self, src: _Source, value: str) -> None:
        data = src.fresh("data")
        src.line(f"{data} = bytes({value})")
        self._emit_write_length(src, f"len({data})")
        src.line(f"w({data})")


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

    def _emit_parse_payload(self, src: _Source, length: str, target: str) -> None:
        # A slice of a ViewReader's memoryview is a view; of a bytes buffer, bytes.
        stop = src.checked_stop(length)
        src.line(f"{target} = buf[pos:{stop}]")
        src.line(f"pos = {stop}")

    def _emit_build_payload(self, src: _Source, value: str) -> None:
        data = src.fresh("data")
        src.line(f"{data} = {value} if isinstance({value}, bytes) else memoryview({value}).cast('B')")
        self._emit_write_length(src, f"len({data})")
        src.line(f"w({data})")


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

    def _emit_parse_payload(self, src: _Source, length: str, target: str) -> None:
        stop = src.checked_stop(length)
        with src.block("try:"):
            src.line(f"{target} = str(buf[pos:{stop}], 'utf-8')")
        with src.block("except UnicodeDecodeError as exc:"):
            src.line("raise _not_utf8(exc) from None")
        src.line(f"pos = {stop}")

    def _emit_build_payload(self, src: _Source, value: str) -> None:
        data = src.fresh("data")
        src.line(f"{data} = {value}.encode('utf-8')")
        self._emit_write_length(src, f"len({data})")
        src.line(f"w({data})")


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

    def _emit_parse_payload(self, src: _Source, length: str, target: str) -> None:
        fixed = _fixed_format(self.subcon)
        if fixed is not None:
            # A run of fixed-width values (an array of partition ids): one slice, one unpack.
            stop = src.checked_stop(f"{length} * {struct.calcsize(fixed)}")
            src.line(f"{target} = ListContainer([item for (item,) in "
                     f"{src.fixed(fixed)}.iter_unpack(buf[pos:{stop}])])")
            src.line(f"pos = {stop}")
            return
        items, append, item = src.fresh("items"), src.fresh("append"), src.fresh("item")
        src.line(f"{items} = ListContainer()")
        src.line(f"{append} = {items}.append")
        with src.block(f"for _ in range({length}):"):
            _emit_parse(self.subcon, src, item)
            src.line(f"{append}({item})")
        src.line(f"{target} = {items}")

    def _emit_build_payload(self, src: _Source, value: str) -> None:
        self._emit_write_length(src, f"len({value})")
        fixed = _fixed_format(self.subcon)
        if fixed is not None:
            src.line(f"w(b''.join(map({src.fixed(fixed)}.pack, {value})))")
            return
        item = src.fresh("item")
        with src.block(f"for {item} in {value}:"):
            _emit_build(self.subcon, src, item)


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

    def _emitparse(self, code: Any) -> str:
        return _parse_function(self, code)

    def _emitbuild(self, code: Any) -> str:
        return _build_function(self, code)

    def _emit_parse_code(self, src: _Source, target: str) -> None:
        stop = src.checked_stop("16")
        src.line(f"{target} = _UUID(bytes=bytes(buf[pos:{stop}]))")
        src.line(f"pos = {stop}")

    def _emit_build_code(self, src: _Source, value: str) -> None:
        src.line(f"w(_uuid_bytes({value}))")


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

    def _emitparse(self, code: Any) -> str:
        return _parse_function(self, code)

    def _emitbuild(self, code: Any) -> str:
        return _build_function(self, code)

    def _emit_parse_code(self, src: _Source, target: str) -> None:
        # Nearly always none: one zero byte, read inline.
        with src.block("if buf[pos] == 0:"):
            src.line("pos += 1")
            src.line(f"{target} = {{}}")
        with src.block("else:"):
            src.line(f"{target}, pos = _tagged_fields_at(buf, pos)")

    def _emit_build_code(self, src: _Source, value: str) -> None:
        with src.block(f"if not {value}:"):
            src.line("w(b'\\x00')")
        with src.block("else:"):
            src.line(f"_write_tagged_fields(w, {value})")


# Absent tagged fields build as an empty map, so callers may leave the key out.
TaggedFields = c.Default(_TaggedFieldsType(), {})


# -- Compilation ---------------------------------------------------------------
#
# construct's compiler turns a structure into Python source: each construct
# emits an expression over the stream ``io`` (``_emitparse``/``_emitbuild``),
# and one it cannot emit is called through its plain ``_parse``/``_build``.
# Our types emit whole functions instead: ``_parse_function`` takes the
# stream's buffer and position once (a ViewReader's memoryview, a BytesIO's
# bytes), and the code for the tree below (``_emit_parse``) then reads
# ``buf`` at ``pos`` with ``unpack_from`` and slices, merging consecutive
# fixed-width fields into one unpack, with no call per field or per array
# element. ``_emit_build`` writes with ``io.write`` the same way.
#
# Errors are construct's, as from the plain objects: a frame that ends early
# raises StreamError (never a default value), bad lengths, nulls and UTF-8
# raise ExplicitError, values that do not fit raise FormatFieldError.


class _Source:
    """Lines of generated code, indented, with fresh local names and shared constants."""

    def __init__(self, code: Any, depth: int) -> None:
        self._code = code
        self._depth = depth
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append("    " * self._depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def fresh(self, stem: str) -> str:
        """A local name no other emitted code uses."""
        return f"{stem}_{self._code.allocateId()}"

    def fixed(self, fmtstr: str) -> str:
        """The module-level ``struct.Struct`` for ``fmtstr`` (one per format)."""
        order = {">": "be", "<": "le", "=": "native"}[fmtstr[0]]
        name = f"fixed_{order}_{fmtstr[1:].replace('?', 'Z')}"  # 'Z' is no struct code
        self._code.append(f"{name} = struct.Struct({fmtstr!r})")
        return name

    def checked_stop(self, length: str) -> str:
        """Emit the end of a ``length``-byte payload at ``pos``, refusing one past the buffer."""
        stop = self.fresh("stop")
        self.line(f"{stop} = pos + {length}")
        with self.block(f"if {stop} > end:"):
            self.line(f"raise _truncated({length}, end - pos)")
        return stop


def _unnamed(con: Any) -> Any:
    while isinstance(con, c.Renamed):
        con = con.subcon
    return con


def _fixed_format(con: Any) -> str | None:
    """The struct format of a fixed-width field (through renames), else None."""
    con = _unnamed(con)
    return con.fmtstr if isinstance(con, c.FormatField) else None  # type: ignore[no-any-return]


def _field_runs(subcons: list[Any]) -> Iterator[tuple[str | None, list[Any]]]:
    """A Struct's fields in order, consecutive fixed-width ones of one byte order together.

    Yields ``(format, fields)`` for a run (read or written with one struct
    call) and ``(None, [field])`` for any other field.
    """
    run: list[Any] = []
    run_format = ""
    for sc in subcons:
        if not sc.name:
            raise NotImplementedError("unnamed struct fields have no compiled form here")
        fmtstr = _fixed_format(sc)
        if fmtstr is not None and (not run or fmtstr[0] == run_format[0]):
            run.append(sc)
            run_format += fmtstr if not run_format else fmtstr[1:]
            continue
        if run:
            yield run_format, run
            run, run_format = [], ""
        if fmtstr is not None:
            run, run_format = [sc], fmtstr
        else:
            yield None, [sc]
    if run:
        yield run_format, run


def _emit_parse(con: Any, src: _Source, target: str) -> None:
    """Emit statements that parse ``con`` at ``pos`` into the assignable ``target``."""
    if isinstance(con, (c.Renamed, c.Default)):
        _emit_parse(con.subcon, src, target)
    elif isinstance(con, (_Sized, _TaggedFieldsType, _UUIDAdapter)):
        con._emit_parse_code(src, target)
    elif isinstance(con, c.Struct):
        fields = src.fresh("fields")
        src.line(f"{fields} = Container()")
        for fmtstr, run in _field_runs(con.subcons):
            if fmtstr is None:
                _emit_parse(run[0], src, f"{fields}[{run[0].name!r}]")
                continue
            targets = ", ".join(f"{fields}[{sc.name!r}]" for sc in run)
            src.line(f"{targets}, = {src.fixed(fmtstr)}.unpack_from(buf, pos)")
            src.line(f"pos += {struct.calcsize(fmtstr)}")
        src.line(f"{target} = {fields}")
    elif isinstance(con, c.FormatField):
        src.line(f"{target} = {src.fixed(con.fmtstr)}.unpack_from(buf, pos)[0]")
        src.line(f"pos += {con.length}")
    elif con is c.VarInt:
        src.line(f"{target}, pos = _any_uvarint_at(buf, pos)")
    elif con is c.ZigZag:
        src.line(f"{target}, pos = _zigzag_at(buf, pos)")
    else:
        raise NotImplementedError(f"no compiled form for {con!r}")


def _is_literal(source: str, value: Any) -> bool:
    """Whether ``source`` is a Python literal evaluating to ``value`` (so code may contain it)."""
    try:
        return bool(ast.literal_eval(source) == value)
    except (ValueError, SyntaxError):
        return False


def _emit_build(con: Any, src: _Source, value: str) -> None:
    """Emit statements that write ``con`` from the local variable ``value``."""
    if isinstance(con, c.Renamed):
        _emit_build(con.subcon, src, value)
    elif isinstance(con, c.Default):
        default = repr(con.value)
        if callable(con.value) or not _is_literal(default, con.value):
            raise NotImplementedError(f"no compiled form for the default of {con!r}")
        with src.block(f"if {value} is None:"):
            src.line(f"{value} = {default}")
        _emit_build(con.subcon, src, value)
    elif isinstance(con, (_Sized, _TaggedFieldsType, _UUIDAdapter)):
        con._emit_build_code(src, value)
    elif isinstance(con, c.Struct):
        if con.flagbuildnone:  # every field has a default: None builds as {}
            with src.block(f"if {value} is None:"):
                src.line(f"{value} = {{}}")
        for fmtstr, run in _field_runs(con.subcons):
            if fmtstr is None:
                sc = run[0]
                field = src.fresh("field")
                lookup = f".get({sc.name!r})" if sc.flagbuildnone else f"[{sc.name!r}]"
                src.line(f"{field} = {value}{lookup}")
                _emit_build(sc, src, field)
                continue
            values = ", ".join(f"{value}[{sc.name!r}]" for sc in run)
            src.line(f"w({src.fixed(fmtstr)}.pack({values}))")
    elif isinstance(con, c.FormatField):
        src.line(f"w({src.fixed(con.fmtstr)}.pack({value}))")
    elif con is c.VarInt:
        src.line(f"w(_checked_uvarint_bytes({value}))")
    elif con is c.ZigZag:
        src.line(f"w(_zigzag_bytes({value}))")
    else:
        raise NotImplementedError(f"no compiled form for {con!r}")


def _import_runtime(code: Any) -> None:
    code.append(
        f"from {__name__} import (ViewReader as _ViewReader, _SMALL_UVARINTS, _UUID, "
        "_borrow_buffer, _cannot_be_null, _checked_uvarint_bytes, _invalid_length, "
        "_not_utf8, _short_read, _tagged_fields_at, _truncated, _unpackable, _uuid_bytes, "
        "_uvarint_at, _uvarint_bytes, _write_tagged_fields, _zigzag_at, _zigzag_bytes, "
        "_any_uvarint_at)"
    )


def _function(template: str, body: list[str]) -> str:
    """A function's source: ``template`` with ``body`` (indented two levels) at its BODY line."""
    head, tail = textwrap.dedent(template).strip("\n").split("\n        BODY\n")
    return "\n".join([head, *body, tail])


def _parse_function(con: Any, code: Any) -> str:
    """Emit a function parsing ``con`` from the stream; the expression calling it."""
    name = f"parse_kafka_{code.allocateId()}"
    src = _Source(code, depth=2)
    _emit_parse(con, src, "value")
    _import_runtime(code)
    code.append(_function(
        f"""
        def {name}(io, this):
            if type(io) is _ViewReader:
                buf = io._view
                pos = io._position
                base = -1
            else:
                buf, pos, base = _borrow_buffer(io)
            end = len(buf)
            try:
                BODY
            except (struct.error, IndexError) as exc:
                raise _short_read(exc) from None
            finally:
                if base < 0:
                    io._position = pos
                else:
                    io.seek(base + pos)
            return value
        """,
        src.lines,
    ))
    return f"{name}(io, this)"


def _build_function(con: Any, code: Any) -> str:
    """Emit a function building ``con`` into the stream; the expression calling it."""
    name = f"build_kafka_{code.allocateId()}"
    src = _Source(code, depth=2)
    _emit_build(con, src, "obj")
    _import_runtime(code)
    code.append(_function(
        f"""
        def {name}(obj, io, this):
            w = io.write
            try:
                BODY
            except struct.error as exc:
                raise _unpackable(exc) from None
            return obj
        """,
        src.lines,
    ))
    return f"{name}(obj, io, this)"


class _WholeStructure(c.Subconstruct):  # type: ignore[misc]
    """A structure that compiles to one parse and one build function (``compile_structure``).

    Plain parsing and building go straight to the structure.
    """

    def _emitparse(self, code: Any) -> str:
        return _parse_function(self.subcon, code)

    def _emitbuild(self, code: Any) -> str:
        return _build_function(self.subcon, code)


def compile_structure(structure: Any) -> Any:
    """``structure`` compiled for parsing and building (a construct ``Compiled``).

    All of a structure made of this module's types (and construct's Struct,
    fixed-width fields, Default and varints) becomes one parse function and
    one build function. A structure holding anything else compiles the way
    construct compiles it, each unknown part called through its plain code.
    """
    compiled = _WholeStructure(structure).compile()
    if compiled.module.linkedinstances:
        return structure.compile()
    return compiled


# -- what the compiled code calls -----------------------------------------------

_UUID = uuid.UUID
_SMALL_UVARINTS = tuple(bytes((value,)) for value in range(128))


def _borrow_buffer(stream: Any) -> tuple[bytes, int, int]:
    """A stream's contents for compiled parsing: (buffer, position, base).

    A BytesIO (what ``Construct.parse`` makes) shares its bytes; another
    seekable stream is read to its end and seeked back to ``base + position``
    afterwards. A ViewReader is read in place by the compiled code itself.
    """
    if type(stream) is io.BytesIO:
        return stream.getvalue(), stream.tell(), 0
    try:
        start = stream.tell()
        return bytes(stream.read()), 0, start
    except (OSError, ValueError, AttributeError) as exc:
        raise c.StreamError(f"compiled parsing needs a seekable stream: {exc}") from None


def _short_read(exc: Exception) -> c.StreamError:
    if isinstance(exc, IndexError):
        return c.StreamError("stream ended inside a varint")
    return c.StreamError(f"stream read less than specified amount ({exc})")


def _truncated(wanted: int, available: int) -> c.StreamError:
    return c.StreamError(
        f"stream read less than specified amount, expected {wanted}, found {available}"
    )


def _invalid_length(type_name: str, length: int) -> c.ExplicitError:
    return c.ExplicitError(f"{type_name}: invalid length {length}")


def _cannot_be_null(type_name: str) -> c.ExplicitError:
    return c.ExplicitError(f"{type_name} cannot be null")


def _not_utf8(exc: UnicodeDecodeError) -> c.ExplicitError:
    return c.ExplicitError(f"string is not valid UTF-8: {exc}")


def _unpackable(exc: struct.error) -> c.FormatFieldError:
    return c.FormatFieldError(f"struct error during building: {exc}")


def _uvarint_at(buf: Any, pos: int) -> tuple[int, int]:
    """The length, count or tag varint at ``pos``, and the position after it.

    As ``_read_uvarint``: at most 5 bytes. IndexError if the buffer ends inside it.
    """
    value = 0
    for shift in range(0, 7 * _MAX_UVARINT_BYTES, 7):
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise c.ExplicitError(f"unsigned varint longer than {_MAX_UVARINT_BYTES} bytes")


def _any_uvarint_at(buf: Any, pos: int) -> tuple[int, int]:
    """An unsigned varint of any length, as construct's VarInt (the UnsignedVarInt field) reads."""
    value = 0
    shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _zigzag_at(buf: Any, pos: int) -> tuple[int, int]:
    raw, pos = _any_uvarint_at(buf, pos)
    return (raw >> 1) ^ -(raw & 1), pos


def _uvarint_bytes(value: int) -> bytes:
    """A non-negative int as an unsigned LEB128 varint."""
    if value < 128:
        return _SMALL_UVARINTS[value]
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def _checked_uvarint_bytes(value: Any) -> bytes:
    # construct's VarInt refuses the same values, with the same errors.
    if not isinstance(value, int):
        raise c.IntegerError(f"value {value} is not an integer")
    if value < 0:
        raise c.IntegerError(f"VarInt cannot build from negative number {value}")
    return _uvarint_bytes(value)


def _zigzag_bytes(value: Any) -> bytes:
    if not isinstance(value, int):
        raise c.IntegerError(f"value {value} is not an integer")
    return _uvarint_bytes(2 * value if value >= 0 else -2 * value - 1)


def _tagged_fields_at(buf: Any, pos: int) -> tuple[dict[int, bytes], int]:
    """Tagged fields at ``pos`` (as ``_TaggedFieldsType._parse``) and the position after them."""
    count, pos = _uvarint_at(buf, pos)
    end = len(buf)
    fields: dict[int, bytes] = {}
    previous = -1
    for _ in range(count):
        tag, pos = _uvarint_at(buf, pos)
        if tag <= previous:
            raise c.ExplicitError("tagged fields out of order or repeated")
        previous = tag
        size, pos = _uvarint_at(buf, pos)
        stop = pos + size
        if stop > end:
            raise _truncated(size, end - pos)
        fields[tag] = bytes(buf[pos:stop])
        pos = stop
    return fields, pos


def _write_tagged_fields(write: Callable[[bytes], object], fields: Any) -> None:
    """Write a non-empty tagged-field map, as ``_TaggedFieldsType._build``."""
    write(_checked_uvarint_bytes(len(fields)))
    for tag in sorted(fields):
        data = bytes(fields[tag])
        write(_checked_uvarint_bytes(tag))
        write(_checked_uvarint_bytes(len(data)))
        write(data)


def _uuid_bytes(value: uuid.UUID) -> bytes:
    data = value.bytes
    if type(data) is not bytes or len(data) != 16:
        raise c.StreamError(f"a UUID is 16 bytes, not {data!r}")
    return data
