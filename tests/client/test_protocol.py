"""``ClientProtocol`` without a network: bytes in, responses out, as a broker would see it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minikafka.client._core import _metadata_request
from minikafka.client._protocol import NEED_DATA, ClientProtocol, Response
from minikafka.client.errors import ConnectionClosed, UnsupportedByBroker
from minikafka.protocol.codec import decode_request, encode_request, encode_response
from minikafka.protocol.errors import ClusterAuthorizationFailedError, RemoteProtocolError
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.registry import api_by_name

API_VERSIONS = api_by_name("ApiVersions")
METADATA = api_by_name("Metadata")
PRODUCE = api_by_name("Produce")
FETCH = api_by_name("Fetch")

METADATA_BODY = _metadata_request("t").body


def requests_in(data: bytes) -> list[tuple[Any, Any]]:
    """The requests a client wrote, decoded as the broker decodes them."""
    buffer = FrameBuffer()
    buffer.feed(data)
    return [decode_request(payload) for payload in buffer.frames()]


def api_versions_reply(version: int, correlation_id: int, served: dict[int, range],
                       error_code: int = 0) -> bytes:
    body = {"error_code": error_code, "throttle_time_ms": 0, "api_keys": [
        {"api_key": key, "min_version": versions.start, "max_version": versions.stop - 1}
        for key, versions in served.items()]}
    return frame(encode_response(API_VERSIONS, version, correlation_id, body))


def metadata_reply(version: int, correlation_id: int) -> bytes:
    body = {"throttle_time_ms": 0, "brokers": [], "cluster_id": None, "controller_id": 1,
            "topics": [], "authorized_operations": 0}
    return frame(encode_response(METADATA, version, correlation_id, body))


def ready_protocol(served: dict[int, range]) -> ClientProtocol:
    protocol = ClientProtocol("tests")
    protocol.start()
    (header, _), = requests_in(protocol.data_to_send())
    protocol.receive_data(api_versions_reply(header.api_version, header.correlation_id, served))
    assert protocol.next_response() is NEED_DATA
    assert protocol.ready
    return protocol


def test_the_first_request_is_api_versions_at_our_newest_version() -> None:
    protocol = ClientProtocol("tests")
    assert not protocol.ready
    protocol.start()
    ((header, body),) = requests_in(protocol.data_to_send())
    assert (header.api_key, header.api_version, header.client_id) == (
        18, max(API_VERSIONS.requests), "tests")
    assert body.client_software_name == "minikafka"
    with pytest.raises(RuntimeError, match="not negotiated"):
        protocol.send_request(METADATA, METADATA_BODY)


OURS = {name: max(api_by_name(name).requests) for name in ("Produce", "Fetch", "Metadata")}


@pytest.mark.parametrize(("broker_serves", "chosen"), [
    # an older broker: its newest versions
    ({0: range(3, 8), 1: range(4, 11), 3: range(1, 8)}, {"Produce": 7, "Fetch": 10,
                                                        "Metadata": 7}),
    # a newer broker: ours
    ({0: range(0, 99), 1: range(0, 99), 3: range(0, 99)}, OURS),
    # the oldest this client can use
    ({0: range(3, 4), 1: range(4, 5), 3: range(0, 2)}, {"Produce": 3, "Fetch": 4,
                                                        "Metadata": 1}),
])
def test_each_api_uses_the_newest_version_both_sides_serve(
        broker_serves: dict[int, range], chosen: dict[str, int]) -> None:
    protocol = ready_protocol({18: range(0, 4), **broker_serves})
    assert {name: protocol.version_for(api_by_name(name)) for name in chosen} == chosen
    protocol.send_request(METADATA, METADATA_BODY)
    ((header, _),) = requests_in(protocol.data_to_send())
    assert (header.api_key, header.api_version) == (3, chosen["Metadata"])


def test_versions_too_old_for_record_batches_are_not_used() -> None:
    # Fetch 0-3 return message format v0/v1, which this client does not read
    protocol = ready_protocol({18: range(0, 4), 1: range(0, 4)})
    with pytest.raises(UnsupportedByBroker, match="Fetch versions 0-3; this client needs"):
        protocol.version_for(FETCH)
    with pytest.raises(UnsupportedByBroker, match="serves Produce versions none"):
        protocol.version_for(PRODUCE)


def test_a_broker_without_our_api_versions_version_is_asked_again_lower() -> None:
    protocol = ClientProtocol("tests")
    protocol.start()
    ((first, _),) = requests_in(protocol.data_to_send())
    # Kafka answers an ApiVersions version it does not know in v0, error 35
    protocol.receive_data(api_versions_reply(0, first.correlation_id, {18: range(0, 3)},
                                             error_code=35))
    assert protocol.next_response() is NEED_DATA
    assert not protocol.ready
    ((second, _),) = requests_in(protocol.data_to_send())
    assert (second.api_key, second.api_version) == (18, 2)
    protocol.receive_data(api_versions_reply(2, second.correlation_id,
                                             {18: range(0, 3), 3: range(1, 9)}))
    assert protocol.next_response() is NEED_DATA
    assert protocol.ready and protocol.version_for(METADATA) == 8


def test_a_refused_api_versions_request_raises_its_error() -> None:
    protocol = ClientProtocol("tests")
    protocol.start()
    ((header, _),) = requests_in(protocol.data_to_send())
    protocol.receive_data(api_versions_reply(header.api_version, header.correlation_id, {},
                                             error_code=31))
    with pytest.raises(ClusterAuthorizationFailedError):
        protocol.next_response()


def test_responses_pair_with_requests_however_the_bytes_are_split() -> None:
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    ids = [protocol.send_request(METADATA, METADATA_BODY) for _ in range(3)]
    assert len(set(ids)) == 3 and protocol.outstanding == 3
    requests = requests_in(protocol.data_to_send())
    assert [header.correlation_id for header, _ in requests] == ids
    stream = b"".join(metadata_reply(8, correlation_id) for correlation_id in ids)
    received: list[Response] = []
    for i in range(len(stream)):  # one byte at a time
        protocol.receive_data(stream[i : i + 1])
        while isinstance(event := protocol.next_response(), Response):
            received.append(event)
    assert [(r.correlation_id, r.api.name, r.version) for r in received] == [
        (correlation_id, "Metadata", 8) for correlation_id in ids]
    assert received[0].body.controller_id == 1
    assert protocol.outstanding == 0


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.integers(0, 120), min_size=1, max_size=12), closes=st.booleans())
def test_responses_arrive_whole_or_in_pieces_alike(sizes: list[int], closes: bool) -> None:
    # A frame that arrives alone and whole is kept as it came (not copied through
    # the frame buffer); one followed by more bytes, split, or several at once
    # must come out the same, in order.
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    ids = [protocol.send_request(METADATA, METADATA_BODY) for _ in range(4)]
    protocol.data_to_send()
    replies = [metadata_reply(8, correlation_id) for correlation_id in ids]
    # the first reply whole and alone, the others in pieces of the sizes drawn
    rest = b"".join(replies[1:])
    chunks = [replies[0]] + [rest[at:at + size] for at, size in _spans(len(rest), sizes)]
    received: list[int] = []
    for chunk in chunks:
        protocol.receive_data(chunk)
        while isinstance(event := protocol.next_response(), Response):
            received.append(event.correlation_id)
    assert received == ids
    if closes:
        protocol.receive_data(b"")
        with pytest.raises(ConnectionClosed, match=r"connection$"):  # none left unanswered
            protocol.next_response()


def _spans(total: int, sizes: list[int]) -> list[tuple[int, int]]:
    """(start, size) pieces covering ``total`` bytes, sized by ``sizes`` in turn (0: whole rest)."""
    spans, at, turn = [], 0, 0
    while at < total:
        size = sizes[turn % len(sizes)] or total - at
        spans.append((at, size))
        at += size
        turn += 1
    return spans


def test_a_whole_frame_then_the_close_gives_the_response_first() -> None:
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    first = protocol.send_request(METADATA, METADATA_BODY)
    protocol.send_request(METADATA, METADATA_BODY)
    protocol.receive_data(metadata_reply(8, first))
    protocol.receive_data(b"")
    event = protocol.next_response()
    assert isinstance(event, Response) and event.correlation_id == first
    with pytest.raises(ConnectionClosed, match="1 request"):
        protocol.next_response()


def test_a_whole_frame_over_the_limit_is_refused() -> None:
    protocol = ClientProtocol("tests", max_frame_size=16)
    protocol.start()
    protocol.receive_data(frame(b"\x00" * 17))
    with pytest.raises(RemoteProtocolError, match="exceeds the limit"):
        protocol.next_response()


def test_a_request_may_bring_its_own_reader() -> None:
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    seen: list[tuple[int, bytes]] = []

    def read(version: int, payload: bytes | memoryview) -> str:
        seen.append((version, bytes(payload)))
        return "read"

    correlation_id = protocol.send_request(METADATA, METADATA_BODY, read=read)
    reply = metadata_reply(8, correlation_id)
    protocol.receive_data(reply)
    event = protocol.next_response()
    assert isinstance(event, Response) and event.body == "read"
    assert seen == [(8, reply[4:])]  # the payload: the frame without its size


def test_a_response_out_of_order_is_a_protocol_error() -> None:
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    first = protocol.send_request(METADATA, METADATA_BODY)
    protocol.send_request(METADATA, METADATA_BODY)
    protocol.receive_data(metadata_reply(8, first + 1))
    with pytest.raises(RemoteProtocolError, match=f"correlation id {first + 1}, expected {first}"):
        protocol.next_response()


def test_requests_without_responses_are_not_awaited() -> None:
    protocol = ready_protocol({18: range(0, 4), 0: range(3, 9)})
    body = {"transactional_id": None, "acks": 0, "timeout_ms": 1000,
            "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": b""}]}]}
    protocol.send_request(PRODUCE, body, expect_response=False)
    assert protocol.outstanding == 0
    ((header, decoded),) = requests_in(protocol.data_to_send())
    assert (header.api_key, decoded.acks) == (0, 0)


def test_the_broker_closing_the_connection() -> None:
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    protocol.send_request(METADATA, METADATA_BODY)
    protocol.receive_data(b"")
    with pytest.raises(ConnectionClosed, match="1 request\\(s\\) unanswered"):
        protocol.next_response()
    with pytest.raises(ConnectionClosed):
        protocol.send_request(METADATA, METADATA_BODY)


def test_undecodable_response_is_a_protocol_error() -> None:
    protocol = ready_protocol({18: range(0, 4), 3: range(1, 9)})
    correlation_id = protocol.send_request(METADATA, METADATA_BODY)
    protocol.receive_data(frame(correlation_id.to_bytes(4, "big") + b"\x00\x01"))
    with pytest.raises(RemoteProtocolError, match="Metadata v8 response"):
        protocol.next_response()


PRODUCE = api_by_name("Produce")


@settings(max_examples=60, deadline=None)
@given(
    version=st.sampled_from([v for v in sorted(PRODUCE.requests) if v >= 3]),  # ours use 3+
    name=st.text(min_size=1, max_size=20),
    transactional_id=st.none() | st.text(max_size=10),
    acks=st.sampled_from([-1, 0, 1]),
    timeout_ms=st.integers(0, 2**31 - 1),
    index=st.integers(0, 2**31 - 1),
    batches=st.lists(st.binary(max_size=40) | st.binary(min_size=250, max_size=70_000),
                     min_size=1, max_size=4),
)
def test_a_produce_is_the_codecs_bytes_however_it_is_encoded(
        version: int, name: str, transactional_id: str | None, acks: int, timeout_ms: int,
        index: int, batches: list[bytes]) -> None:
    # one-partition produces are framed from a template after the first:
    # every one must be byte for byte what the codec makes
    protocol = ready_protocol({18: range(0, 4), 0: range(version, version + 1)})
    for records in batches:
        body = {"transactional_id": transactional_id, "acks": acks, "timeout_ms": timeout_ms,
                "topic_data": [{"name": name,
                                "partition_data": [{"index": index, "records": records}]}]}
        correlation_id = protocol.send_request(PRODUCE, body)
        assert protocol.data_to_send() == frame(encode_request(
            PRODUCE, version, correlation_id, body, client_id=protocol.client_id))


def test_produces_of_several_partitions_are_encoded_by_the_codec() -> None:
    protocol = ready_protocol({18: range(0, 4), 0: range(3, 9)})
    body = {"transactional_id": None, "acks": -1, "timeout_ms": 1000,
            "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": b"a"},
                                                            {"index": 1, "records": b"b"}]}]}
    correlation_id = protocol.send_request(PRODUCE, body)
    assert protocol.data_to_send() == frame(encode_request(PRODUCE, 8, correlation_id, body,
                                                           client_id=protocol.client_id))
