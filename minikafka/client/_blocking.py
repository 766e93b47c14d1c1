"""The blocking clients: ``Producer`` and ``Consumer`` over an ordinary socket.

No thread and no event loop: each call does its I/O in the calling thread
and returns when it is done. A producer or consumer object is meant for one
thread at a time; give each thread its own.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

from minikafka.protocol.errors import RemoteProtocolError

from ._core import (
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
    ReadFrom,
    Request,
    SendAhead,
    Step,
    parse_address,
    poll,
    produce,
    resolve_position,
    run_to_completion,
    settle_single,
)
from ._group import GroupSession, commit, group_poll, leave, pop_group_options
from ._protocol import NEED_DATA, ClientProtocol, Response
from .errors import BrokerUnavailable, ClientClosed, ClientError, KafkaError, NotSubscribed

__all__ = ["Consumer", "Producer"]

T = TypeVar("T")
logger = logging.getLogger("minikafka.client")
_RECEIVE_SIZE = 256 * 1024
_ITERATION_WAIT = 5.0  # seconds each long poll of ``for message in consumer`` waits


def _backoff() -> Iterator[float]:
    delay = 0.05
    while True:
        yield delay
        delay = min(delay * 2, 1.0)


class _Link:
    """A connection to one broker that runs plans, reconnecting when it is lost.

    A request whose connection fails (refused, reset, closed, or silent past
    its timeout) is sent again on a new connection, after a growing pause,
    until ``retry_timeout`` has passed since the first failure; then
    ``BrokerUnavailable`` is raised.
    """

    def __init__(self, address: str, *, client_id: str, request_timeout: float,
                 retry_timeout: float) -> None:
        self.address = address
        self._host, self._port = parse_address(address)
        self._client_id = client_id
        self._request_timeout = request_timeout
        self._retry_timeout = retry_timeout
        self._socket: socket.socket | None = None
        self._protocol: ClientProtocol | None = None
        # A request sent ahead (SendAhead) on this connection, and its correlation id.
        self._ahead: tuple[Request, int] | None = None
        self.closed = False

    def run(self, plan: Plan[T]) -> T:
        if self.closed:
            plan.close()
            raise ClientClosed("the client is closed")
        return run_to_completion(plan, self._handle)

    def exchange(self, request: Request) -> Any:
        """Send ``request`` and return its response body (None if the broker does
        not answer it): what a plan's ``Send`` of it gets, without a plan."""
        if self.closed:
            raise ClientClosed("the client is closed")
        return self._send((request,))[0]

    def _handle(self, step: Step) -> Any:
        if isinstance(step, Pause):
            time.sleep(step.seconds)
            return None
        if isinstance(step, SendAhead):
            self._send_ahead(step.request)
            return None
        return self._send(step.requests)

    def _send_ahead(self, request: Request) -> None:
        # Only on a live connection, one at a time: it is only a head start,
        # and the Send that wants its response sends it again if it is not here.
        if self._ahead is not None or self._socket is None or self._protocol is None:
            return
        try:
            correlation_id = self._protocol.send_request(request.api, request.body,
                                                         read=request.read)
            self._socket.sendall(self._protocol.data_to_send())
        except OSError:
            self.disconnect()
            return
        self._ahead = request, correlation_id

    def _send(self, requests: tuple[Request, ...]) -> list[Any]:
        delays: Iterator[float] | None = None  # made at the first failure
        deadline: float | None = None
        while True:
            try:
                protocol, sock = self._protocol, self._socket
                if protocol is None or sock is None:
                    protocol, sock = self._connect()
                return self._exchange(protocol, sock, requests)
            except RemoteProtocolError:
                self.disconnect()
                raise
            except OSError as error:  # refused, reset, closed (ConnectionClosed), timed out
                self.disconnect()
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._retry_timeout
                if now >= deadline:
                    raise BrokerUnavailable(self.address, self._retry_timeout, error) from error
                delays = delays or _backoff()
                time.sleep(min(next(delays), deadline - now))

    def _connect(self) -> tuple[ClientProtocol, socket.socket]:
        sock = socket.create_connection((self._host, self._port), timeout=self._request_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            protocol = ClientProtocol(self._client_id)
            protocol.start()
            sock.sendall(protocol.data_to_send())
            deadline = time.monotonic() + self._request_timeout
            while protocol.next_response() is NEED_DATA and not protocol.ready:
                sock.sendall(protocol.data_to_send())  # ApiVersions again, at an older version
                self._fill(protocol, sock, deadline)
        except BaseException:
            sock.close()
            raise
        self._socket, self._protocol = sock, protocol
        return protocol, sock

    def _exchange(self, protocol: ClientProtocol, sock: socket.socket,
                  requests: tuple[Request, ...]) -> list[Any]:
        ahead = self._ahead
        if ahead is not None:
            self._ahead = None
            if len(requests) == 1 and requests[0] is ahead[0]:
                return [self._response(protocol, sock, ahead[1], ahead[0].wait)]  # sent already
        if len(requests) == 1:  # the usual case, without the lists' machinery
            (request,) = requests
            correlation_id = protocol.send_request(request.api, request.body,
                                                   expect_response=request.expect_response,
                                                   read=request.read)
            sock.sendall(protocol.data_to_send())
            if not request.expect_response:
                return [None]
            return [self._response(protocol, sock, correlation_id, request.wait)]
        sent = [protocol.send_request(request.api, request.body,
                                      expect_response=request.expect_response,
                                      read=request.read)
                for request in requests]
        sock.sendall(protocol.data_to_send())
        return [self._response(protocol, sock, correlation_id, request.wait)
                if request.expect_response else None
                for request, correlation_id in zip(requests, sent, strict=True)]

    def _response(self, protocol: ClientProtocol, sock: socket.socket, correlation_id: int,
                  wait: float) -> Any:
        """The body of the response to request ``correlation_id``.

        Responses come in request order, so any before it answer requests
        nobody waits for any more (one sent ahead and not wanted): skipped.
        """
        deadline = time.monotonic() + wait + self._request_timeout
        while True:
            event = protocol.next_response()
            if not isinstance(event, Response):
                self._fill(protocol, sock, deadline)
            elif event.correlation_id == correlation_id:
                return event.body

    @staticmethod
    def _fill(protocol: ClientProtocol, sock: socket.socket, deadline: float) -> None:
        """Feed the protocol one read's worth of bytes, waiting no later than ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the broker did not answer in time")
        sock.settimeout(remaining)
        protocol.receive_data(sock.recv(_RECEIVE_SIZE))

    def disconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = self._protocol = None
        self._ahead = None

    def close(self) -> None:
        self.disconnect()
        self.closed = True


class Producer:
    """Sends messages to a broker; each ``send`` returns the message's number.

    ``Producer(address="localhost:9092", **options)`` takes the options of
    ``ProducerOptions`` (acks, linger, batch_size, compression,
    request_timeout, retry_timeout, idempotent, client_id). Use it as a
    context manager, or call ``close()``: leaving the ``with`` block normally
    sends whatever ``send_nowait`` queued.
    """

    def __init__(self, address: str = "localhost:9092", **options: Any) -> None:
        self.options = ProducerOptions(**options)
        self.address = address
        self._link = _Link(address, client_id=self.options.client_id,
                           request_timeout=self.options.request_timeout,
                           retry_timeout=self.options.retry_timeout)
        self._session = ProducerSession(self.options)
        self._queue = Accumulator(self.options.batch_size, self.options.linger)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._abandon()

    def send(self, topic: str, value: bytes | str, *, key: bytes | str | None = None,
             headers: Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]]
             | None = None) -> int:
        """Send one message (and anything queued before it); returns its number."""
        if self._queue.empty:  # nothing to send before it: straight out, unqueued
            if self._link.closed:
                raise ClientClosed("the producer is closed")
            message = PendingMessage.make(topic, value, key, headers, _now_ms())
            request = self._session.single_request(topic, message)
            if request is not None:
                # The common case without the plan's machinery, which costs a
                # tenth of a send's time here; a refusal worth retrying goes
                # to the plan, which retries it as any other batch.
                if settle_single(topic, message, self._link.exchange(request)):
                    return message.number
            self._link.run(produce(self._session, topic, [[message]], time.monotonic))
            return message.number
        message = self._enqueue(topic, value, key, headers, _now_ms())
        self._drain(force=True)
        return message.number

    def send_nowait(self, topic: str, value: bytes | str, *, key: bytes | str | None = None,
                    headers: Mapping[str, bytes | str | None]
                    | Iterable[tuple[str, bytes | str | None]] | None = None) -> PendingMessage:
        """Queue one message; it goes out with a full batch, once ``linger`` has
        passed (checked on each call), or on ``flush()``."""
        message = self._enqueue(topic, value, key, headers, _now_ms())
        self._drain(force=False)
        return message

    def send_many(self, topic: str, values: Iterable[bytes | str]) -> list[int]:
        """Send ``values`` as one batch (several if over ``batch_size``); their numbers."""
        if self._link.closed:
            raise ClientClosed("the producer is closed")
        runs = PendingValues.split(topic, values, _now_ms(), self.options.batch_size)
        now = time.monotonic()
        for run in runs:
            self._queue.add(run, now)
        self._drain(force=True)
        numbers: list[int] = []
        for run in runs:
            numbers += run.numbers
        return numbers

    def flush(self) -> None:
        """Send everything queued, and wait for the broker to acknowledge it."""
        self._drain(force=True)

    def close(self) -> None:
        """Flush, then close the connection. Further sends raise ``ClientClosed``."""
        if self._link.closed:
            return
        try:
            self.flush()
        finally:
            self._abandon()

    def _abandon(self) -> None:
        for _, batches in self._queue.take(time.monotonic(), force=True):
            for batch in batches:
                for message in batch:
                    message.fail(ClientClosed("the producer closed before sending the message"))
        self._link.close()

    def _enqueue(self, topic: str, value: object, key: object, headers: object,
                 timestamp: int) -> PendingMessage:
        if self._link.closed:
            raise ClientClosed("the producer is closed")
        message = PendingMessage.make(topic, value, key, headers, timestamp)
        self._queue.add(message, time.monotonic())
        return message

    def _drain(self, *, force: bool) -> None:
        taken = self._queue.take(time.monotonic(), force=force)
        try:
            for topic, batches in taken:
                self._link.run(produce(self._session, topic, batches, time.monotonic))
        except BaseException as error:
            # messages taken for other topics were not sent either
            for _, batches in taken:
                for batch in batches:
                    for message in batch:
                        if not message.done:
                            message.fail(error)
            raise


class Consumer:
    """Reads a topic's messages in order, from a message number on.

    ``Consumer(address="localhost:9092", topic=None, *, read_from=1, **options)``
    takes the options of ``ConsumerOptions`` (max_bytes, request_timeout,
    retry_timeout, client_id). ``poll()`` returns every message available
    since ``read_from`` and moves ``read_from`` past them; iterating the
    consumer yields messages as they arrive. Without a group it reads
    partition 0.

    With ``group="name"`` it is a member of that consumer group (see
    ``_group``): it reads the partitions the group assigns it, from where
    the group committed (``read_from`` "earliest" or "latest" where it never
    did), and commits automatically (``auto_commit=True``, every
    ``auto_commit_interval`` seconds, before a rebalance and on close) or
    when ``commit()`` is called. Group options: ``session_timeout``,
    ``heartbeat_interval``, ``rebalance_timeout``, ``auto_commit``,
    ``auto_commit_interval`` (seconds). Call ``poll`` at least every
    ``session_timeout``: heartbeats are sent from it.
    """

    def __init__(self, address: str = "localhost:9092", topic: str | None = None, *,
                 read_from: ReadFrom | None = None, group: str | None = None,
                 **options: Any) -> None:
        self._group_options = pop_group_options(options, group, read_from)
        self.options = ConsumerOptions(**options)
        self.address = address
        self.group = group
        self._link = _Link(address, client_id=self.options.client_id,
                           request_timeout=self.options.request_timeout,
                           retry_timeout=self.options.retry_timeout)
        self._session = ConsumerSession(self.options)
        self._member: GroupSession | None = None
        self._buffered: deque[Message] = deque()
        if topic is not None:
            if group is not None:
                self._member = self._new_member(topic)
            else:
                self._session.subscribe(topic, 1 if read_from is None else read_from)

    def _new_member(self, topic: str) -> GroupSession:
        assert self.group is not None and self._group_options is not None
        return GroupSession(self.options, self._group_options, self.group, topic)

    def __enter__(self) -> Consumer:
        if self._session.topic is not None and self.group is None:
            self._link.run(resolve_position(self._session))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def topic(self) -> str | None:
        return self._member.topic if self._member is not None else self._session.topic

    @property
    def read_from(self) -> ReadFrom:
        """The number of the next message ``poll`` returns ("earliest" or "latest"
        until the broker has been asked what that is). With a group: where
        reading starts in partitions the group never committed."""
        if self._group_options is not None:
            return self._group_options.reset
        if self._buffered:
            return self._buffered[0].number
        return self._session.position

    @property
    def assignment(self) -> tuple[int, ...]:
        """The partitions this consumer reads (with a group: what the group assigned)."""
        if self.group is None:
            return (0,) if self._session.topic is not None else ()
        return self._member.assigned if self._member is not None else ()

    def subscribe(self, topic: str, read_from: ReadFrom = 1) -> None:
        """Read ``topic`` from message number ``read_from``, "earliest" or "latest".

        With a group: leave the group's membership for the old topic (if any)
        and join for ``topic`` at the next ``poll``.
        """
        self._buffered.clear()
        if self.group is not None:
            self._leave()
            self._member = self._new_member(topic)
            return
        self._session.subscribe(topic, read_from)
        self._link.run(resolve_position(self._session))

    def poll(self, timeout: float = 1.0) -> list[Message]:
        """Every message available from ``read_from`` (up to ``max_bytes``), waiting up
        to ``timeout`` seconds for the first; ``read_from`` moves past them."""
        if self.topic is None:
            raise NotSubscribed("the consumer has no topic; call subscribe() first")
        if self._buffered:  # fetched for a ``for`` loop that stopped early
            messages = list(self._buffered)
            self._buffered.clear()
            return messages
        if self._member is not None:
            return self._link.run(group_poll(self._member, timeout, time.monotonic))
        return self._link.run(poll(self._session, timeout, time.monotonic))

    def commit(self) -> None:
        """Commit the group's position after every message ``poll`` returned.

        Raises ``CommitFailed`` when the group rebalanced first (the next
        ``poll`` rejoins; another member may read those messages again).
        """
        if self.group is None:
            raise ClientError("commit() needs a consumer with a group")
        if self._member is not None:
            self._link.run(commit(self._member, time.monotonic))

    def _leave(self) -> None:
        if self._member is None or self._link.closed:
            return
        try:
            self._link.run(leave(self._member))
        except (ClientError, KafkaError, OSError) as error:
            # The broker will expire the membership after the session timeout instead.
            logger.warning("group %s: could not leave cleanly: %s", self.group, error)

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        while not self._buffered:
            self._buffered.extend(self.poll(_ITERATION_WAIT))
        return self._buffered.popleft()

    def close(self) -> None:
        """Leave the group (committing first, with automatic commits), then disconnect."""
        try:
            self._leave()
        finally:
            self._link.close()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
