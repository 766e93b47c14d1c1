"""The trio clients against a running broker (MiniKafka and Tansu)."""

from __future__ import annotations

import logging

import pytest
import trio

from minikafka import BrokerUnavailable, Message
from minikafka.client import ClientClosed, ClientError
from minikafka.server.config import Config
from minikafka.testing import running_broker
from minikafka.trio import Consumer, Producer

from .brokers import Broker, TcpProxy, free_port


async def test_poll_returns_everything_since_read_from_and_advances(
        broker: Broker, topic: str) -> None:
    first = broker.first_number
    async with Producer(broker.address) as producer:
        numbers = [await producer.send(topic, f"message {i}") for i in range(3)]
        assert numbers == [first, first + 1, first + 2]
        async with Consumer(broker.address, topic, read_from=first) as consumer:
            assert consumer.read_from == first
            messages = await consumer.poll(timeout=2)
            assert [(m.number, m.value) for m in messages] == [
                (first, b"message 0"), (first + 1, b"message 1"), (first + 2, b"message 2")]
            assert consumer.read_from == first + 3
            assert await consumer.poll(timeout=0.1) == []
            await producer.send(topic, b"later")
            assert [m.value for m in await consumer.poll(timeout=2)] == [b"later"]
            assert consumer.read_from == first + 4


async def test_a_poll_cancelled_while_waiting_leaves_the_connection_usable(
        minikafka: Broker, topic: str) -> None:
    async with Producer(minikafka.address) as producer:
        await producer.send(f"{topic}-other", b"elsewhere")
        await producer.send(topic, b"old")
        async with Consumer(minikafka.address, topic, read_from="latest") as consumer:
            with trio.move_on_after(0.2):
                await consumer.poll(timeout=1)  # cancelled: the broker answers later
            await consumer.subscribe(f"{topic}-other", "earliest")  # reads past that answer
            assert [m.value for m in await consumer.poll(timeout=2)] == [b"elsewhere"]
            await producer.send(topic, b"new")
            await consumer.subscribe(topic, "earliest")
            assert [m.value for m in await consumer.poll(timeout=2)] == [b"old", b"new"]


async def test_numbers_start_at_1_on_minikafka(minikafka: Broker, topic: str) -> None:
    async with Producer(minikafka.address) as producer:
        assert await producer.send(topic, b"first") == 1
    async with Consumer(minikafka.address, topic) as consumer:
        assert [m.number for m in await consumer.poll(timeout=2)] == [1]


async def test_message_fields_and_send_many(broker: Broker, topic: str) -> None:
    async with Producer(broker.address, compression="zstd") as producer:
        number = await producer.send(topic, b"v", key="k", headers=[("h", b"1")])
        more = await producer.send_many(topic, [b"a", b"b"])
    assert more == [number + 1, number + 2]
    async with Consumer(broker.address, topic, read_from=number) as consumer:
        messages = await consumer.poll(timeout=2)
    assert messages[0] == Message(topic, number, b"v", b"k", (("h", b"1"),),
                                  messages[0].timestamp)
    assert [m.value for m in messages[1:]] == [b"a", b"b"]


async def test_earliest_latest_and_subscribe(broker: Broker, topic: str) -> None:
    async with Producer(broker.address) as producer:
        await producer.send(topic, b"old")
        async with Consumer(broker.address) as consumer:
            await consumer.subscribe(topic, read_from="latest")
            assert consumer.read_from == broker.first_number + 1
            await producer.send(topic, b"new")
            assert [m.value for m in await consumer.poll(timeout=2)] == [b"new"]
            await consumer.subscribe(topic, read_from="earliest")
            assert [m.value for m in await consumer.poll(timeout=2)] == [b"old", b"new"]


async def test_async_for_yields_messages_as_they_arrive(broker: Broker, topic: str) -> None:
    async with Producer(broker.address) as producer, \
            Consumer(broker.address, topic, read_from="earliest") as consumer:
        async def produce_slowly() -> None:
            for i in range(3):
                await producer.send(topic, str(i))
                await trio.sleep(0.05)

        received = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce_slowly)
            with trio.fail_after(10):
                async for message in consumer:
                    received.append(message.value)
                    if len(received) == 2:
                        break
        assert received == [b"0", b"1"]
        assert consumer.read_from == broker.first_number + 2
        assert [m.value for m in await consumer.poll(timeout=2)] == [b"2"]


async def test_ten_concurrent_producers_exactly_once_in_order(broker: Broker, topic: str) -> None:
    # The blocking test awaits every send; here each producer queues its
    # messages one by one while the others do too (taking turns every ten),
    # so its background task sends them in batches, as a busy trio program would.
    async def produce(producer_index: int) -> None:
        async with Producer(broker.address, linger=0.002) as producer:
            pending = []
            for i in range(1000):
                pending.append(producer.send_nowait(topic, f"{producer_index} {i}"))
                if i % 10 == 9:
                    await trio.sleep(0)
            await producer.flush()
            numbers = [message.number for message in pending]
            assert numbers == sorted(numbers)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(produce, n)

    received: list[Message] = []
    async with Consumer(broker.address, topic, read_from=broker.first_number) as consumer:
        while len(received) < 10_000:
            batch = await consumer.poll(timeout=2)
            assert batch, f"only {len(received)} of 10000 messages arrived"
            received += batch
    assert [m.number for m in received] == list(
        range(broker.first_number, broker.first_number + 10_000))
    by_producer: dict[int, list[int]] = {n: [] for n in range(10)}
    for message in received:
        producer_index, i = map(int, message.value.split())
        by_producer[producer_index].append(i)
    assert all(sequence == list(range(1000)) for sequence in by_producer.values())


async def test_concurrent_sends_share_batches_and_keep_order(broker: Broker, topic: str) -> None:
    # one producer, many tasks: the background task batches whatever is queued
    async with Producer(broker.address, linger=0.05) as producer:
        numbers: dict[int, int] = {}

        async def send(i: int) -> None:
            numbers[i] = await producer.send(topic, str(i))

        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(send, i)
    assert sorted(numbers.values()) == list(range(min(numbers.values()),
                                                 min(numbers.values()) + 200))
    async with Consumer(broker.address, topic, read_from=min(numbers.values())) as consumer:
        messages = await consumer.poll(timeout=2)
    assert {int(m.value): m.number for m in messages} == numbers


async def test_linger_holds_a_lone_message(minikafka: Broker, topic: str) -> None:
    async with Producer(minikafka.address, linger=0.3) as producer:
        started = trio.current_time()
        await producer.send(topic, b"waits for company")
        assert trio.current_time() - started >= 0.3
        pending = producer.send_nowait(topic, b"queued")
        await producer.flush()  # flush does not wait for the linger
        assert pending.number == 2


async def test_send_nowait_and_flush(broker: Broker, topic: str) -> None:
    async with Producer(broker.address, linger=60) as producer:
        pending = [producer.send_nowait(topic, str(i)) for i in range(3)]
        await trio.sleep(0.05)
        assert not any(message.done for message in pending)
        with pytest.raises(ClientError, match="not been sent"):
            pending[0].number  # noqa: B018 - the property raises
        await producer.flush()
        numbers = [message.number for message in pending]
        assert numbers == list(range(numbers[0], numbers[0] + 3))
        last = producer.send_nowait(topic, b"sent on exit")
    assert last.number == numbers[-1] + 1
    with pytest.raises(ClientClosed):
        await producer.send(topic, b"too late")


async def test_producer_outside_async_with_says_how_to_use_it(minikafka: Broker) -> None:
    producer = Producer(minikafka.address)
    with pytest.raises(ClientError, match="async with"):
        await producer.send("t", b"x")


async def test_idempotent_producer_drops_the_duplicate_of_a_lost_response(
        broker: Broker, topic: str) -> None:
    with TcpProxy(broker.address) as proxy:
        async with Producer(proxy.address, idempotent=True) as producer:
            first = await producer.send(topic, b"before")
            proxy.lose_next_response()
            second = await producer.send(topic, b"retried")
            assert proxy.responses_lost == 1
            third = await producer.send(topic, b"after")
    assert second == (first + 1 if broker.reports_duplicate_offsets else -1)
    assert third == first + 2
    async with Consumer(broker.address, topic, read_from=first) as consumer:
        assert [m.value for m in await consumer.poll(timeout=2)] == [
            b"before", b"retried", b"after"]


async def test_lost_connections_are_retried(broker: Broker, topic: str) -> None:
    with TcpProxy(broker.address) as proxy:
        async with Producer(proxy.address) as producer, \
                Consumer(proxy.address, topic, read_from=broker.first_number) as consumer:
            await producer.send(topic, b"one")
            proxy.cut()
            await producer.send(topic, b"two")
            proxy.cut()
            assert [m.value for m in await consumer.poll(timeout=2)] == [b"one", b"two"]


async def test_unreachable_broker_raises_after_the_retry_timeout(topic: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    async with Producer(address, retry_timeout=0.3) as producer:
        started = trio.current_time()
        with pytest.raises(BrokerUnavailable, match=f"broker at {address} unreachable"):
            await producer.send(topic, b"nowhere")
        assert 0.3 <= trio.current_time() - started < 2
    with pytest.raises(BrokerUnavailable):
        async with Consumer(address, topic, read_from="latest", retry_timeout=0.1):
            pass


async def test_consumer_after_expiry_resumes_at_the_log_start(
        topic: str, caplog: pytest.LogCaptureFixture) -> None:
    with running_broker(Config(retention_ms=200)) as broker:
        async with Producer(broker.address) as producer:
            await producer.send_many(topic, [b"expires 1", b"expires 2"])
            await trio.sleep(0.5)
            kept = await producer.send(topic, b"kept")
        with caplog.at_level(logging.WARNING, logger="minikafka.client"):
            async with Consumer(broker.address, topic, read_from=1) as consumer:
                messages = await consumer.poll(timeout=2)
    assert [(m.number, m.value) for m in messages] == [(3, b"kept")]
    assert kept == 3
    assert f"{topic}: messages 1 to 2 have expired; continuing from 3, the log start" \
        in caplog.messages
