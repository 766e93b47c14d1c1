"""Leaf values shared by the dumper's JSON and text views: bytes, and the tree error.

Bytes appear in JSON as their text when they are printable UTF-8 and as
``{"hex": "..."}`` otherwise, so that a dumped tree reads naturally and still
says exactly which bytes were on the wire.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["TreeError", "bytes_from_json", "bytes_to_json", "describe", "render_leaf"]

# How many bytes of a binary value the text view shows before eliding the rest.
TEXT_HEX_LIMIT = 64


class TreeError(ValueError):
    """A JSON tree that does not fit the structure; ``path`` says where."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path or 'body'}: {message}")


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n\r" for ch in text)


def bytes_to_json(data: bytes | bytearray | memoryview) -> str | dict[str, str]:
    """``data`` as a JSON value: the text itself when printable, else ``{"hex": ...}``."""
    raw = bytes(data)
    if _is_text(raw):
        return raw.decode("utf-8")
    return {"hex": raw.hex()}


def bytes_from_json(value: Any, path: str) -> bytes:
    """The inverse of ``bytes_to_json``; raises TreeError for anything else."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"hex"} and isinstance(value["hex"], str):
        try:
            return bytes.fromhex(value["hex"])
        except ValueError:
            raise TreeError(path, f"not hex: {value['hex']!r}") from None
    raise TreeError(path, f'expected text or {{"hex": "..."}}, got {describe(value)}')


def describe(value: Any) -> str:
    """A short rendering of a JSON value for error messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def render_leaf(value: Any) -> str:
    """One JSON leaf as the text view shows it: quoted text, 0x-hex, numbers, null."""
    if isinstance(value, dict) and set(value) == {"hex"}:
        raw = value["hex"]
        size = len(raw) // 2
        if size > TEXT_HEX_LIMIT:
            return f"0x{raw[: 2 * TEXT_HEX_LIMIT]}... ({size} bytes)"
        return f"0x{raw}" if raw else '""'
    return json.dumps(value, ensure_ascii=False)
