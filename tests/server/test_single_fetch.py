"""One-partition Fetch requests and responses through the unrolled code, as the general codec.

``dispatch`` reads a Fetch request of one topic and one partition (and no
forgotten topics) with ``read_single_fetch``, and encodes a response of one
topic and one partition (with no aborted transactions, as MiniKafka never
has any) with ``encode_single_fetch``; anything else goes to the general
decoder and encoder. Both must give exactly what the general codec gives,
and the reader must refuse whatever the general decoder refuses.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol.codec import (
    DecodeError,
    decode_peeked_request,
    encode_request,
    encode_response,
    peek_request_header,
)
from minikafka.protocol.messages.fetch import FETCH
from minikafka.server.handlers.fetch import encode_single_fetch, read_single_fetch

from ..protocol.structures import plain, strategy

_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def _partition_strategy(version: int) -> st.SearchStrategy[Any]:
    partition = FETCH.responses[version].subcons[-1].subcon.subcon.subcons[-1].subcon.subcon
    return strategy(partition)


@pytest.mark.parametrize("version", FETCH.served)
@_SETTINGS
@given(data=st.data())
def test_single_partition_response_is_encoded_as_the_general_encoder_does(
        version: int, data: st.DataObject) -> None:
    body = data.draw(strategy(FETCH.responses[version]))
    if data.draw(st.booleans()):  # the one-partition shape, with no aborted transactions
        partition = {**data.draw(_partition_strategy(version)), "aborted_transactions": None}
        body["responses"] = [{"topic": data.draw(st.text(max_size=20)),
                              "partitions": [partition]}]
    # every field any served version has, so one call serves them all
    body = {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, **body}
    for topic in body["responses"]:
        for partition in topic["partitions"]:
            partition.setdefault("log_start_offset", -1)
            partition.setdefault("preferred_read_replica", -1)
    correlation_id = data.draw(st.integers(-(2**31), 2**31 - 1))
    single = encode_single_fetch(version, correlation_id, body)
    shaped = (len(body["responses"]) == 1 and len(body["responses"][0]["partitions"]) == 1
              and body["responses"][0]["partitions"][0]["aborted_transactions"] is None)
    if not shaped:
        assert single is None
        return
    assert single == encode_response(FETCH, version, correlation_id, body)


def test_records_given_as_a_view_are_written_whole() -> None:
    records = memoryview(bytearray(b"0123456789"))[2:8]
    body = {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": [
        {"topic": "t", "partitions": [{
            "partition_index": 0, "error_code": 0, "high_watermark": 5, "last_stable_offset": 5,
            "log_start_offset": 1, "aborted_transactions": None, "preferred_read_replica": -1,
            "records": records}]}]}
    single = encode_single_fetch(11, 3, body)
    assert single == encode_response(FETCH, 11, 3, body)
    assert single is not None and single.endswith(b"\x00\x00\x00\x06234567")


def _one_partition_request(version: int) -> st.SearchStrategy[Any]:
    topic = next(sub for sub in FETCH.requests[version].subcons if sub.name == "topics")
    element = topic.subcon.subcon
    partition = element.subcons[-1].subcon.subcon
    return st.tuples(st.text(max_size=20), strategy(partition))


@pytest.mark.parametrize("version", FETCH.served)
@_SETTINGS
@given(data=st.data())
def test_single_partition_request_is_read_as_the_general_decoder_reads_it(
        version: int, data: st.DataObject) -> None:
    body = data.draw(strategy(FETCH.requests[version]))
    if data.draw(st.booleans()):  # the one-partition shape
        name, partition = data.draw(_one_partition_request(version))
        body["topics"] = [{"topic": name, "partitions": [partition]}]
        if "forgotten_topics_data" in body:
            body["forgotten_topics_data"] = []
    client_id = data.draw(st.none() | st.text(max_size=10))
    payload = encode_request(FETCH, version, 5, body, client_id=client_id)
    fixed = peek_request_header(payload)
    header, expected = decode_peeked_request(FETCH, fixed, payload)
    single = read_single_fetch(payload, fixed)
    shaped = (len(body["topics"]) == 1 and len(body["topics"][0]["partitions"]) == 1
              and not body.get("forgotten_topics_data"))
    if not shaped:
        assert single is None
        return
    assert single is not None
    assert single[0] == header
    assert plain(single[1]) == plain(expected)
    # cut short, or with a byte more, the general decoder refuses it, and so does the reader
    cut = data.draw(st.integers(8, len(payload) - 1))
    with pytest.raises(DecodeError):
        decode_peeked_request(FETCH, fixed, payload[:cut])
    assert read_single_fetch(payload[:cut], fixed) is None
    assert read_single_fetch(payload + b"\x00", fixed) is None
