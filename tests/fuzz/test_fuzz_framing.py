"""FrameBuffer under arbitrary bytes and arbitrary chunking.

Whatever arrives, the buffer either returns frames or raises FrameTooLarge
(the only protocol error framing has); valid frames come back exactly as
sent however the stream is cut; an announced size above the limit is refused
from its 4-byte prefix, before the body is waited for.
"""

from __future__ import annotations

import itertools
import struct

from hypothesis import given
from hypothesis import strategies as st

from minikafka.protocol.framing import FrameBuffer, FrameTooLarge, frame

from .conftest import FUZZ

LIMIT = 4096


def _cuts(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@FUZZ
@given(st.binary(max_size=2048), st.lists(st.integers(0, 4096), max_size=12))
def test_random_bytes_give_frames_or_frame_too_large(data: bytes, points: list[int]) -> None:
    buffer = FrameBuffer(LIMIT)
    returned = 0
    try:
        for chunk in _cuts(data, points):
            buffer.feed(chunk)
            for payload in buffer.frames():
                assert len(payload) <= LIMIT
                returned += 4 + len(payload)
    except FrameTooLarge as exc:
        assert exc.size < 0 or exc.size > LIMIT
        # refused at the prefix: the frame's body was never waited for
        assert buffer.pending_frame_size() == exc.size
        return
    assert returned + buffer.buffered == len(data)
    assert buffer.buffered < 4 or (buffer.pending_frame_size() or 0) + 4 > buffer.buffered


@FUZZ
@given(st.lists(st.binary(max_size=600), max_size=20), st.lists(st.integers(0, 20000), max_size=30))
def test_valid_frames_survive_any_chunking(payloads: list[bytes], points: list[int]) -> None:
    stream = b"".join(frame(payload) for payload in payloads)
    buffer = FrameBuffer(LIMIT)
    got: list[bytes] = []
    for chunk in _cuts(stream, points):
        buffer.feed(chunk)
        got += buffer.frames()
    assert got == payloads
    assert buffer.buffered == 0


@FUZZ
@given(st.integers(LIMIT + 1, 2**31 - 1) | st.integers(-(2**31), -1), st.binary(max_size=64))
def test_oversized_prefix_is_refused_before_its_body(size: int, tail: bytes) -> None:
    buffer = FrameBuffer(LIMIT)
    buffer.feed(struct.pack(">i", size) + tail)
    try:
        buffer.next_frame()
    except FrameTooLarge as exc:
        assert exc.size == size
    else:
        raise AssertionError("an oversized frame was not refused")
