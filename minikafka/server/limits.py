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
  this long (``SEND_CHUNK`` at a time), is closed (``IdleGuard``).
"""

from __future__ import annotations

import enum
import logging
import math

import attrs
import trio

from minikafka.protocol.framing import FrameBuffer

__all__ = ["IDLE_SLACK", "RECEIVE_CHUNK", "SEND_CHUNK", "ConnectionLimit", "IdleGuard", "Waiting",
           "receive_size"]

logger = logging.getLogger(__name__)

RECEIVE_CHUNK = 256 * 1024  # largest single read from a socket
SEND_CHUNK = 256 * 1024  # a stalled client is noticed per chunk, not per response
IDLE_SLACK = 1 / 8  # how late, as a fraction of the idle timeout, an idle connection may be closed
_REFUSAL_LOG_INTERVAL_S = 10.0


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


class Waiting(enum.Enum):
    """What a connection is waiting for from its client, if anything."""

    NOTHING = "nothing"
    REQUEST = "a request"
    READER = "the client to take response bytes"


@attrs.define(eq=False)
class IdleGuard:
    """MINIKAFKA_IDLE_TIMEOUT for one connection: one cancel scope, its deadline moved lazily.

    ``scope`` encloses the connection's whole loop. Before waiting for its
    client (for a request, or for room to send response bytes) the
    connection calls ``arm``; before any other wait (a long poll, a disk
    flush, a checkpoint) it calls ``pause`` with how long that wait can last
    at most. A deadline passing during a wait for the client cancels the
    scope, and with it the connection; ``waiting_for`` then says what the
    client failed to do.

    Moving a trio deadline costs a few microseconds, which a client sending
    one request at a time would pay on every request. So ``arm`` moves it
    only when it is less than ``timeout_s`` away, and then to ``timeout_s``
    plus ``IDLE_SLACK`` of it: a client is never cut off early, and at most
    an eighth of the timeout late; a busy connection moves its deadline about
    eight times per timeout. ``pause`` lifts the deadline only when the wait
    could reach it (an unbounded wait, or one lasting nearly as long as the
    time left): a short wait, such as a yield to other connections or a
    produce letting the fetches it woke answer first, leaves it where it is,
    so the next ``arm`` has nothing to move. Work between waits never yields,
    so a deadline left armed while it runs does no harm.
    """

    timeout_s: float
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)
    waiting_for: Waiting = Waiting.NOTHING
    _deadline: float = math.inf  # what scope.deadline was last set to

    def arm(self, waiting_for: Waiting) -> None:
        """About to wait for the client: give it ``timeout_s`` from now (or a little more)."""
        self.waiting_for = waiting_for
        earliest = trio.current_time() + self.timeout_s
        if not earliest <= self._deadline <= earliest + self.timeout_s * IDLE_SLACK:
            self.scope.deadline = self._deadline = earliest + self.timeout_s * IDLE_SLACK

    def pause(self, at_most_s: float | None) -> None:
        """About to wait for something other than the client, ``at_most_s`` seconds at most
        (None: no bound): the client is not to blame for that wait, so no deadline may pass
        during it.

        The deadline stays when it falls later than the wait's end plus ``IDLE_SLACK`` of
        the timeout (room for a run loop that is late to end the wait); otherwise it is
        lifted until the next ``arm``.
        """
        self.waiting_for = Waiting.NOTHING
        deadline = self._deadline
        if deadline == math.inf or (
                at_most_s is not None
                and deadline >= trio.current_time() + at_most_s + self.timeout_s * IDLE_SLACK):
            return
        self.scope.deadline = self._deadline = math.inf

    def satisfied(self) -> None:
        """The client did what was waited for. The deadline stays (see the class docstring)."""
        self.waiting_for = Waiting.NOTHING


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
