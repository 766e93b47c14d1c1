"""SIGKILL the broker under a producer, again and again, and check nothing acknowledged is lost.

``run_crash_test`` starts ``python -m minikafka serve`` (file storage) and a
producer thread that sends one numbered message per Produce request
(acks=-1, raw wire requests on a plain socket) and notes the offset each
acknowledged number got. Meanwhile the broker is killed with SIGKILL after a
random delay (sometimes while it is still recovering from the previous
kill), and restarted on the same port and data directory.

A number that failed (connection lost, error code) is never sent again, so
every number appears at most once in the log. After the last restart the
whole partition is read back and checked:

- every acknowledged number is there, at the offset its acknowledgement gave;
- no number appears twice (acknowledged or not);
- numbers increase with offsets (order kept), offsets are contiguous;
- every batch passes its CRC (parse_batch checks it).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path
from typing import Any

import attrs

from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.records import Record, build_batch, parse_records

from ..interop.daemon import Daemon

__all__ = ["CrashReport", "run_crash_test"]

TOPIC = "crash"


@attrs.define
class CrashReport:
    fsync: str
    kills: int = 0
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    lost: list[int] = attrs.field(factory=list)  # acknowledged, not stored
    misplaced: list[int] = attrs.field(factory=list)  # stored at another offset than acknowledged
    duplicated: list[int] = attrs.field(factory=list)
    out_of_order: int = 0
    offset_gaps: int = 0
    corrupt: list[str] = attrs.field(factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.misplaced or self.duplicated or self.out_of_order
                    or self.offset_gaps or self.corrupt) and self.acknowledged > 0

    def summary(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        for name in ("lost", "misplaced", "duplicated"):
            data[name] = len(data[name])
        data["corrupt"] = len(self.corrupt)
        data["ok"] = self.ok
        return data


class _Wire:
    """One blocking connection to the broker: send a request, read its response."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = FrameBuffer(1 << 30)
        self.correlation_id = 0

    def request(self, api: Any, version: int, body: dict[str, Any]) -> Any:
        self.correlation_id += 1
        self.sock.sendall(frame(encode_request(api, version, self.correlation_id, body)))
        while (payload := self.buffer.next_frame()) is None:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the broker closed the connection")
            self.buffer.feed(data)
        correlation_id, response = decode_response(api, version, payload)
        assert correlation_id == self.correlation_id
        return response

    def close(self) -> None:
        self.sock.close()


def _produce_body(number: int) -> dict[str, Any]:
    value = str(number).encode()
    records = build_batch([Record(0, int(time.time() * 1000), None, value)])
    return {"transactional_id": None, "acks": -1, "timeout_ms": 10_000,
            "topic_data": [{"name": TOPIC, "partition_data": [{"index": 0, "records": records}]}]}


def _producer(port: int, stop: threading.Event, acknowledged: dict[int, int],
              counter: list[int]) -> None:
    number = 0
    wire: _Wire | None = None
    while not stop.is_set():
        try:
            if wire is None:
                wire = _Wire(port, timeout=5)
            number += 1
            counter[0] = number
            response = wire.request(PRODUCE, 8, _produce_body(number))
            answer = response.responses[0].partition_responses[0]
            if answer.error_code == 0:
                acknowledged[number] = answer.base_offset
        except (OSError, ConnectionError, EOFError):
            if wire is not None:
                wire.close()
                wire = None
            stop.wait(0.02)  # the broker is down: try again shortly, with the next number
    if wire is not None:
        wire.close()


def _create_topic(port: int) -> None:
    wire = _Wire(port, timeout=10)
    try:
        wire.request(METADATA, 8, {"topics": [{"name": TOPIC}], "allow_auto_topic_creation": True,
                                   "include_cluster_authorized_operations": False,
                                   "include_topic_authorized_operations": False})
    finally:
        wire.close()


def read_partition(port: int) -> list[tuple[int, bytes | None]]:
    """(offset, value) of every record of the partition, CRC-checked, from the log start."""
    wire = _Wire(port, timeout=30)
    out: list[tuple[int, bytes | None]] = []
    offset = 1
    try:
        while True:
            body = {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 24,
                    "isolation_level": 0, "topics": [{"topic": TOPIC, "partitions": [
                        {"partition": 0, "fetch_offset": offset, "log_start_offset": -1,
                         "partition_max_bytes": 1 << 24}]}]}
            answer = wire.request(FETCH, 5, body).responses[0].partitions[0]
            if answer.error_code:
                raise AssertionError(f"fetch at {offset} failed with error {answer.error_code}")
            batches = parse_records(answer.records, allow_partial=True)
            if not batches:
                return out
            for batch in batches:
                out += [(record.offset, record.value) for record in batch.records
                        if record.offset >= offset]
            offset = batches[-1].next_offset
    finally:
        wire.close()


def run_crash_test(workdir: Path, *, kills: int, fsync: str | None, seed: int,
                   max_delay_s: float = 1.0, log: Any = None) -> CrashReport:
    """Kill the broker ``kills`` times under a producer; the report says what survived."""
    rng = random.Random(seed)
    variables = {"MINIKAFKA_LOG_LEVEL": "warning"}
    if fsync is not None:
        variables["MINIKAFKA_FSYNC"] = fsync
    report = CrashReport(fsync or "default")
    daemon = Daemon(workdir / "data", **variables).start()
    started = time.monotonic()
    _create_topic(daemon.port)
    acknowledged: dict[int, int] = {}
    counter = [0]
    stop = threading.Event()
    producer = threading.Thread(target=_producer, args=(daemon.port, stop, acknowledged, counter),
                                daemon=True)
    producer.start()
    try:
        for kill in range(kills):
            # mostly mid-traffic; one in five soon after the restart, during recovery
            delay = rng.uniform(0, 0.05) if rng.random() < 0.2 else rng.uniform(0.05, max_delay_s)
            time.sleep(delay)
            daemon.kill()
            report.kills += 1
            daemon.start()
            if log is not None and (kill + 1) % 10 == 0:
                log(f"{kill + 1} kills, {len(acknowledged)} acknowledged")
        time.sleep(0.2)
    finally:
        stop.set()
        producer.join(30)
    try:
        stored = read_partition(daemon.port)
    finally:
        status = daemon.stop()
    report.seconds = round(time.monotonic() - started, 1)
    report.sent = counter[0]
    report.acknowledged = len(acknowledged)
    report.stored = len(stored)
    if status != 0:
        report.corrupt.append(f"broker exit status {status}")
    _check(report, acknowledged, stored)
    return report


def _check(report: CrashReport, acknowledged: dict[int, int],
           stored: list[tuple[int, bytes | None]]) -> None:
    at: dict[int, int] = {}
    previous_number = 0
    previous_offset: int | None = None
    for offset, value in stored:
        try:
            number = int(value or b"")
        except ValueError:
            report.corrupt.append(f"offset {offset}: value {value!r} is not a number")
            continue
        if number in at:
            report.duplicated.append(number)
        at[number] = offset
        if number <= previous_number:
            report.out_of_order += 1
        previous_number = number
        if previous_offset is not None and offset != previous_offset + 1:
            report.offset_gaps += 1
        previous_offset = offset
    for number, offset in acknowledged.items():
        if number not in at:
            report.lost.append(number)
        elif at[number] != offset:
            report.misplaced.append(number)
