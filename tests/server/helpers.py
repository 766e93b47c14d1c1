"""Shared pieces of the server tests: record batches, requests through the dispatcher, a wire client."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import trio

from minikafka.protocol.api import Api
from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.records import Record, build_batch
from minikafka.server.broker import Broker
from minikafka.server.config import Address
from minikafka.server.dispatch import respond

LOCAL = Address("127.0.0.1", 9092)


def batch(*values: bytes | None, timestamp: int = 1_700_000_000_000, producer_id: int = -1,
          producer_epoch: int = -1, base_sequence: int = -1,
          timestamps: Iterable[int] | None = None, **kwargs: Any) -> bytes:
    """One record batch holding ``values`` (offsets from 0, as a producer sends them)."""
    stamps = list(timestamps) if timestamps is not None else [timestamp] * len(values)
    records = [Record(offset, stamp, None, value)
               for offset, (value, stamp) in enumerate(zip(values, stamps, strict=True))]
    return build_batch(records, producer_id=producer_id, producer_epoch=producer_epoch,
                       base_sequence=base_sequence, **kwargs)


def produce_body(topic: str, records: bytes | None, *, partition: int = 0, acks: int = -1,
                 transactional_id: str | None = None) -> dict[str, Any]:
    return {
        "transactional_id": transactional_id,
        "acks": acks,
        "timeout_ms": 5000,
        "topic_data": [
            {"name": topic, "partition_data": [{"index": partition, "records": records}]}
        ],
    }


def fetch_body(partitions: Iterable[tuple[str, int, int]], *, max_wait_ms: int = 0,
               min_bytes: int = 1, max_bytes: int = 50 * 1024 * 1024,
               partition_max_bytes: int = 1024 * 1024) -> dict[str, Any]:
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, partition, offset in partitions:
        by_topic.setdefault(topic, []).append({
            "partition": partition, "current_leader_epoch": -1, "fetch_offset": offset,
            "log_start_offset": -1, "partition_max_bytes": partition_max_bytes,
        })
    return {
        "replica_id": -1, "max_wait_ms": max_wait_ms, "min_bytes": min_bytes,
        "max_bytes": max_bytes, "isolation_level": 0, "session_id": 0, "session_epoch": -1,
        "topics": [{"topic": topic, "partitions": parts} for topic, parts in by_topic.items()],
        "forgotten_topics_data": [], "rack_id": "",
    }


async def call(broker: Broker, api: Api, version: int, body: dict[str, Any], *,
               local_address: Address = LOCAL, correlation_id: int = 7) -> Any:
    """Send one request through the dispatcher (no network); the decoded response or None."""
    payload = encode_request(api, version, correlation_id, body)
    response = await respond(payload, broker, local_address=local_address, peer="test")
    if response is None:
        return None
    got_id, decoded = decode_response(api, version, response)
    assert got_id == correlation_id
    return decoded


def base_offsets(records: bytes | memoryview) -> list[int]:
    """The base offset of every batch in a records field."""
    from minikafka.protocol.batch_header import iter_batches

    return [header.base_offset for _, header in iter_batches(records)]


class WireClient:
    """A minimal Kafka client over a real socket: frames requests, reads responses in order."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = FrameBuffer()
        self.correlation_id = 0
        self.pending: list[tuple[int, Api, int]] = []

    @classmethod
    async def connect(cls, address: Address) -> WireClient:
        return cls(await trio.open_tcp_stream(address.host or "127.0.0.1", address.port or 0))

    async def send(self, api: Api, version: int, body: dict[str, Any], *,
                   expect_response: bool = True) -> int:
        self.correlation_id += 1
        await self.stream.send_all(frame(encode_request(api, version, self.correlation_id, body)))
        if expect_response:
            self.pending.append((self.correlation_id, api, version))
        return self.correlation_id

    async def receive(self) -> tuple[int, Any]:
        correlation_id, api, version = self.pending.pop(0)
        payload = await self.next_frame()
        got_id, body = decode_response(api, version, payload)
        assert got_id == correlation_id, (got_id, correlation_id)
        return got_id, body

    async def request(self, api: Api, version: int, body: dict[str, Any]) -> Any:
        await self.send(api, version, body)
        return (await self.receive())[1]

    async def next_frame(self) -> bytes:
        while (payload := self.buffer.next_frame()) is None:
            data = await self.stream.receive_some(1 << 20)
            if not data:
                raise EOFError("the broker closed the connection")
            self.buffer.feed(data)
        return payload

    async def closed_by_peer(self) -> bool:
        """True when the broker closes the connection (reads until EOF or reset)."""
        try:
            while await self.stream.receive_some(65536):
                pass
        except trio.BrokenResourceError:
            pass
        return True

    async def aclose(self) -> None:
        await self.stream.aclose()


def raw_header(api_key: int, version: int, correlation_id: int) -> bytes:
    """A request header v1 for any key and version (the codec refuses undeclared ones)."""
    client_id = b"test"
    return struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
