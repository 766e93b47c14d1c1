"""The clients' logic, with no I/O: options, messages, producer and consumer state, plans.

Everything a producer or consumer decides lives here; the trio and the
blocking transports only move bytes and keep time. The multi-step
exchanges (produce, with retries; poll, with its recovery from an expired
position) are written once, as *plans*: generators that yield what they
need done and receive the outcome::

    Send(requests)  ->  one decoded response body per request (None where
                        the broker sends no response), in request order
    Pause(seconds)  ->  None, once that much time has passed

A transport runs a plan by sending its requests over its connection
(reconnecting and resending when the connection is lost) and sleeping when
asked. Plans read the time through a ``clock`` callable the transport
passes in, so trio's virtual clock drives them in tests.
"""

from __future__ import annotations

import datetime
import gc
import logging
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar, final

import attrs

from minikafka.protocol.api import Api
from minikafka.protocol.batch_header import BatchHeader
from minikafka.protocol.codec import decode_response
from minikafka.protocol.compression import Codec
from minikafka.protocol.errors import KafkaError, RemoteProtocolError, error_for_code, for_code
from minikafka.protocol.records import (
    RecordBatchBuilder,
    RecordMaker,
    build_values_batch,
    checked_batches,
    decode_records,
)
from minikafka.protocol.registry import api_by_name
from minikafka.protocol.unrolled import ResponseReader

from ._partitioner import StickyPartitions, partition_for_key
from .errors import ClientClosed, ClientError

__all__ = [
    "Accumulator",
    "ConsumerOptions",
    "ConsumerSession",
    "Header",
    "Message",
    "Pause",
    "Pending",
    "PendingMessage",
    "PendingValues",
    "Plan",
    "ProducerOptions",
    "ProducerSession",
    "ReadFrom",
    "Request",
    "Send",
    "SendAhead",
    "Step",
    "decode_messages",
    "parse_address",
    "run_to_completion",
]

logger = logging.getLogger("minikafka.client")

T = TypeVar("T")
Header = tuple[str, bytes | None]
ReadFrom = int | Literal["earliest", "latest"]
Clock = Callable[[], float]

_PRODUCE = api_by_name("Produce")
_FETCH = api_by_name("Fetch")
_METADATA = api_by_name("Metadata")
_LIST_OFFSETS = api_by_name("ListOffsets")

_EARLIEST_TIMESTAMP = -2  # ListOffsets: the log start offset
_LATEST_TIMESTAMP = -1  # ListOffsets: the offset the next message will get
_OFFSET_OUT_OF_RANGE = 1
_UNKNOWN_TOPIC_OR_PARTITION = 3
_LEADER_NOT_AVAILABLE = 5
_OUT_OF_ORDER_SEQUENCE_NUMBER = 45
_DUPLICATE_SEQUENCE_NUMBER = 46  # the batch was written before; its retry was dropped
# Produce requests in flight at once, as Kafka's producer allows (and the
# most an idempotent producer may have: brokers remember five batches).
MAX_IN_FLIGHT = 5
_NO_TOPIC_ID = uuid.UUID(int=0)  # Metadata v10+: ask by name
_PARTITION = 0  # the partition consumers read without a group (producers spread by key)
_RECORD_OVERHEAD = 24  # generous bytes of framing per record, for batch-size estimates


# --- addresses and options --------------------------------------------------


def parse_address(address: str, default_port: int = 9092) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``, or a bare host) as ``(host, port)``."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"broker address must be 'HOST:PORT', not {address!r}")
    text = address.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"broker address must be 'HOST:PORT', not {address!r}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise ValueError(f"broker address {address!r} has no port after ':'")
    elif ":" in text:
        raise ValueError(f"broker address {address!r}: write IPv6 addresses as [::1]:9092")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"broker address {address!r} has no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"broker address {address!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def _acks(value: int | str) -> int:
    if value == "all":
        return -1
    if value not in (0, 1, -1):
        raise ValueError(f"acks must be 0, 1, -1 or 'all', not {value!r}")
    return int(value)


def _codec(value: Codec | str | int | None) -> Codec:
    if value is None:
        return Codec.NONE
    if isinstance(value, str):
        try:
            return Codec[value.upper()]
        except KeyError:
            raise ValueError(
                f"compression must be one of none, gzip, snappy, lz4, zstd; not {value!r}"
            ) from None
    return Codec(value)


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


def _not_negative(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must not be negative, not {value!r}")


@attrs.frozen(kw_only=True)
class ProducerOptions:
    """A producer's settings; each is a keyword argument of ``Producer``.

    - ``acks``: 0 (no answer, numbers unknown: send returns -1), 1 (the
      broker has written it) or -1 / ``"all"`` (every in-sync replica has).
    - ``linger``: the batching delay, in seconds: how long a queued message
      may wait for others to share its batch. The trio producer's background
      task keeps it exactly; the blocking producer, which has no thread,
      checks it whenever it is called.
    - ``batch_size``: the most bytes in one record batch (estimated before
      compression); ``send_many`` splits larger lists into several batches.
    - ``compression``: ``None``, ``"gzip"``, ``"snappy"``, ``"lz4"`` or ``"zstd"``
      (the last three need the ``compression`` extra).
    - ``request_timeout``: seconds to wait for any one response.
    - ``retry_timeout``: seconds to keep retrying a lost connection or a
      retriable broker error before raising.
    - ``idempotent``: have the broker drop duplicates of retried batches
      (InitProducerId, then sequence numbers per batch); needs acks=-1.
    - ``client_id``: the client id sent with every request.
    """

    acks: int = attrs.field(default=-1, converter=_acks)
    linger: float = attrs.field(default=0.0, validator=_not_negative)
    batch_size: int = attrs.field(default=1_000_000, validator=_positive)
    compression: Codec = attrs.field(default=Codec.NONE, converter=_codec)
    request_timeout: float = attrs.field(default=30.0, validator=_positive)
    retry_timeout: float = attrs.field(default=30.0, validator=_not_negative)
    idempotent: bool = False
    client_id: str = "minikafka"

    def __attrs_post_init__(self) -> None:
        if self.idempotent and self.acks != -1:
            raise ValueError("an idempotent producer needs acks='all' (-1)")


@attrs.frozen(kw_only=True)
class ConsumerOptions:
    """A consumer's settings; each is a keyword argument of ``Consumer``.

    - ``max_bytes``: the most record-batch bytes one ``poll`` asks for (the
      broker still returns a whole batch when one alone is larger).
    - ``request_timeout``, ``retry_timeout``, ``client_id``: as for producers.
    """

    max_bytes: int = attrs.field(default=1_048_576, validator=_positive)
    request_timeout: float = attrs.field(default=30.0, validator=_positive)
    retry_timeout: float = attrs.field(default=30.0, validator=_not_negative)
    client_id: str = "minikafka"


# --- messages ---------------------------------------------------------------


@final
class Message:
    """One message read from a topic (read-only, compared and hashed by its fields).

    ``number`` is its Kafka offset (MiniKafka numbers each topic's messages
    from 1); ``timestamp`` is when the producer (or the broker, for topics
    that stamp append time) dated it, in UTC, or ``None`` if undated.
    ``partition`` is the partition it was read from (numbers count per
    partition).

    Consumers make a great many of these, so it is a small slotted class
    rather than an attrs one, and a message read from a batch keeps its
    timestamp as Kafka's milliseconds until ``timestamp`` is first read.
    """

    __slots__ = ("_headers", "_key", "_number", "_partition", "_timestamp", "_topic", "_value")
    __match_args__ = ("topic", "number", "value", "key", "headers", "timestamp", "partition")

    def __init__(self, topic: str, number: int, value: bytes, key: bytes | None = None,
                 headers: Iterable[Header] = (), timestamp: datetime.datetime | None = None,
                 partition: int = 0) -> None:
        self._topic = topic
        self._number = number
        self._value = value
        self._key = key
        self._headers = headers if type(headers) is tuple else tuple(headers)
        # a datetime or None; an int (milliseconds, negative if undated) until read
        self._timestamp: datetime.datetime | int | None = timestamp
        self._partition = partition

    @staticmethod
    def _maker(topic: str, partition: int) -> RecordMaker[Message]:
        """What ``decode_records`` calls to turn each record of ``topic``'s
        ``partition`` straight into a ``Message`` (a null value becomes b"")."""
        new = object.__new__

        def make(offset: int, timestamp: int, key: bytes | None, value: bytes | None,
                 headers: tuple[Header, ...]) -> Message:
            # __init__'s work without its call: this runs once per message read
            message: Message = new(Message)
            message._topic = topic
            message._number = offset
            message._value = value if value is not None else b""
            message._key = key
            message._headers = headers
            message._timestamp = timestamp
            message._partition = partition
            return message

        return make

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def number(self) -> int:
        return self._number

    @property
    def value(self) -> bytes:
        return self._value

    @property
    def key(self) -> bytes | None:
        return self._key

    @property
    def headers(self) -> tuple[Header, ...]:
        return self._headers

    @property
    def timestamp(self) -> datetime.datetime | None:
        when = self._timestamp
        if isinstance(when, int):
            converted = self._timestamp = _datetime(when)
            return converted
        return when

    @property
    def partition(self) -> int:
        return self._partition

    def _fields(self) -> tuple[object, ...]:
        return (self._topic, self._number, self._value, self._key, self._headers, self.timestamp,
                self._partition)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Message:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Message(topic={self._topic!r}, number={self._number!r}, value={self._value!r}, "
                f"key={self._key!r}, headers={self._headers!r}, timestamp={self.timestamp!r}, "
                f"partition={self._partition!r})")


def _datetime(milliseconds: int) -> datetime.datetime | None:
    """Kafka's timestamp (milliseconds since the epoch, negative if none) as a UTC datetime."""
    if milliseconds < 0:
        return None
    return datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.UTC)


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


def _as_headers(headers: object) -> tuple[Header, ...]:
    if headers is None:
        return ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    if not isinstance(pairs, Iterable):
        raise TypeError(f"headers must be a mapping or (name, value) pairs, not {headers!r}")
    result: list[Header] = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(f"each header must be a (str, bytes) pair, not {pair!r}")
        name, value = pair
        result.append((name, None if value is None else _as_bytes(value, f"header {name!r}")))
    return tuple(result)


@attrs.define(eq=False)
class PendingMessage:
    """A message queued by ``send_nowait``; its ``number`` is known once it is sent."""

    topic: str
    value: bytes
    key: bytes | None
    headers: tuple[Header, ...]
    timestamp_ms: int
    # The partition it goes to: chosen when it is sent (by key, as Kafka's default
    # partitioner chooses); -1 until then.
    partition: int = attrs.field(default=-1, init=False)
    _number: int | None = attrs.field(default=None, init=False)
    _error: BaseException | None = attrs.field(default=None, init=False)
    # The trio transport hangs a trio.Event here to wake the task that awaits it.
    waiter: Any = attrs.field(default=None, init=False, repr=False)
    # Estimated bytes in a batch (before compression); batching reads it often.
    size: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        size = len(self.value) + _RECORD_OVERHEAD
        if self.key is not None:
            size += len(self.key)
        for name, value in self.headers:
            size += len(name) + (len(value) if value is not None else 0) + 4
        self.size = size

    count: ClassVar[int] = 1  # records: see PendingValues

    @classmethod
    def make(cls, topic: str, value: object, key: object, headers: object,
             timestamp_ms: int) -> PendingMessage:
        _check_topic(topic)
        return cls(topic, _as_bytes(value, "value"),
                   None if key is None else _as_bytes(key, "key"),
                   _as_headers(headers), timestamp_ms)

    @property
    def done(self) -> bool:
        """Whether the broker has answered (or sending has failed for good)."""
        return self._number is not None or self._error is not None

    @property
    def number(self) -> int:
        """The message number (-1 with acks=0); raises the error if sending failed."""
        if self._error is not None:
            raise self._error
        if self._number is None:
            raise ClientError("the message has not been sent yet; call flush() first")
        return self._number

    def resolve(self, number: int) -> None:
        self._number = number

    def fail(self, error: BaseException) -> None:
        self._error = error

    def plain_values(self) -> tuple[bytes] | None:
        """The value alone, when the record has no key and no headers."""
        return (self.value,) if self.key is None and not self.headers else None

    def encode_into(self, builder: RecordBatchBuilder) -> None:
        if self.key is None and not self.headers:  # the same record, encoded faster
            builder.append_values((self.value,), self.timestamp_ms)
        else:
            builder.append(self.value, self.key, self.headers, self.timestamp_ms)


class PendingValues:
    """Values queued together by ``send_many``: no key, no headers, one timestamp.

    They travel as one unit, in one batch to one partition, and are encoded
    in one pass (``RecordBatchBuilder.append_values``): a ``send_many`` of
    thousands of values costs one queue entry instead of a PendingMessage
    each. Their numbers are consecutive.
    """

    __slots__ = ("_error", "_first", "partition", "size", "timestamp_ms", "topic", "values",
                 "waiter")
    key: ClassVar[None] = None  # unkeyed: the sticky partition takes them all

    def __init__(self, topic: str, values: list[bytes], timestamp_ms: int, size: int) -> None:
        self.topic = topic
        self.values = values
        self.timestamp_ms = timestamp_ms
        self.size = size  # estimated bytes in a batch, as PendingMessage.size
        self.partition = -1
        self.waiter: Any = None  # as PendingMessage.waiter
        self._first: int | None = None
        self._error: BaseException | None = None

    @classmethod
    def split(cls, topic: str, values: Iterable[object], timestamp_ms: int,
              batch_size: int) -> list[PendingValues]:
        """``values`` as bytes, in runs that each fit in ``batch_size`` (as the
        accumulator counts it; a larger value gets a run of its own)."""
        _check_topic(topic)
        checked = [value if type(value) is bytes else _as_bytes(value, "value")
                   for value in values]
        total = sum(map(len, checked)) + _RECORD_OVERHEAD * len(checked)
        if total <= batch_size:
            return [cls(topic, checked, timestamp_ms, total)] if checked else []
        runs: list[PendingValues] = []
        start = size = 0
        for index, value in enumerate(checked):
            value_size = len(value) + _RECORD_OVERHEAD
            if index > start and size + value_size > batch_size:
                runs.append(cls(topic, checked[start:index], timestamp_ms, size))
                start, size = index, 0
            size += value_size
        runs.append(cls(topic, checked[start:], timestamp_ms, size))
        return runs

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def done(self) -> bool:
        return self._first is not None or self._error is not None

    @property
    def numbers(self) -> list[int]:
        """The values' numbers (each -1 with acks=0); raises the error if sending failed."""
        if self._error is not None:
            raise self._error
        if self._first is None:
            raise ClientError("the messages have not been sent yet; call flush() first")
        if self._first < 0:
            return [-1] * len(self.values)
        return list(range(self._first, self._first + len(self.values)))

    def resolve(self, first: int) -> None:
        self._first = first

    def fail(self, error: BaseException) -> None:
        self._error = error

    def plain_values(self) -> Sequence[bytes]:
        return self.values

    def encode_into(self, builder: RecordBatchBuilder) -> None:
        builder.append_values(self.values, self.timestamp_ms)


Pending = PendingMessage | PendingValues  # what the accumulator queues and produce sends


def _check_topic(topic: object) -> None:
    if not isinstance(topic, str) or not topic:
        raise TypeError(f"topic must be a non-empty str, not {topic!r}")


class Accumulator:
    """Messages queued per topic, handed out as batches when full, due or flushed."""

    def __init__(self, batch_size: int, linger: float) -> None:
        self.batch_size = batch_size
        self.linger = linger
        self._queues: dict[str, list[Pending]] = {}
        self._sizes: dict[str, int] = {}
        self._since: dict[str, float] = {}

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    @property
    def empty(self) -> bool:
        return not self._queues

    def add(self, message: Pending, now: float) -> None:
        topic = message.topic
        if topic not in self._queues:
            self._queues[topic] = []
            self._sizes[topic] = 0
            self._since[topic] = now
        self._queues[topic].append(message)
        self._sizes[topic] += message.size

    def next_due(self) -> float | None:
        """When the oldest queued message's linger ends, or None if nothing is queued."""
        if not self._since:
            return None
        return min(self._since.values()) + self.linger

    def has_full_batch(self) -> bool:
        return any(size >= self.batch_size for size in self._sizes.values())

    def take(self, now: float, *, force: bool = False) -> list[tuple[str, list[list[Pending]]]]:
        """The batches to send now: every queued message if ``force``; otherwise
        whole batches of topics with a full batch, and every message of topics
        whose oldest message has waited ``linger``. Each batch stays under
        ``batch_size`` (a single larger message gets a batch of its own).
        """
        taken: list[tuple[str, list[list[Pending]]]] = []
        for topic in list(self._queues):
            queue = self._queues[topic]
            due = force or now >= self._since[topic] + self.linger
            batches = self._split(queue)
            if not due:
                # keep the last, unfilled batch waiting for more messages
                last = batches.pop()
                if sum(m.size for m in last) >= self.batch_size:
                    batches.append(last)
                    last = []
                if not batches:
                    continue
                self._queues[topic] = last
                self._sizes[topic] = sum(m.size for m in last)
                if not last:
                    self._drop(topic)
            else:
                self._drop(topic)
            taken.append((topic, batches))
        return taken

    def _drop(self, topic: str) -> None:
        self._queues.pop(topic, None)
        self._sizes.pop(topic, None)
        self._since.pop(topic, None)

    def _split(self, queue: list[Pending]) -> list[list[Pending]]:
        batches: list[list[Pending]] = [[]]
        size = 0
        for message in queue:
            if batches[-1] and size + message.size > self.batch_size:
                batches.append([])
                size = 0
            batches[-1].append(message)
            size += message.size
        return batches


# --- plans --------------------------------------------------------------------


class Request(NamedTuple):
    """One request a plan wants sent; ``wait`` is how long the broker may hold it.

    ``read``, if given, turns the response's payload (header and body) at
    the negotiated version into what the plan receives, instead of the
    decoded body: the plan's own summary of it, read straight from the bytes.

    A named tuple rather than an attrs class: a producer sending one message
    at a time makes one per message, and a tuple costs half as much to make.
    """

    api: Api
    body: Mapping[str, Any]
    expect_response: bool = True
    wait: float = 0.0
    read: Callable[[int, bytes | memoryview], Any] | None = None


@attrs.frozen
class Send:
    """Send these requests (pipelined, in order); the plan receives their bodies."""

    requests: tuple[Request, ...]


@attrs.frozen
class Pause:
    """Let ``seconds`` pass before continuing."""

    seconds: float


@attrs.frozen(eq=False)
class SendAhead:
    """Send this request now without waiting for its response; the plan gets
    ``None`` at once. A later ``Send`` of this same request (the same object)
    receives its response instead of sending it again. The transport may
    drop the request (when the connection is lost, or another is already
    ahead): the later ``Send`` then sends it as usual. Consumers use it to
    have the broker read the next fetch while they decode the last one.
    """

    request: Request


Step = Send | Pause | SendAhead
Plan = Generator[Step, Any, T]


def run_to_completion(plan: Plan[T], handle: Callable[[Step], Any]) -> T:
    """Drive ``plan`` with a synchronous ``handle`` (the blocking transport's loop).

    An exception from ``handle`` (the broker stayed unreachable) is thrown
    into the plan, so the plan can fail the messages it was sending.
    """
    try:
        step = next(plan)
        while True:
            try:
                outcome = handle(step)
            except BaseException as error:
                step = plan.throw(error)
            else:
                step = plan.send(outcome)
    except StopIteration as stop:
        result: T = stop.value
        return result


def _one(request: Request) -> Send:
    return Send((request,))


class _Backoff:
    """Delays between retries: 50 ms doubling to 1 s."""

    def __init__(self) -> None:
        self._delay = 0.05

    def next(self) -> float:
        delay = self._delay
        self._delay = min(delay * 2, 1.0)
        return delay


def _partition_error(code: int, where: str, message: str | None = None) -> KafkaError:
    error = error_for_code(code, f"{where}: {message}" if message else where)
    assert error is not None
    return error


def _result_for(topics: Sequence[Any], name_field: str, partitions_field: str,
                index_field: str, topic: str | None, partition_index: int = _PARTITION) -> Any:
    """The entry for ``topic``'s partition (0 unless given) in a response's topic list, or None."""
    # decoded structures are dicts (construct Containers): a key read costs a
    # fraction of an attribute read
    for entry in topics:
        if entry[name_field] == topic:
            for partition in entry[partitions_field]:
                if partition[index_field] == partition_index:
                    return partition
    return None


def _metadata_request(topic: str) -> Request:
    return Request(_METADATA, {
        "topics": [{"name": topic, "topic_id": _NO_TOPIC_ID}],
        "allow_auto_topic_creation": True,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False,
    })


def ensure_topic(known: set[str], topic: str, retry_timeout: float, clock: Clock,
                 counts: dict[str, int] | None = None) -> Plan[None]:
    """Ask for the topic's metadata (creating it where the broker auto-creates
    topics) until partition 0 has a leader; adds ``topic`` to ``known`` (and
    its partition count to ``counts``)."""
    if topic in known:
        return
    deadline = clock() + retry_timeout
    backoff = _Backoff()
    while True:
        (body,) = yield _one(_metadata_request(topic))
        code = _UNKNOWN_TOPIC_OR_PARTITION
        for entry in body.topics:
            if entry.name == topic:
                code = entry.error_code
                if code == 0:
                    partitions = {p.partition_index: p for p in entry.partitions}
                    first = partitions.get(_PARTITION)
                    if first is None:
                        code = _UNKNOWN_TOPIC_OR_PARTITION
                    elif first.error_code:
                        code = first.error_code
                    elif first.leader_id < 0:
                        code = _LEADER_NOT_AVAILABLE
        if code == 0:
            known.add(topic)
            if counts is not None:
                counts[topic] = len(partitions)
            return
        if not for_code(code).retriable and code != _LEADER_NOT_AVAILABLE:
            raise _partition_error(code, f"topic {topic!r}")
        if clock() >= deadline:
            raise _partition_error(code, f"topic {topic!r} (gave up after {retry_timeout:g} s)")
        yield Pause(backoff.next())


# --- producing ------------------------------------------------------------------


@attrs.define
class ProducerSession:
    """A producer's state: options, known topics, and the idempotence identity."""

    options: ProducerOptions
    known_topics: set[str] = attrs.field(factory=set)
    partition_counts: dict[str, int] = attrs.field(factory=dict)  # from Metadata
    producer_id: int = -1
    producer_epoch: int = -1
    _sequences: dict[tuple[str, int], int] = attrs.field(factory=dict)
    sticky: StickyPartitions = attrs.field(
        default=attrs.Factory(lambda self: StickyPartitions(self.options.batch_size),
                              takes_self=True))

    def split(self, topic: str, batch: Sequence[Pending]) -> list[tuple[int, list[Pending]]]:
        """``batch`` as batches per partition, as Kafka's default partitioner places them.

        A keyed message goes to murmur2(key) modulo the partition count; the
        unkeyed ones go to the topic's sticky partition, which moves on to the
        next once ``batch_size`` bytes went there, so unkeyed traffic takes
        turns over the partitions a batch at a time. Order is kept within
        each partition.
        """
        count = self.partition_counts.get(topic, 1)
        if count == 1:  # nothing to choose (the sticky state has nowhere to move)
            for message in batch:
                message.partition = 0
            return [(0, list(batch))]
        sticky = self.sticky.current(topic, count)
        by_partition: dict[int, list[Pending]] = {}
        unkeyed = 0
        for message in batch:
            if message.key is None:
                message.partition = sticky
                unkeyed += message.size
            else:
                message.partition = partition_for_key(message.key, count)
            by_partition.setdefault(message.partition, []).append(message)
        if unkeyed:
            self.sticky.sent(topic, count, unkeyed)
        return list(by_partition.items())

    def build_batch(self, topic: str, messages: Sequence[Pending],
                    partition: int = _PARTITION) -> bytes:
        """One record batch holding ``messages``; with idempotence, the next sequence."""
        base_sequence = -1
        if self.producer_id >= 0:
            base_sequence = self._sequences.get((topic, partition), 0)
            records = sum(message.count for message in messages)
            self._sequences[(topic, partition)] = (base_sequence + records) % 2**31
        if len(messages) == 1 and self.options.compression is Codec.NONE:
            values = messages[0].plain_values()
            if values is not None:  # no key, no headers: the builder is not needed
                return build_values_batch(values, messages[0].timestamp_ms,
                                          producer_id=self.producer_id,
                                          producer_epoch=self.producer_epoch,
                                          base_sequence=base_sequence)
        builder = RecordBatchBuilder(
            compression=self.options.compression,
            producer_id=self.producer_id,
            producer_epoch=self.producer_epoch,
            base_sequence=base_sequence,
        )
        for message in messages:
            message.encode_into(builder)
        return builder.build()

    def single_request(self, topic: str, message: PendingMessage) -> Request | None:
        """The Produce request for ``message`` sent on its own, when nothing has to
        be asked of the broker first (the topic is known and no producer id is
        needed); otherwise None, and the ``produce`` plan does it all."""
        if topic not in self.known_topics or self.options.idempotent or self.producer_id >= 0:
            return None
        ((partition, batch),) = self.split(topic, (message,))
        return self.produce_request(topic, self.build_batch(topic, batch, partition), partition)

    def forget_identity(self) -> None:
        # After a batch failed for good its sequence numbers are spent; the
        # broker would refuse the next ones as out of order, so start afresh.
        self.producer_id = self.producer_epoch = -1
        self._sequences.clear()

    def produce_request(self, topic: str, batch: bytes, partition: int = _PARTITION) -> Request:
        return Request(
            _PRODUCE,
            {
                "transactional_id": None,
                "acks": self.options.acks,
                "timeout_ms": int(self.options.request_timeout * 1000),
                "topic_data": [{"name": topic,
                                "partition_data": [{"index": partition, "records": batch}]}],
            },
            expect_response=self.options.acks != 0,
            read=produce_reader(topic, partition),
        )


# What a producer needs of a Produce response: its partition's outcome. Read
# straight from the bytes when the response is about that one partition alone
# (per-record errors, which a Kafka broker sends as an empty list, read whole).
_PRODUCE_OUTCOME = ResponseReader(
    _PRODUCE, ("responses_name", "partition_responses_index", "partition_responses_error_code",
               "partition_responses_error_message", "partition_responses_base_offset"),
    whole=frozenset({"record_errors"}))

ProduceOutcome = tuple[int | None, str | None, int]
_NO_OUTCOME: ProduceOutcome = (None, None, -1)  # the response has no result for the partition


def produce_reader(topic: str, partition: int) -> Callable[[int, bytes | memoryview], ProduceOutcome]:
    """The ``Request.read`` of a Produce to ``topic``'s ``partition``: the partition's
    ``(error code, error message, base offset)``, or ``_NO_OUTCOME``."""
    def read(version: int, payload: bytes | memoryview) -> ProduceOutcome:
        values = _PRODUCE_OUTCOME(version, payload)
        if values is not None:
            name, index, code, why, base_offset = values
            return (code, why, base_offset) if name == topic and index == partition \
                else _NO_OUTCOME
        body = decode_response(_PRODUCE, version, payload)[1]
        result = _result_for(body["responses"], "name", "partition_responses", "index",
                             topic, partition)
        if result is None:
            return _NO_OUTCOME
        return result["error_code"], result.get("error_message"), result["base_offset"]

    return read


def init_producer_id(session: ProducerSession, clock: Clock) -> Plan[None]:
    """Get a producer id and epoch for idempotent produce (InitProducerId)."""
    api = api_by_name("InitProducerId")
    deadline = clock() + session.options.retry_timeout
    backoff = _Backoff()
    while True:
        (body,) = yield _one(Request(api, {
            "transactional_id": None,
            "transaction_timeout_ms": 60_000,
            "producer_id": -1,
            "producer_epoch": -1,
        }))
        if body.error_code == 0:
            session.producer_id = body.producer_id
            session.producer_epoch = body.producer_epoch
            return
        if not for_code(body.error_code).retriable or clock() >= deadline:
            raise _partition_error(body.error_code, "InitProducerId")
        yield Pause(backoff.next())


def settle_produce(topic: str, batch: Sequence[Pending], outcome: ProduceOutcome | None
                   ) -> tuple[int, str | None]:
    """Resolve ``batch``'s messages from the ``outcome`` its Produce request's reader
    (``produce_reader``) gave (None with acks=0, which the broker does not answer):
    ``(0, None)``, or, if the broker refused the batch, its error code and message,
    with the messages left pending."""
    if outcome is None:
        for message in batch:
            message.resolve(-1)
        return 0, None
    code, why, number = outcome  # number: the batch's first record's (-1: not known)
    if code is None:
        raise RemoteProtocolError(f"the Produce response has no result for {topic!r}")
    if code and code != _DUPLICATE_SEQUENCE_NUMBER:
        return code, why
    for message in batch:
        message.resolve(number)
        if number >= 0:
            number += message.count
    return 0, None


def settle_single(topic: str, message: PendingMessage, outcome: ProduceOutcome | None) -> bool:
    """``settle_produce`` for a message sent with ``ProducerSession.single_request``:
    True once it is resolved; False if the broker refused it for a reason worth
    retrying (the ``produce`` plan then retries it); any other refusal raises."""
    code, why = settle_produce(topic, (message,), outcome)
    if code and not for_code(code).retriable:
        raise _partition_error(code, f"producing to {topic!r}", why)
    return not code


def produce(session: ProducerSession, topic: str,
            batches: Sequence[Sequence[Pending]], clock: Clock) -> Plan[None]:
    """Send ``batches`` of one topic, in order, and resolve each message's number.

    Up to ``MAX_IN_FLIGHT`` requests are pipelined. Retriable errors (the
    topic being created, a leader moving, a timeout) are retried until
    ``retry_timeout``; then, or on any other error, the error is raised and
    the messages not yet written are failed with it.
    """
    try:
        if topic not in session.known_topics:
            yield from ensure_topic(session.known_topics, topic, session.options.retry_timeout,
                                    clock, session.partition_counts)
        if session.options.idempotent and session.producer_id < 0:
            yield from init_producer_id(session, clock)
        # From here on each batch goes to one partition.
        batches = [part for batch in batches for _, part in session.split(topic, batch)]
        encoded = [session.build_batch(topic, batch, batch[0].partition) for batch in batches]
        deadline = clock() + session.options.retry_timeout
        backoff: _Backoff | None = None  # made at the first retry: most sends have none
        queue = list(range(len(batches)))
        while queue:
            window, queue = queue[:MAX_IN_FLIGHT], queue[MAX_IN_FLIGHT:]
            bodies = yield Send(tuple(session.produce_request(topic, encoded[i],
                                                              batches[i][0].partition)
                                      for i in window))
            failed: list[int] = []
            for index, body in zip(window, bodies, strict=True):
                code, why = settle_produce(topic, batches[index], body)
                if not code:
                    continue
                if clock() < deadline and (
                    for_code(code).retriable
                    # an idempotent batch behind a failed one is out of sequence
                    # only because of it: resend it after that one
                    or (failed and code == _OUT_OF_ORDER_SEQUENCE_NUMBER)
                ):
                    failed.append(index)
                else:
                    raise _partition_error(code, f"producing to {topic!r}", why)
            if failed:
                queue = failed + queue
                backoff = backoff or _Backoff()
                yield Pause(backoff.next())
    except BaseException as error:
        if session.producer_id >= 0:
            session.forget_identity()
        # Cancellation and interrupts belong to the task they hit; the
        # messages' waiters get an ordinary error instead.
        failure = error if isinstance(error, Exception) else ClientClosed(
            "the producer stopped before the message was sent")
        for batch in batches:
            for message in batch:
                if not message.done:
                    message.fail(failure)
        raise


# --- consuming ------------------------------------------------------------------


def decode_messages(topic: str, partition: int, records: bytes | memoryview,
                    batches: Sequence[tuple[int, BatchHeader]], offset: int
                    ) -> tuple[list[Message], int]:
    """The messages at or after ``offset`` in ``batches`` (from ``checked_batches(records)``)
    of a records field, and the offset after the last batch (``offset`` if none is past it).

    Records below ``offset`` (a batch starts before the requested number) are
    skipped; control batches (transaction markers) are stepped over.
    """
    messages: list[Message] = []
    next_offset = offset
    make = Message._maker(topic, partition)
    # Every message is a tracked object, so making thousands of them sets off
    # a cyclic collection every few hundred, each walking the messages made
    # so far again. Held off, they are walked once, at the first collection
    # afterwards; nothing made here forms a cycle, so no garbage waits. A
    # collector the application turned off stays off.
    count = 0
    for _, header in batches:  # a loop, not sum() over a generator: most fetches hold one
        count += header.records_count
    paused = count >= _PAUSE_COLLECTION_FROM and gc.isenabled()
    if paused:
        gc.disable()
    try:
        for position, header in batches:
            after = header.last_offset + 1
            if after <= offset:
                continue
            if after > next_offset:
                next_offset = after
            if not header.is_control:
                messages += decode_records(records, position, header, make, first_offset=offset)
    finally:
        if paused:
            gc.enable()
    return messages, next_offset


# Fewer records than this are decoded with the collector left running.
_PAUSE_COLLECTION_FROM = 256


def _check_read_from(read_from: ReadFrom) -> ReadFrom:
    if read_from in ("earliest", "latest"):
        return read_from
    if isinstance(read_from, bool) or not isinstance(read_from, int) or read_from < 0:
        raise ValueError(
            f"read_from must be a message number (>= 0), 'earliest' or 'latest'; not {read_from!r}"
        )
    return read_from


@attrs.define
class ConsumerSession:
    """A consumer's state: the topic and the number of the next message to read."""

    options: ConsumerOptions
    topic: str | None = None
    position: ReadFrom = 1
    _fetch_size: int = 0
    # The Fetch sent ahead (see SendAhead), and the offset it reads from.
    _ahead: Request | None = attrs.field(default=None, init=False)
    _ahead_offset: int = attrs.field(default=-1, init=False)

    def subscribe(self, topic: str, read_from: ReadFrom) -> None:
        if not isinstance(topic, str) or not topic:
            raise TypeError(f"topic must be a non-empty str, not {topic!r}")
        self.position = _check_read_from(read_from)
        self.topic = topic
        self._fetch_size = self.options.max_bytes
        self._ahead = None

    def fetch_for(self, offset: int, wait: float) -> Request:
        """The Fetch to send for ``offset``: the one sent ahead for it, if there is one."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and self._ahead_offset == offset:
            return ahead
        return self.fetch_request(offset, wait)

    def fetch_ahead(self, offset: int) -> Request:
        """A Fetch for ``offset`` to send ahead; the broker answers it at once."""
        self._ahead, self._ahead_offset = self.fetch_request(offset, 0.0), offset
        return self._ahead

    def fetch_request(self, offset: int, wait: float) -> Request:
        size = self._fetch_size or self.options.max_bytes
        return Request(
            _FETCH,
            {
                "replica_id": -1,
                "max_wait_ms": max(0, int(wait * 1000)),
                "min_bytes": 1,
                "max_bytes": size,
                "isolation_level": 0,
                "session_id": 0,  # no fetch session: every request is a full fetch
                "session_epoch": -1,
                "topics": [{"topic": self.topic, "partitions": [{
                    "partition": _PARTITION,
                    "current_leader_epoch": -1,
                    "fetch_offset": offset,
                    "last_fetched_epoch": -1,
                    "log_start_offset": -1,
                    "partition_max_bytes": size,
                }]}],
                "forgotten_topics_data": [],
                "rack_id": "",
            },
            wait=wait,
            read=fetch_reader(self.topic, _PARTITION),
        )

    def list_offsets_request(self, timestamp: int) -> Request:
        return Request(_LIST_OFFSETS, {
            "replica_id": -1,
            "isolation_level": 0,
            "topics": [{"name": self.topic, "partitions": [{
                "partition_index": _PARTITION,
                "current_leader_epoch": -1,
                "timestamp": timestamp,
                "max_num_offsets": 1,
            }]}],
            "timeout_ms": int(self.options.request_timeout * 1000),
        })

    def decode(self, records: bytes | memoryview, offset: int,
               batches: Sequence[tuple[int, BatchHeader]] | None = None
               ) -> tuple[list[Message], int]:
        """The messages at or after ``offset`` in a records field, and the next offset.

        A trailing partial batch is left for the next fetch; records below
        ``offset`` (a batch starts before the requested number) are skipped;
        control batches (transaction markers) are stepped over. ``batches``
        is ``checked_batches(records)``, if the caller has it already.
        """
        assert self.topic is not None
        if batches is None:
            batches = checked_batches(records)
        messages, next_offset = decode_messages(self.topic, _PARTITION, records, batches, offset)
        if records and not batches:
            # a batch larger than the fetch size (brokers before Fetch v3 cut it short)
            self._fetch_size = min(self._fetch_size * 2, 64 * 1024 * 1024)
        else:
            self._fetch_size = self.options.max_bytes
        return messages, next_offset


# What a consumer without a group needs of a Fetch response: its partition's
# error, high watermark and records. Read straight from the bytes when the
# response is about that one partition alone (aborted transactions, null or
# empty from a Kafka broker, read whole).
_FETCH_OUTCOME = ResponseReader(
    _FETCH, ("error_code", "responses_topic", "partitions_partition_index",
             "partitions_error_code", "partitions_high_watermark", "partitions_records"),
    whole=frozenset({"aborted_transactions"}))

FetchOutcome = tuple[int, int, bytes | memoryview | None]


def fetch_reader(topic: str | None, partition: int) -> Callable[[int, bytes | memoryview], FetchOutcome]:
    """The ``Request.read`` of a Fetch of ``topic``'s ``partition``: its
    ``(error code, high watermark, records)``; the error is the response's own if
    it has one, UNKNOWN_TOPIC_OR_PARTITION if the partition is missing."""
    def read(version: int, payload: bytes | memoryview) -> FetchOutcome:
        # a view: the records are read in place, not copied out of the frame
        values = _FETCH_OUTCOME(version, memoryview(payload))
        if values is not None:
            error, name, index, code, high_watermark, records = values
            if name != topic or index != partition:
                return error or _UNKNOWN_TOPIC_OR_PARTITION, -1, None
            return error or code, high_watermark, records
        body = decode_response(_FETCH, version, payload)[1]
        result = _result_for(body["responses"], "topic", "partitions", "partition_index",
                             topic, partition)
        # a broker may leave out a topic it does not have (Tansu does, now and then)
        error = body.get("error_code", 0)
        if result is None:
            return error or _UNKNOWN_TOPIC_OR_PARTITION, -1, None
        return error or result["error_code"], result["high_watermark"], result["records"]

    return read


def _list_offset(session: ConsumerSession, timestamp: int) -> Plan[int | None]:
    """The offset ListOffsets gives for ``timestamp``, or None if the topic does not exist."""
    (body,) = yield _one(session.list_offsets_request(timestamp))
    result = _result_for(body.topics, "name", "partitions", "partition_index", session.topic)
    if result is None or result.error_code == _UNKNOWN_TOPIC_OR_PARTITION:
        return None
    if result.error_code:
        raise _partition_error(result.error_code, f"listing offsets of {session.topic!r}")
    offset: int = result.offset
    return offset


def resolve_position(session: ConsumerSession) -> Plan[None]:
    """Turn "earliest"/"latest" into a message number.

    While the topic does not exist both mean "from its first message", and
    the position stays "earliest" until it does.
    """
    if isinstance(session.position, int):
        return
    timestamp = _EARLIEST_TIMESTAMP if session.position == "earliest" else _LATEST_TIMESTAMP
    offset = yield from _list_offset(session, timestamp)
    session.position = "earliest" if offset is None else offset


def poll(session: ConsumerSession, timeout: float, clock: Clock) -> Plan[list[Message]]:
    """Every message available from the position (up to ``max_bytes``), waiting up
    to ``timeout`` seconds for one to arrive; advances the position past them.

    A position below the log start (the messages expired) moves to the log
    start, with a warning in the log. A position beyond the end of the log
    waits for the log to reach it.
    """
    deadline = clock() + timeout
    backoff = _Backoff()
    while True:
        remaining = max(0.0, deadline - clock())
        yield from resolve_position(session)
        position = session.position
        if not isinstance(position, int):  # the topic does not exist yet
            if remaining <= 0:
                return []
            yield Pause(min(backoff.next(), remaining))
            continue
        ((code, high_watermark, records),) = yield _one(session.fetch_for(position, remaining))
        if code == 0:
            records = records or b""
            batches = checked_batches(records)
            after = batches[-1][1].last_offset + 1 if batches else position
            if position < after < high_watermark:
                # More is written already: the broker reads it while these are decoded.
                yield SendAhead(session.fetch_ahead(after))
            messages, next_offset = session.decode(records, position, batches)
            session.position = next_offset
            if messages or clock() >= deadline:
                return messages
            if next_offset == position:
                # the broker answered early with nothing (it need not hold
                # the request for the whole wait); do not spin
                yield Pause(min(0.05, max(0.0, deadline - clock())))
            continue
        if code == _OFFSET_OUT_OF_RANGE:
            start = yield from _list_offset(session, _EARLIEST_TIMESTAMP)
            if start is not None and position < start:
                logger.warning(
                    "%s: messages %d to %d have expired; continuing from %d, the log start",
                    session.topic, position, start - 1, start,
                )
                session.position = start
                continue
            # beyond the end of the log: wait for it to grow
        elif not for_code(code).retriable:
            raise _partition_error(code, f"reading {session.topic!r} from {position}")
        if clock() >= deadline:
            return []
        yield Pause(min(backoff.next(), max(0.0, deadline - clock())))
