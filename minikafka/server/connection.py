"""One client connection: frames in, requests handled one at a time, responses out in order.

Kafka requires responses on a connection in the order of its requests; the
simplest way to keep it is Kafka's own: handle one request at a time per
connection (the next one waits in the socket buffer meanwhile). Every
connection runs in its own task, so a slow or broken client holds up no one
else.

A client that breaks the protocol (a frame over the size limit, bytes that
do not decode, an API that is not served) is logged in one line, naming its
address and what was wrong, and its connection is closed. Nothing of its
request has been stored by then: requests are decoded whole before any
handler runs.

The limits of ``limits`` apply here: request bytes are read ahead only
within MINIKAFKA_MAX_CONNECTION_BUFFER_BYTES, and a connection idle (or not
reading its responses) for MINIKAFKA_IDLE_TIMEOUT is closed. On a SASL
listener, frames go through the connection's ``SaslSession`` until it has
authenticated.

The request path is short because a client sending one request at a time
pays for every step of it: on plain TCP the socket is read and written with
non-blocking system calls, and trio is asked to wait only when one would
block (``_SocketIO``); one cancel scope per connection enforces the idle
timeout (``IdleGuard``); a response goes out with its size prefix in one
``writev``, without being copied into a frame first. TLS streams go through
trio's stream interface (``_StreamIO``).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Sequence
from typing import Protocol

import attrs
import trio

from minikafka.protocol.framing import FrameBuffer, FrameTooLarge

from .auth.sasl import Authenticator, SaslSession
from .broker import Broker, CloseConnection, Deferred
from .config import Address
from .dispatch import Buffer, Response, start_response
from .limits import SEND_CHUNK, IdleGuard, Waiting, receive_size

__all__ = ["Connection", "socket_addresses"]

logger = logging.getLogger(__name__)

_SIZE = struct.Struct(">i")
_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 1024  # per writev


def _format(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = str(address[0]), address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)


def _socket_stream(stream: trio.abc.Stream) -> trio.SocketStream:
    """The TCP stream under ``stream`` (itself, or the transport of a TLS stream)."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    assert isinstance(stream, trio.SocketStream)
    return stream


def socket_addresses(stream: trio.abc.Stream) -> tuple[Address, str]:
    """(the local address the client connected to, the peer as text) of a TCP stream."""
    sock = _socket_stream(stream).socket
    local = sock.getsockname()
    try:
        peer = _format(sock.getpeername())
    except OSError:  # already disconnected
        peer = "?"
    return Address(str(local[0]), int(local[1])), peer


class _Transport(Protocol):
    """How a connection moves bytes; waits for the client go through its ``IdleGuard``."""

    # True once a receive had to wait for the client (reset by the connection per request)
    waited: bool
    # of the response being sent: its size, and how much of it the client has not taken yet
    response_bytes: int
    unsent_bytes: int

    async def receive_some(self, max_bytes: int) -> bytes | bytearray:
        """At most ``max_bytes`` from the client; empty at the end of the stream."""

    async def send(self, parts: Sequence[Buffer]) -> None:
        """Every byte of ``parts`` (bytes, or byte-format memoryviews), in order."""


class _SocketIO:
    """Plain TCP through the socket's non-blocking calls; trio waits only when they would block.

    A response that fits the socket's send buffer goes out in one ``writev``
    and a request already received is read in one ``read``, neither passing
    through trio's scheduler. OSError from the socket (reset, broken pipe)
    becomes ``trio.BrokenResourceError``, as trio's streams raise it.
    """

    def __init__(self, sock: trio.socket.SocketType, guard: IdleGuard) -> None:
        self._fd = sock.fileno()
        self._guard = guard
        self.waited = False
        self.response_bytes = 0
        self.unsent_bytes = 0

    async def receive_some(self, max_bytes: int) -> bytes:
        fd = self._fd
        try:
            return os.read(fd, max_bytes)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc
        self.waited = True
        self._guard.arm(Waiting.REQUEST)
        while True:
            await trio.lowlevel.wait_readable(fd)
            try:
                data = os.read(fd, max_bytes)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc
            self._guard.satisfied()
            return data

    async def send(self, parts: Sequence[Buffer]) -> None:
        try:
            sent = os.writev(self._fd, parts if len(parts) <= _IOV_MAX else parts[:_IOV_MAX])
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc
        total = sum(map(len, parts))
        if sent < total:
            await self._send_rest([memoryview(part) for part in parts], total, sent)

    async def _send_rest(self, views: list[memoryview], total: int, sent: int) -> None:
        """Wait for the client to take the rest; it must take SEND_CHUNK bytes per timeout."""
        fd = self._fd
        guard = self._guard
        self.response_bytes = self.unsent_bytes = total
        taken_since_armed = SEND_CHUNK  # arm at the first wait
        while True:
            taken_since_armed += sent
            self.unsent_bytes -= sent
            while sent:  # drop what was sent from the front
                if sent >= len(views[0]):
                    sent -= len(views.pop(0))
                else:
                    views[0] = views[0][sent:]
                    sent = 0
            if not views:
                guard.satisfied()
                return
            if taken_since_armed >= SEND_CHUNK:
                guard.arm(Waiting.READER)
                taken_since_armed = 0
            await trio.lowlevel.wait_writable(fd)
            try:
                sent = os.writev(fd, views[:_IOV_MAX])
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc


class _StreamIO:
    """Any trio stream (TLS): its own receive_some/send_all, each wait within the guard."""

    def __init__(self, stream: trio.abc.Stream, guard: IdleGuard) -> None:
        self._stream = stream
        self._guard = guard
        self.waited = False
        self.response_bytes = 0
        self.unsent_bytes = 0

    async def receive_some(self, max_bytes: int) -> bytes | bytearray:
        self.waited = True
        self._guard.arm(Waiting.REQUEST)
        data = await self._stream.receive_some(max_bytes)
        self._guard.satisfied()
        return data

    async def send(self, parts: Sequence[Buffer]) -> None:
        view = memoryview(b"".join(parts))
        self.response_bytes = len(view)
        for start in range(0, len(view), SEND_CHUNK):
            self.unsent_bytes = len(view) - start
            self._guard.arm(Waiting.READER)
            await self._stream.send_all(view[start : start + SEND_CHUNK])
        self._guard.satisfied()


@attrs.define(eq=False)
class Connection:
    """Serves one client until it disconnects, misbehaves, or the broker stops."""

    stream: trio.abc.Stream
    broker: Broker
    local_address: Address
    peer: str
    sasl: SaslSession | None = None  # None: no authentication on this listener
    _stopping: bool = False
    _guard: IdleGuard = attrs.field(init=False)
    _io: _Transport = attrs.field(init=False)
    _buffer: FrameBuffer | None = None

    def __attrs_post_init__(self) -> None:
        self._guard = IdleGuard(self.broker.config.idle_timeout_s)
        if isinstance(self.stream, trio.SocketStream):
            self._io = _SocketIO(self.stream.socket, self._guard)
        else:
            self._io = _StreamIO(self.stream, self._guard)

    @property
    def buffered_request_bytes(self) -> int:
        """Bytes received from the client and not yet handled (what the buffer limit bounds)."""
        return self._buffer.buffered if self._buffer is not None else 0

    @classmethod
    def accept(cls, stream: trio.abc.Stream, broker: Broker,
               authenticator: Authenticator | None = None) -> Connection:
        """A connection on ``stream`` (TCP, or TLS over TCP); SASL first if ``authenticator``."""
        tcp = _socket_stream(stream)
        if tcp.socket.family in (socket.AF_INET, socket.AF_INET6):
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        local, peer = socket_addresses(stream)
        sasl = authenticator.session(peer) if authenticator is not None else None
        return cls(stream, broker, local, peer, sasl)

    def stop(self) -> None:
        """Finish the request being handled (if any), then close; close now if idle."""
        self._stopping = True
        if self._guard.waiting_for is Waiting.REQUEST:
            self._guard.scope.cancel()

    async def run(self) -> None:
        """Handle requests until the connection ends. The caller closes the stream."""
        logger.debug("%s connected", self.peer)
        buffer = self._buffer = FrameBuffer(self.broker.config.max_frame_bytes)
        guard = self._guard
        try:
            with guard.scope:
                await self._serve(buffer)
        except (FrameTooLarge, CloseConnection) as exc:
            logger.warning("%s: closing connection: %s", self.peer, exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            logger.debug("%s: connection lost", self.peer)
        except Exception:
            logger.exception("%s: closing connection after an unexpected error", self.peer)
        if self._stopping:
            logger.debug("%s: closed as the broker stops", self.peer)
        elif not guard.scope.cancelled_caught:
            return
        elif guard.waiting_for is Waiting.READER:
            io = self._io
            logger.warning(
                "%s: closing connection: it stopped reading its responses: %gs without taking "
                "the next %d bytes of one (%d of its %d bytes unsent) (MINIKAFKA_IDLE_TIMEOUT)",
                self.peer, guard.timeout_s, min(SEND_CHUNK, io.unsent_bytes), io.unsent_bytes,
                io.response_bytes)
        else:
            logger.info("%s: closing connection idle for %gs (MINIKAFKA_IDLE_TIMEOUT)%s",
                        self.peer, guard.timeout_s,
                        f", {buffer.buffered} bytes into a frame" if buffer.buffered else "")

    async def _serve(self, buffer: FrameBuffer) -> None:
        io, guard = self._io, self._guard
        while not self._stopping:
            payload = buffer.next_frame()
            if payload is None:
                if not await self._receive(buffer):
                    return
                continue
            if not io.waited:
                # Requests arriving back to back never wait for the client; let the
                # other connections run between them, as every receive would.
                guard.pause(0.0)
                await trio.lowlevel.checkpoint()
            io.waited = False
            if self.sasl is not None and not self.sasl.authenticated:
                step = self.sasl.receive(payload)
                if not step.dispatch:
                    if step.response is not None:
                        await self._send(step.response)
                    if step.close:
                        return
                    continue
            response = start_response(payload, self.broker,
                                      local_address=self.local_address, peer=self.peer)
            if isinstance(response, Deferred):
                guard.pause(response.max_wait_s)  # a long poll or a disk flush is not idleness
                response = await response.answer
            if response is not None:
                await self._send(response)

    async def _send(self, payload: Response) -> None:
        """``payload`` framed: its size prefix and its bytes, in one write if the socket takes it."""
        if isinstance(payload, bytes):
            await self._io.send((_SIZE.pack(len(payload)), payload))
        else:
            await self._io.send([_SIZE.pack(sum(map(len, payload))), *payload])

    async def _receive(self, buffer: FrameBuffer) -> bool:
        """Wait for more bytes; False when the connection ended."""
        data = await self._io.receive_some(
            receive_size(buffer, self.broker.config.max_connection_buffer_bytes))
        if not data:
            if buffer.buffered:
                expected = buffer.pending_frame_size()
                announced = "" if expected is None else f" of {expected + 4}"
                logger.warning("%s: disconnected in the middle of a frame (%d%s bytes received)",
                               self.peer, buffer.buffered, announced)
            else:
                logger.debug("%s disconnected", self.peer)
            return False
        buffer.feed(data)
        return True
