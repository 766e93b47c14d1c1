"""Our clients with other Kafka clients: kafka-python writes, we read; we write,
confluent-kafka and kcat read. Both our transports, against both brokers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest
import trio

import minikafka
import minikafka.trio

from .brokers import Broker

KEYED = [(b"k0", b"zero"), (None, b"one"), (b"k2", "twö".encode())]


def produce_blocking(address: str, topic: str) -> list[int]:
    with minikafka.Producer(address, compression="gzip") as producer:
        return [producer.send(topic, value, key=key, headers={"n": str(i).encode()})
                for i, (key, value) in enumerate(KEYED)]


def produce_trio(address: str, topic: str) -> list[int]:
    async def main() -> list[int]:
        async with minikafka.trio.Producer(address, compression="lz4") as producer:
            return [await producer.send(topic, value, key=key, headers={"n": str(i).encode()})
                    for i, (key, value) in enumerate(KEYED)]
    return trio.run(main)


PRODUCERS = {"blocking": produce_blocking, "trio": produce_trio}


@pytest.fixture(params=sorted(PRODUCERS))
def our_producer(request: pytest.FixtureRequest) -> Callable[[str, str], list[int]]:
    return PRODUCERS[request.param]


def test_kafka_python_writes_we_read(broker: Broker, topic: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=broker.address, compression_type="snappy",
                             request_timeout_ms=10_000)
    try:
        offsets = [producer.send(topic, value, key=key, partition=0,
                                 headers=[("n", str(i).encode())]).get(timeout=10).offset
                   for i, (key, value) in enumerate(KEYED)]
    finally:
        producer.close(timeout=5)

    with minikafka.Consumer(broker.address, topic, read_from=offsets[0]) as consumer:
        messages = consumer.poll(timeout=2)
    assert [m.number for m in messages] == offsets
    assert [(m.key, m.value, m.headers) for m in messages] == [
        (key, value, (("n", str(i).encode()),)) for i, (key, value) in enumerate(KEYED)]

    async def read_with_trio() -> list[minikafka.Message]:
        async with minikafka.trio.Consumer(broker.address, topic,
                                           read_from=offsets[0]) as consumer:
            return await consumer.poll(timeout=2)
    assert trio.run(read_with_trio) == messages


def test_we_write_confluent_kafka_reads(broker: Broker, single_partition_topic: str,
                                        our_producer: Callable[[str, str], list[int]]) -> None:
    import confluent_kafka

    topic = single_partition_topic  # keyed messages: all in partition 0 only if it is the only one

    numbers = our_producer(broker.address, topic)
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": broker.address, "group.id": f"{topic}-reader",
        "enable.auto.commit": False, "socket.timeout.ms": 10_000,
    })
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, numbers[0])])
        received: list[tuple[int, bytes | None, bytes | None, object]] = []
        for _ in range(50):
            message = consumer.poll(0.2)
            if message is None:
                if len(received) == len(KEYED):
                    break
                continue
            assert message.error() is None, message.error()
            received.append((message.offset(), message.key(), message.value(),
                             message.headers()))
    finally:
        consumer.close()
    assert received == [(number, key, value, [("n", str(i).encode())])
                        for i, (number, (key, value)) in enumerate(zip(numbers, KEYED,
                                                                          strict=True))]


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_we_write_kcat_reads(broker: Broker, topic: str,
                             our_producer: Callable[[str, str], list[int]]) -> None:
    if not broker.supports_kcat:
        pytest.skip("kcat (librdkafka 2.0.2) cannot negotiate API versions with Tansu 0.6")
    numbers = our_producer(broker.address, topic)
    result = subprocess.run(
        ["kcat", "-b", broker.address, "-C", "-t", topic, "-p", "0", "-o", str(numbers[0]),
         "-e", "-q", "-f", "%o|%k|%s|%h\\n"],
        capture_output=True, timeout=30, check=True)
    lines = result.stdout.decode().splitlines()
    assert lines == [f"{number}|{(key or b'').decode()}|{value.decode()}|n={i}"
                     for i, (number, (key, value)) in enumerate(zip(numbers, KEYED,
                                                                   strict=True))]
