"""Sans-I/O framing: Kafka frames are a big-endian int32 size, then that many bytes.

``FrameBuffer`` takes bytes in whatever chunks the transport delivers and
hands back whole frames. A frame whose announced size is above the limit is
refused as soon as its 4-byte prefix arrives, before any memory is set
aside for it.
"""

from __future__ import annotations

import struct

from .errors import RemoteProtocolError

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "FrameBuffer", "FrameTooLarge", "frame"]

DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes
_SIZE = struct.Struct(">i")


class FrameTooLarge(RemoteProtocolError):
    """The peer announced a frame larger than the limit (or a negative size)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")


def frame(payload: bytes | bytearray | memoryview) -> bytes:
    """``payload`` with its 4-byte size prefix."""
    return _SIZE.pack(len(payload)) + bytes(payload)


class FrameBuffer:
    """Collects stream bytes and yields complete frames (without their prefix).

    >>> buf = FrameBuffer()
    >>> buf.feed(b"\\x00\\x00\\x00\\x02hi\\x00")
    >>> buf.next_frame()
    b'hi'
    >>> buf.next_frame() is None
    True
    """

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._data = bytearray()
        self._start = 0  # consumed prefix of _data, dropped lazily to avoid O(n^2) copying

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the peer."""
        self._data += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._data) - self._start

    def pending_frame_size(self) -> int | None:
        """The size announced by the next frame's prefix, once it has arrived."""
        if self.buffered < 4:
            return None
        (size,) = _SIZE.unpack_from(self._data, self._start)
        return int(size)

    def next_frame(self) -> bytes | None:
        """The next whole frame, or None until more bytes are fed.

        Raises ``FrameTooLarge`` when the next frame's announced size is
        negative or above ``max_frame_size``; the buffer is then unusable,
        since the stream can no longer be resynchronised.
        """
        size = self.pending_frame_size()
        if size is None:
            return None
        if size < 0 or size > self.max_frame_size:
            raise FrameTooLarge(size, self.max_frame_size)
        start = self._start + 4
        end = start + size
        if len(self._data) < end:
            return None
        with memoryview(self._data) as view:
            payload = bytes(view[start:end])  # one copy (slicing the bytearray would make two)
        self._start = end
        if self._start == len(self._data):
            self._data.clear()
            self._start = 0
        elif self._start > 65536 and self._start * 2 > len(self._data):
            del self._data[: self._start]
            self._start = 0
        return payload

    def frames(self) -> list[bytes]:
        """Every whole frame available now."""
        out: list[bytes] = []
        while (payload := self.next_frame()) is not None:
            out.append(payload)
        return out
