"""How responses leave the broker: large fetches sent from the storage's buffers, exactly as encoded.

A Fetch response carrying at least ``BY_REFERENCE`` bytes of records is
encoded as a list of buffers (the records as the storage returned them) and
sent with ``writev``; the bytes on the wire must be what the codec encodes,
however many buffers there are and however the socket splits them.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
import trio

from minikafka.protocol.codec import decode_response, encode_request, encode_response
from minikafka.protocol.framing import frame
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.server.broker import Broker
from minikafka.server.config import Address, Config
from minikafka.server.dispatch import BY_REFERENCE, start_response
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

from .helpers import LOCAL, WireClient, base_offsets, batch, call, fetch_body, produce_body

PARTITIONS = 40


def stored(broker: Broker) -> list[bytes]:
    """A topic of PARTITIONS partitions, each holding two batches of BY_REFERENCE bytes."""
    broker.storage.create_topic("big", PARTITIONS)
    values = []
    for partition in range(PARTITIONS):
        for copy in range(2):
            value = bytes([partition, copy]) * (BY_REFERENCE // 2)
            broker.storage.append_nowait("big", partition, [batch(value)])
            values.append(value)
    return values


def fetch_all(version: int = 11) -> bytes:
    first = 1  # MiniKafka numbers messages from 1
    body = fetch_body([("big", partition, first) for partition in range(PARTITIONS)],
                      max_bytes=64 << 20, partition_max_bytes=4 << 20)
    return encode_request(FETCH, version, 5, body)


@pytest.mark.parametrize("version", [4, 11])
async def test_a_large_fetch_is_gathered_and_encodes_as_the_codec_does(
        broker: Broker, version: int) -> None:
    values = stored(broker)
    parts = start_response(fetch_all(version), broker, local_address=LOCAL)
    assert isinstance(parts, list)  # the records are not copied into one buffer
    assert sum(len(part) >= BY_REFERENCE for part in parts) == PARTITIONS
    payload = b"".join(parts)
    correlation_id, body = decode_response(FETCH, version, payload)
    assert correlation_id == 5
    assert encode_response(FETCH, version, 5, body) == payload
    records = [bytes(partition.records) for partition in body.responses[0].partitions]
    assert all(value in records[index // 2] for index, value in enumerate(values))


async def test_a_small_fetch_is_one_buffer(broker: Broker) -> None:
    broker.storage.create_topic("t")
    await call(broker, PRODUCE, 8, produce_body("t", batch(b"small")))
    payload = encode_request(FETCH, 11, 6, fetch_body([("t", 0, 1)]))
    assert isinstance(start_response(payload, broker, local_address=LOCAL), bytes)


@pytest.fixture
async def server(nursery: trio.Nursery) -> AsyncIterator[Server]:
    server = Server(MemoryBackend(), Config(host=Address("127.0.0.1", 0)))
    await nursery.start(server.serve)
    yield server
    server.shutdown()


async def test_a_gathered_fetch_arrives_whole_through_a_small_socket_buffer(
        server: Server) -> None:
    # The socket takes a few kB per write: the broker sends the buffers' rest as it drains.
    values = stored(server.broker)
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", server.address.port))
    client = WireClient(trio.SocketStream(sock))
    with trio.fail_after(5):
        while not server.open_connections:
            await trio.sleep(0.01)
    [connection] = server.open_connections
    assert isinstance(connection.stream, trio.SocketStream)
    connection.stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    await client.stream.send_all(frame(fetch_all()))
    with trio.fail_after(30):
        payload = await client.next_frame()
    _, body = decode_response(FETCH, 11, payload)
    assert encode_response(FETCH, 11, 5, body) == payload
    for partition, answer in enumerate(body.responses[0].partitions):
        assert base_offsets(answer.records) == [1, 2]
        assert values[2 * partition] in bytes(answer.records)


async def test_more_buffers_than_one_writev_takes(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each partition adds two buffers; with 600 partitions sent by reference that passes
    # IOV_MAX (1024), which writev refuses: the connection passes at most that many per call.
    from minikafka.server import dispatch

    monkeypatch.setattr(dispatch, "BY_REFERENCE", 16)
    partitions = 600
    server.broker.storage.create_topic("many", partitions)
    for partition in range(partitions):
        server.broker.storage.append_nowait("many", partition, [batch(b"p%d" % partition)])
    client = await WireClient.connect(server.address)
    body = fetch_body([("many", partition, 1) for partition in range(partitions)])
    with trio.fail_after(10):
        response = await client.request(FETCH, 11, body)
    for partition, answer in enumerate(response.responses[0].partitions):
        assert b"p%d" % partition in bytes(answer.records)
