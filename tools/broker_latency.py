"""The broker's own latency on loopback, measured with raw sockets (no client library).

Two workloads, each run against one or more running brokers *in alternation*,
so that every broker sees the same machine noise (on a shared, noisy machine,
running brokers one after another compares the noise, not the brokers):

``produce``
    One Produce v8 request at a time (acks=-1, one batch of one 100-byte
    value, prebuilt), each waiting for its response: the broker's share of
    P5 in issue 8. Prints p50/p90/p99 of the round trip.
``wake``
    A Fetch v11 parked at the log end (max_wait 5000 ms, min_bytes 1) on one
    connection, one message produced on another 1 ms later: the time from the
    produce's send to the fetch response's arrival (P6's broker share), and to
    the produce's acknowledgement. Prints p50/p90/p99.

    python tools/broker_latency.py produce 127.0.0.1:9092 --count 10000
    python tools/broker_latency.py wake 127.0.0.1:9092,127.0.0.1:9093 --count 2000

Topics ``latency-produce`` and ``latency-wake`` (one partition) are created
through Metadata (the broker must allow automatic creation) or must exist.
"""

from __future__ import annotations

import argparse
import socket
import struct
import time
from typing import Any

from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.records import RecordBatchBuilder

_SIZE = struct.Struct(">i")


class _Wire:
    """One blocking connection sending prebuilt frames and reading whole ones."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host.strip("[]"), int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def receive(self) -> bytes:
        data = b""
        while len(data) < 4 or len(data) < 4 + _SIZE.unpack_from(data)[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data[4:]


def _frame(payload: bytes) -> bytes:
    return _SIZE.pack(len(payload)) + payload


def _produce_frame(topic: str) -> bytes:
    builder = RecordBatchBuilder()
    builder.append_values([b"v" * 100], int(time.time() * 1000))
    return _frame(encode_request(PRODUCE, 8, 1, {
        "transactional_id": None, "acks": -1, "timeout_ms": 30_000,
        "topic_data": [{"name": topic, "partition_data": [{"index": 0,
                                                             "records": builder.build()}]}],
    }))


def _fetch_frame(topic: str, offset: int) -> bytes:
    return _frame(encode_request(FETCH, 11, 2, {
        "replica_id": -1, "max_wait_ms": 5000, "min_bytes": 1, "max_bytes": 1 << 20,
        "isolation_level": 0, "session_id": 0, "session_epoch": -1,
        "topics": [{"topic": topic, "partitions": [{
            "partition": 0, "current_leader_epoch": -1, "fetch_offset": offset,
            "log_start_offset": -1, "partition_max_bytes": 1 << 20}]}],
        "forgotten_topics_data": [], "rack_id": "",
    }))


def _produced_offset(wire: _Wire, frame: bytes) -> int:
    """Send one produce; the offset it was stored at (error if refused)."""
    wire.send(frame)
    _, body = decode_response(PRODUCE, 8, wire.receive())
    answer = body["responses"][0]["partition_responses"][0]
    if answer["error_code"]:
        raise RuntimeError(f"produce refused with error code {answer['error_code']}")
    return int(answer["base_offset"])


def _prepare(address: str, topic: str) -> tuple[_Wire, bytes, int]:
    """A connection, the produce frame, and the next offset of ``topic`` (created if needed)."""
    wire = _Wire(address)
    wire.send(_frame(encode_request(METADATA, 4, 0, {
        "topics": [{"name": topic}], "allow_auto_topic_creation": True})))
    wire.receive()
    frame = _produce_frame(topic)
    for _ in range(50):  # a topic just created may take a moment to accept produces
        try:
            return wire, frame, _produced_offset(wire, frame) + 1
        except RuntimeError:
            time.sleep(0.05)
    return wire, frame, _produced_offset(wire, frame) + 1


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50, p90, p99 = (ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e6
                     for q in (0.5, 0.9, 0.99))
    return f"p50 {p50:.0f} p90 {p90:.0f} p99 {p99:.0f} us"


def measure_produce(addresses: list[str], count: int) -> list[list[float]]:
    """Round-trip times of one-at-a-time produces, per broker."""
    runs = [_prepare(address, "latency-produce") for address in addresses]
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(count):
        for (wire, frame, _), samples in zip(runs, times, strict=True):
            start = time.perf_counter()
            wire.send(frame)
            wire.receive()
            samples.append(time.perf_counter() - start)
    return times


def measure_wake(addresses: list[str], count: int) -> tuple[list[list[float]], list[list[float]]]:
    """(produce send -> parked fetch answered, produce send -> produce acknowledged), per broker."""
    states: list[Any] = []
    for address in addresses:
        producer, frame, offset = _prepare(address, "latency-wake")
        states.append([_Wire(address), producer, frame, offset])
    wakes: list[list[float]] = [[] for _ in states]
    acks: list[list[float]] = [[] for _ in states]
    for round_ in range(count):
        for state, wake, ack in zip(states, wakes, acks, strict=True):
            consumer, producer, frame, offset = state
            consumer.send(_fetch_frame("latency-wake", offset))
            time.sleep(0.001)  # the fetch is parked by now
            start = time.perf_counter()
            producer.send(frame)
            fetched = consumer.receive()
            woken = time.perf_counter()
            producer.receive()
            acked = time.perf_counter()
            if round_ == 0:
                _, body = decode_response(FETCH, 11, fetched)
                partition = body["responses"][0]["partitions"][0]
                if partition["error_code"] or not partition["records"]:
                    raise RuntimeError(f"the woken fetch returned no records: {partition}")
            wake.append(woken - start)
            ack.append(acked - start)
            state[3] = offset + 1
    return wakes, acks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["produce", "wake"])
    parser.add_argument("addresses", help="host:port of each broker, comma-separated")
    parser.add_argument("--count", type=int, default=5000, help="requests (or wake-ups) per broker")
    args = parser.parse_args()
    addresses = args.addresses.split(",")
    if args.workload == "produce":
        for address, samples in zip(addresses, measure_produce(addresses, args.count), strict=True):
            print(f"{address} produce round trip {_percentiles(samples)}")
    else:
        wakes, acks = measure_wake(addresses, args.count)
        for address, wake, ack in zip(addresses, wakes, acks, strict=True):
            print(f"{address} wake {_percentiles(wake)}; produce ack {_percentiles(ack)}")


if __name__ == "__main__":
    main()
