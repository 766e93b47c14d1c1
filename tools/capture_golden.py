"""Capture real clients' traffic through the dump proxy, as golden frames for the dumper's tests.

    .venv/bin/python tools/capture_golden.py [CLIENT...]
    .venv/bin/python tools/capture_golden.py --expected-only [CLIENT...]

For each client (kcat, kafka-python, confluent-kafka, aiokafka) this starts
an in-memory MiniKafka broker and a ``minikafka dump --proxy`` in front of
it, has the client produce three messages (one with headers, one binary,
each client with a different compression codec) and consume them back, and
writes under tests/data/debug/<client>/:

    connN.requests.bin    the bytes the client sent on its Nth connection
    connN.responses.bin   the bytes the broker sent back (before the proxy's rewrite)
    expected.jsonl        `minikafka dump --json` of each file, requests then responses
    proxy.txt             what the proxy printed while it ran

tests/debug/test_golden_captures.py decodes the .bin files and compares.
Re-run this only to refresh the captures deliberately (client upgrades).
When the declarations change what a captured frame decodes to (a newly
declared version, say), ``--expected-only`` rewrites expected.jsonl from
the .bin files already captured.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import trio

from minikafka.debug.dump import Conversation, FrameSplitter, Pairing
from minikafka.debug.proxy import Address, Proxy
from minikafka.server.config import Address as ServerAddress
from minikafka.server.config import Config
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "debug"
MESSAGES = [
    (b"k1", b"hello from {client}", [("trace", b"abc")]),
    (b"k2", b"second message", []),
    (None, b"\x00\x01binary\xff", []),
    # Big and repetitive, so that every client's codec actually compresses it.
    (b"big", b"compressible " * 100, []),
]
TIMEOUT_S = 30


def _kcat(address: str, client: str) -> None:
    import subprocess

    topic = f"golden-{client}"
    lines = b"".join((key or b"") + b"\t" + value.replace(b"{client}", client.encode()) + b"\n"
                     for key, value, _ in MESSAGES if b"\n" not in value and key)
    subprocess.run(["kcat", "-b", address, "-t", topic, "-P", "-K", "\t", "-z", "snappy",
                    "-H", "trace=abc", "-X", "client.id=golden-kcat"],
                   input=lines, check=True, timeout=TIMEOUT_S)
    subprocess.run(["kcat", "-b", address, "-t", topic, "-C", "-e", "-o", "beginning",
                    "-X", "client.id=golden-kcat", "-f", "%k=%s\n"],
                   check=True, timeout=TIMEOUT_S, stdout=subprocess.DEVNULL)


def _kafka_python(address: str, client: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = f"golden-{client}"
    producer = KafkaProducer(bootstrap_servers=address, client_id="golden-kafka-python",
                             compression_type="gzip", linger_ms=0)
    for key, value, headers in MESSAGES:
        producer.send(topic, key=key, value=value.replace(b"{client}", client.encode()),
                      headers=headers, timestamp_ms=1_700_000_000_000).get(TIMEOUT_S)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=address, client_id="golden-kafka-python",
                             group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    got = 0
    while got < len(MESSAGES):
        got += sum(len(batch) for batch in consumer.poll(timeout_ms=1000).values())
    consumer.close()


def _confluent_kafka(address: str, client: str) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    topic = f"golden-{client}"
    producer = Producer({"bootstrap.servers": address, "client.id": "golden-confluent-kafka",
                         "compression.type": "lz4", "linger.ms": 0})
    for key, value, headers in MESSAGES:
        producer.produce(topic, key=key, value=value.replace(b"{client}", client.encode()),
                         headers=headers, timestamp=1_700_000_000_000)
        producer.flush(TIMEOUT_S)
    consumer = Consumer({"bootstrap.servers": address, "client.id": "golden-confluent-kafka",
                         "group.id": "golden", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = 0
    while got < len(MESSAGES):
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            got += 1
    consumer.close()


def _aiokafka(address: str, client: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    async def main() -> None:
        topic = f"golden-{client}"
        producer = AIOKafkaProducer(bootstrap_servers=address, client_id="golden-aiokafka",
                                    compression_type="zstd")
        await producer.start()
        for key, value, headers in MESSAGES:
            await producer.send_and_wait(topic, key=key,
                                         value=value.replace(b"{client}", client.encode()),
                                         headers=headers, timestamp_ms=1_700_000_000_000)
        await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=address, client_id="golden-aiokafka",
                                    group_id=None, auto_offset_reset="earliest",
                                    enable_auto_commit=False)
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        got = 0
        while got < len(MESSAGES):
            batches = await consumer.getmany(timeout_ms=1000)
            got += sum(len(records) for records in batches.values())
        await consumer.stop()

    asyncio.run(main())


CLIENTS: dict[str, Callable[[str, str], None]] = {
    "kcat": _kcat,
    "kafka-python": _kafka_python,
    "confluent-kafka": _confluent_kafka,
    "aiokafka": _aiokafka,
}


async def capture(client: str) -> None:
    chunks: dict[tuple[str, str], bytearray] = {}

    def tap(label: str, direction: str, data: bytes) -> None:
        chunks.setdefault((label, direction), bytearray()).extend(data)

    printed = io.StringIO()
    with trio.fail_after(TIMEOUT_S * 4):
        async with trio.open_nursery() as nursery:
            server = Server(MemoryBackend(), Config(host=ServerAddress("127.0.0.1", 0),
                                                    storage="memory"))
            broker = await nursery.start(server.serve)
            proxy = Proxy(Address(broker.host, broker.port), printed, tap=tap)
            listen = await nursery.start(proxy.serve, Address("127.0.0.1", 0))
            await trio.to_thread.run_sync(CLIENTS[client], str(listen), client)
            await trio.sleep(0.5)  # let the last responses and closes be printed
            server.shutdown()
            nursery.cancel_scope.cancel()

    target = DATA / client
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for label in {label for label, _ in chunks}:
        name = label.replace(" ", "")
        (target / f"{name}.requests.bin").write_bytes(bytes(chunks.get((label, "request"), b"")))
        (target / f"{name}.responses.bin").write_bytes(
            bytes(chunks.get((label, "response"), b"")))
    (target / "proxy.txt").write_text(printed.getvalue())
    write_expected(client)


def write_expected(client: str) -> None:
    target = DATA / client
    names = sorted((path.name.split(".")[0] for path in target.glob("conn*.requests.bin")),
                   key=lambda name: int(name[4:]))
    expected: list[str] = []
    for name in names:
        expected.extend(dump_json((target / f"{name}.requests.bin").read_bytes(),
                                  (target / f"{name}.responses.bin").read_bytes()))
    (target / "expected.jsonl").write_text("".join(line + "\n" for line in expected))
    print(f"{client}: {len(expected)} frames -> {target / 'expected.jsonl'}")


def dump_json(requests: bytes, responses: bytes) -> list[str]:
    """What `minikafka dump --json` prints for a requests file, then for its responses."""
    pairing = Pairing()
    conversation = Conversation(pairing)
    frames = conversation.requests(requests) + conversation.finish()
    splitter = FrameSplitter()
    answers = [conversation.response_frame(raw)
               for raw in splitter.feed(responses) + splitter.finish()]
    return [json.dumps(frame.to_json(), ensure_ascii=False) for frame in frames + answers]


if __name__ == "__main__":
    arguments = sys.argv[1:]
    expected_only = "--expected-only" in arguments
    names = [name for name in arguments if name != "--expected-only"] or list(CLIENTS)
    for name in names:
        if expected_only:
            write_expected(name)
        else:
            trio.run(capture, name)
