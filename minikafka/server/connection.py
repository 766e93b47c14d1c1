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
"""

from __future__ import annotations

import logging
import socket

import attrs
import trio

from minikafka.protocol.framing import FrameBuffer, FrameTooLarge, frame

from .auth.sasl import Authenticator, SaslSession
from .broker import Broker, CloseConnection
from .config import Address
from .dispatch import respond
from .limits import ClientStalled, receive_size, send_all_within

__all__ = ["Connection", "socket_addresses"]

logger = logging.getLogger(__name__)


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


@attrs.define(eq=False)
class Connection:
    """Serves one client until it disconnects, misbehaves, or the broker stops."""

    stream: trio.abc.Stream
    broker: Broker
    local_address: Address
    peer: str
    sasl: SaslSession | None = None  # None: no authentication on this listener
    _stopping: bool = False
    _idle: trio.CancelScope | None = None
    _buffer: FrameBuffer | None = None

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
        if self._idle is not None:
            self._idle.cancel()

    async def run(self) -> None:
        """Handle requests until the connection ends. The caller closes the stream."""
        logger.debug("%s connected", self.peer)
        buffer = self._buffer = FrameBuffer(self.broker.config.max_frame_bytes)
        try:
            while not self._stopping:
                payload = buffer.next_frame()
                if payload is None:
                    if not await self._receive(buffer):
                        return
                    continue
                if self.sasl is not None and not self.sasl.authenticated:
                    step = self.sasl.receive(payload)
                    if not step.dispatch:
                        if step.response is not None:
                            await self._send(step.response)
                        if step.close:
                            return
                        continue
                response = await respond(payload, self.broker,
                                         local_address=self.local_address, peer=self.peer)
                if response is not None:
                    await self._send(response)
        except FrameTooLarge as exc:
            logger.warning("%s: closing connection: %s", self.peer, exc)
        except CloseConnection as exc:
            logger.warning("%s: closing connection: %s", self.peer, exc)
        except ClientStalled as exc:
            logger.warning("%s: closing connection: %s (MINIKAFKA_IDLE_TIMEOUT)", self.peer, exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            logger.debug("%s: connection lost", self.peer)
        except Exception:
            logger.exception("%s: closing connection after an unexpected error", self.peer)
        else:
            logger.debug("%s: closed as the broker stops", self.peer)

    async def _send(self, payload: bytes) -> None:
        await send_all_within(self.stream, frame(payload), self.broker.config.idle_timeout_s)

    async def _receive(self, buffer: FrameBuffer) -> bool:
        """Wait for more bytes; False when the connection ended, idled, or the broker stops."""
        config = self.broker.config
        data: bytes | bytearray = b""
        with trio.CancelScope() as self._idle:
            with trio.move_on_after(config.idle_timeout_s) as idle:
                data = await self.stream.receive_some(
                    receive_size(buffer, config.max_connection_buffer_bytes))
        self._idle = None
        if self._stopping:
            return False
        if idle.cancelled_caught:
            logger.info("%s: closing connection idle for %gs (MINIKAFKA_IDLE_TIMEOUT)%s",
                        self.peer, config.idle_timeout_s,
                        f", {buffer.buffered} bytes into a frame" if buffer.buffered else "")
            return False
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
