"""The broker on real sockets (127.0.0.1, port 0): ordering, broken clients, long polls, shutdown."""

from __future__ import annotations

import logging
import statistics
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from minikafka.protocol import errors
from minikafka.protocol.codec import encode_request
from minikafka.protocol.framing import frame
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.server.config import Address, Config
from minikafka.server.retention import check_interval, run_retention
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

from .conftest import FakeClock
from .helpers import WireClient, base_offsets, batch, fetch_body, produce_body


class CountingBackend(MemoryBackend):
    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
async def server(nursery: trio.Nursery) -> AsyncIterator[Server]:
    server = Server(CountingBackend(), Config(host=Address("127.0.0.1", 0),
                                              max_frame_bytes=1024 * 1024))
    await nursery.start(server.serve)
    yield server
    server.shutdown()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[WireClient]:
    client = await WireClient.connect(server.address)
    yield client
    await client.aclose()


async def produce(client: WireClient, topic: str, *values: bytes, acks: int = -1) -> Any:
    response = await client.request(PRODUCE, 8, produce_body(topic, batch(*values), acks=acks))
    return response.responses[0].partition_responses[0]


async def fetch(client: WireClient, topic: str, offset: int, **kwargs: Any) -> Any:
    response = await client.request(FETCH, 11, fetch_body([(topic, 0, offset)], **kwargs))
    return response.responses[0].partitions[0]


async def test_serve_reports_the_bound_address(server: Server) -> None:
    assert server.address.host == "127.0.0.1"
    assert server.address.port not in (None, 0)


async def test_produce_and_fetch_over_tcp(server: Server, client: WireClient) -> None:
    versions = await client.request(API_VERSIONS, 3, {"client_software_name": "t",
                                                      "client_software_version": "1"})
    assert versions.error_code == 0
    metadata = await client.request(METADATA, 8, {
        "topics": [{"name": "t"}], "allow_auto_topic_creation": True,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False})
    [node] = metadata.brokers
    assert (node.host, node.port) == ("127.0.0.1", server.address.port)
    assert (await produce(client, "t", b"a", b"b")).base_offset == 1
    answer = await fetch(client, "t", 1)
    assert base_offsets(answer.records) == [1]
    assert answer.high_watermark == 3


async def test_responses_keep_request_order_behind_a_long_poll(
    server: Server, client: WireClient
) -> None:
    server.storage.create_topic("t")
    producer = await WireClient.connect(server.address)
    fetch_id = await client.send(FETCH, 11, fetch_body([("t", 0, 1)], max_wait_ms=5000))
    metadata_id = await client.send(METADATA, 1, {"topics": []})
    await trio.sleep(0.2)
    await produce(producer, "t", b"wake")
    first_id, first = await client.receive()
    second_id, _ = await client.receive()
    assert (first_id, second_id) == (fetch_id, metadata_id)
    assert base_offsets(first.responses[0].partitions[0].records) == [1]
    await producer.aclose()


async def test_acks_0_is_not_answered_and_the_next_response_follows(
    server: Server, client: WireClient
) -> None:
    server.storage.create_topic("t")
    await client.send(PRODUCE, 8, produce_body("t", batch(b"x"), acks=0), expect_response=False)
    answer = await produce(client, "t", b"y")
    assert answer.base_offset == 2  # the acks=0 batch was stored first


def truncated_produce() -> bytes:
    payload = encode_request(PRODUCE, 8, 1, produce_body("t", batch(b"lost")))
    return frame(payload[:-10])


@pytest.mark.parametrize(
    "garbage, reason",
    [
        (b"\xde\xad\xbe\xef" * 64, "frame of -559038737 bytes exceeds the limit"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "exceeds the limit"),
        (struct.pack(">i", 2**31 - 1) + b"\x00" * 100, "frame of 2147483647 bytes"),
        (truncated_produce(), "Produce v8 request"),
        (struct.pack(">i", 6) + b"\x00\x00\x00\x00\x00\x00", "shorter than a request header"),
        (struct.pack(">ihhi", 8, 999, 0, 1), "unknown api key 999"),
    ],
)
async def test_a_broken_client_is_disconnected_while_others_carry_on(
    server: Server, client: WireClient, caplog: pytest.LogCaptureFixture,
    garbage: bytes, reason: str
) -> None:
    server.storage.create_topic("t")
    assert (await produce(client, "t", b"before")).base_offset == 1
    broken = await WireClient.connect(server.address)
    await broken.stream.send_all(garbage)
    with trio.fail_after(5):
        assert await broken.closed_by_peer()
    await broken.aclose()
    assert (await produce(client, "t", b"after")).base_offset == 2
    assert base_offsets((await fetch(client, "t", 1)).records) == [1, 2]
    lines = [record.getMessage() for record in caplog.records
             if record.name == "minikafka.server.connection" and record.levelno >= logging.WARNING]
    assert len(lines) == 1
    assert reason in lines[0]
    assert lines[0].startswith("127.0.0.1:")


async def test_a_client_vanishing_mid_frame_is_logged(
    server: Server, client: WireClient, caplog: pytest.LogCaptureFixture
) -> None:
    broken = await WireClient.connect(server.address)
    await broken.stream.send_all(struct.pack(">i", 500) + b"\x00" * 100)
    await broken.aclose()
    await client.request(METADATA, 1, {"topics": []})  # the broker is still serving
    with trio.fail_after(5):
        while not any("middle of a frame" in record.getMessage() for record in caplog.records):
            await trio.sleep(0.01)
    [line] = [r.getMessage() for r in caplog.records if "middle of a frame" in r.getMessage()]
    assert "(104 of 504 bytes received)" in line


async def test_long_poll_wakes_promptly(server: Server, client: WireClient) -> None:
    """A waiting consumer gets a produced message at once, not at max_wait_ms."""
    server.storage.create_topic("t")
    producer = await WireClient.connect(server.address)
    delays = []
    for offset in range(1, 31):
        await client.send(FETCH, 11, fetch_body([("t", 0, offset)], max_wait_ms=10_000))
        await trio.sleep(0.02)  # let the fetch reach its wait
        start = trio.current_time()
        await producer.send(PRODUCE, 8, produce_body("t", batch(b"x")))
        _, response = await client.receive()
        delays.append(trio.current_time() - start)
        assert base_offsets(response.responses[0].partitions[0].records) == [offset]
        await producer.receive()
    median = statistics.median(delays)
    print(f"\nlong-poll wake-up: median {median * 1000:.2f} ms, max {max(delays) * 1000:.2f} ms"
          f" over {len(delays)} produces (produce sent -> fetch response received)")
    assert median < 1.0  # far below max_wait_ms; the figure itself goes in the report
    await producer.aclose()


async def test_many_clients_at_once(server: Server) -> None:
    server.storage.create_topic("t")
    offsets: list[int] = []

    async def one_client(index: int) -> None:
        client = await WireClient.connect(server.address)
        for _ in range(10):
            offsets.append((await produce(client, "t", b"%d" % index)).base_offset)
        await client.aclose()

    async with trio.open_nursery() as nursery:
        for index in range(20):
            nursery.start_soon(one_client, index)
    assert sorted(offsets) == list(range(1, 201))


async def test_graceful_shutdown_answers_in_flight_requests_and_flushes(
    nursery: trio.Nursery,
) -> None:
    storage = CountingBackend()
    storage.create_topic("t")
    server = Server(storage, Config(host=Address("127.0.0.1", 0)))
    await nursery.start(server.serve)
    waiting = await WireClient.connect(server.address)
    idle = await WireClient.connect(server.address)
    await waiting.send(FETCH, 11, fetch_body([("t", 0, 1)], max_wait_ms=60_000))
    await trio.sleep(0.1)
    started = trio.current_time()
    server.shutdown()
    with trio.fail_after(5):
        _, response = await waiting.receive()
        assert await idle.closed_by_peer()
        assert await waiting.closed_by_peer()
    assert response.responses[0].partitions[0].error_code == 0
    assert trio.current_time() - started < 2
    while storage.flushes == 0:  # serve() flushes once the connections are done
        await trio.sleep(0.01)
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", server.address.port or 0)


async def test_a_port_in_use_fails_before_reporting(server: Server) -> None:
    second = Server(MemoryBackend(), Config(host=server.address))
    with pytest.raises(OSError, match="in use"):
        await second.serve()


async def test_retention_runs_in_the_background(clock: FakeClock) -> None:
    # Real time drives the task (its passes run in a worker thread, which an
    # autojump clock would race); the storage's clock is moved by hand.
    from minikafka.server.broker import Broker

    broker = Broker(MemoryBackend(clock), Config(retention_ms=100), clock)
    pause = check_interval(100) * 3
    broker.storage.create_topic("t")
    broker.storage.append("t", 0, [batch(b"old")])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_retention, broker)
        clock.now += 60
        broker.storage.append("t", 0, [batch(b"newer")])
        await trio.sleep(pause)
        assert broker.storage.log_start_offset("t", 0) == 1  # nothing is 100 ms old yet
        clock.now += 60
        await trio.sleep(pause)
        assert broker.storage.log_start_offset("t", 0) == 2
        clock.now += 60
        await trio.sleep(pause)
        assert broker.storage.log_start_offset("t", 0) == 3
        assert broker.storage.high_watermark("t", 0) == 3
        nursery.cancel_scope.cancel()


def test_retention_interval_is_a_fraction_of_the_retention() -> None:
    assert check_interval(1000) == pytest.approx(0.1)
    assert check_interval(1) == pytest.approx(0.01)
    assert check_interval(7 * 86_400_000) == 60.0


async def test_unknown_topic_fetch_over_tcp(server: Server, client: WireClient) -> None:
    answer = await fetch(client, "nope", 1, max_wait_ms=5000)
    assert answer.error_code == errors.UnknownTopicOrPartitionError.code
