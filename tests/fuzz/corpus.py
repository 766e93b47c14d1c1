"""Seed frames for the fuzzers: requests real clients sent, and one per served (API, version).

``captured_requests()`` reads the request streams that kcat, kafka-python,
confluent-kafka and aiokafka sent through the dump proxy (tests/data/debug);
``encoded_requests()`` builds a request for every version the broker serves
from the declared structures, with small valid record batches where a
structure carries records, so every decoder has a well-formed starting point.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import construct as c

from minikafka.protocol import primitives as p
from minikafka.protocol.api import Api
from minikafka.protocol.codec import encode_request
from minikafka.protocol.framing import FrameBuffer
from minikafka.protocol.records import Record, build_batch
from minikafka.protocol.registry import APIS

from ..protocol.structures import sample

__all__ = ["CAPTURES", "all_seeds", "captured_requests", "encoded_requests", "served_versions",
           "with_batches"]

CAPTURES = Path(__file__).parents[1] / "data" / "debug"


@functools.cache
def captured_requests() -> tuple[bytes, ...]:
    """Every request payload (without its size prefix) in the captured client conversations."""
    payloads: list[bytes] = []
    for path in sorted(CAPTURES.glob("*/conn*.requests.bin")):
        buffer = FrameBuffer()
        buffer.feed(path.read_bytes())
        payloads += buffer.frames()
    return tuple(payloads)


def served_versions() -> list[tuple[Api, int]]:
    """Every (API, version) the broker can be asked for: each declared request version."""
    return [(api, version) for api in APIS.values() for version in sorted(api.requests)]


def _unwrap(con: Any) -> Any:
    while isinstance(con, (c.Renamed, c.Default)):
        con = con.subcon
    return con


def with_batches(structure: Any, value: Any) -> Any:
    """``value`` with every records field replaced by a real record batch."""
    con = _unwrap(structure)
    if isinstance(con, c.Struct):
        return {sub.name: with_batches(sub, value[sub.name])
                for sub in con.subcons if sub.name and sub.name in value}
    if isinstance(con, p._ArrayType) and value is not None:
        return [with_batches(con.subcon, item) for item in value]
    if isinstance(con, p._RecordsType) and value is not None:
        return build_batch([Record(0, 1_700_000_000_000, b"key", b"value"),
                            Record(1, 1_700_000_000_001, None, b"second")])
    return value


@functools.cache
def encoded_requests() -> tuple[tuple[Api, int, bytes], ...]:
    """A well-formed request payload for every declared (API, version)."""
    out = []
    for api, version in served_versions():
        structure = api.requests[version]
        body = with_batches(structure, sample(structure, seed=version + 1))
        out.append((api, version, encode_request(api, version, 1000 + version, body)))
    return tuple(out)


@functools.cache
def all_seeds() -> tuple[bytes, ...]:
    """Captured requests first, then one encoded request per (API, version)."""
    return captured_requests() + tuple(payload for _, _, payload in encoded_requests())
