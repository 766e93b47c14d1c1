"""A Produce to one partition answered by the unrolled path is answered as the general path would.

Two brokers take the same requests in the same order: one through
``dispatch.start_response`` (which answers a one-partition Produce through
``read_single_produce``/``answer_single_produce``), the other through the
general decoder, ``handle_produce`` and the general encoder. Their responses
must be the same bytes, the same absence of a response (acks=0), or the same
refusal, and their logs must hold the same batches.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from minikafka.protocol.codec import (
    decode_peeked_request,
    encode_request,
    encode_response,
    peek_request_header,
)
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.server.broker import Broker, CloseConnection, Deferred, RequestContext
from minikafka.server.config import Config
from minikafka.server.dispatch import start_response
from minikafka.server.handlers.produce import handle_produce, read_single_produce
from minikafka.storage.memory import MemoryBackend

from .conftest import FakeClock
from .helpers import LOCAL, batch, produce_body


def _broker(**config: Any) -> Broker:
    clock = FakeClock()
    broker = Broker(MemoryBackend(clock), Config(**config), clock)
    broker.storage.create_topic("t", 2)
    return broker


async def _general(payload: bytes, broker: Broker) -> bytes | None:
    fixed = peek_request_header(payload)
    header, body = decode_peeked_request(PRODUCE, fixed, payload)
    result = handle_produce(body, RequestContext(broker, header, LOCAL, "test"))
    if isinstance(result, Deferred):
        result = await result.answer
    if result is None:
        return None
    return encode_response(PRODUCE, header.api_version, header.correlation_id, result)


async def _single(payload: bytes, broker: Broker) -> bytes | None:
    result = start_response(payload, broker, local_address=LOCAL, peer="test")
    if isinstance(result, Deferred):
        result = await result.answer
    assert result is None or isinstance(result, bytes)
    return result


async def _outcome(path: Any, payload: bytes, broker: Broker) -> Any:
    try:
        return await path(payload, broker)
    except CloseConnection as exc:
        return ("closed", str(exc))


def _log(broker: Broker) -> list[bytes]:
    storage = broker.storage
    return [bytes(storage.read("t", partition, storage.log_start_offset("t", partition),
                               1 << 20).records)
            for partition in range(2)]


_IDEMPOTENT = {"producer_id": 1000, "producer_epoch": 0}
_STEPS: list[tuple[str, dict[str, Any], bool]] = [
    # (what, request body, whether it takes the unrolled path)
    ("plain", produce_body("t", batch(b"a")), True),
    ("two records", produce_body("t", batch(b"a", b"b"), partition=1), True),
    ("acks=1", produce_body("t", batch(b"c"), acks=1), True),
    ("acks=0", produce_body("t", batch(b"d"), acks=0), True),
    ("acks=0 refused", produce_body("nope", batch(b"d"), acks=0), True),
    ("unknown topic", produce_body("nope", batch(b"e")), True),
    ("unknown partition", produce_body("t", batch(b"e"), partition=5), True),
    ("corrupt batch", produce_body("t", batch(b"f")[:-1] + b"X"), True),
    ("no records", produce_body("t", None), True),
    ("empty records", produce_body("t", b""), True),
    ("two batches", produce_body("t", batch(b"g") + batch(b"h", b"i")), True),
    ("transactional", produce_body("t", batch(b"j"), transactional_id="tx"), True),
    ("too large", produce_body("t", batch(b"k" * 2000)), True),
    ("idempotent first", produce_body("t", batch(b"l", base_sequence=0, **_IDEMPOTENT)), True),
    ("idempotent next", produce_body("t", batch(b"m", base_sequence=1, **_IDEMPOTENT)), True),
    ("idempotent retry", produce_body("t", batch(b"m", base_sequence=1, **_IDEMPOTENT)), True),
    ("out of sequence", produce_body("t", batch(b"n", base_sequence=7, **_IDEMPOTENT)), True),
    ("invalid acks", produce_body("t", batch(b"o"), acks=2), False),
    ("two partitions", {**produce_body("t", batch(b"p")), "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": batch(b"p")},
                                         {"index": 1, "records": batch(b"q")}]}]}, False),
    ("no topics", {**produce_body("t", None), "topic_data": []}, False),
]


@pytest.mark.parametrize("version", range(3, 9))
async def test_single_partition_produce_answers_as_the_general_path(version: int) -> None:
    single, general = _broker(max_message_bytes=1000), _broker(max_message_bytes=1000)
    for correlation_id, (what, body, unrolled) in enumerate(_STEPS):
        payload = encode_request(PRODUCE, version, correlation_id, body)
        assert (read_single_produce(payload, version, single) is not None) == unrolled, what
        expected = await _outcome(_general, payload, general)
        assert await _outcome(_single, payload, single) == expected, what
        assert _log(single) == _log(general), what


async def test_a_frame_the_general_decoder_refuses_is_refused() -> None:
    broker = _broker()
    payload = encode_request(PRODUCE, 8, 1, produce_body("t", batch(b"a")))
    for cut in (len(payload) - 1, 20, 12):
        assert read_single_produce(payload[:cut], 8, broker) is None
        with pytest.raises(CloseConnection, match="Produce v8 request"):
            start_response(payload[:cut], broker, local_address=LOCAL)
    with pytest.raises(CloseConnection, match="trailing"):
        start_response(payload + b"\x00", broker, local_address=LOCAL)
    assert _log(broker) == [b"", b""]


async def test_a_woken_fetch_answers_before_the_producer() -> None:
    broker = _broker()
    order: list[str] = []

    async def fetch() -> None:
        await broker.signals.wait([("t", 0)], 5.0)
        order.append("fetch")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fetch)
        await trio.testing.wait_all_tasks_blocked()
        result = start_response(encode_request(PRODUCE, 8, 1, produce_body("t", batch(b"a"))),
                                broker, local_address=LOCAL)
        assert isinstance(result, Deferred)
        await result.answer
        order.append("produce")
    assert order == ["fetch", "produce"]


async def test_fsync_before_answering_takes_the_general_path() -> None:
    broker = _broker()
    broker.storage.sync_on_append = True  # type: ignore[misc]
    payload = encode_request(PRODUCE, 8, 1, produce_body("t", batch(b"a")))
    assert read_single_produce(payload, 8, broker) is None
    acks_0 = encode_request(PRODUCE, 8, 1, produce_body("t", batch(b"a"), acks=0))
    assert read_single_produce(acks_0, 8, broker) is not None
