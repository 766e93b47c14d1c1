"""The unrolled reader and writer agree with the general codec, for every declared structure.

``compile_unrolled_reader`` must give, for bytes the general decoder reads
as a value whose every array has one element, that value's leaves; and None
for everything else: other shapes, and every byte string the general
decoder refuses (a cut frame, garbage). ``compile_unrolled_writer`` must
write the bytes the general encoder writes for the same leaves.
"""

from __future__ import annotations

from typing import Any

import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol import primitives as p
from minikafka.protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.unrolled import compile_unrolled_reader, compile_unrolled_writer

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
