"""Produce: check each record batch, number it, store it, wake the fetches waiting for it.

Work is per batch, never per record: a batch's fixed header and CRC-32C are
checked (magic 2, length, record count, checksum), the storage rewrites its
base offset and keeps its bytes as received (given the headers read here, so
it does not read them again). Every batch of a partition is
checked before any is written, so a bad batch stores nothing; errors are
per partition, as Kafka reports them.

Idempotent batches (with a producer id) go through ``ProducerStates``: a
retried batch is answered with its first copy's offset instead of being
stored twice; one out of sequence is refused.

``produce_nowait`` does all of that without blocking, and ``handle_produce``
answers at once with its result. With ``MINIKAFKA_FSYNC=always`` the answer
must wait until the data is on disk: ``handle_produce`` then returns an
awaitable that does that wait in a worker thread, so other connections
carry on meanwhile, and concurrent producers share one fsync.

acks=0 produces no response at all (Kafka's behaviour); if such a request
fails, the connection is closed instead, so the client notices and refreshes
its metadata, as Kafka does.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import attrs
import trio

from minikafka.protocol import errors
from minikafka.protocol.batch_header import (
    CONTROL_BIT,
    LOG_OVERHEAD,
    TRANSACTIONAL_BIT,
    BatchHeader,
    InvalidBatch,
    check_batch,
)
from minikafka.protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.unrolled import (
    UnrolledReader,
    UnrolledWriter,
    compile_unrolled_reader,
    compile_unrolled_writer,
)
from minikafka.storage.base import StorageError, StorageFailure, UnknownTopic

from ..broker import Broker, CloseConnection, Deferred, RequestContext
from ..idempotence import ACCEPT, Duplicate, Reject
from ..signals import PartitionSignals

__all__ = ["PendingSync", "answer_single_produce", "handle_produce", "produce_nowait",
           "read_single_produce"]

logger = logging.getLogger(__name__)

_VALID_ACKS = (0, 1, -1)
_T = TypeVar("_T")


@attrs.define
class PendingSync:
    """A stored partition whose answer waits until ``wait_durable`` says it is on disk."""

    topic: str
    partition: int
    next_offset: int
    response: dict[str, Any]


def _answer(index: int, error_code: int = 0, message: str | None = None, *,
            base_offset: int = -1, log_start_offset: int = -1) -> dict[str, Any]:
    return {
        "index": index,
        "error_code": error_code,
        "base_offset": base_offset,
        "log_append_time_ms": -1,  # the topic keeps the producer's CreateTime
        "log_start_offset": log_start_offset,
        "record_errors": [],
        "error_message": message,
    }


def _check(broker: Broker, records: Any, transactional: bool) -> list[BatchHeader]:
    """The headers of a partition's batches, or KafkaError saying why they are refused.

    Each batch is checked here once (``check_batch``: framing, magic, CRC-32C),
    and the storage is given these headers, so it does not check them again.
    """
    if not records:
        raise errors.CorruptMessageError("no record batch")
    end = len(records)
    limit = broker.config.max_message_bytes
    headers = []
    position = 0
    try:
        while position < end:
            header = check_batch(records, position)
            headers.append(header)
            # the size and flags without the header's properties: this runs per batch
            size = header.batch_length + LOG_OVERHEAD
            position += size
            if size > limit:
                raise errors.MessageTooLargeError(
                    f"batch of {size} bytes is above the limit of {limit}")
            count = header.records_count
            if count < 1 or header.last_offset_delta != count - 1:
                raise errors.CorruptMessageError(
                    f"batch says {count} records but last offset delta "
                    f"{header.last_offset_delta}")
            if header.attributes & CONTROL_BIT:
                raise errors.InvalidRecordError("clients may not write control batches")
            if transactional or header.attributes & TRANSACTIONAL_BIT:
                raise errors.InvalidRequestError("MiniKafka does not support transactions")
    except InvalidBatch as exc:
        raise errors.CorruptMessageError(str(exc)) from None
    if len(headers) > 1 and any(header.producer_id >= 0 for header in headers):
        raise errors.InvalidRecordError("an idempotent producer sends one batch per partition")
    return headers


# What storing one partition's batches came to: (error code, error message, base offset,
# log start offset, the next offset when something was stored, else None).
_Outcome = tuple[int, "str | None", int, int, "int | None"]


def _produce_partition(broker: Broker, peer: str, topic: str, index: int, records: Any,
                       transactional: bool) -> _Outcome:
    """Store one partition's batches; what that came to (see ``_Outcome``)."""
    storage = broker.storage
    try:
        headers = _check(broker, records, transactional)
        verdict = broker.producers.check(topic, index, headers[0])
        if verdict is not ACCEPT:
            if isinstance(verdict, Reject):
                raise errors.for_code(verdict.error_code)(verdict.message)
            assert isinstance(verdict, Duplicate)
            logger.debug("%s retried a batch of %s-%d already stored at %d",
                         peer, topic, index, verdict.base_offset)
            return 0, None, verdict.base_offset, storage.log_start_offset(topic, index), None
        if len(headers) == 1:
            batches = [records]
        else:
            view = memoryview(records)
            batches, position = [], 0
            for header in headers:
                size = header.batch_length + LOG_OVERHEAD
                batches.append(view[position : position + size])
                position += size
        result = storage.append_nowait(topic, index, batches, headers=headers)
    except errors.KafkaError as exc:
        logger.warning("%s: produce to %s-%d refused with %s: %s",
                       peer, topic, index, exc.name, exc.message)
        return exc.code, exc.message, -1, -1, None
    except UnknownTopic:
        return errors.UnknownTopicOrPartitionError.code, None, -1, -1, None
    except StorageError as exc:
        logger.error("produce to %s-%d failed in storage: %s", topic, index, exc)
        return errors.KafkaStorageError.code, str(exc), -1, -1, None
    broker.producers.record(topic, index, headers[0], result.base_offset)
    return 0, None, result.base_offset, result.log_start_offset, result.last_offset + 1


def produce_nowait(request: Any, ctx: RequestContext
                   ) -> tuple[dict[str, Any], list[PendingSync], bool]:
    """Check and store every partition's batches, and wake the fetches waiting for them.

    Returns the response body; when the storage acknowledges only after an
    fsync, the partitions still to be made durable before answering; and
    whether a waiting fetch was woken. Never blocks.
    """
    # The request is a construct Container: fields are read by key, a dict lookup,
    # where attribute access costs a failed attribute lookup first (20 times slower).
    acks = request["acks"]
    sync = acks != 0 and ctx.broker.storage.sync_on_append
    if ctx.version not in PRODUCE.served:
        refusal: tuple[int, str | None] | None = (
            errors.UnsupportedVersionError.code,
            f"Produce v{ctx.version} carries message format v0/v1; use v3 or later")
    elif acks not in _VALID_ACKS:
        refusal = (errors.InvalidRequiredAcksError.code, None)
    else:
        refusal = None
    transactional = request.get("transactional_id") is not None
    pending: list[PendingSync] = []
    woke = False
    responses = []
    for topic_data in request["topic_data"]:
        name = topic_data["name"]
        answers = []
        for data in topic_data["partition_data"]:
            index = data["index"]
            if refusal is not None:
                answers.append(_answer(index, *refusal))
                continue
            code, message, base_offset, log_start_offset, next_offset = _produce_partition(
                ctx.broker, ctx.peer, name, index, data["records"], transactional)
            answer = _answer(index, code, message, base_offset=base_offset,
                             log_start_offset=log_start_offset)
            answers.append(answer)
            if next_offset is not None:
                woke |= ctx.broker.signals.notify(name, index)
                if sync:
                    pending.append(PendingSync(name, index, next_offset, answer))
        responses.append({"name": name, "partition_responses": answers})
    return {"responses": responses, "throttle_time_ms": 0}, pending, woke


def _wait_durable(ctx: RequestContext, pending: list[PendingSync]) -> None:
    """Runs in a worker thread: block until every pending partition is on disk."""
    for item in pending:
        try:
            ctx.broker.storage.wait_durable(item.topic, item.partition, item.next_offset)
        except StorageFailure as exc:
            item.response.update(error_code=errors.KafkaStorageError.code,
                                 error_message=str(exc), base_offset=-1)


def handle_produce(request: Any, ctx: RequestContext) -> dict[str, Any] | Deferred | None:
    """The Produce response, or None for acks=0 (which Kafka never answers).

    Answered at once, unless the storage acknowledges only after an fsync
    (then deferred, without a bound, until it is on disk), or a fetch was
    woken (then deferred by two yields; see ``_after_woken_fetches``).
    """
    response, pending, woke = produce_nowait(request, ctx)
    if pending:
        return Deferred(_answer_when_durable(request, ctx, response, pending), None)
    if woke and request["acks"] != 0:
        return Deferred(_after_woken_fetches(ctx.broker.signals, response), 0.0)
    return _final(request, response)


async def _after_woken_fetches(signals: PartitionSignals, answer: _T) -> _T:
    """``answer``, once the fetches this produce woke have run.

    The consumers waiting for these messages get them first: their fetches run
    (and send) before this producer's acknowledgement is sent. Trio runs the
    tasks woken in one step in either order in the next, hence up to two
    yields: the second only when a woken fetch has not had its turn in the first.
    """
    await trio.lowlevel.cancel_shielded_checkpoint()
    if signals.unresumed:
        await trio.lowlevel.cancel_shielded_checkpoint()
    return answer


async def _answer_when_durable(request: Any, ctx: RequestContext, response: dict[str, Any],
                               pending: list[PendingSync]) -> dict[str, Any] | None:
    await trio.to_thread.run_sync(_wait_durable, ctx, pending)
    return _final(request, response)


def _final(request: Any, response: dict[str, Any]) -> dict[str, Any] | None:
    if request["acks"] == 0:
        failed = [
            f"{topic['name']}-{partition['index']}: {partition['error_code']}"
            for topic in response["responses"]
            for partition in topic["partition_responses"]
            if partition["error_code"]
        ]
        if failed:
            raise CloseConnection("acks=0 produce failed (" + ", ".join(failed) + ")")
        return None
    return response


# -- one topic, one partition: the shape of nearly every Produce ---------------------
#
# Such a request is read by code generated from the declarations for exactly that
# shape (``protocol.unrolled``): plain values, no Containers, and its response is
# written the same way. Everything else, including every request the general decoder
# would refuse, goes the general way (``handle_produce``), as do the cases that need
# more than one partition's answer: a version or acks value refused for the whole
# request, and an fsync before answering.

_REQUEST_LEAVES = ("request_api_key", "request_api_version", "correlation_id", "client_id",
                   "transactional_id", "acks", "timeout_ms", "topic_data_name",
                   "partition_data_index", "partition_data_records")
_UNROLLED_REQUEST = PRODUCE.requests[3]
_UNROLLED_VERSIONS = frozenset(
    version for version in PRODUCE.served
    if PRODUCE.requests[version] is _UNROLLED_REQUEST
    and PRODUCE.request_header_version(version) == 1)


def _unrolled_codecs() -> tuple[UnrolledReader, dict[int, UnrolledWriter]]:
    names, reader = compile_unrolled_reader(
        [REQUEST_HEADERS[1], _UNROLLED_REQUEST])
    if names != _REQUEST_LEAVES:
        raise RuntimeError(f"the Produce request declaration changed: its leaves are {names}")
    writers: dict[int, UnrolledWriter] = {}
    for version in sorted(_UNROLLED_VERSIONS):
        _, writers[version] = compile_unrolled_writer(
            [RESPONSE_HEADERS[PRODUCE.response_header_version(version)],
             PRODUCE.responses[version]],
            empty=frozenset({"record_errors"}))  # MiniKafka reports no per-record errors
    return reader, writers


_read_unrolled, _UNROLLED_WRITERS = _unrolled_codecs()


def read_single_produce(payload: bytes, version: int, broker: Broker) -> tuple[Any, ...] | None:
    """The request's values when it is one batch set for one partition that this
    path answers (see above), else None: then ``handle_produce`` answers it."""
    if version not in _UNROLLED_VERSIONS:
        return None
    values = _read_unrolled(memoryview(payload))
    if values is None:
        return None
    acks = values[5]
    if acks not in _VALID_ACKS or (acks != 0 and broker.storage.sync_on_append):
        return None
    return values


def answer_single_produce(values: tuple[Any, ...], broker: Broker, peer: str
                          ) -> bytes | Deferred | None:
    """What ``handle_produce`` answers for the request ``read_single_produce`` read,
    already encoded: the response payload, a Deferred one, or None for acks=0."""
    (_, version, correlation_id, _, transactional_id, acks, _, name, index,
     records) = values
    code, message, base_offset, log_start_offset, next_offset = _produce_partition(
        broker, peer, name, index, records, transactional_id is not None)
    woke = next_offset is not None and broker.signals.notify(name, index)
    if acks == 0:
        if code:
            raise CloseConnection(f"acks=0 produce failed ({name}-{index}: {code})")
        return None
    response = _UNROLLED_WRITERS[version](
        correlation_id=correlation_id, responses_name=name, partition_responses_index=index,
        partition_responses_error_code=code, partition_responses_base_offset=base_offset,
        partition_responses_log_append_time_ms=-1,
        partition_responses_log_start_offset=log_start_offset,
        partition_responses_error_message=message, throttle_time_ms=0)
    if woke:
        return Deferred(_after_woken_fetches(broker.signals, response), 0.0)
    return response
