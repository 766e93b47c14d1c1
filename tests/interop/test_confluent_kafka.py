"""confluent-kafka (librdkafka) against the real broker: producer, consumer with group.id and assign()."""

from __future__ import annotations

from typing import Any

from confluent_kafka import (  # type: ignore[import-untyped]
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)

from minikafka.protocol.compression import Codec

from .daemon import Daemon, stored_batches
from .messages import MESSAGES, Message, check_received

TIMEOUT_S = 20


def produce(bootstrap: str, topic: str, messages: list[Message], **config: Any) -> list[int]:
    offsets: list[int] = []
    errors: list[Any] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(error)
        else:
            offsets.append(message.offset())

    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 2_000_000,
                         "enable.idempotence": True, **config})
    for message in messages:
        producer.produce(topic, value=message.value, key=message.key,
                         headers=list(message.headers), on_delivery=delivered)
    assert producer.flush(TIMEOUT_S) == 0, "messages left undelivered"
    assert not errors, errors
    return offsets


def consume(bootstrap: str, topic: str, count: int, *, group: str = "interop"
            ) -> list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 200})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        received: list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        for _ in range(TIMEOUT_S * 5):
            message = consumer.poll(0.2)
            if message is None:
                if len(received) >= count:
                    break
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            received.append((message.offset(), message.key(), message.value(),
                             list(message.headers() or [])))
            if len(received) >= count:
                break
        return received
    finally:
        consumer.close()


def test_producer_and_assigned_consumer_with_group_id(daemon: Daemon, topic: str) -> None:
    offsets = produce(daemon.bootstrap, topic, MESSAGES, **{"compression.type": "gzip"})
    assert offsets == list(range(1, len(MESSAGES) + 1))
    check_received(consume(daemon.bootstrap, topic, len(MESSAGES)))
    assert Codec.GZIP in {header.compression for header in stored_batches(daemon, topic)}


def test_lz4_and_snappy_batches_round_trip(daemon: Daemon, topic: str) -> None:
    produce(daemon.bootstrap, topic, MESSAGES[:5], **{"compression.type": "lz4"})
    produce(daemon.bootstrap, topic, MESSAGES[5:], **{"compression.type": "snappy"})
    check_received(consume(daemon.bootstrap, topic, len(MESSAGES)))
    codecs = {header.compression for header in stored_batches(daemon, topic)}
    assert {Codec.LZ4, Codec.SNAPPY} <= codecs
