"""Whole payloads (header + body) through ``minikafka.protocol.codec``.

A Produce request carrying a real record batch must come out with the batch
as a zero-copy view of the frame, and agree byte for byte with kafka-python;
bad input must raise a typed error that still carries the request header, so
that a server can answer the request it could not decode.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from kafka.protocol.consumer.fetch import (  # type: ignore[import-untyped]
    FetchRequest as KafkaPythonFetchRequest,
)
from kafka.protocol.consumer.fetch import (  # type: ignore[import-untyped]
    FetchResponse as KafkaPythonFetchResponse,
)
from kafka.protocol.producer.produce import (  # type: ignore[import-untyped]
    ProduceRequest as KafkaPythonProduceRequest,
)
from kafka.record.default_records import (  # type: ignore[import-untyped]
    DefaultRecordBatch,
    DefaultRecordBatchBuilder,
)

from minikafka.protocol.codec import (
    DecodeError,
    RequestHeader,
    UnknownApi,
    UnsupportedVersion,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from minikafka.protocol.errors import LocalProtocolError, RemoteProtocolError
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.produce import PRODUCE

from .structures import plain

RECORDS = [(b"k0", b"first value"), (None, b"second value"), (b"k2", b"")]


def _batch() -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20,
    )
    for offset, (key, value) in enumerate(RECORDS):
        builder.append(offset, timestamp=1_700_000_000_000 + offset, key=key, value=value, headers=[])
    return bytes(builder.build())


def _produce_body(records: Any) -> dict[str, Any]:
    return {
        "transactional_id": None,
        "acks": -1,
        "timeout_ms": 30_000,
        "topic_data": [{"name": "events", "partition_data": [{"index": 3, "records": records}]}],
    }


def _produce_request_payload(batch: bytes) -> bytes:
    return encode_request(PRODUCE, 8, 7, _produce_body(batch), client_id="tester")


def test_produce_request_keeps_the_batch_as_a_view_of_the_frame() -> None:
    batch = _batch()
    payload = _produce_request_payload(batch)

    header, body = decode_request(payload)

    assert header == RequestHeader(api_key=0, api_version=8, correlation_id=7, client_id="tester")
    records = body.topic_data[0].partition_data[0].records
    assert isinstance(records, memoryview)
    assert records.obj is payload  # a slice of the frame, not a copy
    assert records == batch
    read_back = list(DefaultRecordBatch(records))
    assert [(r.key, r.value) for r in read_back] == RECORDS
    assert plain(body) == _produce_body(batch)


def test_produce_request_from_a_frame_slice_stays_a_view_of_that_frame() -> None:
    # The server hands the codec memoryviews into its receive buffer.
    batch = _batch()
    payload = _produce_request_payload(batch)
    receive_buffer = bytearray(b"\x00" * 4 + payload + b"next frame")
    frame_view = memoryview(receive_buffer)[4 : 4 + len(payload)]

    _, body = decode_request(frame_view)

    records = body.topic_data[0].partition_data[0].records
    assert records.obj is receive_buffer
    assert records == batch


def test_produce_request_matches_kafka_python_byte_for_byte() -> None:
    batch = _batch()
    topic_data = KafkaPythonProduceRequest.TopicProduceData
    partition_data = topic_data.PartitionProduceData
    theirs = KafkaPythonProduceRequest[8](
        transactional_id=None,
        acks=-1,
        timeout_ms=30_000,
        topic_data=[
            topic_data(name="events", partition_data=[partition_data(index=3, records=batch)])
        ],
    )
    theirs.with_header(correlation_id=7, client_id="tester")

    assert _produce_request_payload(batch) == bytes(theirs.encode(header=True))


def test_fetch_response_with_a_batch_decodes_in_kafka_python_and_back() -> None:
    batch = _batch()
    body = {
        "throttle_time_ms": 0,
        "error_code": 0,
        "session_id": 0,
        "responses": [{
            "topic": "events",
            "partitions": [{
                "partition_index": 3,
                "error_code": 0,
                "high_watermark": 3,
                "last_stable_offset": 3,
                "log_start_offset": 0,
                "aborted_transactions": None,
                "preferred_read_replica": -1,
                "records": batch,
            }],
        }],
    }
    payload = encode_response(FETCH, 11, 12, body)

    theirs = KafkaPythonFetchResponse.decode(payload, version=11, header=True)
    assert theirs._header.correlation_id == 12
    their_partition = theirs.responses[0].partitions[0]
    assert their_partition.high_watermark == 3
    assert bytes(their_partition.records) == batch

    correlation_id, decoded = decode_response(FETCH, 11, payload)
    assert correlation_id == 12
    records = decoded.responses[0].partitions[0].records
    assert isinstance(records, memoryview)
    assert records == batch
    assert plain(decoded) == body


def test_decoded_body_with_record_views_encodes_back_to_the_same_bytes() -> None:
    # A proxy or the dumper re-encodes what it decoded; the records are memoryviews.
    payload = _produce_request_payload(_batch())
    header, body = decode_request(payload)
    assert encode_request(PRODUCE, 8, header.correlation_id, body, client_id=header.client_id) == payload


def test_flexible_produce_request_keeps_the_batch_as_a_view() -> None:
    batch = _batch()
    topic_data = KafkaPythonProduceRequest.TopicProduceData
    partition_data = topic_data.PartitionProduceData
    theirs = KafkaPythonProduceRequest[9](
        transactional_id="tx",
        acks=1,
        timeout_ms=1000,
        topic_data=[topic_data(name="events", partition_data=[partition_data(index=0, records=batch)])],
    )
    theirs.with_header(correlation_id=21, client_id="tester")
    payload = bytes(theirs.encode(header=True))

    header, body = decode_request(payload)

    assert header == RequestHeader(api_key=0, api_version=9, correlation_id=21, client_id="tester")
    records = body.topic_data[0].partition_data[0].records
    assert isinstance(records, memoryview) and records.obj is payload
    assert records == batch
    assert encode_request(PRODUCE, 9, 21, body, client_id="tester") == payload


def test_flexible_fetch_request_keeps_tagged_fields_it_does_not_name() -> None:
    theirs = KafkaPythonFetchRequest[12](
        replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
        session_id=0, session_epoch=-1, topics=[], forgotten_topics_data=[], rack_id="",
        cluster_id="cluster-a",  # tag 0 in v12
    )
    theirs.with_header(correlation_id=4, client_id="cli")
    payload = bytes(theirs.encode(header=True))

    header, body = decode_request(payload)

    assert header == RequestHeader(api_key=1, api_version=12, correlation_id=4, client_id="cli")
    assert body.tagged_fields == {0: b"\x0acluster-a"}  # compact string: length + 1, then bytes
    assert encode_request(FETCH, 12, 4, body, client_id="cli") == payload


def test_flexible_fetch_response_keeps_tagged_fields_it_does_not_name() -> None:
    partition_data = KafkaPythonFetchResponse.FetchableTopicResponse.PartitionData
    partition = partition_data(
        partition_index=0, error_code=0, high_watermark=5, last_stable_offset=5, log_start_offset=0,
        aborted_transactions=None, preferred_read_replica=-1, records=b"xyz",
        current_leader=partition_data.LeaderIdAndEpoch(leader_id=1, leader_epoch=7),  # tag 1
    )
    theirs = KafkaPythonFetchResponse[12](
        throttle_time_ms=0, error_code=0, session_id=0,
        responses=[KafkaPythonFetchResponse.FetchableTopicResponse(topic="t", partitions=[partition])],
    )
    theirs.with_header(correlation_id=3)
    payload = bytes(theirs.encode(header=True))

    correlation_id, body = decode_response(FETCH, 12, payload)

    assert correlation_id == 3
    assert body.responses[0].partitions[0].tagged_fields == {1: struct.pack(">iib", 1, 7, 0)}
    assert encode_response(FETCH, 12, correlation_id, body) == payload


def test_produce_response_round_trips() -> None:
    body = {
        "responses": [{
            "name": "events",
            "partition_responses": [{
                "index": 3,
                "error_code": 0,
                "base_offset": 41,
                "log_append_time_ms": -1,
                "log_start_offset": 0,
                "record_errors": [],
                "error_message": None,
            }],
        }],
        "throttle_time_ms": 0,
    }
    correlation_id, decoded = decode_response(PRODUCE, 8, encode_response(PRODUCE, 8, 99, body))
    assert correlation_id == 99
    assert plain(decoded) == body


def test_declared_but_refused_produce_version_still_decodes() -> None:
    # Produce v0-2 are declared so the broker can read the request and answer
    # UNSUPPORTED_VERSION to the right correlation id.
    payload = encode_request(PRODUCE, 2, 5, {"acks": 1, "timeout_ms": 100, "topic_data": []})
    header, body = decode_request(payload)
    assert (header.api_version, header.correlation_id) == (2, 5)
    assert body.acks == 1
    assert 2 not in PRODUCE.served


def _request_header_bytes(api_key: int, api_version: int, correlation_id: int) -> bytes:
    client_id = b"tester"
    return struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id


def test_unknown_api_key_carries_the_header() -> None:
    with pytest.raises(UnknownApi) as excinfo:
        decode_request(_request_header_bytes(9999, 0, 42) + b"whatever")
    assert isinstance(excinfo.value, RemoteProtocolError)
    assert excinfo.value.header.api_key == 9999
    assert excinfo.value.header.correlation_id == 42
    assert "9999" in str(excinfo.value)


def test_undeclared_version_carries_the_header_and_the_api() -> None:
    with pytest.raises(UnsupportedVersion) as excinfo:
        decode_request(_request_header_bytes(0, 99, 43) + b"whatever")
    assert excinfo.value.header == RequestHeader(api_key=0, api_version=99, correlation_id=43)
    assert excinfo.value.api is PRODUCE
    assert "Produce version 99" in str(excinfo.value)


@pytest.mark.parametrize("cut", [1, 5, 100])
def test_truncated_body_is_a_decode_error_with_the_header(cut: int) -> None:
    payload = _produce_request_payload(_batch())
    truncated = payload[:-cut]

    with pytest.raises(DecodeError) as excinfo:
        decode_request(truncated)

    error = excinfo.value
    assert error.header == RequestHeader(api_key=0, api_version=8, correlation_id=7, client_id="tester")
    assert error.what == "Produce v8 request"
    assert 0 < error.offset <= len(truncated)


def test_frame_ending_inside_a_fixed_width_field_is_a_decode_error() -> None:
    payload = _produce_request_payload(_batch())
    body_start = len(_request_header_bytes(0, 8, 7))
    # transactional_id (null: 2 bytes), then acks; cut after one byte of acks
    with pytest.raises(DecodeError) as excinfo:
        decode_request(payload[: body_start + 3])
    assert excinfo.value.header is not None and excinfo.value.header.client_id == "tester"


def test_truncated_header_is_a_decode_error_with_the_fixed_header() -> None:
    payload = _produce_request_payload(_batch())
    with pytest.raises(DecodeError) as excinfo:
        decode_request(payload[:10])  # client id length says 6, only 2 bytes follow
    assert excinfo.value.header == RequestHeader(api_key=0, api_version=8, correlation_id=7)
    assert excinfo.value.what == "Produce v8 request header"


def test_frame_shorter_than_any_header_is_a_decode_error_without_header() -> None:
    with pytest.raises(DecodeError) as excinfo:
        decode_request(b"\x00\x00\x00")
    assert excinfo.value.header is None


def test_trailing_bytes_are_a_decode_error_with_the_header() -> None:
    payload = _produce_request_payload(_batch())
    with pytest.raises(DecodeError) as excinfo:
        decode_request(payload + b"\x00\x01")
    error = excinfo.value
    assert error.header is not None and error.header.correlation_id == 7
    assert error.offset == len(payload)
    assert "2 unexpected trailing bytes" in error.reason


def test_invalid_length_prefix_is_a_decode_error() -> None:
    body = _produce_body(None)
    payload = bytearray(encode_request(PRODUCE, 8, 7, body, client_id="tester"))
    records_length_at = len(payload) - 4  # null records: the payload ends with length -1
    payload[records_length_at:] = struct.pack(">i", -2)
    with pytest.raises(DecodeError) as excinfo:
        decode_request(bytes(payload))
    assert "invalid length -2" in excinfo.value.reason
    assert excinfo.value.header is not None


def test_response_errors() -> None:
    payload = encode_response(PRODUCE, 8, 1, {"responses": [], "throttle_time_ms": 0})
    with pytest.raises(DecodeError):
        decode_response(PRODUCE, 8, payload[:-1])
    with pytest.raises(DecodeError):
        decode_response(PRODUCE, 8, payload + b"\x00")
    with pytest.raises(DecodeError, match="not declared"):
        decode_response(PRODUCE, 99, payload)


def test_encoding_an_incomplete_body_is_a_local_error() -> None:
    body = _produce_body(b"")
    del body["acks"]
    with pytest.raises(LocalProtocolError, match="acks"):
        encode_request(PRODUCE, 8, 1, body)
    with pytest.raises(LocalProtocolError, match="not declared"):
        encode_request(PRODUCE, 99, 1, _produce_body(b""))
