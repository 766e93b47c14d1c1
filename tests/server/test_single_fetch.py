"""A one-partition Fetch response written by the unrolled writer is what the general encoder writes.

``dispatch`` encodes a Fetch response of one topic and one partition (with
no aborted transactions, as MiniKafka never has any) with
``encode_single_fetch``; any other response goes to the general encoder.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol.codec import encode_response
from minikafka.protocol.messages.fetch import FETCH
from minikafka.server.handlers.fetch import encode_single_fetch

from ..protocol.structures import strategy

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
