"""Fetch: whole record batches from the requested offsets, with long polling.

``fetch_nowait`` reads what is there now and decides whether that is enough
(at least ``min_bytes``, or an error to report); ``handle_fetch`` calls it
and answers at once when it is. When it is not, ``handle_fetch`` returns a
long poll to await, which sleeps until a produce to one of the requested
partitions wakes it or ``max_wait_ms`` runs out, then answers with whatever
there is.

Byte limits follow Kafka: each partition gets at most
``partition_max_bytes`` and the response at most ``max_bytes``, except that
the first batch of the first partition with data is returned whole even when
it is larger, so a consumer can never be stuck behind a big batch. Only
whole batches are sent.

There are no transactions, so the last stable offset equals the high
watermark and no transaction is ever aborted. Fetch sessions (KIP-227) are
answered with session id 0: every response is a full one.
"""

from __future__ import annotations

from typing import Any

import trio

from minikafka.protocol import errors
from minikafka.protocol.batch_header import BatchHeader, InvalidBatch
from minikafka.protocol.codec import RequestHeader
from minikafka.protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.unrolled import (
    UnrolledReader,
    UnrolledWriter,
    compile_unrolled_reader,
    compile_unrolled_writer,
)
from minikafka.storage.base import (
    OffsetOutOfRange,
    ReadResult,
    Storage,
    StorageError,
    UnknownTopic,
)

from ..broker import Deferred, RequestContext

__all__ = ["encode_single_fetch", "fetch_nowait", "handle_fetch", "read_single_fetch"]


def _partition(index: int, error_code: int = 0, *, high_watermark: int = -1,
               log_start_offset: int = -1, records: Any = b"") -> dict[str, Any]:
    return {
        "partition_index": index,
        "error_code": error_code,
        "high_watermark": high_watermark,
        "last_stable_offset": high_watermark,
        "log_start_offset": log_start_offset,
        "aborted_transactions": None,
        "preferred_read_replica": -1,
        "records": records,
    }


def _whole_batches(records: Any, budget: int) -> Any:
    """The longest run of whole batches at the start of ``records`` within ``budget`` bytes."""
    if len(records) <= budget:
        return records
    end = 0
    try:
        while end < len(records):
            size = BatchHeader.parse(records, end).size
            if end + size > budget:
                break
            end += size
    except InvalidBatch:
        pass
    return memoryview(records)[:end] if end else b""


def _bounds(storage: Storage, topic: str, index: int, offset: int) -> ReadResult:
    """The partition's bounds without reading (OffsetOutOfRange as ``read`` would raise)."""
    log_start = storage.log_start_offset(topic, index)
    high_watermark = storage.high_watermark(topic, index)
    if not log_start <= offset <= high_watermark:
        raise OffsetOutOfRange(offset, log_start, high_watermark)
    return ReadResult(b"", high_watermark, log_start)


def fetch_nowait(request: Any, ctx: RequestContext, *, final: bool) -> dict[str, Any] | None:
    """The Fetch response if it should be sent now, else None (wait for more data).

    With ``final`` it always returns the response (the wait is over).
    """
    # The request is a construct Container: fields are read by key, a dict lookup,
    # where attribute access costs a failed attribute lookup first (20 times slower).
    storage = ctx.broker.storage
    topics = request["topics"]
    if len(topics) == 1 and len(topics[0]["partitions"]) == 1:
        return _fetch_one_nowait(request, storage, topics[0], final)
    remaining = request["max_bytes"]
    total = 0
    has_error = False
    responses = []
    for topic in request["topics"]:
        name = topic["topic"]
        partitions = []
        for wanted in topic["partitions"]:
            index = wanted["partition"]
            offset = wanted["fetch_offset"]
            budget = min(wanted["partition_max_bytes"], remaining)
            try:
                if total == 0:
                    # Nothing sent yet: the first batch goes out whole, whatever its size.
                    result = storage.read(name, index, offset, max(budget, 1))
                    records = result.records
                    if len(records) > budget:
                        first = BatchHeader.parse(records).size
                        records = _whole_batches(records, max(budget, first))
                elif budget <= 0:
                    # Out of room: report the bounds, send no records.
                    result = _bounds(storage, name, index, offset)
                    records = b""
                else:
                    result = storage.read(name, index, offset, budget)
                    records = _whole_batches(result.records, budget)
            except UnknownTopic:
                has_error = True
                partitions.append(_partition(index, errors.UnknownTopicOrPartitionError.code))
                continue
            except OffsetOutOfRange as exc:
                has_error = True
                partitions.append(_partition(index, errors.OffsetOutOfRangeError.code,
                                             high_watermark=exc.next_offset,
                                             log_start_offset=exc.log_start))
                continue
            except StorageError:
                has_error = True
                partitions.append(_partition(index, errors.KafkaStorageError.code))
                continue
            total += len(records)
            remaining -= len(records)
            partitions.append(_partition(index, high_watermark=result.high_watermark,
                                         log_start_offset=result.log_start_offset,
                                         records=records))
        responses.append({"topic": name, "partitions": partitions})
    if not (final or has_error or total >= request["min_bytes"]):
        return None
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": responses}


def _fetch_one_nowait(request: Any, storage: Storage, topic: Any, final: bool
                      ) -> dict[str, Any] | None:
    """``fetch_nowait`` for a request of one topic and one partition (nearly every
    consumer's): the same answer, without the loops, and without building a
    response that is not sent yet."""
    name = topic["topic"]
    wanted = topic["partitions"][0]
    index = wanted["partition"]
    budget = min(wanted["partition_max_bytes"], request["max_bytes"])
    try:
        # The only partition: its first batch goes out whole, whatever its size.
        result = storage.read(name, index, wanted["fetch_offset"], budget if budget > 0 else 1)
    except UnknownTopic:
        partition = _partition(index, errors.UnknownTopicOrPartitionError.code)
    except OffsetOutOfRange as exc:
        partition = _partition(index, errors.OffsetOutOfRangeError.code,
                               high_watermark=exc.next_offset, log_start_offset=exc.log_start)
    except StorageError:
        partition = _partition(index, errors.KafkaStorageError.code)
    else:
        records = result.records
        if len(records) > budget:
            first = BatchHeader.parse(records).size
            records = _whole_batches(records, max(budget, first))
        if not (final or len(records) >= request["min_bytes"]):
            return None
        high_watermark = result.high_watermark
        partition = {
            "partition_index": index,
            "error_code": 0,
            "high_watermark": high_watermark,
            "last_stable_offset": high_watermark,
            "log_start_offset": result.log_start_offset,
            "aborted_transactions": None,
            "preferred_read_replica": -1,
            "records": records,
        }
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0,
            "responses": [{"topic": name, "partitions": [partition]}]}


def _requested(request: Any) -> list[tuple[str, int]]:
    return [(topic["topic"], wanted["partition"])
            for topic in request["topics"] for wanted in topic["partitions"]]


def handle_fetch(request: Any, ctx: RequestContext) -> dict[str, Any] | Deferred:
    """Answer when ``min_bytes`` are there, or when ``max_wait_ms`` has passed.

    What can be answered now is answered at once; otherwise a long poll of
    at most ``max_wait_ms`` (see ``dispatch.start_response``).
    """
    max_wait_s = max(request["max_wait_ms"], 0) / 1000
    partitions = _requested(request)
    final = max_wait_s == 0 or ctx.broker.stopping or not partitions
    response = fetch_nowait(request, ctx, final=final)
    if response is not None:
        return response
    return Deferred(_long_poll(request, ctx, partitions, trio.current_time() + max_wait_s),
                    max_wait_s)


async def _long_poll(request: Any, ctx: RequestContext, partitions: list[tuple[str, int]],
                     deadline: float) -> dict[str, Any]:
    # handle_fetch has just found too little, and nothing has run since (the first
    # await is the wait, which registers before it sleeps): wait before reading again.
    signals = ctx.broker.signals
    while True:
        await signals.wait(partitions, deadline - trio.current_time())
        final = trio.current_time() >= deadline or ctx.broker.stopping
        response = fetch_nowait(request, ctx, final=final)
        if response is not None:
            return response


# -- one topic, one partition: the shape of nearly every consumer's fetch -------------
#
# Such a request (without forgotten topics: no fetch sessions here) is read by code
# generated from the declarations for exactly that shape (``protocol.unrolled``), as
# plain dicts and lists; any other, including any the general decoder would refuse,
# goes to the general decoder. A response of that shape, with no aborted transactions
# (there are none), is written the same way.

def _unrolled_readers() -> dict[int, UnrolledReader]:
    readers: dict[int, UnrolledReader] = {}
    for version in FETCH.served:
        _, readers[version] = compile_unrolled_reader(
            [REQUEST_HEADERS[FETCH.request_header_version(version)], FETCH.requests[version]],
            empty=frozenset({"forgotten_topics_data"}), nested=True)
    return readers


_UNROLLED_READERS = _unrolled_readers()


def read_single_fetch(payload: bytes, fixed: RequestHeader
                      ) -> tuple[RequestHeader, dict[str, Any]] | None:
    """(header, body) as the general decoder gives them, for a request of that shape
    in a served version; None for any other."""
    reader = _UNROLLED_READERS.get(fixed.api_version)
    values = reader(memoryview(payload)) if reader is not None else None
    if values is None:
        return None
    header, body = values
    return RequestHeader(fixed.api_key, fixed.api_version, fixed.correlation_id,
                         header["client_id"]), body


def _unrolled_writers() -> dict[int, UnrolledWriter]:
    writers: dict[int, UnrolledWriter] = {}
    for version in FETCH.served:
        _, writers[version] = compile_unrolled_writer(
            [RESPONSE_HEADERS[FETCH.response_header_version(version)], FETCH.responses[version]],
            null=frozenset({"aborted_transactions"}))
    return writers


_UNROLLED_WRITERS = _unrolled_writers()


def encode_single_fetch(version: int, correlation_id: int, response: dict[str, Any]
                        ) -> bytes | None:
    """The payload the general encoder makes of ``response`` when it has that shape,
    else None."""
    topics = response["responses"]
    if len(topics) != 1:
        return None
    topic = topics[0]
    partitions = topic["partitions"]
    if len(partitions) != 1:
        return None
    partition = partitions[0]
    if partition["aborted_transactions"] is not None:
        return None
    return _UNROLLED_WRITERS[version](
        correlation_id=correlation_id, throttle_time_ms=response["throttle_time_ms"],
        error_code=response["error_code"], session_id=response["session_id"],
        responses_topic=topic["topic"], partitions_partition_index=partition["partition_index"],
        partitions_error_code=partition["error_code"],
        partitions_high_watermark=partition["high_watermark"],
        partitions_last_stable_offset=partition["last_stable_offset"],
        partitions_log_start_offset=partition["log_start_offset"],
        partitions_preferred_read_replica=partition["preferred_read_replica"],
        partitions_records=partition["records"])
