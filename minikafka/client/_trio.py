"""The trio clients: ``Producer`` and ``Consumer`` over trio streams.

The same methods as the blocking clients, awaited, and ``async with``.
The producer runs a background task (in its own nursery, open while the
``async with`` block is) that sends queued messages in batches: every
``send`` from every task lands in the same queue, so concurrent senders
share batches, and ``linger`` is kept to the millisecond.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, TypeVar

import trio

from minikafka.protocol.errors import RemoteProtocolError

from ._core import (
    Accumulator,
    ConsumerOptions,
    ConsumerSession,
    Message,
    Pause,
    Pending,
    PendingMessage,
    PendingValues,
    Plan,
    ProducerOptions,
    ProducerSession,
    ReadFrom,
    Request,
    Send,
    SendAhead,
    parse_address,
    poll,
    produce,
    resolve_position,
)
from ._group import GroupSession, commit, group_poll, leave, pop_group_options
from ._protocol import NEED_DATA, ClientProtocol, Response
from .errors import BrokerUnavailable, ClientClosed, ClientError, KafkaError, NotSubscribed

__all__ = ["Consumer", "Producer"]

T = TypeVar("T")
logger = logging.getLogger("minikafka.client")
_RECEIVE_SIZE = 256 * 1024
_ITERATION_WAIT = 5.0
_LEAVE_TIMEOUT = 5.0  # seconds a closing group consumer may spend leaving its group
# What a lost connection looks like from trio: OSError (refused, reset, and
# our ConnectionClosed), a broken stream, or no answer in time.
_CONNECTION_LOST = (OSError, trio.BrokenResourceError, trio.TooSlowError)


class _Link:
    """A connection to one broker that runs plans, reconnecting when it is lost.

    The same policy as the blocking transport's: a failed request is sent
    again on a new connection after a growing pause, until ``retry_timeout``
    has passed since the first failure, then ``BrokerUnavailable``. A lock
    keeps each exchange whole when several tasks share the link.
    """

    def __init__(self, address: str, *, client_id: str, request_timeout: float,
                 retry_timeout: float) -> None:
        self.address = address
        self._host, self._port = parse_address(address)
        self._client_id = client_id
        self._request_timeout = request_timeout
        self._retry_timeout = retry_timeout
        self._stream: trio.abc.Stream | None = None
        self._protocol: ClientProtocol | None = None
        # A request sent ahead (SendAhead) on this connection, and its correlation id.
        self._ahead: tuple[Request, int] | None = None
        self._lock = trio.Lock()
        self.closed = False

    async def run(self, plan: Plan[T]) -> T:
        """Drive ``plan`` to its result (errors from the link are thrown into it)."""
        if self.closed:
            plan.close()
            raise ClientClosed("the client is closed")
        try:
            step = next(plan)
            while True:
                try:
                    if isinstance(step, Pause):
                        await trio.sleep(step.seconds)
                        outcome: Any = None
                    elif isinstance(step, SendAhead):
                        await self._send_ahead(step.request)
                        outcome = None
                    else:
                        outcome = await self._send(step)
                except BaseException as error:
                    step = plan.throw(error)
                else:
                    step = plan.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _send(self, step: Send) -> list[Any]:
        delay = 0.05
        deadline: float | None = None
        async with self._lock:
            while True:
                if self.closed:
                    raise ClientClosed("the client is closed")
                try:
                    protocol, stream = await self._connection()
                    return await self._exchange(protocol, stream, step)
                except RemoteProtocolError:
                    await self._disconnect()
                    raise
                except _CONNECTION_LOST as error:
                    await self._disconnect()
                    now = trio.current_time()
                    if deadline is None:
                        deadline = now + self._retry_timeout
                    if now >= deadline:
                        raise BrokerUnavailable(self.address, self._retry_timeout,
                                                error) from error
                    await trio.sleep(min(delay, deadline - now))
                    delay = min(delay * 2, 1.0)

    async def _send_ahead(self, request: Request) -> None:
        # As the blocking transport: a head start on a live connection, or nothing.
        async with self._lock:
            protocol, stream = self._protocol, self._stream
            if self._ahead is not None or protocol is None or stream is None or self.closed:
                return
            try:
                correlation_id = protocol.send_request(request.api, request.body,
                                                        read=request.read)
                with trio.fail_after(self._request_timeout):
                    await stream.send_all(protocol.data_to_send())
            except _CONNECTION_LOST:
                await self._disconnect()
                return
            self._ahead = request, correlation_id

    async def _connection(self) -> tuple[ClientProtocol, trio.abc.Stream]:
        if self._stream is not None and self._protocol is not None:
            return self._protocol, self._stream
        with trio.fail_after(self._request_timeout):
            stream = await trio.open_tcp_stream(self._host, self._port)
            try:
                protocol = ClientProtocol(self._client_id)
                protocol.start()
                while protocol.next_response() is NEED_DATA and not protocol.ready:
                    await stream.send_all(protocol.data_to_send())
                    await self._fill(protocol, stream)
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
        self._stream, self._protocol = stream, protocol
        return protocol, stream

    async def _exchange(self, protocol: ClientProtocol, stream: trio.abc.Stream,
                        step: Send) -> list[Any]:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and len(step.requests) == 1 and step.requests[0] is ahead[0]:
            return [await self._response(protocol, stream, ahead[1], ahead[0].wait)]
        sent = [protocol.send_request(request.api, request.body,
                                      expect_response=request.expect_response,
                                      read=request.read)
                for request in step.requests]
        with trio.fail_after(self._request_timeout):
            await stream.send_all(protocol.data_to_send())
        bodies: list[Any] = []
        for request, correlation_id in zip(step.requests, sent, strict=True):
            bodies.append(await self._response(protocol, stream, correlation_id, request.wait)
                          if request.expect_response else None)
        return bodies

    async def _response(self, protocol: ClientProtocol, stream: trio.abc.Stream,
                        correlation_id: int, wait: float) -> Any:
        """The body of the response to request ``correlation_id``.

        Responses come in request order, so any before it answer requests
        nobody waits for any more (one sent ahead and not wanted, or one
        whose task was cancelled while waiting): skipped.
        """
        with trio.fail_after(wait + self._request_timeout):
            while True:
                event = protocol.next_response()
                if not isinstance(event, Response):
                    await self._fill(protocol, stream)
                elif event.correlation_id == correlation_id:
                    return event.body

    @staticmethod
    async def _fill(protocol: ClientProtocol, stream: trio.abc.Stream) -> None:
        protocol.receive_data(bytes(await stream.receive_some(_RECEIVE_SIZE)))

    async def _disconnect(self) -> None:
        stream, self._stream, self._protocol = self._stream, None, None
        self._ahead = None
        if stream is not None:
            await trio.aclose_forcefully(stream)

    async def aclose(self) -> None:
        self.closed = True
        await self._disconnect()


class Producer:
    """Sends messages to a broker; each ``await send(...)`` returns the message's number.

    ``Producer(address="localhost:9092", **options)`` takes the options of
    ``ProducerOptions``. Use it with ``async with``: that runs the task that
    sends batches, and on a normal exit waits until everything queued is
    sent. A ``send`` that is cancelled leaves its message queued.
    """

    def __init__(self, address: str = "localhost:9092", **options: Any) -> None:
        self.options = ProducerOptions(**options)
        self.address = address
        self._link = _Link(address, client_id=self.options.client_id,
                           request_timeout=self.options.request_timeout,
                           retry_timeout=self.options.retry_timeout)
        self._session = ProducerSession(self.options)
        self._queue = Accumulator(self.options.batch_size, self.options.linger)
        self._unsent: deque[Pending] = deque()
        self._wakeup = trio.Event()
        self._force = False
        self._exit_stack: AsyncExitStack | None = None
        self._sender_scope: trio.CancelScope | None = None

    async def __aenter__(self) -> Producer:
        if self._exit_stack is not None or self._link.closed:
            raise ClientError("a producer is entered once")
        async with AsyncExitStack() as stack:
            nursery = await stack.enter_async_context(trio.open_nursery())
            self._sender_scope = await nursery.start(self._sender)
            self._exit_stack = stack.pop_all()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> bool | None:
        stack, self._exit_stack = self._exit_stack, None
        if stack is None:  # already closed
            return None
        try:
            if kind is None:
                await self.flush()
        finally:
            await self._shutdown()
        return await stack.__aexit__(kind, error, traceback)

    def send_nowait(self, topic: str, value: bytes | str, *, key: bytes | str | None = None,
                    headers: Mapping[str, bytes | str | None]
                    | Iterable[tuple[str, bytes | str | None]] | None = None) -> PendingMessage:
        """Queue one message for the background task and return at once; its
        ``number`` is known once the broker has acknowledged it (after ``flush``)."""
        return self._enqueue(topic, value, key, headers, _now_ms())

    async def send(self, topic: str, value: bytes | str, *, key: bytes | str | None = None,
                   headers: Mapping[str, bytes | str | None]
                   | Iterable[tuple[str, bytes | str | None]] | None = None) -> int:
        """Send one message; returns its number once the broker has it."""
        message = self._enqueue(topic, value, key, headers, _now_ms())
        await _wait(message)
        return message.number

    async def send_many(self, topic: str, values: Iterable[bytes | str]) -> list[int]:
        """Send ``values`` as one batch (several if over ``batch_size``); their numbers."""
        self._check_open()
        runs = PendingValues.split(topic, values, _now_ms(), self.options.batch_size)
        # Queued together, taken together: the runs can share one Event.
        waiter = trio.Event()
        for run in runs:
            self._queue_pending(run, waiter)
        self._force = True  # no reason to linger: the batch is complete
        self._wakeup.set()
        numbers: list[int] = []
        for run in runs:
            await _wait(run)
            numbers += run.numbers
        return numbers

    async def flush(self) -> None:
        """Send everything queued so far and wait until the broker has acknowledged it.

        A message that failed does not make ``flush`` raise; its ``number`` does.
        """
        waiting = [message for message in self._unsent if not message.done]
        if not waiting:
            return
        self._force = True
        self._wakeup.set()
        for message in waiting:
            await _wait(message)

    async def close(self) -> None:
        """Flush and stop (from the task that entered ``async with``, whose exit does this)."""
        if self._exit_stack is None:
            await self._link.aclose()
            return
        await self.__aexit__(None, None, None)

    aclose = close

    def _check_open(self) -> None:
        if self._link.closed:
            raise ClientClosed("the producer is closed")
        if self._exit_stack is None:
            raise ClientError("use the producer inside `async with Producer(...) as producer:`")

    def _enqueue(self, topic: str, value: object, key: object, headers: object,
                 timestamp: int) -> PendingMessage:
        self._check_open()
        message = PendingMessage.make(topic, value, key, headers, timestamp)
        self._queue_pending(message, trio.Event())
        return message

    def _queue_pending(self, pending: Pending, waiter: trio.Event) -> None:
        pending.waiter = waiter
        self._queue.add(pending, trio.current_time())
        self._unsent.append(pending)
        self._wakeup.set()

    async def _sender(self, *, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            while True:
                due = self._queue.next_due()
                if due is not None and (self._force or self._queue.has_full_batch()
                                        or trio.current_time() >= due):
                    await self._send_due()
                    continue
                self._wakeup = trio.Event()
                with trio.move_on_at(math.inf if due is None else due):
                    await self._wakeup.wait()

    async def _send_due(self) -> None:
        taken = self._queue.take(trio.current_time(), force=self._force)
        if not len(self._queue):
            self._force = False
        for topic, batches in taken:
            try:
                await self._link.run(produce(self._session, topic, batches, trio.current_time))
            except Exception:
                pass  # each message of the batches now holds the error; its sender raises it
            finally:
                for batch in batches:
                    for message in batch:
                        message.waiter.set()
        while self._unsent and self._unsent[0].done:
            self._unsent.popleft()

    async def _shutdown(self) -> None:
        if self._sender_scope is not None:
            self._sender_scope.cancel()
        await self._link.aclose()
        for message in self._unsent:
            if not message.done:
                message.fail(ClientClosed("the producer closed before sending the message"))
                message.waiter.set()
        self._unsent.clear()


async def _wait(message: Pending) -> None:
    # Waiting on a set Event still yields to the scheduler; after a batch is
    # acknowledged its other messages are done, so skip them without yielding.
    if not message.waiter.is_set():
        await message.waiter.wait()


class Consumer:
    """Reads a topic's messages in order, from a message number on (trio).

    ``Consumer(address="localhost:9092", topic=None, *, read_from=1, **options)``;
    use it with ``async with``. ``await poll()`` returns every message
    available since ``read_from`` and moves ``read_from`` past them;
    ``async for message in consumer`` yields messages as they arrive.
    Without a group it reads partition 0; with ``group="name"`` it is a
    member of that consumer group, as the blocking ``Consumer`` describes.
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

    async def __aenter__(self) -> Consumer:
        if self._session.topic is not None and self.group is None:
            await self._link.run(resolve_position(self._session))
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

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

    async def subscribe(self, topic: str, read_from: ReadFrom = 1) -> None:
        """Read ``topic`` from message number ``read_from``, "earliest" or "latest".

        With a group: leave the group's membership for the old topic (if any)
        and join for ``topic`` at the next ``poll``.
        """
        self._buffered.clear()
        if self.group is not None:
            await self._leave()
            self._member = self._new_member(topic)
            return
        self._session.subscribe(topic, read_from)
        await self._link.run(resolve_position(self._session))

    async def poll(self, timeout: float = 1.0) -> list[Message]:
        """Every message available from ``read_from`` (up to ``max_bytes``), waiting up
        to ``timeout`` seconds for the first; ``read_from`` moves past them."""
        if self.topic is None:
            raise NotSubscribed("the consumer has no topic; call subscribe() first")
        if self._buffered:  # fetched for an ``async for`` that stopped early
            messages = list(self._buffered)
            self._buffered.clear()
            return messages
        if self._member is not None:
            return await self._link.run(group_poll(self._member, timeout, trio.current_time))
        return await self._link.run(poll(self._session, timeout, trio.current_time))

    async def commit(self) -> None:
        """Commit the group's position after every message ``poll`` returned.

        Raises ``CommitFailed`` when the group rebalanced first.
        """
        if self.group is None:
            raise ClientError("commit() needs a consumer with a group")
        if self._member is not None:
            await self._link.run(commit(self._member, trio.current_time))

    async def _leave(self) -> None:
        if self._member is None or self._link.closed:
            return
        try:
            await self._link.run(leave(self._member))
        except (ClientError, KafkaError, OSError) as error:
            # The broker will expire the membership after the session timeout instead.
            logger.warning("group %s: could not leave cleanly: %s", self.group, error)

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> Message:
        while not self._buffered:
            self._buffered.extend(await self.poll(_ITERATION_WAIT))
        return self._buffered.popleft()

    async def close(self) -> None:
        """Leave the group (committing first, with automatic commits), then disconnect."""
        try:
            # Leaving spares the others a session timeout; shielded so a cancelled
            # task still does it, bounded so a dead broker cannot hold the close up.
            with trio.move_on_after(_LEAVE_TIMEOUT) as scope:
                scope.shield = True
                await self._leave()
        finally:
            await self._link.aclose()

    aclose = close


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
