"""The messages every client sends and must get back unchanged."""

from __future__ import annotations

import attrs


@attrs.frozen
class Message:
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


MESSAGES: list[Message] = [
    Message(None, b""),  # empty value
    Message(b"binary", b"\x00\x01 NUL \x00 bytes \xff\xfe\x00"),
    Message(b"large", bytes(range(256)) * 3906 + b"\x00" * 64),  # 1,000,000 bytes
    Message(b"with-headers", b"value", (("trace-id", b"abc123"), ("empty", b""))),
    Message("clé".encode(), "unicode välue ✓".encode()),
    *[Message(f"key-{n}".encode(), f"message {n}".encode()) for n in range(20)],
]
assert len(MESSAGES[2].value) == 1_000_000


def check_received(received: list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]],
                   sent: list[Message] = MESSAGES, *, first_offset: int = 1,
                   check_headers: bool = True) -> None:
    """Every message back, in order, byte-identical, numbered contiguously from ``first_offset``."""
    assert [offset for offset, *_ in received] == list(
        range(first_offset, first_offset + len(sent)))
    for (offset, key, value, headers), message in zip(received, sent, strict=True):
        assert key == message.key, offset
        assert value == message.value, f"value of message {offset} differs"
        if check_headers:
            assert [(name, bytes(data or b"")) for name, data in headers] == list(
                message.headers), offset
