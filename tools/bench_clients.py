"""Client throughput: send_many, one-at-a-time sends, and reading back, for both transports.

    python tools/bench_clients.py                  # against a fresh MiniKafka (memory storage)
    python tools/bench_clients.py --tansu          # and against Tansu too
    python tools/bench_clients.py --broker HOST:PORT

For each transport (blocking, trio) it measures, on fresh topics:

- ``send_many`` of ``--many`` (200,000) messages of ``--size`` (100) bytes, one call;
- ``--singles`` (20,000) sends one at a time, each awaiting its number;
- reading the ``send_many`` messages back with ``poll`` until all have arrived.

The broker runs in its own process (``python -m minikafka serve`` with
memory storage, unless ``--broker`` names one), so the figures are the
client's and the broker's work on separate cores. Prints a table, or JSON
with ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trio

# run from a checkout: the repository root holds the tests package used below
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import minikafka
import minikafka.trio
from tests.client.brokers import running_minikafka, running_tansu

_READ_TIMEOUT_S = 120.0


def _topic(address: str, kind: str) -> str:
    """A new topic with one partition (the clients read partition 0; Tansu would
    otherwise auto-create several, and the producer would spread batches over them)."""
    from kafka.admin import KafkaAdminClient, NewTopic  # type: ignore[import-untyped]

    name = f"bench-{kind}-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        admin.close()
    return name


def _check_reading(received: int, expected: int, started: float) -> None:
    if time.perf_counter() - started > _READ_TIMEOUT_S:
        raise SystemExit(f"read only {received} of {expected} messages in {_READ_TIMEOUT_S:g} s")


def _values(count: int, size: int) -> list[bytes]:
    # distinct values, so nothing compresses or repeats by accident
    return [(b"%010d" % i).ljust(size, b".") for i in range(count)]


def bench_blocking(address: str, many: int, singles: int, size: int) -> dict[str, float]:
    values = _values(many, size)
    single_value = b"s" * size
    many_topic, single_topic = _topic(address, "many"), _topic(address, "single")
    results: dict[str, float] = {}
    with minikafka.Producer(address) as producer:
        producer.send(_topic(address, "warmup"), b"connect")  # connection and version negotiation
        started = time.perf_counter()
        numbers = producer.send_many(many_topic, values)
        results["send_many_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(singles):
            producer.send(single_topic, single_value)
        results["singles_s"] = time.perf_counter() - started
    with minikafka.Consumer(address, many_topic, read_from=numbers[0]) as consumer:
        consumer.poll(timeout=0)  # connect before the clock starts
        consumer.subscribe(many_topic, numbers[0])
        received = 0
        started = time.perf_counter()
        while received < many:
            received += len(consumer.poll(timeout=5))
            _check_reading(received, many, started)
        results["read_s"] = time.perf_counter() - started
    return results


def bench_trio(address: str, many: int, singles: int, size: int) -> dict[str, float]:
    values = _values(many, size)
    single_value = b"s" * size
    many_topic, single_topic = _topic(address, "many"), _topic(address, "single")
    results: dict[str, float] = {}

    async def main() -> None:
        async with minikafka.trio.Producer(address) as producer:
            await producer.send(_topic(address, "warmup"), b"connect")
            started = time.perf_counter()
            numbers = await producer.send_many(many_topic, values)
            results["send_many_s"] = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(singles):
                await producer.send(single_topic, single_value)
            results["singles_s"] = time.perf_counter() - started
        async with minikafka.trio.Consumer(address, many_topic, read_from=numbers[0]) as consumer:
            await consumer.poll(timeout=0)
            await consumer.subscribe(many_topic, numbers[0])
            received = 0
            started = time.perf_counter()
            while received < many:
                received += len(await consumer.poll(timeout=5))
                _check_reading(received, many, started)
            results["read_s"] = time.perf_counter() - started

    trio.run(main)
    return results


BENCHES: dict[str, Callable[[str, int, int, int], dict[str, float]]] = {
    "blocking": bench_blocking,
    "trio": bench_trio,
}


@contextlib.contextmanager
def _broker(name: str, address: str | None) -> Iterator[str]:
    if address is not None:
        yield address
    elif name == "tansu":
        with running_tansu() as started:
            yield started
    else:
        with tempfile.TemporaryDirectory() as workdir, running_minikafka(Path(workdir)) as started:
            yield started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", metavar="HOST:PORT", help="an already running broker")
    parser.add_argument("--tansu", action="store_true", help="also run against Tansu")
    parser.add_argument("--many", type=int, default=200_000)
    parser.add_argument("--singles", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--transport", choices=sorted(BENCHES), action="append")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    brokers = ["given" if args.broker else "minikafka"] + (["tansu"] if args.tansu else [])
    rows: list[dict[str, Any]] = []
    for broker in brokers:
        with _broker(broker, args.broker) as address:
            for transport in args.transport or sorted(BENCHES):
                timings = BENCHES[transport](address, args.many, args.singles, args.size)
                rows.append({
                    "broker": broker, "transport": transport, **timings,
                    "send_many_per_s": args.many / timings["send_many_s"],
                    "singles_per_s": args.singles / timings["singles_s"],
                    "read_per_s": args.many / timings["read_s"],
                })
    if args.json:
        print(json.dumps({"messages": args.many, "singles": args.singles, "size": args.size,
                          "cpus": os.cpu_count(), "load": os.getloadavg()[0], "rows": rows},
                         indent=2))
        return 0
    print(f"{args.many:,} x {args.size} B send_many; {args.singles:,} single sends; "
          f"reading {args.many:,} back (load average {os.getloadavg()[0]:.1f})")
    print(f"{'broker':10} {'transport':9} {'send_many':>20} {'one at a time':>22} {'read':>20}")
    for row in rows:
        print(f"{row['broker']:10} {row['transport']:9} "
              f"{row['send_many_per_s']:>11,.0f} msg/s {row['send_many_s']:5.2f}s "
              f"{row['singles_per_s']:>11,.0f} msg/s {row['singles_s']:6.2f}s "
              f"{row['read_per_s']:>11,.0f} msg/s {row['read_s']:5.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
