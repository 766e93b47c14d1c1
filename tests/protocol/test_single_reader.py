"""Single-shape readers (``compile_single_reader``, ``codec.SingleShapeReader``).

They read a Produce or Fetch response about one partition straight into the
few values a client wants. They must agree with the general decoder on every
response they accept, decline (None) every other shape, and never accept
bytes the general decoder refuses.
"""

from __future__ import annotations

import struct
from typing import Any

import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol import primitives as p
from minikafka.protocol.codec import (
    DecodeError,
    SingleShapeReader,
    decode_response,
    encode_response,
)
from minikafka.protocol.registry import api_by_name

from .structures import strategy

_PRODUCE = api_by_name("Produce")
_FETCH = api_by_name("Fetch")

# (api, the arrays of one element, the fields read): as the clients read them
_SHAPES = {
    "Produce": (_PRODUCE, ("body.responses", "body.responses.partition_responses"),
                ("header.correlation_id", "body.throttle_time_ms", "body.responses.name",
                 "body.responses.partition_responses.index",
                 "body.responses.partition_responses.error_code",
                 "body.responses.partition_responses.base_offset",
                 "body.responses.partition_responses.record_errors",
                 "body.responses.partition_responses.error_message")),
    "Fetch": (_FETCH, ("body.responses", "body.responses.partitions"),
              ("header.correlation_id", "body.error_code", "body.session_id",
               "body.responses.topic", "body.responses.partitions.partition_index",
               "body.responses.partitions.error_code",
               "body.responses.partitions.high_watermark",
               "body.responses.partitions.aborted_transactions",
               "body.responses.partitions.records")),
}
_READERS = {name: SingleShapeReader(*shape) for name, shape in _SHAPES.items()}
_CASES = [(name, version) for name, (api, _, _) in _SHAPES.items() for version in api.responses]


def _field(decoded: dict[str, Any], path: str, arrays: tuple[str, ...]) -> Any:
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


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()
                if not (isinstance(key, str) and key.startswith("_"))}
    return value


def _expected(name: str, version: int, payload: bytes) -> tuple[Any, ...] | None:
    """What the reader should give, worked out from the general decoder: the
    fields, or None for another shape. Raises DecodeError where it does."""
    api, arrays, fields = _SHAPES[name]
    correlation_id, body = decode_response(api, version, payload)
    decoded = {"header": {"correlation_id": correlation_id}, "body": body}
    for array in arrays:
        if len(_field(decoded, array, tuple(a for a in arrays if a != array)) or ()) != 1:
            return None
    return tuple(_plain(_field(decoded, f, arrays)) for f in fields)


def _single(body: Any, arrays: tuple[str, ...]) -> Any:
    """``body`` with each of ``arrays`` cut to its first element, where it has one."""
    node = body
    for array in arrays:
        key = array.rsplit(".", 1)[1]
        if not node[key]:
            return body
        node[key] = node[key][:1]
        node = node[key][0]
    return body


@pytest.mark.parametrize(("name", "version"), _CASES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_agrees_with_the_general_decoder(name: str, version: int, data: st.DataObject) -> None:
    api, arrays, _ = _SHAPES[name]
    body = data.draw(strategy(api.responses[version]), label="body")
    if data.draw(st.booleans(), label="one partition"):
        body = _single(body, arrays)
    correlation_id = data.draw(st.integers(-(2**31), 2**31 - 1), label="correlation id")
    payload = encode_response(api, version, correlation_id, body)
    expected = _expected(name, version, payload)
    got = _READERS[name](version, payload)
    assert (None if got is None else _plain(list(got))) == (
        None if expected is None else list(expected))
    # a view of the frame reads the same
    viewed = _READERS[name](version, memoryview(payload))
    assert (None if viewed is None else _plain(list(viewed))) == (
        None if expected is None else list(expected))


@pytest.mark.parametrize(("name", "version"), _CASES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_never_accepts_what_the_general_decoder_refuses(name: str, version: int,
                                                        data: st.DataObject) -> None:
    api, arrays, _ = _SHAPES[name]
    body = _single(data.draw(strategy(api.responses[version]), label="body"), arrays)
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
    got = _READERS[name](version, bytes(payload))
    assert (None if got is None else _plain(list(got))) == (
        None if expected is None else list(expected))


def test_every_truncation_of_a_one_partition_response_is_declined() -> None:
    body = {"throttle_time_ms": 0, "responses": [{"name": "t", "partition_responses": [{
        "index": 0, "error_code": 0, "base_offset": 5, "log_append_time_ms": -1,
        "log_start_offset": 1, "record_errors": [{"batch_index": 0,
                                                  "batch_index_error_message": "x"}],
        "error_message": "é"}]}]}
    payload = encode_response(_PRODUCE, 8, 3, body)
    assert _READERS["Produce"](8, payload) == (3, 0, "t", 0, 0, 5,
                                               [{"batch_index": 0,
                                                 "batch_index_error_message": "x"}], "é")
    for cut in range(len(payload)):
        assert _READERS["Produce"](8, payload[:cut]) is None
    assert _READERS["Produce"](8, payload + b"\x00") is None  # left over: decoder refuses it


def test_records_of_a_view_stay_a_view_of_the_frame() -> None:
    body = {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": [{
        "topic": "t", "partitions": [{
            "partition_index": 0, "error_code": 0, "high_watermark": 3, "last_stable_offset": 3,
            "log_start_offset": 1, "aborted_transactions": None, "preferred_read_replica": -1,
            "records": b"batch bytes"}]}]}
    payload = encode_response(_FETCH, 11, 3, body)
    values = _READERS["Fetch"](11, memoryview(payload))
    assert values is not None
    records = values[-1]
    assert isinstance(records, memoryview) and records.obj is payload
    assert bytes(records) == b"batch bytes"


def test_an_undeclared_version_is_declined() -> None:
    assert _READERS["Produce"](99, b"\x00" * 64) is None


def test_arrays_must_exist_and_be_arrays() -> None:
    structure = c.Struct("count" / p.Int32, "items" / p.Array(c.Struct("x" / p.Int32)))
    read = p.compile_single_reader(structure, ("items",), ("count", "items.x", "absent"))
    assert read(struct.pack(">iii", 9, 1, 4)) == (9, 4, None)
    assert read(struct.pack(">iiii", 9, 2, 4, 5)) is None  # two items: another shape
    with pytest.raises(ValueError, match="no arrays"):
        p.compile_single_reader(structure, ("things",), ("count",))
    with pytest.raises(ValueError, match="not an array"):
        p.compile_single_reader(structure, ("count",), ("count",))
