"""The clients' sans-I/O core: options, batching, decoding, and plans as conversations."""

from __future__ import annotations

import datetime
import gc
import itertools
import logging
import pickle
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

from minikafka.client._core import (
    Accumulator,
    ConsumerOptions,
    ConsumerSession,
    Message,
    Pause,
    PendingMessage,
    PendingValues,
    Plan,
    ProducerOptions,
    ProducerSession,
    Request,
    SendAhead,
    Step,
    _metadata_request,
    decode_messages,
    fetch_reader,
    parse_address,
    poll,
    produce,
    produce_reader,
    run_to_completion,
    settle_produce,
    settle_single,
)
from minikafka.client.errors import ClientError
from minikafka.protocol.batch_header import BatchHeader, set_base_offset
from minikafka.protocol.codec import decode_response, encode_request, encode_response
from minikafka.protocol.compression import Codec, CodecUnavailable
from minikafka.protocol.errors import (
    MessageTooLargeError,
    RemoteProtocolError,
    UnknownTopicOrPartitionError,
)
from minikafka.protocol.records import (
    InvalidBatch,
    Record,
    build_batch,
    build_values_batch,
    checked_batches,
    parse_records,
    records_of,
)
from minikafka.protocol.registry import api_by_name


@pytest.mark.parametrize(("address", "expected"), [
    ("localhost:9092", ("localhost", 9092)),
    ("127.0.0.1:1", ("127.0.0.1", 1)),
    ("broker", ("broker", 9092)),
    ("[::1]:9093", ("::1", 9093)),
    ("[::1]", ("::1", 9092)),
    (" host:80 ", ("host", 80)),
])
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["", ":9092", "host:", "host:port", "host:70000", "::1",
                                     "[::1]x"])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="address"):
        parse_address(address)


def test_producer_options() -> None:
    assert ProducerOptions(acks="all").acks == -1
    assert ProducerOptions(compression="ZSTD").compression is Codec.ZSTD
    assert ProducerOptions(compression=None).compression is Codec.NONE
    with pytest.raises(ValueError, match="acks must be"):
        ProducerOptions(acks=2)
    with pytest.raises(ValueError, match="idempotent producer needs acks"):
        ProducerOptions(idempotent=True, acks=1)
    with pytest.raises(ValueError, match="linger must not be negative"):
        ProducerOptions(linger=-1)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        ProducerOptions(batch_size=0)
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        ConsumerOptions(max_bytes=0)


def message(value: bytes = b"x" * 76, topic: str = "t") -> PendingMessage:
    return PendingMessage.make(topic, value, None, None, 1_000)  # size 100 with its overhead


def test_accumulator_holds_messages_for_the_linger() -> None:
    queue = Accumulator(batch_size=1000, linger=0.5)
    queue.add(message(), now=10.0)
    queue.add(message(), now=10.2)
    assert queue.next_due() == 10.5
    assert queue.take(now=10.4) == []
    ((topic, batches),) = queue.take(now=10.5)
    assert topic == "t" and [len(batch) for batch in batches] == [2]
    assert len(queue) == 0 and queue.next_due() is None


def test_accumulator_sends_full_batches_at_once_and_keeps_the_rest() -> None:
    queue = Accumulator(batch_size=300, linger=60)
    for _ in range(7):
        queue.add(message(), now=0.0)
    assert queue.has_full_batch()
    ((_, batches),) = queue.take(now=1.0)
    assert [len(batch) for batch in batches] == [3, 3]
    assert len(queue) == 1
    ((_, rest),) = queue.take(now=1.0, force=True)
    assert [len(batch) for batch in rest] == [1]


def test_accumulator_gives_an_oversized_message_its_own_batch() -> None:
    queue = Accumulator(batch_size=150, linger=0)
    queue.add(message(), now=0.0)
    queue.add(message(b"x" * 500), now=0.0)
    queue.add(message(), now=0.0)
    ((_, batches),) = queue.take(now=0.0)
    assert [len(batch) for batch in batches] == [1, 1, 1]


def test_pending_message_before_and_after_sending() -> None:
    pending = PendingMessage.make("t", "text", "key", {"h": "v"}, 5)
    assert (pending.value, pending.key, pending.headers) == (b"text", b"key", (("h", b"v"),))
    assert not pending.done
    with pytest.raises(ClientError, match="not been sent yet"):
        pending.number  # noqa: B018 - the property raises
    pending.resolve(7)
    assert pending.done and pending.number == 7
    with pytest.raises(TypeError, match="each header must be"):
        PendingMessage.make("t", b"", None, [("h",)], 5)
    with pytest.raises(TypeError, match="topic must be"):
        PendingMessage.make("", b"", None, None, 5)


def test_pending_values_split_into_runs_as_the_accumulator_splits_batches() -> None:
    values: list[object] = ["x" * 76] * 7 + [bytearray(b"y" * 500), b"z" * 76]  # sizes 100, 524
    runs = PendingValues.split("t", values, 5, batch_size=300)
    assert [(run.count, run.size) for run in runs] == [(3, 300), (3, 300), (1, 100), (1, 524),
                                                       (1, 100)]
    assert runs[3].values == [b"y" * 500] and runs[0].values[0] == b"x" * 76
    assert [len(run.values) for run in PendingValues.split("t", values, 5, 10**6)] == [9]
    assert PendingValues.split("t", [], 5, 300) == []
    with pytest.raises(TypeError, match="value must be bytes or str, not int"):
        PendingValues.split("t", [b"a", 1], 5, 300)
    with pytest.raises(TypeError, match="topic must be"):
        PendingValues.split("", [b"a"], 5, 300)
    with pytest.raises(ClientError, match="not been sent yet"):
        runs[0].numbers  # noqa: B018 - the property raises
    runs[0].resolve(-1)  # acks=0
    assert runs[0].done and runs[0].numbers == [-1, -1, -1]


@pytest.mark.parametrize("build", [
    lambda: ProducerSession(ProducerOptions()).produce_request("t", b"batch"),
    lambda: subscribed().fetch_request(5, 0.5),
    lambda: subscribed().list_offsets_request(-2),
    lambda: _metadata_request("t"),
], ids=["Produce", "Fetch", "ListOffsets", "Metadata"])
def test_requests_encode_at_every_declared_version(build: Callable[[], Request]) -> None:
    request = build()
    for version in request.api.requests:
        assert encode_request(request.api, version, 1, request.body)


# --- decoding fetched records -------------------------------------------------


def subscribed(read_from: int = 1, **options: Any) -> ConsumerSession:
    session = ConsumerSession(ConsumerOptions(**options))
    session.subscribe("t", read_from)
    return session


def batch(first: int, count: int, **kwargs: Any) -> bytes:
    return build_batch([Record(first + i, 1_700_000_000_000 + i, None, b"%d" % (first + i))
                        for i in range(count)], **kwargs)


def test_decode_skips_records_below_the_position_inside_a_batch() -> None:
    messages, next_offset = subscribed().decode(batch(10, 5) + batch(15, 2), 12)
    assert [m.number for m in messages] == [12, 13, 14, 15, 16]
    assert [m.value for m in messages[:2]] == [b"12", b"13"]
    assert next_offset == 17


def test_decode_leaves_a_trailing_partial_batch_for_the_next_fetch() -> None:
    whole, cut = batch(1, 3), batch(4, 3)
    messages, next_offset = subscribed().decode(whole + cut[: len(cut) - 5], 1)
    assert [m.number for m in messages] == [1, 2, 3]
    assert next_offset == 4


def test_decode_steps_over_control_batches() -> None:
    marker = batch(3, 1, control=True)
    messages, next_offset = subscribed().decode(batch(1, 2) + marker + batch(4, 1), 1)
    assert [m.number for m in messages] == [1, 2, 4]
    assert next_offset == 5


def test_decoded_messages_are_read_only_values_with_a_utc_timestamp() -> None:
    records = [Record(1, 1_700_000_000_123, b"k", b"v", (("h", b"1"),)),
               Record(2, -1, None, None)]  # undated, null value
    first, second = subscribed().decode(build_batch(records), 1)[0]
    when = datetime.datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=datetime.UTC)
    assert first == Message("t", 1, b"v", b"k", [("h", b"1")], when)
    assert hash(first) == hash(Message("t", 1, b"v", b"k", (("h", b"1"),), when))
    assert first != Message("t", 1, b"v", b"k", (("h", b"1"),), when, partition=1)
    assert (second.value, second.key, second.headers, second.timestamp) == (b"", None, (), None)
    assert repr(first) == (f"Message(topic='t', number=1, value=b'v', key=b'k', "
                           f"headers=(('h', b'1'),), timestamp={when!r}, partition=0)")
    with pytest.raises(AttributeError):
        first.value = b"changed"  # type: ignore[misc]
    assert first.timestamp is first.timestamp  # converted once
    assert pickle.loads(pickle.dumps(second)) == second
    match first:
        case Message("t", 1, value, timestamp=stamp):
            assert (value, stamp) == (b"v", when)
        case _:
            pytest.fail("a Message matches its fields by position and name")


def test_decode_grows_the_fetch_when_one_batch_does_not_fit() -> None:
    session = subscribed(max_bytes=100)
    big = batch(1, 50)
    assert session.decode(big[:100], 1) == ([], 1)
    assert session.fetch_request(1, 0).body["max_bytes"] == 200
    messages, _ = session.decode(big, 1)
    assert len(messages) == 50
    assert session.fetch_request(51, 0).body["max_bytes"] == 100


# --- plans, as conversations ------------------------------------------------------


class Reply:
    """A response as the broker sends it, at the newest version it serves."""

    def __init__(self, api_name: str, body: dict[str, Any]) -> None:
        self.api = api_by_name(api_name)
        self.version = self.api.served.stop - 1
        self.payload = encode_response(self.api, self.version, 1, body)

    def to(self, request: Request) -> Any:
        """What the transport hands the plan that sent ``request``: the request's
        reading of the payload, or the decoded body."""
        assert request.api is self.api
        if request.read is not None:
            return request.read(self.version, self.payload)
        return decode_response(self.api, self.version, self.payload)[1]


def reply(api_name: str, body: dict[str, Any]) -> Reply:
    return Reply(api_name, body)


def fetch_reply(code: int, records: bytes = b"", log_start: int = 1, end: int = 0) -> Any:
    return reply("Fetch", {"throttle_time_ms": 0, "error_code": 0, "session_id": 0,
                           "responses": [{"topic": "t", "partitions": [{
                               "partition_index": 0, "error_code": code, "high_watermark": end,
                               "last_stable_offset": 0, "log_start_offset": log_start,
                               "aborted_transactions": None, "preferred_read_replica": -1,
                               "records": records}]}]})


def list_offsets_reply(offset: int, code: int = 0) -> Any:
    return reply("ListOffsets", {"throttle_time_ms": 0, "topics": [{"name": "t", "partitions": [{
        "partition_index": 0, "error_code": code, "timestamp": -1, "offset": offset,
        "leader_epoch": 0}]}]})


def produce_reply(code: int, base_offset: int) -> Any:
    return reply("Produce", {"throttle_time_ms": 0, "responses": [{"name": "t",
                 "partition_responses": [{"index": 0, "error_code": code,
                                          "base_offset": base_offset,
                                          "log_append_time_ms": -1, "log_start_offset": 1,
                                          "record_errors": [], "error_message": None}]}]})


def metadata_reply(code: int = 0) -> Any:
    return reply("Metadata", {"throttle_time_ms": 0, "brokers": [], "cluster_id": None,
                              "controller_id": 1, "authorized_operations": 0, "topics": [{
                                  "error_code": code, "name": "t", "is_internal": False,
                                  "authorized_operations": 0, "partitions": [] if code else [{
                                      "error_code": 0, "partition_index": 0, "leader_id": 1,
                                      "leader_epoch": 0, "replica_nodes": [1],
                                      "isr_nodes": [1], "offline_replicas": []}]}]})


class Conversation:
    """Plays the broker for a plan: checks each step and answers it from a script."""

    def __init__(self, script: list[tuple[str, Any]]) -> None:
        self.script = list(script)
        self.seen: list[Any] = []
        self.time = 0.0

    def clock(self) -> float:
        return self.time

    def handle(self, step: Step) -> Any:
        expected, answer = self.script.pop(0)
        if isinstance(step, Pause):
            assert expected == "pause", f"plan paused; the script expected {expected}"
            self.time += step.seconds
            return None
        if isinstance(step, SendAhead):
            name = f"ahead {step.request.api.name}"
            assert name == expected, f"plan sent {name}; the script expected {expected}"
            self.seen.append(step)
            return None
        names = "+".join(request.api.name for request in step.requests)
        assert names == expected, f"plan sent {names}; the script expected {expected}"
        self.seen.append(step)
        answers = answer if isinstance(answer, list) else [answer]
        return [reply.to(request) for reply, request in zip(answers, step.requests, strict=True)]

    def run(self, plan: Plan[Any]) -> Any:
        result = run_to_completion(plan, self.handle)
        assert self.script == [], f"the plan stopped before {self.script[0][0]}"
        return result


def test_poll_from_an_expired_position_resumes_at_the_log_start(
        caplog: pytest.LogCaptureFixture) -> None:
    session = subscribed(read_from=1)
    talk = Conversation([
        ("Fetch", fetch_reply(1)),  # OFFSET_OUT_OF_RANGE
        ("ListOffsets", list_offsets_reply(40)),  # earliest
        ("Fetch", fetch_reply(0, batch(40, 2), log_start=40)),
    ])
    with caplog.at_level(logging.WARNING, logger="minikafka.client"):
        messages = talk.run(poll(session, 1.0, talk.clock))
    assert [m.number for m in messages] == [40, 41]
    assert session.position == 42
    assert talk.seen[1].requests[0].body["topics"][0]["partitions"][0]["timestamp"] == -2
    assert talk.seen[2].requests[0].body["topics"][0]["partitions"][0]["fetch_offset"] == 40
    assert caplog.messages == ["t: messages 1 to 39 have expired; continuing from 40, "
                               "the log start"]


def test_poll_sends_the_next_fetch_ahead_while_more_is_written() -> None:
    session = subscribed(read_from=1)
    talk = Conversation([
        ("Fetch", fetch_reply(0, batch(1, 3), end=9)),
        ("ahead Fetch", None),  # sent before these three are decoded
    ])
    assert [m.number for m in talk.run(poll(session, 1.0, talk.clock))] == [1, 2, 3]
    ahead = talk.seen[1].request
    assert ahead.wait == 0 and ahead.body["max_wait_ms"] == 0
    assert ahead.body["topics"][0]["partitions"][0]["fetch_offset"] == 4
    # the next poll asks for the response of that same request; at the end, nothing goes ahead
    talk = Conversation([("Fetch", fetch_reply(0, batch(4, 5), end=9))])
    assert [m.number for m in talk.run(poll(session, 1.0, talk.clock))] == [4, 5, 6, 7, 8]
    assert talk.seen[0].requests[0] is ahead
    # a request sent ahead for another position is not used
    session.subscribe("t", 1)
    talk = Conversation([("Fetch", fetch_reply(0, batch(1, 1), end=9)), ("ahead Fetch", None)])
    talk.run(poll(session, 1.0, talk.clock))
    session.position = 7
    talk = Conversation([("Fetch", fetch_reply(0, batch(7, 2), end=9))])
    talk.run(poll(session, 1.0, talk.clock))
    assert talk.seen[0].requests[0].body["topics"][0]["partitions"][0]["fetch_offset"] == 7


def test_poll_beyond_the_end_waits_and_returns_nothing() -> None:
    session = subscribed(read_from=100)
    talk = Conversation([
        ("Fetch", fetch_reply(1)),
        ("ListOffsets", list_offsets_reply(1)),  # the log starts below: we are past its end
        ("pause", None),
        ("Fetch", fetch_reply(1)),
        ("ListOffsets", list_offsets_reply(1)),
        ("pause", None),
        ("Fetch", fetch_reply(1)),
        ("ListOffsets", list_offsets_reply(1)),
    ])
    assert talk.run(poll(session, 0.1, talk.clock)) == []
    assert session.position == 100


def test_poll_on_a_missing_topic_waits_for_it() -> None:
    session = ConsumerSession(ConsumerOptions())
    session.subscribe("t", "latest")
    talk = Conversation([
        ("ListOffsets", list_offsets_reply(-1, code=3)),
        ("pause", None),
        ("ListOffsets", list_offsets_reply(-1, code=3)),
        ("pause", None),
        ("ListOffsets", list_offsets_reply(1)),
        ("Fetch", fetch_reply(0, batch(1, 1))),
    ])
    messages = talk.run(poll(session, 1.0, talk.clock))
    assert [m.number for m in messages] == [1]
    # "latest" on a missing topic became "earliest": nothing written yet is skipped
    earliest = talk.seen[1].requests[0].body["topics"][0]["partitions"][0]["timestamp"]
    assert earliest == -2


def test_produce_retries_retriable_errors_then_resolves_numbers() -> None:
    session = ProducerSession(ProducerOptions())
    batches = [[message(b"a"), message(b"b")]]
    talk = Conversation([
        ("Metadata", metadata_reply(code=5)),  # LEADER_NOT_AVAILABLE: being created
        ("pause", None),
        ("Metadata", metadata_reply()),
        ("Produce", produce_reply(6, -1)),  # NOT_LEADER_OR_FOLLOWER
        ("pause", None),
        ("Produce", produce_reply(0, 7)),
    ])
    talk.run(produce(session, "t", batches, talk.clock))
    assert [m.number for m in batches[0]] == [7, 8]
    assert "t" in session.known_topics


def test_produce_fails_every_message_on_a_lasting_error() -> None:
    session = ProducerSession(ProducerOptions())
    session.known_topics.add("t")
    batches = [[message()], [message()]]
    talk = Conversation([("Produce+Produce", [produce_reply(0, 1), produce_reply(10, -1)])])
    with pytest.raises(MessageTooLargeError, match="producing to 't'"):
        talk.run(produce(session, "t", batches, talk.clock))
    assert batches[0][0].number == 1
    with pytest.raises(MessageTooLargeError):
        batches[1][0].number  # noqa: B018 - the property raises


def test_produce_gives_up_on_retriable_errors_at_the_retry_timeout() -> None:
    session = ProducerSession(ProducerOptions(retry_timeout=0.1))
    talk = Conversation([("Metadata", metadata_reply(code=3)), ("pause", None)] * 2
                        + [("Metadata", metadata_reply(code=3))])
    with pytest.raises(UnknownTopicOrPartitionError, match=r"gave up after 0\.1 s"):
        talk.run(produce(session, "t", [[message()]], talk.clock))


def test_produce_pipelines_five_batches_at_a_time_with_idempotent_sequences() -> None:
    session = ProducerSession(ProducerOptions(idempotent=True))
    session.known_topics.add("t")
    batches = [[message(), message()] for _ in range(7)]
    offsets = itertools.count(1, 2)
    init = reply("InitProducerId", {"throttle_time_ms": 0, "error_code": 0,
                                    "producer_id": 42, "producer_epoch": 3})
    talk = Conversation([
        ("InitProducerId", init),
        ("+".join(["Produce"] * 5), [produce_reply(0, next(offsets)) for _ in range(5)]),
        ("Produce+Produce", [produce_reply(0, next(offsets)) for _ in range(2)]),
    ])
    talk.run(produce(session, "t", batches, talk.clock))
    assert [m.number for b in batches for m in b] == list(range(1, 15))
    sent = [request.body["topic_data"][0]["partition_data"][0]["records"]
            for step in talk.seen[1:] for request in step.requests]
    headers = [(h.producer_id, h.producer_epoch, h.base_sequence)
               for h in (BatchHeader.parse(records) for records in sent)]
    assert headers == [(42, 3, sequence) for sequence in range(0, 14, 2)]



def test_produce_numbers_values_queued_together_after_single_messages() -> None:
    session = ProducerSession(ProducerOptions(idempotent=True))
    session.known_topics.add("t")
    session.producer_id, session.producer_epoch = 42, 3
    first: list[Any] = [message(), *PendingValues.split("t", [b"a", b"b", b"c"], 5, 1000)]
    second: list[Any] = [*PendingValues.split("t", [b"d", b"e"], 5, 1000), message()]
    talk = Conversation([("Produce+Produce", [produce_reply(0, 10), produce_reply(0, 14)])])
    talk.run(produce(session, "t", [first, second], talk.clock))
    assert (first[0].number, first[1].numbers) == (10, [11, 12, 13])
    assert (second[0].numbers, second[1].number) == ([14, 15], 16)
    sent = [request.body["topic_data"][0]["partition_data"][0]["records"]
            for request in talk.seen[0].requests]
    assert [BatchHeader.parse(records).base_sequence for records in sent] == [0, 4]
    assert [r.value for r in records_of(parse_records(sent[0]))] == [b"x" * 76, b"a", b"b", b"c"]


def test_a_missing_codec_library_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    compressed = batch(1, 3, compression=Codec.ZSTD)
    monkeypatch.setitem(sys.modules, "cramjam", None)  # as if the extra were not installed
    with pytest.raises(CodecUnavailable, match=re.escape(
            "zstd compression needs the 'compression' extra: "
            "pip install 'minikafka[compression]'")):
        subscribed().decode(compressed, 1)
    # gzip needs only the standard library
    messages, _ = subscribed().decode(batch(1, 2, compression=Codec.GZIP), 1)
    assert [m.value for m in messages] == [b"1", b"2"]


def _fetched_records(count: int) -> bytes:
    batch = bytearray(build_values_batch([b"%06d" % number for number in range(count)],
                                         1_700_000_000_000))
    set_base_offset(batch, 1)
    return bytes(batch)


@pytest.mark.parametrize("enabled", [True, False])
def test_decoding_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    # decoding a large fetch pauses collection; the application's setting must
    # survive it, whether decoding succeeds or fails
    records = _fetched_records(1000)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        messages, next_offset = decode_messages("t", 0, records, checked_batches(records), 1)
        assert [m.value for m in messages[:2]] == [b"000000", b"000001"]
        assert next_offset == 1001
        assert gc.isenabled() is enabled
        corrupt = bytearray(records)
        corrupt[-1] = 5  # the last record claims headers it does not have
        with pytest.raises(InvalidBatch):
            decode_messages("t", 0, bytes(corrupt), checked_batches(records), 1)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_a_message_sent_alone_is_settled_as_the_plan_settles_it() -> None:
    session = ProducerSession(ProducerOptions())
    message = PendingMessage.make("t", b"v", None, None, 0)
    assert session.single_request("t", message) is None  # topic not known yet: the plan asks
    session.known_topics.add("t")
    request = session.single_request("t", message)
    assert request is not None
    [topic] = request.body["topic_data"]
    [partition] = topic["partition_data"]
    assert (topic["name"], partition["index"], message.partition) == ("t", 0, 0)
    assert records_of(parse_records(partition["records"]))[0].value == b"v"

    assert settle_single("t", message, produce_reply(0, 41).to(request)) is True
    assert message.number == 41

    retried = PendingMessage.make("t", b"v", None, None, 0)
    assert session.single_request("t", retried) is not None
    # NOT_LEADER_OR_FOLLOWER: worth retrying, so the plan takes over; nothing resolved
    assert settle_single("t", retried, produce_reply(6, -1).to(request)) is False
    assert not retried.done
    with pytest.raises(MessageTooLargeError):
        settle_single("t", retried, produce_reply(10, -1).to(request))

    unanswered = PendingMessage.make("t", b"v", None, None, 0)
    assert session.single_request("t", unanswered) is not None
    assert settle_single("t", unanswered, None) is True  # acks=0
    assert unanswered.number == -1


def test_an_idempotent_producer_sends_through_the_plan() -> None:
    # sequence numbers and the producer id are the plan's to manage
    session = ProducerSession(ProducerOptions(idempotent=True))
    session.known_topics.add("t")
    assert session.single_request("t", PendingMessage.make("t", b"v", None, None, 0)) is None


def _produce_payload(version: int, topics: list[tuple[str, list[tuple[int, int, int]]]]) -> bytes:
    return encode_response(api_by_name("Produce"), version, 1, {
        "throttle_time_ms": 0, "responses": [{"name": name, "partition_responses": [
            {"index": index, "error_code": code, "base_offset": offset, "log_append_time_ms": -1,
             "log_start_offset": 1, "record_errors": [], "error_message": "why" if code else None}
            for index, code, offset in partitions]} for name, partitions in topics]})


@pytest.mark.parametrize("version", [3, 8, 9])
def test_the_produce_reader_finds_its_partition_in_any_response(version: int) -> None:
    read = produce_reader("t", 1)
    assert read(version, _produce_payload(version, [("t", [(1, 0, 40)])])) == (0, None, 40)
    why = "why" if version >= 8 else None
    assert read(version, _produce_payload(version, [("t", [(1, 6, -1)])])) == (6, why, -1)
    # another shape: read by the general decoder
    assert read(version, _produce_payload(version, [("u", [(1, 0, 3)]), ("t", [(0, 0, 9),
                                                                             (1, 0, 12)])])
                ) == (0, None, 12)
    # no result for the partition: the plan refuses it
    for topics in ([("u", [(1, 0, 3)])], [("t", [(0, 0, 3)])], []):
        outcome = read(version, _produce_payload(version, topics))
        assert outcome[0] is None
        with pytest.raises(RemoteProtocolError, match="no result"):
            settle_produce("t", [PendingMessage.make("t", b"v", None, None, 0)], outcome)
    with pytest.raises(RemoteProtocolError):  # bad bytes: the decoder's error
        read(version, _produce_payload(version, [("t", [(1, 0, 40)])])[:-1])


def _fetch_payload(error: int, topics: list[tuple[str, list[tuple[int, int]]]]) -> bytes:
    return encode_response(api_by_name("Fetch"), 11, 1, {
        "throttle_time_ms": 0, "error_code": error, "session_id": 0, "responses": [{
            "topic": name, "partitions": [{
                "partition_index": index, "error_code": code, "high_watermark": 9,
                "last_stable_offset": 9, "log_start_offset": 1, "aborted_transactions": None,
                "preferred_read_replica": -1, "records": b"r%d" % index}
                for index, code in partitions]} for name, partitions in topics]})


def test_the_fetch_reader_finds_its_partition_in_any_response() -> None:
    read = fetch_reader("t", 0)
    code, end, records = read(11, _fetch_payload(0, [("t", [(0, 0)])]))
    assert (code, end, bytes(records or b"")) == (0, 9, b"r0")
    code, end, records = read(11, _fetch_payload(0, [("u", [(0, 0)]), ("t", [(1, 0), (0, 1)])]))
    assert (code, end, bytes(records or b"")) == (1, 9, b"r0")
    assert read(11, _fetch_payload(0, [("u", [(0, 0)])]))[0] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    assert read(11, _fetch_payload(0, []))[0] == 3
    assert read(11, _fetch_payload(0, [("t", [(1, 0)])]))[0] == 3
    assert read(11, _fetch_payload(0, [("t", [(1, 0)]), ("t", [(0, 0)])]))[0] == 0
    assert read(11, _fetch_payload(71, [("t", [(0, 0)])]))[0] == 71  # the response's own error
    assert read(11, _fetch_payload(71, []))[0] == 71
