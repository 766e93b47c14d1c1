"""Compiled structures parse and build exactly what the declared (plain) ones do.

The codec decodes and encodes through ``compile_structure``'s generated code,
while the declarations in ``minikafka.protocol.messages`` are plain construct
objects. For every declared structure (each API version's request and
response, the headers, the consumer protocol's) the two must agree: the same
bytes from the same value, the same value from the same bytes, an error from
both for a frame cut short or corrupted into nonsense, and an error from both
for a value that cannot be encoded. construct's own ``compile()`` of the same
structure, which calls our types' compiler hooks field by field, is held to
the same, except that its fixed-width fields raise struct.error on a short
read (the codec turns that into a DecodeError too).
"""

from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol import consumer_protocol
from minikafka.protocol import primitives as p
from minikafka.protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from minikafka.protocol.registry import APIS

from .structures import _INT_RANGES, _unwrap, plain, sample, strategy


def _declared() -> list[tuple[str, Any]]:
    found: dict[int, tuple[str, Any]] = {}
    for api in APIS.values():
        for version in api.versions:
            for kind, table in (("request", api.requests), ("response", api.responses)):
                found.setdefault(id(table[version]), (f"{api.name}-v{version}-{kind}", table[version]))
    for version, header in REQUEST_HEADERS.items():
        found[id(header)] = (f"RequestHeader-v{version}", header)
    for version, header in RESPONSE_HEADERS.items():
        found[id(header)] = (f"ResponseHeader-v{version}", header)
    for version, subscription in consumer_protocol._SUBSCRIPTION.items():
        found.setdefault(id(subscription), (f"ConsumerSubscription-v{version}", subscription))
    found[id(consumer_protocol._ASSIGNMENT)] = ("ConsumerAssignment", consumer_protocol._ASSIGNMENT)
    return list(found.values())


DECLARED = _declared()
_COMPILED: dict[int, tuple[Any, Any]] = {}


def _compiled(structure: Any) -> tuple[Any, Any]:
    """(compile_structure's, construct's own compile()) of ``structure``, made once."""
    key = id(structure)
    if key not in _COMPILED:
        _COMPILED[key] = (p.compile_structure(structure), structure.compile())
    return _COMPILED[key]


def _params() -> list[Any]:
    return [pytest.param(structure, id=name) for name, structure in DECLARED]


# construct's own compiled FormatField unpacks without checking the length first
_CONSTRUCTS_PARSE_ERRORS = (c.ConstructError, struct.error)


def _parsers(structure: Any) -> list[tuple[Any, Any]]:
    """(parser, the errors it may raise for bad input): plain, ours, construct's compile()."""
    ours, constructs = _compiled(structure)
    return [(structure, c.ConstructError), (ours, c.ConstructError),
            (constructs, _CONSTRUCTS_PARSE_ERRORS)]


def _outcome(parser: Any, errors: Any, data: bytes) -> tuple[str, Any]:
    """What parsing ``data`` gives: ("value", the value) or ("error", the error)."""
    try:
        return "value", plain(parser.parse(data))
    except errors as exc:
        return "error", exc


def _assert_same_outcome(structure: Any, data: bytes) -> None:
    (_, plain_errors), *compiled = _parsers(structure)
    expected_kind, expected = _outcome(structure, plain_errors, data)
    for parser, errors in compiled:
        kind, got = _outcome(parser, errors, data)
        assert kind == expected_kind, (data.hex(), expected, got)
        if kind == "value":
            assert got == expected


@pytest.mark.parametrize("structure", _params())
def test_compiles_whole(structure: Any) -> None:
    """No part of a declared structure is left to construct's per-field fallback calls."""
    ours, constructs = _compiled(structure)
    assert isinstance(ours, c.Compiled) and ours.defersubcon.subcon is structure
    assert ours.module.linkedinstances == {}
    assert constructs.module.linkedinstances == {}


@pytest.mark.parametrize("structure", _params())
def test_samples_agree_and_every_truncation_fails_in_both(structure: Any) -> None:
    for with_nulls in (False, True):
        value = sample(structure, seed=3, with_nulls=with_nulls)
        data = structure.build(value)
        for compiled in _compiled(structure):
            assert compiled.build(value) == data
            assert plain(compiled.parse(data)) == plain(structure.parse(data)) == value
        for end in range(len(data)):
            for parser, errors in _parsers(structure):
                with pytest.raises(errors):
                    parser.parse(data[:end])


@pytest.mark.parametrize("structure", _params())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_values_agree(structure: Any, data: st.DataObject) -> None:
    """Same bytes, same values; cut or corrupted, the same value or an error from both."""
    value = data.draw(strategy(structure), label="value")
    encoded = structure.build(value)
    for compiled in _compiled(structure):
        assert compiled.build(value) == encoded
        assert plain(compiled.parse(encoded)) == value
    if encoded:
        cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
        for parser, errors in _parsers(structure):
            with pytest.raises(errors):
                parser.parse(encoded[:cut])
        at = data.draw(st.integers(0, len(encoded) - 1), label="at")
        byte = data.draw(st.integers(0, 255), label="byte")
        _assert_same_outcome(structure, encoded[:at] + bytes([byte]) + encoded[at + 1:])
    _assert_same_outcome(structure, encoded + data.draw(st.binary(min_size=1, max_size=4)))


@pytest.mark.parametrize("structure", _params())
def test_parsing_a_view_reader_keeps_records_as_views(structure: Any) -> None:
    """From a ViewReader both read to the same place, with records as slices of its buffer."""
    value = sample(structure, seed=5)
    frame = bytearray(b"head" + structure.build(value) + b"tail")
    for parser in (structure, *_compiled(structure)):
        reader = p.ViewReader(frame)
        reader.seek(4)
        parsed = parser.parse_stream(reader)
        assert reader.remaining() == 4
        assert plain(parsed) == value
        for records in _records_fields(structure, parsed):
            assert isinstance(records, memoryview) and records.obj is frame


@pytest.mark.parametrize("structure", _params())
def test_parsing_a_bytes_stream_gives_bytes_and_leaves_the_stream_after_the_structure(
    structure: Any,
) -> None:
    value = sample(structure, seed=6)
    stream = io.BytesIO(b"xx" + structure.build(value) + b"yyy")
    stream.seek(2)
    for compiled in _compiled(structure):
        # a BytesIO (what parse(bytes) makes) and any other seekable stream
        for readable in (stream, io.BufferedReader(io.BytesIO(stream.getvalue()))):
            readable.seek(2)
            parsed = compiled.parse_stream(readable)
            assert readable.read() == b"yyy"
            assert plain(parsed) == value
            for records in _records_fields(structure, parsed):
                assert type(records) is bytes


def _records_fields(con: Any, value: Any) -> Iterator[Any]:
    """Every non-null Records value in a parsed tree."""
    con = _unwrap(con)
    if isinstance(con, c.Struct):
        for sub in con.subcons:
            yield from _records_fields(sub, value[sub.name])
    elif isinstance(con, p._ArrayType) and value is not None:
        for item in value:
            yield from _records_fields(con.subcon, item)
    elif isinstance(con, p._RecordsType) and value is not None:
        yield value


# -- values that cannot be encoded ----------------------------------------------


def _broken_values(con: Any, value: Any) -> Iterator[Any]:
    """Copies of ``value`` with one field made unencodable, one for each field of the tree."""
    con = _unwrap(con)
    if isinstance(con, c.Struct):
        for sub in con.subcons:
            if not sub.flagbuildnone:
                yield {k: v for k, v in value.items() if k != sub.name}  # a required field missing
            for broken in _broken_values(sub, value[sub.name]):
                yield {**value, sub.name: broken}
        return
    if isinstance(con, p._ArrayType):
        yield 5 if con.nullable else None
        if value:
            for broken in _broken_values(con.subcon, value[0]):
                yield [broken, *value[1:]]
        return
    if isinstance(con, p._TaggedFieldsType):
        yield {-1: b""}
        yield {1: b"a", "two": b"b"}
        return
    if isinstance(con, p._StringType):
        yield 123 if con.nullable else None
        yield "surrogate \ud800"
        return
    if isinstance(con, (p._BytesType, p._RecordsType)):
        yield "text" if con.nullable else None
        return
    if isinstance(con, p._UUIDAdapter):
        yield str(value)
        return
    if isinstance(con, c.FormatField):
        if con.fmtstr in _INT_RANGES:
            yield _INT_RANGES[con.fmtstr][1] + 1
            yield 1.5
        elif con.fmtstr == ">d":
            yield "1.5"
        return
    raise TypeError(f"no broken value for {con!r}")


def _build_error(builder: Any, value: Any) -> type[Exception] | None:
    try:
        builder.build(value)
    except (c.ConstructError, KeyError, TypeError, ValueError, AttributeError, OverflowError,
            struct.error) as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("structure", _params())
def test_unencodable_values_fail_alike(structure: Any) -> None:
    ours, _ = _compiled(structure)
    value = sample(structure, seed=7)
    for broken in _broken_values(structure, value):
        expected = _build_error(structure, broken)
        assert expected is not None, broken
        assert _build_error(ours, broken) is expected, broken


# -- the primitives one by one ----------------------------------------------------


_PRIMITIVE_CASES: list[tuple[str, Any, Any]] = [
    ("String", p.String, "héllo"),
    ("NullableString", p.NullableString, None),
    ("CompactString", p.CompactString, "x" * 200),  # a two-byte length varint
    ("CompactNullableString", p.CompactNullableString, None),
    ("Bytes", p.Bytes, b"\x00\x01"),
    ("CompactNullableBytes", p.CompactNullableBytes, b"z" * 130),
    ("Records", p.Records, None),
    ("CompactRecords", p.CompactRecords, b"batch"),
    ("Array", p.Array(p.Int32), [1, -2, 3]),
    ("NullableArray", p.NullableArray(p.String), None),
    ("CompactArray of structs", p.CompactArray(c.Struct("a" / p.Int8, "b" / p.CompactString,
                                                         "tagged_fields" / p.TaggedFields)),
     [{"a": 1, "b": "x", "tagged_fields": {}}, {"a": -1, "b": "", "tagged_fields": {3: b"q"}}]),
    ("CompactNullableArray", p.CompactNullableArray(p.Boolean), [True, False]),
    ("TaggedFields", p.TaggedFields, {0: b"", 5: b"five", 300: b"x" * 200}),
    ("UUID", p.UUID, uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("Boolean", p.Boolean, True),
    ("Float64", p.Float64, -2.5),
    ("UInt32", p.UInt32, 2**32 - 1),
    ("VarInt", p.VarInt, -(2**31)),
    ("VarLong", p.VarLong, 2**63 - 1),
    ("UnsignedVarInt", p.UnsignedVarInt, 2**35),
]


@pytest.mark.parametrize(("con", "value"),
                         [pytest.param(con, value, id=name) for name, con, value in _PRIMITIVE_CASES])
def test_each_primitive_alone_and_in_a_struct(con: Any, value: Any) -> None:
    for structure in (con, c.Struct("field" / con, "after" / p.Int16)):
        whole = value if structure is con else {"field": value, "after": 7}
        data = structure.build(whole)
        compiled = p.compile_structure(structure)
        assert compiled.module.linkedinstances == {}
        assert compiled.build(whole) == data
        assert plain(compiled.parse(data)) == plain(structure.parse(data)) == whole
        for end in range(len(data)):
            for parser in (structure, compiled):
                with pytest.raises(c.ConstructError):
                    parser.parse(data[:end])


def test_tagged_fields_out_of_order_fail_in_both() -> None:
    data = bytes([2, 5, 0, 3, 0])  # two fields: tag 5, then tag 3
    for parser in (p.TaggedFields, p.compile_structure(p.TaggedFields)):
        with pytest.raises(c.ExplicitError, match="out of order"):
            parser.parse(data)


def test_invalid_utf8_and_lengths_fail_in_both_with_the_same_message() -> None:
    cases = [
        (p.String, b"\x00\x02\xff\xfe", "not valid UTF-8"),
        (p.Records, struct.pack(">i", -2), "Records: invalid length -2"),
        (p.Array(p.Int8), struct.pack(">i", -1), "Array: invalid length -1"),
        (p.CompactString, b"\x00", "CompactString: invalid length -1"),
    ]
    for con, data, message in cases:
        for parser in (con, p.compile_structure(con)):
            with pytest.raises(c.ExplicitError, match=message):
                parser.parse(data)


def test_a_boolean_cut_off_is_an_error_not_true() -> None:
    # construct's compiled Flag read a missing byte as True; ours must not.
    structure = c.Struct("a" / p.Int8, "flag" / p.Boolean)
    for parser in (structure, p.compile_structure(structure)):
        with pytest.raises(c.StreamError):
            parser.parse(b"\x01")
    with pytest.raises(_CONSTRUCTS_PARSE_ERRORS):
        structure.compile().parse(b"\x01")


def test_a_structure_with_parts_primitives_cannot_compile_falls_back_to_construct() -> None:
    structure = c.Struct("n" / p.Int8, "raw" / c.Bytes(c.this.n), "s" / p.String)
    compiled = p.compile_structure(structure)
    data = structure.build({"n": 2, "raw": b"ab", "s": "x"})
    assert compiled.build({"n": 2, "raw": b"ab", "s": "x"}) == data
    assert plain(compiled.parse(data)) == {"n": 2, "raw": b"ab", "s": "x"}


def test_length_and_tag_varints_longer_than_kafka_allows_fail_in_both() -> None:
    padded_one = bytes([0x81, 0x80, 0x80, 0x80, 0x00])  # 1 in five bytes: the longest allowed
    padded_zero = bytes([0x80, 0x80, 0x80, 0x80, 0x00])
    cases = [(p.CompactString, padded_one, ""), (p.CompactArray(p.Int8), padded_one, []),
             (p.TaggedFields, padded_zero, {})]
    for con, longest, value in cases:
        for parser in (con, p.compile_structure(con)):
            assert parser.parse(longest) == value
            with pytest.raises(c.ExplicitError, match="longer than 5 bytes"):
                parser.parse(b"\x80" * 5 + b"\x00")
            # a frame of continuation bytes is refused at once, not read to its end
            with pytest.raises(c.ExplicitError, match="longer than 5 bytes"):
                parser.parse(b"\xff" * 1_000_000)
