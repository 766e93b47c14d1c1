"""The unrolled reader and writer agree with the general codec, for every declared structure.

``compile_unrolled_reader`` must give, for bytes the general decoder reads
as a value whose every array has one element, that value's leaves; and None
for everything else: other shapes, and every byte string the general
decoder refuses (a cut frame, garbage). ``compile_unrolled_writer`` must
write the bytes the general encoder writes for the same leaves.
``ResponseReader``, what the client reads one-partition Produce and Fetch
responses with, must do the same at every declared version, with the arrays
it reads whole (per-record errors, aborted transactions) of any length.
"""

from __future__ import annotations

import struct
from typing import Any

import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol import primitives as p
from minikafka.protocol.codec import DecodeError, decode_response, encode_response
from minikafka.protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.unrolled import (
    ResponseReader,
    compile_unrolled_reader,
    compile_unrolled_writer,
)

from .structures import _unwrap, plain, strategy
from .test_compiled import DECLARED

_FAST = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _leaves(structure: Any, value: Any, empty: frozenset[str] = frozenset()) -> list[Any] | None:
    """``value``'s leaves in declaration order if every array (but ``empty`` ones, which must
    be empty) has one element, else None."""
    out: list[Any] = []

    def walk(con: Any, value: Any) -> bool:
        for sub in _unwrap(con).subcons:
            inner = _unwrap(sub)
            field = value[sub.name]
            if isinstance(inner, p._ArrayType):
                if sub.name in empty:
                    if field != []:
                        return False
                    continue
                if field is None or len(field) != 1:
                    return False
                if isinstance(_unwrap(inner.subcon), c.Struct):
                    if not walk(inner.subcon, field[0]):
                        return False
                else:
                    out.append(field[0])
                continue
            out.append(field)
        return True

    return out if walk(structure, value) else None


def _unrollable() -> list[Any]:
    """Every declared structure whose leaf names are unique (what unrolling needs)."""
    found = []
    for name, structure in DECLARED:
        try:
            compile_unrolled_reader([structure])
        except ValueError:
            continue
        found.append(pytest.param(structure, id=name))
    return found


UNROLLABLE = _unrollable()


def test_most_declared_structures_unroll() -> None:
    assert len(UNROLLABLE) > len(DECLARED) // 2


def _one_element(structure: Any) -> st.SearchStrategy[Any]:
    """Values of ``structure`` whose every array has exactly one element."""
    con = _unwrap(structure)
    if isinstance(con, c.Struct):
        return st.fixed_dictionaries({sub.name: _one_element(sub) for sub in con.subcons})
    if isinstance(con, p._ArrayType):
        return st.lists(_one_element(con.subcon), min_size=1, max_size=1)
    return strategy(con)


@pytest.mark.parametrize("structure", UNROLLABLE)
@_FAST
@given(data=st.data())
def test_reader_matches_the_general_decoder(structure: Any, data: st.DataObject) -> None:
    value = data.draw(_one_element(structure) | strategy(structure))
    encoded = structure.build(value)
    _, reader = compile_unrolled_reader([structure])
    expected = plain(p.compile_structure(structure).parse(encoded))
    leaves = reader(memoryview(encoded))
    assert (None if leaves is None else plain(list(leaves))) == plain(_leaves(structure, expected))
    # nested: the value itself, as plain dicts and lists
    _, nested_reader = compile_unrolled_reader([structure], nested=True)
    nested = nested_reader(memoryview(encoded))
    assert (None if nested is None else plain(nested[0])) == (None if leaves is None else expected)
    # Cut anywhere, or with a byte more, the general decoder refuses it: so must the reader.
    if encoded:
        cut = data.draw(st.integers(0, len(encoded) - 1))
        assert reader(memoryview(encoded[:cut])) is None
    assert reader(memoryview(encoded + b"\x00")) is None


@pytest.mark.parametrize("structure", UNROLLABLE)
@_FAST
@given(garbage=st.binary(max_size=80))
def test_reader_refuses_what_the_general_decoder_refuses(structure: Any, garbage: bytes) -> None:
    _, reader = compile_unrolled_reader([structure])
    leaves = reader(memoryview(garbage))
    reader_view = p.ViewReader(garbage)
    try:
        value = p.compile_structure(structure).parsefunc(reader_view, None)
    except (c.ConstructError, ValueError):
        assert leaves is None
        return
    if reader_view.remaining():
        assert leaves is None  # trailing bytes: the codec refuses them
        return
    assert (None if leaves is None else plain(list(leaves))) == plain(_leaves(structure, value))


@pytest.mark.parametrize("structure", UNROLLABLE)
@_FAST
@given(data=st.data())
def test_writer_matches_the_general_encoder(structure: Any, data: st.DataObject) -> None:
    value = data.draw(_one_element(structure))
    names, writer = compile_unrolled_writer([structure])
    leaves = _leaves(structure, value)
    assert leaves is not None
    assert writer(**dict(zip(names, leaves, strict=True))) == structure.build(value)


# -- Produce, as the broker reads and answers it ---------------------------------------

_PRODUCE = settings(_FAST, max_examples=300)

_PRODUCE_V3 = [REQUEST_HEADERS[1], PRODUCE.requests[3]]


@_PRODUCE
@given(header=strategy(REQUEST_HEADERS[1]), body=strategy(PRODUCE.requests[3]),
       one=_one_element(PRODUCE.requests[3]), pick=st.booleans())
def test_produce_request_with_its_header(header: Any, body: Any, one: Any, pick: bool) -> None:
    names, reader = compile_unrolled_reader(_PRODUCE_V3)
    value = one if pick else body
    encoded = REQUEST_HEADERS[1].build(header) + PRODUCE.requests[3].build(value)
    leaves = reader(memoryview(encoded))
    expected_body = _leaves(PRODUCE.requests[3], value)
    if expected_body is None:
        assert leaves is None
    else:
        assert leaves is not None
        assert plain(list(leaves)) == plain(
            [header[name] for name in names[:4]] + expected_body)
        # records stay a view into the frame, as the general decoder gives them
        records = leaves[names.index("partition_data_records")]
        assert records is None or isinstance(records, memoryview)


@pytest.mark.parametrize("version", range(3, 9))
@_FAST
@given(data=st.data())
def test_produce_response_writer(version: int, data: st.DataObject) -> None:
    header = RESPONSE_HEADERS[PRODUCE.response_header_version(version)]
    structure = PRODUCE.responses[version]
    names, writer = compile_unrolled_writer([header, structure], frozenset({"record_errors"}))
    value = data.draw(_one_element(structure))
    for partition in value["responses"][0]["partition_responses"]:
        if "record_errors" in partition:
            partition["record_errors"] = []
    correlation_id = data.draw(st.integers(-(2**31), 2**31 - 1))
    fields = dict(zip(names[1:], _leaves(structure, value, frozenset({"record_errors"})) or [],
                      strict=True))
    # keywords this version does not carry are ignored, as the general encoder ignores keys
    extra = {"partition_responses_log_start_offset": 7, "partition_responses_error_message": "x",
             "partition_responses_log_append_time_ms": -1}
    written = writer(correlation_id=correlation_id, **{**extra, **fields})
    assert written == header.build({"correlation_id": correlation_id}) + structure.build(value)


def test_leaf_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="twice"):
        compile_unrolled_reader([REQUEST_HEADERS[1], REQUEST_HEADERS[1]])


def test_leaves_inside_arrays_are_named_after_their_array() -> None:
    names, _ = compile_unrolled_reader(_PRODUCE_V3)
    assert names == ("request_api_key", "request_api_version", "correlation_id", "client_id",
                     "transactional_id", "acks", "timeout_ms", "topic_data_name",
                     "partition_data_index", "partition_data_records")


@_PRODUCE
@given(body=strategy(PRODUCE.requests[3]))
def test_arrays_named_empty_must_be_empty(body: Any) -> None:
    # topic_data with no element: the only shape this reader takes
    _, reader = compile_unrolled_reader([PRODUCE.requests[3]], frozenset({"topic_data"}),
                                        nested=True)
    value = reader(memoryview(PRODUCE.requests[3].build(body)))
    if body["topic_data"]:
        assert value is None
    else:
        assert value == (plain(body),)


def test_arrays_named_whole_are_one_leaf_of_any_length() -> None:
    structure = c.Struct("count" / p.Int32, "items" / p.Array(c.Struct("x" / p.Int32)),
                         "errors" / p.Array(c.Struct("code" / p.Int16)))
    names, read = compile_unrolled_reader([structure], whole=frozenset({"errors"}),
                                          picked=("count", "items_x", "absent", "errors"))
    assert names == ("count", "items_x", "errors")
    assert read(struct.pack(">iiii", 9, 1, 4, 0)) == (9, 4, None, [])
    assert plain(read(struct.pack(">iiiihh", 9, 1, 4, 2, 7, 8))) == (
        9, 4, None, [{"code": 7}, {"code": 8}])
    assert read(struct.pack(">iiiii", 9, 2, 4, 5, 0)) is None  # two items: another shape
    with pytest.raises(ValueError, match="not an array"):
        compile_unrolled_reader([structure], whole=frozenset({"count"}))
    with pytest.raises(ValueError, match="not an array"):
        compile_unrolled_writer([structure], empty=frozenset({"count"}))
    with pytest.raises(ValueError, match="both"):
        compile_unrolled_reader([structure], frozenset({"errors"}), whole=frozenset({"errors"}))


def test_prefixed_structures_qualify_their_top_level_leaves() -> None:
    # a response header and a flexible body both have a top-level tagged_fields
    with pytest.raises(ValueError, match="twice"):
        compile_unrolled_reader([RESPONSE_HEADERS[1], PRODUCE.responses[9]])
    names, _ = compile_unrolled_reader([("header", RESPONSE_HEADERS[1]), PRODUCE.responses[9]],
                                       whole=frozenset({"record_errors"}))
    assert names[:3] == ("header_correlation_id", "header_tagged_fields", "responses_name")
    assert names[-2:] == ("throttle_time_ms", "tagged_fields")
    names, writer = compile_unrolled_writer([("header", RESPONSE_HEADERS[0]),
                                             ("body", c.Struct("a" / p.Int32))])
    assert names == ("header_correlation_id", "body_a")
    assert writer(header_correlation_id=1, body_a=2) == struct.pack(">ii", 1, 2)


# -- responses, as the client reads them (ResponseReader) ------------------------------

# (api, the arrays of one element, the arrays read whole, {leaf: its path in the decoded
# response}): as the client reads them, and then some
_SHAPES = {
    "Produce": (PRODUCE, ("body.responses", "body.responses.partition_responses"),
                frozenset({"record_errors"}), {
                    "header_correlation_id": "header.correlation_id",
                    "throttle_time_ms": "body.throttle_time_ms",
                    "responses_name": "body.responses.name",
                    "partition_responses_index": "body.responses.partition_responses.index",
                    "partition_responses_error_code":
                        "body.responses.partition_responses.error_code",
                    "partition_responses_base_offset":
                        "body.responses.partition_responses.base_offset",
                    "partition_responses_record_errors":
                        "body.responses.partition_responses.record_errors",
                    "partition_responses_error_message":
                        "body.responses.partition_responses.error_message"}),
    "Fetch": (FETCH, ("body.responses", "body.responses.partitions"),
              frozenset({"aborted_transactions"}), {
                  "header_correlation_id": "header.correlation_id",
                  "error_code": "body.error_code",
                  "session_id": "body.session_id",
                  "responses_topic": "body.responses.topic",
                  "partitions_partition_index": "body.responses.partitions.partition_index",
                  "partitions_error_code": "body.responses.partitions.error_code",
                  "partitions_high_watermark": "body.responses.partitions.high_watermark",
                  "partitions_aborted_transactions":
                      "body.responses.partitions.aborted_transactions",
                  "partitions_records": "body.responses.partitions.records"}),
}
_READERS = {name: ResponseReader(api, tuple(leaves), whole)
            for name, (api, _, whole, leaves) in _SHAPES.items()}
_CASES = [(name, version) for name, (api, *_) in _SHAPES.items() for version in api.responses]
_RESPONSES = settings(max_examples=25, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])


def _at(decoded: dict[str, Any], path: str, arrays: tuple[str, ...]) -> Any:
    """``path``'s value in a decoded {"header": ..., "body": ...} tree, through the
    first element of each array of ``arrays``; None where a struct lacks the field."""
    value: Any = decoded
    walked = ""
    for part in path.split("."):
        if part not in value:
            return None
        value = value[part]
        walked = f"{walked}.{part}" if walked else part
        if walked in arrays:
            value = value[0]
    return value


def _expected(name: str, version: int, payload: bytes) -> list[Any] | None:
    """What the reader should give, worked out from the general decoder: the
    leaves, or None for another shape. Raises DecodeError where it does."""
    api, arrays, _, leaves = _SHAPES[name]
    correlation_id, body = decode_response(api, version, payload)
    decoded = {"header": {"correlation_id": correlation_id}, "body": body}
    for array in arrays:
        if len(_at(decoded, array, tuple(a for a in arrays if a != array)) or ()) != 1:
            return None
    return [plain(_at(decoded, path, arrays)) for path in leaves.values()]


def _one_partition(body: Any, arrays: tuple[str, ...]) -> Any:
    """``body`` with each of ``arrays`` cut to its first element, where it has one."""
    node = body
    for array in arrays:
        key = array.rsplit(".", 1)[1]
        if not node[key]:
            return body
        node[key] = node[key][:1]
        node = node[key][0]
    return body


def _read(name: str, version: int, payload: bytes | memoryview) -> list[Any] | None:
    got = _READERS[name](version, payload)
    return None if got is None else plain(list(got))


@pytest.mark.parametrize(("name", "version"), _CASES)
@_RESPONSES
@given(data=st.data())
def test_response_reader_agrees_with_the_general_decoder(name: str, version: int,
                                                         data: st.DataObject) -> None:
    api, arrays, _, _ = _SHAPES[name]
    body = data.draw(strategy(api.responses[version]), label="body")
    if data.draw(st.booleans(), label="one partition"):
        body = _one_partition(body, arrays)
    correlation_id = data.draw(st.integers(-(2**31), 2**31 - 1), label="correlation id")
    payload = encode_response(api, version, correlation_id, body)
    expected = _expected(name, version, payload)
    assert _read(name, version, payload) == expected
    assert _read(name, version, memoryview(payload)) == expected  # a view reads the same


@pytest.mark.parametrize(("name", "version"), _CASES)
@_RESPONSES
@given(data=st.data())
def test_response_reader_never_accepts_what_the_general_decoder_refuses(
        name: str, version: int, data: st.DataObject) -> None:
    api, arrays, _, _ = _SHAPES[name]
    body = _one_partition(data.draw(strategy(api.responses[version]), label="body"), arrays)
    payload = bytearray(encode_response(api, version, 7, body))
    cut = data.draw(st.integers(0, len(payload)), label="cut")
    payload = payload[:cut] + data.draw(st.binary(max_size=3), label="tail")
    for _ in range(data.draw(st.integers(0, 3), label="flips")):
        if payload:
            at = data.draw(st.integers(0, len(payload) - 1), label="at")
            payload[at] = data.draw(st.integers(0, 255), label="byte")
    try:
        expected = _expected(name, version, bytes(payload))
    except DecodeError:
        assert _READERS[name](version, bytes(payload)) is None
        return
    assert _read(name, version, bytes(payload)) == expected


def test_every_truncation_of_a_one_partition_response_is_declined() -> None:
    body = {"throttle_time_ms": 0, "responses": [{"name": "t", "partition_responses": [{
        "index": 0, "error_code": 0, "base_offset": 5, "log_append_time_ms": -1,
        "log_start_offset": 1, "record_errors": [{"batch_index": 0,
                                                  "batch_index_error_message": "x"}],
        "error_message": "é"}]}]}
    payload = encode_response(PRODUCE, 8, 3, body)
    assert _read("Produce", 8, payload) == [3, 0, "t", 0, 0, 5, [
        {"batch_index": 0, "batch_index_error_message": "x"}], "é"]
    for cut in range(len(payload)):
        assert _READERS["Produce"](8, payload[:cut]) is None
    assert _READERS["Produce"](8, payload + b"\x00") is None  # left over: decoder refuses it


def test_records_of_a_view_stay_a_view_of_the_frame() -> None:
    body = {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": [{
        "topic": "t", "partitions": [{
            "partition_index": 0, "error_code": 0, "high_watermark": 3, "last_stable_offset": 3,
            "log_start_offset": 1, "aborted_transactions": None, "preferred_read_replica": -1,
            "records": b"batch bytes"}]}]}
    payload = encode_response(FETCH, 11, 3, body)
    values = _READERS["Fetch"](11, memoryview(payload))
    assert values is not None
    records = values[-1]
    assert isinstance(records, memoryview) and records.obj is payload
    assert bytes(records) == b"batch bytes"


def test_an_undeclared_version_is_declined() -> None:
    assert _READERS["Produce"](99, b"\x00" * 64) is None
