"""The frame buffer yields the same frames however the byte stream is split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minikafka.protocol.framing import FrameBuffer, FrameTooLarge, frame


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
)
def test_frames_survive_any_split(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    buffer = FrameBuffer()
    received: list[bytes] = []
    previous = 0
    for cut in sorted({min(cut, len(stream)) for cut in cuts} | {len(stream)}):
        buffer.feed(stream[previous:cut])
        previous = cut
        received.extend(buffer.frames())
    assert received == payloads
    assert buffer.buffered == 0


@given(payloads=st.lists(st.binary(max_size=50), min_size=1, max_size=5))
def test_one_byte_at_a_time(payloads: list[bytes]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    buffer = FrameBuffer()
    received: list[bytes] = []
    for i in range(len(stream)):
        buffer.feed(stream[i : i + 1])
        received.extend(buffer.frames())
    assert received == payloads


def test_oversized_frame_is_refused_from_its_prefix_alone() -> None:
    buffer = FrameBuffer(max_frame_size=1024)
    buffer.feed((1025).to_bytes(4, "big"))  # no body sent: nothing is allocated for it
    with pytest.raises(FrameTooLarge) as excinfo:
        buffer.next_frame()
    assert excinfo.value.size == 1025
    assert "1025" in str(excinfo.value) and "1024" in str(excinfo.value)


def test_negative_size_is_refused() -> None:
    buffer = FrameBuffer()
    buffer.feed(b"\xff\xff\xff\xfe")
    with pytest.raises(FrameTooLarge):
        buffer.next_frame()


def test_frame_at_the_limit_is_accepted() -> None:
    buffer = FrameBuffer(max_frame_size=4)
    buffer.feed(frame(b"abcd"))
    assert buffer.next_frame() == b"abcd"
