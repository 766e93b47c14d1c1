"""The storage contract, run against every backend (see conftest.BACKENDS).

It carries every scenario of the original system's backing-store contract
(first number, per-topic numbering, eviction in all its cases, unknown
topics, emptied topics, read positions) and what Kafka's clients rely on
besides: byte budgets in whole batches, timestamp lookup, topic management.
"""

from __future__ import annotations

import threading

import pytest

from minikafka.protocol.batch_header import BatchHeader, InvalidBatch
from minikafka.storage.base import (
    FIRST_OFFSET,
    InvalidPartitions,
    InvalidTopicConfig,
    InvalidTopicName,
    OffsetOutOfRange,
    Storage,
    TopicAlreadyExists,
    UnknownTopic,
)

from .batches import as_stored, headers_of, make_batch, sized_batch, values_of
from .conftest import FakeClock

HOUR = 3_600_000


def append_one(store: Storage, topic: str, value: bytes, partition: int = 0) -> int:
    return store.append(topic, partition, [make_batch([value])]).base_offset


def read_values(store: Storage, topic: str, offset: int, partition: int = 0) -> list[bytes]:
    """Every value from ``offset`` on (skipping records before it in the first batch)."""
    result = store.read(topic, partition, offset, 1 << 30)
    return [value for number, value in values_of(result.records) if number >= offset]


# -- numbering -------------------------------------------------------------


def test_first_message_in_a_new_store_is_number_one(store: Storage) -> None:
    store.create_topic("t")
    assert append_one(store, "t", b"a") == FIRST_OFFSET == 1
    assert store.log_start_offset("t", 0) == 1
    assert store.high_watermark("t", 0) == 2


def test_second_message_in_a_topic_is_number_two(store: Storage) -> None:
    store.create_topic("t")
    append_one(store, "t", b"a")
    assert append_one(store, "t", b"b") == 2
    assert read_values(store, "t", 1) == [b"a", b"b"]


def test_numbers_are_allocated_per_topic_and_partition(store: Storage) -> None:
    store.create_topic("a")
    store.create_topic("b", partitions=2)
    assert [append_one(store, "a", b"x") for _ in range(3)] == [1, 2, 3]
    assert append_one(store, "b", b"y") == 1
    assert append_one(store, "b", b"z", partition=1) == 1
    assert append_one(store, "a", b"x") == 4
    assert append_one(store, "b", b"y") == 2


def test_a_batch_takes_one_number_per_record(store: Storage) -> None:
    store.create_topic("t")
    result = store.append("t", 0, [make_batch([b"a", b"b", b"c"])])
    assert (result.base_offset, result.last_offset) == (1, 3)
    second = store.append("t", 0, [make_batch([b"d"]), make_batch([b"e", b"f"])])
    assert (second.base_offset, second.last_offset) == (4, 6)
    assert store.high_watermark("t", 0) == 7
    assert values_of(store.read("t", 0, 1, 1 << 20).records) == [
        (1, b"a"), (2, b"b"), (3, b"c"), (4, b"d"), (5, b"e"), (6, b"f"),
    ]


def test_batches_are_stored_byte_for_byte_with_their_new_base_offset(store: Storage) -> None:
    store.create_topic("t")
    first, second = make_batch([b"a", b"b"], timestamp=5), make_batch([b"c"], timestamp=9)
    store.append("t", 0, [first, memoryview(second)])
    records = bytes(store.read("t", 0, 1, 1 << 20).records)
    assert records == as_stored(first, 1) + as_stored(second, 3)
    assert [h.base_offset for h in headers_of(records)] == [1, 3]  # CRCs still hold


def test_append_reports_store_time_and_log_start(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    result = store.append("t", 0, [make_batch([b"a"], timestamp=12)])
    assert result.append_time_ms == clock.now  # the server's time, not the client's
    assert result.log_start_offset == 1


def test_an_empty_or_malformed_append_is_refused_and_stores_nothing(store: Storage) -> None:
    store.create_topic("t")
    with pytest.raises(ValueError):
        store.append("t", 0, [])
    good = make_batch([b"a"])
    with pytest.raises(InvalidBatch):
        store.append("t", 0, [good, good[:-1]])  # length field disagrees with the bytes
    with pytest.raises(InvalidBatch):
        store.append("t", 0, [b"\x00" * 20])
    assert store.high_watermark("t", 0) == 1
    assert append_one(store, "t", b"b") == 1


def test_append_with_the_headers_the_caller_parsed_stores_the_same(store: Storage) -> None:
    store.create_topic("t")
    first, second = make_batch([b"a", b"b"], timestamp=5), make_batch([b"c"], timestamp=9)
    headers = [BatchHeader.parse(first), BatchHeader.parse(second)]
    result = store.append_nowait("t", 0, [first, memoryview(second)], headers=headers)
    assert (result.base_offset, result.last_offset) == (1, 3)
    assert store.append("t", 0, [first], headers=headers[:1]).base_offset == 4
    records = bytes(store.read("t", 0, 1, 1 << 20).records)
    assert records == as_stored(first, 1) + as_stored(second, 3) + as_stored(first, 4)
    assert store.offset_for_timestamp("t", 0, 9) == 3  # the given max timestamps were used


def test_append_with_headers_that_do_not_match_is_refused_and_stores_nothing(
    store: Storage,
) -> None:
    store.create_topic("t")
    short, long = make_batch([b"a"]), make_batch([b"a", b"bb"])
    with pytest.raises(ValueError):
        store.append("t", 0, [short, short], headers=[BatchHeader.parse(short)])
    with pytest.raises(InvalidBatch):  # the header's length is not the batch's
        store.append("t", 0, [short], headers=[BatchHeader.parse(long)])
    assert store.high_watermark("t", 0) == 1


def test_concurrent_appends_get_distinct_contiguous_numbers(store: Storage) -> None:
    store.create_topic("t")
    batch = make_batch([b"a", b"b"])
    bases: list[int] = []

    def producer() -> None:
        for _ in range(50):
            bases.append(store.append("t", 0, [batch]).base_offset)

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(bases) == list(range(1, 401, 2))
    headers = headers_of(store.read("t", 0, 1, 1 << 30).records)
    assert [h.base_offset for h in headers] == list(range(1, 401, 2))


def test_append_nowait_then_wait_durable_is_an_append(store: Storage) -> None:
    store.create_topic("t")
    result = store.append_nowait("t", 0, [make_batch([b"a"])])
    store.wait_durable("t", 0, result.last_offset + 1)
    assert result.base_offset == 1
    assert read_values(store, "t", 1) == [b"a"]
    assert isinstance(store.sync_on_append, bool)


# -- reading ---------------------------------------------------------------


def test_reading_an_unknown_topic_is_an_error_naming_the_topic(store: Storage) -> None:
    with pytest.raises(UnknownTopic, match="no-such-topic") as caught:
        store.read("no-such-topic", 0, 1, 1024)
    assert caught.value.topic == "no-such-topic"
    store.create_topic("known")
    with pytest.raises(UnknownTopic, match="known-3"):
        store.read("known", 3, 1, 1024)
    for call in (
        lambda: store.append("ghost", 0, [make_batch()]),
        lambda: store.high_watermark("ghost", 0),
        lambda: store.log_start_offset("ghost", 0),
        lambda: store.offset_for_timestamp("ghost", 0, 0),
        lambda: store.topic_config("ghost"),
        lambda: store.append("known", -1, [make_batch()]),
    ):
        with pytest.raises(UnknownTopic):
            call()


def test_read_from_advances_past_what_was_returned(store: Storage) -> None:
    store.create_topic("t")
    batch = make_batch([b"a", b"b"])
    for _ in range(5):
        store.append("t", 0, [batch])
    position, seen = 1, list[int]()
    while True:
        result = store.read("t", 0, position, 2 * len(batch))  # two batches per read
        headers = headers_of(result.records)
        if not headers:
            break
        assert len(headers) == 2 or headers[-1].last_offset == 10
        assert headers[0].base_offset == position
        seen.extend(h.base_offset for h in headers)
        position = headers[-1].last_offset + 1
    assert seen == [1, 3, 5, 7, 9]
    assert position == store.high_watermark("t", 0) == 11


def test_reading_at_the_high_watermark_returns_nothing(store: Storage) -> None:
    store.create_topic("t")
    empty = store.read("t", 0, 1, 1024)
    assert (bytes(empty.records), empty.high_watermark, empty.log_start_offset) == (b"", 1, 1)
    append_one(store, "t", b"a")
    assert bytes(store.read("t", 0, 2, 1024).records) == b""


def test_reading_outside_the_log_is_offset_out_of_range(store: Storage) -> None:
    store.create_topic("t")
    append_one(store, "t", b"a")
    for offset in (0, 3, -1):
        with pytest.raises(OffsetOutOfRange) as caught:
            store.read("t", 0, offset, 1024)
        assert (caught.value.log_start, caught.value.next_offset) == (1, 2)


def test_a_read_from_inside_a_batch_returns_the_whole_batch(store: Storage) -> None:
    store.create_topic("t")
    store.append("t", 0, [make_batch([b"a", b"b", b"c"]), make_batch([b"d", b"e"])])
    for offset, first_base in [(1, 1), (2, 1), (3, 1), (4, 4), (5, 4)]:
        headers = headers_of(store.read("t", 0, offset, 1 << 20).records)
        assert headers[0].base_offset == first_base
    assert read_values(store, "t", 2) == [b"b", b"c", b"d", b"e"]


def test_the_byte_budget_counts_whole_batches(store: Storage) -> None:
    store.create_topic("t")
    sizes = [200, 300, 400, 500]
    for size in sizes:
        store.append("t", 0, [sized_batch(size)])

    def read_sizes(budget: int, offset: int = 1) -> list[int]:
        return [h.size for h in headers_of(store.read("t", 0, offset, budget).records)]

    assert read_sizes(1) == [200]  # at least one whole batch, even over budget
    assert read_sizes(0) == [200]
    assert read_sizes(199) == [200]
    assert read_sizes(200) == [200]
    assert read_sizes(499) == [200]
    assert read_sizes(500) == [200, 300]
    assert read_sizes(899) == [200, 300]
    assert read_sizes(900) == [200, 300, 400]
    assert read_sizes(10_000) == sizes
    assert read_sizes(10, offset=4) == [500]


def test_a_batch_larger_than_the_budget_is_returned_whole(store: Storage) -> None:
    store.create_topic("t")
    big = sized_batch(300_000)
    store.append("t", 0, [big])
    store.append("t", 0, [make_batch([b"small"])])
    records = store.read("t", 0, 1, 1_000).records
    assert bytes(records) == as_stored(big, 1)


# -- timestamps ------------------------------------------------------------


def test_offset_for_timestamp_finds_the_first_batch_at_or_after_it(store: Storage) -> None:
    store.create_topic("t")
    assert store.offset_for_timestamp("t", 0, 0) is None  # empty log
    for timestamp in (100, 200, 300):
        store.append("t", 0, [make_batch([b"x", b"y"], timestamp=timestamp)])
    # Batch timestamps are the records' maximum: 101, 201, 301.
    assert store.offset_for_timestamp("t", 0, 0) == 1
    assert store.offset_for_timestamp("t", 0, 101) == 1
    assert store.offset_for_timestamp("t", 0, 102) == 3
    assert store.offset_for_timestamp("t", 0, 201) == 3
    assert store.offset_for_timestamp("t", 0, 250) == 5
    assert store.offset_for_timestamp("t", 0, 301) == 5
    assert store.offset_for_timestamp("t", 0, 302) is None


def test_offset_for_timestamp_with_timestamps_out_of_order(store: Storage) -> None:
    store.create_topic("t")
    for timestamp in (500, 100, 300, 900, 200):
        store.append("t", 0, [make_batch([b"x"], timestamp=timestamp)])
    assert store.offset_for_timestamp("t", 0, 50) == 1
    assert store.offset_for_timestamp("t", 0, 500) == 1
    assert store.offset_for_timestamp("t", 0, 501) == 4
    assert store.offset_for_timestamp("t", 0, 900) == 4
    assert store.offset_for_timestamp("t", 0, 901) is None


def test_offset_for_timestamp_ignores_evicted_batches(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    store.append("t", 0, [make_batch([b"old"], timestamp=900)])
    clock.advance(2 * HOUR)
    store.append("t", 0, [make_batch([b"new"], timestamp=100)])
    store.append("t", 0, [make_batch([b"newer"], timestamp=800)])
    assert store.offset_for_timestamp("t", 0, 500) == 1
    assert store.evict(clock.now, HOUR) == 1
    assert store.offset_for_timestamp("t", 0, 500) == 3
    assert store.offset_for_timestamp("t", 0, 50) == 2
    assert store.offset_for_timestamp("t", 0, 850) is None


# -- eviction --------------------------------------------------------------


def test_eviction_on_an_empty_store(store: Storage, clock: FakeClock) -> None:
    assert store.evict(clock.now, 0) == 0
    store.create_topic("t")
    assert store.evict(clock.now + HOUR, 0) == 0
    assert (store.log_start_offset("t", 0), store.high_watermark("t", 0)) == (1, 1)


def test_eviction_when_no_message_is_old_enough(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    for value in (b"a", b"b", b"c"):
        append_one(store, "t", value)
        clock.advance(1_000)
    assert store.evict(clock.now, HOUR) == 0
    assert read_values(store, "t", 1) == [b"a", b"b", b"c"]
    assert store.log_start_offset("t", 0) == 1


def test_eviction_when_all_messages_are_old_enough(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    store.append("t", 0, [make_batch([b"a", b"b"])])
    append_one(store, "t", b"c")
    clock.advance(HOUR + 1)
    assert store.evict(clock.now, HOUR) == 3
    assert store.log_start_offset("t", 0) == store.high_watermark("t", 0) == 4
    result = store.read("t", 0, 4, 1 << 20)
    assert bytes(result.records) == b""
    assert (result.high_watermark, result.log_start_offset) == (4, 4)
    assert store.evict(clock.now, HOUR) == 0  # nothing left to evict


def test_eviction_when_only_some_messages_are_old_enough(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    append_one(store, "t", b"old-1")
    append_one(store, "t", b"old-2")
    clock.advance(30 * 60_000)
    append_one(store, "t", b"young-3")
    clock.advance(30 * 60_000)
    append_one(store, "t", b"young-4")
    clock.advance(1)
    assert store.evict(clock.now, HOUR) == 2
    assert store.log_start_offset("t", 0) == 3
    assert read_values(store, "t", 3) == [b"young-3", b"young-4"]
    with pytest.raises(OffsetOutOfRange):
        store.read("t", 0, 1, 1024)  # evicted messages are never served


def test_a_message_exactly_as_old_as_the_retention_is_kept(
    store: Storage, clock: FakeClock
) -> None:
    store.create_topic("t")
    append_one(store, "t", b"a")
    clock.advance(HOUR)
    assert store.evict(clock.now, HOUR) == 0
    clock.advance(1)
    assert store.evict(clock.now, HOUR) == 1


def test_eviction_across_topics(store: Storage, clock: FakeClock) -> None:
    store.create_topic("a")
    store.create_topic("b", partitions=2)
    append_one(store, "a", b"a-old")
    append_one(store, "b", b"b0-old")
    append_one(store, "b", b"b1-old", partition=1)
    clock.advance(2 * HOUR)
    append_one(store, "a", b"a-new")
    append_one(store, "b", b"b1-new", partition=1)
    assert store.evict(clock.now, HOUR) == 3
    assert read_values(store, "a", 2) == [b"a-new"]
    assert store.log_start_offset("b", 0) == store.high_watermark("b", 0) == 2
    assert read_values(store, "b", 2, partition=1) == [b"b1-new"]


def test_retention_counts_from_store_time_not_client_time(
    store: Storage, clock: FakeClock
) -> None:
    store.create_topic("t")
    store.append("t", 0, [make_batch([b"ancient"], timestamp=0)])  # the client says 1970
    store.append("t", 0, [make_batch([b"future"], timestamp=clock.now + 10 * HOUR)])
    assert store.evict(clock.now, HOUR) == 0
    clock.advance(HOUR + 1)
    assert store.evict(clock.now, HOUR) == 2


def test_reading_an_emptied_topic_returns_nothing_and_keeps_the_position(
    store: Storage, clock: FakeClock
) -> None:
    store.create_topic("t")
    for value in (b"a", b"b", b"c"):
        append_one(store, "t", value)
    result = store.read("t", 0, 1, 1 << 20)
    position = headers_of(result.records)[-1].last_offset + 1
    assert position == 4
    clock.advance(HOUR + 1)
    store.evict(clock.now, HOUR)
    emptied = store.read("t", 0, position, 1 << 20)
    assert bytes(emptied.records) == b""
    assert emptied.high_watermark == position == emptied.log_start_offset
    # Nothing was returned, so the position stays; the next message lands there.
    assert append_one(store, "t", b"d") == position
    assert read_values(store, "t", position) == [b"d"]


def test_numbers_keep_increasing_across_eviction(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    assert [append_one(store, "t", b"x") for _ in range(5)] == [1, 2, 3, 4, 5]
    clock.advance(HOUR + 1)
    assert store.evict(clock.now, HOUR) == 5
    assert append_one(store, "t", b"y") == 6
    clock.advance(HOUR + 1)
    assert store.evict(clock.now, HOUR) == 1
    assert append_one(store, "t", b"z") == 7
    assert store.log_start_offset("t", 0) == 7


def test_a_topic_retention_overrides_the_default(store: Storage, clock: FakeClock) -> None:
    store.create_topic("short", config={"retention.ms": "1000"})
    store.create_topic("forever", config={"retention.ms": "-1"})
    store.create_topic("default")
    for topic in ("short", "forever", "default"):
        append_one(store, topic, b"x")
    clock.advance(2_000)
    assert store.evict(clock.now, HOUR) == 1
    assert store.log_start_offset("short", 0) == 2
    clock.advance(100 * HOUR)
    assert store.evict(clock.now, HOUR) == 1
    assert store.log_start_offset("default", 0) == 2
    assert store.log_start_offset("forever", 0) == 1


def test_eviction_with_unlimited_retention_keeps_everything(
    store: Storage, clock: FakeClock
) -> None:
    store.create_topic("t")
    append_one(store, "t", b"x")
    clock.advance(1000 * HOUR)
    assert store.evict(clock.now, -1) == 0
    assert read_values(store, "t", 1) == [b"x"]


def test_store_times_never_go_backwards(store: Storage, clock: FakeClock) -> None:
    store.create_topic("t")
    first = store.append("t", 0, [make_batch()])
    clock.advance(-10 * HOUR)  # the wall clock was set back
    second = store.append("t", 0, [make_batch()])
    assert second.append_time_ms == first.append_time_ms
    assert store.evict(first.append_time_ms + HOUR, HOUR) == 0
    assert store.evict(first.append_time_ms + HOUR + 1, HOUR) == 2


# -- topics ----------------------------------------------------------------


def test_topics_are_listed_with_their_partition_counts(store: Storage) -> None:
    assert store.topics() == {}
    store.create_topic("a")
    store.create_topic("b", partitions=3, config={"cleanup.policy": "delete"})
    assert store.topics() == {"a": 1, "b": 3}
    assert store.topic_config("a") == {}
    assert store.topic_config("b") == {"cleanup.policy": "delete"}


def test_creating_an_existing_topic_is_refused(store: Storage) -> None:
    store.create_topic("t")
    append_one(store, "t", b"keep")
    with pytest.raises(TopicAlreadyExists, match="t"):
        store.create_topic("t", partitions=2)
    assert store.topics() == {"t": 1}
    assert read_values(store, "t", 1) == [b"keep"]


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "../escape", "/abs", "a b", "tab\t", "ünïcode", "x" * 250, "a\x00b",
     "a\\b", "a:b", "~clean-shutdown"],
)
def test_illegal_topic_names_are_refused(store: Storage, name: str) -> None:
    with pytest.raises(InvalidTopicName):
        store.create_topic(name)
    assert store.topics() == {}


@pytest.mark.parametrize("name", ["a", "A.b_c-9", "...", "x" * 249, "-0", "t-1"])
def test_legal_topic_names_work(store: Storage, name: str) -> None:
    store.create_topic(name)
    assert append_one(store, name, b"v") == 1
    assert store.topics() == {name: 1}


def test_bad_partition_counts_and_configs_are_refused(store: Storage) -> None:
    for count in (0, -1):
        with pytest.raises(InvalidPartitions):
            store.create_topic("t", partitions=count)
    for value in ("soon", "1.5", "-2"):
        with pytest.raises(InvalidTopicConfig, match=r"retention\.ms"):
            store.create_topic("t", config={"retention.ms": value})
    assert store.topics() == {}


def test_deleting_a_topic_removes_its_messages(store: Storage) -> None:
    store.create_topic("t", partitions=2)
    store.create_topic("other")
    append_one(store, "t", b"a")
    append_one(store, "other", b"b")
    store.delete_topic("t")
    assert store.topics() == {"other": 1}
    with pytest.raises(UnknownTopic, match="t"):
        store.read("t", 0, 1, 1024)
    with pytest.raises(UnknownTopic):
        store.delete_topic("t")
    assert read_values(store, "other", 1) == [b"b"]


def test_a_recreated_topic_starts_again_at_one(store: Storage) -> None:
    store.create_topic("t", config={"retention.ms": "5"})
    for _ in range(3):
        append_one(store, "t", b"old")
    store.delete_topic("t")
    store.create_topic("t")
    assert store.topic_config("t") == {}
    assert store.read("t", 0, 1, 1024).high_watermark == 1
    assert append_one(store, "t", b"new") == 1
    assert read_values(store, "t", 1) == [b"new"]


def test_add_partitions_grows_a_topic(store: Storage) -> None:
    store.create_topic("t")
    append_one(store, "t", b"a")
    store.add_partitions("t", 3)
    assert store.topics() == {"t": 3}
    assert append_one(store, "t", b"b", partition=2) == 1
    assert append_one(store, "t", b"c") == 2
    for total in (3, 2):
        with pytest.raises(InvalidPartitions):
            store.add_partitions("t", total)
    with pytest.raises(UnknownTopic):
        store.add_partitions("ghost", 2)
    assert store.topics() == {"t": 3}


def test_flush_keeps_everything_readable(store: Storage) -> None:
    store.create_topic("t")
    append_one(store, "t", b"a")
    store.flush()
    assert read_values(store, "t", 1) == [b"a"]


def test_read_results_are_whole_valid_batches(store: Storage) -> None:
    store.create_topic("t")
    for i in range(20):
        store.append("t", 0, [make_batch([b"r%d" % i] * (i % 3 + 1), timestamp=i)])
    for offset in range(1, store.high_watermark("t", 0)):
        for budget in (1, 150, 1000):
            records = store.read("t", 0, offset, budget).records
            headers = headers_of(records)
            assert headers and headers[0].base_offset <= offset <= headers[0].last_offset
            assert all(isinstance(h, BatchHeader) for h in headers)
