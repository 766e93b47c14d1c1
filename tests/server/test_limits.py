"""Every limit enforced with its documented effect, while the broker goes on serving others.

Frame size (MINIKAFKA_MAX_FRAME_BYTES): disconnected from the size prefix.
Batch size (MINIKAFKA_MAX_MESSAGE_BYTES): MESSAGE_TOO_LARGE, connection kept.
Connections (MINIKAFKA_MAX_CONNECTIONS): one more is closed when accepted.
Buffered bytes (MINIKAFKA_MAX_CONNECTION_BUFFER_BYTES): a client that does
not read its responses is not read from, and gets everything once it reads.
Idle time (MINIKAFKA_IDLE_TIMEOUT): silent, half-sent and non-reading
connections are closed; long polls are not idleness.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from minikafka.protocol import errors
from minikafka.protocol.codec import encode_request
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.server.config import Address, Config
from minikafka.server.limits import IDLE_SLACK, IdleGuard, Waiting
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

from .helpers import WireClient, batch, fetch_body, produce_body

VERSIONS_BODY = {"client_software_name": "t", "client_software_version": "1"}

ServerFactory = Callable[..., Any]


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> AsyncIterator[ServerFactory]:
    servers: list[Server] = []

    async def start(**settings: Any) -> Server:
        server = Server(MemoryBackend(), Config(host=Address("127.0.0.1", 0), **settings))
        server.storage.create_topic("t", 1)
        await nursery.start(server.serve)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()


async def produce(client: WireClient, *values: bytes) -> Any:
    response = await client.request(PRODUCE, 8, produce_body("t", batch(*values)))
    return response.responses[0].partition_responses[0]


async def assert_serves_others(server: Server) -> None:
    """A fresh client produces and reads back a message: the broker is serving."""
    client = await WireClient.connect(server.address)
    try:
        answer = await produce(client, b"still serving")
        assert answer.error_code == 0
        fetched = await client.request(FETCH, 11, fetch_body([("t", 0, answer.base_offset)]))
        assert fetched.responses[0].partitions[0].error_code == 0
        assert bytes(fetched.responses[0].partitions[0].records).count(b"still serving") == 1
    finally:
        await client.aclose()


async def test_frame_over_the_limit_disconnects_at_its_prefix(
        start_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server = await start_server(max_frame_bytes=64 * 1024)
    client = await WireClient.connect(server.address)
    with trio.fail_after(5):
        # only the 4-byte prefix is sent: the broker must not wait for the body
        await client.stream.send_all(struct.pack(">i", 64 * 1024 + 1))
        assert await client.closed_by_peer()
    assert "frame of 65537 bytes exceeds the limit of 65536 bytes" in caplog.text
    await assert_serves_others(server)


async def test_frame_at_the_limit_is_served(start_server: ServerFactory) -> None:
    server = await start_server(max_frame_bytes=64 * 1024)
    client = await WireClient.connect(server.address)
    value = b"x" * (60 * 1024)
    payload = encode_request(PRODUCE, 8, 1, produce_body("t", batch(value)))
    assert len(payload) <= 64 * 1024
    assert (await produce(client, value)).error_code == 0


async def test_batch_over_the_limit_gets_message_too_large(start_server: ServerFactory) -> None:
    server = await start_server(max_message_bytes=1000)
    client = await WireClient.connect(server.address)
    refused = await produce(client, b"x" * 1000)
    assert refused.error_code == errors.MessageTooLargeError.code
    assert "above the limit of 1000" in refused.error_message
    # the same connection goes on; nothing of the refused batch was stored
    accepted = await produce(client, b"small")
    assert accepted.error_code == 0
    assert accepted.base_offset == 1
    await assert_serves_others(server)


async def test_connections_over_the_limit_are_closed_when_accepted(
        start_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server = await start_server(max_connections=3)
    clients = [await WireClient.connect(server.address) for _ in range(3)]
    for client in clients:  # each is being served before the next one arrives
        assert (await client.request(API_VERSIONS, 3, VERSIONS_BODY)).error_code == 0
    extra = await WireClient.connect(server.address)
    with trio.fail_after(5):
        await extra.send(API_VERSIONS, 3, VERSIONS_BODY)
        assert await extra.closed_by_peer()
    assert "connection refused: 3 connections are open" in caplog.text
    # the open ones are served as before, and a slot freed is a slot usable
    for client in clients:
        assert (await produce(client, b"from an open connection")).error_code == 0
    await clients.pop().aclose()
    with trio.fail_after(5):
        while len(server.open_connections) > 2:
            await trio.sleep(0.01)
    await assert_serves_others(server)
    assert server.connection_limit.refused_total == 1


async def test_a_client_that_reads_no_responses_is_not_read_from(
        start_server: ServerFactory) -> None:
    window = 16 * 1024
    server = await start_server(max_connection_buffer_bytes=window)
    setup = await WireClient.connect(server.address)
    value = b"v" * 50_000
    assert (await produce(setup, value)).error_code == 0
    # pipelined fetches, each answered with the 50 kB message; none of the answers is read
    request = frame(encode_request(FETCH, 11, 1, fetch_body([("t", 0, 1)])))
    greedy = await WireClient.connect(server.address)
    sent = 0
    with trio.move_on_after(1):
        while sent < 20_000:
            await greedy.stream.send_all(request)
            sent += 1
    assert sent < 20_000, "the broker kept reading requests whose responses were not read"
    [connection] = [c for c in server.open_connections
                    if c.peer.endswith(str(greedy.stream.socket.getsockname()[1]))]
    frame_size = len(request)
    assert connection.buffered_request_bytes <= window + frame_size
    await assert_serves_others(server)
    # once the client reads, it gets every response, in order
    got = 0
    with trio.fail_after(30):
        while got < sent:
            payload = await greedy.next_frame()
            assert struct.unpack_from(">i", payload)[0] == 1
            got += 1
    assert got == sent


async def test_idle_connections_are_closed(start_server: ServerFactory,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = await start_server(idle_timeout_ms=300)
    silent = await WireClient.connect(server.address)
    half_sent = await WireClient.connect(server.address)
    await half_sent.stream.send_all(struct.pack(">i", 100) + b"partial")
    with trio.fail_after(5):
        started = trio.current_time()
        assert await silent.closed_by_peer()
        assert await half_sent.closed_by_peer()
        assert trio.current_time() - started >= 0.25
    assert "idle for 0.3s" in caplog.text
    assert "7 bytes into a frame" not in caplog.text  # the prefix counts as bytes received
    assert "11 bytes into a frame" in caplog.text
    # a client that keeps talking, and one in a long poll longer than the timeout, stay
    busy = await WireClient.connect(server.address)
    for _ in range(4):
        assert (await busy.request(API_VERSIONS, 3, VERSIONS_BODY)).error_code == 0
        await trio.sleep(0.15)
    answer = await busy.request(FETCH, 11, fetch_body([("t", 0, 1)], max_wait_ms=800))
    assert answer.responses[0].partitions[0].error_code == 0
    assert (await busy.request(API_VERSIONS, 3, VERSIONS_BODY)).error_code == 0
    await assert_serves_others(server)


async def test_a_client_that_never_reads_is_closed_after_the_idle_timeout(
        start_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server = await start_server(idle_timeout_ms=500, max_connection_buffer_bytes=4096)
    setup = await WireClient.connect(server.address)
    assert (await produce(setup, b"v" * 500_000)).error_code == 0
    request = frame(encode_request(FETCH, 11, 1, fetch_body([("t", 0, 1)])))
    stuck = await WireClient.connect(server.address)
    with trio.move_on_after(1):
        try:
            while True:
                await stuck.stream.send_all(request)
        except trio.BrokenResourceError:
            pass  # closed by the broker while this was still sending
    with trio.fail_after(10):
        while "stopped reading its responses: 0.5s without" not in caplog.text:
            await trio.sleep(0.05)
        # the broker closed it: the client can read what was sent, then the end
        assert await stuck.closed_by_peer()
    await assert_serves_others(server)


async def test_tls_handshakes_in_progress_count_against_the_connection_limit(
        start_server: ServerFactory, tmp_path: Path) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    server = await start_server(max_connections=2, tls_cert=cert, tls_key=key)
    host, port = "127.0.0.1", server.address.port
    # two clients that connect and never start TLS hold both places
    silent = [await trio.open_tcp_stream(host, port) for _ in range(2)]
    with trio.fail_after(5):
        while server.pending_handshakes < 2:
            await trio.sleep(0.01)
        refused = await trio.open_tcp_stream(host, port)
        assert await refused.receive_some(100) == b""  # closed at once
    for stream in silent:
        await stream.aclose()
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with trio.fail_after(5):
        while server.pending_handshakes:
            await trio.sleep(0.01)
        secure = trio.SSLStream(await trio.open_tcp_stream(host, port), context,
                                server_hostname="127.0.0.1")
        await secure.send_all(frame(encode_request(API_VERSIONS, 3, 9, VERSIONS_BODY)))
        answer = await secure.receive_some(65536)
    assert struct.unpack_from(">ii", answer)[1] == 9  # size, then the correlation id


def _tls_files(tmp_path: Path) -> tuple[Path, Path, Any]:
    """A certificate and key for 127.0.0.1 in ``tmp_path``, and the CA that issued them."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key, ca


async def _small_window_stream(server: Server, ca: Any | None) -> trio.abc.Stream:
    """A connection whose receive buffer holds a few kB (TLS when ``ca`` is given)."""
    import socket
    import ssl

    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: no autotuning
    await sock.connect(("127.0.0.1", server.address.port))
    stream: trio.abc.Stream = trio.SocketStream(sock)
    if ca is not None:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        stream = trio.SSLStream(stream, context, server_hostname="127.0.0.1")
    return stream


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
async def test_a_slow_steady_reader_gets_a_response_longer_to_read_than_the_idle_timeout(
        start_server: ServerFactory, tmp_path: Path, tls: bool) -> None:
    # The timeout bounds each 256 kB of a response, not the whole: a client taking
    # 4 MB at 4 MB/s needs four timeouts for the whole, a quarter of one per 256 kB.
    import socket

    timeout_s, size, rate = 0.25, 4 * 1024 * 1024, 4 * 1024 * 1024
    settings: dict[str, Any] = {"idle_timeout_ms": int(timeout_s * 1000),
                                "max_message_bytes": 2 * size}
    ca = None
    if tls:
        cert, key, ca = _tls_files(tmp_path)
        settings.update(tls_cert=cert, tls_key=key)
    server = await start_server(**settings)
    value = bytes(range(256)) * (size // 256)
    stream = await _small_window_stream(server, ca)
    await stream.send_all(frame(encode_request(PRODUCE, 8, 1, produce_body("t", batch(value)))))
    answer = await stream.receive_some(65536)
    assert struct.unpack_from(">ii", answer) == (len(answer) - 4, 1)
    # small socket buffers on both sides: the response cannot hide in the kernel
    [connection] = server.open_connections
    socket_stream = connection.stream
    while isinstance(socket_stream, trio.SSLStream):
        socket_stream = socket_stream.transport_stream
    assert isinstance(socket_stream, trio.SocketStream)
    socket_stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    first = server.storage.log_start_offset("t", 0)
    request = fetch_body([("t", 0, first)], max_bytes=2 * size, partition_max_bytes=2 * size)
    await stream.send_all(frame(encode_request(FETCH, 11, 2, request)))
    frames = FrameBuffer()
    received = 0
    started = trio.current_time()
    with trio.fail_after(20):
        while (response := frames.next_frame()) is None:
            chunk = await stream.receive_some(65536)
            assert chunk, f"closed after {received} bytes"
            frames.feed(chunk)
            received += len(chunk)
            await trio.sleep_until(started + received / rate)
    assert trio.current_time() - started > 3 * timeout_s  # reading outlasted the idle timeout
    assert value in response
    # and the connection is still served
    await stream.send_all(frame(encode_request(API_VERSIONS, 3, 3, VERSIONS_BODY)))
    with trio.fail_after(5):
        while (versions := frames.next_frame()) is None:
            frames.feed(await stream.receive_some(65536))
    assert struct.unpack_from(">i", versions)[0] == 3


async def test_a_client_pipelining_requests_does_not_hold_up_another(
        start_server: ServerFactory) -> None:
    server = await start_server()
    one = frame(encode_request(PRODUCE, 8, 1, produce_body("t", batch(b"v" * 100), acks=0)))
    count = 3000
    busy = await WireClient.connect(server.address)
    await busy.stream.send_all(one * count)  # acks=0: nothing comes back, nothing to wait for
    other = await WireClient.connect(server.address)
    with trio.fail_after(30):
        assert (await other.request(API_VERSIONS, 3, VERSIONS_BODY)).error_code == 0
        handled = server.storage.high_watermark("t", 0)
        while server.storage.high_watermark("t", 0) < count:
            await trio.sleep(0.01)
    assert handled < count, "the other client waited until every pipelined request was handled"


async def test_a_wait_that_ends_before_the_idle_deadline_leaves_it_and_a_longer_one_lifts_it(
        autojump_clock: object) -> None:
    timeout_s = 10.0
    guard = IdleGuard(timeout_s)
    guard.arm(Waiting.REQUEST)
    armed = guard.scope.deadline
    assert armed >= trio.current_time() + timeout_s
    guard.satisfied()
    # a yield, or a long poll ending well before the deadline: nothing moves
    for at_most_s in (0.0, 1.0, timeout_s - 1):
        guard.pause(at_most_s)
        assert guard.scope.deadline == armed
        assert guard.waiting_for is Waiting.NOTHING
    # a wait that could reach it (with room for a late run loop), or an unbounded one
    guard.pause(timeout_s + timeout_s * IDLE_SLACK)
    assert guard.scope.deadline == float("inf")
    guard.arm(Waiting.REQUEST)
    assert guard.scope.deadline >= trio.current_time() + timeout_s
    guard.pause(None)
    assert guard.scope.deadline == float("inf")
    # time spent since the last arm counts: later, a shorter wait already reaches it
    guard.arm(Waiting.REQUEST)
    await trio.sleep(timeout_s * 0.9)
    guard.pause(timeout_s * 0.5)
    assert guard.scope.deadline == float("inf")
    assert not guard.scope.cancel_called
