"""Network fuzzer: hostile bytes at a running broker, then proof it still works.

    python tools/netfuzz.py --inputs 200000 --decoder-inputs 1000000

Starts a broker (``python -m minikafka serve``, file storage in a temporary
directory) unless ``--broker HOST:PORT --pid PID`` names one, then sends
``--inputs`` fuzz inputs over many concurrent connections: requests real
clients sent (tests/data/debug) and one encoded request per declared
(API, version), mutated (tests/fuzz/mutate.py), or plain noise, sometimes
behind a wrong size prefix. Each connection pipelines a few inputs and a
final ApiVersions probe, half-closes, and reads until the broker closes it.

Checked, and reported as JSON at the end (exit status 1 if any fails):

- crashes: the broker process exited, or logged an unexpected error
  (a handler raising something it should have turned into an error code);
- hangs: a connection the broker had not closed 30 s after the client
  half-closed it, unless the broker was busy with a long wait the fuzzed
  request asked for, and probes on a fresh connection that were not
  answered within 5 s;
- memory: the broker's resident set (from /proc) sampled throughout; its
  peak may not exceed the start by more than ``--rss-growth-mb``;
- afterwards, kafka-python still produces (acks=all) and consumes 200
  numbered messages, in order, exactly once.

``--decoder-inputs`` also runs that many mutated frames through
``decode_request`` in this process (only RemoteProtocolError may come out;
any single decode over one second is a hang).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minikafka.protocol.codec import decode_request, decode_response, encode_request
from minikafka.protocol.errors import RemoteProtocolError
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.messages.api_versions import API_VERSIONS
from tests.fuzz.corpus import all_seeds
from tests.fuzz.mutate import mutate, random_bytes
from tests.interop.daemon import Daemon

PROBE_ID = 0x7E57
CLOSE_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 5.0
# APIs whose requests may legitimately keep a connection busy for as long as they ask.
_WAITING_APIS = {1, 11, 14}  # Fetch, JoinGroup, SyncGroup


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@attrs.define
class Stats:
    inputs: int = 0
    connections: int = 0
    responses: int = 0
    closed_by_broker: int = 0
    probes_answered: int = 0
    long_waits: int = 0
    hangs: int = 0
    probe_failures: int = 0
    connect_errors: int = 0
    rss_samples_kib: list[int] = attrs.field(factory=list)
    hang_examples: list[str] = attrs.field(factory=list)


def fuzz_input(rng: random.Random, seeds: tuple[bytes, ...]) -> bytes:
    """One input as it goes on the wire: usually a framed mutated request, sometimes noise."""
    roll = rng.random()
    if roll < 0.75:
        return frame(mutate(rng.choice(seeds), rng, seeds))
    if roll < 0.85:
        return frame(random_bytes(rng))
    if roll < 0.95:  # a size prefix that lies about the frame that follows
        payload = mutate(rng.choice(seeds), rng, seeds)
        size = rng.choice((len(payload) + rng.randint(1, 100), max(0, len(payload) - rng.randint(1, 8)),
                           0, 2**31 - 1, -1, rng.getrandbits(31)))
        return struct.pack(">i", size) + payload
    return random_bytes(rng, 64)  # unframed noise


def probe_frame(correlation_id: int = PROBE_ID) -> bytes:
    return frame(encode_request(API_VERSIONS, 0, correlation_id, {}))


async def run_connection(host: str, port: int, inputs: list[bytes], stats: Stats) -> None:
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError:
        stats.connect_errors += 1
        return
    stats.connections += 1
    buffer = FrameBuffer(1 << 30)
    waited_api = any(len(data) >= 6 and struct.unpack_from(">h", data, 4)[0] in _WAITING_APIS
                     for data in inputs)
    try:
        async with stream:
            try:
                await stream.send_all(b"".join(inputs) + probe_frame())
                await stream.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                stats.closed_by_broker += 1
                return
            with trio.move_on_after(CLOSE_TIMEOUT_S) as timeout:
                while True:
                    try:
                        data = await stream.receive_some(1 << 16)
                    except trio.BrokenResourceError:
                        data = b""
                    if not data:
                        stats.closed_by_broker += 1
                        break
                    buffer.feed(data)
                    for payload in buffer.frames():
                        stats.responses += 1
                        if payload[:4] == struct.pack(">i", PROBE_ID):
                            stats.probes_answered += 1
            if timeout.cancelled_caught:
                if waited_api:
                    stats.long_waits += 1
                else:
                    stats.hangs += 1
                    if len(stats.hang_examples) < 5:
                        stats.hang_examples.append(b"".join(inputs)[:200].hex())
    except OSError:
        stats.closed_by_broker += 1


async def probe(host: str, port: int) -> bool:
    """An ApiVersions request on a fresh connection is answered within PROBE_TIMEOUT_S."""
    with trio.move_on_after(PROBE_TIMEOUT_S):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(probe_frame(1))
            buffer = FrameBuffer()
            while (payload := buffer.next_frame()) is None:
                data = await stream.receive_some(65536)
                if not data:
                    return False
                buffer.feed(data)
            correlation_id, body = decode_response(API_VERSIONS, 0, payload)
            return correlation_id == 1 and body.error_code == 0
    return False


async def fuzz_network(host: str, port: int, pid: int | None, total: int, concurrency: int,
                       seed: int, stats: Stats, progress: bool) -> None:
    seeds = all_seeds()
    rng = random.Random(seed)
    limiter = trio.CapacityLimiter(concurrency)
    started = time.monotonic()

    async def one(inputs: list[bytes]) -> None:
        async with limiter:
            await run_connection(host, port, inputs, stats)

    async def watch() -> None:
        while True:
            if pid is not None:
                stats.rss_samples_kib.append(rss_kib(pid))
            if not await probe(host, port):
                stats.probe_failures += 1
            if progress:
                rate = stats.inputs / max(time.monotonic() - started, 1e-9)
                rss = stats.rss_samples_kib[-1] // 1024 if stats.rss_samples_kib else -1
                print(f"  {stats.inputs} inputs, {stats.connections} connections, "
                      f"{rate:.0f}/s, broker RSS {rss} MiB", file=sys.stderr, flush=True)
            await trio.sleep(5)

    async with trio.open_nursery() as outer:
        outer.start_soon(watch)
        async with trio.open_nursery() as nursery:
            while stats.inputs < total:
                count = min(rng.choice((1, 1, 1, 2, 3, 5, 10)), total - stats.inputs)
                inputs = [fuzz_input(rng, seeds) for _ in range(count)]
                stats.inputs += count
                await limiter.acquire()  # backpressure: no more than `concurrency` queued
                limiter.release()
                nursery.start_soon(one, inputs)
        outer.cancel_scope.cancel()
    if pid is not None:
        stats.rss_samples_kib.append(rss_kib(pid))


def fuzz_decoders(total: int, seed: int) -> dict[str, Any]:
    seeds = all_seeds()
    rng = random.Random(seed)
    crashes: list[str] = []
    slow: list[str] = []
    refused = 0
    for _ in range(total):
        payload = mutate(rng.choice(seeds), rng, seeds) if rng.random() < 0.9 else random_bytes(rng)
        started = time.perf_counter()
        try:
            decode_request(payload)
        except RemoteProtocolError:
            refused += 1
        except Exception as exc:  # anything else is a decoder bug
            if len(crashes) < 10:
                crashes.append(f"{type(exc).__name__}: {exc} <- {payload[:100].hex()}")
            else:
                crashes.append("")
        if time.perf_counter() - started > 1.0:
            slow.append(payload[:100].hex())
    return {"inputs": total, "refused": refused, "accepted": total - refused - len(crashes),
            "crashes": len(crashes), "crash_examples": [c for c in crashes if c],
            "hangs": len(slow), "hang_examples": slow[:5]}


def normal_client_works(bootstrap: str, sasl_user: str | None = None,
                        sasl_password: str | None = None) -> tuple[bool, str]:
    """kafka-python produces 200 numbered messages with acks=all and reads them back."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]

    topic = f"netfuzz-check-{os.getpid()}-{int(time.time())}"
    security: dict[str, Any] = {}
    if sasl_user is not None:
        security = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                    "sasl_plain_username": sasl_user, "sasl_plain_password": sasl_password}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5, **security)
    for number in range(200):
        producer.send(topic, str(number).encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=10_000, **security)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    got = [int(message.value) for message in consumer]
    consumer.close()
    return got == list(range(200)), f"read back {len(got)} of 200 in order: {got == list(range(200))}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=20_000, help="fuzz inputs sent to the broker")
    parser.add_argument("--decoder-inputs", type=int, default=0,
                        help="mutated frames through decode_request in this process")
    parser.add_argument("--concurrency", type=int, default=64, help="connections open at once")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--broker", help="HOST:PORT of a running broker (default: start one)")
    parser.add_argument("--pid", type=int, help="process id of --broker, for its memory")
    parser.add_argument("--rss-growth-mb", type=int, default=150,
                        help="largest allowed growth of the broker's RSS over its first sample")
    parser.add_argument("--broker-env", action="append", default=[], metavar="VARIABLE=VALUE",
                        help="setting for the broker started here (repeatable), e.g. "
                             "MINIKAFKA_SASL_USERS_FILE=users to fuzz the SASL session")
    parser.add_argument("--sasl-user", help="PLAIN user for the final kafka-python check")
    parser.add_argument("--sasl-password", help="its password")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    report: dict[str, Any] = {"seed": seed}
    daemon: Daemon | None = None
    workdir = tempfile.TemporaryDirectory(prefix="netfuzz-")
    failures: list[str] = []
    try:
        if args.broker:
            host, _, port_text = args.broker.rpartition(":")
            port, pid = int(port_text), args.pid
        else:
            settings = dict(item.split("=", 1) for item in args.broker_env)
            daemon = Daemon(Path(workdir.name) / "data",
                            **{"MINIKAFKA_LOG_LEVEL": "warning", **settings}).start()
            assert daemon.process is not None
            host, port, pid = "127.0.0.1", daemon.port, daemon.process.pid
        started = time.monotonic()
        if args.inputs:
            stats = Stats()
            trio.run(fuzz_network, host, port, pid, args.inputs, args.concurrency, seed, stats,
                     not args.quiet)
            samples = stats.rss_samples_kib
            network = attrs.asdict(stats, filter=lambda a, _: a.name != "rss_samples_kib")
            network["seconds"] = round(time.monotonic() - started, 1)
            if samples:
                network["rss_mib"] = {"first": samples[0] // 1024, "peak": max(samples) // 1024,
                                      "last": samples[-1] // 1024, "samples": len(samples)}
                if max(samples) - samples[0] > args.rss_growth_mb * 1024:
                    failures.append(f"broker RSS grew from {samples[0] // 1024} to "
                                    f"{max(samples) // 1024} MiB")
            report["network"] = network
            if stats.hangs:
                failures.append(f"{stats.hangs} connections hung")
            if stats.probe_failures:
                failures.append(f"{stats.probe_failures} probes unanswered")
        if daemon is not None:
            alive = daemon.process is not None and daemon.process.poll() is None
            report["broker_alive"] = alive
            if not alive:
                failures.append("the broker exited")
            else:
                ok, detail = normal_client_works(daemon.bootstrap, args.sasl_user,
                                                 args.sasl_password)
                report["normal_client"] = detail
                if not ok:
                    failures.append("kafka-python could not produce and consume afterwards")
        elif args.broker:
            ok, detail = normal_client_works(args.broker, args.sasl_user, args.sasl_password)
            report["normal_client"] = detail
            if not ok:
                failures.append("kafka-python could not produce and consume afterwards")
        if args.decoder_inputs:
            decoders_started = time.monotonic()
            report["decoders"] = fuzz_decoders(args.decoder_inputs, seed)
            report["decoders"]["seconds"] = round(time.monotonic() - decoders_started, 1)
            if report["decoders"]["crashes"] or report["decoders"]["hangs"]:
                failures.append("decoder crashes or hangs")
    finally:
        if daemon is not None:
            if daemon.process is not None:
                status = daemon.stop()
                report["broker_exit_status"] = status
                if status != 0:
                    failures.append(f"broker exit status {status}")
            log = daemon.log()
            unexpected = log.count("unexpected error") + log.count("Traceback")
            report["broker_unexpected_errors"] = unexpected
            if unexpected:
                failures.append(f"{unexpected} unexpected errors in the broker log")
                report["broker_log_excerpt"] = log[log.find("Traceback") - 300:][:3000]
        workdir.cleanup()
    report["failures"] = failures
    print(json.dumps(report, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
