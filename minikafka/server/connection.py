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
"""

from __future__ import annotations

import logging
import socket

import attrs
import trio

from minikafka.protocol.framing import FrameBuffer, FrameTooLarge, frame

from .broker import Broker, CloseConnection
from .config import Address
from .dispatch import respond

__all__ = ["Connection", "socket_addresses"]

logger = logging.getLogger(__name__)

RECEIVE_SIZE = 256 * 1024


def _format(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = str(address[0]), address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)


def socket_addresses(stream: trio.SocketStream) -> tuple[Address, str]:
    """(the local address the client connected to, the peer as text) of a TCP stream."""
    local = stream.socket.getsockname()
    try:
        peer = _format(stream.socket.getpeername())
    except OSError:  # already disconnected
        peer = "?"
    return Address(str(local[0]), int(local[1])), peer


@attrs.define(eq=False)
class Connection:
    """Serves one client until it disconnects, misbehaves, or the broker stops."""

    stream: trio.SocketStream
    broker: Broker
    local_address: Address
    peer: str
    _stopping: bool = False
    _idle: trio.CancelScope | None = None

    @classmethod
    def accept(cls, stream: trio.SocketStream, broker: Broker) -> Connection:
        if stream.socket.family in (socket.AF_INET, socket.AF_INET6):
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        local, peer = socket_addresses(stream)
        return cls(stream, broker, local, peer)

    def stop(self) -> None:
        """Finish the request being handled (if any), then close; close now if idle."""
        self._stopping = True
        if self._idle is not None:
            self._idle.cancel()

    async def run(self) -> None:
        """Handle requests until the connection ends. The caller closes the stream."""
        logger.debug("%s connected", self.peer)
        buffer = FrameBuffer(self.broker.config.max_frame_bytes)
        try:
            while not self._stopping:
                payload = buffer.next_frame()
                if payload is None:
                    if not await self._receive(buffer):
                        return
                    continue
                response = await respond(payload, self.broker,
                                         local_address=self.local_address, peer=self.peer)
                if response is not None:
                    await self.stream.send_all(frame(response))
        except FrameTooLarge as exc:
            logger.warning("%s: closing connection: %s", self.peer, exc)
        except CloseConnection as exc:
            logger.warning("%s: closing connection: %s", self.peer, exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            logger.debug("%s: connection lost", self.peer)
        except Exception:
            logger.exception("%s: closing connection after an unexpected error", self.peer)
        else:
            logger.debug("%s: closed as the broker stops", self.peer)

    async def _receive(self, buffer: FrameBuffer) -> bool:
        """Wait for more bytes; False when the connection ended (or the broker stops)."""
        data = b""
        with trio.CancelScope() as self._idle:
            data = await self.stream.receive_some(RECEIVE_SIZE)
        self._idle = None
        if self._stopping:
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
