"""Byte-level mutations of Kafka frames, the kind a broken or hostile client produces.

Each mutation is a function of (payload, random.Random) -> payload. Besides
the usual bit flips, byte substitutions, insertions, deletions and
truncations, some target the protocol's weak points: length and count fields
replaced with extreme values (-1, 0, 2**31 - 1, ...), varints with endless
continuation bits, and headers grafted onto another request's body.
``mutate`` applies one to four of them, so both near-valid and thoroughly
broken frames come out.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

__all__ = ["MUTATIONS", "mutate", "random_bytes"]

_INTERESTING_16 = (0, 1, -1, 0x7FFF, -0x8000, 0x7F, 0xFF)
_INTERESTING_32 = (0, 1, -1, 0x7FFFFFFF, -0x80000000, 0xFFFF, 0x10000, 1 << 24)

Mutation = Callable[[bytes, random.Random], bytes]


def _position(data: bytes, rng: random.Random) -> int:
    return rng.randrange(len(data)) if data else 0


def flip_bit(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = _position(data, rng)
    return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]


def set_byte(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = _position(data, rng)
    return data[:at] + bytes([rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))]) + data[at + 1:]


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    at = _position(data, rng)
    return data[:at] + rng.randbytes(rng.randint(1, 16)) + data[at:]


def delete_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = _position(data, rng)
    return data[:at] + data[at + rng.randint(1, 16):]


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: _position(data, rng)]


def extreme_int16(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    at = rng.randrange(len(data) - 1)
    return data[:at] + struct.pack(">h", rng.choice(_INTERESTING_16)) + data[at + 2:]


def extreme_int32(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 4:
        return data
    at = rng.randrange(len(data) - 3)
    return data[:at] + struct.pack(">i", rng.choice(_INTERESTING_32)) + data[at + 4:]


def endless_varint(data: bytes, rng: random.Random) -> bytes:
    at = _position(data, rng)
    return data[:at] + b"\xff" * rng.randint(5, 20) + data[at:]


def duplicate_slice(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = _position(data, rng)
    end = min(len(data), start + rng.randint(1, 64))
    return data[:end] + data[start:end] * rng.randint(1, 4) + data[end:]


def keep_header(data: bytes, rng: random.Random) -> bytes:
    """The fixed header (key, version, correlation id) followed by random bytes."""
    return data[:8] + rng.randbytes(rng.randint(0, 64))


def other_version(data: bytes, rng: random.Random) -> bytes:
    """The same body claiming another version of its API, or another API."""
    if len(data) < 4:
        return data
    key, version = struct.unpack_from(">hh", data)
    if rng.random() < 0.5:
        version = rng.randint(-1, 20)
    else:
        key = rng.randint(-1, 70)
    return struct.pack(">hh", key, version) + data[4:]


MUTATIONS: tuple[Mutation, ...] = (
    flip_bit, set_byte, insert_bytes, delete_bytes, truncate, extreme_int16, extreme_int32,
    endless_varint, duplicate_slice, keep_header, other_version,
)


def mutate(data: bytes, rng: random.Random, seeds: Sequence[bytes] = ()) -> bytes:
    """``data`` after one to four random mutations; sometimes spliced with another seed."""
    if seeds and rng.random() < 0.1:
        other = rng.choice(seeds)
        data = data[: _position(data, rng)] + other[_position(other, rng):]
    for _ in range(rng.randint(1, 4)):
        data = rng.choice(MUTATIONS)(data, rng)
    return data


def random_bytes(rng: random.Random, max_size: int = 256) -> bytes:
    """Plain noise, sometimes behind a plausible fixed header."""
    noise = rng.randbytes(rng.randint(0, max_size))
    if rng.random() < 0.5:
        header = struct.pack(">hhi", rng.randint(0, 70), rng.randint(0, 15), rng.getrandbits(31))
        return header + noise
    return noise
