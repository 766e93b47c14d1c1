"""Micro-benchmark of the protocol hot paths, in microseconds per operation.

Measures (a) decoding a Produce v8 request that carries one 1 MiB batch
through ``codec.decode_request``, with the compiled request structure (what
the broker uses) and with the plain construct one; (b) reading that batch's
fixed header (``BatchHeader.parse``) and validating it with its CRC-32C
(``check_batch``); (c) decoding a 1,000-record batch fully with
``parse_batch``, per codec, next to kafka-python's and aiokafka's readers of
the same bytes when they are installed, and building it; (d) the small
messages of one-at-a-time producing and consuming: ``decode_request`` of a
Produce v8 request carrying one batch of one 100-byte record and
``encode_response`` of its answer, the same two for a one-partition Fetch v11
(and the client's side, ``encode_request`` / ``decode_response``), and a whole
``dispatch.respond`` round for that Produce against an in-memory broker.

Each figure is the best of several ``timeit`` runs, taken in interleaved
rounds. Run it on a quiet machine: ``python tools/bench_protocol.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import timeit
from collections.abc import Callable, Iterator
from typing import Any

from minikafka.protocol.api import Api
from minikafka.protocol.batch_header import BatchHeader, check_batch
from minikafka.protocol.codec import (
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from minikafka.protocol.compression import Codec, CodecUnavailable
from minikafka.protocol.records import Record, build_batch, parse_batch
from minikafka.protocol.registry import api_by_name
from minikafka.server.broker import Broker
from minikafka.server.config import Address, Config
from minikafka.server.dispatch import respond
from minikafka.storage.memory import MemoryBackend

MIB = 1024 * 1024
PRODUCE_VERSION = 8
BASE_TIMESTAMP = 1_700_000_000_000


Context = Callable[[], contextlib.AbstractContextManager[object]]


def best_microseconds(
    operations: list[tuple[str, Callable[[], object], Context]], repeat: int
) -> list[tuple[str, float]]:
    """Each operation's best time per call over ``repeat`` rounds.

    Every round times every operation once (each run long enough, ~0.2 s, to
    time reliably), so that a burst of load from elsewhere on the machine
    costs each operation a round rather than skewing one against another.
    """
    timers = []
    for label, operation, context in operations:
        timer = timeit.Timer(operation)
        with context():
            number, _ = timer.autorange()
        timers.append((label, timer, number, context))
    best = {label: float("inf") for label, *_ in timers}
    for round_number in range(repeat):
        for label, timer, number, context in timers:
            with context():
                best[label] = min(best[label], timer.timeit(number) / number * 1e6)
        print(f"  round {round_number + 1}/{repeat} done", file=sys.stderr, flush=True)
    return [(label, best[label]) for label, *_ in timers]


def one_mib_batch() -> bytes:
    """A 1 MiB batch of 1 KiB records, as a producer with batch.size=1MiB would send."""
    value = bytes(range(256)) * 4
    records = [Record(i, BASE_TIMESTAMP + i, b"key-%06d" % i, value) for i in range(1000)]
    # Pad the last record's value so that the batch is exactly 1 MiB; the
    # second try absorbs the longer length varints of the padded record.
    padding = MIB - len(build_batch(records))
    for _ in range(2):
        records[-1] = Record(999, BASE_TIMESTAMP + 999, b"key-000999", value + b"\0" * padding)
        batch = build_batch(records)
        if len(batch) == MIB:
            return batch
        padding -= len(batch) - MIB
    raise AssertionError(f"could not size the batch to 1 MiB ({len(batch)} bytes)")


def thousand_records() -> list[Record]:
    """1,000 typical small records: 10-byte key, 100-byte value, one header."""
    return [
        Record(i, BASE_TIMESTAMP + i, b"key-%06d" % i, (b"value-%06d " % i) * 8 + b"....",
               (("trace", b"%08d" % i),))
        for i in range(1000)
    ]


def produce_request(batch: bytes) -> bytes:
    body = {
        "transactional_id": None,
        "acks": -1,
        "timeout_ms": 30_000,
        "topic_data": [{"name": "bench", "partition_data": [{"index": 0, "records": batch}]}],
    }
    return encode_request(api_by_name("Produce"), PRODUCE_VERSION, 1, body, "bench")


@contextlib.contextmanager
def plain_request_structure(api: Api, version: int) -> Iterator[None]:
    """Make ``decode_request`` use the uncompiled structure, by seeding Api's compile cache."""
    cache: dict[tuple[str, int], Any] = api._compiled
    key = ("request", version)
    saved = cache.pop(key, None)
    cache[key] = api.requests[version]
    try:
        yield
    finally:
        del cache[key]
        if saved is not None:
            cache[key] = saved


def client_readers() -> dict[str, Callable[[bytes], object]]:
    """Kafka's Python clients' batch readers, for comparison, when installed."""
    readers: dict[str, Callable[[bytes], object]] = {}
    try:
        from kafka.record.default_records import (  # type: ignore[import-untyped]
            DefaultRecordBatch as KafkaPythonBatch,
        )
    except ImportError:
        pass
    else:
        readers["kafka-python"] = lambda data: list(KafkaPythonBatch(data))
    try:
        from aiokafka.record.default_records import (  # type: ignore[import-untyped]
            DefaultRecordBatch as AiokafkaBatch,
        )
    except ImportError:
        pass
    else:
        readers["aiokafka (C extension)"] = lambda data: list(AiokafkaBatch(data))
    return readers


SMALL_TOPIC = "bench"


def small_batch() -> bytes:
    """One record with a 100-byte value: what a producer sending one message at a time sends."""
    return build_batch([Record(0, BASE_TIMESTAMP, None, b"v" * 100)])


def produce_response_body() -> dict[str, Any]:
    """The broker's answer to a one-partition Produce v8."""
    return {
        "responses": [{
            "name": SMALL_TOPIC,
            "partition_responses": [{
                "index": 0, "error_code": 0, "base_offset": 41, "log_append_time_ms": -1,
                "log_start_offset": 0, "record_errors": [], "error_message": None,
            }],
        }],
        "throttle_time_ms": 0,
    }


def fetch_request_body() -> dict[str, Any]:
    """A consumer's Fetch v11 for one partition."""
    return {
        "replica_id": -1, "max_wait_ms": 500, "min_bytes": 1, "max_bytes": 52_428_800,
        "isolation_level": 0, "session_id": 0, "session_epoch": -1,
        "topics": [{
            "topic": SMALL_TOPIC,
            "partitions": [{
                "partition": 0, "current_leader_epoch": -1, "fetch_offset": 41,
                "log_start_offset": -1, "partition_max_bytes": 1_048_576,
            }],
        }],
        "forgotten_topics_data": [], "rack_id": "",
    }


def fetch_response_body(records: bytes) -> dict[str, Any]:
    """The broker's Fetch v11 answer for one partition, carrying ``records``."""
    return {
        "throttle_time_ms": 0, "error_code": 0, "session_id": 0,
        "responses": [{
            "topic": SMALL_TOPIC,
            "partitions": [{
                "partition_index": 0, "error_code": 0, "high_watermark": 42,
                "last_stable_offset": 42, "log_start_offset": 0, "aborted_transactions": None,
                "preferred_read_replica": -1, "records": records,
            }],
        }],
    }


def respond_now(payload: bytes, broker: Broker) -> bytes | None:
    """``dispatch.respond`` run to completion without an event loop.

    An in-memory broker answers a Produce without waiting for anything; a
    round that does suspend (it would need trio) is an error, not a figure.
    """
    round_trip = respond(payload, broker, local_address=Address("127.0.0.1", 9092), peer="bench")
    try:
        round_trip.send(None)
    except StopIteration as done:
        answer: bytes | None = done.value
        return answer
    round_trip.close()
    raise RuntimeError("dispatch.respond suspended; the bench needs a broker that never waits")


def small_message_operations() -> list[tuple[str, Callable[[], object]]]:
    """Section (d): one-at-a-time produce and consume messages through the codec and dispatcher."""
    produce = api_by_name("Produce")
    fetch = api_by_name("Fetch")
    batch = small_batch()
    produce_body = {
        "transactional_id": None, "acks": 1, "timeout_ms": 30_000,
        "topic_data": [{"name": SMALL_TOPIC, "partition_data": [{"index": 0, "records": batch}]}],
    }
    produce_request = encode_request(produce, PRODUCE_VERSION, 1, produce_body, "bench")
    produce_answer = produce_response_body()
    fetch_body = fetch_request_body()
    fetch_request = encode_request(fetch, 11, 2, fetch_body, "bench")
    fetch_answer = fetch_response_body(batch)
    fetch_response = encode_response(fetch, 11, 2, fetch_answer)
    _, decoded = decode_request(produce_request)
    assert bytes(decoded.topic_data[0].partition_data[0].records) == batch

    broker = Broker(MemoryBackend(), Config())
    broker.storage.create_topic(SMALL_TOPIC)
    answer = respond_now(produce_request, broker)
    assert answer is not None
    _, produced = decode_response(produce, PRODUCE_VERSION, answer)
    assert produced.responses[0].partition_responses[0].error_code == 0

    label = f"one {len(batch)}-byte batch"
    return [
        (f"(d) decode_request Produce v{PRODUCE_VERSION}, {label}",
         lambda: decode_request(produce_request)),
        (f"(d) encode_request Produce v{PRODUCE_VERSION}, {label}",
         lambda: encode_request(produce, PRODUCE_VERSION, 1, produce_body, "bench")),
        (f"(d) encode_response Produce v{PRODUCE_VERSION}, one partition",
         lambda: encode_response(produce, PRODUCE_VERSION, 1, produce_answer)),
        ("(d) decode_request Fetch v11, one partition", lambda: decode_request(fetch_request)),
        ("(d) encode_request Fetch v11, one partition",
         lambda: encode_request(fetch, 11, 2, fetch_body, "bench")),
        (f"(d) encode_response Fetch v11, one partition, {label}",
         lambda: encode_response(fetch, 11, 2, fetch_answer)),
        (f"(d) decode_response Fetch v11, one partition, {label}",
         lambda: decode_response(fetch, 11, fetch_response)),
        (f"(d) dispatch.respond Produce v{PRODUCE_VERSION} acks=1, {label}, memory broker",
         lambda: respond_now(produce_request, broker)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timeit runs per figure (best kept)")
    parser.add_argument("--sections", default="abcd",
                        help="which sections to run, e.g. 'd' for the small messages only")
    args = parser.parse_args(argv)
    repeat: int = args.repeat
    sections: str = args.sections

    operations: list[tuple[str, Callable[[], object], Context]] = []

    def measure(label: str, operation: Callable[[], object],
                context: Context = contextlib.nullcontext) -> None:
        operations.append((label, operation, context))

    produce = api_by_name("Produce")
    plain = functools.partial(plain_request_structure, produce, PRODUCE_VERSION)
    batch = one_mib_batch() if "a" in sections or "b" in sections else b""
    if "a" in sections:
        request = produce_request(batch)
        _, body = decode_request(request)
        assert bytes(body.topic_data[0].partition_data[0].records) == batch
        measure(f"(a) decode_request Produce v{PRODUCE_VERSION}, one 1 MiB batch, compiled",
                lambda: decode_request(request))
        with plain():
            assert produce.request(PRODUCE_VERSION) is produce.requests[PRODUCE_VERSION]
            _, body = decode_request(request)
            assert bytes(body.topic_data[0].partition_data[0].records) == batch
        measure(f"(a) decode_request Produce v{PRODUCE_VERSION}, one 1 MiB batch, plain",
                lambda: decode_request(request), plain)

    if "b" in sections:
        assert check_batch(batch).records_count == 1000
        measure("(b) BatchHeader.parse, 1 MiB batch", lambda: BatchHeader.parse(batch))
        measure("(b) check_batch (with CRC-32C), 1 MiB batch", lambda: check_batch(batch))

    if "c" in sections:
        records = thousand_records()
        readers = client_readers()
        for codec in Codec:
            try:
                data = build_batch(records, compression=codec)
            except CodecUnavailable as exc:
                print(f"  skipped {codec.name.lower()}: {exc}", file=sys.stderr)
                continue
            assert list(parse_batch(data).records) == records
            name = codec.name.lower()
            measure(f"(c) parse_batch, 1,000 records, {name} ({len(data):,} bytes)",
                    functools.partial(parse_batch, data))
            if codec is Codec.NONE:
                measure("(c) build_batch, 1,000 records, none", lambda: build_batch(records))
                for reader_name, read in readers.items():
                    measure(f"(c)   for comparison: {reader_name}, 1,000 records, none",
                            functools.partial(read, data))

    if "d" in sections:
        for label, operation in small_message_operations():
            measure(label, operation)
        small = produce_request(small_batch())
        measure(f"(d) decode_request Produce v{PRODUCE_VERSION}, one small batch, plain",
                lambda: decode_request(small), plain)

    rows = best_microseconds(operations, repeat)
    width = max(len(label) for label, _ in rows)
    print(f"{'operation':<{width}}  {'µs/op':>12}")
    print(f"{'-' * width}  {'-' * 12}")
    for label, microseconds in rows:
        print(f"{label:<{width}}  {microseconds:>12,.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
