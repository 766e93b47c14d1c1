"""aiokafka against the real broker: producer, consumer without a group, long-poll latency."""

from __future__ import annotations

import asyncio
import statistics
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]

from .daemon import Daemon
from .messages import MESSAGES, check_received

TIMEOUT_S = 20


async def produce_and_consume(bootstrap: str, topic: str) -> tuple[list[int], list[tuple[
        int, bytes | None, bytes | None, list[tuple[str, bytes]]]]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    await producer.start()
    try:
        offsets = []
        for message in MESSAGES:
            metadata = await producer.send_and_wait(topic, message.value, key=message.key,
                                                    headers=list(message.headers))
            offsets.append(metadata.offset)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                fetch_max_wait_ms=200)
    await consumer.start()
    try:
        received = []
        async with asyncio.timeout(TIMEOUT_S):
            while len(received) < len(MESSAGES):
                record = await consumer.getone()
                received.append((record.offset, record.key, record.value, list(record.headers)))
    finally:
        await consumer.stop()
    return offsets, received


def test_producer_and_consumer_without_group(daemon: Daemon, topic: str) -> None:
    offsets, received = asyncio.run(produce_and_consume(daemon.bootstrap, topic))
    assert offsets == list(range(1, len(MESSAGES) + 1))
    check_received(received)


async def wake_up_delays(bootstrap: str, topic: str, rounds: int) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    # A long max wait: without wake-ups every message would take up to 10 s.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=10_000)
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up")
    await consumer.start()
    delays = []
    try:
        async with asyncio.timeout(TIMEOUT_S * 2):
            await consumer.getone()
            for n in range(rounds):
                await asyncio.sleep(0.05)  # the consumer is back in its long poll
                sent = time.perf_counter()
                await producer.send(topic, b"%d" % n)
                record = await consumer.getone()
                delays.append(time.perf_counter() - sent)
                assert record.value == b"%d" % n
    finally:
        await consumer.stop()
        await producer.stop()
    return delays


def test_a_waiting_consumer_gets_a_new_message_promptly(daemon: Daemon, topic: str) -> None:
    delays = asyncio.run(wake_up_delays(daemon.bootstrap, topic, 20))
    median = statistics.median(delays)
    print(f"\naiokafka produce -> consume while long-polling (fetch_max_wait_ms=10000): "
          f"median {median * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms, n={len(delays)}")
    assert median < 2.0  # far below the 10 s the fetch would otherwise wait
