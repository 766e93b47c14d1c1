"""Every served API through the dispatcher, with a memory backend and no network.

Requests are encoded with the codec and answered by ``dispatch.respond``,
so each test also covers decoding the request and encoding the response in
the version under test.
"""

from __future__ import annotations

import struct

import pytest
import trio

from minikafka.protocol import errors
from minikafka.protocol.batch_header import BatchHeader, set_base_offset
from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.find_coordinator import FIND_COORDINATOR
from minikafka.protocol.messages.init_producer_id import INIT_PRODUCER_ID
from minikafka.protocol.messages.list_offsets import LIST_OFFSETS
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.server.broker import Broker, CloseConnection
from minikafka.server.config import Address, Config
from minikafka.server.dispatch import respond
from minikafka.storage.base import StorageFailure
from minikafka.storage.memory import MemoryBackend

from .conftest import FakeClock
from .helpers import LOCAL, base_offsets, batch, call, fetch_body, produce_body, raw_header

CORRUPT_MESSAGE = errors.CorruptMessageError.code
UNKNOWN_TOPIC = errors.UnknownTopicOrPartitionError.code


def create(broker: Broker, topic: str = "t", partitions: int = 1) -> None:
    broker.storage.create_topic(topic, partitions)


async def produce(broker: Broker, topic: str, records: bytes | None, *, version: int = 8,
                  **kwargs: object) -> dict[str, object]:
    response = await call(broker, PRODUCE, version, produce_body(topic, records, **kwargs))
    partition = response.responses[0].partition_responses[0]
    return dict(partition)


async def fetch_one(broker: Broker, topic: str, offset: int, *, version: int = 11,
                    partition: int = 0, **kwargs: object) -> object:
    response = await call(broker, FETCH, version, fetch_body([(topic, partition, offset)], **kwargs))
    return response.responses[0].partitions[0]


# --- ApiVersions ---------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2, 3])
async def test_api_versions_lists_only_what_is_served(broker: Broker, version: int) -> None:
    body = {"client_software_name": "test", "client_software_version": "1"}
    response = await call(broker, API_VERSIONS, version, body)
    assert response.error_code == 0
    advertised = {item.api_key: (item.min_version, item.max_version) for item in response.api_keys}
    assert advertised == {0: (0, 8), 1: (4, 11), 2: (1, 5), 3: (1, 8), 8: (2, 7), 9: (1, 5),
                          10: (0, 2), 11: (2, 5), 12: (0, 3), 13: (0, 3), 14: (0, 3), 15: (0, 4),
                          16: (0, 2), 17: (0, 1), 18: (0, 4), 19: (2, 4), 20: (1, 3), 22: (0, 1),
                          32: (1, 3), 36: (0, 1), 37: (0, 1), 42: (0, 1)}


async def test_api_versions_above_served_gets_version_0_unsupported_reply(broker: Broker) -> None:
    payload = raw_header(API_VERSIONS.key, 99, 41) + b"\x00anything a future version sends"
    response = await respond(payload, broker, local_address=LOCAL)
    assert response is not None
    correlation_id, body = decode_response(API_VERSIONS, 0, response)
    assert correlation_id == 41
    assert body.error_code == errors.UnsupportedVersionError.code
    assert {item.api_key for item in body.api_keys} == {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15,
                                                         16, 17, 18, 19, 20, 22, 32, 36, 37, 42}


# --- requests that cannot be answered ------------------------------------------


@pytest.mark.parametrize(
    "payload, reason",
    [
        (raw_header(999, 0, 1), "unknown api key 999"),
        (raw_header(FETCH.key, 3, 1) + b"\x00" * 20, "Fetch v3 is not served"),
        (raw_header(METADATA.key, 1, 1) + b"\x00\x00\x00\x05\x00", "Metadata v1 request"),
        (b"\x00\x03", "shorter than a request header"),
    ],
)
async def test_unanswerable_requests_close_the_connection(
    broker: Broker, payload: bytes, reason: str
) -> None:
    with pytest.raises(CloseConnection, match=reason):
        await respond(payload, broker, local_address=LOCAL)


# --- Metadata ------------------------------------------------------------------


@pytest.mark.parametrize("version", range(1, 9))
async def test_metadata_auto_creates_a_requested_topic(broker: Broker, version: int) -> None:
    body = {"topics": [{"name": "orders"}], "allow_auto_topic_creation": True,
            "include_cluster_authorized_operations": False,
            "include_topic_authorized_operations": False}
    response = await call(broker, METADATA, version, body,
                          local_address=Address("10.1.2.3", 19092))
    assert broker.storage.topics() == {"orders": 1}
    [topic] = response.topics
    assert (topic.error_code, topic.name, len(topic.partitions)) == (0, "orders", 1)
    partition = topic.partitions[0]
    assert (partition.leader_id, list(partition.replica_nodes), list(partition.isr_nodes)) == (
        0, [0], [0])
    [node] = response.brokers
    assert (node.node_id, node.host, node.port) == (0, "10.1.2.3", 19092)
    assert response.controller_id == 0
    if version >= 2:
        assert response.cluster_id


async def test_metadata_respects_allow_auto_topic_creation_false(broker: Broker) -> None:
    body = {"topics": [{"name": "orders"}], "allow_auto_topic_creation": False}
    response = await call(broker, METADATA, 4, body)
    assert response.topics[0].error_code == UNKNOWN_TOPIC
    assert broker.storage.topics() == {}


async def test_metadata_does_not_create_when_the_broker_forbids_it(clock: FakeClock) -> None:
    broker = Broker(MemoryBackend(clock), Config(auto_create_topics=False), clock)
    response = await call(broker, METADATA, 1, {"topics": [{"name": "orders"}]})
    assert response.topics[0].error_code == UNKNOWN_TOPIC
    assert broker.storage.topics() == {}


async def test_metadata_null_topics_lists_all_and_empty_lists_none(broker: Broker) -> None:
    create(broker, "b", 3)
    create(broker, "a")
    everything = await call(broker, METADATA, 5, {"topics": None,
                                                  "allow_auto_topic_creation": True})
    assert [(topic.name, len(topic.partitions)) for topic in everything.topics] == [
        ("a", 1), ("b", 3)]
    nothing = await call(broker, METADATA, 5, {"topics": [], "allow_auto_topic_creation": True})
    assert list(nothing.topics) == []


async def test_metadata_refuses_an_invalid_topic_name(broker: Broker) -> None:
    response = await call(broker, METADATA, 4, {"topics": [{"name": "../etc"}],
                                                "allow_auto_topic_creation": True})
    assert response.topics[0].error_code == errors.InvalidTopicException.code
    assert broker.storage.topics() == {}


@pytest.mark.parametrize(
    "advertised, expected",
    [(Address("kafka.example", 29092), ("kafka.example", 29092)),
     (Address("kafka.example", None), ("kafka.example", 19092))],
)
async def test_metadata_advertises_the_configured_host(
    clock: FakeClock, advertised: Address, expected: tuple[str, int]
) -> None:
    broker = Broker(MemoryBackend(clock), Config(advertised_host=advertised), clock)
    response = await call(broker, METADATA, 1, {"topics": []},
                          local_address=Address("127.0.0.1", 19092))
    assert (response.brokers[0].host, response.brokers[0].port) == expected


# --- Produce -------------------------------------------------------------------


@pytest.mark.parametrize("version", range(3, 9))
async def test_produce_numbers_messages_from_1(broker: Broker, version: int) -> None:
    create(broker)
    first = await produce(broker, "t", batch(b"a", b"b", b"c"), version=version)
    second = await produce(broker, "t", batch(b"d"), version=version)
    assert (first["error_code"], first["base_offset"]) == (0, 1)
    assert (second["error_code"], second["base_offset"]) == (0, 4)
    if version >= 5:
        assert second["log_start_offset"] == 1
    assert broker.storage.high_watermark("t", 0) == 5


async def test_produce_stores_the_batch_bytes_as_sent(broker: Broker) -> None:
    create(broker)
    sent = batch(b"\x00binary\xff", b"", None)
    await produce(broker, "t", sent)
    stored = bytearray(broker.storage.read("t", 0, 1, 1 << 20).records)
    set_base_offset(stored, 0)
    assert bytes(stored) == sent


async def test_produce_with_acks_0_sends_no_response_but_stores(broker: Broker) -> None:
    create(broker)
    response = await call(broker, PRODUCE, 8, produce_body("t", batch(b"x"), acks=0))
    assert response is None
    assert broker.storage.high_watermark("t", 0) == 2


async def test_failed_produce_with_acks_0_closes_the_connection(broker: Broker) -> None:
    with pytest.raises(CloseConnection, match="acks=0"):
        await call(broker, PRODUCE, 8, produce_body("missing", batch(b"x"), acks=0))


def corrupt_crc(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[-1] ^= 0xFF
    return bytes(damaged)


def wrong_magic(data: bytes) -> bytes:
    # magic precedes the CRC's range: the CRC still holds
    from minikafka.protocol.batch_header import MAGIC_OFFSET

    damaged = bytearray(data)
    damaged[MAGIC_OFFSET] = 1
    return bytes(damaged)


def wrong_count(data: bytes) -> bytes:
    # records_count is the header's last field; the CRC covers it, so recompute.
    import crc32c

    from minikafka.protocol.batch_header import CRC_OFFSET, CRC_START

    damaged = bytearray(data)
    struct.pack_into(">i", damaged, 57, 5)
    struct.pack_into(">I", damaged, CRC_OFFSET, crc32c.crc32c(bytes(damaged[CRC_START:])))
    return bytes(damaged)


@pytest.mark.parametrize(
    "records, code, message",
    [
        (corrupt_crc(batch(b"a", b"b")), CORRUPT_MESSAGE, "CRC"),
        (batch(b"a") + corrupt_crc(batch(b"b")), CORRUPT_MESSAGE, "CRC"),
        (wrong_magic(batch(b"a", b"b")), CORRUPT_MESSAGE, "magic"),
        (batch(b"a", b"b")[:-3], CORRUPT_MESSAGE, "truncated"),
        (wrong_count(batch(b"a", b"b")), CORRUPT_MESSAGE, "records"),
        (batch(b"a") + b"\x00\x01", CORRUPT_MESSAGE, "shorter than a batch header"),
        (b"", CORRUPT_MESSAGE, "no record batch"),
        (None, CORRUPT_MESSAGE, "no record batch"),
        (batch(b"a", control=True), errors.InvalidRecordError.code, "control"),
        (batch(b"a", transactional=True, producer_id=5, producer_epoch=0, base_sequence=0),
         errors.InvalidRequestError.code, "transactions"),
    ],
)
async def test_produce_refuses_bad_batches_and_stores_nothing(
    broker: Broker, records: bytes | None, code: int, message: str
) -> None:
    create(broker)
    answer = await produce(broker, "t", records)
    assert answer["error_code"] == code
    assert message in str(answer["error_message"])
    assert answer["base_offset"] == -1
    assert broker.storage.high_watermark("t", 0) == 1


async def test_produce_refuses_a_batch_above_the_size_limit(clock: FakeClock) -> None:
    broker = Broker(MemoryBackend(clock), Config(max_message_bytes=1000), clock)
    create(broker)
    answer = await produce(broker, "t", batch(b"x" * 2000))
    assert answer["error_code"] == errors.MessageTooLargeError.code
    assert (await produce(broker, "t", batch(b"x" * 500)))["error_code"] == 0


async def test_produce_errors_are_per_partition(broker: Broker) -> None:
    create(broker, "t", 2)
    body = produce_body("t", batch(b"ok"))
    body["topic_data"][0]["partition_data"] += [
        {"index": 1, "records": corrupt_crc(batch(b"bad"))},
        {"index": 7, "records": batch(b"nowhere")},
    ]
    response = await call(broker, PRODUCE, 8, body)
    codes = [answer.error_code for answer in response.responses[0].partition_responses]
    assert codes == [0, CORRUPT_MESSAGE, UNKNOWN_TOPIC]
    assert broker.storage.high_watermark("t", 0) == 2
    assert broker.storage.high_watermark("t", 1) == 1


async def test_produce_to_an_unknown_topic(broker: Broker) -> None:
    answer = await produce(broker, "nope", batch(b"a"))
    assert answer["error_code"] == UNKNOWN_TOPIC


@pytest.mark.parametrize("version", [0, 1, 2])
async def test_produce_versions_0_to_2_are_advertised_but_refused(
    broker: Broker, version: int
) -> None:
    create(broker)
    body = produce_body("t", b"\x00" * 30)
    response = await call(broker, PRODUCE, version, body)
    answer = response.responses[0].partition_responses[0]
    assert answer.error_code == errors.UnsupportedVersionError.code
    assert broker.storage.high_watermark("t", 0) == 1


async def test_produce_refuses_invalid_acks(broker: Broker) -> None:
    create(broker)
    answer = await produce(broker, "t", batch(b"a"), acks=2)
    assert answer["error_code"] == errors.InvalidRequiredAcksError.code


async def test_produce_reports_storage_failure(clock: FakeClock) -> None:
    class FailingBackend(MemoryBackend):
        def append_nowait(self, *args: object, **kwargs: object) -> object:
            raise StorageFailure("disk full")

    broker = Broker(FailingBackend(clock), Config(), clock)
    create(broker)
    answer = await produce(broker, "t", batch(b"a"))
    assert answer["error_code"] == errors.KafkaStorageError.code


async def test_produce_waits_for_durability_when_the_storage_syncs_on_append(
    clock: FakeClock,
) -> None:
    waited: list[tuple[str, int, int]] = []

    class SyncingBackend(MemoryBackend):
        sync_on_append = True

        def wait_durable(self, topic: str, partition: int, offset: int) -> None:
            waited.append((topic, partition, offset))

    broker = Broker(SyncingBackend(clock), Config(), clock)
    create(broker)
    await produce(broker, "t", batch(b"a", b"b"))
    assert waited == [("t", 0, 3)]
    await call(broker, PRODUCE, 8, produce_body("t", batch(b"c"), acks=0))
    assert waited == [("t", 0, 3)]  # acks=0 is never answered: nothing to wait for


# --- idempotent producers --------------------------------------------------------


async def init_producer(broker: Broker) -> tuple[int, int]:
    response = await call(broker, INIT_PRODUCER_ID, 1,
                          {"transactional_id": None, "transaction_timeout_ms": 60000})
    assert response.error_code == 0
    return response.producer_id, response.producer_epoch


async def test_init_producer_id_hands_out_distinct_ids(broker: Broker) -> None:
    first, second = await init_producer(broker), await init_producer(broker)
    assert first[0] != second[0]
    assert first[1] == second[1] == 0


async def test_init_producer_id_refuses_transactions(broker: Broker) -> None:
    response = await call(broker, INIT_PRODUCER_ID, 0,
                          {"transactional_id": "tx-1", "transaction_timeout_ms": 60000})
    assert response.error_code == errors.InvalidRequestError.code


async def test_a_retried_idempotent_batch_is_stored_once(broker: Broker) -> None:
    create(broker)
    producer_id, epoch = await init_producer(broker)
    first = batch(b"a", b"b", producer_id=producer_id, producer_epoch=epoch, base_sequence=0)
    second = batch(b"c", producer_id=producer_id, producer_epoch=epoch, base_sequence=2)
    assert (await produce(broker, "t", first))["base_offset"] == 1
    assert (await produce(broker, "t", second))["base_offset"] == 3
    retry = await produce(broker, "t", first)
    assert (retry["error_code"], retry["base_offset"]) == (0, 1)
    assert broker.storage.high_watermark("t", 0) == 4


async def test_an_idempotent_batch_out_of_sequence_is_refused(broker: Broker) -> None:
    create(broker)
    producer_id, epoch = await init_producer(broker)
    await produce(broker, "t", batch(b"a", producer_id=producer_id, producer_epoch=epoch,
                                     base_sequence=0))
    gap = await produce(broker, "t", batch(b"c", producer_id=producer_id, producer_epoch=epoch,
                                           base_sequence=5))
    assert gap["error_code"] == errors.OutOfOrderSequenceNumberError.code
    assert broker.storage.high_watermark("t", 0) == 2


# --- Fetch ---------------------------------------------------------------------


@pytest.mark.parametrize("version", range(4, 12))
async def test_fetch_returns_stored_batches_and_bounds(broker: Broker, version: int) -> None:
    create(broker)
    sent = [batch(b"a", b"b"), batch(b"c")]
    for records in sent:
        await produce(broker, "t", records)
    answer = await fetch_one(broker, "t", 1, version=version)
    assert answer.error_code == 0
    assert answer.high_watermark == 4
    assert answer.last_stable_offset == 4
    if version >= 5:
        assert answer.log_start_offset == 1
    assert base_offsets(answer.records) == [1, 3]
    returned = bytearray(answer.records)
    set_base_offset(returned, 0)
    set_base_offset(returned, 0, len(sent[0]))
    assert bytes(returned) == b"".join(sent)


async def test_fetch_at_the_high_watermark_is_empty(broker: Broker) -> None:
    create(broker)
    await produce(broker, "t", batch(b"a"))
    answer = await fetch_one(broker, "t", 2)
    assert (answer.error_code, bytes(answer.records), answer.high_watermark) == (0, b"", 2)


@pytest.mark.parametrize("offset", [0, 3])
async def test_fetch_outside_the_log_is_offset_out_of_range(broker: Broker, offset: int) -> None:
    create(broker)
    await produce(broker, "t", batch(b"a"))
    answer = await fetch_one(broker, "t", offset)
    assert answer.error_code == errors.OffsetOutOfRangeError.code
    assert (answer.high_watermark, answer.log_start_offset) == (2, 1)


async def test_fetch_below_the_log_start_after_eviction(broker: Broker, clock: FakeClock) -> None:
    create(broker)
    await produce(broker, "t", batch(b"old"))
    clock.now += 10_000
    await produce(broker, "t", batch(b"new"))
    assert broker.storage.evict(clock.now, 5_000) == 1
    assert (await fetch_one(broker, "t", 1)).error_code == errors.OffsetOutOfRangeError.code
    answer = await fetch_one(broker, "t", 2)
    assert (answer.error_code, answer.log_start_offset, base_offsets(answer.records)) == (0, 2, [2])


async def test_fetch_of_an_unknown_topic(broker: Broker) -> None:
    assert (await fetch_one(broker, "nope", 1)).error_code == UNKNOWN_TOPIC


async def test_fetch_returns_a_first_batch_larger_than_every_limit(broker: Broker) -> None:
    create(broker)
    await produce(broker, "t", batch(b"x" * 5000))
    answer = await fetch_one(broker, "t", 1, max_bytes=100, partition_max_bytes=100)
    assert base_offsets(answer.records) == [1]


async def test_fetch_honours_partition_max_bytes(broker: Broker) -> None:
    create(broker)
    for _ in range(5):
        await produce(broker, "t", batch(b"x" * 1000))
    size = BatchHeader.parse(broker.storage.read("t", 0, 1, 1).records).size
    answer = await fetch_one(broker, "t", 1, partition_max_bytes=size * 2 + 10)
    assert base_offsets(answer.records) == [1, 2]


async def test_fetch_honours_max_bytes_across_partitions(broker: Broker) -> None:
    create(broker, "t", 3)
    for partition in range(3):
        await produce(broker, "t", batch(b"x" * 1000), partition=partition)
        await produce(broker, "t", batch(b"x" * 1000), partition=partition)
    size = BatchHeader.parse(broker.storage.read("t", 0, 1, 1).records).size
    body = fetch_body([("t", 0, 1), ("t", 1, 1), ("t", 2, 1)], max_bytes=size * 3)
    response = await call(broker, FETCH, 11, body)
    sizes = [len(base_offsets(answer.records)) for answer in response.responses[0].partitions]
    assert sizes == [2, 1, 0]  # whole batches only; the last partition reports bounds only
    assert [answer.high_watermark for answer in response.responses[0].partitions] == [3, 3, 3]


async def test_fetch_errors_are_per_partition(broker: Broker) -> None:
    # several partitions: the general path, where one partition alone takes a shorter one
    create(broker, "t", 2)
    await produce(broker, "t", batch(b"a"))
    body = fetch_body([("t", 0, 1), ("t", 7, 1), ("t", 1, 5)])
    response = await call(broker, FETCH, 11, body)
    answers = response.responses[0].partitions
    assert [answer.error_code for answer in answers] == [
        0, UNKNOWN_TOPIC, errors.OffsetOutOfRangeError.code]
    assert base_offsets(answers[0].records) == [1]
    assert (answers[2].high_watermark, answers[2].log_start_offset) == (1, 1)


async def test_fetch_long_poll_is_woken_by_a_produce(broker: Broker, autojump_clock: object
                                                     ) -> None:
    create(broker)
    answers: list[tuple[float, object]] = []

    async def consumer() -> None:
        start = trio.current_time()
        answer = await fetch_one(broker, "t", 1, max_wait_ms=30_000)
        answers.append((trio.current_time() - start, answer))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.sleep(2)
        assert not answers and broker.signals.waiting() == 1
        await produce(broker, "t", batch(b"wake up"))
    [(waited, answer)] = answers
    assert 2 <= waited < 2.1
    assert base_offsets(answer.records) == [1]  # type: ignore[attr-defined]
    assert broker.signals.waiting() == 0


@pytest.mark.parametrize("acks", [1, -1])
async def test_a_woken_long_poll_answers_before_the_produce_that_woke_it(
        broker: Broker, autojump_clock: object, acks: int) -> None:
    # End-to-end latency: the consumers waiting for a message get it before its
    # producer gets the acknowledgement (the broker runs one task at a time).
    create(broker)
    answered: list[str] = []

    async def consumer() -> None:
        await fetch_one(broker, "t", broker.storage.high_watermark("t", 0), max_wait_ms=30_000)
        answered.append("fetch")

    for _ in range(20):  # trio orders the tasks it wakes at random: try it often
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await trio.sleep(1)
            assert broker.signals.waiting() == 1
            answer = await produce(broker, "t", batch(b"wake up"), acks=acks)
            assert answer["error_code"] == 0
            answered.append("produce")
            assert broker.signals.unresumed == 0
    assert answered == ["fetch", "produce"] * 20


async def test_a_fetch_woken_through_several_partitions_is_counted_once_until_it_runs(
        broker: Broker, autojump_clock: object) -> None:
    signals = broker.signals
    woken: list[bool] = []

    async def waiter() -> None:
        woken.append(await signals.wait([("t", 0), ("t", 1)], 30))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(1)
        assert signals.notify("t", 0) and signals.notify("t", 1)  # the same fetch, twice
        assert signals.unresumed == 1 and not woken
    assert woken == [True] and signals.unresumed == 0


async def test_fetch_long_poll_ignores_other_partitions(broker: Broker, autojump_clock: object
                                                        ) -> None:
    create(broker, "t", 2)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        async def producer() -> None:
            await trio.sleep(1)
            await produce(broker, "t", batch(b"elsewhere"), partition=1)

        nursery.start_soon(producer)
        answer = await fetch_one(broker, "t", 1, partition=0, max_wait_ms=5_000)
    assert trio.current_time() - start == pytest.approx(5, abs=0.05)
    assert bytes(answer.records) == b""  # type: ignore[attr-defined]


async def test_fetch_waits_for_min_bytes(broker: Broker, autojump_clock: object) -> None:
    create(broker)
    start = trio.current_time()
    result: list[tuple[float, object]] = []

    async def consumer() -> None:
        answer = await fetch_one(broker, "t", 1, max_wait_ms=10_000, min_bytes=3000)
        result.append((trio.current_time() - start, answer))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        for _ in range(4):
            await trio.sleep(1)
            await produce(broker, "t", batch(b"x" * 1000))
    [(elapsed, answer)] = result
    assert 3 <= elapsed < 3.1  # three batches of ~1070 bytes reach 3000
    assert base_offsets(answer.records) == [1, 2, 3]  # type: ignore[attr-defined]


async def test_fetch_long_poll_answers_at_once_when_the_broker_stops(
    broker: Broker, autojump_clock: object
) -> None:
    create(broker)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fetch_one, broker, "t", 1)

        async def stop_soon() -> None:
            await trio.sleep(1)
            broker.signals.notify_all()

        nursery.start_soon(stop_soon)
        await fetch_one(broker, "t", 1, max_wait_ms=60_000)
    assert trio.current_time() - start < 1.1


# --- ListOffsets ---------------------------------------------------------------


async def list_offset(broker: Broker, timestamp: int, *, version: int = 5,
                      topic: str = "t") -> tuple[int, int, int]:
    body = {"replica_id": -1, "isolation_level": 0, "topics": [
        {"name": topic, "partitions": [
            {"partition_index": 0, "current_leader_epoch": -1, "timestamp": timestamp}]}]}
    response = await call(broker, LIST_OFFSETS, version, body)
    answer = response.topics[0].partitions[0]
    return answer.error_code, answer.timestamp, answer.offset


@pytest.mark.parametrize("version", range(1, 6))
async def test_list_offsets_earliest_and_latest(broker: Broker, version: int) -> None:
    create(broker)
    assert await list_offset(broker, -2, version=version) == (0, -1, 1)
    assert await list_offset(broker, -1, version=version) == (0, -1, 1)
    await produce(broker, "t", batch(b"a", b"b"))
    assert await list_offset(broker, -2, version=version) == (0, -1, 1)
    assert await list_offset(broker, -1, version=version) == (0, -1, 3)


async def test_list_offsets_by_timestamp_finds_the_exact_message(broker: Broker) -> None:
    create(broker)
    await produce(broker, "t", batch(b"a", b"b", timestamps=[1000, 2000]))
    await produce(broker, "t", batch(b"c", b"d", timestamps=[3000, 4000]))
    assert await list_offset(broker, 500) == (0, 1000, 1)
    assert await list_offset(broker, 1500) == (0, 2000, 2)
    assert await list_offset(broker, 3000) == (0, 3000, 3)
    assert await list_offset(broker, 3500) == (0, 4000, 4)
    assert await list_offset(broker, 4001) == (0, -1, -1)


async def test_list_offsets_of_an_unknown_topic(broker: Broker) -> None:
    assert (await list_offset(broker, -1, topic="nope"))[0] == UNKNOWN_TOPIC


# --- FindCoordinator -------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2])
async def test_find_coordinator_names_this_broker(broker: Broker, version: int) -> None:
    response = await call(broker, FIND_COORDINATOR, version, {"key": "group-1", "key_type": 0},
                          local_address=Address("192.0.2.7", 9999))
    assert (response.error_code, response.node_id, response.host, response.port) == (
        0, 0, "192.0.2.7", 9999)


async def test_find_coordinator_refuses_transactions(broker: Broker) -> None:
    response = await call(broker, FIND_COORDINATOR, 1, {"key": "tx", "key_type": 1})
    assert response.error_code == errors.InvalidRequestError.code


def test_requests_decode_from_the_registry_declarations() -> None:
    # Guard: the helpers build bodies every served version accepts.
    for version in range(3, 9):
        encode_request(PRODUCE, version, 1, produce_body("t", b""))
    for version in range(4, 12):
        encode_request(FETCH, version, 1, fetch_body([("t", 0, 1)]))
