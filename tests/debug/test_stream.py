"""Frames cut from streams, decoded as far as they go, and paired: the dumper's sans-I/O core.

Inputs are encoded by kafka-python (an independent implementation), then
damaged in the ways real captures are: cut short, mis-sized, garbage.
"""

from __future__ import annotations

import struct

from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

from minikafka.debug.dump import Conversation, FrameSplitter, Pairing
from minikafka.protocol.registry import api_by_name


def _metadata_request(correlation_id: int, topic: str = "orders") -> bytes:
    request = MetadataRequest[8](
        topics=[MetadataRequest[8].MetadataRequestTopic(name=topic)],
        allow_auto_topic_creation=False, include_cluster_authorized_operations=False,
        include_topic_authorized_operations=False)
    request.with_header(correlation_id=correlation_id, client_id="kafka-python")
    return bytes(request.encode(version=8, header=True, framed=True))


def _metadata_response(correlation_id: int) -> bytes:
    cls = MetadataResponse[8]
    response = cls(
        throttle_time_ms=0,
        brokers=[cls.MetadataResponseBroker(node_id=1, host="kafka-1", port=9092, rack=None)],
        cluster_id="c", controller_id=1,
        topics=[cls.MetadataResponseTopic(
            error_code=0, name="orders", is_internal=False, authorized_operations=None,
            partitions=[cls.MetadataResponseTopic.MetadataResponsePartition(
                error_code=0, partition_index=0, leader_id=1, leader_epoch=0, replica_nodes=[1],
                isr_nodes=[1], offline_replicas=[])])],
        authorized_operations=None)
    # kafka-python encodes response headers only when it decoded the request;
    # response header v0 is just the correlation id.
    payload = struct.pack(">i", correlation_id) + bytes(response.encode(version=8))
    return struct.pack(">i", len(payload)) + payload


def _produce_request(correlation_id: int) -> bytes:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    builder.append(0, timestamp=1_700_000_000_000, key=b"user-1", value=b"first order",
                   headers=[("source", b"web")])
    builder.append(1, timestamp=1_700_000_000_250, key=None, value=b"\x00\x01\x02",
                   headers=[])
    cls = ProduceRequest[8]
    request = cls(transactional_id=None, acks=-1, timeout_ms=1500, topic_data=[
        cls.TopicProduceData(name="orders", partition_data=[
            cls.TopicProduceData.PartitionProduceData(index=0, records=bytes(builder.build()))])])
    request.with_header(correlation_id=correlation_id, client_id="kafka-python")
    return bytes(request.encode(version=8, header=True, framed=True))


def test_kafka_python_produce_request_decodes_to_its_records() -> None:
    (frame,) = Conversation().requests(_produce_request(3))
    assert frame.ok
    assert (frame.api.name, frame.api_version, frame.correlation_id, frame.client_id) == (
        "Produce", 8, 3, "kafka-python")
    partition = frame.body["topic_data"][0]["partition_data"][0]
    (batch,) = partition["records"]
    assert batch["crc_ok"] is True
    assert batch["records"] == [
        {"offset": 0, "timestamp": 1_700_000_000_000, "key": "user-1", "value": "first order",
         "headers": [{"key": "source", "value": "web"}]},
        {"offset": 1, "timestamp": 1_700_000_000_250, "key": None,
         "value": {"hex": "000102"}, "headers": []},
    ]
    text = frame.render()
    assert text.splitlines()[0] == (
        '#1 request Produce v8 correlation_id=3 client_id="kafka-python" '
        f"[{len(_produce_request(3)) - 4} bytes at byte 0]")
    assert 'key "user-1"  value "first order"  headers "source"="web"' in text


def test_responses_pair_with_requests_by_correlation_id() -> None:
    conversation = Conversation()
    requests = conversation.requests(_metadata_request(7) + _produce_request(8))
    assert [frame.index for frame in requests] == [1, 2]
    (response,) = conversation.responses(_metadata_response(7))
    assert response.ok
    assert (response.api.name, response.api_version, response.request_index) == ("Metadata", 8, 1)
    assert response.body["brokers"] == [{"node_id": 1, "host": "kafka-1", "port": 9092,
                                         "rack": None}]
    assert conversation.pairing.unanswered == [8]


def test_a_response_nobody_asked_for_is_reported() -> None:
    (frame,) = Conversation().responses(_metadata_response(99))
    assert not frame.ok
    assert frame.correlation_id == 99
    assert frame.error.reason.startswith("no request with correlation id 99 was seen")


def test_a_fixed_api_decodes_unpaired_responses() -> None:
    pairing = Pairing(fixed=(api_by_name("Metadata"), 8))
    frames = Conversation(pairing).responses(_metadata_response(1) + _metadata_response(2))
    assert [(frame.ok, frame.correlation_id) for frame in frames] == [(True, 1), (True, 2)]


def test_a_truncated_frame_is_decoded_as_far_as_it_goes() -> None:
    good = _metadata_request(1)
    produce = _produce_request(2)
    conversation = Conversation()
    frames = conversation.requests(good + produce[:60]) + conversation.finish()
    assert [frame.ok for frame in frames] == [True, False]
    cut = frames[1]
    assert (cut.index, cut.offset, cut.size) == (2, len(good), len(produce) - 4)
    assert cut.api.name == "Produce" and cut.correlation_id == 2
    assert cut.body["topic_data"][0]["name"] == "orders"  # decoded before the cut
    assert cut.error.field == "topic_data[0].partition_data[0].records"
    # The records field's length prefix starts at byte 50 of the payload
    # (header 22, transactional_id 2, acks 2, timeout 4, topic count 4,
    # "orders" 8, partition count 4, index 4); 2 bytes of the batch follow it.
    batch_size = len(produce) - 4 - 54
    assert cut.error.reason == (f"data ends early: needs {batch_size} bytes, 2 left "
                                f"(the stream ends after 56 of the frame's {len(produce) - 4} "
                                "bytes)")
    assert cut.error.offset == 50
    assert cut.to_json()["error"] == {"offset": 50, "stream_offset": len(good) + 54,
                                      "field": "topic_data[0].partition_data[0].records",
                                      "reason": cut.error.reason}


def test_a_frame_longer_than_its_structure_reports_the_leftover() -> None:
    request = bytearray(_metadata_request(1))
    struct.pack_into(">i", request, 0, len(request) - 4 + 3)
    frames = Conversation().requests(bytes(request) + b"\x00\x00\x00" + _metadata_request(2))
    assert [frame.ok for frame in frames] == [False, True]
    assert frames[0].body["topics"] == [{"name": "orders"}]
    assert frames[0].error.reason == ("3 bytes left over after the body: the frame is longer "
                                      "than its structure")
    assert frames[1].correlation_id == 2  # the next frame is found by the size prefix


def test_a_frame_shorter_than_its_structure_fails_and_the_stream_goes_on() -> None:
    first = bytearray(_metadata_request(1))
    struct.pack_into(">i", first, 0, len(first) - 4 - 2)  # says 2 bytes fewer than it has
    stream = bytes(first) + _metadata_request(2)
    conversation = Conversation()
    frames = conversation.requests(stream) + conversation.finish()
    assert not frames[0].ok
    assert frames[0].body["allow_auto_topic_creation"] is False
    assert frames[0].error.field == "include_cluster_authorized_operations"
    assert frames[0].error.reason == "data ends early: needs 1 bytes, 0 left"
    # The next "frame" starts 2 bytes early, at the 2 booleans: its size
    # prefix reads 0x00000000, an empty frame; the one after takes its size
    # from the middle of the real frame's prefix and header, 0x00250003.
    assert [frame.ok for frame in frames[1:]] == [False, False]
    assert frames[1].error.reason.startswith("0 bytes is shorter than a request header")
    assert frames[2].size == 0x00250003
    assert frames[2].error.reason.startswith("OffsetCommit v0 is not declared")
    assert frames[2].error.reason.endswith(
        "(the stream ends after 35 of the frame's 2424835 bytes)")


def test_garbage_stops_at_an_impossible_size() -> None:
    frames = Conversation().requests(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    (frame,) = frames
    assert not frame.ok
    assert frame.error.reason == ("invalid frame size 1195725856 (0x47455420): 27 bytes from "
                                  "here on cannot be split into frames")
    assert frame.render().splitlines() == [
        "#1 request [unusable size prefix at byte 0]",
        "  !! stopped at byte 0 of the stream: " + frame.error.reason,
    ]
    assert frame.to_json() == {"frame": 1, "offset": 0, "type": "request", "error": {
        "offset": -4, "stream_offset": 0, "reason": frame.error.reason}}


def test_a_negative_size_ends_the_stream_after_the_good_frames() -> None:
    splitter = FrameSplitter()
    raws = splitter.feed(_metadata_request(1) + b"\xff\xff\xff\xfe" + _metadata_request(2))
    assert [raw.fatal is None for raw in raws] == [True, False]
    assert raws[1].fatal.startswith("invalid frame size -2")
    assert splitter.broken
    assert splitter.feed(_metadata_request(3)) == []


def test_a_stream_ending_inside_a_size_prefix() -> None:
    conversation = Conversation()
    assert conversation.requests(b"\x00\x00") == []
    (frame,) = conversation.finish()
    assert frame.error.reason == "the stream ends inside a size prefix (2 of 4 bytes)"


def test_unknown_keys_and_undeclared_versions_are_named_and_skipped() -> None:
    unknown = struct.pack(">ihhih", 10, 999, 0, 5, 0)
    request = bytearray(_metadata_request(6))
    struct.pack_into(">h", request, 6, 42)  # Metadata v42
    frames = Conversation().requests(unknown + bytes(request) + _metadata_request(7))
    assert [frame.ok for frame in frames] == [False, False, True]
    assert frames[0].error.reason == "unknown api key 999"
    assert frames[1].error.reason.startswith("Metadata v42 is not declared (MiniKafka declares")
    assert frames[1].error.field == "header.request_api_version"


def test_bytes_arriving_in_pieces_make_the_same_frames() -> None:
    stream = _metadata_request(1) + _produce_request(2) + _metadata_request(3)
    whole = [frame.to_json() for frame in Conversation().requests(stream)]
    conversation = Conversation()
    pieces = [frame.to_json() for i in range(len(stream))
              for frame in conversation.requests(stream[i : i + 1])]
    assert pieces == whole


def test_api_versions_answered_with_v0_unsupported_version() -> None:
    request = ApiVersionsRequest[3](client_software_name="x", client_software_version="1")
    request.with_header(correlation_id=4, client_id="c")
    response = ApiVersionsResponse[0](error_code=35, api_keys=[
        ApiVersionsResponse[0].ApiVersion(api_key=18, min_version=0, max_version=2)])
    payload = struct.pack(">i", 4) + bytes(response.encode(version=0, header=False))
    conversation = Conversation()
    conversation.requests(bytes(request.encode(version=3, header=True, framed=True)))
    (frame,) = conversation.responses(struct.pack(">i", len(payload)) + payload)
    assert frame.ok
    assert frame.api_version == 0
    assert frame.note.startswith("decoded as v0")
    assert frame.body["error_code"] == 35


def test_corrupted_captures_never_raise() -> None:
    # Real frames with bytes overwritten or cut at random places: whatever
    # comes out, decoding, rendering and JSON never raise.
    import json
    import random
    from pathlib import Path

    data = Path(__file__).resolve().parent.parent / "data" / "debug"
    requests = (data / "confluent-kafka" / "conn4.requests.bin").read_bytes()
    responses = (data / "confluent-kafka" / "conn4.responses.bin").read_bytes()
    generator = random.Random(11)
    for _ in range(150):
        damaged = [bytearray(requests), bytearray(responses)]
        for stream in damaged:
            for _ in range(generator.randrange(1, 4)):
                stream[generator.randrange(len(stream))] = generator.randrange(256)
        cut = generator.randrange(len(damaged[1]) + 1)
        conversation = Conversation()
        frames = conversation.requests(bytes(damaged[0]))
        frames += conversation.responses(bytes(damaged[1][:cut])) + conversation.finish()
        for frame in frames:
            frame.render()
            json.dumps(frame.to_json())


def test_produce_with_acks_0_expects_no_response() -> None:
    from minikafka.debug.build import encode_frame, request_body

    produce = api_by_name("Produce")
    body = request_body(produce, 8, {"topics": ["t"], "values": ["v"], "acks": 0})
    conversation = Conversation()
    conversation.requests(encode_frame("request", produce, 8, 1, body) + _metadata_request(2))
    assert conversation.pairing.unanswered == [2]
