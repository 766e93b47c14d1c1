"""kafka-python against the real broker: idempotent gzip producer, consumer without a group."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]

from minikafka.protocol.compression import Codec

from .daemon import Daemon, stored_batches
from .messages import MESSAGES, Message, check_received

TIMEOUT_S = 20


def produce(bootstrap: str, topic: str, messages: list[Message], **config: object) -> list[int]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=TIMEOUT_S * 1000,
                             request_timeout_ms=TIMEOUT_S * 1000, **config)
    try:
        futures = [producer.send(topic, key=message.key, value=message.value,
                                 headers=list(message.headers)) for message in messages]
        producer.flush(timeout=TIMEOUT_S)
        return [future.get(timeout=TIMEOUT_S).offset for future in futures]
    finally:
        producer.close(timeout=TIMEOUT_S)


def consume(bootstrap: str, topic: str, count: int) -> list[tuple[int, bytes | None, bytes | None,
                                                                   list[tuple[str, bytes]]]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             request_timeout_ms=TIMEOUT_S * 1000 + 1000,
                             fetch_max_wait_ms=200)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        received: list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        for _ in range(TIMEOUT_S * 5):
            for records in consumer.poll(timeout_ms=200).values():
                received += [(r.offset, r.key, r.value, list(r.headers)) for r in records]
            if len(received) >= count:
                break
        return received
    finally:
        consumer.close()


def test_idempotent_gzip_producer_and_consumer_without_group(daemon: Daemon, topic: str) -> None:
    offsets = produce(daemon.bootstrap, topic, MESSAGES, compression_type="gzip", linger_ms=5)
    assert offsets == list(range(1, len(MESSAGES) + 1))
    check_received(consume(daemon.bootstrap, topic, len(MESSAGES)))
    # kafka-python sends a batch uncompressed when gzip would not make it smaller.
    assert Codec.GZIP in {header.compression for header in stored_batches(daemon, topic)}
    log = daemon.log()
    assert "WARNING" not in log and "ERROR" not in log, log


def test_producer_is_idempotent_by_default(daemon: Daemon, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=daemon.bootstrap, max_block_ms=TIMEOUT_S * 1000)
    try:
        producer.send(topic, b"x").get(timeout=TIMEOUT_S)
        assert producer._transaction_manager is not None  # InitProducerId was answered
        assert producer._transaction_manager.producer_id_and_epoch.producer_id >= 0
    finally:
        producer.close(timeout=TIMEOUT_S)


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_numbering_continues_across_producers(daemon: Daemon, topic: str,
                                              compression: str | None) -> None:
    first = produce(daemon.bootstrap, topic, MESSAGES[-5:], compression_type=compression)
    second = produce(daemon.bootstrap, topic, MESSAGES[-5:], compression_type=compression)
    assert first + second == list(range(1, 11))
