"""Soak test: 50 producers and 50 consumers on one broker for minutes, every message counted.

    python tools/soak.py --minutes 10
    python tools/soak.py --minutes 1 --producers 10 --consumers 10

Starts ``python -m minikafka serve`` (file storage in a temporary directory,
default fsync) unless ``--broker HOST:PORT --pid PID`` names one, creates a
topic with one partition per consumer, and runs, each on its own connection:

- producers: producer ``i`` sends batches of numbered messages
  (``"<producer>:<sequence>"``) with acks=-1 round-robin over the
  partitions, at ``--rate`` messages per second; a batch counts as sent
  once acknowledged (a failed batch is reported, never retried, so a retry
  can never be mistaken for a duplicate);
- consumers: consumer ``j`` long-polls partition ``j`` from its start and
  checks, for every producer, that its sequence numbers on that partition
  only increase (order kept per partition) and never repeat.

At the end producers stop, consumers read up to each partition's end, and
the counts must match exactly: every acknowledged message consumed once
(none lost, none duplicated), nothing consumed that was not acknowledged.
The broker's RSS (from /proc) is sampled every 10 s; after the first minute
of warm-up it must stay within ``--rss-growth-mb`` of its level then
(flat). Prints a JSON report; exit status 1 if anything fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minikafka.protocol.api import Api
from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.records import Record, build_batch, parse_records
from tests.interop.daemon import Daemon

TOPIC = "soak"
BATCH = 20  # messages per produce request


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Wire:
    """One connection: requests sent one at a time, responses decoded."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = FrameBuffer(1 << 30)
        self.correlation_id = 0

    @classmethod
    async def connect(cls, host: str, port: int) -> Wire:
        return cls(await trio.open_tcp_stream(host, port))

    async def request(self, api: Api, version: int, body: dict[str, Any]) -> Any:
        self.correlation_id += 1
        await self.stream.send_all(frame(encode_request(api, version, self.correlation_id, body)))
        while (payload := self.buffer.next_frame()) is None:
            data = await self.stream.receive_some(1 << 20)
            if not data:
                raise EOFError("the broker closed the connection")
            self.buffer.feed(data)
        correlation_id, response = decode_response(api, version, payload)
        assert correlation_id == self.correlation_id
        return response


@attrs.define
class Counts:
    acknowledged: dict[int, int] = attrs.field(factory=lambda: defaultdict(int))  # by partition
    failed_batches: int = 0
    produce_errors: dict[int, int] = attrs.field(factory=lambda: defaultdict(int))
    consumed: dict[int, int] = attrs.field(factory=lambda: defaultdict(int))
    duplicates: int = 0
    out_of_order: int = 0
    unexpected: int = 0
    consumer_errors: list[str] = attrs.field(factory=list)
    produce_latency_ms: list[float] = attrs.field(factory=list)


async def producer(index: int, host: str, port: int, partitions: int, rate: float,
                   stop: trio.Event, counts: Counts) -> None:
    wire = await Wire.connect(host, port)
    sequence = 0
    partition = index % partitions
    interval = BATCH / rate
    next_send = trio.current_time()
    while not stop.is_set():
        await trio.sleep_until(next_send)
        next_send += interval
        now_ms = int(time.time() * 1000)
        records = [Record(n, now_ms, None, f"{index}:{sequence + n}".encode()) for n in range(BATCH)]
        body = {"transactional_id": None, "acks": -1, "timeout_ms": 30_000, "topic_data": [
            {"name": TOPIC, "partition_data": [{"index": partition, "records": build_batch(records)}]}]}
        started = time.perf_counter()
        response = await wire.request(PRODUCE, 8, body)
        counts.produce_latency_ms.append((time.perf_counter() - started) * 1000)
        answer = response.responses[0].partition_responses[0]
        if answer.error_code == 0:
            counts.acknowledged[partition] += BATCH
        else:
            counts.failed_batches += 1
            counts.produce_errors[answer.error_code] += 1
        sequence += BATCH
        partition = (partition + 1) % partitions
    await wire.stream.aclose()


async def consumer(partition: int, host: str, port: int, done: trio.Event, counts: Counts,
                   end_offsets: dict[int, int]) -> None:
    wire = await Wire.connect(host, port)
    offset = 1
    last_sequence: dict[str, int] = {}
    while True:
        if done.is_set() and offset >= end_offsets.get(partition, 0):
            break
        body = {"replica_id": -1, "max_wait_ms": 500, "min_bytes": 1, "max_bytes": 1 << 22,
                "isolation_level": 0, "session_id": 0, "session_epoch": -1,
                "topics": [{"topic": TOPIC, "partitions": [
                    {"partition": partition, "current_leader_epoch": -1, "fetch_offset": offset,
                     "log_start_offset": -1, "partition_max_bytes": 1 << 22}]}],
                "forgotten_topics_data": [], "rack_id": ""}
        answer = (await wire.request(FETCH, 11, body)).responses[0].partitions[0]
        if answer.error_code:
            counts.consumer_errors.append(f"partition {partition}: error {answer.error_code}")
            await trio.sleep(0.5)
            continue
        if done.is_set():
            end_offsets.setdefault(partition, answer.high_watermark)
        for batch in parse_records(answer.records, allow_partial=True):
            for record in batch.records:
                if record.offset < offset:
                    continue
                producer_name, _, number = (record.value or b"").decode().partition(":")
                if not number.isdigit():
                    counts.unexpected += 1
                    continue
                sequence = int(number)
                previous = last_sequence.get(producer_name, -1)
                if sequence == previous:
                    counts.duplicates += 1
                elif sequence < previous:
                    counts.out_of_order += 1
                last_sequence[producer_name] = sequence
                counts.consumed[partition] += 1
                offset = record.offset + 1
    await wire.stream.aclose()


async def run_soak(host: str, port: int, pid: int | None, args: argparse.Namespace,
                   report: dict[str, Any]) -> None:
    partitions = args.consumers
    setup = await Wire.connect(host, port)
    await setup.request(METADATA, 8, {"topics": [{"name": TOPIC}], "allow_auto_topic_creation": True,
                                      "include_cluster_authorized_operations": False,
                                      "include_topic_authorized_operations": False})
    metadata = await setup.request(METADATA, 8, {
        "topics": [{"name": TOPIC}], "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": False, "include_topic_authorized_operations": False})
    found = len(metadata.topics[0].partitions)
    if found != partitions:
        raise SystemExit(f"topic {TOPIC} has {found} partitions; start the broker with "
                         f"MINIKAFKA_DEFAULT_PARTITIONS={partitions}")
    counts = Counts()
    stop = trio.Event()
    done = trio.Event()
    end_offsets: dict[int, int] = {}
    samples: list[tuple[float, int]] = []
    started = trio.current_time()

    async def sample_memory() -> None:
        while True:
            if pid is not None:
                samples.append((trio.current_time() - started, rss_kib(pid)))
            if args.progress:
                total = sum(counts.acknowledged.values())
                print(f"  {trio.current_time() - started:6.0f}s  acknowledged {total}  consumed "
                      f"{sum(counts.consumed.values())}  RSS "
                      f"{samples[-1][1] // 1024 if samples else -1} MiB", file=sys.stderr, flush=True)
            await trio.sleep(10)

    async with trio.open_nursery() as outer:
        outer.start_soon(sample_memory)
        async with trio.open_nursery() as consumers:
            for partition in range(partitions):
                consumers.start_soon(consumer, partition, host, port, done, counts, end_offsets)
            async with trio.open_nursery() as producers:
                for index in range(args.producers):
                    producers.start_soon(producer, index, host, port, partitions,
                                         args.rate, stop, counts)
                await trio.sleep(args.minutes * 60)
                stop.set()
            produced_at = trio.current_time()
            # the end of each partition, now that nothing more is produced (on a new
            # connection: the first one has been idle longer than MINIKAFKA_IDLE_TIMEOUT)
            await setup.stream.aclose()
            setup = await Wire.connect(host, port)
            for partition in range(partitions):
                answer = await setup.request(FETCH, 11, {
                    "replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1,
                    "isolation_level": 0, "session_id": 0, "session_epoch": -1,
                    "topics": [{"topic": TOPIC, "partitions": [{
                        "partition": partition, "current_leader_epoch": -1, "fetch_offset": 1,
                        "log_start_offset": -1, "partition_max_bytes": 1}]}],
                    "forgotten_topics_data": [], "rack_id": ""})
                end_offsets[partition] = answer.responses[0].partitions[0].high_watermark
            done.set()
        report["drain_seconds"] = round(trio.current_time() - produced_at, 1)
        if pid is not None:
            samples.append((trio.current_time() - started, rss_kib(pid)))
        outer.cancel_scope.cancel()
    acknowledged = sum(counts.acknowledged.values())
    consumed = sum(counts.consumed.values())
    latencies = sorted(counts.produce_latency_ms)
    report.update({
        "producers": args.producers, "consumers": args.consumers, "minutes": args.minutes,
        "acknowledged": acknowledged, "consumed": consumed,
        "messages_per_second": round(acknowledged / (args.minutes * 60)),
        "failed_batches": counts.failed_batches, "produce_errors": dict(counts.produce_errors),
        "lost": sum(max(0, counts.acknowledged[p] - counts.consumed[p]) for p in range(partitions)),
        "extra": sum(max(0, counts.consumed[p] - counts.acknowledged[p]) for p in range(partitions)),
        "duplicates": counts.duplicates, "out_of_order": counts.out_of_order,
        "unexpected_values": counts.unexpected, "consumer_errors": counts.consumer_errors[:10],
        "produce_latency_ms": {
            "p50": round(latencies[len(latencies) // 2], 1) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None},
    })
    if samples:
        warm = [kib for at, kib in samples if at >= min(60, args.minutes * 30)] or [samples[-1][1]]
        report["rss_mib"] = {"first": samples[0][1] // 1024, "after_warmup": warm[0] // 1024,
                             "peak": max(kib for _, kib in samples) // 1024,
                             "last": samples[-1][1] // 1024, "samples": len(samples)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--producers", type=int, default=50)
    parser.add_argument("--consumers", type=int, default=50, help="also the partition count")
    parser.add_argument("--rate", type=float, default=100, help="messages/s per producer")
    parser.add_argument("--broker", help="HOST:PORT of a running broker (default: start one)")
    parser.add_argument("--pid", type=int, help="process id of --broker, for its memory")
    parser.add_argument("--rss-growth-mb", type=int, default=50)
    parser.add_argument("--fsync", help="MINIKAFKA_FSYNC for the broker started here")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    daemon: Daemon | None = None
    workdir = tempfile.TemporaryDirectory(prefix="soak-")
    try:
        if args.broker:
            host, _, port_text = args.broker.rpartition(":")
            port, pid = int(port_text), args.pid
        else:
            variables = {"MINIKAFKA_LOG_LEVEL": "warning",
                         "MINIKAFKA_DEFAULT_PARTITIONS": str(args.consumers)}
            if args.fsync:
                variables["MINIKAFKA_FSYNC"] = args.fsync
            daemon = Daemon(Path(workdir.name) / "data", **variables).start()
            assert daemon.process is not None
            host, port, pid = "127.0.0.1", daemon.port, daemon.process.pid
        trio.run(run_soak, host, port, pid, args, report)
    finally:
        if daemon is not None:
            report["broker_exit_status"] = daemon.stop() if daemon.process is not None else None
            log = daemon.log()
            report["broker_warnings"] = log.count(" WARNING ") + log.count(" ERROR ")
        workdir.cleanup()
    failures = [name for name in ("lost", "extra", "duplicates", "out_of_order", "unexpected_values",
                                  "failed_batches") if report.get(name)]
    rss = report.get("rss_mib")
    if rss and rss["last"] - rss["after_warmup"] > args.rss_growth_mb:
        failures.append("rss_growth")
    if not report.get("acknowledged"):
        failures.append("nothing_acknowledged")
    if report.get("broker_exit_status") not in (0, None):
        failures.append("broker_exit_status")
    report["failures"] = failures
    report["pid"] = os.getpid()
    print(json.dumps(report, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
