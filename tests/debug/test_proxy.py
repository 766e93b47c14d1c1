"""The dump proxy, live: real clients through it to MiniKafka, fake brokers for the odd cases."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

from minikafka.debug.build import encode_frame
from minikafka.debug.dump import Conversation
from minikafka.debug.proxy import Address, Proxy
from minikafka.protocol.framing import FrameBuffer
from minikafka.protocol.registry import api_by_name
from minikafka.server.config import Address as ServerAddress
from minikafka.server.config import Config
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

METADATA = api_by_name("Metadata")
FIND_COORDINATOR = api_by_name("FindCoordinator")
LOCAL = "127.0.0.1"


async def _start_proxy(nursery: trio.Nursery, upstream: Address,
                       as_json: bool = True) -> tuple[Address, io.StringIO]:
    out = io.StringIO()
    listen = await nursery.start(Proxy(upstream, out, as_json=as_json).serve, Address(LOCAL, 0))
    return listen, out


def _printed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _events(out: io.StringIO) -> list[str]:
    return [item["event"] for item in _printed(out) if "event" in item]


@pytest.fixture
async def broker(nursery: trio.Nursery) -> AsyncIterator[Address]:
    server = Server(MemoryBackend(), Config(host=ServerAddress(LOCAL, 0), storage="memory"))
    bound = await nursery.start(server.serve)
    yield Address(bound.host, bound.port)
    server.shutdown()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
async def test_kcat_produces_and_consumes_through_the_proxy(
        nursery: trio.Nursery, broker: Address) -> None:
    listen, out = await _start_proxy(nursery, broker)
    with trio.fail_after(60):
        await trio.run_process(["kcat", "-b", str(listen), "-t", "proxied", "-P", "-K", ":"],
                               stdin=b"a:first\nb:second\n", capture_stdout=True,
                               capture_stderr=True)
        consumed = await trio.run_process(
            ["kcat", "-b", str(listen), "-t", "proxied", "-C", "-e", "-o", "beginning",
             "-f", "%k=%s\\n"], capture_stdout=True, capture_stderr=True)
        # kcat hangs up with its next long poll in flight: the proxy relays
        # the answer owed, then closes that connection too.
        while _events(out).count("closed") < _events(out).count("connected"):
            await trio.sleep(0.05)
    assert consumed.stdout == b"a=first\nb=second\n"

    printed = _printed(out)
    frames = [item for item in printed if "type" in item]
    assert all("error" not in frame for frame in frames)
    by_connection: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        by_connection.setdefault(frame["connection"], []).append(frame)
    apis = set()
    for connection_frames in by_connection.values():
        requests = [f for f in connection_frames if f["type"] == "request"]
        answered = {f["request_frame"] for f in connection_frames if f["type"] == "response"}
        # Every request shows its response, except what was in flight when
        # kcat hung up (the consumer's next long poll).
        last_answered = max(answered)
        for request in requests:
            assert request["frame"] in answered or request["frame"] > last_answered
            assert request["api"] == "Fetch" or request["frame"] in answered
            apis.add(request["api"])
    assert {"ApiVersions", "Metadata", "Produce", "ListOffsets", "Fetch"} <= apis
    produce = next(f for f in frames if f.get("api") == "Produce" and f["type"] == "request")
    batch = produce["body"]["topic_data"][0]["partition_data"][0]["records"][0]
    assert [(r["key"], r["value"]) for r in batch["records"]] == [("a", "first"),
                                                                 ("b", "second")]
    rewrites = [f["note"] for f in frames if "note" in f]
    assert rewrites and all(note == f"proxy rewrote broker addresses: {broker} -> {listen}"
                            for note in rewrites)
    events = _events(out)
    assert events.count("connected") == events.count("closed") == len(by_connection)


# --- fake brokers ------------------------------------------------------------

Responder = Callable[[trio.SocketStream, bytes], Awaitable[None]]


async def _fake_broker(nursery: trio.Nursery, respond: Responder) -> Address:
    """A broker that hands every request frame to ``respond``."""

    async def handle(stream: trio.SocketStream) -> None:
        buffer = FrameBuffer()
        async with stream:
            while data := await stream.receive_some(65536):
                buffer.feed(data)
                for payload in buffer.frames():
                    await respond(stream, payload)

    listeners = await nursery.start(trio.serve_tcp, handle, 0, )
    port = listeners[0].socket.getsockname()[1]
    return Address(LOCAL, port)


def _metadata_response(correlation_id: int, brokers: list[Address]) -> bytes:
    body = {"brokers": [{"node_id": i, "host": b.host, "port": b.port, "rack": None}
                        for i, b in enumerate(brokers)],
            "cluster_id": "fake", "controller_id": 0, "topics": []}
    return encode_frame("response", METADATA, 1, correlation_id, body)


async def _ask(address: Address, frame: bytes, api: Any, version: int) -> dict[str, Any]:
    """Send one request and decode its response, as a client would."""
    stream = await trio.open_tcp_stream(address.host, address.port)
    async with stream:
        await stream.send_all(frame)
        conversation = Conversation()
        conversation.requests(frame)
        while True:
            data = await stream.receive_some(65536)
            assert data, "the proxy closed the connection"
            answers = conversation.responses(data)
            if answers:
                assert answers[0].ok
                body: dict[str, Any] = answers[0].body or {}
                return body


def _metadata_request(correlation_id: int) -> bytes:
    return encode_frame("request", METADATA, 1, correlation_id, {"topics": None})


async def test_every_broker_gets_a_port_on_the_proxy(nursery: trio.Nursery) -> None:
    second_seen = trio.Event()

    async def second(stream: trio.SocketStream, payload: bytes) -> None:
        second_seen.set()
        await stream.send_all(_metadata_response(int.from_bytes(payload[4:8], "big"), []))

    other = await _fake_broker(nursery, second)

    async def first(stream: trio.SocketStream, payload: bytes) -> None:
        correlation_id = int.from_bytes(payload[4:8], "big")
        await stream.send_all(_metadata_response(correlation_id, [bootstrap, other]))

    bootstrap = await _fake_broker(nursery, first)
    listen, out = await _start_proxy(nursery, bootstrap)
    with trio.fail_after(10):
        body = await _ask(listen, _metadata_request(5), METADATA, 1)
        routes = [Address(b["host"], b["port"]) for b in body["brokers"]]
        assert routes[0] == listen  # the bootstrap broker is the proxy's own address
        assert routes[1].host == LOCAL and routes[1].port not in (listen.port, other.port)
        again = await _ask(listen, _metadata_request(6), METADATA, 1)
        assert [b["port"] for b in again["brokers"]] == [r.port for r in routes]  # stable
        await _ask(routes[1], _metadata_request(7), METADATA, 1)  # reaches the second broker
    assert second_seen.is_set()
    notes = [f["note"] for f in _printed(out) if "note" in f]
    assert notes[0] == (f"proxy rewrote broker addresses: {bootstrap} -> {listen}, "
                        f"{other} -> {routes[1]}")
    listening = [item for item in _printed(out) if item.get("event") == "listening"]
    assert [item["upstream"] for item in listening] == [str(bootstrap), str(other)]


async def test_find_coordinator_is_rewritten(nursery: trio.Nursery) -> None:
    async def respond(stream: trio.SocketStream, payload: bytes) -> None:
        correlation_id = int.from_bytes(payload[4:8], "big")
        body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "node_id": 0,
                "host": upstream.host, "port": upstream.port}
        await stream.send_all(encode_frame("response", FIND_COORDINATOR, 1, correlation_id,
                                           body))

    upstream = await _fake_broker(nursery, respond)
    listen, _ = await _start_proxy(nursery, upstream)
    request = encode_frame("request", FIND_COORDINATOR, 1, 3, {"key": "g", "key_type": 0})
    with trio.fail_after(10):
        body = await _ask(listen, request, FIND_COORDINATOR, 1)
    assert (body["host"], body["port"]) == (listen.host, listen.port)


async def test_undecodable_bytes_pass_through_unchanged(nursery: trio.Nursery) -> None:
    garbage = b"\x00\x00\x00\x06\x00\x00\x00\x09zz" + b"\xff\xff\xff\xff not kafka at all"

    async def respond(stream: trio.SocketStream, payload: bytes) -> None:
        await stream.send_all(garbage)

    upstream = await _fake_broker(nursery, respond)
    listen, out = await _start_proxy(nursery, upstream, as_json=False)
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(listen.host, listen.port)
        async with stream:
            await stream.send_all(_metadata_request(9))
            received = b""
            while len(received) < len(garbage):
                received += await stream.receive_some(65536)
    assert received == garbage
    printed = out.getvalue()
    assert "#1 request Metadata v1 correlation_id=9" in printed
    assert "no request with correlation id 9" not in printed
    assert "#1 response Metadata v1 correlation_id=9 (answers #1)" in printed
    assert "!! stopped at byte 4 of the frame" in printed
    assert "invalid frame size -1 (0xffffffff)" in printed


async def test_an_unreachable_broker_is_reported(nursery: trio.Nursery) -> None:
    closed = trio.socket.socket()
    await closed.bind((LOCAL, 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    listen, out = await _start_proxy(nursery, Address(LOCAL, port), as_json=False)
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(listen.host, listen.port)
        async with stream:
            assert await stream.receive_some(100) == b""  # the proxy hangs up
    assert f"cannot connect to {LOCAL}:{port}" in out.getvalue()


async def test_a_half_closed_client_still_gets_what_it_is_owed(nursery: trio.Nursery) -> None:
    async def respond(stream: trio.SocketStream, payload: bytes) -> None:
        await trio.sleep(0.1)  # answer after the client has stopped sending
        await stream.send_all(_metadata_response(int.from_bytes(payload[4:8], "big"), []))

    upstream = await _fake_broker(nursery, respond)
    listen, out = await _start_proxy(nursery, upstream)
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(listen.host, listen.port)
        async with stream:
            await stream.send_all(_metadata_request(4) + _metadata_request(5))
            await stream.send_eof()  # as `nc -N` does at the end of its input
            received = b""
            while data := await stream.receive_some(65536):  # until the proxy hangs up
                received += data
    conversation = Conversation()
    conversation.requests(_metadata_request(4) + _metadata_request(5))
    answers = conversation.responses(received)
    assert [(frame.ok, frame.correlation_id) for frame in answers] == [(True, 4), (True, 5)]
    assert _events(out)[-1] == "closed"
