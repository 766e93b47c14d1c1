"""The blocking clients against a running broker (MiniKafka and Tansu)."""

from __future__ import annotations

import datetime
import logging
import threading
import time

import pytest

from minikafka import BrokerUnavailable, Consumer, Message, Producer
from minikafka.client import ClientClosed, ClientError, NotSubscribed
from minikafka.server.config import Config
from minikafka.testing import running_broker

from .brokers import Broker, TcpProxy, free_port


def test_poll_returns_everything_since_read_from_and_advances(broker: Broker, topic: str) -> None:
    first = broker.first_number
    with Producer(broker.address) as producer:
        numbers = [producer.send(topic, f"message {i}") for i in range(3)]
    assert numbers == [first, first + 1, first + 2]

    with Consumer(broker.address, topic, read_from=first) as consumer:
        assert consumer.read_from == first
        messages = consumer.poll(timeout=2)
        assert [(m.number, m.value) for m in messages] == [
            (first, b"message 0"), (first + 1, b"message 1"), (first + 2, b"message 2")]
        assert consumer.read_from == first + 3
        assert consumer.poll(timeout=0.1) == []

        with Producer(broker.address) as producer:
            producer.send(topic, b"later")
        assert [m.value for m in consumer.poll(timeout=2)] == [b"later"]
        assert consumer.read_from == first + 4


def test_numbers_start_at_1_on_minikafka(minikafka: Broker, topic: str) -> None:
    with Producer(minikafka.address) as producer:
        assert producer.send(topic, b"first") == 1
    with Consumer(minikafka.address, topic) as consumer:  # read_from defaults to 1
        assert [m.number for m in consumer.poll(timeout=2)] == [1]


def test_message_fields_round_trip(broker: Broker, topic: str) -> None:
    before = datetime.datetime.now(datetime.UTC)
    with Producer(broker.address) as producer:
        number = producer.send(topic, "välue", key=b"k", headers={"trace": b"abc", "none": None})
    with Consumer(broker.address, topic, read_from=number) as consumer:
        (message,) = consumer.poll(timeout=2)
    assert message == Message(topic, number, "välue".encode(), b"k",
                              (("trace", b"abc"), ("none", None)), message.timestamp)
    assert message.timestamp is not None
    assert before - datetime.timedelta(seconds=1) <= message.timestamp
    assert message.timestamp <= datetime.datetime.now(datetime.UTC)


def test_send_many_is_one_batch_of_consecutive_numbers(broker: Broker, single_partition_topic: str) -> None:
    topic = single_partition_topic
    with Producer(broker.address) as producer:
        numbers = producer.send_many(topic, [b"a", b"b", b"c"])
        assert numbers == list(range(numbers[0], numbers[0] + 3))
        # a list over batch_size goes as several batches, still in order
    with Producer(broker.address, batch_size=1000) as producer:
        values = [f"{i:04}".encode() * 25 for i in range(100)]
        more = producer.send_many(topic, values)
    assert more == list(range(numbers[-1] + 1, numbers[-1] + 101))
    with Consumer(broker.address, topic, read_from=more[0]) as consumer:
        received = consumer.poll(timeout=2)
    assert [m.value for m in received] == values


def test_read_from_inside_a_batch_skips_its_earlier_messages(broker: Broker, topic: str) -> None:
    with Producer(broker.address) as producer:
        numbers = producer.send_many(topic, [str(i) for i in range(10)])
    with Consumer(broker.address, topic, read_from=numbers[6]) as consumer:
        assert [m.number for m in consumer.poll(timeout=2)] == numbers[6:]


def test_max_bytes_splits_reading_over_several_polls(broker: Broker, single_partition_topic: str) -> None:
    topic = single_partition_topic
    with Producer(broker.address, batch_size=2000) as producer:
        numbers = producer.send_many(topic, [b"x" * 100] * 100)  # about six batches
    with Consumer(broker.address, topic, read_from=numbers[0], max_bytes=3000) as consumer:
        first = consumer.poll(timeout=2)
        assert 0 < len(first) < 100
        rest: list[Message] = []
        while len(first) + len(rest) < 100:
            more = consumer.poll(timeout=2)
            assert more
            rest += more
    assert [m.number for m in first + rest] == numbers


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_round_trip(broker: Broker, topic: str, compression: str) -> None:
    values = [f"{compression} {i}".encode() * 10 for i in range(50)]
    with Producer(broker.address, compression=compression) as producer:
        numbers = producer.send_many(topic, values)
    with Consumer(broker.address, topic, read_from=numbers[0]) as consumer:
        assert [m.value for m in consumer.poll(timeout=2)] == values


def test_earliest_and_latest(broker: Broker, topic: str) -> None:
    with Producer(broker.address) as producer:
        producer.send(topic, b"old 1")
        producer.send(topic, b"old 2")
        with Consumer(broker.address, topic, read_from="latest") as latest, \
                Consumer(broker.address, topic, read_from="earliest") as earliest:
            assert latest.read_from == broker.first_number + 2
            assert earliest.read_from == broker.first_number
            producer.send(topic, b"new")
            assert [m.value for m in latest.poll(timeout=2)] == [b"new"]
            assert [m.value for m in earliest.poll(timeout=2)] == [b"old 1", b"old 2", b"new"]


def test_latest_after_a_batch_is_the_end_of_the_log(
        broker: Broker, topic: str, request: pytest.FixtureRequest) -> None:
    if not broker.exact_latest:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "Tansu 0.6 answers ListOffsets(latest) with the last batch's base offset + 1")))
    with Producer(broker.address) as producer:
        numbers = producer.send_many(topic, [b"a", b"b", b"c"])
    with Consumer(broker.address, topic, read_from="latest") as consumer:
        assert consumer.read_from == numbers[-1] + 1


def test_subscribe_switches_topic(broker: Broker, topic: str) -> None:
    with Producer(broker.address) as producer:
        producer.send(topic, b"one")
        producer.send(topic + "-other", b"two")
    with Consumer(broker.address) as consumer:
        with pytest.raises(NotSubscribed):
            consumer.poll()
        consumer.subscribe(topic, read_from="earliest")
        assert [m.value for m in consumer.poll(timeout=2)] == [b"one"]
        consumer.subscribe(topic + "-other", read_from="earliest")
        assert consumer.topic == topic + "-other"
        assert [m.value for m in consumer.poll(timeout=2)] == [b"two"]


def test_topic_that_does_not_exist_yet_polls_empty_then_reads(broker: Broker, topic: str) -> None:
    with Consumer(broker.address, topic, read_from="latest") as consumer:
        started = time.monotonic()
        assert consumer.poll(timeout=0.3) == []
        assert 0.25 <= time.monotonic() - started < 2
        with Producer(broker.address) as producer:
            producer.send(topic, b"created")
        # "latest" on a missing topic means from its first message
        assert [m.value for m in consumer.poll(timeout=2)] == [b"created"]


def test_poll_waits_for_a_message(broker: Broker, topic: str) -> None:
    with Producer(broker.address) as producer:
        producer.send(topic, b"exists")
    with Consumer(broker.address, topic, read_from="latest") as consumer:
        timer = threading.Timer(0.3, lambda: Producer(broker.address).send(topic, b"arrives"))
        timer.start()
        started = time.monotonic()
        messages = consumer.poll(timeout=1.5)
        waited = time.monotonic() - started
        timer.join()
    assert [m.value for m in messages] == [b"arrives"]
    # MiniKafka answers when the message arrives, Tansu halfway through the wait
    assert 0.2 <= waited < 1.4


def test_iterating_yields_messages_as_they_arrive(broker: Broker, topic: str) -> None:
    def produce_slowly() -> None:
        with Producer(broker.address) as producer:
            for i in range(3):
                producer.send(topic, str(i))
                time.sleep(0.05)

    thread = threading.Thread(target=produce_slowly)
    with Consumer(broker.address, topic, read_from="earliest") as consumer:
        thread.start()
        received = []
        for message in consumer:
            received.append(message.value)
            if len(received) == 2:
                break
        thread.join()
        # what the loop fetched but did not take is still there for poll
        assert consumer.read_from == broker.first_number + 2
        assert [m.value for m in consumer.poll(timeout=2)] == [b"2"]


def test_ten_concurrent_producers_exactly_once_in_order(broker: Broker, topic: str) -> None:
    def produce(producer_index: int) -> None:
        with Producer(broker.address) as producer:
            for i in range(1000):
                producer.send(topic, f"{producer_index} {i}")

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    received: list[Message] = []
    with Consumer(broker.address, topic, read_from=broker.first_number) as consumer:
        while len(received) < 10_000:
            batch = consumer.poll(timeout=2)
            assert batch, f"only {len(received)} of 10000 messages arrived"
            received += batch
        assert consumer.poll(timeout=0.1) == []
    assert [m.number for m in received] == list(
        range(broker.first_number, broker.first_number + 10_000))
    by_producer: dict[int, list[int]] = {n: [] for n in range(10)}
    for message in received:
        producer_index, i = map(int, message.value.split())
        by_producer[producer_index].append(i)
    assert all(sequence == list(range(1000)) for sequence in by_producer.values())


def test_acks_0_sends_without_numbers(broker: Broker, topic: str) -> None:
    with Producer(broker.address, acks=0) as producer:
        assert producer.send(topic, b"fire and forget") == -1
        assert producer.send_many(topic, [b"a", b"b"]) == [-1, -1]
    with Consumer(broker.address, topic, read_from="earliest") as consumer:
        received: list[bytes] = []
        deadline = time.monotonic() + 3
        while len(received) < 3 and time.monotonic() < deadline:
            received += [m.value for m in consumer.poll(timeout=0.5)]
    assert received == [b"fire and forget", b"a", b"b"]


def test_send_nowait_waits_for_flush(broker: Broker, topic: str) -> None:
    with Producer(broker.address, linger=60) as producer:
        pending = [producer.send_nowait(topic, str(i)) for i in range(3)]
        assert not any(message.done for message in pending)
        with pytest.raises(ClientError, match="not been sent"):
            pending[0].number  # noqa: B018 - the property raises
        producer.flush()
    numbers = [message.number for message in pending]
    assert numbers == list(range(numbers[0], numbers[0] + 3))


def test_leaving_the_with_block_sends_what_is_queued(broker: Broker, topic: str) -> None:
    with Producer(broker.address, linger=60) as producer:
        pending = producer.send_nowait(topic, b"queued")
    assert pending.number >= broker.first_number
    with pytest.raises(ClientClosed):
        producer.send(topic, b"too late")


def test_idempotent_producer_drops_the_duplicate_of_a_lost_response(
        broker: Broker, topic: str) -> None:
    with TcpProxy(broker.address) as proxy, Producer(proxy.address, idempotent=True) as producer:
        first = producer.send(topic, b"before")
        proxy.lose_next_response()
        second = producer.send(topic, b"retried")  # written, response lost, sent again
        assert proxy.responses_lost == 1
        third = producer.send(topic, b"after")
    # Tansu drops the duplicate but does not say what number the first copy got
    assert second == (first + 1 if broker.reports_duplicate_offsets else -1)
    assert third == first + 2
    with Consumer(broker.address, topic, read_from=first) as consumer:
        assert [m.value for m in consumer.poll(timeout=2)] == [b"before", b"retried", b"after"]


def test_without_idempotence_a_lost_response_can_duplicate(minikafka: Broker, topic: str) -> None:
    # the reason for the option: a retried send is written twice
    with TcpProxy(minikafka.address) as proxy, Producer(proxy.address) as producer:
        producer.send(topic, b"before")
        proxy.lose_next_response()
        number = producer.send(topic, b"retried")
    with Consumer(minikafka.address, topic) as consumer:
        assert [m.value for m in consumer.poll(timeout=2)] == [b"before", b"retried", b"retried"]
    assert number == 3


def test_lost_connections_are_retried(broker: Broker, topic: str) -> None:
    with TcpProxy(broker.address) as proxy:
        with Producer(proxy.address) as producer, \
                Consumer(proxy.address, topic, read_from=broker.first_number) as consumer:
            producer.send(topic, b"one")
            proxy.cut()
            producer.send(topic, b"two")
            proxy.cut()
            assert [m.value for m in consumer.poll(timeout=2)] == [b"one", b"two"]


def test_reading_ahead_survives_a_lost_connection_and_a_subscribe(
        broker: Broker, single_partition_topic: str) -> None:
    topic, other = single_partition_topic, f"{single_partition_topic}-other"
    values = [b"%03d" % i * 30 for i in range(60)]
    with Producer(broker.address, batch_size=1000) as producer:  # several batches
        numbers = producer.send_many(topic, values)
        (elsewhere,) = producer.send_many(other, [b"elsewhere"])
    with TcpProxy(broker.address) as proxy, \
            Consumer(proxy.address, topic, read_from=numbers[0], max_bytes=1500) as consumer:
        received = consumer.poll(timeout=2)  # and the next fetch is sent ahead...
        assert 0 < len(received) < 30
        proxy.cut()  # ...and lost: sent again on a new connection
        received += consumer.poll(timeout=2)
        assert [m.value for m in received] == values[: len(received)]
        consumer.poll(timeout=2)  # one more sent ahead, then not wanted:
        consumer.subscribe(other, "earliest")
        assert [(m.number, m.value) for m in consumer.poll(timeout=2)] == [(elsewhere, b"elsewhere")]


def test_unreachable_broker_raises_after_the_retry_timeout(topic: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with Producer(address, retry_timeout=0.3) as producer, \
            pytest.raises(BrokerUnavailable, match=f"broker at {address} unreachable") as caught:
        producer.send(topic, b"nowhere")
    assert 0.3 <= time.monotonic() - started < 2
    assert isinstance(caught.value.cause, ConnectionRefusedError)
    with pytest.raises(BrokerUnavailable), Consumer(address, topic, retry_timeout=0.1) as consumer:
        consumer.poll()


def test_broker_that_comes_back_within_the_timeout(topic: str) -> None:
    with running_broker() as broker, TcpProxy(broker.address) as proxy:
        with Producer(proxy.address, retry_timeout=5) as producer:
            producer.send(topic, b"one")
            proxy.cut()
            proxy.lose_next_response()  # the next connection fails too
            assert producer.send(topic, b"two") in (2, 3)


def test_consumer_after_expiry_resumes_at_the_log_start(
        topic: str, caplog: pytest.LogCaptureFixture) -> None:
    with running_broker(Config(retention_ms=200)) as broker:
        with Producer(broker.address) as producer:
            producer.send_many(topic, [b"expires 1", b"expires 2"])
            time.sleep(0.5)  # retention runs every 20 ms and removes them
            kept = producer.send(topic, b"kept")
        with caplog.at_level(logging.WARNING, logger="minikafka.client"), \
                Consumer(broker.address, topic, read_from=1) as consumer:
            messages = consumer.poll(timeout=2)
    assert [(m.number, m.value) for m in messages] == [(kept, b"kept")]
    assert kept == 3
    assert f"{topic}: messages 1 to 2 have expired; continuing from 3, the log start" \
        in caplog.messages


def test_closed_clients_refuse_use(broker: Broker, topic: str) -> None:
    producer = Producer(broker.address)
    producer.close()
    with pytest.raises(ClientClosed):
        producer.send(topic, b"x")
    consumer = Consumer(broker.address, topic)
    consumer.close()
    with pytest.raises(ClientClosed):
        consumer.poll()


def test_bad_arguments_are_typed_errors(minikafka: Broker) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'lingr'"):
        Producer(minikafka.address, lingr=1)
    with pytest.raises(ValueError, match="compression must be one of"):
        Producer(minikafka.address, compression="brotli")
    with pytest.raises(ValueError, match="read_from must be"):
        Consumer(minikafka.address, "t", read_from="newest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HOST:PORT"):
        Producer("")
    with Producer(minikafka.address) as producer, pytest.raises(TypeError, match="value must be"):
        producer.send("t", 42)  # type: ignore[arg-type]
