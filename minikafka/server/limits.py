"""The broker's per-connection limits, as the connection loop and the server apply them.

- MINIKAFKA_MAX_CONNECTIONS: a connection beyond the limit is closed as soon
  as it is accepted (``ConnectionLimit``), with one warning per burst, so a
  flood of connections cannot exhaust file descriptors or memory; the
  connections already open are served as before.
- MINIKAFKA_MAX_CONNECTION_BUFFER_BYTES: the request bytes read ahead of the
  request being handled (``receive_size``). A connection handles one request
  at a time and writes its response before reading on, so a client that
  stops reading its responses stops having its requests read: what the
  broker holds for it is one response and at most this many request bytes
  (plus the rest of one frame, which MINIKAFKA_MAX_FRAME_BYTES bounds).
- MINIKAFKA_IDLE_TIMEOUT (Kafka's connections.max.idle.ms): a connection
  that sends nothing for this long, or takes none of a response's bytes for
  this long (``send_all_within``), is closed.
"""

from __future__ import annotations

import logging

import attrs
import trio

from minikafka.protocol.framing import FrameBuffer

__all__ = ["RECEIVE_CHUNK", "ClientStalled", "ConnectionLimit", "receive_size", "send_all_within"]

logger = logging.getLogger(__name__)

RECEIVE_CHUNK = 256 * 1024  # largest single read from a socket
SEND_CHUNK = 256 * 1024  # a stalled client is noticed per chunk, not per response
_REFUSAL_LOG_INTERVAL_S = 10.0


class ClientStalled(Exception):
    """The client took none of a response's bytes within the idle timeout."""


def receive_size(buffer: FrameBuffer, window: int) -> int:
    """How many bytes to ask the socket for next.

    Enough to complete the frame being received, otherwise no more than keeps
    the unhandled request bytes within ``window``; at least one byte (so the
    end of the connection is still noticed), at most ``RECEIVE_CHUNK``.
    """
    wanted = window - buffer.buffered
    pending = buffer.pending_frame_size()
    if pending is not None:
        wanted = max(wanted, pending + 4 - buffer.buffered)
    return max(1, min(wanted, RECEIVE_CHUNK))


async def send_all_within(stream: trio.abc.SendStream, data: bytes, stall_timeout_s: float) -> None:
    """``stream.send_all(data)``, raising ClientStalled if any chunk waits ``stall_timeout_s``.

    A client reading slowly but steadily gets its whole response however
    long that takes; one that reads nothing is given up on. The stream is
    unusable after ClientStalled (a cancelled send leaves it broken).
    """
    view = memoryview(data)
    for start in range(0, len(view), SEND_CHUNK):
        with trio.move_on_after(stall_timeout_s) as waited:
            await stream.send_all(view[start : start + SEND_CHUNK])
        if waited.cancelled_caught:
            raise ClientStalled(
                f"it stopped reading its responses: {stall_timeout_s:g}s without taking "
                f"the next {min(SEND_CHUNK, len(view) - start)} bytes of one "
                f"({len(view) - start} of its {len(view)} bytes unsent)"
            )


@attrs.define
class ConnectionLimit:
    """MINIKAFKA_MAX_CONNECTIONS: decides whether an accepted connection is served.

    Refusals are logged as one warning per ``_REFUSAL_LOG_INTERVAL_S``
    counting the connections refused since the last one, so a flood of
    connections does not also flood the log.
    """

    maximum: int
    refused_total: int = 0
    _refused_unlogged: int = 0
    _last_log: float | None = None

    def admits(self, open_connections: int, peer: str) -> bool:
        """True when a new connection from ``peer`` may be served alongside ``open_connections``."""
        if open_connections < self.maximum:
            return True
        self.refused_total += 1
        self._refused_unlogged += 1
        now = trio.current_time()
        if self._last_log is None or now - self._last_log >= _REFUSAL_LOG_INTERVAL_S:
            logger.warning(
                "%s: connection refused: %d connections are open, the most "
                "MINIKAFKA_MAX_CONNECTIONS allows (%d refused since the last warning)",
                peer, open_connections, self._refused_unlogged,
            )
            self._last_log = now
            self._refused_unlogged = 0
        return False
